import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { test } from 'node:test';
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, Watch, type KubeConfig } from '@kubernetes/client-node';
import { AdminClient } from './apiserver/admin-client.ts';
import { startApiServer, type ApiServerOptions, type RunningApiServer } from './apiserver/server.ts';
import { endpointSpec, expectStatus, kubeConfigFor, waitFor } from './apiserver/test-support.ts';

const group = 'submariner.io';
const version = 'v1';
const namespace = 'sub';
const plural = 'endpoints';
const path = `/apis/${group}/${version}/namespaces/${namespace}/${plural}`;
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

interface Ctx { server: RunningApiServer; kc: KubeConfig; custom: CustomObjectsApi; admin: AdminClient }

async function withServer(options: ApiServerOptions, body: (ctx: Ctx) => Promise<void>): Promise<void> {
  const server = await startApiServer(options);
  const kc = kubeConfigFor(server.url);
  try {
    await body({ server, kc, custom: kc.makeApiClient(CustomObjectsApi), admin: new AdminClient(server.url) });
  } finally {
    await server.close();
  }
}

interface Event { type: string; name: string | undefined; resourceVersion: string | undefined; code?: number; reason?: string }

/** A watch through the real client's Watch; `done` resolves with the error (or null) the client reports. */
async function watch(kc: KubeConfig, params: Record<string, string | number | boolean>, watchPath = path) {
  const events: Event[] = [];
  let finish: (err: unknown) => void = () => {};
  const done = new Promise<unknown>((resolve) => (finish = resolve));
  const controller = await new Watch(kc).watch(watchPath, params, (type, object: { metadata?: { name?: string; resourceVersion?: string }; code?: number; reason?: string }) => {
    const event: Event = { type, name: object.metadata?.name, resourceVersion: object.metadata?.resourceVersion };
    if (type === 'ERROR') Object.assign(event, { code: object.code, reason: object.reason });
    events.push(event);
  }, finish);
  return { events, done, stop: () => controller.abort() };
}

const endpoint = (name: string, labels: Record<string, string> = {}) =>
  ({ apiVersion: `${group}/${version}`, kind: 'Endpoint', metadata: { name, labels }, spec: endpointSpec(name) });
const create = async (custom: CustomObjectsApi, name: string, labels?: Record<string, string>) =>
  await custom.createNamespacedCustomObject({ group, version, namespace, plural, body: endpoint(name, labels) }) as { metadata: { resourceVersion: string } };

test('watch without resourceVersion: synthetic ADDED for current objects, then live events', async () => {
  await withServer({}, async ({ kc, custom }) => {
    await create(custom, 'a');
    await create(custom, 'b');
    const w = await watch(kc, {});
    try {
      await waitFor('initial events', () => w.events.length === 2);
      await custom.deleteNamespacedCustomObject({ group, version, namespace, plural, name: 'a' });
      await waitFor('the delete', () => w.events.length === 3);
      assert.deepEqual(w.events.map((e) => `${e.type} ${e.name}`), ['ADDED a', 'ADDED b', 'DELETED a']);
    } finally {
      w.stop();
    }
  });
});

test('watch from a resourceVersion replays later changes from history, in order', async () => {
  await withServer({}, async ({ kc, custom }) => {
    const first = await create(custom, 'a');
    await create(custom, 'b');
    await custom.patchNamespacedCustomObject({ group, version, namespace, plural, name: 'a', body: { spec: { hostname: 'x' } } }, mergePatch);
    const w = await watch(kc, { resourceVersion: first.metadata.resourceVersion });
    try {
      await waitFor('replayed events', () => w.events.length === 2);
      assert.deepEqual(w.events.map((e) => `${e.type} ${e.name}`), ['ADDED b', 'MODIFIED a']);
      assert.ok(Number(w.events[0]?.resourceVersion) < Number(w.events[1]?.resourceVersion));
    } finally {
      w.stop();
    }
  });
});

test('a watch from a compacted resourceVersion gets an ERROR event with a 410 Expired Status, then the stream ends', async () => {
  await withServer({}, async ({ kc, custom, admin }) => {
    const old = await create(custom, 'a');
    await create(custom, 'b');
    await admin.compact();
    const w = await watch(kc, { resourceVersion: old.metadata.resourceVersion });
    assert.equal(await w.done, null, 'the stream ended cleanly');
    assert.deepEqual(w.events, [{ type: 'ERROR', name: undefined, resourceVersion: undefined, code: 410, reason: 'Expired' }]);
  });
});

test('history beyond historyLimit expires on its own', async () => {
  await withServer({ historyLimit: 2 }, async ({ kc, custom }) => {
    const first = await create(custom, 'a');
    const second = await create(custom, 'b');
    await create(custom, 'c');
    await create(custom, 'd');
    const expired = await watch(kc, { resourceVersion: first.metadata.resourceVersion });
    await expired.done;
    assert.equal(expired.events[0]?.code, 410);
    const fine = await watch(kc, { resourceVersion: second.metadata.resourceVersion });
    try {
      await waitFor('the retained changes', () => fine.events.length === 2);
      assert.deepEqual(fine.events.map((e) => e.name), ['c', 'd']);
    } finally {
      fine.stop();
    }
  });
});

test('allowWatchBookmarks: periodic BOOKMARKs carry the current resourceVersion; timeoutSeconds ends the watch with one', async () => {
  await withServer({ bookmarkIntervalMs: 50 }, async ({ kc, custom, admin }) => {
    const created = await create(custom, 'a');
    const w = await watch(kc, { resourceVersion: created.metadata.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: 1 });
    const plain = await watch(kc, { resourceVersion: created.metadata.resourceVersion, timeoutSeconds: 1 });
    await waitFor('a bookmark', () => w.events.some((e) => e.type === 'BOOKMARK'));
    const bookmark = w.events.find((e) => e.type === 'BOOKMARK');
    assert.equal(bookmark?.resourceVersion, (await admin.state()).resourceVersion);
    assert.equal(await w.done, null, 'the server ended the watch at timeoutSeconds');
    assert.equal(w.events.at(-1)?.type, 'BOOKMARK');
    assert.equal(await plain.done, null);
    assert.deepEqual(plain.events, [], 'no bookmarks unless asked for');
  });
});

test('selectors on a watch: objects entering the selection are ADDED, leaving it DELETED', async () => {
  await withServer({}, async ({ kc, custom }) => {
    await create(custom, 'x', { role: 'node' });
    const w = await watch(kc, { labelSelector: 'role=gateway', fieldSelector: 'metadata.name=x' });
    try {
      const relabel = (role: string) => custom.patchNamespacedCustomObject({ group, version, namespace, plural, name: 'x', body: { metadata: { labels: { role } } } }, mergePatch);
      await create(custom, 'y', { role: 'gateway' });
      await relabel('gateway');
      await relabel('node');
      await waitFor('two events', () => w.events.length === 2);
      assert.deepEqual(w.events.map((e) => `${e.type} ${e.name}`), ['ADDED x', 'DELETED x']);
    } finally {
      w.stop();
    }
  });
});

test('legacy /watch/ path on a single Node', async () => {
  await withServer({}, async ({ kc }) => {
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNode({ body: { metadata: { name: 'n1' } } });
    await core.createNode({ body: { metadata: { name: 'n2' } } });
    const w = await watch(kc, {}, '/api/v1/watch/nodes/n2');
    try {
      await waitFor('the one node', () => w.events.length === 1);
      assert.deepEqual(w.events.map((e) => e.name), ['n2']);
    } finally {
      w.stop();
    }
  });
});

test('failNext fails the next N matching requests with the given code as a Status, then requests succeed', async () => {
  await withServer({}, async ({ kc, custom, admin }) => {
    const core = kc.makeApiClient(CoreV1Api);
    await admin.failNext(2, 500, { verb: 'list', path: '/endpoints' });
    await core.listNode(); // not matching: unaffected
    for (let i = 0; i < 2; i++) {
      const status = await expectStatus(() => custom.listNamespacedCustomObject({ group, version, namespace, plural }));
      assert.equal(status.httpCode, 500);
      assert.equal(status.reason, 'InternalError');
    }
    await custom.listNamespacedCustomObject({ group, version, namespace, plural });
    await admin.failNext(1, 503, { verb: 'POST' });
    const before = (await admin.state()).resourceVersion;
    const refused = await expectStatus(() => create(custom, 'later'));
    assert.equal(refused.reason, 'ServiceUnavailable');
    assert.equal((await admin.state()).resourceVersion, before, 'the failed create wrote nothing');
    await create(custom, 'later');
  });
});

test('pause "refuse" answers 503 until resume; pause "hold" holds requests until resume', async () => {
  await withServer({}, async ({ custom, admin }) => {
    await admin.pause('refuse');
    const refused = await expectStatus(() => custom.listNamespacedCustomObject({ group, version, namespace, plural }));
    assert.equal(refused.httpCode, 503);
    await admin.resume();
    await custom.listNamespacedCustomObject({ group, version, namespace, plural });

    await admin.pause('hold');
    let settled = false;
    const held = create(custom, 'held').then((o) => { settled = true; return o; });
    await waitFor('the request to be held', async () => (await admin.state()).heldRequests === 1);
    assert.equal(settled, false);
    assert.equal(await admin.resume(), 1);
    const created = await held;
    assert.ok(Number(created.metadata.resourceVersion) > 0);
  });
});

test('close() ends open watches and held requests', async () => {
  const server = await startApiServer();
  const kc = kubeConfigFor(server.url);
  const w = await watch(kc, {});
  const admin = new AdminClient(server.url);
  await admin.pause('hold');
  const held = fetch(`${server.url}/api/v1/nodes`);
  await waitFor('the request to be held', async () => (await admin.state()).heldRequests === 1);
  await server.close();
  assert.equal(await w.done, null);
  assert.equal((await held).status, 503);
});

test('the unix socket serves the same API', async () => {
  const socketPath = `/tmp/swa-apiserver-${process.pid}.sock`;
  await withServer({ socketPath }, async ({ server, custom }) => {
    assert.equal(server.socketPath, socketPath);
    await create(custom, 'via-tcp');
    const text = await new Promise<string>((resolve, reject) => {
      const req = httpRequest({ socketPath, path: `${path}/via-tcp` }, (res) => {
        let data = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (data += chunk)).on('end', () => resolve(data));
      });
      req.on('error', reject).end();
    });
    assert.equal((JSON.parse(text) as { metadata: { name: string } }).metadata.name, 'via-tcp');
  });
});
