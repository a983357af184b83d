import { isDeepStrictEqual } from 'node:util';
import { parseCidr, scanIpv4, scanPrefixLength, type Cidr } from '../model/cidr.ts';
import type { DesiredFilter, EchoLimit, MssClamp } from '../model/desired-state.ts';
import { MAX_MSS, MIN_MSS } from './mss-clamp.ts';

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
const INTERFACE_NAME = /^[A-Za-z0-9_.-]{1,15}$/;

/** `text` is the canonical spelling (parseFilterCidr accepts only canonical text). */
export interface FilterCidr extends Cidr { text: string }

/**
 * A CIDR the packet filter takes: one model/cidr parses (strict IPv4), already canonical (no host
 * bits set) and not /0; a reason string when it is not one.
 */
export function parseFilterCidr(text: unknown): FilterCidr | string {
  const parsed = parseCidr(text);
  if (!parsed.ok) return parsed.message;
  if (parsed.hostBitsSet) return `"${text}" has host bits set (network is ${parsed.text})`;
  if (parsed.cidr.prefixLength === 0) return `"${text}" covers every address (prefix /0 is not allowed)`;
  return { ...parsed.cidr, text: parsed.text };
}

/** Sorted by address, deduplicated, and with every CIDR that lies inside another one dropped (nft interval sets refuse overlaps). */
export function canonicalCidrs(cidrs: readonly FilterCidr[]): string[] {
  const order = (a: FilterCidr, b: FilterCidr) => a.network - b.network || a.prefixLength - b.prefixLength;
  // The planner's lists usually arrive sorted already: checking is cheaper than sorting 10,000 again.
  const sorted = cidrs.every((c, i) => i === 0 || order(cidrs[i - 1]!, c) <= 0) ? cidrs : [...cidrs].sort(order);
  const out: string[] = [];
  let coveredUpTo = -1;
  for (const c of sorted) {
    const last = c.network + 2 ** (32 - c.prefixLength) - 1;
    if (last <= coveredUpTo) continue;
    out.push(c.text);
    coveredUpTo = last;
  }
  return out;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? `"${value}"` : typeof value;
}

function cidrList(value: unknown, field: string, previous?: readonly string[]): string[] {
  if (!Array.isArray(value)) throw new FilterInputError(`${field} must be an array of CIDR strings, got ${describe(value)}`);
  if (value.length > MAX_CIDRS_PER_SET) throw new FilterInputError(`${field} has ${value.length} entries, more than the ${MAX_CIDRS_PER_SET} a set holds`);
  const asGiven = canonicalAsGiven(value, previous);
  if (asGiven) return asGiven;
  const parsed: FilterCidr[] = [];
  value.forEach((item, index) => {
    const cidr = parseFilterCidr(item);
    if (typeof cidr === 'string') throw new FilterInputError(`${field}[${index}]: ${cidr}`);
    parsed.push(cidr);
  });
  return canonicalCidrs(parsed);
}

/**
 * A copy of the list when it is canonical already (every entry a canonical CIDR, each starting after
 * every earlier one ends: sorted, none covered), else null and the caller takes the general path,
 * which sorts or names the bad entry. Allocates nothing: the planner's 10,000 remote CIDRs usually
 * arrive this way, and model/cidr's scanners are flat character loops. `previous`: a canonical list
 * (an earlier result): the entries the list shares with it at its start and at its end are canonical
 * and in order among themselves, so only the span between them is read, with one neighbour on each
 * side for the order (a change of one Endpoint's subnets reads a few entries, not 10,000).
 */
function canonicalAsGiven(list: readonly unknown[], previous?: readonly string[]): string[] | null {
  let start = 0;
  let end = list.length;
  if (previous !== undefined) {
    while (start < end && start < previous.length && list[start] === previous[start]) start++;
    while (end > start && list.length - end < previous.length - start && list[end - 1] === previous[previous.length - (list.length - end) - 1]) end--;
  }
  let coveredUpTo = -1;
  for (let i = Math.max(0, start - 1); i < Math.min(list.length, end + 1); i++) {
    const text = list[i];
    if (typeof text !== 'string') return null;
    const slash = text.indexOf('/');
    if (slash < 0) return null;
    const network = scanIpv4(text, 0, slash);
    const prefix = scanPrefixLength(text, slash + 1);
    if (network < 0 || prefix <= 0 || network <= coveredUpTo) return null;
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

function egress(value: unknown): { only: string[] } | { never: string[] } {
  const given = typeof value === 'object' && value !== null ? value as Record<string, unknown> : {};
  const which = 'only' in given ? 'only' : 'never' in given ? 'never' : null;
  const devices = which === null ? undefined : given[which];
  if (which === null || !Array.isArray(devices) || !devices.every((d) => typeof d === 'string' && INTERFACE_NAME.test(d))) {
    throw new FilterInputError(`egress must be {only: [interface names]} or {never: [interface names]}, got ${JSON.stringify(value)?.slice(0, 100)}`);
  }
  return which === 'only' ? { only: [...devices] } : { never: [...devices] };
}

/**
 * The most an echo limit may pass per second, and its largest burst: iptables' limit match counts
 * in units of 1/10000 s and refuses a faster rate or a larger burst (nft would take more, but both
 * backends must render the same limit).
 */
export const MAX_ECHO_LIMIT_PER_SECOND = 10000;
export const MAX_ECHO_LIMIT_BURST = 10000;

function count(value: unknown, field: string, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new FilterInputError(`${field} must be an integer from 1 to ${max}, got ${typeof value === 'number' ? value : describe(value)}`);
  }
  return value;
}

function echoLimit(value: unknown): EchoLimit {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FilterInputError(`echoLimit must be {address, exempt, perSecond, burst}, got ${describe(value)}`);
  }
  const limit = value as Record<string, unknown>;
  if (typeof limit.address !== 'string' || scanIpv4(limit.address) < 0) {
    throw new FilterInputError(`echoLimit.address must be an IPv4 address, got ${describe(limit.address)}`);
  }
  const exempt = cidrList(limit.exempt, 'echoLimit.exempt');
  const wide = exempt.find((cidr) => !cidr.endsWith('/32'));
  // Exemptions name single senders (remote gateways' health-check addresses), never whole ranges.
  if (wide !== undefined) throw new FilterInputError(`echoLimit.exempt: "${wide}" is not a host address (/32)`);
  return {
    address: limit.address,
    exempt,
    perSecond: count(limit.perSecond, 'echoLimit.perSecond', MAX_ECHO_LIMIT_PER_SECOND),
    burst: count(limit.burst, 'echoLimit.burst', MAX_ECHO_LIMIT_BURST),
  };
}

/**
 * Validates a DesiredFilter at the kernel boundary; throws FilterInputError naming the field and what
 * is wrong. `known`: a filter validated before and what it gave; a CIDR list that is the same array
 * as its list gives the same result without being read again, and one that shares a start and an
 * end with what it gave is read only between them. (The planner keeps the list of 5,000 Node
 * addresses the same array while the Nodes do not change; it makes the CIDR lists anew.)
 */
export function validateFilter(filter: DesiredFilter, known?: { filter: DesiredFilter; input: FilterInput }): FilterInput {
  if (typeof filter !== 'object' || filter === null) throw new FilterInputError(`expected an object, got ${describe(filter)}`);
  const list = (field: 'localCidrs' | 'remoteCidrs' | 'nodeAddresses') =>
    (known !== undefined && filter[field] === known.filter[field] ? known.input[field] : cidrList(filter[field], field, known?.input[field]));
  const localCidrs = list('localCidrs');
  const remoteCidrs = list('remoteCidrs');
  const nodeAddresses = list('nodeAddresses');
  if (typeof filter.vxlanDevice !== 'string' || !INTERFACE_NAME.test(filter.vxlanDevice) || filter.vxlanDevice === '.' || filter.vxlanDevice === '..') {
    throw new FilterInputError(`vxlanDevice must be an interface name of 1-15 letters, digits, '_', '.' or '-', got ${describe(filter.vxlanDevice)}`);
  }
  const port = filter.vxlanPort;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new FilterInputError(`vxlanPort must be an integer from 1 to 65535, got ${typeof port === 'number' ? port : describe(port)}`);
  }
  const input: FilterInput = { localCidrs, remoteCidrs, nodeAddresses, vxlanDevice: filter.vxlanDevice, vxlanPort: port, mssClamp: mssClamp(filter.mssClamp) };
  if (filter.egress !== undefined) input.egress = egress(filter.egress);
  if (filter.cniAddress !== undefined) {
    if (typeof filter.cniAddress !== 'string' || scanIpv4(filter.cniAddress) < 0) {
      throw new FilterInputError(`cniAddress must be an IPv4 address, got ${describe(filter.cniAddress)}`);
    }
    input.cniAddress = filter.cniAddress;
  }
  if (filter.echoLimit !== undefined) input.echoLimit = echoLimit(filter.echoLimit);
  return input;
}

/**
 * The two inputs differ at most in their sets' members (local and remote CIDRs, node addresses, the
 * echo limit's exempt senders): every rule is the same.
 */
export function onlySetMembersDiffer(a: FilterInput, b: FilterInput): boolean {
  const rules = ({ localCidrs: _local, remoteCidrs: _remote, nodeAddresses: _nodes, echoLimit, ...rest }: FilterInput) =>
    (echoLimit === undefined ? rest : { ...rest, echoLimit: { ...echoLimit, exempt: [] } });
  return isDeepStrictEqual(rules(a), rules(b));
}
