/**
 * Paginated lists (limit/continue) through the real @kubernetes/client-node, as a consistent read
 * from etcd serves them: every page shows the snapshot of the first page, whatever changes between
 * pages; a token whose snapshot was compacted away is 410; resourceVersion=0 is the watch cache's
 * whole list.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Node } from '@kubernetes/client-node';
import { AdminClient } from './apiserver/admin-client.ts';
import { startApiServer, type RunningApiServer } from './apiserver/server.ts';
import { endpointSpec, expectStatus, kubeConfigFor } from './apiserver/test-support.ts';

interface Ctx { server: RunningApiServer; kc: KubeConfig; core: CoreV1Api; admin: AdminClient }

async function withServer(body: (ctx: Ctx) => Promise<void>): Promise<void> {
  const server = await startApiServer({});
  const kc = kubeConfigFor(server.url);
  try {
    await body({ server, kc, core: kc.makeApiClient(CoreV1Api), admin: new AdminClient(server.url) });
  } finally {
    await server.close();
  }
}

const nodeBody = (name: string, labels: Record<string, string> = {}): V1Node =>
  ({ apiVersion: 'v1', kind: 'Node', metadata: { name, labels }, spec: { podCIDR: '10.0.0.0/24' } });
const names = (items: V1Node[]) => items.map((n) => n.metadata?.name);

async function createNodes(core: CoreV1Api, count: number): Promise<void> {
  for (let i = 0; i < count; i++) await core.createNode({ body: nodeBody(`node-${String.fromCharCode(97 + i)}`, { half: i % 2 === 0 ? 'even' : 'odd' }) });
}

test('limit splits a list into pages joined by continue tokens; every page reports the first page\'s resourceVersion', async () => {
  await withServer(async ({ core }) => {
    await createNodes(core, 7);
    const first = await core.listNode({ limit: 3 });
    assert.deepEqual(names(first.items), ['node-a', 'node-b', 'node-c']);
    assert.equal(first.metadata?.remainingItemCount, 4);
    assert.ok(first.metadata?._continue);
    const second = await core.listNode({ limit: 3, _continue: first.metadata._continue });
    assert.deepEqual(names(second.items), ['node-d', 'node-e', 'node-f']);
    assert.equal(second.metadata?.resourceVersion, first.metadata?.resourceVersion);
    const third = await core.listNode({ limit: 3, _continue: second.metadata?._continue });
    assert.deepEqual(names(third.items), ['node-g']);
    assert.equal(third.metadata?._continue, undefined, 'the last page has no continue token');
    assert.equal(third.metadata?.remainingItemCount, undefined);
  });
});

test('pages after the first show the objects as they were at the first page, whatever changed in between', async () => {
  await withServer(async ({ core }) => {
    await createNodes(core, 6);
    const first = await core.listNode({ limit: 2 });
    await core.deleteNode({ name: 'node-d' });
    await core.createNode({ body: nodeBody('node-cc') });
    await core.patchNode({ name: 'node-e', body: [{ op: 'add', path: '/metadata/labels/changed', value: 'yes' }] });
    const rest: V1Node[] = [];
    let token = first.metadata?._continue;
    while (token) {
      const page = await core.listNode({ limit: 2, _continue: token });
      rest.push(...page.items);
      token = page.metadata?._continue;
    }
    assert.deepEqual(names(rest), ['node-c', 'node-d', 'node-e', 'node-f'], 'node-d still there, node-cc not yet');
    assert.equal(rest.find((n) => n.metadata?.name === 'node-e')?.metadata?.labels?.changed, undefined, 'node-e as it was');
    const fresh = await core.listNode({});
    assert.deepEqual(names(fresh.items), ['node-a', 'node-b', 'node-c', 'node-cc', 'node-e', 'node-f']);
  });
});

test('a continue token whose snapshot was compacted away is 410 Expired; a malformed one is 400', async () => {
  await withServer(async ({ core, admin }) => {
    await createNodes(core, 4);
    const first = await core.listNode({ limit: 2 });
    await core.createNode({ body: nodeBody('node-z') });
    await admin.compact();
    const expired = await expectStatus(() => core.listNode({ limit: 2, _continue: first.metadata?._continue }));
    assert.equal(expired.httpCode, 410);
    assert.equal(expired.reason, 'Expired');
    assert.match(expired.message, /continue parameter is too old/);
    const bad = await expectStatus(() => core.listNode({ limit: 2, _continue: 'not-a-token' }));
    assert.equal(bad.httpCode, 400);
    assert.match(bad.message, /continue key is not valid/);
    const both = await expectStatus(() => core.listNode({ limit: 2, _continue: first.metadata?._continue, resourceVersion: '5' }));
    assert.equal(both.httpCode, 400);
  });
});

test('resourceVersion=0 is served whole (the watch cache ignores limit); selectors paginate over what they select', async () => {
  await withServer(async ({ core }) => {
    await createNodes(core, 5);
    const cached = await core.listNode({ limit: 2, resourceVersion: '0' });
    assert.equal(cached.items.length, 5);
    assert.equal(cached.metadata?._continue, undefined);
    const even1 = await core.listNode({ limit: 2, labelSelector: 'half=even' });
    assert.deepEqual(names(even1.items), ['node-a', 'node-c']);
    assert.equal(even1.metadata?.remainingItemCount, undefined, 'not reported with a selector, as the API server does');
    const even2 = await core.listNode({ limit: 2, labelSelector: 'half=even', _continue: even1.metadata?._continue });
    assert.deepEqual(names(even2.items), ['node-e']);
  });
});

test('custom resources paginate the same way (the raw list carries metadata.continue)', async () => {
  await withServer(async ({ kc }) => {
    const custom = kc.makeApiClient(CustomObjectsApi);
    const base = { group: 'submariner.io', version: 'v1', namespace: 'sub', plural: 'endpoints' };
    for (const name of ['a', 'b', 'c']) {
      await custom.createNamespacedCustomObject({ ...base, body: { apiVersion: 'submariner.io/v1', kind: 'Endpoint', metadata: { name }, spec: endpointSpec(name) } });
    }
    const first = await custom.listNamespacedCustomObject({ ...base, limit: 2 }) as { items: Array<{ metadata: { name: string } }>; metadata: { continue?: string } };
    assert.deepEqual(first.items.map((i) => i.metadata.name), ['a', 'b']);
    const second = await custom.listNamespacedCustomObject({ ...base, limit: 2, _continue: first.metadata.continue }) as typeof first;
    assert.deepEqual(second.items.map((i) => i.metadata.name), ['c']);
  });
});
