import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { createPass, PROGRAMMED, type PassDeps, type PassedReport } from '../../src/reconcile/pass.ts';
import { ObjectTable } from '../../src/reconcile/object-table.ts';
import { TugOfWar } from '../../src/reconcile/tug-of-war.ts';
import { createFightReport } from '../../src/reconcile/fight-report.ts';
import { createMetrics } from '../../src/telemetry/metrics.ts';
import { Readiness } from '../../src/server/readiness.ts';
import { parseConfig, type RunConfig } from '../../src/config.ts';
import type { Rtnetlink } from '../../src/kernel/rtnetlink.ts';
import type { RoutingDataplane } from '../../src/dataplane/routing-dataplane.ts';
import type { FilterDriver } from '../../src/dataplane/filter.ts';
import { emptyReport, type ApplyReport } from '../../src/dataplane/report.ts';
import type { DesiredState } from '../../src/model/desired-state.ts';
import type { Snapshot } from '../../src/model/snapshot.ts';
import { endpoint, gatewayNode, node, spec } from './model-fixtures.ts';
import { KERNEL_PARTS, KernelChanges } from '../../src/reconcile/kernel-changes.ts';
import { PERIODIC_RESYNC } from '../../src/reconcile/loop.ts';

const config = parseConfig(['run', '--cluster-id', 'east', '--node-name', 'east-worker', '--pod-cidrs', '10.244.0.0/16', '--service-cidrs', '10.96.0.0/12'], {}) as RunConfig;

/** Just enough kernel for the node facts: eth0 192.168.1.21/24 (east-worker's InternalIP) with the default route. */
const rtnl = {
  listDefaultRoutes: async () => [{ table: 254, metric: 0, paths: [{ ifindex: 2, gateway: '192.168.1.1' }] }],
  listRules: async () => [{ priority: 32766, table: 254, protocol: 2, action: 1, selective: false, narrowed: false }],
  listLinks: async () => [{ index: 2, name: 'eth0', mtu: 1500, up: true }],
  listAddresses: async () => [{ ifindex: 2, address: '192.168.1.21', prefixLength: 24, cidr: '192.168.1.21/24', scope: 0 }],
} as unknown as Rtnetlink;

const snapshot: Snapshot = {
  endpoints: [
    endpoint('east-ep', spec({ cluster_id: 'east', hostname: 'east-gw', private_ip: '192.168.1.10', subnets: ['10.244.0.0/16', '10.96.0.0/12'] })),
    endpoint('west-ep', spec({ cluster_id: 'west', subnets: ['10.2.0.0/16'] })),
  ],
  clusters: [],
  nodes: [gatewayNode('east-gw', '192.168.1.10'), node('east-worker', '192.168.1.21')],
};

function routing(apply: (desired: DesiredState) => Promise<ApplyReport>): RoutingDataplane & { applied: number } {
  const dataplane = {
    applied: 0,
    observe: async () => { throw new Error('unused'); },
    cleanup: async () => emptyReport(),
    routeDestinations: () => new Set<string>(),
    apply: async (desired: DesiredState) => { dataplane.applied++; return apply(desired); },
  };
  return dataplane;
}

function filter(outcome: () => Promise<{ writes: number }>): FilterDriver & { applied: number } {
  const driver = {
    backend: 'iptables' as const, iptablesMode: 'nft' as const, writes: 0, applied: 0,
    observe: async () => { throw new Error('unused'); },
    drift: async () => [],
    cleanup: async () => ({ writes: 0 }),
    notifications: () => ({ tables: [], complete: false }),
    apply: async () => { driver.applied++; return outcome(); },
  };
  return driver;
}

const fightReport = (war: TugOfWar, readiness = new Readiness({}), metrics = createMetrics({ defaultMetrics: false })) =>
  createFightReport({ war, readiness, metrics, logger: pino({ level: 'silent' }) });

function deps(overrides: Partial<PassDeps>): PassDeps & { readiness: Readiness; table: ObjectTable } {
  return {
    config, logger: pino({ level: 'silent' }), metrics: createMetrics({ defaultMetrics: false }),
    readiness: new Readiness({ [PROGRAMMED]: 'no pass yet' }), rtnl,
    routing: routing(async () => emptyReport()), filter: null,
    table: new ObjectTable({ backoff: { minMs: 1000, maxMs: 1000 }, random: () => 1 }),
    fights: fightReport(new TugOfWar({ repairs: 3, windowMs: 60_000, backoff: { minMs: 4000, maxMs: 16_000 } }, Date.now, () => 1)),
    informersSynced: () => true, snapshot: () => snapshot, nodeReady: () => true,
    cniInterface: () => ({ name: 'cni0', address: '10.244.1.1', ifindex: 3 }),
    ...overrides,
  } as PassDeps & { readiness: Readiness; table: ObjectTable };
}

test('before the informers sync or init completes, nothing is programmed and readiness says what it waits for', async () => {
  const routes = routing(async () => emptyReport());
  const d = deps({ routing: routes, informersSynced: () => false });
  assert.deepEqual(await createPass(d)(['start']), {});
  assert.equal(routes.applied, 0);
  assert.deepEqual(d.readiness.reasons, [`${PROGRAMMED}: waiting for the Endpoint, Cluster and Node informers to sync`]);
});

test('every object programmed: ready, and seaway_owned_objects counts what is programmed', async () => {
  const d = deps({ filter: filter(async () => ({ writes: 2 })) });
  assert.deepEqual(await createPass(d)(['start']), {});
  assert.equal(d.readiness.ready, true);
  const owned = await d.metrics.ownedObjects.get();
  const count = (kind: string) => owned.values.find((v) => v.labels.kind === kind)?.value;
  assert.equal(count('route'), 1, 'the one remote subnet');
  assert.equal(count('filter'), 1);
});

test('routes programmed but the packet filter backend not detected yet: not ready, the filter pending', async () => {
  const d = deps({ filter: null });
  const pass = createPass(d);
  await pass(['start']);
  assert.equal(d.readiness.ready, false);
  assert.match(d.readiness.reasons[0]!, /^programmed: 1 object\(s\) not programmed: packet filter pending: waiting for the packet filter backend/);
  d.filter = filter(async () => ({ writes: 1 }));
  await pass(['packet filter available']);
  assert.equal(d.readiness.ready, true, 'the detected backend\'s filter replaces the placeholder');
  assert.deepEqual(d.table.list().filter((s) => s.kind === 'filter').map((s) => [s.key, s.state]), [['iptables-nft', 'programmed']]);
});

test('a failing route: the others and the filter are programmed, readiness names exactly it, and the pass asks for its retry', async () => {
  const routes = routing(async () => ({
    ...emptyReport(),
    failures: [{ kind: 'route', key: '254 10.2.0.0/16', object: 'route 10.2.0.0/16 via 240.168.1.10 dev vx-submariner table 254', reason: 'create ...: EEXIST', code: 'EEXIST' }],
  }));
  const f = filter(async () => ({ writes: 1 }));
  const d = deps({ routing: routes, filter: f });
  const outcome = await createPass(d)(['start']);
  assert.equal(f.applied, 1);
  assert.ok(outcome.retryAt !== undefined && outcome.retryAt > Date.now());
  assert.equal(d.readiness.reasons.length, 1);
  assert.match(d.readiness.reasons[0]!, /^programmed: 1 object\(s\) not programmed: route 10\.2\.0\.0\/16 .* failed: create \.\.\.: EEXIST \(attempt 1, next at \d{4}-\d\d-\d\dT[\d:.]+Z\)$/);
  const failing = d.table.unsettled();
  assert.deepEqual(failing.map((s) => [s.kind, s.key, s.state]), [['route', '254 10.2.0.0/16', 'failed']]);
  const owned = await d.metrics.ownedObjects.get();
  assert.equal(owned.values.find((v) => v.labels.kind === 'route')?.value, 0, 'owned objects count what is programmed, not what is desired');
  assert.equal(owned.values.find((v) => v.labels.kind === 'filter')?.value, 1);
});

test('routing that throws (a dump that failed) does not stop the filter; the pass throws and readiness names why, without flickering to ready', async () => {
  const routes = routing(async () => { throw Object.assign(new Error('netlink dump of type 26: no reply from the kernel within 10000 ms'), { code: 'ETIMEDOUT' }); });
  const f = filter(async () => ({ writes: 1 }));
  const d = deps({ routing: routes, filter: f });
  const changes: boolean[] = [];
  d.readiness.onChange((ready) => changes.push(ready));
  await assert.rejects(createPass(d)(['start']), /routing: netlink dump of type 26: no reply .* \(ETIMEDOUT\)/);
  assert.equal(f.applied, 1, 'the filter was still applied');
  assert.deepEqual(changes, [], 'never ready on the way');
  assert.match(d.readiness.reasons[0]!, /^programmed: reconcile pass failed: routing: netlink dump .*; retrying$/);
});

test('a node whose underlay cannot be told cannot be planned: the pass throws and readiness names the setting to give', async () => {
  const elsewhere = { ...rtnl, listAddresses: async () => [{ ifindex: 2, address: '192.168.7.7', prefixLength: 24, cidr: '192.168.7.7/24', scope: 0 }] } as unknown as Rtnetlink;
  const d = deps({ rtnl: elsewhere });
  await assert.rejects(createPass(d)(['start']), /node IP 192\.168\.1\.21 \(this Node's InternalIP\) is not an address of any interface/);
  assert.match(d.readiness.reasons[0]!, /reconcile pass failed: .*give --node-ip \(env SEAWAY_NODE_IP\)/);
});

test('onPassed (the RouteAgent reporter\'s hook): told after every pass that planned, with the plan, what is not programmed, and why a pass failed', async () => {
  const told: PassedReport[] = [];
  const onPassed = (passed: PassedReport) => { told.push(passed); };
  // Waiting for sync: nothing planned, nothing told.
  await createPass(deps({ informersSynced: () => false, onPassed }))(['start']);
  assert.equal(told.length, 0);
  // A failing route: the plan, the route failed in the unsettled list, no failure.
  const failingRoute = routing(async () => ({
    ...emptyReport(),
    failures: [{ kind: 'route', key: '254 10.2.0.0/16', object: 'route 10.2.0.0/16 via 240.168.1.10 dev vx-submariner table 254', reason: 'EEXIST' }],
  }));
  await createPass(deps({ routing: failingRoute, filter: filter(async () => ({ writes: 1 })), onPassed }))(['start']);
  assert.equal(told.length, 1);
  assert.deepEqual(told[0]!.plan?.remoteClusters.map((r) => [r.clusterId, r.spec.cableName]), [['west', 'submariner-cable-west-192-168-1-10']]);
  assert.deepEqual(told[0]!.unsettled.map((s) => [s.key, s.state]), [['254 10.2.0.0/16', 'failed']]);
  assert.equal(told[0]!.failure, undefined);
  // Routing that throws: told with the failure, before the pass throws.
  const throwing = routing(async () => { throw new Error('netlink dump failed'); });
  await assert.rejects(createPass(deps({ routing: throwing, onPassed }))(['start']));
  assert.equal(told.length, 2);
  assert.ok(told[1]!.plan !== null);
  assert.match(told[1]!.failure ?? '', /^routing: netlink dump failed/);
  // Planning that fails: no plan, the failure.
  const elsewhere = { ...rtnl, listAddresses: async () => [{ ifindex: 2, address: '192.168.7.7', prefixLength: 24, cidr: '192.168.7.7/24', scope: 0 }] } as unknown as Rtnetlink;
  await assert.rejects(createPass(deps({ rtnl: elsewhere, onPassed }))(['start']));
  assert.equal(told.length, 3);
  assert.equal(told[2]!.plan, null);
  assert.match(told[2]!.failure ?? '', /is not an address of any interface/);
});

test('a hook that throws never fails the pass', async () => {
  const d = deps({ filter: filter(async () => ({ writes: 1 })), onPassed: () => { throw new Error('reporter bug'); } });
  assert.deepEqual(await createPass(d)(['start']), {});
  assert.equal(d.readiness.ready, true);
});

test('without a default route (air-gapped) the node is planned from its InternalIP\'s interface', async () => {
  const applied: DesiredState[] = [];
  const d = deps({ rtnl: { ...rtnl, listDefaultRoutes: async () => [] } as unknown as Rtnetlink, routing: routing(async (desired) => { applied.push(desired); return emptyReport(); }) });
  await createPass(d)(['start']);
  assert.deepEqual(applied[0]?.links.map((l) => [l.local, l.underlayDevice, l.mtu]), [['192.168.1.21', 'eth0', 1450]]);
});

test('fail static across passes: a remote cluster whose Endpoint is gone keeps its routes until the grace ends (and the pass asks to be woken then); a held local gateway is named', async () => {
  let now = 1_000_000;
  const desiredRoutes: string[][] = [];
  const routes = routing(async (desired) => { desiredRoutes.push(desired.routes.map((r) => r.dst)); return emptyReport(); });
  let current: Snapshot = snapshot;
  const d = deps({ routing: routes, filter: filter(async () => ({ writes: 0 })), snapshot: () => current, now: () => now });
  const pass = createPass(d);
  await pass(['start']);
  assert.deepEqual(desiredRoutes.at(-1), ['10.2.0.0/16']);
  // west's Endpoint deleted (its gateway failing over): still routed, and the pass asks to be woken when the grace ends.
  current = { ...snapshot, endpoints: snapshot.endpoints.filter((e) => e.name !== 'west-ep') };
  now += 1000;
  const held = await pass(['west deleted']);
  assert.deepEqual(desiredRoutes.at(-1), ['10.2.0.0/16']);
  assert.equal(held.retryAt, now + config.remoteGraceSeconds * 1000);
  // The local Endpoint gone too: the last trusted gateway is held and readiness says so.
  current = { ...current, endpoints: [] };
  await pass(['local deleted']);
  assert.deepEqual(desiredRoutes.at(-1), ['10.2.0.0/16'], 'nothing removed');
  assert.match(d.readiness.reasons.join('\n'), /^local-endpoint: no trusted local Endpoint/m);
  // Past the grace with no Endpoint of west back: its routes go.
  current = { ...snapshot, endpoints: snapshot.endpoints.filter((e) => e.name !== 'west-ep') };
  now += config.remoteGraceSeconds * 1000;
  await pass(['grace over']);
  assert.deepEqual(desiredRoutes.at(-1), []);
  assert.doesNotMatch(d.readiness.reasons.join('\n'), /local-endpoint/);
});

test('a tug-of-war over the filter: after N repairs in the window its repairs are held on a backoff, seaway_fighting and readiness name the rival, and it ends once a repair stays', async () => {
  let now = 5_000_000;
  const war = new TugOfWar({ repairs: 3, windowMs: 60_000, backoff: { minMs: 4000, maxMs: 16_000 } }, () => now, () => 1);
  let rivalActive = true;
  const f = filter(async () => (rivalActive ? { writes: 1, rivals: ['nat POSTROUTING: -A POSTROUTING -j RIVAL -> -A RIVAL -j MASQUERADE'] } : { writes: 0 }));
  let current: Snapshot = snapshot;
  const d = deps({ filter: f, snapshot: () => current });
  d.fights = fightReport(war, d.readiness, d.metrics);
  const pass = createPass(d);
  const fighting = async () => (await d.metrics.fighting.get()).values.find((v) => v.labels.object === 'filter/iptables-nft')?.value;
  await pass(['start']);
  assert.equal(f.applied, 1, 'the first pass programs: not a repair');
  for (let i = 0; i < 3; i++) { now += 300; await pass(['packet filter drift']); }
  assert.equal(f.applied, 4, 'three repairs');
  assert.equal(await fighting(), 1);
  assert.match(d.readiness.reasons.join('\n'), /^fighting: filter\/iptables-nft: another agent keeps undoing seaway's repairs \(nat POSTROUTING: -A POSTROUTING -j RIVAL -> -A RIVAL -j MASQUERADE\); repaired 1 time/m);
  now += 1000;
  current = { ...snapshot, nodes: [...snapshot.nodes] }; // a new snapshot (a projection changed) with the same filter
  const held = await pass(['packet filter drift']);
  assert.equal(f.applied, 4, 'held: no repair during the backoff, whatever wakes the loop, a new snapshot with the same filter too');
  assert.equal(held.retryAt, now - 1000 + 4000, 'the pass asks to be woken when the hold ends');
  now += 3000;
  await pass(['hold over']);
  assert.equal(f.applied, 5, 'repaired again once the hold is over');
  assert.match(d.readiness.reasons.join('\n'), /repaired 2 time\(s\)/);
  rivalActive = false;
  now += 8000;
  await pass(['hold over']);
  assert.equal(f.applied, 6);
  assert.equal(await fighting(), 0, 'the repair stayed: the fight is over');
  assert.doesNotMatch(d.readiness.reasons.join('\n'), /fighting/);
  assert.equal(d.readiness.ready, true);
});

test('a changed input is new work, not a repair: it is written at once even while the filter is held', async () => {
  let now = 5_000_000;
  const war = new TugOfWar({ repairs: 2, windowMs: 60_000, backoff: { minMs: 60_000, maxMs: 60_000 } }, () => now, () => 1);
  const f = filter(async () => ({ writes: 1 }));
  let current: Snapshot = snapshot;
  const d = deps({ filter: f, snapshot: () => current });
  d.fights = fightReport(war, d.readiness, d.metrics);
  const pass = createPass(d);
  await pass(['start']);
  for (let i = 0; i < 2; i++) { now += 100; await pass(['drift']); }
  assert.equal(war.mayRepair('filter/iptables-nft'), false);
  const applied = f.applied;
  current = { ...snapshot, endpoints: [...snapshot.endpoints, endpoint('north-ep', spec({ cluster_id: 'north', hostname: 'north-gw', private_ip: '192.168.3.10', subnets: ['10.3.0.0/16'] }))] };
  await pass(['API objects changed']);
  assert.equal(f.applied, applied + 1, 'the new remote cluster reaches the filter during the hold');
});

test('a tug-of-war over a route: the route someone keeps deleting is held on a backoff and named, the other routing objects are not; it ends once the route stays', async () => {
  let now = 5_000_000;
  const war = new TugOfWar({ repairs: 3, windowMs: 60_000, backoff: { minMs: 4000, maxMs: 16_000 } }, () => now, () => 1);
  const contested = { kind: 'route' as const, key: '254 10.2.0.0/16' };
  let deleter = true;
  const attempts: string[] = [];
  const routes: RoutingDataplane = {
    observe: async () => { throw new Error('unused'); },
    cleanup: async () => emptyReport(),
    routeDestinations: () => new Set<string>(),
    // What the kernel needs each pass: the contested route while the deleter is at it, nothing otherwise.
    apply: async (_desired, gate) => {
      const report = emptyReport();
      if (!deleter) return report;
      if (gate && !gate(contested.kind, contested.key)) { report.deferred.push(contested); return report; }
      attempts.push(contested.key);
      report.writes = 1;
      report.written.push(contested);
      return report;
    },
  };
  const d = deps({ routing: routes, filter: filter(async () => ({ writes: 0 })) });
  d.fights = fightReport(war, d.readiness, d.metrics);
  const pass = createPass(d);
  const fighting = async () => (await d.metrics.fighting.get()).values.find((v) => v.labels.object === 'route/*')?.value;
  await pass(['start']);
  for (let i = 0; i < 3; i++) { now += 300; await pass(['owned route deleted']); }
  assert.equal(attempts.length, 4, 'the first pass and three repairs');
  assert.equal(await fighting(), 1, 'one series for routes, however many are fought over');
  assert.match(d.readiness.reasons.join('\n'), /^fighting: route\/254 10\.2\.0\.0\/16: another agent keeps undoing seaway's repairs \(no foreign rule names it: something keeps changing or removing it\); repaired 1 time/m);
  now += 500;
  await pass(['owned route deleted']);
  assert.equal(attempts.length, 4, 'held during the backoff');
  now += 4000;
  await pass(['hold over']);
  assert.equal(attempts.length, 5, 'repaired again after it');
  deleter = false;
  now += 4000;
  await pass(['resync']);
  assert.equal(await fighting(), 0, 'the route stayed: over');
  assert.equal(d.readiness.ready, true);
});

/** The fake kernel with every call counted: a pass that reads nothing leaves it at zero. */
function countedKernel() {
  const calls: string[] = [];
  const counted = new Proxy(rtnl, { get: (target, key) => { const value = (target as never)[key]; return typeof value === 'function' ? (...args: unknown[]) => { calls.push(String(key)); return (value as (...a: unknown[]) => unknown)(...args); } : value; } });
  return { rtnl: counted, calls };
}

function quietSetup() {
  const kernel = countedKernel();
  const routes = routing(async () => emptyReport());
  const driver = filter(async () => ({ writes: 0 }));
  const kernelChanges = new KernelChanges();
  for (const part of KERNEL_PARTS) kernelChanges.watching(part);
  let current = snapshot;
  const d = deps({ rtnl: kernel.rtnl, routing: routes, filter: driver, kernelChanges, snapshot: () => current });
  return { d, pass: createPass(d), kernel, routes, driver, kernelChanges, setSnapshot: (s: Snapshot) => { current = s; } };
}

test('a pass with nothing new (no input changed, no kernel watch reported a change) reads no kernel table and writes nothing; the node stays ready', async () => {
  const { d, pass, kernel, routes, driver } = quietSetup();
  await pass(['start']);
  assert.equal(routes.applied, 1);
  assert.equal(driver.applied, 1);
  assert.ok(kernel.calls.length > 0, 'the first pass reads the node facts');
  kernel.calls.length = 0;
  for (const reason of ['API objects changed', 'init state changed', 'object retry due']) await pass([reason]);
  assert.deepEqual(kernel.calls, [], 'no dump of any table: links, addresses, routes, rules');
  assert.equal(routes.applied, 1, 'routing neither read nor written');
  assert.equal(driver.applied, 1, 'packet filter neither read nor written');
  assert.equal(d.readiness.ready, true, d.readiness.reasons.join("; "));
});

test('an unrelated object changed (a new snapshot, the same plan): still nothing read or written', async () => {
  const { pass, kernel, routes, driver, setSnapshot } = quietSetup();
  await pass(['start']);
  kernel.calls.length = 0;
  setSnapshot({ ...snapshot, endpoints: snapshot.endpoints.map((e) => ({ ...e, resourceVersion: `${e.resourceVersion}0` })) });
  await pass(['API objects changed']);
  assert.deepEqual(kernel.calls, []);
  assert.equal(routes.applied, 1);
  assert.equal(driver.applied, 1);
});

test('each watch wakes only its part: routing drift re-applies routing, filter drift the filter, a host change re-reads the facts; the periodic resync does all', async () => {
  const { pass, kernel, routes, driver, kernelChanges } = quietSetup();
  await pass(['start']);
  kernel.calls.length = 0;
  kernelChanges.changed('routing');
  await pass(['owned route 10.2.0.0/16 table 254 deleted']);
  assert.deepEqual([routes.applied, driver.applied, kernel.calls.length], [2, 1, 0]);
  kernelChanges.changed('filter');
  await pass(['packet filter drift']);
  assert.deepEqual([routes.applied, driver.applied, kernel.calls.length], [2, 2, 0]);
  kernelChanges.changed('host-network');
  await pass(['API objects changed']);
  assert.ok(kernel.calls.includes('listAddresses'), 'the facts read again');
  assert.deepEqual([routes.applied, driver.applied], [2, 2], 'the same facts: the same plan, nothing to apply');
  kernel.calls.length = 0;
  await pass([PERIODIC_RESYNC]);
  assert.ok(kernel.calls.includes('listAddresses'));
  assert.deepEqual([routes.applied, driver.applied], [3, 3], 'the resync reads and applies everything');
});

test('a changed plan is applied while the kernel is quiet; so is a part whose last apply did not settle, and any part while its watch is not live', async () => {
  const { pass, routes, driver, setSnapshot } = quietSetup();
  await pass(['start']);
  setSnapshot({ ...snapshot, endpoints: [snapshot.endpoints[0]!, endpoint('west-ep', spec({ cluster_id: 'west', subnets: ['10.3.0.0/16'] }))] });
  await pass(['API objects changed']);
  assert.equal(routes.applied, 2, 'new routes');
  assert.equal(driver.applied, 2, 'new remote CIDRs');

  let fail = true;
  const flaky = routing(async (desired) => {
    const report = emptyReport();
    if (fail) report.failures.push({ kind: 'route', key: routeKeyOf(desired), object: 'a route', reason: 'EEXIST' });
    return report;
  });
  const unsettled = deps({ routing: flaky, filter: filter(async () => ({ writes: 0 })), kernelChanges: watchedAll(), table: new ObjectTable({ backoff: { minMs: 0, maxMs: 0 }, random: () => 1 }) });
  const again = createPass(unsettled);
  await again(['start']).catch(() => undefined);
  fail = false;
  await again(['object retry due']);
  assert.equal(flaky.applied, 2, 'a failed object is tried again although nothing was reported');
  await again(['API objects changed']);
  assert.equal(flaky.applied, 2, 'settled now: left alone');

  const unwatched = routing(async () => emptyReport());
  const blind = createPass(deps({ routing: unwatched, kernelChanges: new KernelChanges() }));
  await blind(['start']);
  await blind(['API objects changed']);
  assert.equal(unwatched.applied, 2, 'no live watch: every pass reads');
});

function watchedAll(): KernelChanges {
  const changes = new KernelChanges();
  for (const part of KERNEL_PARTS) changes.watching(part);
  return changes;
}

const routeKeyOf = (desired: DesiredState): string => `${desired.routes[0]!.table} ${desired.routes[0]!.dst}`;
