/**
 * The gateway election's Lease (src/k8s/lease.ts) through the real @kubernetes/client-node against
 * the lab API server with authentication and RBAC: the gateway's service account, bound by
 * manifests/03-rbac-gateway.yaml as an installer applies it, observes and writes seaway's Lease and
 * reads Submariner's submariner-gateway-lock; optimistic concurrency, client-go's transition
 * counting and release, a forbidden account, injected failures, a hung server and a server that is gone.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { leaseClient, LeaseReadError, microTime, type LeaseClient, type LeaseRecord, type LeaseWriteResult } from '../../src/k8s/lease.ts';
import { httpUnix } from './http-unix.ts';
import { AdminClient } from './apiserver/admin-client.ts';
import { startApiServer, type RunningApiServer } from './apiserver/server.ts';
import { applyManifestFile, GATEWAY_ACCOUNT, GATEWAY_RBAC } from './manifests.ts';
import { kubeConfigWithToken } from './apiserver/test-support.ts';

const NS = GATEWAY_ACCOUNT.namespace;
const USER_AGENT = 'seaway/test-lease';
const LEASES = `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`;
const SETTINGS = { requestTimeoutMs: 5000, userAgent: USER_AGENT };
let dir: string;
let server: RunningApiServer;
let admin: AdminClient;
let gatewayToken: string;


function gateway(settings = SETTINGS): LeaseClient {
  return leaseClient(kubeConfigWithToken(server.url, gatewayToken), NS, settings);
}

/** The Lease as stored, through the administrator's socket. */
async function stored(name: string): Promise<{ status: number; object: { metadata: Record<string, unknown>; spec: Record<string, unknown> } }> {
  const response = await httpUnix(server.socketPath!, `${LEASES}/${name}`, { headers: { accept: 'application/json' } });
  return { status: response.status, object: JSON.parse(response.body) };
}

async function adminWrite(method: 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<void> {
  const response = await httpUnix(server.socketPath!, path, {
    method, headers: { 'content-type': 'application/json', accept: 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  assert.ok(response.status >= 200 && response.status < 300, `${method} ${path}: ${response.status} ${response.body}`);
}

function ok(result: LeaseWriteResult): LeaseRecord {
  assert.ok(result.ok, `expected the write to go through: ${result.ok ? '' : `${result.reason}: ${result.message}`}`);
  return result.record;
}

function failed(result: LeaseWriteResult, reason: string): string {
  assert.ok(!result.ok, `expected ${reason}, the write went through`);
  assert.equal(result.reason, reason, result.message);
  return result.message;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'seaway-lease-'));
  server = await startApiServer({ socketPath: join(dir, 'apiserver.sock'), access: {} });
  admin = new AdminClient({ socketPath: server.socketPath! });
  await applyManifestFile(server.socketPath!, GATEWAY_RBAC);
  gatewayToken = await admin.token({ serviceAccount: GATEWAY_ACCOUNT });
});

after(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('the election: observe absent, create, a stale second candidate refused, renew, takeover, release, re-acquire (client-go\'s counting), all allowed by gateway.yaml', async () => {
  const name = 'seaway-gateway-lock';
  const a = gateway();
  const b = gateway();
  const since = (await admin.requests()).next;
  assert.equal(await a.observe(name), null, 'no Lease yet');

  const t0 = Date.UTC(2030, 0, 1, 12, 0, 0, 250);
  const created = ok(await a.acquire(name, 'node-a', 15, t0, null));
  assert.deepEqual({ ...created, resourceVersion: '', uid: '' }, {
    holder: 'node-a', durationSeconds: 15, acquireTimeMs: t0, renewTimeMs: t0, transitions: 0, resourceVersion: '', uid: '',
  });
  assert.match(created.resourceVersion, /^\d+$/);
  assert.notEqual(created.uid, '');
  // On the wire as client-go writes it: MicroTime with six fractional digits.
  const raw = await stored(name);
  assert.deepEqual(raw.object.spec, { holderIdentity: 'node-a', leaseDurationSeconds: 15, acquireTime: microTime(t0), renewTime: microTime(t0), leaseTransitions: 0 });
  assert.equal(raw.object.spec.renewTime, '2030-01-01T12:00:00.250000Z');
  assert.deepEqual(await b.observe(name), created, 'another client reads what was written');

  // A second candidate that read before creation tries to create as well: AlreadyExists.
  failed(await b.acquire(name, 'node-b', 15, t0 + 1, null), 'conflict');

  const t1 = t0 + 5000;
  const renewed = ok(await a.renew(name, 'node-a', 15, t1, created));
  assert.deepEqual(renewed, { ...created, renewTimeMs: t1, resourceVersion: renewed.resourceVersion });
  assert.ok(Number(renewed.resourceVersion) > Number(created.resourceVersion));

  // The second candidate holds the record from before the renewal: stale, refused whole.
  const staleMessage = failed(await b.acquire(name, 'node-b', 15, t1 + 20_000, created), 'conflict');
  assert.match(staleMessage, /HTTP 409 Conflict/);
  assert.match(staleMessage, /the object has been modified/);
  assert.equal((await a.observe(name))?.holder, 'node-a', 'the refused write changed nothing');

  // The holder renews on a stale record too: refused.
  failed(await a.renew(name, 'node-a', 15, t1 + 1000, created), 'conflict');

  // Expired (as the decision module judges): node-b takes over on the current record.
  const t2 = t1 + 20_000;
  const current = await b.observe(name);
  assert.deepEqual(current, renewed);
  const taken = ok(await b.acquire(name, 'node-b', 15, t2, current));
  assert.deepEqual({ ...taken, resourceVersion: '' }, { holder: 'node-b', durationSeconds: 15, acquireTimeMs: t2, renewTimeMs: t2, transitions: 1, resourceVersion: '', uid: created.uid });

  // node-a, holding a record that names it, cannot renew past the takeover.
  failed(await a.renew(name, 'node-a', 15, t2 + 1, renewed), 'conflict');

  const t3 = t2 + 3000;
  const released = ok(await b.release(name, 'node-b', t3, taken));
  assert.deepEqual({ ...released, resourceVersion: '' }, { holder: '', durationSeconds: 1, acquireTimeMs: t3, renewTimeMs: t3, transitions: 1, resourceVersion: '', uid: created.uid });
  assert.equal((await stored(name)).object.spec.holderIdentity, '', 'holderIdentity "" on the wire, as client-go releases');
  assert.deepEqual(await a.observe(name), released);

  // Taken again by its last holder after the release: the holder changed ("" to node-b), so +1 as client-go counts.
  const again = ok(await b.acquire(name, 'node-b', 15, t3 + 10, released));
  assert.equal(again.transitions, 2);
  assert.equal(again.holder, 'node-b');

  // Every request was the gateway's, allowed by the Role gateway.yaml grants, with our User-Agent.
  // (The administrator's reads of the stored object come through the unix socket.)
  const entries = (await admin.requests(since)).entries.filter((e) => e.path.startsWith(LEASES) && e.remote !== 'unix');
  assert.ok(entries.length >= 12, `${entries.length} Lease requests`);
  for (const entry of entries) {
    assert.equal(entry.user, `system:serviceaccount:${NS}:${GATEWAY_ACCOUNT.name}`);
    assert.equal(entry.decision, 'allow', `${entry.verb} ${entry.path}`);
    assert.match(entry.rule ?? '', new RegExp(`^Role/${NS}/seaway-gateway#`));
    assert.equal(entry.userAgent, USER_AGENT);
  }
  assert.deepEqual(new Set(entries.map((e) => e.verb)), new Set(['get', 'create', 'update']));
  assert.ok(!JSON.stringify(entries).includes(gatewayToken), 'no token in the audit log');
});

test('renew and release of a record that does not name us are refused without a request', async () => {
  const name = 'not-ours';
  const client = gateway();
  const theirs = ok(await client.acquire(name, 'node-x', 15, Date.now(), null));
  const since = (await admin.requests()).next;
  assert.match(failed(await client.renew(name, 'node-y', 15, Date.now(), theirs), 'conflict'), /held by "node-x"/);
  failed(await client.release(name, 'node-y', Date.now(), theirs), 'conflict');
  const released = ok(await client.release(name, 'node-x', Date.now(), theirs));
  assert.match(failed(await client.release(name, 'node-x', Date.now(), released), 'conflict'), /held by nobody/);
  const requests = (await admin.requests(since)).entries.filter((e) => e.path.startsWith(LEASES) && e.remote !== 'unix');
  assert.equal(requests.length, 1, 'only the holder\'s release was sent');
  // Arguments that cannot be written are refused before any request as well.
  failed(await client.acquire(name, 'node-x', 0, Date.now(), released), 'rejected');
  failed(await client.acquire(name, '', 15, Date.now(), released), 'rejected');
  failed(await client.acquire(name, 'node-x', 15, Number.NaN, released), 'rejected');
  failed(await client.renew(name, 'node-x', 15, Date.now(), { ...released, holder: 'node-x', resourceVersion: '' }), 'rejected');
  assert.equal((await admin.requests(since)).entries.filter((e) => e.path.startsWith(LEASES) && e.remote !== 'unix').length, 1);
});

test('Submariner\'s submariner-gateway-lock, written by its own client-go, reads fine', async () => {
  await adminWrite('POST', LEASES, {
    apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
    metadata: { name: 'submariner-gateway-lock', namespace: NS },
    spec: {
      holderIdentity: 'gw-1-submariner-gateway-7xk2p', leaseDurationSeconds: 15, leaseTransitions: 4,
      acquireTime: '2030-01-01T11:00:00.000007Z', renewTime: '2030-01-01T12:00:01.999999Z',
    },
  });
  const seen = await gateway().observe('submariner-gateway-lock');
  assert.ok(seen);
  assert.deepEqual({ ...seen, resourceVersion: '', uid: '' }, {
    holder: 'gw-1-submariner-gateway-7xk2p', durationSeconds: 15, transitions: 4,
    acquireTimeMs: Date.UTC(2030, 0, 1, 11), renewTimeMs: Date.UTC(2030, 0, 1, 12, 0, 1, 999), resourceVersion: '', uid: '',
  });
  assert.match(seen.resourceVersion, /^\d+$/);
});

test('an update keeps the labels and annotations someone else put on the Lease', async () => {
  const name = 'labelled';
  const client = gateway();
  const created = ok(await client.acquire(name, 'node-a', 15, Date.now(), null));
  const { object } = await stored(name);
  await adminWrite('PUT', `${LEASES}/${name}`, { ...object, metadata: { ...object.metadata, labels: { team: 'net' }, annotations: { note: 'kept' } } });
  const current = await client.observe(name);
  assert.ok(current && current.resourceVersion !== created.resourceVersion);
  ok(await client.renew(name, 'node-a', 15, Date.now(), current));
  const after = (await stored(name)).object.metadata;
  assert.deepEqual([after.labels, after.annotations], [{ team: 'net' }, { note: 'kept' }]);
});

test('a Lease deleted and created again by someone else: a write on the old record is a conflict', async () => {
  const name = 'recreated';
  const client = gateway();
  const mine = ok(await client.acquire(name, 'node-a', 15, Date.now(), null));
  await adminWrite('DELETE', `${LEASES}/${name}`);
  await adminWrite('POST', LEASES, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name }, spec: { holderIdentity: 'intruder', leaseDurationSeconds: 15 } });
  failed(await client.renew(name, 'node-a', 15, Date.now(), mine), 'conflict');
  assert.equal((await client.observe(name))?.holder, 'intruder');
});

test('a Lease deleted under its holder: renewing on the old record is a conflict (the uid is a precondition), not a silent re-create', async () => {
  const name = 'deleted';
  const client = gateway();
  const mine = ok(await client.acquire(name, 'node-a', 15, Date.now(), null));
  await adminWrite('DELETE', `${LEASES}/${name}`);
  failed(await client.renew(name, 'node-a', 15, Date.now(), mine), 'conflict');
  assert.equal((await stored(name)).status, 404);
});

test('an account without the gateway\'s RBAC: observe throws LeaseReadError forbidden, writes answer forbidden', async () => {
  const token = await admin.token({ serviceAccount: { namespace: NS, name: 'no-lease-rights' } });
  const client = leaseClient(kubeConfigWithToken(server.url, token), NS, SETTINGS);
  await assert.rejects(client.observe('seaway-gateway-lock'), (error: unknown) => {
    assert.ok(error instanceof LeaseReadError);
    assert.equal(error.reason, 'forbidden');
    assert.equal(error.statusCode, 403);
    assert.match(error.message, /cannot get resource "leases" in API group "coordination.k8s.io"/);
    return true;
  });
  const message = failed(await client.acquire('forbidden-lease', 'node-z', 15, Date.now(), null), 'forbidden');
  assert.match(message, /HTTP 403 Forbidden: .*cannot create resource "leases"/);
  assert.ok(!message.includes(token));
  // A token the server does not know: 401, also forbidden.
  const forged = leaseClient(kubeConfigWithToken(server.url, 'forged-token'), NS, SETTINGS);
  failed(await forged.acquire('forbidden-lease', 'node-z', 15, Date.now(), null), 'forbidden');
  assert.equal((await stored('forbidden-lease')).status, 404, 'nothing was written');
});

test('injected 500, 429 and 503: writes answer unavailable, observe throws unavailable; a 409 is a conflict', async () => {
  const name = 'faults';
  const client = gateway();
  const mine = ok(await client.acquire(name, 'node-a', 15, Date.now(), null));
  try {
    await admin.failNext(1, 500, { path: `/leases/${name}`, verb: 'update' });
    assert.match(failed(await client.renew(name, 'node-a', 15, Date.now(), mine), 'unavailable'), /HTTP 500/);
    await admin.failNext(1, 429, { path: `/leases/${name}`, verb: 'update', retryAfterSeconds: 1 });
    failed(await client.renew(name, 'node-a', 15, Date.now(), mine), 'unavailable');
    await admin.failNext(1, 409, { path: `/leases/${name}`, verb: 'update' });
    failed(await client.renew(name, 'node-a', 15, Date.now(), mine), 'conflict');
    await admin.failNext(1, 503, { path: `/leases/${name}`, verb: 'get' });
    await assert.rejects(client.observe(name), (error: unknown) => error instanceof LeaseReadError && error.reason === 'unavailable' && error.statusCode === 503);
  } finally {
    await admin.clearFailures();
  }
  // The failures changed nothing: the record still renews.
  ok(await client.renew(name, 'node-a', 15, Date.now(), mine));
});

test('a server that holds requests: observe throws and writes answer unavailable at the deadline, never hang', async () => {
  const name = 'held';
  const client = gateway({ requestTimeoutMs: 400, userAgent: USER_AGENT });
  const mine = ok(await client.acquire(name, 'node-a', 15, Date.now(), null));
  await admin.pause('hold', { path: `/leases/${name}` });
  try {
    // The server never answers: each call ends at its own deadline (the message says which), not in a hang.
    const renew = await client.renew(name, 'node-a', 15, Date.now(), mine);
    assert.match(failed(renew, 'unavailable'), /timeout: no answer to renewing Lease .* within 400 ms/);
    await assert.rejects(client.observe(name), (error: unknown) => error instanceof LeaseReadError && error.reason === 'unavailable' && error.statusCode === undefined && /within 400 ms/.test(error.message));
  } finally {
    await admin.resume();
  }
});

test('a server that is gone: observe throws LeaseReadError unavailable and acquire answers unavailable, within the deadline', async () => {
  const goneDir = await mkdtemp(join(tmpdir(), 'seaway-lease-gone-'));
  try {
    const gone = await startApiServer({ socketPath: join(goneDir, 'apiserver.sock'), access: {} });
    let token: string;
    try {
      token = await new AdminClient({ socketPath: gone.socketPath! }).token({ serviceAccount: GATEWAY_ACCOUNT });
    } finally {
      await gone.close(); // nothing listens on its port any more
    }
    const client = leaseClient(kubeConfigWithToken(gone.url, token), NS, { requestTimeoutMs: 2000, userAgent: USER_AGENT });
    let started = performance.now();
    await assert.rejects(client.observe('seaway-gateway-lock'), (error: unknown) => {
      assert.ok(error instanceof LeaseReadError, String(error));
      assert.equal(error.reason, 'unavailable');
      assert.equal(error.statusCode, undefined);
      assert.match(error.message, /reading Lease submariner-operator\/seaway-gateway-lock: (unreachable|timeout)/);
      return true;
    });
    assert.ok(performance.now() - started < 10_000, 'no hang past the deadline');
    started = performance.now();
    const message = failed(await client.acquire('seaway-gateway-lock', 'node-a', 15, Date.now(), null), 'unavailable');
    assert.ok(performance.now() - started < 10_000, 'no hang past the deadline');
    assert.ok(!message.includes(token), 'no token in the message');
  } finally {
    await rm(goneDir, { recursive: true, force: true });
  }
});
