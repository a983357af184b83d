/**
 * Pure diff of what seaway owns in the kernel against what the planner wants. Applying the result and
 * observing again gives an empty diff; diffing desired against itself is empty.
 */
import { compareCidrTexts, parseCidr } from '../model/cidr.ts';
import type {
  DesiredFdbEntry, DesiredRoute, DesiredRule, DesiredState, DesiredSysctl, DesiredVxlanLink,
} from '../model/desired-state.ts';
import type {
  ObservedFdbEntry, ObservedRoute, ObservedRule, ObservedState, ObservedSysctl, ObservedVxlanLink,
} from '../model/observed-state.ts';

export interface Replacement<O, D> {
  observed: O;
  desired: D;
}

export interface KindDiff<O, D, U = Replacement<O, D>> {
  create: D[];
  update: U[];
  delete: O[];
}

/** A link that exists under seaway's name but differs from the desired one. */
export interface LinkUpdate extends Replacement<ObservedVxlanLink, DesiredVxlanLink> {
  /** VXLAN parameters cannot change in place: delete and create from `desired` (address included); the fields below are then empty. */
  recreate: boolean;
  mtu: number | null;
  setUp: boolean;
  addAddresses: string[];
  removeAddresses: string[];
}

export interface StateDiff {
  links: KindDiff<ObservedVxlanLink, DesiredVxlanLink, LinkUpdate>;
  /** update = replace the route with the same table and destination (gateway, device or source differ). */
  routes: KindDiff<ObservedRoute, DesiredRoute>;
  rules: KindDiff<ObservedRule, DesiredRule, never>;
  fdb: KindDiff<ObservedFdbEntry, DesiredFdbEntry, never>;
  /** delete = a sysctl seaway set earlier and no longer wants: restore its original value. */
  sysctls: KindDiff<ObservedSysctl, DesiredSysctl>;
}

/**
 * Routes, FDB entries and per-interface sysctls of a link that is created, recreated or deleted go
 * with it (the kernel removes them); the diff treats them as already gone so one pass is complete:
 * the driver applies links first, then the rest.
 */
export function diffState(observed: ObservedState, desired: DesiredState): StateDiff {
  const links = diffLinks(observed.links, desired.links);
  const vanishing = new Set<string>([
    ...links.delete.map((l) => l.name),
    ...links.update.filter((u) => u.recreate).map((u) => u.observed.name),
  ]);
  const survives = (dev: string): boolean => !vanishing.has(dev);
  return {
    links,
    routes: diffRoutes(observed.routes.filter((r) => survives(r.dev)), desired.routes),
    rules: diffRules(observed.rules, desired.rules),
    fdb: diffFdb(observed.fdb.filter((f) => survives(f.dev)), desired.fdb),
    sysctls: diffSysctls(observed.sysctls.filter((s) => !isSysctlOf(s.key, vanishing)), desired.sysctls),
  };
}

function isSysctlOf(key: string, devices: Set<string>): boolean {
  const match = /^net\/ipv[46]\/(?:conf|neigh)\/([^/]+)\//.exec(key);
  return match !== null && devices.has(match[1] as string);
}

export function isEmptyDiff(diff: StateDiff): boolean {
  return changeCount(diff) === 0;
}

/** Number of objects to create, update or delete: the number of kernel writes a pass will make, roughly. */
export function changeCount(diff: StateDiff): number {
  return Object.values(diff).reduce((sum, kind: KindDiff<unknown, unknown, unknown>) => sum + kind.create.length + kind.update.length + kind.delete.length, 0);
}

/**
 * Generic keyed diff. Several observed objects with one key (the kernel allows e.g. two routes to one
 * destination with different metrics) keep at most one: an exact match if there is one, else the first
 * is updated; the rest are deleted.
 */
function diffKeyed<O, D>(
  observed: readonly O[], desired: readonly D[],
  observedKey: (o: O) => string, desiredKey: (d: D) => string, same: (o: O, d: D) => boolean,
): KindDiff<O, D> {
  const byKey = new Map<string, O[]>();
  for (const o of observed) {
    const key = observedKey(o);
    const group = byKey.get(key);
    if (group) group.push(o);
    else byKey.set(key, [o]);
  }
  const result: KindDiff<O, D> = { create: [], update: [], delete: [] };
  const seenDesired = new Set<string>();
  for (const d of desired) {
    const key = desiredKey(d);
    if (seenDesired.has(key)) continue;
    seenDesired.add(key);
    const group = byKey.get(key);
    byKey.delete(key);
    if (group === undefined) { result.create.push(d); continue; }
    const exact = group.findIndex((o) => same(o, d));
    if (exact >= 0) {
      result.delete.push(...group.filter((_, i) => i !== exact));
    } else {
      result.update.push({ observed: group[0] as O, desired: d });
      result.delete.push(...group.slice(1));
    }
  }
  for (const group of byKey.values()) result.delete.push(...group);
  return result;
}

const canonicalCidr = (text: string): string => {
  const parsed = parseCidr(text);
  return parsed.ok ? parsed.text : text;
};
const orEmpty = (value: string | undefined): string => value ?? '';

export function diffRoutes(observed: readonly ObservedRoute[], desired: readonly DesiredRoute[]): KindDiff<ObservedRoute, DesiredRoute> {
  const key = (r: { table: number; dst: string }): string => `${r.table} ${canonicalCidr(r.dst)}`;
  const diff = diffKeyed(observed, desired, key, key, (o, d) =>
    orEmpty(o.gateway) === orEmpty(d.gateway) && o.dev === d.dev && orEmpty(o.src) === orEmpty(d.src));
  const order = (a: { table: number; dst: string }, b: { table: number; dst: string }): number => a.table - b.table || compareCidrTexts(canonicalCidr(a.dst), canonicalCidr(b.dst));
  diff.create.sort(order);
  diff.update.sort((a, b) => order(a.desired, b.desired));
  diff.delete.sort(order);
  return diff;
}

export function diffRules(observed: readonly ObservedRule[], desired: readonly DesiredRule[]): KindDiff<ObservedRule, DesiredRule, never> {
  const key = (r: { priority: number; table: number }): string => `${r.priority} ${r.table}`;
  const diff = diffKeyed(observed, desired, key, key, () => true);
  const order = (a: ObservedRule, b: ObservedRule): number => a.priority - b.priority || a.table - b.table;
  return { create: diff.create.sort(order), update: [], delete: diff.delete.sort(order) };
}

export function diffFdb(observed: readonly ObservedFdbEntry[], desired: readonly DesiredFdbEntry[]): KindDiff<ObservedFdbEntry, DesiredFdbEntry, never> {
  const key = (f: ObservedFdbEntry): string => `${f.dev} ${f.mac.toLowerCase()} ${f.dst}`;
  const diff = diffKeyed(observed, desired, key, key, () => true);
  const order = (a: ObservedFdbEntry, b: ObservedFdbEntry): number =>
    (a.dev < b.dev ? -1 : a.dev > b.dev ? 1 : 0) || compareCidrTexts(a.dst, b.dst) || (a.mac < b.mac ? -1 : a.mac > b.mac ? 1 : 0);
  return { create: diff.create.sort(order), update: [], delete: diff.delete.sort(order) };
}

export function diffSysctls(observed: readonly ObservedSysctl[], desired: readonly DesiredSysctl[]): KindDiff<ObservedSysctl, DesiredSysctl> {
  const key = (s: { key: string }): string => s.key;
  // /proc/sys values read back with a trailing newline.
  const diff = diffKeyed(observed, desired, key, key, (o, d) => o.value.trim() === d.value.trim());
  const order = (a: { key: string }, b: { key: string }): number => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  diff.create.sort(order);
  diff.update.sort((a, b) => order(a.desired, b.desired));
  diff.delete.sort(order);
  return diff;
}

export function diffLinks(observed: readonly ObservedVxlanLink[], desired: readonly DesiredVxlanLink[]): KindDiff<ObservedVxlanLink, DesiredVxlanLink, LinkUpdate> {
  const byName = new Map(observed.map((o) => [o.name, o] as const));
  const result: KindDiff<ObservedVxlanLink, DesiredVxlanLink, LinkUpdate> = { create: [], update: [], delete: [] };
  const wanted = new Set<string>();
  for (const d of [...desired].sort(byLinkName)) {
    wanted.add(d.name);
    const o = byName.get(d.name);
    if (o === undefined) { result.create.push(d); continue; }
    const update = linkUpdate(o, d);
    if (update !== null) result.update.push(update);
  }
  result.delete.push(...observed.filter((o) => !wanted.has(o.name)).sort(byLinkName));
  return result;
}

function byLinkName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function linkUpdate(o: ObservedVxlanLink, d: DesiredVxlanLink): LinkUpdate | null {
  const recreate = o.kind !== 'vxlan' || o.vni !== d.vni || o.port !== d.port || orEmpty(o.local) !== d.local
    || orEmpty(o.remote) !== orEmpty(d.remote) || orEmpty(o.underlayDevice) !== d.underlayDevice;
  if (recreate) return { observed: o, desired: d, recreate: true, mtu: null, setUp: false, addAddresses: [], removeAddresses: [] };
  const ipv4 = o.addresses.filter((a) => parseCidr(a).ok);
  // Addresses keep their host bits (240.1.2.3/8), so they compare literally, not as networks.
  const addAddresses = ipv4.includes(d.address) ? [] : [d.address];
  const removeAddresses = ipv4.filter((a) => a !== d.address).sort();
  const mtu = o.mtu === d.mtu ? null : d.mtu;
  const setUp = !o.up;
  if (mtu === null && !setUp && addAddresses.length === 0 && removeAddresses.length === 0) return null;
  return { observed: o, desired: d, recreate: false, mtu, setUp, addAddresses, removeAddresses };
}

