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
  readonly object: string;
}

/*
 * FDB keys are kept for each of 5,000 Nodes, in their objects and the object table, so they are
 * built with join, which makes one flat string: V8 keeps a `+` or template concatenation as a
 * tree of its pieces, 32 bytes a node. A route's key stays a template: two pieces, made four times
 * per route on a first pass; with it joined, paired runs of a cold pass read 10-15 ms slower.
 * Route and FDB descriptions are not kept (DescribedOnRead), so they are templates.
 */
export const routeKey = (r: { table: number; dst: string }): string => `${r.table} ${r.dst}`;
export const ruleKey = (r: DesiredRule): string => `${r.priority} ${r.table}`;
export const fdbKey = (e: DesiredFdbEntry): string => [e.dev, e.mac.toLowerCase(), e.dst].join(' ');
export const addressKey = (cidr: string, dev: string): string => `${cidr} ${dev}`;

export const describeRoute = (r: DesiredRoute): string =>
  `route ${r.dst}${r.gateway ? ` via ${r.gateway}` : ''} dev ${r.dev}${r.src ? ` src ${r.src}` : ''} table ${r.table}`;
export const describeRule = (r: DesiredRule): string => `rule priority ${r.priority} lookup ${r.table}`;
export const describeFdb = (e: DesiredFdbEntry): string => `fdb ${e.mac} dst ${e.dst} dev ${e.dev}`;
export const describeAddress = (cidr: string, dev: string): string => `address ${cidr} on ${dev}`;

/**
 * A route's or FDB entry's object, its description made each time it is read rather than kept:
 * the object table holds one per route (10,000) and one per Node's entry (5,000), and only a status
 * request reads them (kept, the routes' were 0.9 MiB of a loaded worker's heap). An unchanged item
 * keeps its object (see routingObjects), so the table tells it unchanged without a description.
 */
class DescribedOnRead<T> implements DesiredObject {
  readonly kind: ObjectKind;
  readonly key: string;
  readonly #item: T;
  readonly #describe: (item: T) => string;
  constructor(kind: ObjectKind, key: string, item: T, describe: (item: T) => string) {
    this.kind = kind;
    this.key = key;
    this.#item = item;
    this.#describe = describe;
  }

  get object(): string {
    return this.#describe(this.#item);
  }
}

const routeObject = (route: DesiredRoute): DesiredObject => new DescribedOnRead('route', routeKey(route), route, describeRoute);
const fdbObject = (entry: DesiredFdbEntry): DesiredObject => new DescribedOnRead('fdb', fdbKey(entry), entry, describeFdb);

/** Each item's object, the one `known` holds for it when there is one. Indexed: for-of allocates per step without TurboFan (README, "Hot loops"). */
function pushKnown<T extends DesiredRoute | DesiredFdbEntry>(objects: DesiredObject[], items: readonly T[], make: (item: T) => DesiredObject, known: WeakMap<DesiredRoute | DesiredFdbEntry, DesiredObject> | undefined): void {
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    let object = known?.get(item);
    if (object === undefined) {
      object = make(item);
      known?.set(item, object);
    }
    objects.push(object);
  }
}

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
  // The routes (10,000) and the gateway's FDB entries (one per Node, 5,000): each kept object made once.
  pushKnown(objects, desired.routes, routeObject, known);
  pushKnown(objects, desired.fdb, fdbObject, known);
  for (const sysctl of desired.sysctls) objects.push({ kind: 'sysctl', key: sysctl.key, object: `sysctl ${sysctl.key}=${sysctl.value}` });
  return objects;
}
