import { isDeepStrictEqual } from 'node:util';
import { ALL_ZEROS_MAC, type DesiredFdbEntry, type DesiredRoute, type DesiredRule, type DesiredState, type DesiredVxlanLink } from '../model/desired-state.ts';
import { OWNED_RULE_PRIORITIES, OWNED_TABLES, OWNERSHIP, SUBMARINER_LEFTOVERS } from '../model/ownership.ts';
import { FR_ACT_TO_TBL } from '../kernel/rules.ts';
import { changedRoutes, diffFdb, diffRoutes, diffRules, diffVxlanLink, type ForeignRoute, type ObservedVxlan, type OwnedRoute } from '../plan/diff-kernel.ts';
import type { KernelWrite, ObservedLink, ObservedRoute, Rtnetlink, WriteResult } from '../kernel/rtnetlink.ts';
import type { RouteSpec } from '../kernel/routes.ts';
import { addressKey, describeAddress, describeFdb, describeRoute, describeRule, fdbKey, routeKey, ruleKey } from '../plan/desired-objects.ts';
import { ALWAYS_ATTEMPT, countWrite, emptyReport, mergeReports, type ApplyReport, type AttemptGate, type ObjectKind } from './report.ts';

const OWNED_LINKS = [OWNERSHIP.vxlanDevice];
/** On cleanup these mean "already gone", which is the goal. */
const ALREADY_GONE = new Set(['ESRCH', 'ENOENT', 'ENODEV']);

/** A rule seaway owns: its own (protocol 147), or Submariner's `pref 150 lookup 150` it adopts (protocol 0). */
export interface OwnedRule extends DesiredRule { protocol: number }

/** Everything seaway owns in the routing part of the kernel, in the planner's terms (device names). */
export interface OwnedRouting {
  links: ObservedVxlan[];
  routes: OwnedRoute[];
  rules: OwnedRule[];
  fdb: DesiredFdbEntry[];
  /** Routes of others at the destinations seaway wants (only when observed for an apply), in the kernel's order. */
  foreign: ForeignRoute[];
}

export interface RoutingDriver {
  observe(): Promise<OwnedRouting>;
  /**
   * Makes the owned links, addresses, routes, rules and FDB entries equal the desired ones. Each
   * object's writes are made only when `gate` allows (objects in backoff are reported deferred).
   */
  apply(desired: RoutingState, gate?: AttemptGate, linksMade?: () => Promise<void>, holds?: RoutingState): Promise<ApplyReport>;
  /** Removes every owned route, rule and link (the FDB entries and addresses go with the link). */
  cleanup(): Promise<ApplyReport>;
  /**
   * The destinations (routeKey: table and CIDR) of the routes the last apply wanted: a change of
   * someone else's route there is drift seaway must look at (see owned-object-events.ts). A live
   * view, moved by each apply: ask it, do not keep it.
   */
  routeDestinations(): ReadonlySet<string>;
}

export type RoutingState = Pick<DesiredState, 'links' | 'routes' | 'rules' | 'fdb'>;

/**
 * What the kernel holds when the caller vouches that it is `holds`, programmed and untouched since
 * (no kernel event said otherwise): its rules and FDB entries as if observed (its routes are diffed
 * by changedRoutes), so an apply reads no route, rule or FDB entry. Only while the links and their
 * neighbours are the same: a link to make or change is read and written the usual way.
 */
function vouchedFor(holds: RoutingState, desired: RoutingState): OwnedRouting | null {
  if (!isDeepStrictEqual(holds.links, desired.links) || !isDeepStrictEqual(holds.rules, desired.rules) || !isDeepStrictEqual(holds.fdb, desired.fdb)) return null;
  return { links: [], routes: [], rules: holds.rules.map((r) => ({ ...r, protocol: OWNERSHIP.routeProtocol })), fdb: holds.fdb, foreign: [] };
}

/** One write and the object it belongs to (an object may need several: a link delete and create). */
interface PlannedWrite {
  kind: ObjectKind;
  key: string;
  /** Said only when the write fails: a function where 10,000 of them are planned in one pass. */
  object: string | (() => string);
  write: KernelWrite;
}

/**
 * A rule delete names the rule's protocol, so it can only match that rule; an adopted rule has none
 * to name (protocol 0), and the kernel then deletes the first rule at that priority and table.
 */
const deleteRule = (rule: OwnedRule): PlannedWrite => ({
  kind: 'rule', key: ruleKey(rule), object: `removing ${describeRule(rule)}`,
  write: { kind: 'rule', write: 'delete', rule: { priority: rule.priority, table: rule.table, ...(rule.protocol !== 0 ? { protocol: rule.protocol } : {}) } },
});

const deleteRoute = (route: OwnedRoute): PlannedWrite => ({
  kind: 'route', key: routeKey(route), object: () => `removing ${describeRoute(route)}`,
  write: { kind: 'route', write: 'delete', route: { table: route.table, dst: route.dst, protocol: route.protocol ?? OWNERSHIP.routeProtocol, ...(route.metric ? { metric: route.metric } : {}) } },
});

const createRule = (rule: DesiredRule): PlannedWrite =>
  ({ kind: 'rule', key: ruleKey(rule), object: describeRule(rule), write: { kind: 'rule', write: 'create', rule: { ...rule, protocol: OWNERSHIP.routeProtocol } } });

const VTEP_PREFIX = `${OWNERSHIP.vtepFirstOctet}.`;

/** Submariner's route agent's leftovers, which seaway adopts (SUBMARINER_LEFTOVERS): nothing else without seaway's protocol. */
function adoptedRoute(route: { table: number; protocol: number; oif?: number; gateway?: string }, vxlanIndex: number | undefined): boolean {
  if (route.protocol !== SUBMARINER_LEFTOVERS.routeProtocol) return false;
  if (route.table === OWNERSHIP.hostNetworkTable) return true;
  return route.table === OWNERSHIP.workerTable && vxlanIndex !== undefined && route.oif === vxlanIndex && (route.gateway?.startsWith(VTEP_PREFIX) ?? false);
}

/** A write that cannot be made until another object exists: pending on it, not failed. */
const blockedOn = (report: ApplyReport, kind: ObjectKind, key: string, object: string, reason: string): void => {
  report.failures.push({ kind, key, object, reason, blocked: true });
};

/**
 * Sorts a route dump into the routes seaway owns or adopts and the foreign ones at the wanted
 * destinations, keeping the kernel's order: of the routes with one destination and metric, the
 * kernel uses the first listed (an `ip route prepend` puts a foreign route ahead of seaway's).
 */
function sortRoutes(
  routes: readonly ObservedRoute[], wanted: readonly DesiredRoute[], wantedKeys: ReadonlySet<string> | undefined,
  owns: (route: ObservedRoute) => boolean, nameOf: (oif: number) => string,
) {
  const owned: OwnedRoute[] = [];
  const foreign: ForeignRoute[] = [];
  const ownedFirst = new Set<string>();
  // The wanted destinations' keys, unless given, only once a route not seaway's turns up: most dumps hold none.
  let keys = wantedKeys;
  const isWanted = (key: string) => (keys ??= new Set(wanted.map(routeKey))).has(key);
  // Indexed: a dump of 10,000 routes, and for-of allocates per step before V8 optimises it.
  for (let i = 0; i < routes.length; i++) {
    const r = routes[i]!;
    const key = routeKey(r);
    const dev = r.oif === undefined ? undefined : nameOf(r.oif);
    if (owns(r)) {
      const route: OwnedRoute = { table: r.table, dst: r.dst, dev: dev ?? '' };
      if (r.gateway) route.gateway = r.gateway;
      if (r.src) route.src = r.src;
      if (r.metric) route.metric = r.metric;
      if (r.protocol !== OWNERSHIP.routeProtocol) route.protocol = r.protocol;
      owned.push(route);
      ownedFirst.add(`${key} ${r.metric ?? 0}`);
    } else if (r.protocol !== OWNERSHIP.routeProtocol && isWanted(key)) {
      const route: ForeignRoute = { table: r.table, dst: r.dst, protocol: r.protocol, type: r.type, afterOwned: ownedFirst.has(`${key} ${r.metric ?? 0}`) };
      if (r.gateway) route.gateway = r.gateway;
      if (dev !== undefined) route.dev = dev;
      if (r.metric) route.metric = r.metric;
      foreign.push(route);
    }
  }
  return { owned, foreign };
}

export function createRoutingDriver(rtnl: Rtnetlink): RoutingDriver {
  let destinations = new Set<string>();

  /**
   * What seaway owns; with `wanted` (the routes an apply wants), also the foreign routes at those
   * destinations, whose keys `wantedKeys` holds when given.
   */
  async function observeWith(links: ObservedLink[], wanted: readonly DesiredRoute[] = [], wantedKeys?: ReadonlySet<string>): Promise<OwnedRouting> {
    const nameOf = new Map(links.map((l) => [l.index, l.name]));
    const ownedLinks = links.filter((l) => (OWNED_LINKS as readonly string[]).includes(l.name));
    const [routes, rules, addresses] = await Promise.all([
      rtnl.listRoutes({ protocols: [OWNERSHIP.routeProtocol, SUBMARINER_LEFTOVERS.routeProtocol], alsoAt: wanted, ...(wantedKeys ? { alsoAtKeys: wantedKeys } : {}) }), rtnl.listRules(), rtnl.listAddresses(),
    ]);
    const vxlanIndex = ownedLinks.find((l) => l.name === OWNERSHIP.vxlanDevice)?.index;
    const sorted = sortRoutes(
      routes, wanted, wantedKeys,
      (r) => (r.protocol === OWNERSHIP.routeProtocol ? OWNED_TABLES.includes(r.table) : adoptedRoute(r, vxlanIndex)),
      (oif) => nameOf.get(oif) ?? `ifindex ${oif}`,
    );
    const fdb: DesiredFdbEntry[] = [];
    for (const link of ownedLinks) {
      for (const entry of await rtnl.listFdb(link.index)) {
        if (!entry.dst) continue;
        // The kernel's own default entry for a unicast remote belongs to the link, not to the FDB we manage.
        if (entry.mac === ALL_ZEROS_MAC && entry.dst === link.vxlan?.remote) continue;
        fdb.push({ dev: link.name, mac: entry.mac, dst: entry.dst });
      }
    }
    return {
      links: ownedLinks.map((l) => {
        const observed: ObservedVxlan = {
          name: l.name, mtu: l.mtu, up: l.up,
          addresses: addresses.filter((a) => a.ifindex === l.index).map((a) => a.cidr),
        };
        if (l.kind) observed.kind = l.kind;
        if (l.vxlan) {
          observed.vni = l.vxlan.vni;
          observed.port = l.vxlan.port;
          observed.learning = l.vxlan.learning;
          if (l.vxlan.local) observed.local = l.vxlan.local;
          if (l.vxlan.remote) observed.remote = l.vxlan.remote;
          const underlay = l.vxlan.underlayIndex === undefined ? undefined : nameOf.get(l.vxlan.underlayIndex);
          if (underlay) observed.underlayDevice = underlay;
        }
        return observed;
      }),
      routes: sorted.owned,
      rules: rules
        // The protocol marker matters most here: a rule delete without selectors would match any rule at that priority.
        .filter((r) => !r.selective && r.action === FR_ACT_TO_TBL && (
          (r.protocol === OWNERSHIP.routeProtocol && OWNED_RULE_PRIORITIES.includes(r.priority) && OWNED_TABLES.includes(r.table))
          || (r.protocol === SUBMARINER_LEFTOVERS.ruleProtocol && r.priority === OWNERSHIP.hostNetworkRulePriority && r.table === OWNERSHIP.hostNetworkTable)))
        .map((r) => ({ priority: r.priority, table: r.table, protocol: r.protocol })),
      fdb,
      foreign: sorted.foreign,
    };
  }

  /**
   * Sends the writes the gate allows as one pipelined batch and records each outcome; the writes
   * of an object held back by the gate are not sent and the object is reported deferred.
   */
  async function execute(planned: PlannedWrite[], report: ApplyReport, gate: AttemptGate): Promise<PlannedWrite[]> {
    const allowed: PlannedWrite[] = [];
    const held = new Set<string>();
    for (const p of planned) {
      if (gate(p.kind, p.key)) { allowed.push(p); continue; }
      const id = `${p.kind} ${p.key}`;
      if (!held.has(id)) { held.add(id); report.deferred.push({ kind: p.kind, key: p.key }); }
    }
    if (allowed.length === 0) return allowed;
    const results: WriteResult[] = await rtnl.apply(allowed.map((p) => p.write));
    results.forEach((result, i) => {
      const planned = allowed[i]!;
      countWrite(report, planned, result.ok);
      if (!result.ok) {
        const { kind, key, object } = planned;
        const code = (result.error as { code?: unknown }).code;
        report.failures.push({ kind, key, object: typeof object === 'function' ? object() : object, reason: result.error.message, ...(typeof code === 'string' ? { code } : {}) });
      }
    });
    return allowed;
  }

  async function applyLinks(desired: readonly DesiredVxlanLink[], links: ObservedLink[], owned: OwnedRouting, report: ApplyReport, gate: AttemptGate): Promise<boolean> {
    const indexOf = new Map(links.map((l) => [l.name, l.index]));
    const planned: PlannedWrite[] = [];
    const followUp: DesiredVxlanLink[] = [];
    const wantedNames = new Set<string>();
    for (const want of desired) {
      const object = `link ${want.name}`;
      const key = want.name;
      const addressOf = (cidr: string) => ({ kind: 'address' as const, key: addressKey(cidr, want.name), object: describeAddress(cidr, want.name) });
      if (!(OWNED_LINKS as readonly string[]).includes(want.name)) {
        report.failures.push({ kind: 'link', key, object, reason: `not a seaway link name (${OWNED_LINKS.join(', ')})` });
        continue;
      }
      wantedNames.add(want.name);
      const have = owned.links.find((l) => l.name === want.name);
      const diff = diffVxlanLink(want, have);
      const underlayIndex = indexOf.get(want.underlayDevice);
      const needsCreate = diff.link.action === 'create' || diff.link.action === 'recreate';
      if (needsCreate && underlayIndex === undefined) {
        report.failures.push({ kind: 'link', key, object, reason: `underlay device ${want.underlayDevice} not found`, code: 'ENODEV' });
        blockedOn(report, 'address', addressOf(want.address).key, addressOf(want.address).object, `waiting for link ${want.name}`);
        continue;
      }
      const index = indexOf.get(want.name);
      if (diff.link.action === 'recreate' && index !== undefined) planned.push({ kind: 'link', key, object, write: { kind: 'link', write: 'delete', index } });
      if (needsCreate) {
        const vxlan = { name: want.name, vni: want.vni, port: want.port, local: want.local, underlayIndex: underlayIndex!, mtu: want.mtu, ...(want.remote ? { remote: want.remote } : {}) };
        planned.push({ kind: 'link', key, object, write: { kind: 'link', write: 'create-vxlan', vxlan } });
        followUp.push(want);
        continue;
      }
      if (index === undefined) continue;
      if (diff.link.action === 'update') {
        if (diff.link.setMtu !== undefined) planned.push({ kind: 'link', key, object: `${object} mtu ${want.mtu}`, write: { kind: 'link', write: 'set-mtu', index, mtu: want.mtu } });
        if (diff.link.setUp) planned.push({ kind: 'link', key, object: `${object} up`, write: { kind: 'link', write: 'set-up', index, up: true } });
      }
      for (const cidr of diff.removeAddresses) planned.push({ ...addressOf(cidr), object: `removing ${describeAddress(cidr, want.name)}`, write: { kind: 'address', write: 'delete', ifindex: index, cidr } });
      for (const cidr of diff.addAddresses) planned.push({ ...addressOf(cidr), write: { kind: 'address', write: 'create', ifindex: index, cidr } });
    }
    for (const stale of owned.links.filter((l) => !wantedNames.has(l.name))) {
      const index = indexOf.get(stale.name);
      if (index !== undefined) planned.push({ kind: 'link', key: stale.name, object: `removing link ${stale.name}`, write: { kind: 'link', write: 'delete', index } });
    }
    const sent = await execute(planned, report, gate);
    // A freshly created link has an index only now: give it its address in a second step.
    const created = followUp.filter((want) => sent.some((p) => p.write.kind === 'link' && p.write.write === 'create-vxlan' && p.write.vxlan.name === want.name));
    for (const want of followUp.filter((w) => !created.includes(w))) {
      blockedOn(report, 'address', addressKey(want.address, want.name), describeAddress(want.address, want.name), `waiting for link ${want.name}`);
    }
    if (created.length > 0) {
      const fresh = await rtnl.listLinks();
      const addresses: PlannedWrite[] = [];
      for (const want of created) {
        const link = fresh.find((l) => l.name === want.name);
        const object = describeAddress(want.address, want.name);
        if (link) addresses.push({ kind: 'address', key: addressKey(want.address, want.name), object, write: { kind: 'address', write: 'create', ifindex: link.index, cidr: want.address } });
        else blockedOn(report, 'address', addressKey(want.address, want.name), object, `waiting for link ${want.name}`);
      }
      await execute(addresses, report, gate);
    }
    return sent.length > 0;
  }

  const driver: RoutingDriver = {
    observe: async () => observeWith(await rtnl.listLinks()),

    routeDestinations: () => destinations,

    async apply(desired, gate = ALWAYS_ATTEMPT, linksMade, holds) {
      const report = emptyReport();
      let links = await rtnl.listLinks();
      const vouched = holds === undefined ? null : vouchedFor(holds, desired);
      // Vouched for: only the routes that changed since are diffed (seaway's own and nobody else's there).
      const changed = vouched === null ? null : changedRoutes(holds!.routes, desired.routes);
      if (changed === null) destinations = new Set(desired.routes.map(routeKey));
      else {
        // The last apply's destinations, moved by what changed: not 10,000 keys made again per change.
        for (const route of changed.removed) destinations.delete(routeKey(route));
        for (const route of changed.added) destinations.add(routeKey(route));
      }
      // Unvouched, `destinations` was just made from exactly the wanted routes: the dump's keys too.
      let owned = vouched ?? await observeWith(links, desired.routes, destinations);
      if (vouched === null && await applyLinks(desired.links, links, owned, report, gate)) {
        links = await rtnl.listLinks();
        owned = await observeWith(links, desired.routes, destinations);
        // A device just made: its own settings before any route sends traffic through it.
        await linksMade?.();
      }
      const indexOf = new Map(links.map((l) => [l.name, l.index]));
      // New objects go in before stale ones go out, so moving from one layout to another (seaway's
      // earlier table 100, Submariner's leftovers) never leaves a destination without a route.
      const planned: PlannedWrite[] = [];
      const ruleRemovals: PlannedWrite[] = [];

      // Where an adopted rule sits, every rule at that key goes (each delete takes the first one
      // there) and seaway's is created afresh: the kernel allows both side by side.
      const ours = owned.rules.filter((r) => r.protocol === OWNERSHIP.routeProtocol);
      const adoptedKeys = new Set(owned.rules.filter((r) => r.protocol !== OWNERSHIP.routeProtocol).map(ruleKey));
      for (const rule of owned.rules) {
        if (adoptedKeys.has(ruleKey(rule))) planned.push(deleteRule({ ...rule, protocol: SUBMARINER_LEFTOVERS.ruleProtocol }));
      }
      const rules = diffRules(desired.rules, ours);
      for (const rule of rules.remove) if (!adoptedKeys.has(ruleKey(rule))) ruleRemovals.push(deleteRule(rule as OwnedRule));
      for (const rule of desired.rules) {
        if (!OWNED_TABLES.includes(rule.table) || !OWNED_RULE_PRIORITIES.includes(rule.priority)) {
          report.failures.push({ kind: 'rule', key: ruleKey(rule), object: describeRule(rule), reason: 'priority or table is not one of seaway\'s' });
        } else if (rules.create.includes(rule) || adoptedKeys.has(ruleKey(rule))) {
          planned.push(createRule(rule));
        }
      }

      const routes = changed === null ? diffRoutes(desired.routes, owned.routes, OWNED_TABLES, owned.foreign) : diffRoutes(changed.added, changed.removed, OWNED_TABLES);
      // A held destination is a failure the operator must resolve, not a write that failed: reported on
      // every apply (no attempt counted during its backoff), retried with backoff once it is free.
      for (const { object, reason } of [...routes.rejected, ...routes.held]) report.failures.push({ kind: 'route', key: routeKey(object), object: describeRoute(object), reason });
      for (const [write, list] of [['replace', routes.replace], ['create', routes.create]] as const) {
        for (let i = 0; i < list.length; i++) {
          const route = list[i]!;
          const oif = indexOf.get(route.dev);
          if (oif === undefined) {
            blockedOn(report, 'route', routeKey(route), describeRoute(route), `waiting for device ${route.dev}`);
            continue;
          }
          const spec: RouteSpec = { table: route.table, dst: route.dst, oif, protocol: OWNERSHIP.routeProtocol };
          if (route.gateway) spec.gateway = route.gateway;
          if (route.src) spec.src = route.src;
          planned.push({ kind: 'route', key: routeKey(route), object: () => describeRoute(route), write: { kind: 'route', write, route: spec } });
        }
      }

      // Routes out before the rules that led to their table.
      planned.push(...routes.remove.map(deleteRoute), ...ruleRemovals);

      // Vouched for, the entries are those written last (vouchedFor compared them): no 5,000 keys made to find nothing.
      const fdb = vouched === null ? diffFdb(desired.fdb, owned.fdb) : { create: [], remove: [] };
      for (const entry of fdb.remove) {
        const ifindex = indexOf.get(entry.dev);
        if (ifindex !== undefined) planned.push({ kind: 'fdb', key: fdbKey(entry), object: `removing ${describeFdb(entry)}`, write: { kind: 'fdb', write: 'delete', entry: { ifindex, mac: entry.mac, dst: entry.dst } } });
      }
      for (const entry of fdb.create) {
        const ifindex = indexOf.get(entry.dev);
        if (!(OWNED_LINKS as readonly string[]).includes(entry.dev)) {
          report.failures.push({ kind: 'fdb', key: fdbKey(entry), object: describeFdb(entry), reason: `${entry.dev} is not a seaway link` });
        } else if (ifindex === undefined) {
          blockedOn(report, 'fdb', fdbKey(entry), describeFdb(entry), `waiting for device ${entry.dev}`);
        } else {
          planned.push({ kind: 'fdb', key: fdbKey(entry), object: describeFdb(entry), write: { kind: 'fdb', write: 'append', entry: { ifindex, mac: entry.mac, dst: entry.dst } } });
        }
      }

      await execute(planned, report, gate);
      // Vouched for, a destination newly wanted may hold someone else's route that no event told of
      // (it was nobody's business before): seaway's create there fails with EEXIST. The kernel is then
      // read after all, as without the vouching, so that route is held and named for what it is.
      if (vouched !== null && report.failures.some((f) => f.kind === 'route' && f.code === 'EEXIST')) {
        const read = await driver.apply(desired, gate, linksMade);
        return mergeReports({ ...report, failures: report.failures.filter((f) => !(f.kind === 'route' && f.code === 'EEXIST')) }, read);
      }
      return report;
    },

    async cleanup() {
      const report = emptyReport();
      const links = await rtnl.listLinks();
      const owned = await observeWith(links);
      // Where an adopted rule sits, each delete names no protocol and takes the first rule there: all go.
      const adoptedKeys = new Set(owned.rules.filter((r) => r.protocol !== OWNERSHIP.routeProtocol).map(ruleKey));
      const planned: PlannedWrite[] = [
        ...owned.rules.map((r) => deleteRule(adoptedKeys.has(ruleKey(r)) ? { ...r, protocol: SUBMARINER_LEFTOVERS.ruleProtocol } : r)),
        ...owned.routes.map(deleteRoute),
      ];
      for (const link of owned.links) {
        const index = links.find((l) => l.name === link.name)?.index;
        if (index !== undefined) planned.push({ kind: 'link', key: link.name, object: `removing link ${link.name}`, write: { kind: 'link', write: 'delete', index } });
      }
      await execute(planned, report, ALWAYS_ATTEMPT);
      report.failures = report.failures.filter((f) => !(f.code && ALREADY_GONE.has(f.code)));
      return report;
    },
  };
  return driver;
}
