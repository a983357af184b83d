import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CoreV1Api, CustomObjectsApi, makeInformer, PatchStrategy, setHeaderOptions,
  type Informer, type KubernetesListObject, type ListWatch, type ObjectCache, type KubernetesObject, type V1Node,
} from '@kubernetes/client-node';
import { AdminClient } from './apiserver/admin-client.ts';
import { startApiServer, type RunningApiServer } from './apiserver/server.ts';
import { kubeConfigFor, waitFor } from './apiserver/test-support.ts';

const namespace = 'submariner-operator';
const group = 'submariner.io';
const version = 'v1';
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

type CachingInformer = Informer<KubernetesObject> & ObjectCache<KubernetesObject>;

interface Recorded {
  informer: CachingInformer;
  events: string[];
  errors: unknown[];
  listCalls: () => number;
}

function record(informer: CachingInformer, countLists: () => number): Recorded {
  const events: string[] = [];
  const errors: unknown[] = [];
  const name = (o: KubernetesObject) => o.metadata?.name ?? '?';
  informer.on('add', (o) => events.push(`add ${name(o)}`));
  informer.on('update', (o) => events.push(`update ${name(o)}`));
  informer.on('delete', (o) => events.push(`delete ${name(o)}`));
  informer.on('error', (e) => errors.push(e));
  return { informer, events, errors, listCalls: countLists };
}

/** Starts a server and an informer on endpoints.submariner.io (list through CustomObjectsApi) and runs `body`. */
async function withEndpointInformer(body: (ctx: { server: RunningApiServer; custom: CustomObjectsApi; admin: AdminClient; rec: Recorded }) => Promise<void>) {
  const server = await startApiServer();
  const kc = kubeConfigFor(server.url);
  const custom = kc.makeApiClient(CustomObjectsApi);
  let lists = 0;
  const informer = makeInformer<KubernetesObject>(kc, `/apis/${group}/${version}/namespaces/${namespace}/endpoints`, () => {
    lists++;
    return custom.listNamespacedCustomObject({ group, version, namespace, plural: 'endpoints' }) as Promise<KubernetesListObject<KubernetesObject>>;
  });
  const rec = record(informer, () => lists);
  try {
    await informer.start();
    await body({ server, custom, admin: new AdminClient(server.url), rec });
    assert.deepEqual(rec.errors, [], 'the informer reported no errors');
  } finally {
    await informer.stop();
    await server.close();
  }
}

const endpoint = (name: string, clusterId = name) => ({
  apiVersion: `${group}/${version}`, kind: 'Endpoint',
  metadata: { name, labels: { 'submariner-io/clusterID': clusterId } },
  spec: { cluster_id: clusterId, cable_name: `submariner-cable-${clusterId}`, hostname: 'gw-1', subnets: ['10.1.0.0/16'], private_ip: '192.0.2.10', backend: 'libreswan', nat_enabled: false },
});
const createEndpoint = (custom: CustomObjectsApi, name: string) =>
  custom.createNamespacedCustomObject({ group, version, namespace, plural: 'endpoints', body: endpoint(name) });
const names = (rec: Recorded) => rec.informer.list(namespace).map((o) => o.metadata?.name).sort();

test('the endpoints informer receives ADDED, MODIFIED and DELETED in order', async () => {
  await withEndpointInformer(async ({ custom, rec }) => {
    await createEndpoint(custom, 'cluster-a');
    await custom.patchNamespacedCustomObject({ group, version, namespace, plural: 'endpoints', name: 'cluster-a', body: { spec: { hostname: 'gw-2' } } }, mergePatch);
    await createEndpoint(custom, 'cluster-b');
    await custom.deleteNamespacedCustomObject({ group, version, namespace, plural: 'endpoints', name: 'cluster-a' });
    await waitFor('four informer events', () => rec.events.length >= 4);
    assert.deepEqual(rec.events, ['add cluster-a', 'update cluster-a', 'add cluster-b', 'delete cluster-a']);
    assert.deepEqual(names(rec), ['cluster-b']);
    const cached = rec.informer.get('cluster-b', namespace) as KubernetesObject & { spec: { hostname: string } };
    assert.equal(cached.spec.hostname, 'gw-1');
  });
});

test('the informer lists existing objects at start and keeps the list resourceVersion', async () => {
  const server = await startApiServer();
  const kc = kubeConfigFor(server.url);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const created = await createEndpoint(custom, 'before-start') as KubernetesObject;
  const informer = makeInformer<KubernetesObject>(kc, `/apis/${group}/${version}/namespaces/${namespace}/endpoints`,
    () => custom.listNamespacedCustomObject({ group, version, namespace, plural: 'endpoints' }) as Promise<KubernetesListObject<KubernetesObject>>);
  const rec = record(informer, () => 0);
  try {
    await informer.start();
    assert.deepEqual(rec.events, ['add before-start']);
    assert.ok(Number((informer as ListWatch<KubernetesObject>).latestResourceVersion()) >= Number(created.metadata?.resourceVersion));
  } finally {
    await informer.stop();
    await server.close();
  }
});

test('after compact and dropWatches the informer relists (410 Expired) and converges without losing a delete', async () => {
  await withEndpointInformer(async ({ custom, admin, rec }) => {
    await createEndpoint(custom, 'keep');
    await createEndpoint(custom, 'gone');
    await waitFor('both adds', () => rec.events.length === 2);
    // Hold the informer's re-watch so that the delete happens while it is disconnected.
    await admin.pause('hold', { verb: 'watch' });
    assert.equal(await admin.dropWatches(), 1);
    await waitFor('the re-watch to be held', async () => (await admin.state()).heldRequests === 1);
    await custom.deleteNamespacedCustomObject({ group, version, namespace, plural: 'endpoints', name: 'gone' });
    await createEndpoint(custom, 'new');
    await admin.compact();
    await admin.resume();
    await waitFor('the informer to converge', () => names(rec).join() === 'keep,new');
    assert.equal(rec.listCalls(), 2, 'the informer relisted once after the 410');
    assert.deepEqual(rec.events.slice(2).sort(), ['add new', 'delete gone']);
  });
});

test('after dropWatches alone the informer resumes from its resourceVersion and replays what it missed', async () => {
  await withEndpointInformer(async ({ custom, admin, rec }) => {
    await createEndpoint(custom, 'one');
    await createEndpoint(custom, 'two');
    await waitFor('both adds', () => rec.events.length === 2);
    await admin.pause('hold', { verb: 'watch' });
    assert.equal(await admin.dropWatches(), 1);
    await waitFor('the re-watch to be held', async () => (await admin.state()).heldRequests === 1);
    await custom.patchNamespacedCustomObject({ group, version, namespace, plural: 'endpoints', name: 'one', body: { spec: { hostname: 'gw-9' } } }, mergePatch);
    await custom.deleteNamespacedCustomObject({ group, version, namespace, plural: 'endpoints', name: 'two' });
    await admin.resume();
    await waitFor('the missed events', () => rec.events.length === 4);
    assert.deepEqual(rec.events.slice(2), ['update one', 'delete two'], 'replayed from history in order');
    assert.equal(rec.listCalls(), 1, 'no relist was needed');
    // And it is live again afterwards.
    await waitFor('a re-established watch', async () => (await admin.state()).openWatches === 1);
    await createEndpoint(custom, 'three');
    await waitFor('the live add', () => rec.events.at(-1) === 'add three');
  });
});

test('the nodes informer (CoreV1Api) sees a Node turn Ready through the status subresource, then go', async () => {
  const server = await startApiServer();
  const kc = kubeConfigFor(server.url);
  const core = kc.makeApiClient(CoreV1Api);
  const informer = makeInformer<V1Node>(kc, '/api/v1/nodes', () => core.listNode());
  const seen: string[] = [];
  const errors: unknown[] = [];
  const ready = (n: V1Node) => n.status?.conditions?.find((c) => c.type === 'Ready')?.status ?? 'none';
  informer.on('add', (n) => seen.push(`add ${n.metadata?.name} ${ready(n)}`));
  informer.on('update', (n) => seen.push(`update ${n.metadata?.name} ${ready(n)}`));
  informer.on('delete', (n) => seen.push(`delete ${n.metadata?.name}`));
  informer.on('error', (e) => errors.push(e));
  try {
    await informer.start();
    const condition = (status: string) => ({ type: 'Ready', status, reason: 'Lab', lastTransitionTime: new Date() });
    await core.createNode({ body: { metadata: { name: 'node-1' }, status: { conditions: [condition('False')] } } });
    const node = await core.readNode({ name: 'node-1' });
    node.status = { ...node.status, conditions: [condition('True')] };
    await core.replaceNodeStatus({ name: 'node-1', body: node });
    await core.deleteNode({ name: 'node-1' });
    await waitFor('three node events', () => seen.length >= 3);
    assert.deepEqual(seen, ['add node-1 False', 'update node-1 True', 'delete node-1']);
    assert.deepEqual(errors, []);
  } finally {
    await informer.stop();
    await server.close();
  }
});
