import type { ProcessRunner } from './iptables.ts';
import { NFNL_SUBSYS_NFTABLES } from './nft-events.ts';
import { attr, cstring, nfnetlinkAsk, nfnetlinkDump, nfnetlinkTransaction, type NfnetlinkRequest } from './nfnetlink.ts';
import { decodeAttributes, NLA_F_NESTED, NLM_F_CREATE, putU16, readCstring, u32be } from './netlink/codec.ts';
import { networkOf, prefixLengthOf } from '../model/cidr.ts';

/** `nft -j list table`, or null when the table does not exist. */
export async function nftListTable(runner: ProcessRunner, family: string, table: string): Promise<string | null> {
  const result = await runner('nft', ['-j', 'list', 'table', family, table], { allowFailure: true });
  if (result.code === 0) return result.stdout;
  if (/No such file or directory/i.test(result.stderr)) return null;
  throw new Error(`nft list table ${family} ${table} exited ${result.code}: ${result.stderr.trim()}`);
}

/** Applies a script as one nft transaction: all of it or nothing. `onInputClosed`: see ExecOptions. */
export async function nftApply(runner: ProcessRunner, script: string, onInputClosed?: () => void): Promise<void> {
  await runner('nft', ['-f', '-'], { input: script, ...(onInputClosed ? { onInputClosed } : {}) });
}

/** Tables in the ruleset as "family name", e.g. "ip filter". */
export async function nftListTables(runner: ProcessRunner): Promise<string[]> {
  const result = await runner('nft', ['list', 'tables'], { allowFailure: true });
  if (result.code !== 0) return [];
  return result.stdout.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('table ')).map((l) => l.slice(6));
}

const NFT_MSG_NEWTABLE = 0;
const NFT_MSG_GETTABLE = 1;
const NFTA_TABLE_NAME = 1, NFTA_TABLE_FLAGS = 2;
const NFT_TABLE_F_DORMANT = 1;
/** nfgenmsg (4 bytes) ahead of a table message's attributes. */
const NFGENMSG_BYTES = 4;
const NFPROTO: Record<string, number> = { inet: 1, ip: 2, arp: 3, netdev: 5, bridge: 7, ip6: 10 };
const ENOENT = 2;

const NFT_MSG_NEWSETELEM = 12;
const NFT_MSG_DELSETELEM = 14;
const NFTA_SET_ELEM_LIST_TABLE = 1, NFTA_SET_ELEM_LIST_SET = 2, NFTA_SET_ELEM_LIST_ELEMENTS = 3;
const NFTA_LIST_ELEM = 1;
const NFTA_SET_ELEM_KEY = 1, NFTA_SET_ELEM_FLAGS = 3;
const NFTA_DATA_VALUE = 1;
const NFT_SET_ELEM_INTERVAL_END = 1;

/**
 * One interval set element into a zeroed buffer: its key (an IPv4 address as a number) and whether
 * it ends an interval. Bytes written one by one, only those not zero (little-endian lengths and
 * types): a fill writes 20,000 of these in a process that has not run this code before, where a
 * helper call per field cost more than the bytes.
 */
function encodeElement(out: Buffer, at: number, address: number, end: boolean): number {
  // LIST_ELEM (nested) holding KEY (nested, 12) holding DATA_VALUE (8): the address in network byte order.
  out[at] = end ? 24 : 16;
  out[at + 2] = NFTA_LIST_ELEM;
  out[at + 3] = NLA_F_NESTED >> 8;
  out[at + 4] = 12;
  out[at + 6] = NFTA_SET_ELEM_KEY;
  out[at + 7] = NLA_F_NESTED >> 8;
  out[at + 8] = 8;
  out[at + 10] = NFTA_DATA_VALUE;
  out[at + 12] = address >>> 24;
  out[at + 13] = (address >>> 16) & 0xff;
  out[at + 14] = (address >>> 8) & 0xff;
  out[at + 15] = address & 0xff;
  if (!end) return at + 16;
  // FLAGS (8): INTERVAL_END, a 32-bit value in network byte order.
  out[at + 16] = 8;
  out[at + 18] = NFTA_SET_ELEM_FLAGS;
  out[at + 23] = NFT_SET_ELEM_INTERVAL_END;
  return at + 24;
}

/**
 * The elements of an interval set that hold `prefixes[from, to)` (IPv4 CIDRs): a start and an
 * interval end each, as nft writes them (nft's own listing shows them as the prefixes again); with
 * `lowerBound`, first the end element at 0.0.0.0 that nft adds with an addition. null when a
 * prefix is not one, has host bits set, or ends at the top of the address space (nft writes no end
 * element there), or the list is longer than its 16-bit length: the caller writes with nft.
 */
function encodeIntervalElements(prefixes: readonly string[], from: number, to: number, lowerBound: boolean): Buffer | null {
  const bytes = 4 + (lowerBound ? 24 : 0) + (to - from) * 40;
  if (bytes > 0xffff) return null; // the list's length is 16 bits
  const out = Buffer.alloc(bytes); // zeroed: encodeElement writes only the bytes that are not
  let at = 4;
  if (lowerBound) at = encodeElement(out, at, 0, true);
  for (let i = from; i < to; i++) {
    const prefix = prefixes[i]!;
    const length = prefixLengthOf(prefix);
    const network = length < 0 ? -1 : networkOf(prefix);
    const size = 2 ** (32 - length);
    // Not a prefix, host bits set (nft sets keep them as written: another interval), or its end past 255.255.255.255.
    if (network < 0 || network % size !== 0 || network + size > 0xffffffff) return null;
    at = encodeElement(out, at, network, false);
    at = encodeElement(out, at, network + size, true);
  }
  putU16(out, 0, at);
  putU16(out, 2, NFTA_SET_ELEM_LIST_ELEMENTS | NLA_F_NESTED);
  return out.subarray(0, at);
}

/** Prefixes per element message: 40 bytes each, within the element list's 16-bit length. */
const PREFIXES_PER_MESSAGE = 1600;

/**
 * Whether a prefix starts at 0.0.0.0, told from its text: for every text encodeIntervalElements
 * takes, the same as networkOf(prefix) === 0 (scanIpv4 refuses leading zeros), without a scan of
 * each of 10,000 prefixes before they are encoded.
 */
const startsAtZero = (prefix: string): boolean => prefix === '0.0.0.0' || prefix.startsWith('0.0.0.0/');

/**
 * The messages that add (NEWSETELEM) or delete (DELSETELEM) `prefixes` in one interval set, in
 * lists of PREFIXES_PER_MESSAGE; an addition's first list starts with the end element at 0.0.0.0
 * that nft adds with an addition, unless a prefix starts there. null when a prefix cannot be
 * written this way (see encodeIntervalElements).
 */
function setElementRequests(code: number, table: string, set: string, command: typeof NFT_MSG_NEWSETELEM | typeof NFT_MSG_DELSETELEM, prefixes: readonly string[]): NfnetlinkRequest[] | null {
  const names = [attr(NFTA_SET_ELEM_LIST_TABLE, cstring(table)), attr(NFTA_SET_ELEM_LIST_SET, cstring(set))];
  const requests: NfnetlinkRequest[] = [];
  let lowerBound = command === NFT_MSG_NEWSETELEM && !prefixes.some(startsAtZero);
  for (let from = 0; from < prefixes.length; from += PREFIXES_PER_MESSAGE) {
    const elements = encodeIntervalElements(prefixes, from, Math.min(from + PREFIXES_PER_MESSAGE, prefixes.length), lowerBound);
    if (elements === null) return null;
    lowerBound = false;
    requests.push({ subsystem: NFNL_SUBSYS_NFTABLES, command, family: code, attributes: [...names, elements], ...(command === NFT_MSG_NEWSETELEM ? { flags: NLM_F_CREATE } : {}) });
  }
  return requests;
}

/**
 * Adds prefixes to and deletes prefixes from interval sets (`type ipv4_addr; flags interval`) of
 * one table over netlink, all of it as one nftables transaction and without starting nft: nft reads
 * a whole set before it changes one of 10,000 elements (about 100 ms a change). As `nft delete
 * element` then `nft add element`, set by set: an addition that is there is no error. True when the
 * kernel took all of it; false when netlink could not answer, the kernel refused (a deletion of what
 * is not there, an addition that overlaps: nothing is changed then), a prefix cannot be written this
 * way, or the transaction is larger than one send takes (TRANSACTION_MAX_BYTES, about 25,000
 * prefixes): the caller writes the change with nft.
 */
export async function nftChangeElements(family: string, table: string, changes: readonly { set: string; add: readonly string[]; del: readonly string[] }[]): Promise<boolean> {
  const code = NFPROTO[family];
  if (code === undefined) return false;
  const requests: NfnetlinkRequest[] = [];
  for (const { set, add, del } of changes) {
    for (const [command, prefixes] of [[NFT_MSG_DELSETELEM, del], [NFT_MSG_NEWSETELEM, add]] as const) {
      const messages = setElementRequests(code, table, set, command, prefixes);
      if (messages === null) return false;
      requests.push(...messages);
    }
  }
  const errnos = await nfnetlinkTransaction(NFNL_SUBSYS_NFTABLES, requests);
  return errnos !== null && errnos.every((errno) => errno === 0);
}

/** A table as the kernel holds it: absent, active, or dormant (its base chains see no packet). */
export type NftTableState = 'absent' | 'active' | 'dormant';

/**
 * Whether the table exists and whether it is dormant, asked of the kernel over netlink without
 * starting nft (whose JSON listing does not say dormant reliably: nft 1.0.6 prints the family
 * there); null when netlink cannot tell (then list it with nft).
 */
export async function nftTableState(family: string, table: string): Promise<NftTableState | null> {
  const code = NFPROTO[family];
  if (code === undefined) return null;
  const answer = await nfnetlinkAsk({
    subsystem: NFNL_SUBSYS_NFTABLES, command: NFT_MSG_GETTABLE, family: code, attributes: [attr(NFTA_TABLE_NAME, cstring(table))],
  });
  if (answer === null) return null;
  if (answer.errno === ENOENT) return 'absent';
  const message = answer.messages?.[0];
  if (answer.errno !== 0 || message === undefined) return null;
  const flags = decodeAttributes(message.payload, NFGENMSG_BYTES).get(NFTA_TABLE_FLAGS);
  if (flags === undefined || flags.length < 4) return null;
  return (flags.readUInt32BE(0) & NFT_TABLE_F_DORMANT) !== 0 ? 'dormant' : 'active';
}

/**
 * The names of the tables of one family, asked of the kernel over netlink (a GETTABLE dump: names
 * and flags, no chain or rule); null when netlink cannot tell.
 */
export async function nftTableNames(family: string): Promise<string[] | null> {
  const code = NFPROTO[family];
  if (code === undefined) return null;
  const answer = await nfnetlinkDump({ subsystem: NFNL_SUBSYS_NFTABLES, command: NFT_MSG_GETTABLE, family: code, attributes: [] });
  if (answer === null || answer.messages === undefined) return null;
  const names: string[] = [];
  for (const message of answer.messages) {
    const name = decodeAttributes(message.payload, NFGENMSG_BYTES).get(NFTA_TABLE_NAME);
    if (name === undefined) return null;
    names.push(readCstring(name));
  }
  return names;
}

/**
 * Fills empty interval sets of a dormant table and wakes the table (NEWTABLE, flags 0), as one
 * nftables transaction: the elements appear together at its commit, so no packet meets a rule
 * whose set is half there. (The wake hooks the base chains while the transaction is applied, a
 * moment before the commit: a packet then meets the sets empty. Every rule of seaway's table
 * matches only a member of a set, so an empty set matches nothing; a rule that acted on `!=
 * @set` alone would need this looked at again.) The table's rules are
 * nft's to write (kernel expressions); the thousands of elements are what nft is slow at (about
 * 70 ms of its 80 for 10,000 prefixes). True when the kernel took all of it; false when the
 * table is not there, a prefix cannot be written this way, the transaction is larger than one send
 * takes (TRANSACTION_MAX_BYTES), or netlink could not answer: nothing is changed then. With
 * `sendAfter` (the table being made by nft), the elements are encoded at once and sent once it
 * fulfils; when it rejects, nothing is sent and its error passes on.
 */
export async function nftFillAndWake(
  family: string, table: string, sets: readonly { set: string; add: readonly string[] }[], options: { sendAfter?: Promise<unknown> } = {},
): Promise<boolean> {
  const code = NFPROTO[family];
  if (code === undefined) return false;
  const requests: NfnetlinkRequest[] = [];
  for (const { set, add } of sets) {
    const messages = setElementRequests(code, table, set, NFT_MSG_NEWSETELEM, add);
    if (messages === null) return false;
    requests.push(...messages);
  }
  // The kernel would make a table NEWTABLE names that is not there (with or without NLM_F_CREATE);
  // here the element messages ahead of it fail first (ENOENT), and with them the whole transaction.
  if (requests.length === 0) return false;
  requests.push({ subsystem: NFNL_SUBSYS_NFTABLES, command: NFT_MSG_NEWTABLE, family: code, attributes: [attr(NFTA_TABLE_NAME, cstring(table)), attr(NFTA_TABLE_FLAGS, u32be(0))] });
  const errnos = await nfnetlinkTransaction(NFNL_SUBSYS_NFTABLES, requests, options);
  return errnos !== null && errnos.every((errno) => errno === 0);
}
