/**
 * On the gateway, table 150 yields to seaway's own IPsec cable: when the local Endpoint in use was
 * published by seaway's gateway (it carries `seaway.io/lease-transitions`), charon's table 220 and
 * the fail-closed table 221 route the remote subnets, so the route agent plans no table 150 routes
 * (rule 150 stays). A Submariner-published Endpoint keeps Submariner's table 150 routes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planNode, type PlanConfig } from '../../src/plan/node-plan.ts';
import { FENCING_ANNOTATION } from '../../src/plan/local-endpoint-object.ts';
import type { NodeFacts } from '../../src/model/node-facts.ts';
import type { Snapshot } from '../../src/model/snapshot.ts';
import { endpoint, gatewayNode, node, spec } from './model-fixtures.ts';

const config: PlanConfig = {
  clusterId: 'east', nodeName: 'east-worker', podCidrs: ['10.244.0.0/16'], serviceCidrs: ['10.96.0.0/12'],
  minPrefixLength: 8, maxSubnetsPerEndpoint: 64,
};
const gatewayConfig: PlanConfig = { ...config, nodeName: 'east-gw' };

const gatewayFacts: NodeFacts = {
  nodeIp: '192.168.1.10', underlayDevice: 'eth0', underlayMtu: 1500,
  cniInterface: { name: 'cni0', address: '10.244.0.1' }, networks: ['192.168.1.10/24'],
};
const workerFacts: NodeFacts = {
  nodeIp: '192.168.1.21', underlayDevice: 'eth0', underlayMtu: 1500,
  cniInterface: { name: 'cni0', address: '10.244.1.1' }, networks: ['192.168.1.21/24'],
};

const SEAWAY = { [FENCING_ANNOTATION]: '7' };

function local(annotations: Record<string, string> = {}) {
  return endpoint('east-submariner-cable-east-192-168-1-10', spec({
    cluster_id: 'east', hostname: 'east-gw', private_ip: '192.168.1.10', subnets: ['10.244.0.0/16', '10.96.0.0/12'],
  }), '2024-01-01T00:00:00Z', annotations);
}

const NORTH = endpoint('north-submariner-cable-north-192-168-3-10', spec({
  cluster_id: 'north', hostname: 'north-gw', private_ip: '192.168.3.10', subnets: ['10.3.0.0/16', '10.33.0.0/16'],
}), '2024-01-01T00:00:00Z');

function snapshot(localAnnotations: Record<string, string> = {}, endpoints = [local(localAnnotations), NORTH]): Snapshot {
  return {
    endpoints, clusters: [],
    nodes: [gatewayNode('east-gw', '192.168.1.10'), node('east-worker', '192.168.1.21'), node('east-worker-2', '192.168.1.22')],
  };
}

test('gateway, local Endpoint published by seaway: no table 150 routes, rule 150 kept, VXLAN, FDB and filter as with Submariner\'s, and a note', () => {
  const seaway = planNode(snapshot(SEAWAY), gatewayFacts, gatewayConfig);
  const submariner = planNode(snapshot(), gatewayFacts, gatewayConfig);
  assert.equal(seaway.isGateway, true);
  assert.equal(seaway.lastGoodLocal?.publisher, 'seaway');
  assert.deepEqual(seaway.desired.routes, []);
  assert.deepEqual(seaway.desired.rules, [{ priority: 150, table: 150 }]);
  assert.deepEqual(seaway.desired.links, submariner.desired.links);
  assert.deepEqual(seaway.desired.fdb, submariner.desired.fdb);
  assert.deepEqual(seaway.desired.fdb.map((f) => f.dst), ['192.168.1.21', '192.168.1.22']);
  assert.deepEqual(seaway.desired.sysctls, submariner.desired.sysctls);
  assert.deepEqual(seaway.desired.filter, submariner.desired.filter);
  assert.deepEqual(seaway.desired.filter?.remoteCidrs, ['10.3.0.0/16', '10.33.0.0/16'], 'the filter still knows the remote subnets');
  assert.deepEqual(seaway.remoteClusters, submariner.remoteClusters);
  assert.deepEqual(seaway.notes.map((n) => n.code), ['cable-routes']);
  assert.match(seaway.notes[0]!.message, /east-submariner-cable-east-192-168-1-10 is seaway's gateway's: the remote subnets are routed by seaway's cable \(charon's table 220, fail-closed by table 221\), not by table 150/);
});

test('gateway, local Endpoint published by Submariner (no seaway annotation, or only others): table 150 routes as today, no note', () => {
  for (const annotations of [{}, { 'seaway.io/other': 'x' }] as Array<Record<string, string>>) {
    const plan = planNode(snapshot(annotations), gatewayFacts, gatewayConfig);
    assert.equal(plan.lastGoodLocal?.publisher, 'submariner');
    assert.deepEqual(plan.desired.rules, [{ priority: 150, table: 150 }]);
    assert.deepEqual(plan.desired.routes, [
      { table: 150, dst: '10.3.0.0/16', dev: 'eth0', src: '10.244.0.1' },
      { table: 150, dst: '10.33.0.0/16', dev: 'eth0', src: '10.244.0.1' },
    ]);
    assert.deepEqual(plan.notes, []);
  }
});

test('the annotation\'s presence decides, whatever its value', () => {
  const plan = planNode(snapshot({ [FENCING_ANNOTATION]: 'not-a-number' }), gatewayFacts, gatewayConfig);
  assert.equal(plan.lastGoodLocal?.publisher, 'seaway');
  assert.deepEqual(plan.desired.routes, []);
});

test('a worker plans the same either way: main-table routes via the gateway\'s VTEP, no rule, no note', () => {
  const seaway = planNode(snapshot(SEAWAY), workerFacts, config);
  const submariner = planNode(snapshot(), workerFacts, config);
  assert.equal(seaway.isGateway, false);
  assert.equal(seaway.lastGoodLocal?.publisher, 'seaway');
  assert.deepEqual(seaway.desired, submariner.desired);
  assert.deepEqual(seaway.desired.rules, []);
  assert.deepEqual(seaway.desired.routes, [
    { table: 254, dst: '10.3.0.0/16', gateway: '240.168.1.10', dev: 'vx-submariner' },
    { table: 254, dst: '10.33.0.0/16', gateway: '240.168.1.10', dev: 'vx-submariner' },
  ]);
  assert.deepEqual(seaway.notes, []);
  assert.deepEqual(submariner.notes, []);
});

test('a held local gateway keeps its publisher: the gateway\'s table 150 stays as it was through a gap', () => {
  for (const [annotations, publisher] of [[SEAWAY, 'seaway'], [{}, 'submariner']] as const) {
    const previous = planNode(snapshot(annotations), gatewayFacts, gatewayConfig);
    assert.equal(previous.lastGoodLocal?.publisher, publisher);
    const held = planNode(snapshot(annotations, [NORTH]), gatewayFacts, gatewayConfig, { lastGoodLocal: previous.lastGoodLocal });
    assert.equal(held.localHeld, true);
    assert.deepEqual(held.lastGoodLocal, previous.lastGoodLocal, publisher);
    assert.equal(held.lastGoodLocal?.publisher, publisher);
    assert.deepEqual(held.desired, previous.desired, publisher);
    assert.equal(held.notes.some((n) => n.code === 'cable-routes'), publisher === 'seaway');
  }
});

test('the publisher follows the trusted local Endpoint in the snapshot, not the held one', () => {
  const previous = planNode(snapshot(SEAWAY), gatewayFacts, gatewayConfig);
  const now = planNode(snapshot(), gatewayFacts, gatewayConfig, { lastGoodLocal: previous.lastGoodLocal });
  assert.equal(now.localHeld, false);
  assert.equal(now.lastGoodLocal?.publisher, 'submariner', 'a Submariner gateway took over (migration back)');
  assert.equal(now.desired.routes.length, 2);
});
