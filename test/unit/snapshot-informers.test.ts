/**
 * Only relevant changes cost work: the snapshot's change listener (which wakes a reconcile pass)
 * hears of Node addresses, Ready, labels, annotations and pod CIDRs, of Endpoint and Cluster
 * metadata and specs, and of Endpoints' `seaway.io/` annotations; never of heartbeats, images, other
 * conditions, status, other annotations or a bare resourceVersion bump. The init phase's own-Node readiness comes from the same Nodes informer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Node, V1NodeCondition } from '@kubernetes/client-node';
import { createSnapshotInformers } from '../../src/k8s/snapshot-informers.ts';
import type { SubmarinerObject } from '../../src/k8s/projections.ts';
import { captureLogger, ScriptedSource, testMetrics, unlimited, VirtualClock } from './informer-fakes.ts';

const OWN = 'node-a';

function condition(type: string, status: string, heartbeat: number, extra: Partial<V1NodeCondition> = {}): V1NodeCondition {
  const time = new Date(Date.UTC(2030, 0, 1, 0, 0, heartbeat));
  return { type, status, reason: `${type}Reason`, message: `${type} message`, lastHeartbeatTime: time, lastTransitionTime: new Date(Date.UTC(2030, 0, 1)), ...extra };
}

function node(name: string, rv: number, options: { heartbeat?: number; ready?: string; address?: string; images?: string[]; extraCondition?: boolean; readyMessage?: string; labels?: Record<string, string> } = {}): V1Node {
  const heartbeat = options.heartbeat ?? 0;
  const conditions = [condition('Ready', options.ready ?? 'True', heartbeat, options.readyMessage ? { message: options.readyMessage } : {})];
  if (options.extraCondition) conditions.push(condition('MemoryPressure', 'False', heartbeat));
  return {
    metadata: { name, resourceVersion: String(rv), labels: options.labels ?? { 'kubernetes.io/hostname': name } },
    spec: { podCIDR: '10.1.1.0/24' },
    status: {
      addresses: [{ type: 'InternalIP', address: options.address ?? '192.168.1.11' }, { type: 'Hostname', address: name }],
      conditions,
      images: (options.images ?? ['img:1']).map((n) => ({ names: [n], sizeBytes: 1 })),
    },
  };
}

function custom(name: string, rv: number, spec: Record<string, unknown>, extra: Partial<SubmarinerObject['metadata']> = {}): SubmarinerObject & { status?: unknown } {
  return { metadata: { name, namespace: 'submariner-operator', uid: `uid-${name}`, resourceVersion: String(rv), creationTimestamp: '2030-01-01T00:00:00Z', ...extra }, spec };
}

function setup(nodeKeys?: readonly string[]) {
  const clock = new VirtualClock();
  const nodes = new ScriptedSource<V1Node>(clock, [node(OWN, 1), node('node-b', 2, { address: '192.168.1.12' })], '10');
  const endpoints = new ScriptedSource<SubmarinerObject>(clock, [custom('c2-cable', 3, { cluster_id: 'c2' })], '10');
  const clusters = new ScriptedSource<SubmarinerObject>(clock, [custom('c2', 4, { cluster_id: 'c2' })], '10');
  const { logger } = captureLogger();
  const informers = createSnapshotInformers(
    { sources: { nodes, endpoints, clusters }, nodeName: OWN, ...(nodeKeys ? { nodeKeys } : {}) },
    { logger, metrics: testMetrics(), limiter: unlimited, settings: { backoff: { minMs: 100, maxMs: 1000 }, watchTimeoutSeconds: 300 }, clock, random: () => 0.5 },
  );
  let wakes = 0;
  informers.onChange(() => { wakes++; });
  return { clock, nodes, endpoints, clusters, informers, wakes: () => wakes };
}

test('100 heartbeat-only Node updates (heartbeat times, images, another condition) wake nothing; an address, Ready or label change wakes once each', async () => {
  const { clock, nodes, informers, wakes } = setup();
  informers.start();
  await clock.runUntil(100);
  assert.equal(informers.synced, true);
  const first = informers.snapshot();
  const before = wakes();
  let rv = 100;
  for (let i = 1; i <= 100; i++) {
    for (const name of [OWN, 'node-b']) {
      const address = name === OWN ? '192.168.1.11' : '192.168.1.12';
      nodes.current?.emit({ type: 'MODIFIED', object: node(name, rv++, { heartbeat: i, address, images: [`img:${i % 3}`], extraCondition: i % 2 === 0 }) });
    }
  }
  await clock.runUntil(200);
  assert.equal(wakes(), before, 'no wake for 200 heartbeat-only updates');
  assert.equal(informers.snapshot(), first, 'the snapshot is the same object: the planner sees no new input');

  nodes.current?.emit({ type: 'MODIFIED', object: node('node-b', rv++, { address: '192.168.1.99' }) });
  await clock.runUntil(300);
  assert.equal(wakes(), before + 1, 'an address change wakes once');
  assert.deepEqual(informers.snapshot().nodes.find((n) => n.name === 'node-b')?.addresses, ['192.168.1.99', 'node-b']);

  nodes.current?.emit({ type: 'MODIFIED', object: node('node-b', rv++, { address: '192.168.1.99', ready: 'False' }) });
  await clock.runUntil(400);
  assert.equal(wakes(), before + 2, 'a Ready change wakes once');
  assert.equal(informers.snapshot().nodes.find((n) => n.name === 'node-b')?.ready, false);

  nodes.current?.emit({ type: 'MODIFIED', object: node('node-b', rv++, { address: '192.168.1.99', ready: 'False', labels: { 'submariner.io/gateway': 'true' } }) });
  await clock.runUntil(500);
  assert.equal(wakes(), before + 3, 'a label change wakes once');
  await informers.stop();
});

test('a Node keeps only Submariner\'s and seaway\'s labels and annotations (and a configured gateway label): others are not kept and their changes wake nothing', async () => {
  const { clock, nodes, informers, wakes } = setup(['example.com/vpn-gateway']);
  informers.start();
  await clock.runUntil(100);
  const labelled = (rv: number, labels: Record<string, string>, annotations: Record<string, string>): V1Node => {
    const object = node('node-b', rv, { address: '192.168.1.12', labels });
    object.metadata!.annotations = annotations;
    return object;
  };
  const realistic = {
    'kubernetes.io/hostname': 'node-b', 'kubernetes.io/os': 'linux', 'topology.kubernetes.io/zone': 'eu-1a', 'node.kubernetes.io/instance-type': 'm5.large',
    'submariner.io/gateway': 'true', 'gateway.submariner.io/public-ip': 'ipv4:203.0.113.9', 'example.com/vpn-gateway': 'yes',
  };
  const annotations = { 'node.alpha.kubernetes.io/ttl': '0', 'projectcalico.org/IPv4Address': '192.168.1.12/24', 'submariner.io/tcp-clamp-mss': '1300', 'seaway.io/x': 'y' };
  nodes.current?.emit({ type: 'MODIFIED', object: labelled(300, realistic, annotations) });
  await clock.runUntil(200);
  const kept = informers.snapshot().nodes.find((n) => n.name === 'node-b');
  assert.deepEqual(kept?.labels, { 'submariner.io/gateway': 'true', 'gateway.submariner.io/public-ip': 'ipv4:203.0.113.9', 'example.com/vpn-gateway': 'yes' });
  assert.deepEqual(kept?.annotations, { 'submariner.io/tcp-clamp-mss': '1300', 'seaway.io/x': 'y' });
  assert.ok(Object.isFrozen(kept) && Object.isFrozen(kept?.labels) && Object.isFrozen(kept?.addresses), 'projections are made frozen');
  const before = wakes();
  nodes.current?.emit({ type: 'MODIFIED', object: labelled(301, { ...realistic, 'topology.kubernetes.io/zone': 'eu-1b' }, { ...annotations, 'node.alpha.kubernetes.io/ttl': '30' }) });
  await clock.runUntil(300);
  assert.equal(wakes(), before, 'a change to labels and annotations nobody reads wakes nothing');
  nodes.current?.emit({ type: 'MODIFIED', object: labelled(302, { ...realistic, 'example.com/vpn-gateway': 'no' }, annotations) });
  await clock.runUntil(400);
  assert.equal(wakes(), before + 1, 'the configured gateway label is kept: its change wakes once');
  await informers.stop();
});

test('the own Node\'s Ready message feeds the init phase\'s reason without waking the planner; one Nodes informer serves both', async () => {
  const { clock, nodes, informers, wakes } = setup();
  const own = informers.ownNode();
  let ownChanges = 0;
  own.onChange(() => { ownChanges++; });
  own.start();
  assert.equal(ownChanges, 1, 'start reports the state as it is');
  assert.deepEqual(own.readiness(), { ready: false, reason: `Node ${OWN}: the Nodes have not been listed yet` });
  informers.start();
  await clock.runUntil(100);
  assert.deepEqual(own.readiness(), { ready: true, reason: 'Ready=True' });
  const before = wakes();
  nodes.current?.emit({ type: 'MODIFIED', object: node(OWN, 200, { ready: 'False', readyMessage: 'PLEG is not healthy: pleg was last seen active 3m0s ago' }) });
  await clock.runUntil(200);
  assert.deepEqual(own.readiness(), { ready: false, reason: `Node ${OWN} Ready=False (ReadyReason: PLEG is not healthy: pleg was last seen active 3m0s ago)` });
  assert.equal(wakes(), before + 1, 'Ready=False is planner input');
  const changesSoFar = ownChanges;
  // The kubelet rewrites its message on every status update while unhealthy: the init phase follows, the planner does not wake.
  nodes.current?.emit({ type: 'MODIFIED', object: node(OWN, 201, { ready: 'False', readyMessage: 'PLEG is not healthy: pleg was last seen active 3m10s ago' }) });
  await clock.runUntil(300);
  assert.equal(ownChanges, changesSoFar + 1);
  assert.match(own.readiness().reason, /3m10s/);
  assert.equal(wakes(), before + 1);
  // Another Node's message is kept nowhere: no change at all.
  nodes.current?.emit({ type: 'MODIFIED', object: node('node-b', 202, { address: '192.168.1.12', readyMessage: 'something new' }) });
  await clock.runUntil(400);
  assert.equal(ownChanges, changesSoFar + 1);
  assert.equal(wakes(), before + 1);
  assert.equal(nodes.calls.filter((c) => c.op === 'watch').length, 1, 'one Node watch');
  await own.stop();
  nodes.current?.emit({ type: 'MODIFIED', object: node(OWN, 203, { ready: 'True' }) });
  await clock.runUntil(500);
  assert.equal(ownChanges, changesSoFar + 1, 'a stopped view hears nothing; the informer runs on for the snapshot');
  assert.equal(informers.snapshot().nodes.find((n) => n.name === OWN)?.ready, true);
  await informers.stop();
});

test('an Endpoint or Cluster update that changes only status, labels or the resourceVersion wakes nothing; a spec change wakes once', async () => {
  const { clock, endpoints, clusters, informers, wakes } = setup();
  informers.start();
  await clock.runUntil(100);
  const before = wakes();
  const withStatus: SubmarinerObject = Object.assign(custom('c2-cable', 50, { cluster_id: 'c2' }), { status: { whatever: 1 } });
  endpoints.current?.emit({ type: 'MODIFIED', object: withStatus });
  const labelled: SubmarinerObject = Object.assign(custom('c2-cable', 51, { cluster_id: 'c2' }), { metadata: { ...custom('c2-cable', 51, {}).metadata, labels: { team: 'x' } } });
  endpoints.current?.emit({ type: 'MODIFIED', object: labelled });
  clusters.current?.emit({ type: 'MODIFIED', object: custom('c2', 49, { cluster_id: 'c2' }) });
  await clock.runUntil(200);
  assert.equal(wakes(), before);
  assert.equal(informers.snapshot().endpoints[0]?.resourceVersion, '3', 'the kept object is the last one that mattered');
  endpoints.current?.emit({ type: 'MODIFIED', object: custom('c2-cable', 52, { cluster_id: 'c2', subnets: ['10.2.0.0/16'] }) });
  await clock.runUntil(300);
  assert.equal(wakes(), before + 1);
  clusters.current?.emit({ type: 'MODIFIED', object: custom('c2', 53, { cluster_id: 'c2', color_codes: ['blue'] }) });
  await clock.runUntil(400);
  assert.equal(wakes(), before + 2);
  assert.deepEqual(informers.snapshot().clusters[0]?.spec, { cluster_id: 'c2', color_codes: ['blue'] });
  assert.equal(informers.snapshot().clusters[0]?.creationTimestamp, '2030-01-01T00:00:00Z');
  await informers.stop();
});

test('a creationTimestamp reads the same from a typed list (a Date) and from a watch (a string)', async () => {
  const { toMeta } = await import('../../src/k8s/projections.ts');
  const fromList = toMeta({ metadata: { name: 'x', creationTimestamp: new Date('2030-01-01T00:00:00Z') } });
  const fromWatch = toMeta({ metadata: { name: 'x', creationTimestamp: '2030-01-01T00:00:00Z' } });
  assert.equal(fromList.creationTimestamp, fromWatch.creationTimestamp);
});

test('an Endpoint keeps its seaway.io/ annotations (not refreshed-at): a change there wakes once, another annotation wakes nothing', async () => {
  const { clock, endpoints, clusters, informers, wakes } = setup();
  informers.start();
  await clock.runUntil(100);
  const before = wakes();
  assert.deepEqual(informers.snapshot().endpoints[0]?.annotations, {});
  const annotated = (rv: number, annotations: Record<string, string>) => custom('c2-cable', rv, { cluster_id: 'c2' }, { annotations });
  endpoints.current?.emit({ type: 'MODIFIED', object: annotated(60, { 'seaway.io/lease-transitions': '4', 'kubectl.kubernetes.io/last-applied-configuration': '{}' }) });
  await clock.runUntil(200);
  assert.equal(wakes(), before + 1, 'seaway\'s fencing annotation appearing is a change');
  assert.deepEqual(informers.snapshot().endpoints[0]?.annotations, { 'seaway.io/lease-transitions': '4' });
  endpoints.current?.emit({ type: 'MODIFIED', object: annotated(61, { 'seaway.io/lease-transitions': '4', 'kubectl.kubernetes.io/last-applied-configuration': '{"x":1}', team: 'blue' }) });
  endpoints.current?.emit({ type: 'MODIFIED', object: annotated(62, { 'seaway.io/lease-transitions': '4', 'seaway.io/refreshed-at': '1900000000', team: 'blue' }) });
  endpoints.current?.emit({ type: 'MODIFIED', object: annotated(63, { 'seaway.io/lease-transitions': '4', 'seaway.io/refreshed-at': '1900000030' }) });
  await clock.runUntil(300);
  assert.equal(wakes(), before + 1, 'other annotations, and the broker copies\' refresh stamp, are not kept');
  endpoints.current?.emit({ type: 'MODIFIED', object: annotated(64, { 'seaway.io/lease-transitions': '5' }) });
  await clock.runUntil(400);
  assert.equal(wakes(), before + 2, 'a new fencing token is a change');
  endpoints.current?.emit({ type: 'MODIFIED', object: annotated(65, {}) });
  await clock.runUntil(500);
  assert.equal(wakes(), before + 3, 'its removal (a Submariner gateway\'s Endpoint) is a change');
  assert.deepEqual(informers.snapshot().endpoints[0]?.annotations, {});
  clusters.current?.emit({ type: 'MODIFIED', object: custom('c2', 66, { cluster_id: 'c2' }, { annotations: { 'seaway.io/lease-transitions': '1' } }) });
  await clock.runUntil(600);
  assert.equal(wakes(), before + 3, 'a Cluster keeps no annotations');
  assert.ok(!('annotations' in (informers.snapshot().clusters[0] ?? {})));
  await informers.stop();
});

test('Endpoint projections: seaway.io/ string annotations only; Cluster projections: metadata and spec only', async () => {
  const { toClusterObject, toEndpointObject, sameMetaAndSpec } = await import('../../src/k8s/projections.ts');
  const object = custom('c2-cable', 1, { cluster_id: 'c2' }, { annotations: { 'seaway.io/lease-transitions': '2', 'seaway.io/refreshed-at': '1', 'seaway.io/bad': 3, other: 'x' } });
  const projected = toEndpointObject(object);
  assert.deepEqual(projected.annotations, { 'seaway.io/lease-transitions': '2' });
  assert.deepEqual(toEndpointObject(custom('c2-cable', 1, {}, { annotations: null })).annotations, {});
  assert.deepEqual(toEndpointObject(custom('c2-cable', 1, {})).annotations, {});
  assert.deepEqual(Object.keys(toClusterObject(object)).sort(), ['creationTimestamp', 'name', 'namespace', 'resourceVersion', 'spec', 'uid']);
  const other = toEndpointObject(custom('c2-cable', 2, { cluster_id: 'c2' }, { annotations: { 'seaway.io/lease-transitions': '2', other: 'y' } }));
  assert.ok(sameMetaAndSpec(projected, other));
  assert.ok(!sameMetaAndSpec(projected, toEndpointObject(custom('c2-cable', 2, { cluster_id: 'c2' }, { annotations: { 'seaway.io/lease-transitions': '3' } }))));
});

test('a new snapshot keeps the lists of the parts that did not change (the planner\'s memos key on them); a changed part gets a new list', async () => {
  const { clock, nodes, endpoints, informers } = setup();
  informers.start();
  await clock.runUntil(100);
  const first = informers.snapshot();
  assert.equal(informers.snapshot(), first, 'nothing changed: the same snapshot');
  endpoints.current?.emit({ type: 'MODIFIED', object: custom('c2-cable', 60, { cluster_id: 'c2', subnets: ['10.9.0.0/16'] }) });
  await clock.runUntil(200);
  const second = informers.snapshot();
  assert.notEqual(second, first);
  assert.notEqual(second.endpoints, first.endpoints, 'the Endpoints changed');
  assert.equal(second.nodes, first.nodes, 'the same 5,000 Nodes need not be listed again');
  assert.equal(second.clusters, first.clusters);
  nodes.current?.emit({ type: 'MODIFIED', object: node('node-b', 61, { address: '192.168.1.99' }) });
  await clock.runUntil(300);
  const third = informers.snapshot();
  assert.notEqual(third.nodes, second.nodes, 'a Node\'s address changed');
  assert.equal(third.endpoints, second.endpoints);
  assert.ok(third.nodes.some((n) => n.internalIP === '192.168.1.99'));
  await informers.stop();
});
