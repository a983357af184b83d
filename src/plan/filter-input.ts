import type { DesiredFilter, MssClamp } from '../model/desired-state.ts';

/** A DesiredFilter that passed validation, with its CIDR lists canonical: sorted, deduplicated, nothing covered twice. */
export type FilterInput = DesiredFilter;

export class FilterInputError extends Error {
  constructor(message: string) {
    super(`invalid packet filter input: ${message}`);
    this.name = 'FilterInputError';
  }
}

/** ipset hash:net maxelem seaway creates its sets with; more would not fit. */
export const MAX_CIDRS_PER_SET = 262144;
const MIN_MSS = 48;
const MAX_MSS = 65495;
const INTERFACE_NAME = /^[A-Za-z0-9_.-]{1,15}$/;

/**
 * Parses a dotted-quad IPv4 address (no leading zeros) to an unsigned 32-bit number; null when
 * malformed. By hand rather than by regular expression: a pass validates 10,000 CIDRs.
 */
export function parseIpv4(text: string): number | null {
  return parseIpv4Range(text, 0, text.length);
}

function parseIpv4Range(text: string, from: number, to: number): number | null {
  let value = 0;
  let octets = 0;
  let i = from;
  while (octets < 4) {
    const start = i;
    let octet = 0;
    while (i < to) {
      const c = text.charCodeAt(i);
      if (c < 48 || c > 57) break;
      octet = octet * 10 + (c - 48);
      i++;
    }
    const digits = i - start;
    if (digits === 0 || digits > 3 || octet > 255 || (digits > 1 && text.charCodeAt(start) === 48)) return null;
    value = value * 256 + octet;
    octets++;
    if (octets < 4) {
      if (i >= to || text.charCodeAt(i) !== 46) return null;
      i++;
    }
  }
  return i === to ? value : null;
}

export function formatIpv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

/** `text` is the canonical spelling when parseCidr made it (it accepts only canonical text). */
export interface Ipv4Cidr { network: number; prefix: number; text?: string }

/** Parses a canonical IPv4 CIDR (no host bits set, prefix 1..32); returns a reason string when it is not one. */
export function parseCidr(text: unknown): Ipv4Cidr | string {
  if (typeof text !== 'string') return `expected a CIDR string, got ${describe(text)}`;
  const slash = text.indexOf('/');
  if (slash < 0) return `"${text}" has no prefix length`;
  const network = parseIpv4Range(text, 0, slash);
  if (network === null) return `"${text}" is not an IPv4 CIDR`;
  const prefix = parsePrefixLength(text, slash + 1);
  if (prefix === null) return `"${text}" has an invalid prefix length`;
  if (prefix === 0) return `"${text}" covers every address (prefix /0 is not allowed)`;
  const hostBits = prefix === 32 ? 0 : (2 ** (32 - prefix)) - 1;
  if ((network % (hostBits + 1)) !== 0) return `"${text}" has host bits set (network is ${formatIpv4(network - (network % (hostBits + 1)))}/${prefix})`;
  return { network, prefix, text };
}

/** 0..32 written without leading zeros, from `from` to the end of text; null otherwise. */
function parsePrefixLength(text: string, from: number): number | null {
  const digits = text.length - from;
  if (digits < 1 || digits > 2) return null;
  const a = text.charCodeAt(from) - 48;
  if (a < 0 || a > 9) return null;
  if (digits === 1) return a;
  const b = text.charCodeAt(from + 1) - 48;
  if (a === 0 || b < 0 || b > 9) return null;
  const value = a * 10 + b;
  return value > 32 ? null : value;
}

/** Sorted by address, deduplicated, and with every CIDR that lies inside another one dropped (nft interval sets refuse overlaps). */
export function canonicalCidrs(cidrs: readonly Ipv4Cidr[]): string[] {
  const order = (a: Ipv4Cidr, b: Ipv4Cidr) => a.network - b.network || a.prefix - b.prefix;
  // The planner's lists usually arrive sorted already: checking is cheaper than sorting 10,000 again.
  const sorted = cidrs.every((c, i) => i === 0 || order(cidrs[i - 1]!, c) <= 0) ? cidrs : [...cidrs].sort(order);
  const out: string[] = [];
  let coveredUpTo = -1;
  for (const c of sorted) {
    const last = c.network + 2 ** (32 - c.prefix) - 1;
    if (last <= coveredUpTo) continue;
    out.push(c.text ?? `${formatIpv4(c.network)}/${c.prefix}`);
    coveredUpTo = last;
  }
  return out;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? `"${value}"` : typeof value;
}

function cidrList(value: unknown, field: string): string[] {
  if (!Array.isArray(value)) throw new FilterInputError(`${field} must be an array of CIDR strings, got ${describe(value)}`);
  if (value.length > MAX_CIDRS_PER_SET) throw new FilterInputError(`${field} has ${value.length} entries, more than the ${MAX_CIDRS_PER_SET} a set holds`);
  const asGiven = canonicalAsGiven(value);
  if (asGiven) return asGiven;
  const parsed: Ipv4Cidr[] = [];
  value.forEach((item, index) => {
    const cidr = parseCidr(item);
    if (typeof cidr === 'string') throw new FilterInputError(`${field}[${index}]: ${cidr}`);
    parsed.push(cidr);
  });
  return canonicalCidrs(parsed);
}

/**
 * A copy of the list when it is canonical already (every entry a canonical CIDR, each starting after
 * every earlier one ends: sorted, none covered), else null and the caller takes the general path,
 * which sorts or names the bad entry. One flat loop over the characters that allocates nothing:
 * the planner's 10,000 remote CIDRs usually arrive this way, and a fresh process runs it unoptimised.
 */
function canonicalAsGiven(list: readonly unknown[]): string[] | null {
  let coveredUpTo = -1;
  for (let i = 0; i < list.length; i++) {
    const text = list[i];
    if (typeof text !== 'string') return null;
    const length = text.length;
    let network = 0, octet = 0, digits = 0, leadingZero = false, dots = 0, at = 0;
    for (; at < length; at++) {
      const c = text.charCodeAt(at);
      if (c >= 48 && c <= 57) {
        if (leadingZero || ++digits > 3) return null;
        if (digits === 1 && c === 48) leadingZero = true;
        octet = octet * 10 + c - 48;
        continue;
      }
      if (digits === 0 || octet > 255) return null;
      network = network * 256 + octet;
      octet = 0; digits = 0; leadingZero = false;
      if (c === 47 /* / */ && dots === 3) break;
      if (c !== 46 /* . */ || ++dots > 3) return null;
    }
    if (at >= length) return null;
    let prefix = 0;
    const prefixDigits = length - at - 1;
    if (prefixDigits < 1 || prefixDigits > 2 || (prefixDigits === 2 && text.charCodeAt(at + 1) === 48)) return null;
    for (at++; at < length; at++) {
      const c = text.charCodeAt(at);
      if (c < 48 || c > 57) return null;
      prefix = prefix * 10 + c - 48;
    }
    if (prefix === 0 || prefix > 32 || network <= coveredUpTo) return null;
    const size = 2 ** (32 - prefix);
    if (network % size !== 0) return null;
    coveredUpTo = network + size - 1;
  }
  return list.slice() as string[];
}

function mssClamp(value: unknown): MssClamp {
  if (typeof value !== 'object' || value === null) throw new FilterInputError(`mssClamp must be {mode: 'pmtu'} or {mode: 'fixed', mss}, got ${describe(value)}`);
  const clamp = value as Record<string, unknown>;
  if (clamp.mode === 'pmtu') return { mode: 'pmtu' };
  if (clamp.mode === 'fixed') {
    const mss = clamp.mss;
    if (typeof mss !== 'number' || !Number.isInteger(mss) || mss < MIN_MSS || mss > MAX_MSS) {
      throw new FilterInputError(`mssClamp.mss must be an integer from ${MIN_MSS} to ${MAX_MSS}, got ${describe(mss) === 'number' ? mss : describe(mss)}`);
    }
    return { mode: 'fixed', mss };
  }
  throw new FilterInputError(`mssClamp.mode must be 'pmtu' or 'fixed', got ${describe(clamp.mode)}`);
}

/** Validates a DesiredFilter at the kernel boundary; throws FilterInputError naming the field and what is wrong. */
export function validateFilter(filter: DesiredFilter): FilterInput {
  if (typeof filter !== 'object' || filter === null) throw new FilterInputError(`expected an object, got ${describe(filter)}`);
  const localCidrs = cidrList(filter.localCidrs, 'localCidrs');
  const remoteCidrs = cidrList(filter.remoteCidrs, 'remoteCidrs');
  if (typeof filter.vxlanDevice !== 'string' || !INTERFACE_NAME.test(filter.vxlanDevice) || filter.vxlanDevice === '.' || filter.vxlanDevice === '..') {
    throw new FilterInputError(`vxlanDevice must be an interface name of 1-15 letters, digits, '_', '.' or '-', got ${describe(filter.vxlanDevice)}`);
  }
  const port = filter.vxlanPort;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new FilterInputError(`vxlanPort must be an integer from 1 to 65535, got ${typeof port === 'number' ? port : describe(port)}`);
  }
  const input: FilterInput = { localCidrs, remoteCidrs, vxlanDevice: filter.vxlanDevice, vxlanPort: port, mssClamp: mssClamp(filter.mssClamp) };
  if (filter.cniAddress !== undefined) {
    if (typeof filter.cniAddress !== 'string' || parseIpv4(filter.cniAddress) === null) {
      throw new FilterInputError(`cniAddress must be an IPv4 address, got ${describe(filter.cniAddress)}`);
    }
    input.cniAddress = filter.cniAddress;
  }
  return input;
}
