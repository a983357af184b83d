/**
 * The RouteAgent object (plan/route-agent-status.ts): one per node, listing every remote Endpoint
 * the cluster-wide verdict accepted with the state of this node's path to it, built from real plans
 * (planNode) and a real object table. Every object built here is checked against Submariner's
 * RouteAgent CRD (loaded with js-yaml) with the lab API server's structural-schema code: no
 * validation error and no field the server would prune, so the API server stores it as sent.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { planNode, type Plan, type PlanConfig } from '../../src/plan/node-plan.ts';
import { FENCING_ANNOTATION } from '../../src/plan/local-endpoint-object.ts';
import { routingObjects, routeKey, type ObjectRef } from '../../src/plan/desired-objects.ts';
import { ObjectTable, type ComponentReport, type ObjectStatus } from '../../src/reconcile/object-table.ts';
import { MAX_MESSAGE_LENGTH } from '../../src/plan/status-object.ts';
import {
  CABLE_ROUTES_MESSAGE, ROUTE_AGENT_WRITE_BUDGET, ROUTES_PROGRAMMED_MESSAGE, routeAgentObject, routeAgentObjectName,
  type RouteAgentInput, type RouteAgentObject, type UnsettledObject,
} from '../../src/plan/route-agent-status.ts';
import type { NodeFacts } from '../../src/model/node-facts.ts';
import type { EndpointSpec } from '../../src/model/endpoint.ts';
import type { Snapshot } from '../../src/model/snapshot.ts';
import { validateCustomResource, type JsonObject, type JsonSchemaProps } from '../lab/apiserver/structural-schema.ts';
import { submarinerCrd } from '../lab/apiserver/crd-files.ts';
import { endpoint, gatewayNode, node, shuffled, spec } from './model-fixtures.ts';

const crd = submarinerCrd('routeagents.submariner.io') as {
  spec: { versions: Array<{ schema: { openAPIV3Schema: JsonSchemaProps }; subresources?: Record<string, unknown> }> };
};
const schema = crd.spec.versions[0]!.schema.openAPIV3Schema;

/** The API server would store it exactly as sent: nothing pruned, nothing invalid. */
function assertAccepted(object: RouteAgentObject, what = 'object'): void {
  const result = validateCustomResource(schema, object as unknown as JsonObject);
  assert.deepEqual(result.errors.map((e) => `${e.field}: ${e.message}`), [], `${what}: validation errors`);
  assert.deepEqual(result.unknownFields, [], `${what}: fields the server would prune`);
}

const config: PlanConfig = {
  clusterId: 'east', nodeName: 'east-worker', podCidrs: ['10.244.0.0/16'], serviceCidrs: ['10.96.0.0/12'],
  minPrefixLength: 8, maxSubnetsPerEndpoint: 64,
};
const gatewayConfig: PlanConfig = { ...config, nodeName: 'east-gw' };
const workerFacts: NodeFacts = {
  nodeIp: '192.168.1.21', underlayDevice: 'eth0', underlayMtu: 1500,
  cniInterface: { name: 'cni0', address: '10.244.1.1' }, networks: ['192.168.1.21/24'],
};
const gatewayFacts: NodeFacts = {
  nodeIp: '192.168.1.10', underlayDevice: 'eth0', underlayMtu: 1500,
  cniInterface: { name: 'cni0', address: '10.244.0.1' }, networks: ['192.168.1.10/24'],
};

function local(annotations: Record<string, string> = {}) {
  return endpoint('east-submariner-cable-east-192-168-1-10', spec({
    cluster_id: 'east', cable_name: 'submariner-cable-east-192-168-1-10', hostname: 'east-gw', private_ip: '192.168.1.10',
    public_ip: '', subnets: ['10.244.0.0/16', '10.96.0.0/12'],
  }), '2024-01-01T00:00:00Z', annotations);
}
const WEST = endpoint('west-submariner-cable-west-192-168-2-10', spec({
  cluster_id: 'west', cable_name: 'submariner-cable-west-192-168-2-10', hostname: 'west-gw', private_ip: '192.168.2.10',
  public_ip: '203.0.113.10', subnets: ['10.2.0.0/16', '10.202.0.0/16'],
}), '2024-01-01T00:00:00Z');
const NORTH = endpoint('north-submariner-cable-north-192-168-3-10', spec({
  cluster_id: 'north', cable_name: 'submariner-cable-north-192-168-3-10', hostname: 'north-gw', private_ip: '192.168.3.10',
  public_ip: '', subnets: ['10.3.0.0/16'], nat_enabled: true, healthCheckIP: '10.3.0.1',
}), '2024-01-01T00:00:00Z');

function snapshot(endpoints = [local(), WEST, NORTH]): Snapshot {
  return {
    endpoints, clusters: [],
    nodes: [gatewayNode('east-gw', '192.168.1.10'), node('east-worker', '192.168.1.21'), node('east-worker-2', '192.168.1.22')],
  };
}

const workerPlan = (snap = snapshot(), facts = workerFacts): Plan => planNode(snap, facts, config);

/**
 * The object table after the routing and filter components applied `plan`: everything programmed
 * except `failures` (failed, or pending when blocked) and `deferred` (left as they were).
 */
function tableAfter(plan: Plan, report: Partial<ComponentReport> = {}, filter: 'programmed' | 'undetected' | 'failed' = 'programmed'): ObjectTable {
  const table = new ObjectTable({ backoff: { minMs: 200, maxMs: 30_000 }, now: () => 1_000_000, random: () => 1 });
  const objects = routingObjects(plan.desired);
  table.prepare('routing', objects);
  table.record('routing', objects, { failures: report.failures ?? [], deferred: report.deferred ?? [] });
  const filterObject = filter === 'undetected' ? { kind: 'filter' as const, key: 'undetected', object: 'packet filter' } : { kind: 'filter' as const, key: 'iptables-nft', object: 'packet filter (iptables-nft)' };
  table.prepare('packet-filter', [filterObject]);
  table.record('packet-filter', [filterObject], {
    failures: filter === 'programmed' ? [] : filter === 'undetected'
      ? [{ ...filterObject, reason: 'waiting for the packet filter backend (see packet-filter)', blocked: true }]
      : [{ ...filterObject, reason: 'iptables-restore: line 3 failed', code: 'EINVAL' }],
    deferred: [],
  });
  return table;
}

function input(plan: Plan, over: Partial<RouteAgentInput> = {}): RouteAgentInput {
  return { nodeName: 'east-worker', namespace: 'submariner-operator', version: '0.1.0', plan, unsettled: tableAfter(plan).unsettled(), ...over };
}

function built(i: RouteAgentInput): { object: RouteAgentObject; notes: string[] } {
  const result = routeAgentObject(i);
  assert.ok(result.ok, result.ok ? '' : result.message);
  assertAccepted(result.object);
  return result;
}

const states = (object: RouteAgentObject) => object.status.remoteEndpoints.map((r) => [r.spec.cluster_id, r.status, r.statusMessage]);

const routeRef = (dst: string, table = 254): ObjectRef => ({ kind: 'route', key: routeKey({ table, dst }) });

describe('routeAgentObject', () => {
  test('the CRD really has no status subresource and requires remoteEndpoints, statusFailure and version (what the rest relies on)', () => {
    assert.equal(crd.spec.versions[0]!.subresources, undefined);
    assert.deepEqual(schema.properties!['status']!.required, ['remoteEndpoints', 'statusFailure', 'version']);
    assert.deepEqual(schema.properties!['status']!.properties!['remoteEndpoints']!.items!.required, ['spec', 'status', 'statusMessage']);
  });

  test('the schema check used throughout does catch what the API server would refuse or prune', () => {
    const good = built(input(workerPlan())).object;
    const broken = structuredClone(good) as unknown as { status: Record<string, any> };
    broken.status.remoteEndpoints[0].spec.cluster_id = '';
    assert.throws(() => assertAccepted(broken as unknown as RouteAgentObject), /cluster_id/);
    const missing = structuredClone(good) as unknown as { status: Record<string, unknown> };
    delete missing.status['statusFailure'];
    assert.throws(() => assertAccepted(missing as unknown as RouteAgentObject), /statusFailure/);
    const extra = structuredClone(good) as unknown as { status: Record<string, any> };
    extra.status.remoteEndpoints[0].rtt = '1ms';
    assert.throws(() => assertAccepted(extra as unknown as RouteAgentObject), /prune/);
  });

  test('a worker with every route programmed: the whole object, named after the node, each remote connected', () => {
    const { object, notes } = built(input(workerPlan()));
    assert.deepEqual(notes, []);
    assert.deepEqual(object, {
      apiVersion: 'submariner.io/v1',
      kind: 'RouteAgent',
      metadata: { name: 'east-worker', namespace: 'submariner-operator' },
      status: {
        version: '0.1.0',
        statusFailure: '',
        remoteEndpoints: [
          {
            status: 'connected', statusMessage: ROUTES_PROGRAMMED_MESSAGE,
            spec: {
              cluster_id: 'north', cable_name: 'submariner-cable-north-192-168-3-10', hostname: 'north-gw', subnets: ['10.3.0.0/16'],
              private_ip: '192.168.3.10', healthCheckIP: '10.3.0.1', nat_enabled: true, backend: 'libreswan',
              backend_config: { 'natt-discovery-port': '4490', 'udp-port': '4500' }, privateIPs: ['192.168.3.10'], healthCheckIPs: ['10.3.0.1'],
            },
          },
          {
            status: 'connected', statusMessage: ROUTES_PROGRAMMED_MESSAGE,
            spec: {
              cluster_id: 'west', cable_name: 'submariner-cable-west-192-168-2-10', hostname: 'west-gw', subnets: ['10.2.0.0/16', '10.202.0.0/16'],
              private_ip: '192.168.2.10', public_ip: '203.0.113.10', healthCheckIP: '10.2.0.1', nat_enabled: false, backend: 'libreswan',
              backend_config: { 'natt-discovery-port': '4490', 'udp-port': '4500' },
              privateIPs: ['192.168.2.10'], publicIPs: ['203.0.113.10'], healthCheckIPs: ['10.2.0.1'],
            },
          },
        ],
      },
    });
    assert.equal(ROUTES_PROGRAMMED_MESSAGE, 'routes programmed on this node (no health check yet)');
    assert.ok(!('latencyRTT' in object.status.remoteEndpoints[0]!), 'no RTT: nothing measures it yet');
  });

  test('no remote Endpoint: remoteEndpoints is an empty list, not absent (required)', () => {
    const { object } = built(input(workerPlan(snapshot([local()]))));
    assert.deepEqual(object.status.remoteEndpoints, []);
  });

  test('remotes are sorted by cluster and cable whatever the order of the Endpoints and of the table', () => {
    const plan = workerPlan();
    const unsettled = tableAfter(plan, { failures: [{ ...routeRef('10.3.0.0/16'), object: 'r', reason: 'EEXIST' }] }, 'undetected').unsettled();
    const a = built(input(plan, { unsettled })).object;
    for (const seed of [1, 2, 3, 4]) {
      const b = built(input(workerPlan(snapshot(shuffled([local(), WEST, NORTH], seed))), { unsettled: shuffled(unsettled, seed) })).object;
      assert.deepEqual(b, a, `seed ${seed}`);
    }
    assert.deepEqual(a.status.remoteEndpoints.map((r) => r.spec.cluster_id), ['north', 'west']);
    // Same cluster, two cables (a JavaScript caller's input): by cable.
    const twoCables = { ...plan, remoteClusters: [plan.remoteClusters[1]!, { ...plan.remoteClusters[1]!, spec: { ...plan.remoteClusters[1]!.spec, cableName: 'a-cable' } }] };
    assert.deepEqual(built(input(twoCables)).object.status.remoteEndpoints.map((r) => r.spec.cable_name), ['a-cable', 'submariner-cable-west-192-168-2-10']);
  });

  test('a route not programmed yet: that remote is connecting, naming the route and why; the others stay connected', () => {
    const plan = workerPlan();
    const { object } = built(input(plan, { unsettled: tableAfter(plan, { failures: [{ ...routeRef('10.202.0.0/16'), object: 'route 10.202.0.0/16 via 240.168.1.10 dev vx-submariner table 254', reason: 'device vx-submariner does not exist yet', blocked: true }] }).unsettled() }));
    assert.deepEqual(states(object), [
      ['north', 'connected', ROUTES_PROGRAMMED_MESSAGE],
      ['west', 'connecting', 'route 10.202.0.0/16 via 240.168.1.10 dev vx-submariner table 254 not programmed yet: device vx-submariner does not exist yet'],
    ]);
  });

  test('every object pending (a pass that could program nothing yet): connecting, naming at most three objects', () => {
    const plan = workerPlan();
    const pending: UnsettledObject[] = routingObjects(plan.desired).map((o) => ({ kind: o.kind, key: o.key, object: o.object, state: 'pending', desired: true }));
    const { object } = built(input(plan, { unsettled: pending }));
    assert.deepEqual(object.status.remoteEndpoints.map((r) => r.status), ['connecting', 'connecting']);
    assert.match(object.status.remoteEndpoints[0]!.statusMessage, /^route 10\.3\.0\.0\/16 .* not programmed yet; address 240\.168\.1\.21\/8 on vx-submariner not programmed yet; link vx-submariner .* not programmed yet; and 4 more$/);
  });

  test('the packet filter backend not detected yet: every remote connecting, saying what it waits for', () => {
    const plan = workerPlan();
    const { object } = built(input(plan, { unsettled: tableAfter(plan, {}, 'undetected').unsettled() }));
    assert.deepEqual(states(object), [
      ['north', 'connecting', 'packet filter not programmed yet: waiting for the packet filter backend (see packet-filter)'],
      ['west', 'connecting', 'packet filter not programmed yet: waiting for the packet filter backend (see packet-filter)'],
    ]);
  });

  test('a failed route: error for its remote only, with the kernel\'s words and errno, never the attempt count or the next retry', () => {
    const plan = workerPlan();
    const failure = { ...routeRef('10.2.0.0/16'), object: 'route 10.2.0.0/16 via 240.168.1.10 dev vx-submariner table 254', reason: 'a route of protocol boot is at 10.2.0.0/16', code: 'EEXIST' };
    const table = tableAfter(plan, { failures: [failure] });
    const first = built(input(plan, { unsettled: table.unsettled() })).object;
    assert.deepEqual(states(first), [
      ['north', 'connected', ROUTES_PROGRAMMED_MESSAGE],
      ['west', 'error', 'route 10.2.0.0/16 via 240.168.1.10 dev vx-submariner table 254 failed: EEXIST: a route of protocol boot is at 10.2.0.0/16'],
    ]);
    // The same failure on later attempts (another count, another retry time, another since): the same object.
    const later: ObjectStatus[] = table.unsettled().map((s) => ({ ...s, attempts: s.attempts + 5, retryAt: (s.retryAt ?? 0) + 60_000, since: s.since + 1 }));
    assert.deepEqual(built(input(plan, { unsettled: later })).object, first);
  });

  test('a failed node-wide object (the packet filter, the VXLAN link): every remote is in error', () => {
    const plan = workerPlan();
    const filtered = built(input(plan, { unsettled: tableAfter(plan, {}, 'failed').unsettled() })).object;
    assert.deepEqual(filtered.status.remoteEndpoints.map((r) => [r.status, r.statusMessage]), [
      ['error', 'packet filter (iptables-nft) failed: EINVAL: iptables-restore: line 3 failed'],
      ['error', 'packet filter (iptables-nft) failed: EINVAL: iptables-restore: line 3 failed'],
    ]);
    const link = routingObjects(plan.desired).find((o) => o.kind === 'link')!;
    const linked = built(input(plan, { unsettled: tableAfter(plan, { failures: [{ ...link, reason: 'Operation not permitted', code: 'EPERM' }] }).unsettled() })).object;
    assert.ok(linked.status.remoteEndpoints.every((r) => r.status === 'error' && r.statusMessage.startsWith('link vx-submariner (vxlan vni 100') && r.statusMessage.endsWith('failed: EPERM: Operation not permitted')));
  });

  test('an object held back in its backoff keeps its failed state; an object being removed (not desired) is no remote\'s concern', () => {
    const plan = workerPlan();
    const failure = { ...routeRef('10.3.0.0/16'), object: 'route 10.3.0.0/16', reason: 'boom' };
    const table = tableAfter(plan, { failures: [failure] });
    const objects = routingObjects(plan.desired);
    table.prepare('routing', objects);
    table.record('routing', objects, { failures: [{ kind: 'route', key: '254 10.9.0.0/16', object: 'removing route 10.9.0.0/16', reason: 'EBUSY' }], deferred: [routeRef('10.3.0.0/16')] });
    const { object } = built(input(plan, { unsettled: table.unsettled() }));
    // A wanted object keeps its wanted description (the table's rule), whatever the failure's object says.
    assert.deepEqual(states(object), [['north', 'error', 'route 10.3.0.0/16 via 240.168.1.10 dev vx-submariner table 254 failed: boom'], ['west', 'connected', ROUTES_PROGRAMMED_MESSAGE]]);
  });

  test('a subnet this node refuses (it overlaps one of its own networks): error with the reason, though the rest is programmed', () => {
    const facts = { ...workerFacts, networks: ['192.168.1.21/24', '10.202.7.0/24'] };
    const plan = workerPlan(snapshot(), facts);
    assert.equal(plan.refusedHere.length, 1);
    const { object } = built(input(plan));
    assert.deepEqual(states(object), [
      ['north', 'connected', ROUTES_PROGRAMMED_MESSAGE],
      ['west', 'error', 'subnet 10.202.0.0/16 of cluster "west" overlaps this node\'s network 10.202.7.0/24; not routed on this node'],
    ]);
    // The refusal comes first; the subnets this node does route are still listed in the spec.
    assert.deepEqual(object.status.remoteEndpoints[1]!.spec.subnets, ['10.2.0.0/16', '10.202.0.0/16']);
    const failing = tableAfter(plan, { failures: [{ ...routeRef('10.2.0.0/16'), object: 'route 10.2.0.0/16', reason: 'EIO' }] }).unsettled();
    assert.equal(built(input(plan, { unsettled: failing })).object.status.remoteEndpoints[1]!.statusMessage,
      'subnet 10.202.0.0/16 of cluster "west" overlaps this node\'s network 10.202.7.0/24; not routed on this node; route 10.2.0.0/16 via 240.168.1.10 dev vx-submariner table 254 failed: EIO');
  });

  test('no trusted local Endpoint: the gateway is unknown, nothing is routed, every remote connecting with that reason', () => {
    const plan = workerPlan(snapshot([WEST, NORTH]));
    assert.equal(plan.localEndpoint, null);
    const { object } = built(input(plan, { unsettled: [] }));
    assert.deepEqual(object.status.remoteEndpoints.map((r) => [r.status, r.statusMessage]), [
      ['connecting', 'the local cluster\'s gateway is not known (no trusted local Endpoint): no remote subnet is routed on this node'],
      ['connecting', 'the local cluster\'s gateway is not known (no trusted local Endpoint): no remote subnet is routed on this node'],
    ]);
    assert.equal(object.status.statusFailure, '');
  });

  test('the gateway with Submariner\'s local Endpoint routes the remote subnets in table 150: connected once those are programmed', () => {
    const plan = planNode(snapshot(), gatewayFacts, gatewayConfig);
    assert.ok(plan.desired.routes.every((r) => r.table === 150));
    const { object } = built(input(plan, { nodeName: 'east-gw' }));
    assert.deepEqual(object.metadata.name, 'east-gw');
    assert.deepEqual(object.status.remoteEndpoints.map((r) => r.status), ['connected', 'connected']);
    const failing = tableAfter(plan, { failures: [{ ...routeRef('10.3.0.0/16', 150), object: 'route 10.3.0.0/16 dev eth0 src 10.244.0.1 table 150', reason: 'ENETUNREACH' }] }).unsettled();
    assert.deepEqual(states(built(input(plan, { nodeName: 'east-gw', unsettled: failing })).object)[0], ['north', 'error', 'route 10.3.0.0/16 dev eth0 src 10.244.0.1 table 150 failed: ENETUNREACH']);
    // A worker's table-254 route at the same destination is another object: no concern of the gateway's.
    const other = tableAfter(plan, { failures: [{ ...routeRef('10.3.0.0/16', 254), object: 'removing route 10.3.0.0/16', reason: 'x' }] }).unsettled();
    assert.equal(states(built(input(plan, { nodeName: 'east-gw', unsettled: other })).object)[0]![1], 'connected');
  });

  test('the gateway whose local Endpoint is seaway\'s: its cable routes the subnets, so connected once the route agent\'s objects are', () => {
    const plan = planNode(snapshot([local({ [FENCING_ANNOTATION]: '3' }), WEST, NORTH]), gatewayFacts, gatewayConfig);
    assert.deepEqual(plan.desired.routes, []);
    const { object } = built(input(plan, { nodeName: 'east-gw' }));
    assert.deepEqual(object.status.remoteEndpoints.map((r) => [r.status, r.statusMessage]), [['connected', CABLE_ROUTES_MESSAGE], ['connected', CABLE_ROUTES_MESSAGE]]);
    const undetected = built(input(plan, { nodeName: 'east-gw', unsettled: tableAfter(plan, {}, 'undetected').unsettled() })).object;
    assert.ok(undetected.status.remoteEndpoints.every((r) => r.status === 'connecting'));
  });

  test('the gateway before the CNI interface is known routes nothing: connecting, saying so', () => {
    const plan = planNode(snapshot(), { ...gatewayFacts, cniInterface: null }, gatewayConfig);
    assert.deepEqual(plan.desired.routes, []);
    const { object } = built(input(plan, { nodeName: 'east-gw' }));
    assert.deepEqual(object.status.remoteEndpoints.map((r) => r.statusMessage), [
      'the CNI interface is not known yet: this gateway routes no remote subnet until it is',
      'the CNI interface is not known yet: this gateway routes no remote subnet until it is',
    ]);
    // Meanwhile a node-wide object that failed is still an error.
    const link = routingObjects(plan.desired).find((o) => o.kind === 'link')!;
    const failing = tableAfter(plan, { failures: [{ ...link, reason: 'EPERM' }] }).unsettled();
    assert.deepEqual(built(input(plan, { nodeName: 'east-gw', unsettled: failing })).object.status.remoteEndpoints.map((r) => r.status), ['error', 'error']);
  });

  test('a subnet with no planned route (a JavaScript caller\'s plan) is connecting, naming the subnet', () => {
    const plan = workerPlan();
    const partial = { ...plan, desired: { ...plan.desired, routes: plan.desired.routes.filter((r) => r.dst !== '10.3.0.0/16') } };
    assert.deepEqual(states(built(input(partial)).object)[0], ['north', 'connecting', 'no route for subnet 10.3.0.0/16 is planned on this node yet']);
  });

  test('a pass that failed as a whole: statusFailure says why, and every remote is in error (what is programmed cannot be vouched for)', () => {
    const plan = workerPlan();
    const { object } = built(input(plan, { failure: 'routing: netlink dump of routes failed: ENOBUFS' }));
    assert.equal(object.status.statusFailure, 'reconcile pass failed: routing: netlink dump of routes failed: ENOBUFS');
    assert.deepEqual(object.status.remoteEndpoints.map((r) => [r.status, r.statusMessage]), [
      ['error', 'the reconcile pass failed: routing: netlink dump of routes failed: ENOBUFS'],
      ['error', 'the reconcile pass failed: routing: netlink dump of routes failed: ENOBUFS'],
    ]);
  });

  test('a remote whose Endpoint the CRD would refuse is left out with a note; the others are still written', () => {
    const plan = workerPlan();
    const [north, west] = plan.remoteClusters as [Plan['remoteClusters'][number], Plan['remoteClusters'][number]];
    const odd = {
      ...plan,
      remoteClusters: [
        { ...west, spec: { ...west.spec, clusterId: '' } },
        { ...north, spec: { ...north.spec, clusterId: 'n'.repeat(64) } },
        north,
        { ...north, spec: null as unknown as EndpointSpec },
        null as unknown as Plan['remoteClusters'][number],
        north,
      ],
    };
    const { object, notes } = built(input(odd));
    assert.deepEqual(object.status.remoteEndpoints.map((r) => r.spec.cluster_id), ['north']);
    assert.deepEqual(notes, [
      'remote 0 (submariner-cable-west-192-168-2-10): cluster_id is empty; left out of the RouteAgent status',
      'remote 1 (submariner-cable-north-192-168-3-10): cluster_id is 64 characters long, more than the CRD\'s 63; left out of the RouteAgent status',
      'remote 3: the Endpoint spec is not an object; left out of the RouteAgent status',
      'remote 4: not an object; left out',
      'remote 5 (submariner-cable-north-192-168-3-10): listed twice; the first kept',
    ]);
  });

  test('a remote with fields of the wrong type or too many addresses is still written, with what is there, and accepted', () => {
    const plan = workerPlan();
    const west = plan.remoteClusters[1]!;
    const odd = {
      ...west.spec, cableName: 7, hostname: null, subnets: ['10.2.0.0/16', 5], natEnabled: 'yes', backend: undefined,
      backendConfig: { 'udp-port': 4500, preferred: 'true' }, privateIps: ['192.168.2.10', '192.168.2.11', '192.168.2.12'],
      publicIps: 'nope', healthCheckIps: [],
    } as unknown as EndpointSpec;
    const { object, notes } = built(input({ ...plan, remoteClusters: [{ ...west, spec: odd }] }));
    assert.deepEqual(notes, []);
    assert.deepEqual(object.status.remoteEndpoints, [{
      status: 'connected', statusMessage: ROUTES_PROGRAMMED_MESSAGE,
      spec: {
        cluster_id: 'west', cable_name: '', hostname: '', subnets: ['10.2.0.0/16'], private_ip: '192.168.2.10', nat_enabled: false, backend: '',
        backend_config: { preferred: 'true' }, privateIPs: ['192.168.2.10', '192.168.2.11'],
      },
    }]);
  });

  test('an Endpoint with no IPv4 subnet (null in Go, or IPv6 only) is listed, connecting, saying there is nothing to route', () => {
    const south = endpoint('south-ep', spec({ cluster_id: 'south', hostname: 'south-gw', private_ip: '192.168.4.10', public_ip: '', subnets: null }));
    const plan = workerPlan(snapshot([local(), south]));
    assert.deepEqual(states(built(input(plan)).object), [['south', 'connecting', 'the Endpoint lists no IPv4 subnet: nothing is routed to it on this node']]);
  });

  test('messages name at most three reasons and count the rest; long reasons are clipped to 1 KiB, and the object stays valid', () => {
    const plan = workerPlan();
    const manyFailed = routingObjects(plan.desired).map((o) => ({ ...o, reason: 'r'.repeat(600) }));
    const { object } = built(input(plan, { unsettled: tableAfter(plan, { failures: manyFailed }).unsettled(), failure: 'f'.repeat(5000) }));
    assert.equal(object.status.statusFailure.length, MAX_MESSAGE_LENGTH);
    for (const remote of object.status.remoteEndpoints) {
      assert.equal(remote.status, 'error');
      assert.equal(remote.statusMessage.length, MAX_MESSAGE_LENGTH);
      assert.ok(remote.statusMessage.endsWith('...'));
    }
    const short = routingObjects(plan.desired).map((o) => ({ ...o, reason: 'x' }));
    const counted = built(input(plan, { unsettled: tableAfter(plan, { failures: short }).unsettled() })).object;
    assert.match(counted.status.remoteEndpoints[1]!.statusMessage, /^route 10\.2\.0\.0\/16 .* failed: x; route 10\.202\.0\.0\/16 .* failed: x; address .* failed: x; and 5 more$/, 'of two routes and six node-wide objects (the link, its address, four sysctls)');
  });

  test('the name is the node name made valid as Submariner does; an unusable node name or namespace gives no object, with the reason', () => {
    assert.equal(built(input(workerPlan(), { nodeName: 'Worker_1.Example' })).object.metadata.name, 'worker-1.example');
    assert.deepEqual(routeAgentObjectName('node-1'), { ok: true, name: 'node-1' });
    for (const bad of ['', '-node', 'node-', 'a'.repeat(254), 'node..x']) {
      const result = routeAgentObject(input(workerPlan(), { nodeName: bad }));
      assert.equal(result.ok, false, `node name ${JSON.stringify(bad.slice(0, 20))}`);
    }
    assert.deepEqual(routeAgentObject(input(workerPlan(), { nodeName: '' })), { ok: false, message: 'the node name is empty' });
    assert.deepEqual(routeAgentObject(input(workerPlan(), { namespace: '' })), { ok: false, message: 'the namespace is empty' });
    assert.equal(routeAgentObject(input(workerPlan(), { plan: null as unknown as Plan })).ok, false);
  });

  test('garbage in the unsettled list or the refusals (a JavaScript caller) is passed over', () => {
    const plan = workerPlan();
    const { object } = built(input({ ...plan, refusedHere: [null as never] }, { unsettled: [null, 7, { kind: 'route' }] as unknown as UnsettledObject[] }));
    assert.deepEqual(object.status.remoteEndpoints.map((r) => r.status), ['connected', 'connected']);
  });

  test('the budget: written on change at most every 10 s, refreshed once a minute', () => {
    assert.deepEqual(ROUTE_AGENT_WRITE_BUDGET, { minIntervalMs: 10_000, refreshMs: 60_000 });
  });
});

describe('every object routeAgentObject makes is accepted by the CRD (a sweep)', () => {
  test('1000 generated inputs: remotes with odd fields, objects in every state, refusals, failures; each ok result validates', () => {
    let seed = 4242;
    const random = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31; };
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const base = workerPlan();
    const specs = base.remoteClusters.map((r) => r.spec);
    const clusterIds = ['west', 'north', 'south-1', 'x'.repeat(63), 'y'.repeat(64), '', 'With_Caps'];
    const objects = routingObjects(base.desired);
    let accepted = 0;
    for (let i = 0; i < 1000; i++) {
      const remoteClusters = Array.from({ length: Math.floor(random() * 5) }, () => {
        const s = pick(specs);
        return { clusterId: s.clusterId, endpoint: base.remoteClusters[0]!.endpoint, subnets: s.subnets, spec: { ...s, clusterId: pick(clusterIds), cableName: `cable-${Math.floor(random() * 3)}`, natEnabled: random() < 0.5 } };
      });
      const unsettled: UnsettledObject[] = objects.filter(() => random() < 0.2).map((o) => ({
        ...o, state: pick(['pending', 'in-progress', 'failed', 'programmed'] as const), desired: random() < 0.9,
        ...(random() < 0.7 ? { reason: pick(['', 'boom', 'z'.repeat(2000)]) } : {}), ...(random() < 0.3 ? { code: 'EIO' } : {}),
      }));
      const refusedHere = random() < 0.3 ? [{ ...base.refusedHere[0], clusterId: pick(clusterIds), endpoint: base.remoteClusters[0]!.endpoint, subnet: '10.2.0.0/16', reason: 'overlaps-node-network' as const, message: pick(['m', 'q'.repeat(3000)]) }] : [];
      const result = routeAgentObject({
        nodeName: pick(['east-worker', 'Node_1', '']), namespace: 'submariner-operator', version: '0.1.0',
        plan: { ...base, remoteClusters, refusedHere, localEndpoint: random() < 0.1 ? null : base.localEndpoint }, unsettled,
        ...(random() < 0.1 ? { failure: pick(['boom', 'f'.repeat(3000)]) } : {}),
      });
      if (!result.ok) { assert.match(result.message, /node name/); continue; }
      accepted++;
      assertAccepted(result.object, `input ${i}`);
      for (const r of result.object.status.remoteEndpoints) {
        assert.ok(['connected', 'connecting', 'error'].includes(r.status));
        assert.ok(r.statusMessage.length > 0 && r.statusMessage.length <= MAX_MESSAGE_LENGTH);
      }
    }
    assert.ok(accepted > 500, `most inputs give an object (${accepted})`);
  });
});
