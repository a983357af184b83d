/**
 * The RouteAgent object with the node's health checks (plan/route-agent-status.ts, `health`): what
 * each probe verdict makes of a programmed remote, latencyRTT, what is left out of a change
 * (sameRouteAgentContent), and the reporter and publisher around it: a verdict change is written
 * (refresh), an RTT change alone is not, and the refresh carries the RTT of its moment. Every object
 * is checked against Submariner's RouteAgent CRD with the lab API server's structural-schema code.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { planNode, type Plan, type PlanConfig } from '../../src/plan/node-plan.ts';
import { FENCING_ANNOTATION } from '../../src/plan/local-endpoint-object.ts';
import { routingObjects } from '../../src/plan/desired-objects.ts';
import { MAX_MESSAGE_LENGTH } from '../../src/plan/status-object.ts';
import {
  CABLE_ROUTES, ROUTES_PROGRAMMED, ROUTES_PROGRAMMED_MESSAGE, routeAgentObject, sameRouteAgentContent,
  type RouteAgentHealth, type RouteAgentInput, type RouteAgentObject, type UnsettledObject,
} from '../../src/plan/route-agent-status.ts';
import { GATEWAY_NODE_REASON, HEALTH_DISABLED_REASON } from '../../src/plan/route-agent-health.ts';
import type { ConnectionHealth } from '../../src/plan/gateway-status.ts';
import type { RttSummary } from '../../src/model/rtt-stats.ts';
import { createRouteAgentPublisher } from '../../src/k8s/route-agent-writer.ts';
import { createRouteAgentReporter } from '../../src/reconcile/route-agent-report.ts';
import { createNodeHealthChecks } from '../../src/reconcile/node-health-checks.ts';
import type { TargetHealth } from '../../src/cable/health-checker.ts';
import type { NodeFacts } from '../../src/model/node-facts.ts';
import type { Snapshot } from '../../src/model/snapshot.ts';
import { validateCustomResource, type JsonObject, type JsonSchemaProps } from '../lab/apiserver/structural-schema.ts';
import { submarinerCrd } from '../lab/apiserver/crd-files.ts';
import { captureLogger } from '../helpers/capture-logger.ts';
import { endpoint, gatewayNode, node, spec } from './model-fixtures.ts';

const crd = submarinerCrd('routeagents.submariner.io') as {
  spec: { versions: Array<{ schema: { openAPIV3Schema: JsonSchemaProps } }> };
};
const schema = crd.spec.versions[0]!.schema.openAPIV3Schema;

function assertAccepted(object: RouteAgentObject, what = 'object'): void {
  const result = validateCustomResource(schema, object as unknown as JsonObject);
  assert.deepEqual(result.errors.map((e) => `${e.field}: ${e.message}`), [], `${what}: validation errors`);
  assert.deepEqual(result.unknownFields, [], `${what}: fields the server would prune`);
}

const config: PlanConfig = {
  clusterId: 'east', nodeName: 'east-worker', podCidrs: ['10.244.0.0/16'], serviceCidrs: ['10.96.0.0/12'], minPrefixLength: 8, maxSubnetsPerEndpoint: 64,
};
const workerFacts: NodeFacts = {
  nodeIp: '192.168.1.21', underlayDevice: 'eth0', underlayMtu: 1500, cniInterface: { name: 'cni0', address: '10.244.1.1' }, networks: ['192.168.1.21/24'],
};
const gatewayFacts: NodeFacts = { ...workerFacts, nodeIp: '192.168.1.10', cniInterface: { name: 'cni0', address: '10.244.0.1' }, networks: ['192.168.1.10/24'] };

const local = (annotations: Record<string, string> = {}) => endpoint('east-ep', spec({
  cluster_id: 'east', cable_name: 'submariner-cable-east-192-168-1-10', hostname: 'east-gw', private_ip: '192.168.1.10', public_ip: '',
  subnets: ['10.244.0.0/16', '10.96.0.0/12'],
}), '2024-01-01T00:00:00Z', annotations);
const WEST = endpoint('west-ep', spec({ cluster_id: 'west', cable_name: 'cable-west', healthCheckIP: '10.2.0.1' }));
const NORTH = endpoint('north-ep', spec({ cluster_id: 'north', cable_name: 'cable-north', hostname: 'north-gw', private_ip: '192.168.3.10', public_ip: '', subnets: ['10.3.0.0/16'], healthCheckIP: '10.3.0.1' }));

const snapshot = (endpoints = [local(), WEST, NORTH]): Snapshot => ({
  endpoints, clusters: [], nodes: [gatewayNode('east-gw', '192.168.1.10'), node('east-worker', '192.168.1.21')],
});
const workerPlan = (snap = snapshot()): Plan => planNode(snap, workerFacts, config);

const RTT: RttSummary = { samples: 3, lastNs: 1_500_000, minNs: 1_000_000, averageNs: 1_250_000, maxNs: 1_500_000, stdDevNs: 204_124.1 };
const probe = (over: Partial<ConnectionHealth> = {}): ConnectionHealth => ({ ip: '10.2.0.1', verdict: 'healthy', lostInARow: 0, maxLoss: 3, rtt: RTT, ...over });
const health = (probes: Array<[string, ConnectionHealth]>, over: Partial<RouteAgentHealth> = {}): RouteAgentHealth => ({ skipped: new Map(), probes: new Map(probes), ...over });

function input(plan: Plan, over: Partial<RouteAgentInput> = {}): RouteAgentInput {
  return { nodeName: 'east-worker', namespace: 'submariner-operator', version: '0.1.0', plan, unsettled: [], ...over };
}

function built(i: RouteAgentInput): RouteAgentObject {
  const result = routeAgentObject(i);
  assert.ok(result.ok, result.ok ? '' : result.message);
  assertAccepted(result.object);
  return result.object;
}

const states = (object: RouteAgentObject) => object.status.remoteEndpoints.map((r) => [r.spec.cluster_id, r.status, r.statusMessage]);
const westOf = (object: RouteAgentObject) => object.status.remoteEndpoints.find((r) => r.spec.cluster_id === 'west')!;

describe('routeAgentObject with the node\'s health checks', () => {
  test('a reply to the last health checks: connected, saying so, with latencyRTT as Go durations', () => {
    const object = built(input(workerPlan(), { health: health([['west/cable-west', probe()], ['north/cable-north', probe({ ip: '10.3.0.1' })]]) }));
    assert.deepEqual(states(object), [
      ['north', 'connected', 'routes programmed on this node; health checks to 10.3.0.1 answered'],
      ['west', 'connected', 'routes programmed on this node; health checks to 10.2.0.1 answered'],
    ]);
    assert.deepEqual(westOf(object).latencyRTT, { last: '1.5ms', min: '1ms', average: '1.25ms', max: '1.5ms', stdDev: '204.124µs' });
  });

  test('the lost-probe limit reached: error, "no reply to health checks to <ip>: ...", though the routes are programmed', () => {
    const object = built(input(workerPlan(), { health: health([['west/cable-west', probe({ verdict: 'unhealthy', lostInARow: 4 })], ['north/cable-north', probe({ ip: '10.3.0.1' })]]) }));
    assert.deepEqual(westOf(object).status, 'error');
    assert.equal(westOf(object).statusMessage,
      'no reply to health checks to 10.2.0.1: the last 3 sent from this node got no answer, though its routes are programmed on this node: traffic from this node does not get through');
    assert.equal(object.status.remoteEndpoints[0]!.status, 'connected', 'the other remote is judged by its own probes');
    // The count of losses so far is no part of the message: another lost probe is not a change.
    const later = built(input(workerPlan(), { health: health([['west/cable-west', probe({ verdict: 'unhealthy', lostInARow: 9 })], ['north/cable-north', probe({ ip: '10.3.0.1' })]]) }));
    assert.equal(sameRouteAgentContent(object, later), true);
  });

  test('no reply yet (a new target, or none planned into the checker yet): connecting, waiting for the first reply; no latencyRTT', () => {
    const object = built(input(workerPlan(), { health: health([['west/cable-west', probe({ verdict: 'unknown', rtt: null })]]) }));
    assert.deepEqual(states(object), [
      ['north', 'connecting', 'routes programmed on this node; waiting for the first reply to a health check to 10.3.0.1'],
      ['west', 'connecting', 'routes programmed on this node; waiting for the first reply to a health check to 10.2.0.1'],
    ]);
    assert.ok(object.status.remoteEndpoints.every((r) => !('latencyRTT' in r)));
  });

  test('a node that cannot send probes is never connected on an old verdict: connecting, with the reason', () => {
    const object = built(input(workerPlan(), {
      health: health([['west/cable-west', probe({ problem: 'the health-check socket cannot be opened from 10.244.1.1: socket(): Operation not permitted' })]]),
    }));
    assert.deepEqual(states(object)[1], ['west', 'connecting',
      'routes programmed on this node, but this node cannot send health checks to 10.2.0.1: the health-check socket cannot be opened from 10.244.1.1: socket(): Operation not permitted']);
  });

  test('not probed: on the gateway node, when disabled, without a usable healthCheckIP: connected on the routes, saying why there is no health check', () => {
    const gateway = planNode(snapshot(), gatewayFacts, { ...config, nodeName: 'east-gw' });
    const onGateway = built(input(gateway, { nodeName: 'east-gw', health: health([], { off: GATEWAY_NODE_REASON }) }));
    assert.deepEqual(onGateway.status.remoteEndpoints.map((r) => [r.status, r.statusMessage]), [
      ['connected', `${ROUTES_PROGRAMMED} (no health check: ${GATEWAY_NODE_REASON})`],
      ['connected', `${ROUTES_PROGRAMMED} (no health check: ${GATEWAY_NODE_REASON})`],
    ]);
    const seawayGateway = planNode(snapshot([local({ [FENCING_ANNOTATION]: '3' }), WEST, NORTH]), gatewayFacts, { ...config, nodeName: 'east-gw' });
    assert.equal(built(input(seawayGateway, { nodeName: 'east-gw', health: health([], { off: GATEWAY_NODE_REASON }) })).status.remoteEndpoints[0]!.statusMessage,
      `${CABLE_ROUTES} (no health check: ${GATEWAY_NODE_REASON})`);
    const disabled = built(input(workerPlan(), { health: health([['west/cable-west', probe()]], { off: HEALTH_DISABLED_REASON }) }));
    assert.deepEqual(states(disabled)[1], ['west', 'connected', `${ROUTES_PROGRAMMED} (no health check: ${HEALTH_DISABLED_REASON})`]);
    assert.ok(!('latencyRTT' in westOf(disabled)), 'no RTT from checks that are off');
    const skipped = built(input(workerPlan(), { health: health([['north/cable-north', probe({ ip: '10.3.0.1' })]], { skipped: new Map([['west/cable-west', 'the remote Endpoint names no healthCheckIP']]) }) }));
    assert.deepEqual(states(skipped)[1], ['west', 'connected', 'routes programmed on this node (no health check: the remote Endpoint names no healthCheckIP)']);
  });

  test('routing comes first: a failed or pending route is error or connecting whatever the probes say, and the RTT measured is still shown', () => {
    const plan = workerPlan();
    const route = routingObjects(plan.desired).find((o) => o.kind === 'route' && o.key.endsWith('10.2.0.0/16'))!;
    const failed: UnsettledObject[] = [{ ...route, state: 'failed', reason: 'boom', desired: true }];
    const object = built(input(plan, { unsettled: failed, health: health([['west/cable-west', probe()]]) }));
    assert.equal(westOf(object).status, 'error');
    assert.match(westOf(object).statusMessage, /failed: boom$/);
    assert.equal(westOf(object).latencyRTT?.last, '1.5ms');
    const pending: UnsettledObject[] = [{ ...route, state: 'pending', desired: true }];
    assert.equal(westOf(built(input(plan, { unsettled: pending, health: health([['west/cable-west', probe({ verdict: 'unhealthy' })]]) }))).status, 'connecting');
  });

  test('without health input the object is as before (no probes, the old messages, no latencyRTT)', () => {
    const object = built(input(workerPlan()));
    assert.ok(object.status.remoteEndpoints.every((r) => r.status === 'connected' && r.statusMessage === ROUTES_PROGRAMMED_MESSAGE && !('latencyRTT' in r)));
  });

  test('garbage health input (a JavaScript caller) never throws and never invents a measurement', () => {
    const plan = workerPlan();
    const odd: unknown[] = [
      7, null, { skipped: 'x', probes: 'y' }, { skipped: new Map(), probes: new Map([['west/cable-west', 5]]) },
      { skipped: new Map(), probes: new Map([['west/cable-west', { ...probe(), rtt: { samples: 2, lastNs: Number.NaN, minNs: 1, averageNs: 1, maxNs: 1, stdDevNs: 0 } }]]) },
      { skipped: new Map(), probes: new Map([['west/cable-west', { ...probe(), rtt: { samples: 0, lastNs: 1, minNs: 1, averageNs: 1, maxNs: 1, stdDevNs: 0 } }]]) },
      { skipped: new Map(), probes: new Map([['west/cable-west', { ...probe(), rtt: 'fast', ip: 9, problem: 4 }]]) },
      { off: 12, skipped: new Map([['west/cable-west', 3]]), probes: new Map() },
    ];
    for (const h of odd) {
      const object = built(input(plan, { health: h as RouteAgentHealth }));
      assert.ok(!('latencyRTT' in westOf(object)), JSON.stringify(h));
      assert.ok(['connected', 'connecting', 'error'].includes(westOf(object).status));
    }
  });

  test('long problems are clipped to 1 KiB and the object stays valid', () => {
    const object = built(input(workerPlan(), { health: health([['west/cable-west', probe({ problem: 'p'.repeat(5000) })]]) }));
    assert.equal(westOf(object).statusMessage.length, MAX_MESSAGE_LENGTH);
  });
});

describe('sameRouteAgentContent: what a change is judged on', () => {
  test('the RTT figures alone are no change; a status, a message, a remote or the failure are', () => {
    const a = built(input(workerPlan(), { health: health([['west/cable-west', probe()]]) }));
    const b = built(input(workerPlan(), { health: health([['west/cable-west', probe({ rtt: { ...RTT, lastNs: 9_000_000, maxNs: 9_000_000 } })]]) }));
    assert.notDeepEqual(a, b);
    assert.equal(sameRouteAgentContent(a, b), true);
    const noRtt = built(input(workerPlan(), { health: health([['west/cable-west', probe({ rtt: null })]]) }));
    assert.equal(sameRouteAgentContent(a, noRtt), true, 'an RTT appearing or going is no change either');
    const lost = built(input(workerPlan(), { health: health([['west/cable-west', probe({ verdict: 'unhealthy' })]]) }));
    assert.equal(sameRouteAgentContent(a, lost), false);
    const failed = built(input(workerPlan(), { failure: 'x', health: health([['west/cable-west', probe()]]) }));
    assert.equal(sameRouteAgentContent(a, failed), false);
    const fewer = built(input(workerPlan(snapshot([local(), WEST])), { health: health([['west/cable-west', probe()]]) }));
    assert.equal(sameRouteAgentContent(a, fewer), false);
  });
});

describe('the reporter and publisher with health checks', () => {
  const NOW = 1_800_000_000_000;
  const plan = workerPlan(snapshot([local(), WEST]));

  /** A reporter over the real publisher, a recording writer, a hand-driven clock and timers, and health checks over a settable result. */
  function harness() {
    let clock = NOW;
    const timers: Array<{ at: number; run: () => void; id: number }> = [];
    let nextId = 0;
    const writes: RouteAgentObject[] = [];
    const results = new Map<string, TargetHealth>();
    const checks = createNodeHealthChecks({
      settings: { intervalMs: 10_000, maxLoss: 3, maxProbesPerSecond: 2 },
      checker: { setTargets() {}, health: (key) => results.get(key), close() {} },
    });
    const reporter = createRouteAgentReporter({
      nodeName: 'east-worker', namespace: 'submariner-operator', version: '0.1.0', logger: captureLogger().logger,
      publisher: createRouteAgentPublisher({ write: async (o: RouteAgentObject) => { writes.push(o); return { ok: true as const, name: o.metadata.name, action: 'replaced' as const, uid: 'u', resourceVersion: '1' }; } }),
      now: () => clock,
      health: (p) => checks.view(p),
      setTimer: (run, ms) => { const id = ++nextId; timers.push({ at: clock + ms, run, id }); return id; },
      clearTimer: (id) => { const i = timers.findIndex((t) => t.id === id); if (i >= 0) timers.splice(i, 1); },
    });
    const settle = () => new Promise((resolve) => setImmediate(resolve));
    return {
      reporter, writes, results, settle,
      async advance(ms: number) {
        const until = clock + ms;
        for (;;) {
          timers.sort((a, b) => a.at - b.at);
          const due = timers[0];
          if (due === undefined || due.at > until) break;
          timers.shift();
          clock = due.at;
          due.run();
          await settle();
        }
        clock = until;
      },
    };
  }
  const rttOf = (o: RouteAgentObject) => o.status.remoteEndpoints[0]!.latencyRTT?.last;
  const stateOf = (o: RouteAgentObject) => o.status.remoteEndpoints[0]!.status;

  test('a verdict change is written on refresh() (within the budget), with no pass needed', async () => {
    const h = harness();
    h.reporter.report({ plan, unsettled: [] });
    await h.settle();
    assert.deepEqual(h.writes.map(stateOf), ['connecting']);
    h.results.set('west/cable-west', probe());
    h.reporter.refresh();
    await h.settle();
    assert.equal(h.writes.length, 1, 'not sooner than 10 s after the last write');
    await h.advance(10_000);
    assert.deepEqual(h.writes.map(stateOf), ['connecting', 'connected']);
    h.results.set('west/cable-west', probe({ verdict: 'unhealthy' }));
    h.reporter.refresh();
    await h.settle();
    await h.advance(10_000);
    assert.deepEqual(h.writes.map(stateOf), ['connecting', 'connected', 'error']);
    await h.reporter.stop();
  });

  test('RTT changes alone are not written early, by a pass or a refresh; the minute\'s refresh carries the RTT of its moment', async () => {
    const h = harness();
    h.results.set('west/cable-west', probe());
    h.reporter.report({ plan, unsettled: [] });
    await h.settle();
    assert.deepEqual(h.writes.map(rttOf), ['1.5ms']);
    // A pass and a refresh at 15, 30 and 45 s, each with another RTT.
    for (const lastNs of [2_000_000, 3_000_000, 4_000_000]) {
      await h.advance(15_000);
      h.results.set('west/cable-west', probe({ rtt: { ...RTT, lastNs, maxNs: lastNs } }));
      h.reporter.report({ plan, unsettled: [] });
      h.reporter.refresh();
      await h.settle();
    }
    assert.equal(h.writes.length, 1, 'three RTT changes in a minute: no write');
    h.results.set('west/cable-west', probe({ rtt: { ...RTT, lastNs: 7_000_000, maxNs: 7_000_000 } }));
    await h.advance(15_000);
    assert.deepEqual(h.writes.map(rttOf), ['1.5ms', '7ms'], 'the refresh a minute after the last write, with the RTT read then');
    await h.reporter.stop();
  });
});
