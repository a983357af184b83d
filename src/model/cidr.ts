/**
 * IPv4 address and CIDR arithmetic on plain numbers (unsigned 32-bit). Pure.
 * IPv6 is recognised only so that callers can reject it with the right reason.
 */
import { isIPv6 } from 'node:net';
import { OWNERSHIP } from './ownership.ts';
import { compareText } from './compare.ts';

export interface Cidr {
  /** Network address as an unsigned 32-bit integer, host bits cleared. */
  readonly network: number;
  readonly prefixLength: number;
}

export type IpFamily = 'ipv4' | 'ipv6' | 'unknown';

export type AddressParse =
  | { ok: true; address: number }
  | { ok: false; family: IpFamily; message: string };

export type CidrParse =
  | { ok: true; cidr: Cidr; text: string; hostBitsSet: boolean }
  | { ok: false; family: IpFamily; message: string };

/** isIPv6 runs a large regular expression; every IPv6 text has a colon and no IPv4 text does. */
function looksIpv6(text: string): boolean {
  return text.includes(':') && isIPv6(text);
}

/** Which family a textual address or CIDR claims to be, without judging the rest of it. */
export function detectFamily(text: string): IpFamily {
  const address = text.includes('/') ? text.slice(0, text.indexOf('/')) : text;
  if (looksIpv6(address)) return 'ipv6';
  if (/^[0-9.]+$/.test(address) && address.includes('.')) return 'ipv4';
  return 'unknown';
}

/**
 * seaway's one IPv4 text parser (model, the packet filter's validation and the netlink encoder all
 * call it): the dotted quad in text[from, to) as an unsigned 32-bit number, or -1. Strict: exactly
 * four decimal octets of one to three digits, each 0-255, and nothing else: no spaces, signs or
 * trailing characters, and no leading zeros, because inet_aton and some tools read "010" as octal 8
 * while others read decimal 10, so such text names different addresses to different readers. Only
 * the canonical spelling passes, so an accepted text is its own canonical form.
 * One flat loop that allocates nothing: a pass parses tens of thousands, possibly in a fresh
 * process that has not optimised anything yet.
 */
export function scanIpv4(text: string, from = 0, to = text.length): number {
  let address = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = from; i < to; i++) {
    const code = text.charCodeAt(i);
    if (code === 46 /* . */) {
      if (digits === 0 || dots === 3) return -1;
      address = address * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (code >= 48 && code <= 57) {
      if (digits > 0 && octet === 0) return -1; // a leading zero
      octet = octet * 10 + (code - 48);
      if (++digits > 3 || octet > 255) return -1;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return address * 256 + octet;
}

/** A prefix length 0-32 in text[from, to), decimal without leading zeros (so canonical), or -1. */
export function scanPrefixLength(text: string, from: number, to = text.length): number {
  const digits = to - from;
  if (digits < 1 || digits > 2) return -1;
  const a = text.charCodeAt(from) - 48;
  if (!(a >= 0 && a <= 9)) return -1;
  if (digits === 1) return a;
  const b = text.charCodeAt(from + 1) - 48;
  if (a === 0 || !(b >= 0 && b <= 9)) return -1;
  const value = a * 10 + b;
  return value > 32 ? -1 : value;
}

/**
 * An IPv4 CIDR's prefix length (32 without a slash) and network address (an unsigned 32-bit
 * number, host bits as written), each -1 when the text is not one: scanned in place with no object
 * or substring, for the encoders and diffs that take 10,000 of them on the path of the first pass.
 */
export function prefixLengthOf(cidr: string): number {
  const slash = cidr.indexOf('/');
  return slash < 0 ? 32 : scanPrefixLength(cidr, slash + 1);
}

export function networkOf(cidr: string): number {
  const slash = cidr.indexOf('/');
  return scanIpv4(cidr, 0, slash < 0 ? cidr.length : slash);
}

/** Strict dotted-quad parse (scanIpv4); a rejection says why. */
export function parseIpv4(text: unknown): AddressParse {
  if (typeof text !== 'string') return { ok: false, family: 'unknown', message: `expected a string, got ${describeType(text)}` };
  const address = scanIpv4(text);
  if (address >= 0) return { ok: true, address };
  return { ok: false, ...explainIpv4(text) };
}

/** Why scanIpv4 refused a text; only called after it did, so it explains and never accepts. */
function explainIpv4(text: string): { family: IpFamily; message: string } {
  if (looksIpv6(text)) return { family: 'ipv6', message: `"${clip(text)}" is an IPv6 address; only IPv4 is supported` };
  const parts = text.split('.');
  if (parts.length !== 4) return { family: 'unknown', message: `"${clip(text)}" is not a dotted-quad IPv4 address` };
  const invalid = (why: string) => ({ family: 'ipv4' as const, message: `"${clip(text)}" is not a valid IPv4 address: ${why}` });
  for (const part of parts) {
    if (!/^[0-9]+$/.test(part)) return invalid(`octet "${clip(part)}" is not a decimal number`);
    if (part.length > 1 && part.startsWith('0')) return invalid(`octet "${clip(part)}" has a leading zero`);
    if (part.length > 3 || Number(part) > 255) return invalid(`octet ${clip(part)} is above 255`);
  }
  return invalid('not a dotted quad');
}

export function formatIpv4(address: number): string {
  return `${(address >>> 24) & 255}.${(address >>> 16) & 255}.${(address >>> 8) & 255}.${address & 255}`;
}

export function prefixMask(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}

/**
 * Parses "a.b.c.d/n" strictly (scanIpv4, scanPrefixLength). Host bits set (10.1.2.3/16) are
 * normalised to the network (10.1.0.0/16) and reported through `hostBitsSet`, so callers decide
 * whether that is a warning or an error.
 */
export function parseCidr(text: unknown): CidrParse {
  if (typeof text !== 'string') return { ok: false, family: 'unknown', message: `expected a CIDR string, got ${describeType(text)}` };
  const slash = text.indexOf('/');
  if (slash >= 0) {
    const address = scanIpv4(text, 0, slash);
    const prefixLength = scanPrefixLength(text, slash + 1);
    if (address >= 0 && prefixLength >= 0) {
      const network = (address & prefixMask(prefixLength)) >>> 0;
      const cidr = { network, prefixLength };
      const hostBitsSet = network !== address;
      // Only canonical spellings pass the scanners, so without host bits the input is the canonical text.
      return { ok: true, cidr, text: hostBitsSet ? formatCidr(cidr) : text, hostBitsSet };
    }
  }
  return { ok: false, ...explainCidr(text, slash) };
}

/** Why parseCidr refused a text; only called after it did, so it explains and never accepts. */
function explainCidr(text: string, slash: number): { family: IpFamily; message: string } {
  if (slash < 0) {
    const family = detectFamily(text);
    if (family === 'ipv6') return { family, message: `"${clip(text)}" is IPv6; only IPv4 is supported` };
    return { family, message: `"${clip(text)}" is not a CIDR (expected address/prefix, e.g. 10.0.0.0/16)` };
  }
  const addressText = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  if (looksIpv6(addressText)) return { family: 'ipv6', message: `"${clip(text)}" is an IPv6 CIDR; only IPv4 is supported` };
  const address = parseIpv4(addressText);
  if (!address.ok) return { family: address.family, message: `"${clip(text)}" is not a valid CIDR: ${address.message}` };
  return { family: 'ipv4', message: `"${clip(text)}" is not a valid CIDR: prefix length "${clip(prefixText)}" is not a number from 0 to 32` };
}

/** The texts that are CIDRs, parsed; the others (a foreign tool's entries) are passed over. */
export function parseCidrs(texts: Iterable<string>): Cidr[] {
  const cidrs: Cidr[] = [];
  for (const text of texts) {
    const parsed = parseCidr(text);
    if (parsed.ok) cidrs.push(parsed.cidr);
  }
  return cidrs;
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIpv4(cidr.network)}/${cidr.prefixLength}`;
}

/** Last address covered by the CIDR, as an unsigned integer. */
export function lastAddress(cidr: Cidr): number {
  return (cidr.network | (~prefixMask(cidr.prefixLength) >>> 0)) >>> 0;
}

export function containsAddress(cidr: Cidr, address: number): boolean {
  return ((address & prefixMask(cidr.prefixLength)) >>> 0) === cidr.network;
}

/** True when `inner` lies entirely within `outer` (a CIDR contains itself). */
export function containsCidr(outer: Cidr, inner: Cidr): boolean {
  return inner.prefixLength >= outer.prefixLength && containsAddress(outer, inner.network);
}

/** Two CIDRs overlap exactly when one contains the other. */
export function overlaps(a: Cidr, b: Cidr): boolean {
  return containsCidr(a, b) || containsCidr(b, a);
}

/** Orders by network address, then wider prefix first: the natural order of a routing table dump. */
export function compareCidrs(a: Cidr, b: Cidr): number {
  return a.network - b.network || a.prefixLength - b.prefixLength;
}

/** Orders canonical CIDR or address strings numerically; unparseable strings sort last, by text. */
export function compareCidrTexts(a: string, b: string): number {
  const pa = parseCidrOrAddress(a);
  const pb = parseCidrOrAddress(b);
  if (pa && pb) return compareCidrs(pa, pb);
  if (pa) return -1;
  if (pb) return 1;
  return compareText(a, b);
}

function parseCidrOrAddress(text: string): Cidr | null {
  const cidr = parseCidr(text);
  if (cidr.ok) return cidr.cidr;
  const address = parseIpv4(text);
  return address.ok ? { network: address.address, prefixLength: 32 } : null;
}

/** Submariner's VTEP address: the node IP with its first octet replaced by 240 (e.g. 10.1.2.3 -> 240.1.2.3). */
export function vtepIp(nodeIp: number): number {
  return ((OWNERSHIP.vtepFirstOctet << 24) | (nodeIp & 0x00ffffff)) >>> 0;
}

/** The VTEP address with its /8 prefix, as the vx-submariner link carries it: "240.b.c.d/8". */
export function vtepAddress(nodeIp: number): string {
  return `${formatIpv4(vtepIp(nodeIp))}/8`;
}

export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${clip(String(value))}`;
}

/** Keeps error messages bounded when the input is a huge garbage string. */
export function clip(text: string, max = 64): string {
  return text.length > max ? `${text.slice(0, max)}...(${text.length} chars)` : text;
}
