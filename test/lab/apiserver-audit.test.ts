/**
 * What tests measure at the lab's API server: the audit log (every API request with its client,
 * verb, path and code), the open watches with who holds them, and injected 429s that carry
 * Retry-After as API priority and fairness sends it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiException, CoreV1Api, Watch } from '@kubernetes/client-node';
import { AdminClient } from './apiserver/admin-client.ts';
import { startApiServer } from './apiserver/server.ts';
import { kubeConfigFor, waitFor } from './apiserver/test-support.ts';

test('the audit log records each API request with peer, User-Agent, verb, path and code, and not the fault API', async () => {
  const server = await startApiServer({});
  try {
    const kc = kubeConfigFor(server.url);
    const core = kc.makeApiClient(CoreV1Api);
    const admin = new AdminClient(server.url);
    const { next } = await admin.requests();
    await core.listNode({ limit: 10 });
    await admin.failNext(1, 500, { verb: 'get' });
    await assert.rejects(core.readNode({ name: 'nope' }), (error: unknown) => error instanceof ApiException && error.code === 500);
    await assert.rejects(core.readNode({ name: 'nope' }), (error: unknown) => error instanceof ApiException && error.code === 404);
    const { entries } = await admin.requests(next);
    assert.deepEqual(entries.map((e) => [e.verb, e.path, e.code]), [
      ['list', '/api/v1/nodes?limit=10', 200],
      ['get', '/api/v1/nodes/nope', 500],
      ['get', '/api/v1/nodes/nope', 404],
    ]);
    assert.ok(entries.every((e) => e.remote === '127.0.0.1' && e.userAgent.startsWith('kubernetes-client-javascript/')), JSON.stringify(entries[0]));
  } finally {
    await server.close();
  }
});

test('open watches are listed with their peer, User-Agent and path, and leave the list when they end', async () => {
  const server = await startApiServer({});
  try {
    const kc = kubeConfigFor(server.url);
    const admin = new AdminClient(server.url);
    const controller = await new Watch(kc).watch('/api/v1/nodes', { allowWatchBookmarks: true }, () => {}, () => {});
    await waitFor('the watch to be open', async () => (await admin.watches()).length === 1);
    const [open] = await admin.watches();
    assert.equal(open?.remote, '127.0.0.1');
    assert.match(open?.path ?? '', /^\/api\/v1\/nodes\?.*watch=true/);
    assert.match(open?.userAgent ?? '', /node|undici|kubernetes/);
    const { entries } = await admin.requests();
    assert.equal(entries.filter((e) => e.verb === 'watch').at(-1)?.code, 200, 'a running watch counts as answered 200');
    controller.abort();
    await waitFor('the watch to be gone', async () => (await admin.watches()).length === 0);
  } finally {
    await server.close();
  }
});

test('an injected 429 with retryAfterSeconds carries the Retry-After header and details.retryAfterSeconds', async () => {
  const server = await startApiServer({});
  try {
    const admin = new AdminClient(server.url);
    await admin.failNext(1, 429, { verb: 'list', retryAfterSeconds: 7 });
    const response = await fetch(`${server.url}/api/v1/nodes`);
    assert.equal(response.status, 429);
    assert.equal(response.headers.get('retry-after'), '7');
    const status = await response.json() as { reason: string; details?: { retryAfterSeconds?: number } };
    assert.equal(status.reason, 'TooManyRequests');
    assert.equal(status.details?.retryAfterSeconds, 7);
    assert.equal((await fetch(`${server.url}/api/v1/nodes`)).status, 200, 'one failure only');
    await assert.rejects(admin.failNext(1, 429, { retryAfterSeconds: -1 } as never), /retryAfterSeconds must be a non-negative integer/);
  } finally {
    await server.close();
  }
});
