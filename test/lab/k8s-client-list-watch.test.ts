/**
 * The agent's real list and watch (src/k8s/client-list-watch.ts, api-request.ts, watch-request.ts)
 * against the lab's API server, through the route agent's own connection (api-connection.ts): pages with continue tokens, the
 * User-Agent, watch events and bookmarks, and every way a watch ends as the informer needs to tell
 * them apart: a clean end, an HTTP error with Retry-After, a 410 ERROR event, no answer in time,
 * silence, and a stop.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CoreV1Api, type KubeConfig, type V1Node } from '@kubernetes/client-node';
import { ApiStatusError, ApiTimeoutError } from '../../src/k8s/api-problem.ts';
import { collectionListWatch } from '../../src/k8s/client-list-watch.ts';
import { withoutNodeImages } from '../../src/k8s/node-images.ts';
import type { ListWatch, WatchEvent } from '../../src/k8s/list-watch.ts';
import { AdminClient } from './apiserver/admin-client.ts';
import { startApiServer, type ApiServerOptions, type RunningApiServer } from './apiserver/server.ts';
import { connectionFor, kubeConfigFor, waitFor } from './apiserver/test-support.ts';

const USER_AGENT = 'seaway/0.0.0-test';

interface Ctx { server: RunningApiServer; kc: KubeConfig; core: CoreV1Api; admin: AdminClient; nodes: ListWatch<V1Node> }

async function withServer(options: ApiServerOptions, body: (ctx: Ctx) => Promise<void>, requestTimeoutMs = 2000): Promise<void> {
  const server = await startApiServer(options);
  const kc = kubeConfigFor(server.url);
  const core = kc.makeApiClient(CoreV1Api);
  const nodes = collectionListWatch<V1Node>(connectionFor(server.url), '/api/v1/nodes', { requestTimeoutMs, userAgent: USER_AGENT });
  try {
    await body({ server, kc, core, admin: new AdminClient(server.url), nodes });
  } finally {
    await server.close();
  }
}

const node = (name: string): V1Node => ({ apiVersion: 'v1', kind: 'Node', metadata: { name } });

/** Starts a watch; collects its events; `ended` settles as the watch does. */
function startWatch(nodes: ListWatch<V1Node>, resourceVersion: string, options: { timeoutSeconds?: number; silenceMs?: number } = {}) {
  const events: Array<WatchEvent<V1Node>> = [];
  let opened = false;
  const stop = new AbortController();
  const ended = nodes.watch({
    resourceVersion, timeoutSeconds: options.timeoutSeconds ?? 60, silenceMs: options.silenceMs ?? 60_000, signal: stop.signal,
    onOpen: () => { opened = true; }, onEvent: (event) => { events.push(event); },
  });
  ended.catch(() => {});
  return { events, ended, stop: (reason?: unknown) => stop.abort(reason), opened: () => opened };
}

test('list pages follow the continue token; every request carries seaway\'s User-Agent', async () => {
  await withServer({}, async ({ core, admin, nodes }) => {
    for (const name of ['a', 'b', 'c']) await core.createNode({ body: node(name) });
    const { next } = await admin.requests();
    const signal = new AbortController().signal;
    const first = await nodes.list({ limit: 2, signal });
    assert.deepEqual(first.items.map((n) => n.metadata?.name), ['a', 'b']);
    assert.ok(first.continueToken);
    const second = await nodes.list({ limit: 2, continueToken: first.continueToken, signal });
    assert.deepEqual(second.items.map((n) => n.metadata?.name), ['c']);
    assert.equal(second.continueToken, undefined);
    assert.equal(second.resourceVersion, first.resourceVersion);
    const watch = startWatch(nodes, first.resourceVersion);
    await waitFor('the watch to open', () => watch.opened());
    const { entries } = await admin.requests(next);
    assert.deepEqual(entries.map((e) => [e.verb, e.userAgent]), [['list', USER_AGENT], ['list', USER_AGENT], ['watch', USER_AGENT]]);
    assert.match(entries[2]!.path, /allowWatchBookmarks=true/);
    watch.stop();
    await assert.rejects(watch.ended);
  });
});

test('a watch delivers changes and bookmarks, and resolves when the server ends it (its timeoutSeconds)', async () => {
  await withServer({ bookmarkIntervalMs: 100 }, async ({ core, nodes }) => {
    const { resourceVersion } = await nodes.list({ limit: 10, signal: new AbortController().signal });
    const watch = startWatch(nodes, resourceVersion, { timeoutSeconds: 1 });
    await waitFor('the watch to open', () => watch.opened());
    await core.createNode({ body: node('x') });
    await watch.ended;
    const types = watch.events.map((e) => e.type);
    assert.equal(types[0], 'ADDED');
    assert.ok(types.includes('BOOKMARK'), types.join());
    const bookmark = watch.events.find((e) => e.type === 'BOOKMARK');
    assert.ok(bookmark?.type === 'BOOKMARK' && Number(bookmark.resourceVersion) > Number(resourceVersion));
  });
});

test('an HTTP error rejects with its code and Retry-After; a 410 ERROR event rejects as 410', async () => {
  await withServer({}, async ({ admin, nodes, core }) => {
    const { resourceVersion } = await nodes.list({ limit: 10, signal: new AbortController().signal });
    await admin.failNext(1, 429, { verb: 'watch', retryAfterSeconds: 3 });
    const throttled = await startWatch(nodes, resourceVersion).ended.then(() => undefined, (error: unknown) => error);
    assert.ok(throttled instanceof ApiStatusError);
    assert.deepEqual([throttled.statusCode, throttled.reason, throttled.retryAfterMs], [429, 'TooManyRequests', 3000]);
    await core.createNode({ body: node('y') });
    await admin.compact();
    const gone = await startWatch(nodes, resourceVersion).ended.then(() => undefined, (error: unknown) => error);
    assert.ok(gone instanceof ApiStatusError);
    assert.deepEqual([gone.statusCode, gone.reason], [410, 'Expired']);
  });
});

test('no answer within the request deadline (the server holds the request) rejects with a timeout: a list page and a watch', async () => {
  await withServer({}, async ({ admin, nodes }) => {
    await admin.pause('hold', { verb: 'list' });
    const listError = await nodes.list({ limit: 10, signal: new AbortController().signal }).then(() => undefined, (e: unknown) => e);
    assert.ok(listError instanceof ApiTimeoutError, String(listError));
    assert.match(listError.message, /no answer to listing \/api\/v1\/nodes within 500 ms/);
    await admin.resume();
    await admin.pause('hold', { verb: 'watch' });
    const error = await startWatch(nodes, '1').ended.then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof ApiTimeoutError, String(error));
    assert.match(error.message, /no answer to the watch within 500 ms/);
    await admin.resume();
  }, 500);
});

test('a stream silent past its limit rejects with a timeout and its connection is gone', async () => {
  // No bookmarks (the interval is longer than the test): nothing arrives on the open watch.
  await withServer({ bookmarkIntervalMs: 600_000 }, async ({ admin, nodes }) => {
    const { resourceVersion } = await nodes.list({ limit: 10, signal: new AbortController().signal });
    const watch = startWatch(nodes, resourceVersion, { silenceMs: 300 });
    const error = await watch.ended.then(() => undefined, (e: unknown) => e);
    assert.ok(watch.opened());
    assert.ok(error instanceof ApiTimeoutError, String(error));
    assert.match(error.message, /silent for 300 ms/);
    await waitFor('the server to see the watch closed', async () => (await admin.watches()).length === 0);
  });
});

test('with the Nodes\' trim, list pages and watch events arrive without status.images and with the rest', async () => {
  await withServer({}, async ({ server, core }) => {
    const trimmed = collectionListWatch<V1Node>(connectionFor(server.url), '/api/v1/nodes', { requestTimeoutMs: 2000, userAgent: USER_AGENT }, withoutNodeImages);
    const status = { addresses: [{ type: 'InternalIP', address: '10.0.0.1' }], images: [{ names: ['registry/app:v1'], sizeBytes: 1 }] };
    await core.createNode({ body: node('a') });
    await core.replaceNodeStatus({ name: 'a', body: { ...node('a'), status } });
    const listed = await trimmed.list({ limit: 10, signal: new AbortController().signal });
    assert.deepEqual(listed.items.map((n) => n.status), [{ addresses: status.addresses, images: [] }]);
    const watch = startWatch(trimmed, listed.resourceVersion);
    await core.replaceNodeStatus({ name: 'a', body: { ...node('a'), status: { ...status, addresses: [{ type: 'InternalIP', address: '10.0.0.2' }] } } });
    await waitFor('the status change', () => watch.events.length === 1);
    const event = watch.events[0]!;
    assert.ok(event.type === 'MODIFIED');
    assert.deepEqual(event.object.status, { addresses: [{ type: 'InternalIP', address: '10.0.0.2' }], images: [] });
    watch.stop();
  });
});

test('a stream that keeps bringing events outlives its silence limit: the limit is on silence, not on the stream', async () => {
  await withServer({ bookmarkIntervalMs: 600_000 }, async ({ core, nodes }) => {
    const { resourceVersion } = await nodes.list({ limit: 10, signal: new AbortController().signal });
    // A 1 s limit and a Node every 50 ms or so (and its round trip): only a stall of most of a second
    // on a busy machine could end the watch for a reason other than the limit's.
    const watch = startWatch(nodes, resourceVersion, { silenceMs: 1000 });
    let failed: unknown;
    watch.ended.then(() => { failed = 'ended'; }, (e: unknown) => { failed = e; });
    // Forty Nodes: over 2 s, more than two silence limits, never 1 s without an event.
    for (let i = 0; i < 40; i++) {
      await core.createNode({ body: node(`n${i}`) });
      await waitFor(`the watch to bring Node n${i}`, () => watch.events.length === i + 1);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(failed, undefined, `the watch ended: ${String(failed)}`);
    // And quiet from here, it ends for its silence as any other.
    const error = await watch.ended.then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof ApiTimeoutError, String(error));
  });
});

test('a stop ends the watch at once with the stop\'s reason, and the server sees it closed', async () => {
  await withServer({}, async ({ admin, nodes }) => {
    const watch = startWatch(nodes, '1');
    await waitFor('the watch to open', async () => (await admin.watches()).length === 1);
    watch.stop(new Error('stopping'));
    await assert.rejects(watch.ended, /stopping/);
    await waitFor('the server to see the watch closed', async () => (await admin.watches()).length === 0);
  });
});
