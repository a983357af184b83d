/**
 * The gateway election end to end through the real client against the lab API server with the
 * gateway's RBAC: two gateways elect one, the API held (requests hang) for twice the lease keeps
 * the active one active and its cables running, a handover on SIGTERM is immediate. Leases are
 * shortened (3 s) so the test takes seconds, not minutes.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { GatewayElection } from '../../src/gateway/election.ts';
import { leaseClient } from '../../src/k8s/lease.ts';
import type { HaDecision } from '../../src/model/gateway-ha.ts';
import { AdminClient } from './apiserver/admin-client.ts';
import { startApiServer, type RunningApiServer } from './apiserver/server.ts';
import { applyManifestFile, GATEWAY_ACCOUNT, GATEWAY_RBAC } from './manifests.ts';
import { kubeConfigWithToken } from './apiserver/test-support.ts';
import { waitFor } from '../helpers/wait.ts';

const DURATION_S = 3;
const ROUND_MS = 300;
let dir: string;
let server: RunningApiServer;
let admin: AdminClient;
let token: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'seaway-election-'));
  server = await startApiServer({ socketPath: join(dir, 'apiserver.sock'), access: {} });
  admin = new AdminClient({ socketPath: server.socketPath! });
  await applyManifestFile(server.socketPath!, GATEWAY_RBAC);
  token = await admin.token({ serviceAccount: GATEWAY_ACCOUNT });
});

after(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function candidate(identity: string) {
  const kc = kubeConfigWithToken(server.url, token);
  const decisions: HaDecision[] = [];
  const facts = { refusal: null as string | null, labelled: true, stopping: false, standbyReady: false };
  const election = new GatewayElection({
    leases: leaseClient(kc, GATEWAY_ACCOUNT.namespace, { requestTimeoutMs: 500, userAgent: `seaway/test-${identity}` }),
    leaseName: 'seaway-gateway-lock', submarinerLeaseName: 'submariner-gateway-lock', identity, leaseDurationSeconds: DURATION_S,
    facts: () => facts, onDecision: (d) => { decisions.push(d); }, log: pino({ level: 'silent' }),
  });
  return { election, decisions, facts };
}

const rounds = async (gateways: ReturnType<typeof candidate>[], durationMs: number, check: () => void = () => {}) => {
  const end = Date.now() + durationMs;
  while (Date.now() < end) {
    for (const g of gateways) await g.election.round();
    check();
    await new Promise((resolve) => setTimeout(resolve, ROUND_MS));
  }
};

test('two gateways elect one; the API held for twice the lease keeps it active with its cables running; a SIGTERM handover is immediate', async () => {
  const a = candidate('node-a');
  const b = candidate('node-b');
  await a.election.round();
  await b.election.round();
  assert.equal(a.election.state, 'active');
  assert.equal(b.election.state, 'standby');

  // Every request hangs (the API server is unresponsive) for twice the lease.
  await admin.pause('hold');
  try {
    await rounds([a, b], DURATION_S * 2 * 1000, () => {
      assert.ok(a.election.state === 'active' || a.election.state === 'active-unconfirmed', a.election.state);
      assert.equal(b.election.state, 'standby', 'the standby never goes active blind');
    });
  } finally {
    await admin.resume();
  }
  assert.ok(!a.decisions.some((d) => d.cables === 'stop'), 'the cables were never stopped');
  await waitFor('a to renew once the API answers again', async () => {
    await a.election.round();
    await b.election.round();
    return a.election.state === 'active';
  }, { timeoutMs: DURATION_S * 1000, intervalMs: ROUND_MS });

  a.facts.stopping = true;
  a.facts.standbyReady = true;
  await a.election.round();
  assert.equal(a.election.state, 'stopped', 'released and decided again in the same round');
  assert.equal(a.election.decision?.cables, 'release');
  await b.election.round();
  assert.equal(b.election.state, 'active', 'taken over in the next round, not after the lease expired');
  assert.equal(b.election.decision?.fencingToken, 1);
});
