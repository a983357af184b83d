/**
 * The identity and the human description of every object in a desired state (pure). The key
 * names the object (what the kernel would refuse a second of: a route's table and destination);
 * the description says what seaway wants it to be, so a changed description is new work, not a
 * retry of the old one.
 */
import type { DesiredFdbEntry, DesiredRoute, DesiredRule, DesiredState } from '../model/desired-state.ts';

export type ObjectKind = 'link' | 'address' | 'route' | 'rule' | 'fdb' | 'sysctl' | 'filter' | 'cable';

export interface ObjectRef {
  kind: ObjectKind;
  key: string;
}

export interface DesiredObject extends ObjectRef {
  /** What seaway wants, e.g. "route 10.2.0.0/16 via 240.1.0.3 dev vx-submariner table 100". */
  object: string;
}

export const routeKey = (r: { table: number; dst: string }): string => `${r.table} ${r.dst}`;
export const ruleKey = (r: DesiredRule): string => `${r.priority} ${r.table}`;
export const fdbKey = (e: DesiredFdbEntry): string => `${e.dev} ${e.mac.toLowerCase()} ${e.dst}`;
export const addressKey = (cidr: string, dev: string): string => `${cidr} ${dev}`;

export const describeRoute = (r: DesiredRoute): string =>
  `route ${r.dst}${r.gateway ? ` via ${r.gateway}` : ''} dev ${r.dev}${r.src ? ` src ${r.src}` : ''} table ${r.table}`;
export const describeRule = (r: DesiredRule): string => `rule priority ${r.priority} lookup ${r.table}`;
export const describeFdb = (e: DesiredFdbEntry): string => `fdb ${e.mac} dst ${e.dst} dev ${e.dev}`;
export const describeAddress = (cidr: string, dev: string): string => `address ${cidr} on ${dev}`;

/**
 * The routing part (links, addresses, routes, rules, FDB entries, sysctls), in the order drivers
 * program it. `known`: each route's and FDB entry's object as made before, by its desired object (the
 * planner keeps an unchanged one the same object), so 10,000 keys and descriptions are not made again every pass.
 */
export function routingObjects(desired: Pick<DesiredState, 'links' | 'routes' | 'rules' | 'fdb' | 'sysctls'>, known?: WeakMap<DesiredRoute | DesiredFdbEntry, DesiredObject>): DesiredObject[] {
  const objects: DesiredObject[] = [];
  for (const link of desired.links) {
    objects.push({ kind: 'link', key: link.name, object: `link ${link.name} (vxlan vni ${link.vni} port ${link.port} local ${link.local}${link.remote ? ` remote ${link.remote}` : ''} dev ${link.underlayDevice} mtu ${link.mtu})` });
    objects.push({ kind: 'address', key: addressKey(link.address, link.name), object: describeAddress(link.address, link.name) });
  }
  for (const rule of desired.rules) objects.push({ kind: 'rule', key: ruleKey(rule), object: describeRule(rule) });
  // Indexed: 10,000 routes every pass, and for-of allocates per step without TurboFan (see README, "Hot loops").
  const routes = desired.routes;
  for (let i = 0; i < routes.length; i++) {
    const route = routes[i]!;
    let object = known?.get(route);
    if (object === undefined) {
      object = { kind: 'route', key: routeKey(route), object: describeRoute(route) };
      known?.set(route, object);
    }
    objects.push(object);
  }
  // The same for the gateway's FDB entries: one per Node, 5,000 of them, kept the same objects while the Nodes are.
  const fdb = desired.fdb;
  for (let i = 0; i < fdb.length; i++) {
    const entry = fdb[i]!;
    let object = known?.get(entry);
    if (object === undefined) {
      object = { kind: 'fdb', key: fdbKey(entry), object: describeFdb(entry) };
      known?.set(entry, object);
    }
    objects.push(object);
  }
  for (const sysctl of desired.sysctls) objects.push({ kind: 'sysctl', key: sysctl.key, object: `sysctl ${sysctl.key}=${sysctl.value}` });
  return objects;
}
