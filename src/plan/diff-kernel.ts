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

export interface RouteDiff {
  create: DesiredRoute[];
  replace: DesiredRoute[];
  remove: OwnedRoute[];
  rejected: Rejected<DesiredRoute>[];
}

const sameRoute = (want: DesiredRoute, have: OwnedRoute): boolean =>
  want.dev === have.dev && (want.gateway ?? '') === (have.gateway ?? '') && (want.src ?? '') === (have.src ?? '') && (have.metric ?? 0) === 0
  && have.protocol === undefined;

export function diffRoutes(desired: readonly DesiredRoute[], owned: readonly OwnedRoute[], ownedTables: readonly number[]): RouteDiff {
  const diff: RouteDiff = { create: [], replace: [], remove: [], rejected: [] };
  const wanted = new Map<string, DesiredRoute>();
  for (const route of desired) {
    const key = routeKey(route);
    if (!ownedTables.includes(route.table)) diff.rejected.push({ object: route, reason: `table ${route.table} is not one of seaway's tables (${ownedTables.join(', ')})` });
    else if (wanted.has(key)) diff.rejected.push({ object: route, reason: `duplicate destination ${route.dst} in table ${route.table}` });
    else wanted.set(key, route);
  }
  const kept = new Set<string>();
  for (const have of owned) {
    const key = routeKey(have);
    const want = wanted.get(key);
    if (!want || kept.has(key) || (have.metric ?? 0) !== 0) { diff.remove.push(have); continue; }
    kept.add(key);
    if (!sameRoute(want, have)) diff.replace.push(want);
  }
  for (const [key, want] of wanted) if (!kept.has(key)) diff.create.push(want);
  return diff;
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
