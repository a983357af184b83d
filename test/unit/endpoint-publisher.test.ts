import assert from 'node:assert/strict';
import { test } from 'node:test';
import { localClusterObject, publishLocalCluster, publishLocalEndpoint, type StoredEndpoint } from '../../src/gateway/endpoint-publisher.ts';
import type { SyncAction } from '../../src/plan/broker-sync.ts';
import { ApiStatusError } from '../../src/k8s/api-problem.ts';
import { FENCING_ANNOTATION, type LocalEndpointObject } from '../../src/plan/local-endpoint-object.ts';

const signal = new AbortController().signal;
const desired = (token: number): LocalEndpointObject => ({
  apiVersion: 'submariner.io/v1', kind: 'Endpoint',
  metadata: { name: 'east-cable-b', namespace: 'ns', annotations: { [FENCING_ANNOTATION]: String(token) } },
  spec: { cluster_id: 'east', hostname: 'b' },
});
const stored = (name: string, token: number | undefined, spec: unknown = { cluster_id: 'east', hostname: name }, extra: Record<string, string> = {}): StoredEndpoint => ({
  name, uid: `uid-${name}`, resourceVersion: '7', clusterId: 'east', spec,
  annotations: { ...(token === undefined ? {} : { [FENCING_ANNOTATION]: String(token) }), ...extra },
});

function recorder(fail: (a: SyncAction) => Error | undefined = () => undefined) {
  const actions: SyncAction[] = [];
  return { actions, write: async (a: SyncAction) => { actions.push(a); const e = fail(a); if (e) throw e; } };
}

test('ours is created first, then the cluster\'s other Endpoints are deleted with their uid and resourceVersion', async () => {
  const r = recorder();
  const outcome = await publishLocalEndpoint([stored('east-cable-a', 2), stored('submariner-old', undefined)], desired(3), 'east', 3, r.write, signal);
  assert.deepEqual(outcome, { kind: 'published', wrote: 'created', deleted: ['east-cable-a', 'submariner-old'] });
  assert.deepEqual(r.actions.map((a) => `${a.op} ${a.name} ${a.precondition ? `${a.precondition.uid}@${a.precondition.resourceVersion}` : ''}`), [
    'create east-cable-b ', 'delete east-cable-a uid-east-cable-a@7', 'delete submariner-old uid-submariner-old@7',
  ]);
});

test('an unchanged Endpoint is not written again; a changed one is replaced on its resourceVersion keeping others\' annotations', async () => {
  const same = recorder();
  assert.deepEqual(await publishLocalEndpoint([stored('east-cable-b', 3, { cluster_id: 'east', hostname: 'b' })], desired(3), 'east', 3, same.write, signal), { kind: 'published', wrote: 'unchanged', deleted: [] });
  assert.equal(same.actions.length, 0);
  const changed = recorder();
  await publishLocalEndpoint([stored('east-cable-b', 2, { cluster_id: 'east', hostname: 'b' }, { 'seaway.io/other': 'kept' })], desired(3), 'east', 3, changed.write, signal);
  assert.equal(changed.actions[0]?.op, 'update');
  assert.deepEqual(changed.actions[0]?.precondition, { uid: 'uid-east-cable-b', resourceVersion: '7' });
  assert.deepEqual(changed.actions[0]?.object?.metadata.annotations, { [FENCING_ANNOTATION]: '3', 'seaway.io/other': 'kept' });
});

test('superseded by a newer leader\'s Endpoint: ours is withdrawn and nothing else is written', async () => {
  const r = recorder();
  const outcome = await publishLocalEndpoint([stored('east-cable-b', 3), stored('east-cable-c', 5)], desired(3), 'east', 3, r.write, signal);
  assert.deepEqual(outcome, { kind: 'superseded', by: 'east-cable-c', token: 5, withdrew: true });
  assert.deepEqual(r.actions.map((a) => `${a.op} ${a.name}`), ['delete east-cable-b']);
});

test('a deletion answered 404 or 409 is the precondition working; any other failure stops the plan and is thrown', async () => {
  const gone = recorder((a) => (a.op === 'delete' ? new ApiStatusError(409, 'Conflict', 'changed since') : undefined));
  assert.deepEqual((await publishLocalEndpoint([stored('east-cable-a', 1)], desired(3), 'east', 3, gone.write, signal)), { kind: 'published', wrote: 'created', deleted: [] });
  const broken = recorder((a) => (a.op === 'create' ? new ApiStatusError(500, 'InternalError', 'etcd') : undefined));
  await assert.rejects(publishLocalEndpoint([stored('east-cable-a', 1)], desired(3), 'east', 3, broken.write, signal), /etcd/);
  assert.deepEqual(broken.actions.map((a) => a.op), ['create'], 'nothing deleted after ours failed: the cluster keeps an Endpoint');
});

test('the local Cluster: created when missing, replaced when its spec differs, left alone otherwise', async () => {
  const cluster = localClusterObject('east', 'ns', ['10.1.0.0/16'], ['10.101.0.0/16']);
  assert.deepEqual(cluster.spec, { cluster_id: 'east', color_codes: ['blue'], service_cidr: ['10.101.0.0/16'], cluster_cidr: ['10.1.0.0/16'], global_cidr: [] });
  const r = recorder();
  assert.equal(await publishLocalCluster(undefined, cluster, r.write, signal), 'created');
  assert.equal(await publishLocalCluster({ uid: 'u', resourceVersion: '1', spec: cluster.spec }, cluster, r.write, signal), 'unchanged');
  assert.equal(await publishLocalCluster({ uid: 'u', resourceVersion: '1', spec: { ...cluster.spec, cluster_cidr: ['10.9.0.0/16'] } }, cluster, r.write, signal), 'replaced');
  assert.deepEqual(r.actions.map((a) => `${a.op} ${a.kind} ${a.precondition?.uid ?? ''}`), ['create Cluster ', 'update Cluster u']);
});
