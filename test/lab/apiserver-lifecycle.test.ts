/**
 * How objects leave the lab's API server, as on a cluster: graceful Pod deletion (deletionTimestamp, the grace
 * from the DELETE, the Pod or the default, shorten-only, force), finalizers (a DELETE keeps the object, emptying
 * them removes it, none may be added while it is being deleted), and the garbage collector (background,
 * foreground and orphan propagation across kinds, dangling owners), driven by the real client, fetch and kubectl.
 * The pure parts (DeleteOptions, the deletion plan, ObjectMeta checks, the owner index) get their own cases.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AppsV1Api, CoreV1Api, PatchStrategy, RbacAuthorizationV1Api, setHeaderOptions, Watch, type V1Pod } from '@kubernetes/client-node';
import { run } from '../../src/kernel/exec.ts';
import { requireTools } from '../helpers/prereq.ts';
import { AdminClient } from './apiserver/admin-client.ts';
import { parseDeleteOptions, validateDeleteOptions } from './apiserver/delete-options.ts';
import { deletionFinalizers, emptiesFinalizers, planDelete, podGracePeriod } from './apiserver/deletion.ts';
import { checkMetaTypes, finalizerErrors, newFinalizerErrors, ownerReferenceErrors, qualifiedNameErrors } from './apiserver/object-meta.ts';
import { OwnerIndex } from './apiserver/owner-index.ts';
import { startApiServer, type RunningApiServer } from './apiserver/server.ts';
import { ApiError } from './apiserver/status.ts';
import type { KubeObject } from './apiserver/store.ts';
import { expectStatus, kubeConfigFor, waitFor } from './apiserver/test-support.ts';

// ---------------------------------------------------------------------------------------------------------
// Pure parts
// ---------------------------------------------------------------------------------------------------------

const apiError = (code: number, message?: RegExp) => (error: unknown) =>
  error instanceof ApiError && error.code === code && (message === undefined || message.test(error.message));

describe('DeleteOptions', () => {
  test('the body wins over the query; the query is read only without a body', () => {
    const query = new URLSearchParams('gracePeriodSeconds=7&propagationPolicy=Orphan');
    assert.deepEqual(parseDeleteOptions(undefined, query), { gracePeriodSeconds: 7, propagationPolicy: 'Orphan' });
    assert.deepEqual(parseDeleteOptions({ gracePeriodSeconds: 3 }, query), { gracePeriodSeconds: 3 });
    assert.deepEqual(parseDeleteOptions({}, query), {});
    assert.deepEqual(parseDeleteOptions(undefined, new URLSearchParams('orphanDependents=false')), { orphanDependents: false });
    assert.deepEqual(parseDeleteOptions(undefined, new URLSearchParams('orphanDependents=1')), { orphanDependents: true });
    assert.deepEqual(parseDeleteOptions(undefined, undefined), {});
  });

  test('every field of a body: grace, policy, legacy orphanDependents, preconditions; nulls are absent', () => {
    assert.deepEqual(parseDeleteOptions({
      kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0, propagationPolicy: 'Foreground', preconditions: { uid: 'u', resourceVersion: '9' },
    }), { gracePeriodSeconds: 0, propagationPolicy: 'Foreground', preconditions: { uid: 'u', resourceVersion: '9' } });
    assert.deepEqual(parseDeleteOptions({ gracePeriodSeconds: null, propagationPolicy: null, orphanDependents: null, preconditions: null }), {});
    assert.deepEqual(parseDeleteOptions({ orphanDependents: true }), { orphanDependents: true });
  });

  test('values that do not decode are 400', () => {
    for (const body of [[], 'x', 3, { gracePeriodSeconds: '5' }, { gracePeriodSeconds: 1.5 }, { propagationPolicy: 1 },
      { orphanDependents: 'yes' }, { preconditions: 'u' }, { preconditions: { uid: 7 } }, { dryRun: ['All'] }]) {
      assert.throws(() => parseDeleteOptions(body), apiError(400), JSON.stringify(body));
    }
    assert.throws(() => parseDeleteOptions({ gracePeriodSeconds: 'x' }), apiError(400, /cannot unmarshal string into Go struct field DeleteOptions\.gracePeriodSeconds of type int64/));
    assert.throws(() => parseDeleteOptions(undefined, new URLSearchParams('gracePeriodSeconds=soon')), apiError(400, /ParseInt: parsing "soon"/));
    assert.throws(() => parseDeleteOptions(undefined, new URLSearchParams('orphanDependents=maybe')), apiError(400, /ParseBool/));
  });

  test('ValidateDeleteOptions: an unknown policy, or a policy with orphanDependents, is 422 on DeleteOptions.meta.k8s.io', () => {
    assert.equal(validateDeleteOptions({ propagationPolicy: 'Background' }), 'Background');
    assert.equal(validateDeleteOptions({}), undefined);
    assert.throws(() => validateDeleteOptions({ propagationPolicy: 'Sideways' }), apiError(422,
      /^DeleteOptions\.meta\.k8s\.io "" is invalid: propagationPolicy: Unsupported value: "Sideways": supported values: "Foreground", "Background", "Orphan", "nil"$/));
    assert.throws(() => validateDeleteOptions({ propagationPolicy: 'Orphan', orphanDependents: true }), apiError(422,
      /propagationPolicy: Invalid value: "Orphan": orphanDependents and deletionPropagation cannot be both set/));
  });
});

const at = (iso: string) => new Date(iso);
const pod = (spec: Record<string, unknown> = {}, metadata: Record<string, unknown> = {}, status: Record<string, unknown> = { phase: 'Running' }): KubeObject =>
  ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns', uid: 'u1', resourceVersion: '5', generation: 1, ...metadata }, spec: { nodeName: 'n1', ...spec }, status });
const configMap = (metadata: Record<string, unknown> = {}): KubeObject =>
  ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'ns', uid: 'u2', resourceVersion: '5', generation: 1, ...metadata } });
const now = at('2030-01-01T00:00:00Z');

describe('the deletion plan', () => {
  test('a Pod\'s grace: the DELETE\'s, else its spec\'s, else 30; 0 when unbound or ended; a negative spec counts as 1', () => {
    assert.equal(podGracePeriod(pod(), undefined), 30);
    assert.equal(podGracePeriod(pod({ terminationGracePeriodSeconds: 7 }), undefined), 7);
    assert.equal(podGracePeriod(pod({ terminationGracePeriodSeconds: 7 }), 2), 2);
    assert.equal(podGracePeriod(pod({ terminationGracePeriodSeconds: 0 }), undefined), 0);
    assert.equal(podGracePeriod(pod({ terminationGracePeriodSeconds: -4 }), undefined), 1);
    assert.equal(podGracePeriod(pod({ terminationGracePeriodSeconds: 'x' }), undefined), 30);
    assert.equal(podGracePeriod(pod({ nodeName: '' }), 10), 0);
    assert.equal(podGracePeriod({ ...pod(), spec: 'garbage' }, 10), 0, 'no spec: not bound');
    assert.equal(podGracePeriod(pod({}, {}, { phase: 'Succeeded' }), 10), 0);
    assert.equal(podGracePeriod(pod({}, {}, { phase: 'Failed' }), undefined), 0);
  });

  test('a first graceful DELETE marks the Pod: deletionTimestamp now + grace, the grace, generation bumped', () => {
    const plan = planDelete(pod(), {}, undefined, podGracePeriod, now);
    assert.equal(plan.action, 'update');
    assert.ok(plan.action === 'update');
    assert.equal(plan.object.metadata.deletionTimestamp, '2030-01-01T00:00:30Z');
    assert.equal(plan.object.metadata.deletionGracePeriodSeconds, 30);
    assert.equal(plan.object.metadata.generation, 2);
    assert.equal(plan.object.metadata.finalizers, undefined, 'Background adds no finalizer');
  });

  test('a later DELETE may only shorten the grace: longer or absent keeps it, shorter moves the timestamp', () => {
    const terminating = pod({}, { deletionTimestamp: '2030-01-01T00:00:30Z', deletionGracePeriodSeconds: 30 });
    assert.deepEqual(planDelete(terminating, {}, undefined, podGracePeriod, now), { action: 'keep' });
    assert.deepEqual(planDelete(terminating, { gracePeriodSeconds: 30 }, undefined, podGracePeriod, now), { action: 'keep' });
    assert.deepEqual(planDelete(terminating, { gracePeriodSeconds: 60 }, 'Orphan', podGracePeriod, now), { action: 'keep' }, 'nor do its finalizers change');
    const shorter = planDelete(terminating, { gracePeriodSeconds: 5 }, undefined, podGracePeriod, at('2030-01-01T00:00:10Z'));
    assert.ok(shorter.action === 'update');
    assert.equal(shorter.object.metadata.deletionTimestamp, '2030-01-01T00:00:05Z', 'first DELETE (00:00:00) + 5 s');
    assert.equal(shorter.object.metadata.deletionGracePeriodSeconds, 5);
    assert.equal(shorter.object.metadata.generation, 1, 'generation is bumped only by the first');
  });

  test('grace 0 (force, the kubelet\'s last word, an unbound Pod) writes the deletion and removes the Pod', () => {
    const forced = planDelete(pod(), { gracePeriodSeconds: 0 }, undefined, podGracePeriod, now);
    assert.ok(forced.action === 'remove' && forced.last);
    assert.equal(forced.last.metadata.deletionTimestamp, '2030-01-01T00:00:00Z');
    assert.equal(forced.last.metadata.deletionGracePeriodSeconds, 0);
    const final = planDelete(pod({}, { deletionTimestamp: '2030-01-01T00:00:30Z', deletionGracePeriodSeconds: 30 }), { gracePeriodSeconds: 0 }, undefined, podGracePeriod, now);
    assert.ok(final.action === 'remove' && final.last?.metadata.deletionGracePeriodSeconds === 0);
    assert.equal(planDelete(pod({ nodeName: undefined }), {}, undefined, podGracePeriod, now).action, 'remove');
    assert.equal(planDelete(pod({}, { deletionTimestamp: '2030-01-01T00:00:00Z', deletionGracePeriodSeconds: 0 }), {}, undefined, podGracePeriod, now).action, 'remove',
      'a deletion left half-done (grace 0 stored) completes');
  });

  test('a negative grace counts as 1 s', () => {
    const plan = planDelete(pod(), { gracePeriodSeconds: -5 }, undefined, podGracePeriod, now);
    assert.ok(plan.action === 'update');
    assert.equal(plan.object.metadata.deletionGracePeriodSeconds, 1);
  });

  test('kinds without graceful deletion: removed at once, unless finalizers remain (then kept with grace 0)', () => {
    assert.deepEqual(planDelete(configMap(), {}, undefined, undefined, now), { action: 'remove' });
    const held = planDelete(configMap({ finalizers: ['example.com/hold'] }), {}, undefined, undefined, now);
    assert.ok(held.action === 'update');
    assert.equal(held.object.metadata.deletionTimestamp, '2030-01-01T00:00:00Z');
    assert.equal(held.object.metadata.deletionGracePeriodSeconds, 0);
    assert.equal(held.object.metadata.generation, 2);
    const again = planDelete(held.object, {}, undefined, undefined, at('2030-01-01T01:00:00Z'));
    assert.deepEqual(again, { action: 'keep' }, 'a second DELETE changes nothing (the earlier timestamp stays)');
  });

  test('propagation: Foreground and Orphan keep the object with their finalizer; a later DELETE may switch them', () => {
    const foreground = planDelete(configMap(), {}, 'Foreground', undefined, now);
    assert.ok(foreground.action === 'update');
    assert.deepEqual(foreground.object.metadata.finalizers, ['foregroundDeletion']);
    const orphan = planDelete(configMap({ finalizers: ['a.io/x'] }), {}, 'Orphan', undefined, now);
    assert.ok(orphan.action === 'update');
    assert.deepEqual(orphan.object.metadata.finalizers, ['a.io/x', 'orphan']);
    const switched = planDelete(foreground.object, {}, 'Orphan', undefined, now);
    assert.ok(switched.action === 'update');
    assert.deepEqual(switched.object.metadata.finalizers, ['orphan']);
    assert.equal(switched.object.metadata.deletionTimestamp, foreground.object.metadata.deletionTimestamp);
    const graceful = planDelete(pod(), {}, 'Foreground', podGracePeriod, now);
    assert.ok(graceful.action === 'update');
    assert.deepEqual([graceful.object.metadata.finalizers, graceful.object.metadata.deletionGracePeriodSeconds], [['foregroundDeletion'], 30]);
  });

  test('the garbage collector\'s finalizers: options first, then the legacy flag, then those already there', () => {
    assert.deepEqual(deletionFinalizers([], {}, undefined), []);
    assert.deepEqual(deletionFinalizers([], {}, 'Background'), []);
    assert.deepEqual(deletionFinalizers(['orphan'], {}, 'Background'), []);
    assert.deepEqual(deletionFinalizers(['orphan'], {}, undefined), ['orphan'], 'kept when nothing is asked');
    assert.deepEqual(deletionFinalizers([], { orphanDependents: true }, undefined), ['orphan']);
    assert.deepEqual(deletionFinalizers(['foregroundDeletion'], { orphanDependents: false }, undefined), []);
    const same = ['x.io/a', 'foregroundDeletion'];
    assert.equal(deletionFinalizers(same, {}, 'Foreground'), same, 'unchanged: the same list');
  });

  test('an update emptying finalizers removes an object being deleted without grace, not one still in its grace', () => {
    const held = configMap({ finalizers: ['a.io/x'], deletionTimestamp: '2030-01-01T00:00:00Z', deletionGracePeriodSeconds: 0 });
    assert.equal(emptiesFinalizers(configMap(), held), true);
    assert.equal(emptiesFinalizers(configMap({ finalizers: ['a.io/y'] }), held), false);
    assert.equal(emptiesFinalizers(configMap(), configMap({ finalizers: ['a.io/x'] })), false, 'not being deleted');
    const terminating = pod({}, { finalizers: ['a.io/x'], deletionTimestamp: '2030-01-01T00:00:30Z', deletionGracePeriodSeconds: 30 });
    assert.equal(emptiesFinalizers(pod(), terminating), false);
  });
});

describe('ObjectMeta: ownerReferences and finalizers', () => {
  test('well-formed references and finalizers pass', () => {
    const metadata = { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'ds', uid: 'u', controller: true, blockOwnerDeletion: true }], finalizers: ['orphan', 'example.com/x'] };
    checkMetaTypes(metadata, 'Pod', 'v1');
    assert.deepEqual([...ownerReferenceErrors(metadata), ...finalizerErrors(metadata)], []);
  });

  test('wrong types are 400 (the decoder refuses them)', () => {
    for (const metadata of [{ ownerReferences: {} }, { ownerReferences: ['x'] }, { ownerReferences: [{ uid: 1 }] }, { ownerReferences: [{ controller: 'yes' }] },
      { finalizers: 'orphan' }, { finalizers: [1] }]) {
      assert.throws(() => checkMetaTypes(metadata, 'Pod', 'v1'), apiError(400, /^Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal/), JSON.stringify(metadata));
    }
    checkMetaTypes({ ownerReferences: null, finalizers: null }, 'Pod', 'v1');
  });

  test('references missing their parts, two controllers, an Event as owner: 422 causes in the API server\'s words', () => {
    const causes = ownerReferenceErrors({ ownerReferences: [{ apiVersion: 'apps/', kind: '', name: '', uid: '' }] });
    assert.deepEqual(causes.map((c) => `${c.field}: ${c.message}`), [
      'metadata.ownerReferences.apiVersion: Invalid value: "apps/": version must not be empty',
      'metadata.ownerReferences.kind: Invalid value: "": must not be empty',
      'metadata.ownerReferences.name: Invalid value: "": must not be empty',
      'metadata.ownerReferences.uid: Invalid value: "": must not be empty',
    ]);
    const two = ownerReferenceErrors({ ownerReferences: [
      { apiVersion: 'v1', kind: 'A', name: 'a', uid: '1', controller: true }, { apiVersion: 'v1', kind: 'B', name: 'b', uid: '2', controller: true }] });
    assert.match(two[0]?.message ?? '', /Only one reference can have Controller set to true\. Found "true" in references for A\/a and B\/b$/);
    assert.match(ownerReferenceErrors({ ownerReferences: [{ apiVersion: 'v1', kind: 'Event', name: 'e', uid: '1' }] })[0]?.message ?? '', /is disallowed from being an owner/);
  });

  test('finalizers are qualified names, and orphan with foregroundDeletion is refused', () => {
    assert.deepEqual(qualifiedNameErrors('example.com/keep'), []);
    assert.deepEqual(qualifiedNameErrors('orphan'), []);
    assert.match(qualifiedNameErrors('Bad_Prefix/x')[0] ?? '', /^prefix part a lowercase RFC 1123 subdomain/);
    assert.match(qualifiedNameErrors('a/b/c')[0] ?? '', /^a qualified name must consist of/);
    assert.deepEqual(qualifiedNameErrors('x.io/'), ['name part must be non-empty', `name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`]);
    assert.deepEqual(qualifiedNameErrors(`x/${'a'.repeat(64)}`), ['name part must be no more than 63 characters']);
    assert.equal(finalizerErrors({ finalizers: ['-bad'] })[0]?.field, 'metadata.finalizers');
    assert.match(finalizerErrors({ finalizers: ['orphan', 'foregroundDeletion'] })[0]?.message ?? '', /finalizer orphan and foregroundDeletion cannot be both set/);
  });

  test('no new finalizers once an object is being deleted (dropping some is fine)', () => {
    const deleting = { deletionTimestamp: '2030-01-01T00:00:00Z', finalizers: ['a.io/x'] };
    assert.deepEqual(newFinalizerErrors({ finalizers: [] }, deleting), []);
    assert.deepEqual(newFinalizerErrors({ finalizers: ['a.io/x'] }, deleting), []);
    assert.deepEqual(newFinalizerErrors({ finalizers: ['z.io/z', 'a.io/x', 'b.io/y'] }, { finalizers: ['a.io/x'] }), [], 'not being deleted');
    assert.deepEqual(newFinalizerErrors({ finalizers: ['z.io/z', 'a.io/x', 'b.io/y'] }, deleting).map((c) => `${c.field}: ${c.message}`), [
      'metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{"b.io/y", "z.io/z"}',
    ]);
  });
});

test('the owner index: dependents follow adds, reference changes and deletes; objects by uid', () => {
  const index = new OwnerIndex();
  const object = (uid: string, owners: string[]): KubeObject =>
    ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: uid, uid, ownerReferences: owners.map((o) => ({ apiVersion: 'v1', kind: 'ConfigMap', name: o, uid: o })) } });
  assert.equal(index.apply({ key: 'k', type: 'ADDED', object: object('a', []) }), undefined);
  index.apply({ key: 'k', type: 'ADDED', object: object('b', ['a', 'ghost']) });
  index.apply({ key: 'k', type: 'ADDED', object: object('c', ['a']) });
  assert.deepEqual(index.dependentsOf('a').sort(), ['b', 'c']);
  assert.deepEqual(index.dependentsOf('ghost'), ['b'], 'owners that do not exist are indexed too');
  const before = index.apply({ key: 'k', type: 'MODIFIED', object: object('b', ['c']) });
  assert.deepEqual(before?.metadata.ownerReferences, object('b', ['a', 'ghost']).metadata.ownerReferences);
  assert.deepEqual(index.dependentsOf('a'), ['c']);
  assert.equal(index.hasDependents('ghost'), false);
  assert.deepEqual(index.dependentsOf('c'), ['b']);
  index.apply({ key: 'k', type: 'DELETED', object: object('b', ['c']) });
  assert.equal(index.get('b'), undefined);
  assert.deepEqual(index.dependentsOf('c'), []);
  assert.equal(index.get('a')?.key, 'k');
  assert.equal(index.size, 2);
  index.apply({ key: 'k', type: 'ADDED', object: { apiVersion: 'v1', kind: 'X', metadata: { name: 'no-uid' } } });
  assert.equal(index.size, 2, 'an object without a uid is not indexed');
});

// ---------------------------------------------------------------------------------------------------------
// Through the real server
// ---------------------------------------------------------------------------------------------------------

const namespace = 'lifecycle';
let server: RunningApiServer;
let core: CoreV1Api;
let apps: AppsV1Api;
let rbac: RbacAuthorizationV1Api;
let admin: AdminClient;
let dir: string;
let kubeconfig: string;
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

before(async () => {
  server = await startApiServer({});
  const kc = kubeConfigFor(server.url);
  core = kc.makeApiClient(CoreV1Api);
  apps = kc.makeApiClient(AppsV1Api);
  rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  admin = new AdminClient(server.url);
  dir = await mkdtemp(join(tmpdir(), 'seaway-lifecycle-'));
  kubeconfig = join(dir, 'kubeconfig');
  await writeFile(kubeconfig, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'lab', cluster: { server: server.url } }], users: [{ name: 'lab', user: {} }],
    contexts: [{ name: 'lab', context: { cluster: 'lab', user: 'lab', namespace } }], 'current-context': 'lab',
  }));
});

after(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

type Ref = { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean; blockOwnerDeletion?: boolean };

const podBody = (name: string, options: { node?: string | null; grace?: number; owners?: Ref[]; finalizers?: string[] } = {}): V1Pod => ({
  metadata: { name, ...(options.owners ? { ownerReferences: options.owners } : {}), ...(options.finalizers ? { finalizers: options.finalizers } : {}) },
  spec: {
    containers: [{ name: 'c', image: 'registry.example/agent:1' }],
    ...(options.node === null ? {} : { nodeName: options.node ?? 'node-1' }),
    ...(options.grace === undefined ? {} : { terminationGracePeriodSeconds: options.grace }),
  },
});
const createPod = (name: string, options: Parameters<typeof podBody>[1] = {}) => core.createNamespacedPod({ namespace, body: podBody(name, options) });
const readPod = (name: string) => core.readNamespacedPod({ name, namespace });
const podExists = async (name: string) => {
  const response = await fetch(`${server.url}/api/v1/namespaces/${namespace}/pods/${name}`);
  return response.status === 200;
};
const gone = async (path: string) => (await fetch(`${server.url}${path}`)).status === 404;

/** A DELETE through fetch: the body (JSON) or query exactly as given; the status code and the answer. */
async function del(path: string, options: { body?: unknown; query?: string } = {}): Promise<{ status: number; object: KubeObject }> {
  const response = await fetch(`${server.url}${path}${options.query ? `?${options.query}` : ''}`, {
    method: 'DELETE', ...(options.body === undefined ? {} : { body: JSON.stringify(options.body), headers: { 'Content-Type': 'application/json' } }),
  });
  return { status: response.status, object: await response.json() as KubeObject };
}
const podPath = (name: string) => `/api/v1/namespaces/${namespace}/pods/${name}`;
/** The kubelet's last word on a terminating Pod: DELETE with grace 0 and its uid. */
const kubeletDelete = async (name: string) => {
  const pod = await readPod(name);
  return del(podPath(name), { body: { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata?.uid } } });
};

function daemonSetBody(name: string) {
  return {
    metadata: { name },
    spec: {
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'registry.example/agent:1' }] } },
    },
  };
}
const ownedBy = (owner: { metadata?: { name?: string; uid?: string } }, kind = 'DaemonSet', apiVersion = 'apps/v1', block = true): Ref =>
  ({ apiVersion, kind, name: owner.metadata?.name ?? '', uid: owner.metadata?.uid ?? '', controller: true, ...(block ? { blockOwnerDeletion: true } : {}) });

/** Expects `iso` to be `seconds` after some moment in [from, to] (ms), at whole-second precision. */
function assertDeadline(iso: unknown, seconds: number, from: number, to: number): void {
  assert.equal(typeof iso, 'string');
  const deadline = Date.parse(iso as string);
  assert.ok(deadline >= Math.floor(from / 1000) * 1000 + seconds * 1000 && deadline <= to + seconds * 1000,
    `deletionTimestamp ${String(iso)} is ${seconds}s after the DELETE (${new Date(from).toISOString()}..${new Date(to).toISOString()})`);
}

describe('graceful Pod deletion', () => {
  test('a bound Pod is marked, not removed: deletionTimestamp now + 30 s (the default), its grace, 200 with the object', async () => {
    await createPod('graceful');
    const from = Date.now();
    const { status, object } = await del(podPath('graceful'));
    const to = Date.now();
    assert.equal(status, 200);
    assert.equal(object.kind, 'Pod');
    assertDeadline(object.metadata.deletionTimestamp, 30, from, to);
    assert.equal(object.metadata.deletionGracePeriodSeconds, 30);
    assert.equal(object.metadata.generation, 2, 'the first graceful DELETE bumps generation');
    const stored = await readPod('graceful');
    assert.equal(stored.metadata?.deletionGracePeriodSeconds, 30, 'still there, terminating');
    await kubeletDelete('graceful');
  });

  test('the grace comes from the DELETE body, else its query, else the Pod\'s terminationGracePeriodSeconds', async () => {
    await createPod('grace-spec', { grace: 7 });
    await createPod('grace-body', { grace: 7 });
    await createPod('grace-query', { grace: 7 });
    await createPod('grace-client', { grace: 7 });
    const from = Date.now();
    const spec = await del(podPath('grace-spec'));
    const body = await del(podPath('grace-body'), { body: { gracePeriodSeconds: 5 }, query: 'gracePeriodSeconds=9' });
    const query = await del(podPath('grace-query'), { query: 'gracePeriodSeconds=4' });
    const client = await core.deleteNamespacedPod({ name: 'grace-client', namespace, gracePeriodSeconds: 3 });
    const to = Date.now();
    assert.deepEqual([spec, body, query].map((r) => r.object.metadata.deletionGracePeriodSeconds), [7, 5, 4]);
    assertDeadline(spec.object.metadata.deletionTimestamp, 7, from, to);
    assertDeadline(body.object.metadata.deletionTimestamp, 5, from, to);
    assertDeadline(query.object.metadata.deletionTimestamp, 4, from, to);
    assert.equal((client as V1Pod).metadata?.deletionGracePeriodSeconds, 3, 'client-node\'s gracePeriodSeconds (a query parameter) is honoured');
    for (const name of ['grace-spec', 'grace-body', 'grace-query', 'grace-client']) await kubeletDelete(name);
  });

  test('a second DELETE may shorten the grace, never lengthen it', async () => {
    await createPod('shorten');
    const first = await del(podPath('shorten'));
    const longer = await del(podPath('shorten'), { body: { gracePeriodSeconds: 120 } });
    assert.equal(longer.status, 200);
    assert.equal(longer.object.metadata.resourceVersion, first.object.metadata.resourceVersion, 'nothing written');
    assert.equal(longer.object.metadata.deletionGracePeriodSeconds, 30);
    const shorter = await del(podPath('shorten'), { body: { gracePeriodSeconds: 10 } });
    assert.equal(shorter.object.metadata.deletionGracePeriodSeconds, 10);
    assert.equal(Date.parse(shorter.object.metadata.deletionTimestamp as string), Date.parse(first.object.metadata.deletionTimestamp as string) - 20_000,
      'the deadline moves 20 s earlier');
    await kubeletDelete('shorten');
  });

  test('grace 0 (kubectl --force --grace-period=0, the kubelet\'s final DELETE) removes it at once; so does any DELETE of an unbound Pod', async () => {
    await createPod('forced');
    const forced = await del(podPath('forced'), { body: { gracePeriodSeconds: 0 } });
    assert.equal(forced.status, 200);
    assert.equal(forced.object.metadata.deletionGracePeriodSeconds, 0);
    assert.equal(await podExists('forced'), false);
    await createPod('unbound', { node: null, grace: 60 });
    const unbound = await del(podPath('unbound'));
    assert.equal(unbound.status, 200);
    assert.equal(await podExists('unbound'), false);
    await createPod('ended');
    await core.patchNamespacedPodStatus({ name: 'ended', namespace, body: { status: { phase: 'Succeeded' } } }, mergePatch);
    await del(podPath('ended'));
    assert.equal(await podExists('ended'), false, 'a Pod that has ended goes at once too');
  });

  test('a watch sees MODIFIED (terminating), then MODIFIED (grace 0) and DELETED when the kubelet finishes', async () => {
    await createPod('watched');
    const events: string[] = [];
    const controller = await new Watch(kubeConfigFor(server.url)).watch(`/api/v1/namespaces/${namespace}/pods`, { fieldSelector: 'metadata.name=watched' },
      (type: string, object: V1Pod) => events.push(`${type} ${object.metadata?.deletionGracePeriodSeconds ?? '-'}`), () => {});
    try {
      await waitFor('the initial ADDED', () => events.length === 1);
      await del(podPath('watched'));
      await waitFor('MODIFIED', () => events.length === 2);
      await kubeletDelete('watched');
      await waitFor('DELETED', () => events.length === 4);
      assert.deepEqual(events, ['ADDED -', 'MODIFIED 30', 'MODIFIED 0', 'DELETED 0']);
    } finally {
      controller.abort();
    }
  });

  test('a terminating Pod still takes status updates and label changes; an update cannot clear its deletion', async () => {
    await createPod('busy');
    const deleted = await del(podPath('busy'));
    const status = await core.patchNamespacedPodStatus({ name: 'busy', namespace, body: { status: { phase: 'Running', podIP: '10.1.0.5' } } }, mergePatch);
    assert.equal(status.status?.podIP, '10.1.0.5');
    const relabelled = await core.patchNamespacedPod({ name: 'busy', namespace, body: { metadata: { labels: { x: 'y' }, deletionTimestamp: null, deletionGracePeriodSeconds: null } } }, mergePatch);
    assert.equal(relabelled.metadata?.labels?.x, 'y');
    assert.equal(relabelled.metadata?.deletionTimestamp?.toISOString().replace('.000', ''), deleted.object.metadata.deletionTimestamp);
    assert.equal(relabelled.metadata?.deletionGracePeriodSeconds, 30);
    await kubeletDelete('busy');
  });

  test('once its deletionTimestamp passes with no kubelet to end it, the Pod is removed (as its kubelet would)', async () => {
    await createPod('short-lived', { grace: 1 });
    await del(podPath('short-lived'));
    assert.equal(await podExists('short-lived'), true);
    await waitFor('the Pod to be gone after its 1 s grace', async () => !(await podExists('short-lived')), 10_000);
  });

  test('malformed DELETE options: 400 for what does not decode, 422 for an unknown propagation policy', async () => {
    await createPod('options');
    const bad = await del(podPath('options'), { query: 'gracePeriodSeconds=soon' });
    assert.equal(bad.status, 400);
    const policy = await del(podPath('options'), { body: { propagationPolicy: 'Sideways' } });
    assert.equal(policy.status, 422);
    assert.match((policy.object as unknown as { message: string }).message, /^DeleteOptions\.meta\.k8s\.io "" is invalid: propagationPolicy: Unsupported value: "Sideways"/);
    assert.equal((await del(podPath('missing'), { body: { propagationPolicy: 'Sideways' } })).status, 404, 'a missing object is 404 before its options are validated');
    assert.equal(await podExists('options'), true, 'a refused DELETE changes nothing');
    await del(podPath('options'), { body: { gracePeriodSeconds: 0 } });
  });
});

describe('finalizers', () => {
  const cmPath = (name: string) => `/api/v1/namespaces/${namespace}/configmaps/${name}`;

  test('a DELETE keeps an object with finalizers (deletionTimestamp, grace 0); emptying them removes it (watchers see DELETED)', async () => {
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'held', finalizers: ['example.com/hold'] }, data: { a: '1' } } });
    const from = Date.now();
    const { status, object } = await del(cmPath('held'));
    assert.equal(status, 200);
    assertDeadline(object.metadata.deletionTimestamp, 0, from, Date.now());
    assert.equal(object.metadata.deletionGracePeriodSeconds, 0);
    assert.deepEqual(object.metadata.finalizers, ['example.com/hold']);
    const again = await del(cmPath('held'));
    assert.equal(again.object.metadata.resourceVersion, object.metadata.resourceVersion, 'a second DELETE writes nothing');
    const relabelled = await core.patchNamespacedConfigMap({ name: 'held', namespace, body: { metadata: { labels: { still: 'here' } } } }, mergePatch);
    assert.equal(relabelled.metadata?.labels?.still, 'here', 'updates still work while it waits');

    const events: string[] = [];
    const controller = await new Watch(kubeConfigFor(server.url)).watch(`/api/v1/namespaces/${namespace}/configmaps`,
      { fieldSelector: 'metadata.name=held', resourceVersion: relabelled.metadata?.resourceVersion }, (type: string) => events.push(type), () => {});
    try {
      const emptied = await core.patchNamespacedConfigMap({ name: 'held', namespace, body: { metadata: { finalizers: null } } }, mergePatch);
      assert.equal(emptied.metadata?.finalizers, undefined, 'the writer gets the object it wrote');
      assert.equal(await gone(cmPath('held')), true);
      await waitFor('DELETED', () => events.length === 1);
      assert.deepEqual(events, ['DELETED']);
    } finally {
      controller.abort();
    }
  });

  test('no finalizer can be added while an object is being deleted (422 Forbidden); removing one of two keeps it', async () => {
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'two', finalizers: ['example.com/a', 'example.com/b'] } } });
    await del(cmPath('two'));
    const refused = await expectStatus(() => core.patchNamespacedConfigMap({ name: 'two', namespace,
      body: { metadata: { finalizers: ['example.com/a', 'example.com/b', 'example.com/late'] } } }, mergePatch));
    assert.equal(refused.httpCode, 422);
    assert.equal(refused.message, 'ConfigMap "two" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{"example.com/late"}');
    const one = await core.patchNamespacedConfigMap({ name: 'two', namespace, body: { metadata: { finalizers: ['example.com/b'] } } }, mergePatch);
    assert.deepEqual(one.metadata?.finalizers, ['example.com/b']);
    assert.ok(one.metadata?.deletionTimestamp, 'still being deleted');
    await core.replaceNamespacedConfigMap({ name: 'two', namespace, body: { ...one, metadata: { ...one.metadata, finalizers: [] } } });
    assert.equal(await gone(cmPath('two')), true, 'an update (PUT) that empties them removes it too');
  });

  test('a finalizer holds a Pod past its kubelet\'s DELETE; while the Pod is in its grace, emptying finalizers does not remove it', async () => {
    await createPod('guarded', { finalizers: ['example.com/guard'] });
    await del(podPath('guarded'));
    await core.patchNamespacedPod({ name: 'guarded', namespace, body: { metadata: { finalizers: null } } }, mergePatch);
    assert.equal((await readPod('guarded')).metadata?.deletionGracePeriodSeconds, 30, 'still terminating: its grace is not over');
    const back = await expectStatus(() => core.patchNamespacedPod({ name: 'guarded', namespace, body: { metadata: { finalizers: ['example.com/guard'] } } }, mergePatch));
    assert.equal(back.httpCode, 422, 'and none can come back');
    assert.equal((await readPod('guarded')).metadata?.finalizers, undefined);
    const final = await kubeletDelete('guarded');
    assert.equal(final.status, 200);
    assert.equal(await podExists('guarded'), false);

    await createPod('guarded-2', { finalizers: ['example.com/guard'] });
    await del(podPath('guarded-2'));
    await kubeletDelete('guarded-2');
    const held = await readPod('guarded-2');
    assert.equal(held.metadata?.deletionGracePeriodSeconds, 0, 'the kubelet\'s DELETE went through; the finalizer holds it');
    await core.patchNamespacedPod({ name: 'guarded-2', namespace, body: { metadata: { finalizers: null } } }, mergePatch);
    assert.equal(await podExists('guarded-2'), false);
  });

  test('malformed ownerReferences and finalizers are refused on write', async () => {
    const missingUid = await expectStatus(() => core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'bad-ref', ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'x', uid: '' }] } } }));
    assert.equal(missingUid.httpCode, 422);
    assert.match(missingUid.message, /metadata\.ownerReferences\.uid: Invalid value: "": must not be empty/);
    const response = await fetch(`${server.url}/api/v1/namespaces/${namespace}/configmaps`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ metadata: { name: 'bad-fin', finalizers: 'orphan' } }),
    });
    assert.equal(response.status, 400);
    const both = await expectStatus(() => core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'bad-both', finalizers: ['orphan', 'foregroundDeletion'] } } }));
    assert.equal(both.httpCode, 422);
    assert.equal(await gone(cmPath('bad-ref')) && await gone(cmPath('bad-fin')) && await gone(cmPath('bad-both')), true);
  });
});

describe('the garbage collector', () => {
  test('Background (the default): the owner goes at once; its Pods terminate gracefully, a Role it owns goes; not in the audit log', async () => {
    const ds = await apps.createNamespacedDaemonSet({ namespace, body: daemonSetBody('bg') });
    await createPod('bg-a', { owners: [ownedBy(ds)] });
    await createPod('bg-b', { owners: [ownedBy(ds)] });
    await rbac.createNamespacedRole({ namespace, body: { metadata: { name: 'bg-role', ownerReferences: [ownedBy(ds, 'DaemonSet', 'apps/v1', false)] }, rules: [] } });
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'bg-unrelated' } } });
    const { next } = await admin.requests();
    await apps.deleteNamespacedDaemonSet({ name: 'bg', namespace });
    assert.equal(await gone(`/apis/apps/v1/namespaces/${namespace}/daemonsets/bg`), true);
    await waitFor('both Pods to be terminating', async () =>
      (await Promise.all(['bg-a', 'bg-b'].map(readPod))).every((p) => p.metadata?.deletionGracePeriodSeconds === 30));
    await waitFor('the Role to be gone', () => gone(`/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/roles/bg-role`));
    assert.equal(await gone(`/api/v1/namespaces/${namespace}/configmaps/bg-unrelated`), false, 'what it does not own stays');
    const deletes = (await admin.requests(next)).entries.filter((e) => e.verb === 'delete').map((e) => e.path);
    assert.deepEqual(deletes, [`/apis/apps/v1/namespaces/${namespace}/daemonsets/bg`], 'the collector\'s own writes are no API requests');
    for (const name of ['bg-a', 'bg-b']) await kubeletDelete(name);
    assert.equal(await podExists('bg-a') || await podExists('bg-b'), false);
  });

  test('Foreground: the owner stays (deletionTimestamp, foregroundDeletion) until its blocking dependents are gone, a terminating Pod included', async () => {
    const ds = await apps.createNamespacedDaemonSet({ namespace, body: daemonSetBody('fg') });
    await createPod('fg-blocking', { owners: [ownedBy(ds)] });
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'fg-cm', ownerReferences: [ownedBy(ds, 'DaemonSet', 'apps/v1', false)] } } });
    const answer = await del(`/apis/apps/v1/namespaces/${namespace}/daemonsets/fg`, { body: { propagationPolicy: 'Foreground' } });
    assert.equal(answer.status, 200);
    assert.ok(answer.object.metadata.deletionTimestamp);
    assert.deepEqual(answer.object.metadata.finalizers, ['foregroundDeletion']);
    await waitFor('the Pod to be terminating', async () => (await readPod('fg-blocking')).metadata?.deletionTimestamp !== undefined);
    await waitFor('the non-blocking ConfigMap to be deleted', () => gone(`/api/v1/namespaces/${namespace}/configmaps/fg-cm`));
    const waiting = await apps.readNamespacedDaemonSet({ name: 'fg', namespace });
    assert.deepEqual(waiting.metadata?.finalizers, ['foregroundDeletion'], 'kept while the terminating Pod blocks it');
    await kubeletDelete('fg-blocking');
    await waitFor('the DaemonSet to be gone', () => gone(`/apis/apps/v1/namespaces/${namespace}/daemonsets/fg`));
  });

  test('Orphan: the owner goes once its dependents no longer name it; they stay, untouched otherwise', async () => {
    const ds = await apps.createNamespacedDaemonSet({ namespace, body: daemonSetBody('or') });
    const other: Ref = { apiVersion: 'v1', kind: 'ConfigMap', name: 'or-keeper', uid: '' };
    const keeper = await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'or-keeper' } } });
    other.uid = keeper.metadata?.uid ?? '';
    await createPod('or-a', { owners: [ownedBy(ds), other] });
    await createPod('or-b', { owners: [ownedBy(ds)] });
    const answer = await del(`/apis/apps/v1/namespaces/${namespace}/daemonsets/or`, { query: 'propagationPolicy=Orphan' });
    assert.deepEqual(answer.object.metadata.finalizers, ['orphan']);
    await waitFor('the DaemonSet to be gone', () => gone(`/apis/apps/v1/namespaces/${namespace}/daemonsets/or`));
    const [a, b] = await Promise.all([readPod('or-a'), readPod('or-b')]);
    assert.deepEqual(a.metadata?.ownerReferences?.map((r) => r.name), ['or-keeper'], 'only the reference to the DaemonSet removed');
    assert.equal(b.metadata?.ownerReferences, undefined);
    assert.equal(a.metadata?.deletionTimestamp ?? b.metadata?.deletionTimestamp, undefined, 'not deleted');
    await del(podPath('or-a'), { body: { gracePeriodSeconds: 0 } });
    await del(podPath('or-b'), { body: { gracePeriodSeconds: 0 } });
  });

  test('the legacy orphanDependents=false cascades and answers 202 while the owner is kept', async () => {
    const owner = await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'legacy-owner', finalizers: ['example.com/hold'] } } });
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'legacy-dep', ownerReferences: [ownedBy(owner, 'ConfigMap', 'v1')] } } });
    const answer = await del(`/api/v1/namespaces/${namespace}/configmaps/legacy-owner`, { body: { orphanDependents: false } });
    assert.equal(answer.status, 202);
    await core.patchNamespacedConfigMap({ name: 'legacy-owner', namespace, body: { metadata: { finalizers: null } } }, mergePatch);
    await waitFor('the dependent to be collected', () => gone(`/api/v1/namespaces/${namespace}/configmaps/legacy-dep`));
  });

  test('dangling owners: collected; with a live owner besides, only the dangling reference goes; unresolvable kinds and other namespaces', async () => {
    const ghost: Ref = { apiVersion: 'v1', kind: 'ConfigMap', name: 'ghost', uid: '00000000-0000-4000-8000-000000000000' };
    const unknownKind: Ref = { apiVersion: 'example.com/v1', kind: 'Nope', name: 'n', uid: '00000000-0000-4000-8000-000000000001' };
    await core.createNamespace({ body: { metadata: { name: 'lifecycle-other' } } });
    const elsewhere = await core.createNamespacedConfigMap({ namespace: 'lifecycle-other', body: { metadata: { name: 'elsewhere' } } });
    const live = await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'live-owner' } } });
    // Queued in this order, so once the last is collected the collector has looked at the others.
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'unresolvable', ownerReferences: [unknownKind, ghost] } } });
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'half', ownerReferences: [ownedBy(live, 'ConfigMap', 'v1', false), ghost] } } });
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'cross-namespace', ownerReferences: [ownedBy(elsewhere, 'ConfigMap', 'v1', false)] } } });
    await createPod('orphaned-pod', { owners: [ghost] });
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'dangling', ownerReferences: [ghost] } } });
    await waitFor('the dangling dependent to be collected', () => gone(`/api/v1/namespaces/${namespace}/configmaps/dangling`));
    assert.equal(await gone(`/api/v1/namespaces/${namespace}/configmaps/cross-namespace`), true, 'an owner in another namespace counts as absent');
    assert.equal((await readPod('orphaned-pod')).metadata?.deletionGracePeriodSeconds, 30, 'a Pod is collected gracefully');
    const half = await core.readNamespacedConfigMap({ name: 'half', namespace });
    assert.deepEqual(half.metadata?.ownerReferences?.map((r) => r.name), ['live-owner']);
    const unresolvable = await core.readNamespacedConfigMap({ name: 'unresolvable', namespace });
    assert.equal(unresolvable.metadata?.deletionTimestamp, undefined, 'a reference to a kind nobody serves keeps the object');
    assert.equal(unresolvable.metadata?.ownerReferences?.length, 2);
    await kubeletDelete('orphaned-pod');
  });

  test('a chain: deleting the top owner in the background collects dependents of dependents', async () => {
    const top = await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'chain-top' } } });
    const middle = await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'chain-middle', ownerReferences: [ownedBy(top, 'ConfigMap', 'v1')] } } });
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'chain-bottom', ownerReferences: [ownedBy(middle, 'ConfigMap', 'v1')] } } });
    await core.deleteNamespacedConfigMap({ name: 'chain-top', namespace });
    await waitFor('the bottom of the chain to be collected', () => gone(`/api/v1/namespaces/${namespace}/configmaps/chain-bottom`));
    assert.equal(await gone(`/api/v1/namespaces/${namespace}/configmaps/chain-middle`), true);
  });
});

describe('kubectl delete', () => {
  before(() => requireTools('kubectl'));
  const kubectl = (args: string[]) => run('kubectl', ['--kubeconfig', kubeconfig, ...args], { timeoutMs: 30_000 });
  /** Starts kubectl and reports whether it has finished, without waiting for it. */
  const started = (args: string[]) => {
    const state = { done: false };
    const result = kubectl(args).finally(() => { state.done = true; });
    // Awaited by the test later; a failure before that must not count as unhandled.
    result.catch(() => {});
    return { state, result };
  };

  test('kubectl delete pod waits until the Pod is gone (the kubelet\'s final DELETE)', async () => {
    await createPod('kubectl-pod');
    const deleting = started(['delete', 'pod', 'kubectl-pod']);
    await waitFor('the Pod to be terminating', async () => (await readPod('kubectl-pod')).metadata?.deletionTimestamp !== undefined, 15_000);
    assert.equal(deleting.state.done, false, 'kubectl still waits while the Pod terminates');
    await kubeletDelete('kubectl-pod');
    assert.match((await deleting.result).stdout, /pod "kubectl-pod" deleted/);
  });

  test('kubectl delete ds cascades to its Pods', async () => {
    const ds = await apps.createNamespacedDaemonSet({ namespace, body: daemonSetBody('k-bg') });
    await createPod('k-bg-a', { owners: [ownedBy(ds)] });
    assert.match((await kubectl(['delete', 'ds', 'k-bg'])).stdout, /daemonset\.apps "k-bg" deleted/);
    await waitFor('its Pod to be terminating', async () => (await readPod('k-bg-a')).metadata?.deletionTimestamp !== undefined);
    await kubeletDelete('k-bg-a');
  });

  test('kubectl delete ds --cascade=orphan leaves its Pods, no longer owned', async () => {
    const ds = await apps.createNamespacedDaemonSet({ namespace, body: daemonSetBody('k-or') });
    await createPod('k-or-a', { owners: [ownedBy(ds)] });
    assert.match((await kubectl(['delete', 'ds', 'k-or', '--cascade=orphan'])).stdout, /daemonset\.apps "k-or" deleted/);
    assert.equal(await gone(`/apis/apps/v1/namespaces/${namespace}/daemonsets/k-or`), true, 'kubectl waited for the DaemonSet to go');
    const pod = await readPod('k-or-a');
    assert.equal(pod.metadata?.ownerReferences, undefined);
    assert.equal(pod.metadata?.deletionTimestamp, undefined);
    await del(podPath('k-or-a'), { body: { gracePeriodSeconds: 0 } });
  });

  test('kubectl delete ds --cascade=foreground keeps the DaemonSet (deletionTimestamp) until its Pods are gone', async () => {
    const ds = await apps.createNamespacedDaemonSet({ namespace, body: daemonSetBody('k-fg') });
    await createPod('k-fg-a', { owners: [ownedBy(ds)] });
    const deleting = started(['delete', 'ds', 'k-fg', '--cascade=foreground']);
    await waitFor('the Pod to be terminating', async () => (await readPod('k-fg-a')).metadata?.deletionTimestamp !== undefined, 15_000);
    const waiting = await apps.readNamespacedDaemonSet({ name: 'k-fg', namespace });
    assert.ok(waiting.metadata?.deletionTimestamp);
    assert.deepEqual(waiting.metadata?.finalizers, ['foregroundDeletion']);
    assert.equal(deleting.state.done, false, 'kubectl waits for the DaemonSet');
    await kubeletDelete('k-fg-a');
    assert.match((await deleting.result).stdout, /daemonset\.apps "k-fg" deleted/);
    assert.equal(await gone(`/apis/apps/v1/namespaces/${namespace}/daemonsets/k-fg`), true);
  });
});
