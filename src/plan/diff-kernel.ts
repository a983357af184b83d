/**
 * Pure diffs between what seaway wants (DesiredState pieces) and what it observed of its own
 * objects in the kernel. Observed inputs must already be restricted to owned objects; the
 * result says what to create, replace and remove, and what cannot be done and why.
 */
import type { DesiredFdbEntry, DesiredRoute, DesiredRule, DesiredSysctl, DesiredVxlanLink } from '../model/desired-state.ts';
import { fdbKey, routeKey, ruleKey } from './desired-objects.ts';

export interface Rejected<T> { object: T; reason: string }

/** An owned route as observed, with its output device resolved to a name. */
export interface OwnedRoute extends DesiredRoute {
  metric?: number;
  /** Absent: seaway's own (protocol 147); otherwise an adopted leftover, which is replaced to become seaway's. */
  protocol?: number;
}

/**
 * A route seaway neither owns nor adopts, at one of the destinations (table and CIDR) it wants,
 * as observed (its device resolved to a name). seaway never edits or deletes it.
 */
export interface ForeignRoute {
  table: number;
  dst: string;
  protocol: number;
  /** RTN_* type: a blackhole or unreachable route holds a destination as well as a unicast one. */
  type: number;
  metric?: number;
  gateway?: string;
  dev?: string;
  /**
   * A route seaway owns or adopts at the same destination and metric comes before it in the
   * kernel's list, so the kernel uses that one and this one waits behind it.
   */
  afterOwned: boolean;
}

export interface RouteDiff {
  create: DesiredRoute[];
  replace: DesiredRoute[];
  remove: OwnedRoute[];
  rejected: Rejected<DesiredRoute>[];
  /**
   * Wanted routes whose destination a foreign route holds: seaway writes nothing there (a create
   * fails with EEXIST, a replace would overwrite the foreign route, the first at that key) and
   * says which route holds it.
   */
  held: Rejected<DesiredRoute>[];
}

const sameRoute = (want: DesiredRoute, have: OwnedRoute): boolean =>
  want.dev === have.dev && (want.gateway ?? '') === (have.gateway ?? '') && (want.src ?? '') === (have.src ?? '') && (have.metric ?? 0) === 0
  && have.protocol === undefined;

/** iproute2's names (rt_protos) of the protocols a foreign route most often has. */
const PROTOCOL_NAMES: Readonly<Record<number, string>> = { 2: 'kernel', 3: 'boot', 4: 'static', 11: 'zebra', 12: 'bird', 16: 'dhcp', 186: 'bgp' };
/** RTN_* types other than unicast, as `ip route` writes them before the destination. */
const TYPE_NAMES: Readonly<Record<number, string>> = { 6: 'blackhole', 7: 'unreachable', 8: 'prohibit', 9: 'throw' };

/** A foreign route as `ip route` would show it, for the operator who must deal with it. */
export function describeForeignRoute(r: ForeignRoute): string {
  const type = TYPE_NAMES[r.type];
  const name = PROTOCOL_NAMES[r.protocol];
  return [type ? `${type} ${r.dst}` : r.dst, r.gateway ? `via ${r.gateway}` : '', r.dev ? `dev ${r.dev}` : '', `table ${r.table}`,
    `proto ${name ? `${r.protocol} (${name})` : r.protocol}`, r.metric ? `metric ${r.metric}` : ''].filter(Boolean).join(' ');
}

/** Per destination key, the foreign route the kernel uses there instead of seaway's (metric 0, ahead of any owned route). */
function foreignHolders(foreign: readonly ForeignRoute[]): Map<string, ForeignRoute> {
  const holders = new Map<string, ForeignRoute>();
  for (const route of foreign) {
    const key = routeKey(route);
    // Another metric is another key: seaway's metric 0 wins over it, and they coexist.
    if ((route.metric ?? 0) === 0 && !route.afterOwned && !holders.has(key)) holders.set(key, route);
  }
  return holders;
}

export function diffRoutes(
  desired: readonly DesiredRoute[], owned: readonly OwnedRoute[], ownedTables: readonly number[], foreign: readonly ForeignRoute[] = [],
): RouteDiff {
  const diff: RouteDiff = { create: [], replace: [], remove: [], rejected: [], held: [] };
  const holders = foreignHolders(foreign);
  // Indexed loops and forEach: a for-of over 10,000 routes allocates per step before V8 optimises it
  // (README, "Hot loops"), and a cold first pass is run by the interpreter.
  const wanted = new Map<string, DesiredRoute>();
  for (let i = 0; i < desired.length; i++) {
    const route = desired[i]!;
    const key = routeKey(route);
    if (!ownedTables.includes(route.table)) diff.rejected.push({ object: route, reason: `table ${route.table} is not one of seaway's tables (${ownedTables.join(', ')})` });
    else if (wanted.has(key)) diff.rejected.push({ object: route, reason: `duplicate destination ${route.dst} in table ${route.table}` });
    else wanted.set(key, route);
  }
  if (holders.size > 0) {
    wanted.forEach((route, key) => {
      const holder = holders.get(key);
      if (!holder) return;
      diff.held.push({
        object: route,
        reason: `the kernel uses ${describeForeignRoute(holder)} for this destination, a route seaway does not own: seaway leaves it alone, and programs its own route once that one is gone`,
      });
    });
  }
  const kept = new Set<string>();
  for (let i = 0; i < owned.length; i++) {
    const have = owned[i]!;
    const key = routeKey(have);
    const want = wanted.get(key);
    if (!want || kept.has(key) || (have.metric ?? 0) !== 0) { diff.remove.push(have); continue; }
    kept.add(key);
    if (!sameRoute(want, have) && !holders.has(key)) diff.replace.push(want);
  }
  wanted.forEach((want, key) => {
    if (!kept.has(key) && !holders.has(key)) diff.create.push(want);
  });
  return diff;
}

/**
 * The routes only in `after` and those only in `before`, by object identity: the planner keeps a
 * route that did not change the same object, so a changed Endpoint's routes are found without a key
 * made for each of 10,000 (routes not kept are merely all different, which diffRoutes sorts out).
 */
export function changedRoutes<R extends object>(before: readonly R[], after: readonly R[]): { added: R[]; removed: R[] } {
  // The planner keeps its order (by address), so what changed lies between the longest common start
  // and end: only that span is looked at. (A plan holds each route once: one found in the common start
  // cannot be in the span too.)
  let start = 0;
  while (start < before.length && start < after.length && before[start] === after[start]) start++;
  let endBefore = before.length;
  let endAfter = after.length;
  while (endBefore > start && endAfter > start && before[endBefore - 1] === after[endAfter - 1]) { endBefore--; endAfter--; }
  return walkChanges(before, after, start, endBefore, endAfter) ?? hashChanges(before.slice(start, endBefore), after.slice(start, endAfter));
}

/** How far walkChanges looks ahead for the other side's route before it gives up. */
const WALK_LOOKAHEAD = 64;

/**
 * The span's changes found by walking both lists together, with no hash of the span: a changed
 * Endpoint moves its routes from one place in the order to another, so between them thousands of
 * routes are the same and in the same order. Where the two differ, the route on one side found a
 * little further on the other means that what lies before it there went (or came). null when that
 * does not settle it (a route replaced in place, a block longer than the lookahead), or when the
 * answer would hold a route on both sides (the two lists not in the same order after all): the
 * caller then hashes the span.
 */
function walkChanges<R extends object>(before: readonly R[], after: readonly R[], start: number, endBefore: number, endAfter: number): { added: R[]; removed: R[] } | null {
  const added: R[] = [];
  const removed: R[] = [];
  let i = start;
  let j = start;
  while (i < endBefore && j < endAfter) {
    if (before[i] === after[j]) { i++; j++; continue; }
    const went = find(before, after[j]!, i + 1, Math.min(endBefore, i + 1 + WALK_LOOKAHEAD));
    if (went >= 0) { while (i < went) removed.push(before[i++]!); continue; }
    const came = find(after, before[i]!, j + 1, Math.min(endAfter, j + 1 + WALK_LOOKAHEAD));
    if (came < 0) return null;
    while (j < came) added.push(after[j++]!);
  }
  while (i < endBefore) removed.push(before[i++]!);
  while (j < endAfter) added.push(after[j++]!);
  // Lists out of order put a route that stayed on both sides; the hash gets that right.
  if (added.length > 0 && removed.length > 0) {
    const gone = new Set(removed);
    for (let k = 0; k < added.length; k++) if (gone.has(added[k]!)) return null;
  }
  return { added, removed };
}

function find<R>(list: readonly R[], wanted: R, from: number, to: number): number {
  for (let k = from; k < to; k++) if (list[k] === wanted) return k;
  return -1;
}

function hashChanges<R extends object>(wasSpan: readonly R[], isSpan: readonly R[]): { added: R[]; removed: R[] } {
  const was = new Set(wasSpan);
  const is = new Set(isSpan);
  return { added: isSpan.filter((r) => !was.has(r)), removed: wasSpan.filter((r) => !is.has(r)) };
}

export interface SetDiff<T> { create: T[]; remove: T[] }

function diffSets<T>(desired: readonly T[], observed: readonly T[], key: (x: T) => string): SetDiff<T> {
  const wanted = new Map(desired.map((x) => [key(x), x]));
  const have = new Map(observed.map((x) => [key(x), x]));
  return {
    create: [...wanted].filter(([k]) => !have.has(k)).map(([, x]) => x),
    remove: [...have].filter(([k]) => !wanted.has(k)).map(([, x]) => x),
  };
}

export const diffRules = (desired: readonly DesiredRule[], owned: readonly DesiredRule[]): SetDiff<DesiredRule> =>
  diffSets(desired, owned, ruleKey);

export const diffFdb = (desired: readonly DesiredFdbEntry[], owned: readonly DesiredFdbEntry[]): SetDiff<DesiredFdbEntry> =>
  diffSets(desired, owned, fdbKey);

/** The VXLAN device as observed, with the underlay resolved to a name. */
export interface ObservedVxlan {
  name: string;
  kind?: string;
  vni?: number;
  port?: number;
  local?: string;
  remote?: string;
  underlayDevice?: string;
  learning?: boolean;
  mtu: number;
  up: boolean;
  /** IPv4 addresses (CIDR with host part) on the device. */
  addresses: string[];
}

export type LinkAction =
  | { action: 'create' }
  /** Parameters that VXLAN cannot change in place differ: delete and create. */
  | { action: 'recreate'; reason: string }
  | { action: 'update'; setMtu?: number; setUp?: true }
  | { action: 'none' };

export interface LinkDiff {
  link: LinkAction;
  addAddresses: string[];
  removeAddresses: string[];
}

function vxlanMismatch(want: DesiredVxlanLink, have: ObservedVxlan): string | undefined {
  if (have.kind !== 'vxlan') return `kind is ${have.kind ?? 'none'}, not vxlan`;
  if (have.vni !== want.vni) return `vni ${have.vni} != ${want.vni}`;
  if (have.port !== want.port) return `port ${have.port} != ${want.port}`;
  if (have.local !== want.local) return `local ${have.local ?? 'none'} != ${want.local}`;
  if ((have.remote ?? '') !== (want.remote ?? '')) return `remote ${have.remote ?? 'none'} != ${want.remote ?? 'none'}`;
  if (have.underlayDevice !== want.underlayDevice) return `underlay ${have.underlayDevice ?? 'none'} != ${want.underlayDevice}`;
  if (have.learning !== false) return 'learning is on';
  return undefined;
}

export function diffVxlanLink(want: DesiredVxlanLink, have: ObservedVxlan | undefined): LinkDiff {
  if (!have) return { link: { action: 'create' }, addAddresses: [want.address], removeAddresses: [] };
  const mismatch = vxlanMismatch(want, have);
  if (mismatch) return { link: { action: 'recreate', reason: mismatch }, addAddresses: [want.address], removeAddresses: [] };
  const update: { action: 'update'; setMtu?: number; setUp?: true } = { action: 'update' };
  if (have.mtu !== want.mtu) update.setMtu = want.mtu;
  if (!have.up) update.setUp = true;
  return {
    link: update.setMtu === undefined && !update.setUp ? { action: 'none' } : update,
    addAddresses: have.addresses.includes(want.address) ? [] : [want.address],
    removeAddresses: have.addresses.filter((a) => a !== want.address),
  };
}

export interface SysctlWrite { key: string; value: string; previous: string }

const normalizeSysctl = (value: string): string => value.trim().replace(/\s+/g, ' ');

/** Which sysctls need writing, given their current values (undefined: the key does not exist). */
export function diffSysctls(desired: readonly DesiredSysctl[], current: ReadonlyMap<string, string | undefined>): { write: SysctlWrite[]; missing: DesiredSysctl[] } {
  const write: SysctlWrite[] = [];
  const missing: DesiredSysctl[] = [];
  for (const want of desired) {
    const have = current.get(want.key);
    if (have === undefined) missing.push(want);
    else if (normalizeSysctl(have) !== normalizeSysctl(want.value)) write.push({ key: want.key, value: want.value, previous: have });
  }
  return { write, missing };
}
