/**
 * The route agent's health checks: which remotes a node probes (plan/route-agent-health.ts, pure,
 * from real plans), the settings and the node's probe budget, and the glue that hands the targets to
 * the health checker and reads its results back for the RouteAgent status
 * (reconcile/node-health-checks.ts, with a fake checker).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { planNode, type Plan, type PlanConfig } from '../../src/plan/node-plan.ts';
import { newPlanMemo } from '../../src/model/endpoint-set.ts';
import {
  GATEWAY_NODE_REASON, HEALTH_DISABLED_REASON, nodeHealthPlan, probeKey, routeAgentHealthSettings, type HealthPlanMemo,
  ROUTE_AGENT_HEALTH_INTERVAL_SECONDS, ROUTE_AGENT_HEALTH_MAX_LOSS, ROUTE_AGENT_MAX_PROBES_PER_SECOND,
} from '../../src/plan/route-agent-health.ts';
import { healthSettingsProblem, probeIntervalMs } from '../../src/plan/health-probes.ts';
import { createNodeHealthChecks } from '../../src/reconcile/node-health-checks.ts';
import type { HealthTarget, TargetHealth } from '../../src/cable/health-checker.ts';
import type { NodeFacts } from '../../src/model/node-facts.ts';
import type { EndpointSpec } from '../../src/model/endpoint.ts';
import type { Snapshot } from '../../src/model/snapshot.ts';
import { endpoint, gatewayNode, node, spec } from './model-fixtures.ts';

const config: PlanConfig = {
  clusterId: 'east', nodeName: 'east-worker', podCidrs: ['10.244.0.0/16'], serviceCidrs: ['10.96.0.0/12'],
  minPrefixLength: 8, maxSubnetsPerEndpoint: 64,
};
const workerFacts: NodeFacts = {
  nodeIp: '192.168.1.21', underlayDevice: 'eth0', underlayMtu: 1500,
  cniInterface: { name: 'cni0', address: '10.244.1.1' }, networks: ['192.168.1.21/24'],
};
const gatewayFacts: NodeFacts = { ...workerFacts, nodeIp: '192.168.1.10', cniInterface: { name: 'cni0', address: '10.244.0.1' }, networks: ['192.168.1.10/24'] };

const LOCAL = endpoint('east-ep', spec({
  cluster_id: 'east', cable_name: 'submariner-cable-east-192-168-1-10', hostname: 'east-gw', private_ip: '192.168.1.10', public_ip: '',
  subnets: ['10.244.0.0/16', '10.96.0.0/12'], healthCheckIP: '10.244.0.1',
}));
const WEST = endpoint('west-ep', spec({ cluster_id: 'west', cable_name: 'cable-west', healthCheckIP: '10.2.0.1', subnets: ['10.2.0.0/16', '10.202.0.0/16'] }));
const NORTH = endpoint('north-ep', spec({ cluster_id: 'north', cable_name: 'cable-north', hostname: 'north-gw', private_ip: '192.168.3.10', public_ip: '', subnets: ['10.3.0.0/16'], healthCheckIP: '10.3.0.1' }));

function snapshot(endpoints = [LOCAL, WEST, NORTH]): Snapshot {
  return { endpoints, clusters: [], nodes: [gatewayNode('east-gw', '192.168.1.10'), node('east-worker', '192.168.1.21')] };
}
const workerPlan = (snap = snapshot()): Plan => planNode(snap, workerFacts, config);
const gatewayPlan = (snap = snapshot()): Plan => planNode(snap, gatewayFacts, { ...config, nodeName: 'east-gw' });

describe('nodeHealthPlan: which remotes this node probes', () => {
  test('a worker probes every remote at its healthCheckIP, keyed by cluster and cable, sorted', () => {
    const planned = nodeHealthPlan(workerPlan(), { disabled: false });
    assert.deepEqual(planned, {
      targets: [{ key: 'north/cable-north', ip: '10.3.0.1' }, { key: 'west/cable-west', ip: '10.2.0.1' }],
      skipped: new Map(),
    });
    assert.equal(probeKey('north', 'cable-north'), 'north/cable-north');
  });

  test('the gateway node probes nothing, and says why (its own checks are the gateway\'s)', () => {
    const plan = gatewayPlan();
    assert.equal(plan.isGateway, true);
    assert.deepEqual(nodeHealthPlan(plan, { disabled: false }), { off: GATEWAY_NODE_REASON, targets: [], skipped: new Map() });
  });

  test('disabled: nothing is probed, on any node, and the reason names the setting', () => {
    assert.deepEqual(nodeHealthPlan(workerPlan(), { disabled: true }), { off: HEALTH_DISABLED_REASON, targets: [], skipped: new Map() });
    assert.match(HEALTH_DISABLED_REASON, /--health-check-interval-seconds 0/);
  });

  test('no trusted local Endpoint: the gateway is unknown, nothing is routed, so nothing is probed (and nothing is said to be off)', () => {
    const plan = workerPlan(snapshot([WEST, NORTH]));
    assert.equal(plan.localEndpoint, null);
    assert.deepEqual(nodeHealthPlan(plan, { disabled: false }), { targets: [], skipped: new Map() });
  });

  test('a remote without healthCheckIP is not probed, with the reason; the others still are', () => {
    const bare = endpoint('west-ep', spec({ cluster_id: 'west', cable_name: 'cable-west', healthCheckIP: undefined }));
    const planned = nodeHealthPlan(workerPlan(snapshot([LOCAL, bare, NORTH])), { disabled: false });
    assert.deepEqual(planned.targets, [{ key: 'north/cable-north', ip: '10.3.0.1' }]);
    assert.deepEqual([...planned.skipped], [['west/cable-west', 'the remote Endpoint names no healthCheckIP']]);
  });

  test('a healthCheckIP outside the remote\'s own subnets (the API server, a host on the underlay) is never probed', () => {
    for (const ip of ['192.168.1.1', '10.96.0.1', '8.8.8.8', '10.3.0.1']) {
      const odd = endpoint('west-ep', spec({ cluster_id: 'west', cable_name: 'cable-west', healthCheckIP: ip }));
      const planned = nodeHealthPlan(workerPlan(snapshot([LOCAL, odd])), { disabled: false });
      assert.deepEqual(planned.targets, [], ip);
      assert.equal(planned.skipped.get('west/cable-west'), `the remote Endpoint's healthCheckIP ${ip} is not inside its subnets, so it is not probed`);
    }
    // The first of healthCheckIPs is the one probed (the first IPv4 address the Endpoint gives).
    const plural = endpoint('west-ep', spec({ cluster_id: 'west', cable_name: 'cable-west', healthCheckIP: '', healthCheckIPs: ['10.202.5.5', '10.2.0.1'] }));
    assert.deepEqual(nodeHealthPlan(workerPlan(snapshot([LOCAL, plural])), { disabled: false }).targets, [{ key: 'west/cable-west', ip: '10.202.5.5' }]);
  });

  test('malformed remotes (a JavaScript caller\'s plan) are passed over; a remote listed twice is probed once', () => {
    const plan = workerPlan();
    const north = plan.remoteClusters[0]!;
    const odd = {
      ...plan,
      remoteClusters: [
        null, 7, { ...north, spec: null }, { ...north, spec: { ...north.spec, clusterId: 5 } }, { ...north, subnets: 'nope' },
        north, north, { ...north, spec: { ...north.spec, cableName: 'other', healthCheckIps: 'x' } },
      ] as unknown as Plan['remoteClusters'],
    };
    const planned = nodeHealthPlan(odd, { disabled: false });
    assert.deepEqual(planned.targets, []);
    assert.deepEqual([...planned.skipped.keys()], ['north/cable-north', 'north/other']);
    assert.deepEqual(nodeHealthPlan({ ...plan, remoteClusters: [north, north] }, { disabled: false }).targets, [{ key: 'north/cable-north', ip: '10.3.0.1' }]);
    assert.deepEqual(nodeHealthPlan({ ...plan, remoteClusters: null as unknown as Plan['remoteClusters'] }, { disabled: false }).targets, []);
  });
});

describe('nodeHealthPlan with a memo', () => {
  test('plans what it plans without one, and gives an unchanged remote the same target; a changed Endpoint is worked out again', () => {
    const memo: HealthPlanMemo = new WeakMap();
    const planMemo = newPlanMemo();
    const plan = (endpoints = [LOCAL, WEST, NORTH]) => planNode(snapshot(endpoints), workerFacts, config, { memo: planMemo });
    const first = plan();
    assert.deepEqual(nodeHealthPlan(first, { disabled: false, memo }), nodeHealthPlan(first, { disabled: false }));
    const again = plan();
    assert.equal(again.remoteClusters[0], first.remoteClusters[0], 'the plan memo keeps an unchanged remote\'s entry');
    const [a, b] = [nodeHealthPlan(first, { disabled: false, memo }), nodeHealthPlan(again, { disabled: false, memo })];
    assert.ok(a.targets.length === 2 && a.targets.every((target, i) => b.targets[i] === target), 'the same target objects: the checker sees nothing changed');
    // West's healthCheckIP moves inside its subnets, and then out of them: a new Endpoint object each time.
    const moved = endpoint('west-ep', spec({ cluster_id: 'west', cable_name: 'cable-west', healthCheckIP: '10.202.0.9', subnets: ['10.2.0.0/16', '10.202.0.0/16'] }));
    assert.deepEqual(nodeHealthPlan(plan([LOCAL, moved, NORTH]), { disabled: false, memo }).targets, [{ key: 'north/cable-north', ip: '10.3.0.1' }, { key: 'west/cable-west', ip: '10.202.0.9' }]);
    const outside = endpoint('west-ep', spec({ cluster_id: 'west', cable_name: 'cable-west', healthCheckIP: '10.9.0.9', subnets: ['10.2.0.0/16'] }));
    const skipped = nodeHealthPlan(plan([LOCAL, outside, NORTH]), { disabled: false, memo });
    assert.deepEqual(skipped.targets, [{ key: 'north/cable-north', ip: '10.3.0.1' }]);
    assert.match(skipped.skipped.get('west/cable-west') ?? '', /10\.9\.0\.9 is not inside its subnets/);
    assert.deepEqual(nodeHealthPlan(plan([LOCAL, outside, NORTH]), { disabled: false, memo }), skipped, 'a skipped remote kept in the memo is skipped again, with its reason');
  });

  test('malformed remotes give the same answer with a memo as without, the second time too', () => {
    const plan = workerPlan();
    const north = plan.remoteClusters[0]!;
    const odd = { ...plan, remoteClusters: [null, 7, { ...north, spec: null }, { ...north, subnets: 'nope' }, north, north] as unknown as Plan['remoteClusters'] };
    const memo: HealthPlanMemo = new WeakMap();
    const without = nodeHealthPlan(odd, { disabled: false });
    assert.deepEqual(nodeHealthPlan(odd, { disabled: false, memo }), without);
    assert.deepEqual(nodeHealthPlan(odd, { disabled: false, memo }), without);
  });

  test('createNodeHealthChecks gives the checker the same target objects while the Endpoints are unchanged', () => {
    const checker = fakeChecker();
    const checks = createNodeHealthChecks({ settings: routeAgentHealthSettings(10), checker });
    const planMemo = newPlanMemo();
    checks.update(planNode(snapshot(), workerFacts, config, { memo: planMemo }));
    checks.update(planNode(snapshot(), workerFacts, config, { memo: planMemo }));
    assert.equal(checker.given.length, 2);
    assert.ok(checker.given[0]!.length === 2 && checker.given[0]!.every((target, i) => checker.given[1]![i] === target));
  });
});

describe('the route agent\'s settings and probe budget', () => {
  test('defaults: one probe per remote every 10 s, three lost make an error, at most 2 probes a second per node', () => {
    assert.equal(ROUTE_AGENT_HEALTH_INTERVAL_SECONDS, 10);
    assert.deepEqual(routeAgentHealthSettings(10), { intervalMs: 10_000, maxLoss: ROUTE_AGENT_HEALTH_MAX_LOSS, maxProbesPerSecond: ROUTE_AGENT_MAX_PROBES_PER_SECOND });
    assert.deepEqual([ROUTE_AGENT_HEALTH_MAX_LOSS, ROUTE_AGENT_MAX_PROBES_PER_SECOND], [3, 2]);
    assert.equal(routeAgentHealthSettings(0), null, '0 disables');
    for (const seconds of [1, 10, 3600]) assert.equal(healthSettingsProblem(routeAgentHealthSettings(seconds)!), null, `${seconds} s is usable by the checker`);
  });

  test('the node\'s rate stays within its budget whatever the number of remotes: the interval stretches instead', () => {
    const settings = routeAgentHealthSettings(10)!;
    for (const [remotes, intervalMs] of [[1, 10_000], [20, 10_000], [21, 10_500], [100, 50_000], [1000, 500_000], [10_000, 5_000_000]] as const) {
      const interval = probeIntervalMs(remotes, settings);
      assert.equal(interval, intervalMs, `${remotes} remotes`);
      assert.ok((remotes * 1000) / interval <= ROUTE_AGENT_MAX_PROBES_PER_SECOND, `${remotes} remotes: within the budget`);
    }
  });
});

/** A health checker double: records the targets it is given, and answers health() from a table. */
function fakeChecker() {
  const given: HealthTarget[][] = [];
  const results = new Map<string, TargetHealth>();
  let closed = 0;
  return {
    given, results,
    get closed() { return closed; },
    setTargets(targets: readonly HealthTarget[]) { given.push([...targets]); },
    health(key: string) { return results.get(key); },
    close() { closed += 1; },
  };
}

const healthy = (ip: string): TargetHealth => ({
  ip, verdict: 'healthy', lostInARow: 0, maxLoss: 3, rtt: { samples: 2, lastNs: 1_500_000, minNs: 1_000_000, averageNs: 1_250_000, maxNs: 1_500_000, stdDevNs: 250_000 },
});

describe('createNodeHealthChecks: the plan to the checker, and its results to the status', () => {
  test('each pass gives the checker the remotes to probe; a pass that could not plan leaves them as they were', () => {
    const checker = fakeChecker();
    const checks = createNodeHealthChecks({ settings: routeAgentHealthSettings(10), checker });
    checks.update(workerPlan());
    checks.update(null);
    checks.update(gatewayPlan());
    assert.deepEqual(checker.given, [
      [{ key: 'north/cable-north', ip: '10.3.0.1' }, { key: 'west/cable-west', ip: '10.2.0.1' }],
      [],
    ]);
    checks.close();
    assert.equal(checker.closed, 1);
  });

  test('the view has each probed remote\'s result, the skipped ones\' reasons, and nothing for a result about another address', () => {
    const checker = fakeChecker();
    checker.results.set('north/cable-north', healthy('10.3.0.1'));
    // The checker still holds an earlier address of west's: not a result for the one planned now.
    checker.results.set('west/cable-west', healthy('10.2.9.9'));
    const checks = createNodeHealthChecks({ settings: routeAgentHealthSettings(10), checker });
    const bare = endpoint('south-ep', spec({ cluster_id: 'south', cable_name: 'cable-south', healthCheckIP: '', subnets: ['10.4.0.0/16'], private_ip: '192.168.4.10', public_ip: '' }));
    const view = checks.view(workerPlan(snapshot([LOCAL, WEST, NORTH, bare])));
    assert.equal(view.off, undefined);
    assert.deepEqual([...view.probes], [['north/cable-north', healthy('10.3.0.1')]]);
    assert.deepEqual([...view.skipped], [['south/cable-south', 'the remote Endpoint names no healthCheckIP']]);
  });

  test('on the gateway node and when disabled, the view says why nothing is probed', () => {
    const checks = createNodeHealthChecks({ settings: routeAgentHealthSettings(10), checker: fakeChecker() });
    assert.equal(checks.view(gatewayPlan()).off, GATEWAY_NODE_REASON);
    const off = createNodeHealthChecks({ settings: null, checker: null });
    assert.deepEqual(off.view(workerPlan()), { off: HEALTH_DISABLED_REASON, skipped: new Map(), probes: new Map() });
    off.update(workerPlan());
    off.close();
  });

  test('without a checker (the ICMP addon not built) every remote that would be probed carries the reason as its problem', () => {
    const checks = createNodeHealthChecks({ settings: routeAgentHealthSettings(10), checker: null, unavailable: 'the ICMP probe addon is not built: run `npm run bootstrap`' });
    checks.update(workerPlan());
    const view = checks.view(workerPlan());
    assert.deepEqual([...view.probes.keys()], ['north/cable-north', 'west/cable-west']);
    assert.deepEqual(view.probes.get('west/cable-west'), {
      ip: '10.2.0.1', verdict: 'unknown', lostInARow: 0, maxLoss: ROUTE_AGENT_HEALTH_MAX_LOSS, rtt: null, problem: 'the ICMP probe addon is not built: run `npm run bootstrap`',
    });
  });

  test('a remote Endpoint spec of the wrong shape never reaches the checker', () => {
    const checker = fakeChecker();
    const checks = createNodeHealthChecks({ settings: routeAgentHealthSettings(10), checker });
    const plan = workerPlan();
    checks.update({ ...plan, remoteClusters: [{ ...plan.remoteClusters[0]!, spec: { healthCheckIps: ['10.3.0.1'] } as unknown as EndpointSpec }] });
    assert.deepEqual(checker.given, [[]]);
  });
});
