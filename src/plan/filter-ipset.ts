import { isDeepStrictEqual } from 'node:util';
import { OWNERSHIP } from '../model/ownership.ts';
import { networkOf } from '../model/cidr.ts';
import type { CidrMembers } from '../model/cidr-members.ts';
import { MAX_CIDRS_PER_SET, type FilterInput } from './filter-input.ts';

export interface IpsetObserved { type: string; members: CidrMembers; maxelem?: number }
export type IpsetsObserved = Map<string, IpsetObserved>;
export type IpsetsDesired = Map<string, string[]>;

export const OWNED_IPSETS: readonly string[] = [OWNERSHIP.ipsets.localCidrs, OWNERSHIP.ipsets.remoteCidrs, OWNERSHIP.ipsets.nodeAddresses, OWNERSHIP.ipsets.echoExempt];

/** The temporary name a set is rebuilt under before it is swapped in (within ipset's 31 characters). */
export const SWAP_SUFFIX = '-SWAP';

export function renderIpsets(input: FilterInput): IpsetsDesired {
  return new Map([
    [OWNERSHIP.ipsets.localCidrs, input.localCidrs],
    [OWNERSHIP.ipsets.remoteCidrs, input.remoteCidrs],
    [OWNERSHIP.ipsets.nodeAddresses, input.nodeAddresses],
    // Always there, empty but on the gateway: a node that stops being the gateway keeps a set no rule
    // matches any more, rather than a destroy that would have to wait for the rule's removal.
    [OWNERSHIP.ipsets.echoExempt, input.echoLimit?.exempt ?? []],
  ]);
}

/** Sets as the kernel holds them after `desired` was written whole: what a vouched-for kernel is diffed against. */
export function ipsetsAsWritten(desired: IpsetsDesired): IpsetsObserved {
  return new Map([...desired].map(([name, members]) => [name, { type: 'hash:net', members: new Set(members), maxelem: MAX_CIDRS_PER_SET }]));
}

/** Members to add to and to delete from one set that exists: an ipset, or an nft interval set (its prefixes). */
export interface SetMemberChange { set: string; add: readonly string[]; del: readonly string[] }

/** A hash:net set of IPv4 CIDRs to make, as the script's `create` line says. */
export interface IpsetCreate { set: string; hashsize: number; maxelem: number }

const createLine = ({ set, hashsize, maxelem }: IpsetCreate) => `create ${set} hash:net family inet hashsize ${hashsize} maxelem ${maxelem}`;

/**
 * One write of seaway's sets. `script` is the whole of it for `ipset -exist restore`. When it
 * only makes sets and changes members, the same as `creates` (when there are sets to make), then
 * `members` to add and delete: netlink's, no process. Re-running the script after a part of that
 * was made is harmless (-exist).
 */
export interface IpsetWrite {
  script: string;
  creates?: IpsetCreate[];
  members?: SetMemberChange[];
  /**
   * Sets this write makes whose members may be written while the rules that match them are (the
   * rules wait only for the sets to exist and the others to be filled). No rule of seaway's refers
   * to a set before it is made, and every rule matches these sets' members positively: a packet
   * meets a half-filled one either given the treatment it will have or left alone, as before the
   * write. Not the echo limit's exempt senders: a sender not yet there would be dropped past the
   * limit, so that set is whole before the rules go.
   */
  fillBesideRules?: string[];
}

/**
 * What takes sets the kernel holds as `before` was written to `after`, without reading them:
 * planIpsetWrite's, made only from the sets whose members changed (the 5,000 Node addresses are
 * not put in a hash to find that nothing about them changed). null when nothing changed.
 */
export function planIpsetChange(before: IpsetsDesired, after: IpsetsDesired): IpsetWrite | null {
  const changed: IpsetsDesired = new Map();
  after.forEach((list, set) => { if (!isDeepStrictEqual(before.get(set), list)) changed.set(set, list); });
  if (changed.size === 0) return null;
  const members: SetMemberChange[] = [];
  // A set to make, or a list not in address order: the general path below, for every changed set.
  let general = false;
  changed.forEach((list, set) => {
    const previous = before.get(set);
    const change = general || previous === undefined ? null : diffSortedMembers(set, previous, list);
    if (change === null) general = true;
    else members.push(change);
  });
  // Only the sets `before` wrote are there: one it did not is created.
  if (general) return planIpsetWrite(changed, ipsetsAsWritten(new Map([...before].filter(([name]) => changed.has(name)))));
  return { script: renderMemberChanges(members), members };
}

/**
 * planIpsetWrite's lines for member changes: the additions in list order, then the deletions
 * sorted as text (as planIpsetWrite sorts them, so both paths write the same script).
 */
function renderMemberChanges(changes: readonly SetMemberChange[]): string {
  const lines: string[] = [];
  for (const change of changes) pushMemberLines(lines, change);
  return `${lines.join('\n')}\n`;
}

/** One set's change as restore lines: its additions in list order, then its deletions sorted as text. */
function pushMemberLines(lines: string[], { set, add, del }: SetMemberChange): void {
  for (let i = 0; i < add.length; i++) lines.push(`add ${set} ${add[i]}`);
  for (const m of [...del].sort()) lines.push(`del ${set} ${m}`);
}

/**
 * The difference of two member lists in address order (validateFilter's canonical lists: sorted,
 * none covering another, so no network twice), in one walk over both and no hash of 10,000
 * members; null when either list is not in that order.
 */
function diffSortedMembers(set: string, before: readonly string[], after: readonly string[]): SetMemberChange | null {
  const add: string[] = [];
  const del: string[] = [];
  let i = 0, j = 0;
  let lastBefore = -1, lastAfter = -1;
  let b = before.length > 0 ? networkOf(before[0]!) : -1;
  let a = after.length > 0 ? networkOf(after[0]!) : -1;
  const nextBefore = () => { lastBefore = b; i++; b = i < before.length ? networkOf(before[i]!) : -1; return i >= before.length || b > lastBefore; };
  const nextAfter = () => { lastAfter = a; j++; a = j < after.length ? networkOf(after[j]!) : -1; return j >= after.length || a > lastAfter; };
  if ((before.length > 0 && b < 0) || (after.length > 0 && a < 0)) return null;
  while (i < before.length || j < after.length) {
    let inOrder: boolean;
    if (j >= after.length || (i < before.length && b < a)) {
      del.push(before[i]!);
      inOrder = nextBefore();
    } else if (i >= before.length || a < b) {
      add.push(after[j]!);
      inOrder = nextAfter();
    } else {
      // The same network: the same member, or another prefix length in its place.
      if (before[i] !== after[j]) { del.push(before[i]!); add.push(after[j]!); }
      inOrder = nextBefore() && nextAfter();
    }
    if (!inOrder) return null;
  }
  return { set, add, del };
}

export class IpsetParseError extends Error {
  constructor(lineNumber: number, line: string, why: string) {
    super(`ipset save output line ${lineNumber}: ${why}: ${line.slice(0, 200)}`);
    this.name = 'IpsetParseError';
  }
}

/** Parses `ipset save` output; a host address (ipset prints 10.0.0.1 for 10.0.0.1/32) is given its /32. */
export function parseIpsetSave(text: string): IpsetsObserved {
  const sets = new Map<string, { type: string; members: Set<string>; maxelem?: number }>();
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '') return;
    const tokens = line.split(/\s+/);
    const [verb, name, value] = tokens;
    if (verb === 'create' && name && value) {
      const at = tokens.indexOf('maxelem');
      const maxelem = at > 0 ? Number(tokens[at + 1]) : NaN;
      sets.set(name, { type: value, members: new Set(), ...(Number.isInteger(maxelem) ? { maxelem } : {}) });
    } else if (verb === 'add' && name && value) {
      const set = sets.get(name);
      if (!set) throw new IpsetParseError(index + 1, line, `member of undeclared set ${name}`);
      set.members.add(value.includes('/') ? value : `${value}/32`);
    } else {
      throw new IpsetParseError(index + 1, line, 'expected "create NAME TYPE ..." or "add NAME MEMBER"');
    }
  });
  return sets;
}

/**
 * A hash sized for the members it is created with (a power of two, at least ipset's default
 * 1024): growing a hash:net step by step while 10,000 members are added doubles the time taken.
 */
export function hashSizeFor(members: number): number {
  let size = 1024;
  while (size < members && size < MAX_CIDRS_PER_SET) size *= 2;
  return size;
}

/**
 * The write that makes seaway's sets hold exactly the desired members (null desired: destroy
 * them): its `ipset -exist restore` script and, unless a set must be rebuilt or destroyed, the
 * same as sets to make and members. Members are added and deleted by difference, so a set is
 * never empty on the way. null when nothing differs. A set's desired members are distinct, as
 * validateFilter leaves them.
 */
export function planIpsetWrite(desired: IpsetsDesired | null, observed: IpsetsObserved): IpsetWrite | null {
  const lines: string[] = [];
  const creates: IpsetCreate[] = [];
  const members: SetMemberChange[] = [];
  const fillBesideRules: string[] = [];
  /** A destroy or a swap: only the restore does those. */
  let restoreOnly = false;
  if (desired === null) {
    for (const name of OWNED_IPSETS) if (observed.has(name)) { lines.push(`destroy ${name}`); restoreOnly = true; }
  } else {
    for (const [name, wanted] of desired) {
      const seen = observed.get(name);
      if (!seen) {
        const create = { set: name, hashsize: hashSizeFor(wanted.length), maxelem: MAX_CIDRS_PER_SET };
        lines.push(createLine(create));
        creates.push(create);
        // One join rather than a template per member: a fresh set takes 10,000 of them on the path of the first pass.
        if (wanted.length > 0) {
          lines.push(`add ${name} ${wanted.join(`\nadd ${name} `)}`);
          members.push({ set: name, add: wanted, del: [] });
          if (name !== OWNERSHIP.ipsets.echoExempt) fillBesideRules.push(name);
        }
        continue;
      }
      if (seen.maxelem !== undefined && seen.maxelem < MAX_CIDRS_PER_SET && seen.type === 'hash:net') {
        // A set someone else made (Submariner's, maxelem 65536) would refuse members past its limit:
        // built anew under a temporary name and swapped in, so rules matching it never see it empty.
        const fresh = `${name}${SWAP_SUFFIX}`;
        lines.push(createLine({ set: fresh, hashsize: hashSizeFor(wanted.length), maxelem: MAX_CIDRS_PER_SET }), `flush ${fresh}`);
        if (wanted.length > 0) lines.push(`add ${fresh} ${wanted.join(`\nadd ${fresh} `)}`);
        lines.push(`swap ${name} ${fresh}`, `destroy ${fresh}`);
        restoreOnly = true;
        continue;
      }
      // Indexed, not for-of: 10,000 members, and for-of allocates per step without TurboFan (README, "Hot loops").
      const add: string[] = [];
      for (let i = 0; i < wanted.length; i++) if (!seen.members.has(wanted[i]!)) add.push(wanted[i]!);
      // Every member there and no more of them than wanted (members are distinct): nothing to delete,
      // and no set of the 10,000 wanted is made (a drift check finding nothing, every 2 s).
      if (add.length === 0 && seen.members.size === wanted.length) continue;
      const keep = new Set(wanted);
      // Only what goes is sorted (for a stable script), not the 10,000 members that stay.
      const del: string[] = [];
      seen.members.forEach((m) => { if (!keep.has(m)) del.push(m); });
      const change = { set: name, add, del: del.sort() };
      pushMemberLines(lines, change);
      members.push(change);
    }
  }
  if (lines.length === 0) return null;
  const script = `${lines.join('\n')}\n`;
  if (restoreOnly) return { script };
  return { script, ...(creates.length > 0 ? { creates } : {}), members, ...(fillBesideRules.length > 0 ? { fillBesideRules } : {}) };
}

/** planIpsetWrite's script alone. */
export function planIpsetRestore(desired: IpsetsDesired | null, observed: IpsetsObserved): string | null {
  return planIpsetWrite(desired, observed)?.script ?? null;
}
