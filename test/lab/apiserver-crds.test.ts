/**
 * CustomResourceDefinitions through the real @kubernetes/client-node: a CRD created through the API makes its
 * kind appear in discovery (with exactly its subresources, short names and categories) and usable; its status
 * subresource, scale subresource and schema take effect; a malformed CRD is 422; deleting a CRD deletes its
 * objects, ends watches on it and removes the kind. The server starts with Submariner's CRDs as objects.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  ApiextensionsV1Api, ApisApi, CustomObjectsApi, PatchStrategy, setHeaderOptions, Watch, type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { CrdController } from './apiserver/crd-controller.ts';
import { loadCrdManifests, SUBMARINER_CRDS_FILE } from './apiserver/crd-files.ts';
import { ObjectService } from './apiserver/objects.ts';
import { defaultResources, ResourceRegistry } from './apiserver/resources.ts';
import { startApiServer, type RunningApiServer } from './apiserver/server.ts';
import { Store } from './apiserver/store.ts';
import { WatchHub } from './apiserver/watch.ts';
import { expectStatus, kubeConfigFor, waitFor } from './apiserver/test-support.ts';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const group = 'example.com';
const namespace = 'lab';

let server: RunningApiServer;
let crds: ApiextensionsV1Api;
let custom: CustomObjectsApi;
let apis: ApisApi;
before(async () => {
  server = await startApiServer();
  const kc = kubeConfigFor(server.url);
  crds = kc.makeApiClient(ApiextensionsV1Api);
  custom = kc.makeApiClient(CustomObjectsApi);
  apis = kc.makeApiClient(ApisApi);
});
after(() => server.close());

type Obj = { metadata: { name: string; resourceVersion: string; generation?: number }; spec?: Record<string, unknown>; status?: Record<string, unknown> };

/**
 * A namespaced Widget CRD (status and scale subresources, a short name, a category) with a given schema for spec.colour.
 * (The client's typed model spells `enum` as `_enum`; its serializer sends `enum`.)
 */
function widgetCrd(colour: Record<string, unknown> = { type: 'string' }): V1CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: `widgets.${group}` },
    spec: {
      group, scope: 'Namespaced',
      names: { kind: 'Widget', plural: 'widgets', shortNames: ['wg'], categories: ['all', 'toys'] },
      versions: [{
        name: 'v1', served: true, storage: true,
        subresources: { status: {}, scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.selector' } },
        schema: { openAPIV3Schema: { type: 'object', properties: {
          spec: { type: 'object', required: ['colour'], properties: { colour, replicas: { type: 'integer', minimum: 0 } } },
          status: { type: 'object', properties: { replicas: { type: 'integer' }, selector: { type: 'string' }, phase: { type: 'string', _enum: ['Ready', 'Broken'] } } },
        } } },
      }],
    },
  };
}
const widget = (name: string, spec: Record<string, unknown> = { colour: 'red' }, status?: Record<string, unknown>) =>
  ({ apiVersion: `${group}/v1`, kind: 'Widget', metadata: { name }, spec, ...(status ? { status } : {}) });
const widgets = { group, version: 'v1', namespace, plural: 'widgets' };

async function discovery(path: string): Promise<{ code: number; body: Record<string, unknown> }> {
  const response = await fetch(server.url + path);
  return { code: response.status, body: await response.json() as Record<string, unknown> };
}

test('the server starts with Submariner\'s four CRDs as objects, Established and NamesAccepted; with crds: [] it serves none', async () => {
  const list = await crds.listCustomResourceDefinition();
  assert.deepEqual(list.items.map((c) => c.metadata?.name).sort(), ['clusters.submariner.io', 'endpoints.submariner.io', 'gateways.submariner.io', 'routeagents.submariner.io']);
  for (const crd of list.items) {
    const conditions = new Map(crd.status?.conditions?.map((c) => [c.type, c]));
    assert.equal(conditions.get('Established')?.status, 'True');
    assert.equal(conditions.get('Established')?.reason, 'InitialNamesAccepted');
    assert.equal(conditions.get('NamesAccepted')?.reason, 'NoConflicts');
    assert.deepEqual(crd.status?.storedVersions, ['v1']);
    assert.equal(crd.status?.acceptedNames?.kind, crd.spec.names.kind);
  }
  const bare = await startApiServer({ crds: [] });
  try {
    const groups = await kubeConfigFor(bare.url).makeApiClient(ApisApi).getAPIVersions();
    assert.ok(!groups.groups.some((g) => g.name === 'submariner.io'));
    assert.equal((await fetch(`${bare.url}/apis/submariner.io/v1/endpoints`)).status, 404);
  } finally {
    await bare.close();
  }
});

test('a CRD created through the API: status set, its kind in discovery with exactly its subresources, short names and categories, and usable', async () => {
  const created = await crds.createCustomResourceDefinition({ body: widgetCrd() });
  const conditions = new Map(created.status?.conditions?.map((c) => [c.type, c.status]));
  assert.equal(conditions.get('Established'), 'True');
  assert.equal(conditions.get('NamesAccepted'), 'True');
  assert.deepEqual({ ...created.status?.acceptedNames }, { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList', shortNames: ['wg'], categories: ['all', 'toys'] });
  assert.equal(created.spec.names.singular, 'widget', 'spec defaults: singular');
  assert.equal(created.spec.names.listKind, 'WidgetList', 'spec defaults: listKind');

  assert.ok((await apis.getAPIVersions()).groups.some((g) => g.name === group && g.preferredVersion?.version === 'v1'));
  assert.equal((await discovery(`/apis/${group}`)).code, 200);
  const resources = await custom.getAPIResources({ group, version: 'v1' });
  const byName = new Map(resources.resources.map((r) => [r.name, r]));
  assert.deepEqual([...byName.keys()].sort(), ['widgets', 'widgets/scale', 'widgets/status']);
  assert.deepEqual(byName.get('widgets')?.shortNames, ['wg']);
  assert.deepEqual(byName.get('widgets')?.categories, ['all', 'toys']);
  assert.equal(byName.get('widgets')?.namespaced, true);
  assert.deepEqual([...(byName.get('widgets')?.verbs ?? [])].sort(), ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch']);
  assert.deepEqual(byName.get('widgets/status')?.verbs, ['get', 'patch', 'update']);
  assert.equal(byName.get('widgets/scale')?.kind, 'Scale');
  assert.equal(byName.get('widgets/scale')?.group, 'autoscaling');

  await custom.createNamespacedCustomObject({ ...widgets, body: widget('w-1') });
  const list = await custom.listNamespacedCustomObject(widgets) as { kind: string; items: Obj[] };
  assert.equal(list.kind, 'WidgetList');
  assert.deepEqual(list.items.map((w) => w.spec?.colour), ['red']);
  const invalid = await expectStatus(() => custom.createNamespacedCustomObject({ ...widgets, body: widget('w-bad', { colour: 3 }) }));
  assert.equal(invalid.httpCode, 422);
  assert.equal(invalid.message, 'Widget.example.com "w-bad" is invalid: spec.colour: Invalid value: "integer": spec.colour in body must be of type string: "integer"');
});

test('a CRD declaring a status subresource gets status semantics: dropped on create, ignored by main writes, /status changes only status', async () => {
  const created = await custom.createNamespacedCustomObject({ ...widgets, body: widget('w-status', { colour: 'blue' }, { phase: 'Ready' }) }) as Obj;
  assert.equal(created.status, undefined, 'status in a create body is dropped');
  const withStatus = await custom.patchNamespacedCustomObjectStatus({ ...widgets, name: 'w-status', body: { status: { phase: 'Ready' }, spec: { colour: 'green' } } }, mergePatch) as Obj;
  assert.deepEqual(withStatus.status, { phase: 'Ready' });
  assert.equal(withStatus.spec?.colour, 'blue', 'a status write leaves the spec alone');
  assert.equal(withStatus.metadata.generation, 1, 'status changes do not bump generation');
  const main = await custom.patchNamespacedCustomObject({ ...widgets, name: 'w-status', body: { status: { phase: 'Broken' }, spec: { colour: 'green' } } }, mergePatch) as Obj;
  assert.deepEqual(main.status, { phase: 'Ready' }, 'the main resource ignores status');
  assert.equal(main.spec?.colour, 'green');
  assert.equal(main.metadata.generation, 2);
  const badStatus = await expectStatus(() => custom.patchNamespacedCustomObjectStatus({ ...widgets, name: 'w-status', body: { status: { phase: 'Gone' } } }, mergePatch));
  assert.equal(badStatus.httpCode, 422, 'status writes are validated against the schema');
  assert.equal(badStatus.message, 'Widget.example.com "w-status" is invalid: status.phase: Unsupported value: "Gone": supported values: "Ready", "Broken"');
});

test('the scale subresource reads and writes the CRD\'s replica paths', async () => {
  await custom.createNamespacedCustomObject({ ...widgets, body: widget('w-scale', { colour: 'red', replicas: 2 }) });
  await custom.patchNamespacedCustomObjectStatus({ ...widgets, name: 'w-scale', body: { status: { replicas: 1, selector: 'app=w' } } }, mergePatch);
  const scale = await custom.getNamespacedCustomObjectScale({ ...widgets, name: 'w-scale' }) as { kind: string; apiVersion: string; spec: { replicas?: number }; status: { replicas: number; selector?: string } };
  assert.equal(scale.kind, 'Scale');
  assert.equal(scale.apiVersion, 'autoscaling/v1');
  assert.deepEqual(scale.spec, { replicas: 2 });
  assert.deepEqual(scale.status, { replicas: 1, selector: 'app=w' });
  const scaled = await custom.patchNamespacedCustomObjectScale({ ...widgets, name: 'w-scale', body: { spec: { replicas: 5 } } }, mergePatch) as { spec: { replicas: number } };
  assert.equal(scaled.spec.replicas, 5);
  const object = await custom.getNamespacedCustomObject({ ...widgets, name: 'w-scale' }) as Obj;
  assert.equal(object.spec?.replicas, 5);
  assert.equal(object.metadata.generation, 2);
  const negative = await expectStatus(() => custom.patchNamespacedCustomObjectScale({ ...widgets, name: 'w-scale', body: { spec: { replicas: -1 } } }, mergePatch));
  assert.equal(negative.httpCode, 422);
});

test('updating a CRD\'s schema takes effect for later writes; group, plural, scope and kind are immutable', async () => {
  const current = await crds.readCustomResourceDefinition({ name: `widgets.${group}` });
  await custom.createNamespacedCustomObject({ ...widgets, body: widget('w-long', { colour: 'ultramarine' }) });
  const updated = { ...current, spec: widgetCrd({ type: 'string', maxLength: 5 }).spec };
  const replaced = await crds.replaceCustomResourceDefinition({ name: `widgets.${group}`, body: updated });
  assert.equal(replaced.metadata?.generation, 2);
  const tooLong = await expectStatus(() => custom.createNamespacedCustomObject({ ...widgets, body: widget('w-long-2', { colour: 'ultramarine' }) }));
  assert.equal(tooLong.httpCode, 422);
  assert.deepEqual(tooLong.details?.causes, [{ reason: 'FieldValueTooLong', field: 'spec.colour', message: 'Too long: may not be more than 5 bytes' }]);
  await custom.createNamespacedCustomObject({ ...widgets, body: widget('w-short', { colour: 'teal' }) });

  const scope = await expectStatus(() => crds.patchCustomResourceDefinition({ name: `widgets.${group}`, body: { spec: { scope: 'Cluster' } } }, mergePatch));
  assert.equal(scope.httpCode, 422);
  assert.equal(scope.message, 'CustomResourceDefinition.apiextensions.k8s.io "widgets.example.com" is invalid: spec.scope: Invalid value: "Cluster": field is immutable');
});

test('a CRD serving several versions: each in discovery, the group\'s preferred version by Kubernetes\' version priority', async () => {
  const schema = { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', x_kubernetes_preserve_unknown_fields: true } } } };
  const version = (name: string, storage: boolean) => ({ name, served: true, storage, schema });
  await crds.createCustomResourceDefinition({ body: {
    apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'doohickeys.example.net' },
    spec: { group: 'example.net', scope: 'Cluster', names: { kind: 'Doohickey', plural: 'doohickeys' },
      versions: [version('v1alpha1', false), version('v1', true), version('v2beta1', false)] },
  } });
  const document = (await discovery('/apis/example.net')).body as { versions: Array<{ version: string }>; preferredVersion: { version: string } };
  assert.deepEqual(document.versions.map((v) => v.version), ['v1', 'v2beta1', 'v1alpha1'], 'GA before beta before alpha');
  assert.equal(document.preferredVersion.version, 'v1');
  for (const v of ['v1', 'v2beta1', 'v1alpha1']) {
    const resources = await custom.getAPIResources({ group: 'example.net', version: v });
    assert.deepEqual(resources.resources.map((r) => `${r.name} ${r.namespaced}`), ['doohickeys false'], v);
  }
  const created = await custom.createClusterCustomObject({ group: 'example.net', version: 'v1', plural: 'doohickeys',
    body: { apiVersion: 'example.net/v1', kind: 'Doohickey', metadata: { name: 'd-1' }, spec: { anything: { goes: true } } } }) as Obj;
  assert.deepEqual(created.spec, { anything: { goes: true } }, 'x-kubernetes-preserve-unknown-fields keeps what it holds');
  await crds.deleteCustomResourceDefinition({ name: 'doohickeys.example.net' });
});

test('a malformed CRD is 422 with crd-manifest\'s causes and serves nothing', async () => {
  const crd = widgetCrd();
  const malformed = { ...crd, metadata: { name: 'gadgets.example.org' }, spec: { ...crd.spec, group: 'example.org', versions: [{ name: 'v1', served: true, storage: true }] } };
  const status = await expectStatus(() => crds.createCustomResourceDefinition({ body: malformed as V1CustomResourceDefinition }));
  assert.equal(status.httpCode, 422);
  assert.equal(status.reason, 'Invalid');
  assert.match(status.message, /^CustomResourceDefinition\.apiextensions\.k8s\.io "gadgets\.example\.org" is invalid: \[metadata\.name: Invalid value: "gadgets\.example\.org": must be spec\.names\.plural\+"\."\+spec\.group, spec\.versions\[0\]\.schema\.openAPIV3Schema: Required value: schemas are required\]$/);
  assert.deepEqual(status.details?.causes?.map((c) => c.field), ['metadata.name', 'spec.versions[0].schema.openAPIV3Schema']);
  assert.equal((await expectStatus(() => crds.readCustomResourceDefinition({ name: 'gadgets.example.org' }))).httpCode, 404);
  assert.equal((await discovery('/apis/example.org')).code, 404);
});

test('deleting a CRD: terminating first, then its objects are deleted (watchers see it), its watches end, the kind leaves discovery', async () => {
  const crd = { ...widgetCrd(), metadata: { name: `gizmos.${group}` } };
  crd.spec = { ...crd.spec, names: { kind: 'Gizmo', plural: 'gizmos' } };
  await crds.createCustomResourceDefinition({ body: crd });
  const gizmos = { group, version: 'v1', namespace, plural: 'gizmos' };
  for (const name of ['g-1', 'g-2']) await custom.createNamespacedCustomObject({ ...gizmos, body: { apiVersion: `${group}/v1`, kind: 'Gizmo', metadata: { name }, spec: { colour: 'red' } } });

  const events: string[] = [];
  let ended = false;
  const watch = await new Watch(kubeConfigFor(server.url)).watch(`/apis/${group}/v1/namespaces/${namespace}/gizmos`, {},
    (type: string, object: { metadata: { name: string } }) => events.push(`${type} ${object.metadata.name}`), () => { ended = true; });
  await waitFor('the watch to list both gizmos', () => events.length === 2);

  // Through fetch: the client reads a DELETE's answer as a Status, and this one is the CRD itself.
  const response = await fetch(`${server.url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gizmos.${group}`, { method: 'DELETE' });
  assert.equal(response.status, 200);
  const deleted = await response.json() as V1CustomResourceDefinition;
  assert.ok(deleted.metadata?.deletionTimestamp, 'the DELETE answers the CRD marked for deletion');
  assert.deepEqual(deleted.metadata?.finalizers, ['customresourcecleanup.apiextensions.k8s.io']);
  const terminating = deleted.status?.conditions?.find((c) => c.type === 'Terminating');
  assert.equal(terminating?.status, 'True');
  assert.equal(terminating?.reason, 'InstanceDeletionPending');

  await waitFor('the CRD to be gone', async () => (await fetch(`${server.url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gizmos.${group}`)).status === 404);
  await waitFor('the watch to end', () => ended);
  watch.abort();
  assert.deepEqual(events.slice(2).sort(), ['DELETED g-1', 'DELETED g-2'], 'watchers saw every object deleted');
  const resources = await custom.getAPIResources({ group, version: 'v1' });
  assert.deepEqual(resources.resources.map((r) => r.name).sort(), ['widgets', 'widgets/scale', 'widgets/status'], 'gizmos left discovery, widgets stay');
  assert.equal((await expectStatus(() => custom.listNamespacedCustomObject(gizmos))).httpCode, 404);

  await crds.deleteCustomResourceDefinition({ name: `widgets.${group}` });
  await waitFor('the group to leave /apis', async () => !(await apis.getAPIVersions()).groups.some((g) => g.name === group));
  assert.equal((await discovery(`/apis/${group}/v1`)).code, 404);
});

test('deleting Submariner\'s Endpoint CRD removes its Endpoints; recreating it from manifests/01-crds.yaml serves the kind again, empty', async () => {
  const endpoints = { group: 'submariner.io', version: 'v1', namespace, plural: 'endpoints' };
  const spec = { cluster_id: 'c1', cable_name: 'cable', hostname: 'gw', subnets: [], backend: 'libreswan', nat_enabled: false };
  await custom.createNamespacedCustomObject({ ...endpoints, body: { apiVersion: 'submariner.io/v1', kind: 'Endpoint', metadata: { name: 'e-1' }, spec } });
  await crds.deleteCustomResourceDefinition({ name: 'endpoints.submariner.io' });
  await waitFor('endpoints to be unserved', async () => (await fetch(`${server.url}/apis/submariner.io/v1/endpoints`)).status === 404);
  const manifest = loadCrdManifests(SUBMARINER_CRDS_FILE).find((m) => (m as V1CustomResourceDefinition).metadata?.name === 'endpoints.submariner.io');
  await crds.createCustomResourceDefinition({ body: manifest as V1CustomResourceDefinition });
  const list = await custom.listNamespacedCustomObject(endpoints) as { items: Obj[] };
  assert.deepEqual(list.items, [], 'the old Endpoints went with the old CRD');
});

test('while a CRD terminates, creates of its kind are 405 in the CRD handler\'s words (same turn of the event loop as the DELETE)', () => {
  const store = new Store(1000);
  const registry = new ResourceRegistry(defaultResources());
  const controller = new CrdController(store, registry, new WatchHub(store));
  const objects = new ObjectService(store, registry, undefined, (r) => (r === controller.resource ? controller.hooks : undefined));
  objects.create(controller.resource, undefined, widgetCrd());
  const resource = registry.lookup(group, 'v1', 'widgets');
  assert.ok(resource);
  objects.delete(controller.resource, undefined, `widgets.${group}`, undefined);
  assert.throws(() => objects.create(resource, namespace, widget('late')), (error: { code: number; reason: string; message: string }) =>
    error.code === 405 && error.reason === 'MethodNotAllowed' && error.message === 'create not allowed while custom resource definition is terminating');
});
