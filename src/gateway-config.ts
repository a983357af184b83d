/**
 * Value parsers of `seaway gateway`'s own settings (pure). config.ts reads the settings and names
 * them in its errors; these only say what is wrong with one value, or what it means.
 */
import { isIPv6 } from 'node:net';
import { inspect } from 'node:util';
import { clip, parseIpv4 } from './model/cidr.ts';
import { dns1123Subdomain } from './model/names.ts';

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = <T>(message: string): Parsed<T> => ({ ok: false, message });

/**
 * The broker's API server as Submariner's BROKER_K8S_APISERVER gives it (`host:port`), or as a URL
 * (`https://host[:port]`), made an https URL without a path. IPv6 hosts are written in brackets.
 * Plain http is refused: the token would cross the network in clear text.
 */
export function brokerServerUrl(text: string): Parsed<string> {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(text);
  let rest = text;
  if (scheme) {
    const name = (scheme[1] as string).toLowerCase();
    if (name === 'http') return bad('uses http://: the broker\'s API server is reached over https only (its token must not cross the network in clear text)');
    if (name !== 'https') return bad(`has the scheme "${clip(name)}://"; expected host:port or https://host[:port]`);
    rest = text.slice(scheme[0].length);
  }
  // A bare trailing slash is no path.
  if (rest.endsWith('/')) rest = rest.slice(0, -1);
  if (/[/?#]/.test(rest)) return bad('has a path, query or fragment; give only host:port or https://host[:port]');
  if (rest.includes('@')) return bad('has user information in it; the broker\'s credentials are its token, or its kubeconfig');
  let host: string;
  let portText: string | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) return bad('has a "[" without its "]"');
    const address = rest.slice(1, close);
    if (!isIPv6(address)) return bad(`"${clip(address)}" is not an IPv6 address`);
    host = `[${address.toLowerCase()}]`;
    const after = rest.slice(close + 1);
    if (after.startsWith(':')) portText = after.slice(1);
    else if (after !== '') return bad('expected [ipv6]:port after the "]"');
  } else {
    const colon = rest.indexOf(':');
    if (colon !== rest.lastIndexOf(':')) return bad('an IPv6 host must be written in brackets, e.g. [fd00::1]:6443');
    host = colon < 0 ? rest : rest.slice(0, colon);
    if (colon >= 0) portText = rest.slice(colon + 1);
    if (host === '') return bad('has no host');
    if (/^[0-9.]+$/.test(host)) {
      const address = parseIpv4(host);
      if (!address.ok) return bad(address.message);
    } else {
      host = host.toLowerCase();
      const problem = dns1123Subdomain(host);
      if (problem !== null) return bad(`host "${clip(host)}" is not an IPv4 address or DNS name`);
    }
  }
  if (portText === undefined) {
    if (!scheme) return bad('has no port: give host:port, or https://host[:port]');
  } else if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
    return bad(`port "${clip(portText)}" is not a number from 1 to 65535`);
  }
  return ok(`https://${host}${portText === undefined ? '' : `:${Number(portText)}`}`);
}

/** The name part of a label key, and a non-empty label value: 1-63 of [A-Za-z0-9], with '-', '_' and '.' inside. */
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** A Kubernetes label key: an optional DNS subdomain prefix and '/', then a name (IsQualifiedName). */
export function labelKeyProblem(key: string): string | null {
  const parts = key.split('/');
  if (parts.length > 2) return `key "${clip(key)}" has more than one '/'`;
  const name = parts[parts.length - 1] as string;
  if (parts.length === 2) {
    const prefix = parts[0] as string;
    if (prefix === '') return `key "${clip(key)}" has an empty prefix before '/'`;
    const problem = dns1123Subdomain(prefix);
    if (problem !== null) return `key prefix "${clip(prefix)}" ${problem}`;
  }
  if (name === '') return `key "${clip(key)}" has an empty name`;
  if (name.length > 63) return `key name "${clip(name)}" is ${name.length} characters long; at most 63`;
  if (!LABEL_NAME.test(name)) return `key name "${clip(name)}" is not a label name (letters, digits, '-', '_' and '.', starting and ending with a letter or digit)`;
  return null;
}

/** A Kubernetes label value: empty, or a name of at most 63 characters. */
export function labelValueProblem(value: string): string | null {
  if (value === '') return null;
  if (value.length > 63) return `value "${clip(value)}" is ${value.length} characters long; at most 63`;
  if (!LABEL_NAME.test(value)) return `value "${clip(value)}" is not a label value (letters, digits, '-', '_' and '.', starting and ending with a letter or digit)`;
  return null;
}

/** `key=value`, the label that makes a node a gateway candidate. */
export function parseLabel(text: string): Parsed<{ key: string; value: string }> {
  const eq = text.indexOf('=');
  if (eq < 0) return bad('is not key=value');
  const key = text.slice(0, eq);
  const value = text.slice(eq + 1);
  const problem = labelKeyProblem(key) ?? labelValueProblem(value);
  return problem === null ? ok({ key, value }) : bad(problem);
}

/**
 * Submariner's public IP syntax, the one method seaway resolves: `ipv4:<address>` (it never asks an
 * outside service, as Submariner's `lb:`, `api:` and `dns:` would). The address must be unicast.
 */
export function publicIpProblem(text: string): string | null {
  if (!text.startsWith('ipv4:')) return 'is not ipv4:<IPv4 address> (Submariner\'s syntax; seaway resolves no other method, as it asks no outside service)';
  const parsed = parseIpv4(text.slice('ipv4:'.length));
  if (!parsed.ok) return parsed.message;
  const first = parsed.address >>> 24;
  if (first === 0) return 'is in 0.0.0.0/8 ("this network"), not a host address';
  if (first === 127) return 'is a loopback address, which no other cluster can reach';
  if (first >= 224 && first < 240) return 'is a multicast address';
  if (first >= 240) return 'is in 240.0.0.0/4 (reserved)';
  return null;
}

/** Standard base64 (whitespace ignored, as in a wrapped Secret value), decoded to text. */
export function base64Text(text: string): Parsed<string> {
  const compact = text.replace(/\s+/g, '');
  if (compact === '') return bad('is empty');
  if (compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) return bad('is not valid base64');
  return ok(Buffer.from(compact, 'base64').toString('utf8'));
}

/** What is wrong with a bearer token, never repeating any of it: it goes into an HTTP header as is. */
export function bearerTokenProblem(token: string): string | null {
  return /^[\x21-\x7e]+$/.test(token) ? null : 'contains whitespace or characters outside printable ASCII, which a bearer token cannot';
}

const REDACTED = '(redacted)';

/**
 * A secret held as `{ value }`, whose value neither JSON (pino's serialiser included) nor
 * util.inspect ever shows: a configuration logged whole cannot leak it.
 */
export function secretValue(value: string): { value: string } {
  const holder = { value };
  Object.defineProperty(holder, 'toJSON', { value: () => ({ value: REDACTED }), enumerable: false });
  Object.defineProperty(holder, inspect.custom, { value: () => `{ value: ${REDACTED} }`, enumerable: false });
  return holder;
}
