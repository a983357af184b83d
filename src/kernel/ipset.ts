import { attr, cstring, nfnetlinkAcks, nfnetlinkAsk, nfnetlinkDump, type NfnetlinkRequest } from './nfnetlink.ts';
import { decodeAttributes, getU16, notAnIpv4Prefix, NLA_F_NESTED, NLA_TYPE_MASK, putU16, putU32be, u32, u32be, u8, type NetlinkMessage } from './netlink/codec.ts';
import { networkOf, prefixLengthOf } from '../model/cidr.ts';
import { CidrKeySet, type CidrMembers } from '../model/cidr-members.ts';
import type { ProcessRunner } from './iptables.ts';

const NFNL_SUBSYS_IPSET = 6;
const IPSET_CMD_CREATE = 2;
const IPSET_CMD_LIST = 7;
const IPSET_CMD_ADD = 9;
const IPSET_CMD_DEL = 10;
const IPSET_CMD_TYPE = 13;
const IPSET_ATTR_PROTOCOL = 1;
const IPSET_ATTR_SETNAME = 2;
const IPSET_ATTR_TYPENAME = 3;
const IPSET_ATTR_REVISION = 4;
const IPSET_ATTR_FAMILY = 5;
const IPSET_ATTR_DATA = 7;
const IPSET_ATTR_ADT = 8;
const IPSET_ATTR_LINENO = 9;
/** In a TYPE answer: the oldest revision of the type the kernel still makes. */
const IPSET_ATTR_REVISION_MIN = 10;
/** Inside a member's IPSET_ATTR_DATA. */
const IPSET_ATTR_IP = 1, IPSET_ATTR_CIDR = 3;
/** Inside the set's own IPSET_ATTR_DATA (its create options, network byte order). */
const IPSET_ATTR_HASHSIZE = 18;
const IPSET_ATTR_MAXELEM = 19;
/** Inside IPSET_ATTR_IP. */
const IPSET_ATTR_IPADDR_IPV4 = 1;
/** The oldest protocol the kernel's ipset still accepts (and the only one older kernels accept). */
const IPSET_PROTOCOL = 6;
const AF_INET = 2;
const NFPROTO_IPV4 = 2;
/**
 * The newest hash:net revision the ipset tool seaway ships (7.x) knows, and the one it makes on
 * today's kernels. A set of a newer revision would make that tool's `ipset save` (the fallback
 * read) and an operator's `ipset list` refuse it, so a newer kernel still gets this one.
 */
export const HASH_NET_REVISION = 7;
/** An attribute whose value is in network byte order (the kernel's ipset requires it on addresses). */
const NLA_F_NET_BYTEORDER = 0x4000;
const ENOENT = 2;

/**
 * The `ipset save` lines of the named sets that exist; missing sets are simply absent. The
 * fallback for ipsetList: one `ipset save` of every set rather than one process per name.
 */
export async function ipsetSave(runner: ProcessRunner, names: readonly string[]): Promise<string> {
  let result;
  try {
    result = await runner('ipset', ['save'], { allowFailure: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return ''; // no ipset tool: no sets to see
    throw error;
  }
  if (result.code !== 0) throw new Error(`ipset save exited ${result.code}: ${result.stderr.trim()}`);
  const wanted = new Set(names);
  const kept: string[] = [];
  for (const line of result.stdout.split('\n')) {
    const first = line.indexOf(' ');
    const second = line.indexOf(' ', first + 1);
    if (first > 0 && wanted.has(line.slice(first + 1, second < 0 ? undefined : second))) kept.push(line);
  }
  return kept.length === 0 ? '' : `${kept.join('\n')}\n`;
}

/** Applies a restore script in one ipset process; -exist makes re-adding or re-creating harmless. */
export async function ipsetRestore(runner: ProcessRunner, script: string): Promise<void> {
  await runner('ipset', ['-exist', 'restore'], { input: script });
}

/**
 * Members per IPSET_CMD_ADD or _DEL message. Each is one IPSET_ATTR_DATA of 24 bytes in the
 * message's IPSET_ATTR_ADT list, as `ipset restore` batches them; the list's 16-bit attribute
 * length holds at most about 2,700, and a message of 2,048 (49 KiB) fits the socket's send buffer.
 */
export const MEMBERS_PER_MESSAGE = 2048;
/** One member in IPSET_ATTR_ADT: DATA (4) holding IP (4) holding IPADDR_IPV4 (4 + 4), then CIDR (4 + 1, padded to 8). */
const MEMBER_BYTES = 24;

/**
 * The IPSET_ATTR_ADT list of `members` (IPv4 CIDRs) from..to, written byte by byte into one zeroed
 * buffer, with no object or string per member: a fresh set takes 10,000 of them on the path of the
 * first pass, in a process that has not run this code before. Throws on a member that is not one.
 */
function encodeMemberList(members: readonly string[], from: number, to: number): Buffer {
  const out = Buffer.alloc(4 + (to - from) * MEMBER_BYTES);
  putU16(out, 0, out.length);
  putU16(out, 2, IPSET_ATTR_ADT | NLA_F_NESTED);
  for (let i = from, at = 4; i < to; i++, at += MEMBER_BYTES) {
    const member = members[i]!;
    const prefixLength = prefixLengthOf(member);
    const network = prefixLength < 0 ? -1 : networkOf(member);
    if (network < 0) throw notAnIpv4Prefix(member);
    // Little-endian lengths and types, zero bytes left as allocated: DATA (24, nested) holding
    // IP (12, nested) holding IPADDR_IPV4 (8, network byte order), then CIDR (5).
    out[at] = MEMBER_BYTES;
    out[at + 2] = IPSET_ATTR_DATA;
    out[at + 3] = NLA_F_NESTED >> 8;
    out[at + 4] = 12;
    out[at + 6] = IPSET_ATTR_IP;
    out[at + 7] = NLA_F_NESTED >> 8;
    out[at + 8] = 8;
    out[at + 10] = IPSET_ATTR_IPADDR_IPV4;
    out[at + 11] = NLA_F_NET_BYTEORDER >> 8;
    putU32be(out, at + 12, network);
    out[at + 16] = 5;
    out[at + 18] = IPSET_ATTR_CIDR;
    out[at + 20] = prefixLength;
  }
  return out;
}

/**
 * Adds members to and deletes members from a set that exists, over netlink and without a process:
 * the members go in lists of up to MEMBERS_PER_MESSAGE per acknowledged request, as `ipset restore`
 * sends them (10,000 members take the kernel a few ms; the restore process, parsing their text,
 * about 30). Without NLM_F_EXCL, as `ipset -exist`: adding a member that is there, or deleting one
 * that is not, is no error. True when the kernel took every request; false when netlink could not
 * answer or refused one (the members before the refused one in its list may be written), and the
 * caller writes the same change with `ipset restore`. Members are IPv4 CIDRs.
 */
export async function ipsetChangeMembers(set: string, add: readonly string[], del: readonly string[]): Promise<boolean> {
  // The kernel requires a line number beside a list of members; 0: it reports a refused member
  // with a plain error rather than echoing the whole request back.
  const header = [attr(IPSET_ATTR_PROTOCOL, u8(IPSET_PROTOCOL)), attr(IPSET_ATTR_SETNAME, cstring(set)), attr(IPSET_ATTR_LINENO, u32(0))];
  const requests: NfnetlinkRequest[] = [];
  try {
    for (const [command, members] of [[IPSET_CMD_ADD, add], [IPSET_CMD_DEL, del]] as const) {
      for (let from = 0; from < members.length; from += MEMBERS_PER_MESSAGE) {
        const list = encodeMemberList(members, from, Math.min(from + MEMBERS_PER_MESSAGE, members.length));
        requests.push({ subsystem: NFNL_SUBSYS_IPSET, command, family: AF_INET, attributes: [...header, list] });
      }
    }
  } catch {
    return false; // a member that is not an IPv4 CIDR: ipset restore says what is wrong with it
  }
  const errnos = await nfnetlinkAcks(requests);
  return errnos !== null && errnos.every((errno) => errno === 0);
}

/** The oldest and newest hash:net revisions this kernel makes, from its answer to IPSET_CMD_TYPE; null when the answer has neither. */
function hashNetRevisions(messages: readonly NetlinkMessage[]): { min: number; max: number } | null {
  for (const message of messages) {
    if (message.type !== ((NFNL_SUBSYS_IPSET << 8) | IPSET_CMD_TYPE) || message.payload.length < 4) continue;
    const attrs = decodeAttributes(message.payload, 4);
    const max = attrs.get(IPSET_ATTR_REVISION);
    const min = attrs.get(IPSET_ATTR_REVISION_MIN);
    if (max && max.length >= 1 && min && min.length >= 1) return { min: min[0]!, max: max[0]! };
  }
  return null;
}

/**
 * Makes hash:net sets of IPv4 CIDRs over netlink, without a process, as `ipset -exist create NAME
 * hash:net family inet hashsize H maxelem M` would: the revision is the newest this kernel makes
 * up to HASH_NET_REVISION (asked first), and a set that is there with the same settings is no error.
 * True when the kernel made (or had) every set; false when netlink could not answer, the kernel
 * makes no revision seaway's tool knows, or it refused one (a set of that name with other
 * settings): the caller then writes with `ipset restore`, which says what is wrong.
 */
export async function ipsetCreate(sets: readonly { set: string; hashsize: number; maxelem: number }[]): Promise<boolean> {
  if (sets.length === 0) return true;
  const typeName = attr(IPSET_ATTR_TYPENAME, cstring('hash:net'));
  const family = attr(IPSET_ATTR_FAMILY, u8(NFPROTO_IPV4));
  const asked = await nfnetlinkAsk({ subsystem: NFNL_SUBSYS_IPSET, command: IPSET_CMD_TYPE, family: AF_INET, attributes: [attr(IPSET_ATTR_PROTOCOL, u8(IPSET_PROTOCOL)), typeName, family] });
  const revisions = asked?.messages ? hashNetRevisions(asked.messages) : null;
  if (revisions === null || revisions.min > HASH_NET_REVISION) return false;
  const revision = attr(IPSET_ATTR_REVISION, u8(Math.min(revisions.max, HASH_NET_REVISION)));
  const errnos = await nfnetlinkAcks(sets.map(({ set, hashsize, maxelem }) => ({
    subsystem: NFNL_SUBSYS_IPSET, command: IPSET_CMD_CREATE, family: AF_INET,
    attributes: [
      attr(IPSET_ATTR_PROTOCOL, u8(IPSET_PROTOCOL)), attr(IPSET_ATTR_SETNAME, cstring(set)), typeName, revision, family,
      attr(IPSET_ATTR_DATA, Buffer.concat([
        attr(IPSET_ATTR_HASHSIZE | NLA_F_NET_BYTEORDER, u32be(hashsize)),
        attr(IPSET_ATTR_MAXELEM | NLA_F_NET_BYTEORDER, u32be(maxelem)),
      ]), true),
    ],
  })));
  return errnos !== null && errnos.every((errno) => errno === 0);
}

/** A set's type and members as `ipset save` would show them, members as CIDRs (a host as /32), and its maxelem when told. */
export interface IpsetContents { type: string; members: CidrMembers; maxelem?: number }

export class IpsetListError extends Error {
  constructor(why: string) {
    super(`ipset list over netlink: ${why}`);
    this.name = 'IpsetListError';
  }
}

/**
 * The sets in the messages of an IPSET_CMD_LIST dump. A set's members may continue over several
 * messages, each naming the set again; its type comes with the first. IPv4 members only: an
 * IPv6 member (or any other unexpected attribute layout) throws, and the caller reads the
 * sets with `ipset save` instead.
 */
export function decodeIpsetList(messages: readonly NetlinkMessage[]): Map<string, IpsetContents> {
  const sets = new Map<string, { type: string; keys: number[]; maxelem?: number }>();
  for (const message of messages) {
    if (message.type !== ((NFNL_SUBSYS_IPSET << 8) | IPSET_CMD_LIST) || message.payload.length < 4) continue;
    const attrs = decodeAttributes(message.payload, 4);
    const name = attrs.get(IPSET_ATTR_SETNAME);
    if (!name) throw new IpsetListError('a message names no set');
    const setName = name.toString('utf8').replace(/\0+$/, '');
    let set = sets.get(setName);
    if (!set) {
      const type = attrs.get(IPSET_ATTR_TYPENAME);
      if (!type) throw new IpsetListError(`set ${setName} arrived without its type`);
      set = { type: type.toString('utf8').replace(/\0+$/, ''), keys: [] };
      const maxelem = decodeAttributes(attrs.get(IPSET_ATTR_DATA) ?? Buffer.alloc(0)).get(IPSET_ATTR_MAXELEM);
      if (maxelem && maxelem.length >= 4) set.maxelem = maxelem.readUInt32BE(0);
      sets.set(setName, set);
    }
    const adt = attrs.get(IPSET_ATTR_ADT);
    if (adt) addMembers(adt, set.keys, setName);
  }
  const decoded = new Map<string, IpsetContents>();
  sets.forEach(({ type, keys, maxelem }, setName) => {
    decoded.set(setName, { type, members: new CidrKeySet(Float64Array.from(keys)), ...(maxelem !== undefined ? { maxelem } : {}) });
  });
  return decoded;
}

/**
 * The members in IPSET_ATTR_ADT: a list of IPSET_ATTR_DATA, each holding IPSET_ATTR_IP (itself
 * holding the IPv4 address) and IPSET_ATTR_CIDR. Walked in place, without a Map or a string per
 * member: each is pushed as CidrKeySet's number. A LIST of 10,000 members decodes in about a millisecond.
 */
function addMembers(adt: Buffer, keys: number[], setName: string): void {
  for (let entry = 0; entry + 4 <= adt.length;) {
    const entryLength = getU16(adt, entry);
    if (entryLength < 4 || entry + entryLength > adt.length) break;
    if ((getU16(adt, entry + 2) & NLA_TYPE_MASK) !== IPSET_ATTR_DATA) throw new IpsetListError(`set ${setName} lists something other than members`);
    let address = -1;
    let cidr = 32;
    for (let at = entry + 4; at + 4 <= entry + entryLength;) {
      const length = getU16(adt, at);
      if (length < 4 || at + length > entry + entryLength) break;
      const type = getU16(adt, at + 2) & NLA_TYPE_MASK;
      if (type === IPSET_ATTR_CIDR && length >= 5) cidr = adt[at + 4]!;
      else if (type === IPSET_ATTR_IP && length === 12 && (getU16(adt, at + 6) & NLA_TYPE_MASK) === IPSET_ATTR_IPADDR_IPV4) address = at + 8;
      at += (length + 3) & ~3;
    }
    if (address < 0) throw new IpsetListError(`set ${setName} has a member that is not an IPv4 address`);
    // Not an IPv4 prefix (the kernel makes none): the whole answer is refused, as for an IPv6 member,
    // so seaway's sets are read with ipset save and a foreign set's members count as unknown.
    if (cidr > 32) throw new IpsetListError(`set ${setName} has a member with prefix length ${cidr}`);
    keys.push(CidrKeySet.key(adt[address]! * 0x1000000 + (adt[address + 1]! << 16) + (adt[address + 2]! << 8) + adt[address + 3]!, cidr));
    entry += (entryLength + 3) & ~3;
  }
}

/**
 * The named sets that exist, with their members, read over netlink: one dump per set and no
 * process (`ipset save` of 10,000 members and parsing its text take about 25 ms; this a few).
 * null when netlink cannot tell (no ipset support, an answer it does not understand): the caller
 * then reads with `ipset save`.
 */
export async function ipsetList(names: readonly string[]): Promise<Map<string, IpsetContents> | null> {
  const answers = await Promise.all(names.map((name) => nfnetlinkDump({
    subsystem: NFNL_SUBSYS_IPSET, command: IPSET_CMD_LIST, family: AF_INET,
    attributes: [attr(IPSET_ATTR_PROTOCOL, u8(IPSET_PROTOCOL)), attr(IPSET_ATTR_SETNAME, cstring(name))],
  })));
  const sets = new Map<string, IpsetContents>();
  for (const [i, answer] of answers.entries()) {
    if (answer === null || (answer.errno !== 0 && answer.errno !== ENOENT)) return null;
    if (!answer.messages) continue;
    let set: IpsetContents | undefined;
    try {
      set = decodeIpsetList(answer.messages).get(names[i]!);
    } catch {
      return null;
    }
    if (set) sets.set(names[i]!, set);
  }
  return sets;
}
