import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  ApisApi, CoordinationV1Api, CoreApi, CoreV1Api, CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions, VersionApi,
} from '@kubernetes/client-node';
import { kubeconfigFor } from './apiserver/kubeconfig.ts';
import { startApiServer, type RunningApiServer } from './apiserver/server.ts';
import { expectStatus, kubeConfigFor } from './apiserver/test-support.ts';

const group = 'submariner.io';
const version = 'v1';
const namespace = 'submariner-operator';
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const strategicPatch = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);

type Obj = { metadata: { name: string; resourceVersion: string; creationTimestamp?: string; generation?: number; uid?: string; labels?: Record<string, string> }; spec?: Record<string, unknown>; status?: Record<string, unknown> };

let server: RunningApiServer;
let custom: CustomObjectsApi;
let core: CoreV1Api;
before(async () => {
  server = await startApiServer({ maxBodyBytes: 64 * 1024 });
  const kc = kubeConfigFor(server.url);
  custom = kc.makeApiClient(CustomObjectsApi);
  core = kc.makeApiClient(CoreV1Api);
});
after(() => server.close());

const plural = 'endpoints';
// A valid Endpoint under Submariner's CRD: every required spec field present.
const body = (name: string, labels: Record<string, string> = {}) => ({
  apiVersion: `${group}/${version}`, kind: 'Endpoint', metadata: { name, labels },
  spec: { cluster_id: name || 'generated', cable_name: `submariner-cable-${name}`, hostname: 'gw-1', subnets: ['10.0.0.0/16'], backend: 'libreswan', nat_enabled: false },
});
const create = async (name: string, labels?: Record<string, string>, ns = namespace) =>
  await custom.createNamespacedCustomObject({ group, version, namespace: ns, plural, body: body(name, labels) }) as Obj;
const get = async (name: string) => await custom.getNamespacedCustomObject({ group, version, namespace, plural, name }) as Obj;
const listNames = async (options: { labelSelector?: string; fieldSelector?: string; ns?: string } = {}) => {
  const { ns = namespace, ...selectors } = options;
  const list = await custom.listNamespacedCustomObject({ group, version, namespace: ns, plural, ...selectors }) as { items: Obj[] };
  return list.items.map((o) => o.metadata.name);
};

test('create sets uid, creationTimestamp, generation and a resourceVersion that increases globally', async () => {
  const a = await create('meta-a');
  const b = await create('meta-b');
  assert.match(a.metadata.uid ?? '', /^[0-9a-f-]{36}$/);
  assert.equal(a.metadata.generation, 1);
  assert.ok(Number(b.metadata.resourceVersion) > Number(a.metadata.resourceVersion));
  assert.match((await get('meta-a')).metadata.creationTimestamp ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
});

test('creating an existing name fails with 409 AlreadyExists as a Status the client parses', async () => {
  await create('dup');
  const status = await expectStatus(() => create('dup'));
  assert.equal(status.httpCode, 409);
  assert.equal(status.kind, 'Status');
  assert.equal(status.status, 'Failure');
  assert.equal(status.reason, 'AlreadyExists');
  assert.deepEqual(status.details, { name: 'dup', kind: 'endpoints', group });
});

test('generateName gives a fresh name', async () => {
  const created = await custom.createNamespacedCustomObject({ group, version, namespace, plural, body: { ...body(''), metadata: { generateName: 'gen-' } } }) as Obj;
  assert.match(created.metadata.name, /^gen-[a-z0-9]{5}$/);
  assert.equal((await get(created.metadata.name)).metadata.uid, created.metadata.uid);
});

test('update with a stale resourceVersion fails with 409 Conflict; with the current one it succeeds', async () => {
  const original = await create('conflict');
  await custom.patchNamespacedCustomObject({ group, version, namespace, plural, name: 'conflict', body: { spec: { hostname: 'gw-2' } } }, mergePatch);
  const stale = { ...original, spec: { ...original.spec, hostname: 'gw-stale' } };
  const status = await expectStatus(() => custom.replaceNamespacedCustomObject({ group, version, namespace, plural, name: 'conflict', body: stale }));
  assert.equal(status.httpCode, 409);
  assert.equal(status.reason, 'Conflict');
  assert.equal((await get('conflict')).spec?.hostname, 'gw-2', 'the stale update changed nothing');
  const current = await get('conflict');
  const updated = await custom.replaceNamespacedCustomObject({ group, version, namespace, plural, name: 'conflict', body: { ...current, spec: { ...current.spec, hostname: 'gw-3' } } }) as Obj;
  assert.equal(updated.spec?.hostname, 'gw-3');
  assert.equal(updated.metadata.generation, 3);
  assert.ok(Number(updated.metadata.resourceVersion) > Number(current.metadata.resourceVersion));
});

test('an update without resourceVersion: 422 Invalid for a custom resource and a Lease, accepted for a ConfigMap (its strategy allows unconditional updates)', async () => {
  await create('no-rv');
  const status = await expectStatus(() => custom.replaceNamespacedCustomObject({ group, version, namespace, plural, name: 'no-rv', body: body('no-rv') }));
  assert.equal(status.httpCode, 422);
  assert.equal(status.reason, 'Invalid');
  assert.equal(status.details?.causes?.[0]?.field, 'metadata.resourceVersion');

  const leases = kubeConfigFor(server.url).makeApiClient(CoordinationV1Api);
  await leases.createNamespacedLease({ namespace, body: { metadata: { name: 'leader' }, spec: { holderIdentity: 'a' } } });
  const lease = await expectStatus(() => leases.replaceNamespacedLease({ namespace, name: 'leader', body: { metadata: { name: 'leader' }, spec: { holderIdentity: 'b' } } }));
  assert.equal(lease.httpCode, 422);
  assert.equal(lease.details?.causes?.[0]?.field, 'metadata.resourceVersion');
  await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'settings' }, data: { a: '1' } } });
  const replaced = await core.replaceNamespacedConfigMap({ namespace, name: 'settings', body: { metadata: { name: 'settings' }, data: { a: '2' } } });
  assert.equal(replaced.data?.a, '2');
});

test('a uid in an update body is a precondition: a different one is 409, and a PUT to a deleted object with its old uid does not create it', async () => {
  const leases = kubeConfigFor(server.url).makeApiClient(CoordinationV1Api);
  const created = await leases.createNamespacedLease({ namespace, body: { metadata: { name: 'fenced' }, spec: { holderIdentity: 'a' } } });
  const wrongUid = await expectStatus(() => leases.replaceNamespacedLease({ namespace, name: 'fenced', body: { metadata: { name: 'fenced', uid: 'not-this-one', resourceVersion: created.metadata?.resourceVersion }, spec: { holderIdentity: 'b' } } }));
  assert.equal(wrongUid.httpCode, 409);
  assert.match(wrongUid.message ?? '', /Precondition failed: UID in precondition: not-this-one/);
  await leases.deleteNamespacedLease({ namespace, name: 'fenced' });
  const gone = await expectStatus(() => leases.replaceNamespacedLease({ namespace, name: 'fenced', body: { metadata: { name: 'fenced', uid: created.metadata?.uid, resourceVersion: created.metadata?.resourceVersion }, spec: { holderIdentity: 'a' } } }));
  assert.equal(gone.httpCode, 409);
  assert.equal((await expectStatus(() => leases.readNamespacedLease({ namespace, name: 'fenced' }))).httpCode, 404, 'not re-created');
});

test('get of a missing object is 404 NotFound naming the object', async () => {
  const status = await expectStatus(() => get('missing'));
  assert.equal(status.httpCode, 404);
  assert.equal(status.reason, 'NotFound');
  assert.equal(status.details?.name, 'missing');
  const nodeStatus = await expectStatus(() => core.readNode({ name: 'missing-node' }));
  assert.equal(nodeStatus.code, 404);
  assert.equal(nodeStatus.details?.kind, 'nodes');
});

test('merge patch and JSON patch work, strategic merge patch is 415 on a custom resource; a failed JSON patch test changes nothing', async () => {
  await create('patch-me', { a: '1', b: '2' });
  const merged = await custom.patchNamespacedCustomObject({ group, version, namespace, plural, name: 'patch-me', body: { metadata: { labels: { b: null, c: '3' } }, spec: { hostname: 'gw-m' } } }, mergePatch) as Obj;
  assert.deepEqual(merged.metadata.labels, { a: '1', c: '3' });
  assert.equal(merged.spec?.hostname, 'gw-m');
  assert.deepEqual(merged.spec?.subnets, ['10.0.0.0/16'], 'untouched fields stay');

  const strategic = await expectStatus(() => custom.patchNamespacedCustomObject({ group, version, namespace, plural, name: 'patch-me', body: { spec: { subnets: ['10.9.0.0/16'] } } }, strategicPatch));
  assert.equal(strategic.httpCode, 415, 'custom resources have no strategic merge patch');
  const replaced = await custom.patchNamespacedCustomObject({ group, version, namespace, plural, name: 'patch-me', body: { spec: { subnets: ['10.9.0.0/16'] } } }, mergePatch) as Obj;
  assert.deepEqual(replaced.spec?.subnets, ['10.9.0.0/16'], 'a merge patch replaces a list whole');

  const jsonPatched = await custom.patchNamespacedCustomObject({ group, version, namespace, plural, name: 'patch-me', body: [
    { op: 'test', path: '/spec/hostname', value: 'gw-m' },
    { op: 'replace', path: '/spec/hostname', value: 'gw-j' },
    { op: 'add', path: '/spec/subnets/-', value: '10.8.0.0/16' },
    { op: 'remove', path: '/metadata/labels/a' },
  ] }) as Obj;
  assert.equal(jsonPatched.spec?.hostname, 'gw-j');
  assert.deepEqual(jsonPatched.spec?.subnets, ['10.9.0.0/16', '10.8.0.0/16']);
  assert.deepEqual(jsonPatched.metadata.labels, { c: '3' });

  const failed = await expectStatus(() => custom.patchNamespacedCustomObject({ group, version, namespace, plural, name: 'patch-me', body: [
    { op: 'replace', path: '/spec/hostname', value: 'gw-x' },
    { op: 'test', path: '/spec/hostname', value: 'not-this' },
  ] }));
  assert.equal(failed.httpCode, 422);
  assert.equal((await get('patch-me')).metadata.resourceVersion, jsonPatched.metadata.resourceVersion, 'a failed patch writes nothing');

  const stale = await expectStatus(() => custom.patchNamespacedCustomObject({ group, version, namespace, plural, name: 'patch-me', body: { metadata: { resourceVersion: merged.metadata.resourceVersion }, spec: { hostname: 'old' } } }, mergePatch));
  assert.equal(stale.reason, 'Conflict', 'a resourceVersion in a patch is a precondition');

  const missing = await expectStatus(() => custom.patchNamespacedCustomObject({ group, version, namespace, plural, name: 'nope', body: { spec: {} } }, mergePatch));
  assert.equal(missing.httpCode, 404);
});

test('a patch that changes nothing keeps the resourceVersion (no write, no event)', async () => {
  const created = await create('noop');
  const same = await custom.patchNamespacedCustomObject({ group, version, namespace, plural, name: 'noop', body: { spec: { hostname: 'gw-1' } } }, mergePatch) as Obj;
  assert.equal(same.metadata.resourceVersion, created.metadata.resourceVersion);
});

// Submariner's Gateway and RouteAgent CRDs declare no status subresource: status is written through the main
// resource (validated, required fields enforced, generation bumped), and /status is 404, as on a real cluster.
test('RouteAgent (no status subresource): create keeps status, main writes change it, /status is 404', async () => {
  const remote = { spec: { cluster_id: 'c2', cable_name: 'cable-c2', hostname: 'gw-2', subnets: ['10.2.0.0/16'], backend: 'libreswan', nat_enabled: false }, status: 'connected', statusMessage: '' };
  const ra = { apiVersion: `${group}/${version}`, kind: 'RouteAgent', metadata: { name: 'node-1' }, status: { remoteEndpoints: [], statusFailure: '', version: 'v0' } };
  const created = await custom.createNamespacedCustomObject({ group, version, namespace, plural: 'routeagents', body: ra }) as Obj;
  assert.deepEqual(created.status, ra.status, 'status is part of the object, kept on create');
  const main = await custom.patchNamespacedCustomObject({ group, version, namespace, plural: 'routeagents', name: 'node-1', body: { status: { remoteEndpoints: [remote] } } }, mergePatch) as Obj;
  assert.deepEqual(main.status?.remoteEndpoints, [remote], 'a main-resource patch writes status');
  assert.equal(main.metadata.generation, 2, 'without a status subresource a status change bumps generation');
  for (const call of [
    () => custom.getNamespacedCustomObjectStatus({ group, version, namespace, plural: 'routeagents', name: 'node-1' }),
    () => custom.patchNamespacedCustomObjectStatus({ group, version, namespace, plural: 'routeagents', name: 'node-1', body: { status: { version: 'v1' } } }, mergePatch),
    () => custom.replaceNamespacedCustomObjectStatus({ group, version, namespace, plural: 'routeagents', name: 'node-1', body: { ...main, status: { ...main.status, version: 'v1' } } }),
  ]) {
    const status = await expectStatus(call);
    assert.equal(status.httpCode, 404);
    assert.equal(status.reason, 'NotFound');
  }
  assert.equal((await custom.getNamespacedCustomObject({ group, version, namespace, plural: 'routeagents', name: 'node-1' }) as Obj).status?.version, 'v0', 'the 404s wrote nothing');
});

test('Nodes keep status on create; the main resource ignores status changes, /status changes only status', async () => {
  await core.createNode({ body: { metadata: { name: 'status-node' }, status: { conditions: [{ type: 'Ready', status: 'False' }] } } });
  const node = await core.readNode({ name: 'status-node' });
  assert.equal(node.status?.conditions?.[0]?.status, 'False', 'Nodes keep status on create, as kubelets rely on');
  node.status = { conditions: [{ type: 'Ready', status: 'True' }] };
  node.spec = { unschedulable: true };
  const afterMain = await core.replaceNode({ name: 'status-node', body: node });
  assert.equal(afterMain.status?.conditions?.[0]?.status, 'False');
  assert.equal(afterMain.spec?.unschedulable, true);
  const afterStatus = await core.replaceNodeStatus({ name: 'status-node', body: { ...afterMain, status: { conditions: [{ type: 'Ready', status: 'True' }] } } });
  assert.equal(afterStatus.status?.conditions?.[0]?.status, 'True');
  assert.equal(afterStatus.spec?.unschedulable, true, 'a status write leaves the spec alone');
});

test('label selectors: =, ==, !=, in, notin, exists, !exists', async () => {
  const ns = 'selectors';
  await create('s-a', { tier: 'gw', zone: 'a' }, ns);
  await create('s-b', { tier: 'node', zone: 'b' }, ns);
  await create('s-c', { zone: 'c' }, ns);
  const cases: Array<[string, string[]]> = [
    ['tier=gw', ['s-a']], ['tier==node', ['s-b']], ['tier!=gw', ['s-b', 's-c']], ['zone in (a, c)', ['s-a', 's-c']],
    ['zone notin (a)', ['s-b', 's-c']], ['tier', ['s-a', 's-b']], ['!tier', ['s-c']], ['tier,zone=b', ['s-b']], ['', ['s-a', 's-b', 's-c']],
  ];
  for (const [labelSelector, expected] of cases) assert.deepEqual(await listNames({ ns, labelSelector }), expected, labelSelector);
  const bad = await expectStatus(() => listNames({ ns, labelSelector: 'zone in (a' }));
  assert.equal(bad.httpCode, 400);
});

test('field selectors: metadata.name and metadata.namespace, across namespaces; unknown fields are 400', async () => {
  await create('f-1', {}, 'fields-1');
  await create('f-2', {}, 'fields-1');
  await create('f-1', {}, 'fields-2');
  assert.deepEqual(await listNames({ ns: 'fields-1', fieldSelector: 'metadata.name=f-2' }), ['f-2']);
  assert.deepEqual(await listNames({ ns: 'fields-1', fieldSelector: 'metadata.name!=f-2' }), ['f-1']);
  const all = await custom.listClusterCustomObject({ group, version, plural, fieldSelector: 'metadata.name=f-1' }) as { items: Array<{ metadata: { namespace: string } }> };
  assert.deepEqual(all.items.map((o) => o.metadata.namespace), ['fields-1', 'fields-2']);
  const one = await custom.listClusterCustomObject({ group, version, plural, fieldSelector: 'metadata.namespace=fields-2' }) as { items: Obj[] };
  assert.deepEqual(one.items.map((o) => o.metadata.name), ['f-1']);
  const bad = await expectStatus(() => listNames({ fieldSelector: 'spec.hostname=gw-1' }));
  assert.equal(bad.httpCode, 400);
  assert.match(bad.message, /field label not supported/);
});

test('delete returns the object and removes it; namespaces used by objects exist; deleteCollection honours selectors', async () => {
  await create('del-1', { batch: 'x' }, 'deletions');
  await create('del-2', { batch: 'x' }, 'deletions');
  await create('del-3', { batch: 'y' }, 'deletions');
  const deleted = await custom.deleteNamespacedCustomObject({ group, version, namespace: 'deletions', plural, name: 'del-3' }) as Obj;
  assert.equal(deleted.metadata.name, 'del-3');
  assert.equal((await expectStatus(() => custom.deleteNamespacedCustomObject({ group, version, namespace: 'deletions', plural, name: 'del-3' }))).httpCode, 404);
  await custom.deleteCollectionNamespacedCustomObject({ group, version, namespace: 'deletions', plural, labelSelector: 'batch=x' });
  assert.deepEqual(await listNames({ ns: 'deletions' }), []);
  const ns = await core.readNamespace({ name: 'deletions' });
  assert.equal(ns.status?.phase, 'Active');
  const namespaces = await core.listNamespace();
  assert.ok(namespaces.items.some((n) => n.metadata?.name === 'default'));
});

test('discovery: versions, groups, resource lists and /version through the client', async () => {
  const kc = kubeConfigFor(server.url);
  assert.deepEqual((await kc.makeApiClient(CoreApi).getAPIVersions()).versions, ['v1']);
  const groups = await kc.makeApiClient(ApisApi).getAPIVersions();
  assert.deepEqual(groups.groups.map((g) => g.name).sort(), ['apiextensions.k8s.io', 'apps', 'coordination.k8s.io', 'rbac.authorization.k8s.io', 'submariner.io']);
  const resources = await kc.makeApiClient(CustomObjectsApi).getAPIResources({ group, version });
  const byName = new Map(resources.resources.map((r) => [r.name, r]));
  assert.deepEqual([...byName.keys()].sort(), ['clusters', 'endpoints', 'gateways', 'routeagents'], 'no status subresources, as Submariner\'s CRDs declare none');
  assert.equal(byName.get('endpoints')?.kind, 'Endpoint');
  assert.equal(byName.get('endpoints')?.namespaced, true);
  assert.ok(byName.get('endpoints')?.verbs.includes('watch'));
  const coreResources = await core.getAPIResources();
  const nodes = coreResources.resources.find((r) => r.name === 'nodes');
  assert.equal(nodes?.namespaced, false);
  assert.deepEqual(nodes?.shortNames, ['no']);
  assert.ok(coreResources.resources.some((r) => r.name === 'nodes/status'));
  assert.equal((await kc.makeApiClient(VersionApi).getCode()).major, '1');
});

test('a kubeconfig file from kubeconfigFor loads in the client and reaches the plain-HTTP server', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'swa-kubeconfig-'));
  try {
    const file = join(dir, 'kubeconfig');
    await writeFile(file, kubeconfigFor(server.url, 'lab-cluster', 'default'));
    const kc = new KubeConfig();
    kc.loadFromFile(file);
    assert.equal(kc.getContextObject(kc.getCurrentContext())?.namespace, 'default');
    const namespaces = await kc.makeApiClient(CoreV1Api).listNamespace();
    assert.ok(namespaces.items.some((n) => n.metadata?.name === 'kube-system'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
