/**
 * The Gateway status object written through the real @kubernetes/client-node to the lab API server
 * (HTTPS with the lab's CA, as a cluster serves it; kubectl would not send a token over plain HTTP),
 * which enforces Submariner's Gateway CRD (schema; no status subresource) and RBAC: the writer runs
 * with the gateway's own service-account token and manifests/03-rbac-gateway.yaml applied, so a schema
 * mistake would be a 422 and a verb the manifests do not grant a 403. The audit log shows every
 * request the writer made (never one to .../status), and kubectl, with the same token, reads what
 * `subctl show gateways|connections` reads.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { run } from '../../src/kernel/exec.ts';
import type { CableStatus } from '../../src/cable/cable.ts';
import { endpointValidationContext, validateEndpoint, type EndpointSpec } from '../../src/model/endpoint.ts';
import {
  SUBMARINER_STALE_MS, UPDATE_TIMESTAMP_ANNOTATION, gatewayObject, type GatewayInput, type GatewayObject,
} from '../../src/plan/gateway-status.ts';
import { createGatewayStatusPublisher, createGatewayStatusWriter, type GatewayStatusWriter } from '../../src/k8s/gateway-status-writer.ts';
import { requireTools } from '../helpers/prereq.ts';
import { httpUnix } from './http-unix.ts';
import { AdminClient } from './apiserver/admin-client.ts';
import type { AuditEntry } from './apiserver/audit.ts';
import { startApiServer, type RunningApiServer } from './apiserver/server.ts';
import { waitFor } from './apiserver/test-support.ts';
import { kubeConfigConnection } from '../../src/k8s/api-connection.ts';
import { sender } from '../../src/k8s/api-request.ts';
import { createLabCa, issueServerCertificate } from './tls.ts';
import { applyManifestFile, applyManifests, GATEWAY_ACCOUNT, GATEWAY_RBAC } from './manifests.ts';

const NS = GATEWAY_ACCOUNT.namespace;
const GATEWAY_USER = `system:serviceaccount:${NS}:${GATEWAY_ACCOUNT.name}`;
const COLLECTION = `/apis/submariner.io/v1/namespaces/${NS}/gateways`;
const USER_AGENT = 'seaway/test-gateway-status';

let dir: string;
let server: RunningApiServer;
let admin: AdminClient;
let token: string;
let kubeConfig: KubeConfig;
let kubeconfigFile: string;
let writer: GatewayStatusWriter;

const ctx = endpointValidationContext({ localClusterId: 'east', podCidrs: ['10.1.0.0/16'], serviceCidrs: ['10.96.0.0/16'], minPrefixLength: 8, maxSubnets: 64 });
function endpointSpec(raw: Record<string, unknown>): EndpointSpec {
  const result = validateEndpoint(raw, ctx);
  assert.ok(result.ok, result.ok ? '' : result.message);
  return result.endpoint;
}
const LOCAL = endpointSpec({
  cluster_id: 'east', cable_name: 'submariner-cable-east-192-168-1-11', hostname: 'east-gw', subnets: ['10.96.0.0/16', '10.1.0.0/16'],
  private_ip: '192.168.1.11', nat_enabled: false, backend: 'libreswan', backend_config: { 'udp-port': '4500' },
});
const WEST = endpointSpec({
  cluster_id: 'west', cable_name: 'submariner-cable-west-192-168-1-10', hostname: 'west-gw', subnets: ['10.2.0.0/16'],
  private_ip: '192.168.1.10', public_ip: '203.0.113.10', nat_enabled: true, backend: 'libreswan', backend_config: { 'udp-port': '4500' },
});

const cable = (state: CableStatus['state'], message = ''): CableStatus => ({ cableName: WEST.cableName, state, message, rxBytes: 10, txBytes: 10 });

function gateway(nowMs: number, over: Partial<GatewayInput> = {}): GatewayObject {
  const result = gatewayObject({
    hostname: 'east-gw', namespace: NS, haStatus: 'active', localEndpoint: LOCAL, version: 'seaway-test', statusFailure: '',
    remotes: [{ endpoint: WEST, cable: cable('connected'), usingIP: '203.0.113.10', usingNAT: true }],
    traffic: new Map([[WEST.cableName, { rxBytes: 10, txBytes: 10, rxGrewAtMs: nowMs, txGrewAtMs: nowMs }]]),
    nowMs, ...over,
  });
  assert.ok(result.ok, result.ok ? '' : result.message);
  return result.object;
}

/** As the lab's administrator (the trusted socket), not as the gateway. */
async function adminRequest(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<{ status: number; json: Record<string, any> }> {
  const response = await httpUnix(server.socketPath!, path, {
    method, headers: { 'content-type': contentType, accept: 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, json: JSON.parse(response.body) };
}
const stored = async (name: string) => adminRequest('GET', `${COLLECTION}/${name}`);

/** A Gateway object of another candidate, as another gateway would have written it. */
async function otherGateway(name: string, stamp: string | undefined): Promise<void> {
  const object = gateway(Date.now(), { hostname: name });
  if (stamp === undefined) object.metadata.annotations = {};
  else object.metadata.annotations[UPDATE_TIMESTAMP_ANNOTATION] = stamp;
  const created = await adminRequest('POST', COLLECTION, object);
  assert.equal(created.status, 201, JSON.stringify(created.json));
}

/** The gateway's own requests since audit entry `since`. */
async function gatewayRequests(since: number): Promise<AuditEntry[]> {
  return (await admin.requests(since)).entries.filter((e) => e.user === GATEWAY_USER);
}
const auditMark = async () => (await admin.requests()).next;
const kubectl = (args: string[]) => run('kubectl', ['--kubeconfig', kubeconfigFile, ...args], { timeoutMs: 30_000 });

before(async () => {
  requireTools('openssl', 'kubectl');
  dir = await mkdtemp(join(tmpdir(), 'seaway-gateway-status-'));
  const ca = await createLabCa(dir, 'swgw');
  const cert = await issueServerCertificate(ca, dir, 'apiserver', { commonName: 'kube-apiserver', ips: ['127.0.0.1'] });
  server = await startApiServer({ socketPath: join(dir, 'apiserver.sock'), tls: { cert: cert.certPem, key: cert.keyPem }, access: {} });
  admin = new AdminClient({ socketPath: server.socketPath! });
  await applyManifests(server.socketPath!, [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } }], 'the Submariner namespace');
  await applyManifestFile(server.socketPath!, GATEWAY_RBAC);
  token = await admin.token({ serviceAccount: GATEWAY_ACCOUNT });
  kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'lab', server: server.url, caData: Buffer.from(ca.certPem).toString('base64'), skipTLSVerify: false }],
    users: [{ name: 'gateway', token }],
    contexts: [{ name: 'lab', cluster: 'lab', user: 'gateway' }], currentContext: 'lab',
  });
  kubeconfigFile = join(dir, 'kubeconfig');
  await writeFile(kubeconfigFile, kubeConfig.exportConfig(), { mode: 0o600 });
  writer = createGatewayStatusWriter(sender(kubeConfigConnection(kubeConfig)), { namespace: NS, userAgent: USER_AGENT });
});

after(async () => {
  await admin?.resume().catch(() => undefined);
  await admin?.clearFailures().catch(() => undefined);
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('created with the gateway\'s token and RBAC, accepted by the CRD and stored exactly as sent (nothing pruned)', async () => {
  const since = await auditMark();
  const object = gateway(Date.now());
  const result = await writer.write(object);
  assert.ok(result.ok, JSON.stringify(result));
  assert.equal(result.action, 'created');
  const { status, json } = await stored('east-gw');
  assert.equal(status, 200);
  assert.deepEqual(json.status, object.status);
  assert.deepEqual(json.metadata.annotations, object.metadata.annotations);
  assert.equal(json.metadata.uid, result.uid);
  assert.equal(json.metadata.resourceVersion, result.resourceVersion);
  const requests = await gatewayRequests(since);
  assert.deepEqual(requests.map((e) => [e.verb, e.code]), [['get', 404], ['create', 201]]);
  assert.ok(requests.every((e) => e.userAgent === USER_AGENT && e.decision === 'allow' && e.rule === `Role/${NS}/seaway-gateway#0`));
});

test('a change replaces the object with the resourceVersion last seen: one PUT, no read', async () => {
  const before = (await stored('east-gw')).json.metadata.resourceVersion as string;
  const since = await auditMark();
  const next = gateway(Date.now(), { remotes: [{ endpoint: WEST, cable: cable('error', 'IKE_AUTH failed'), usingIP: '203.0.113.10', usingNAT: true }] });
  const result = await writer.write(next);
  assert.ok(result.ok && result.action === 'replaced', JSON.stringify(result));
  assert.notEqual(result.resourceVersion, before);
  const { json } = await stored('east-gw');
  assert.deepEqual(json.status.connections.map((c: any) => [c.status, c.statusMessage]), [['error', 'error: IKE_AUTH failed']]);
  assert.deepEqual((await gatewayRequests(since)).map((e) => [e.method, e.path, e.code]), [['PUT', `${COLLECTION}/east-gw?fieldManager=seaway`, 200]]);
});

test('someone else changed it meanwhile (409): re-read once and replaced, keeping their labels and annotations', async () => {
  const patched = await adminRequest('PATCH', `${COLLECTION}/east-gw`, { metadata: { labels: { team: 'net' }, annotations: { note: 'kept' } } }, 'application/merge-patch+json');
  assert.equal(patched.status, 200);
  const since = await auditMark();
  const result = await writer.write(gateway(Date.now()));
  assert.ok(result.ok, JSON.stringify(result));
  assert.deepEqual((await gatewayRequests(since)).map((e) => [e.verb, e.code]), [['update', 409], ['get', 200], ['update', 200]]);
  const { json } = await stored('east-gw');
  assert.deepEqual(json.metadata.labels, { team: 'net' });
  assert.equal(json.metadata.annotations.note, 'kept');
  assert.equal(json.status.connections[0].status, 'connected');
});

test('deleted behind its back (404 on replace): created again', async () => {
  assert.equal((await adminRequest('DELETE', `${COLLECTION}/east-gw`)).status, 200);
  const since = await auditMark();
  const result = await writer.write(gateway(Date.now()));
  assert.ok(result.ok && result.action === 'created', JSON.stringify(result));
  assert.deepEqual((await gatewayRequests(since)).map((e) => [e.verb, e.code]), [['update', 404], ['get', 404], ['create', 201]]);
});

test('the budget: an unchanged object is refreshed once the refresh period passed, not before; a change goes at once', async () => {
  const publisher = createGatewayStatusPublisher(writer, { refreshMs: 5000 });
  const t0 = Date.now();
  const since = await auditMark();
  assert.equal((await publisher.publish(gateway(t0), t0)).attempted, true);
  const first = (await stored('east-gw')).json.metadata.annotations[UPDATE_TIMESTAMP_ANNOTATION] as string;
  for (const offset of [1000, 2000, 4999]) {
    assert.deepEqual(await publisher.publish(gateway(t0 + offset), t0 + offset), { attempted: false, reason: 'unchanged' });
  }
  const refreshed = await publisher.publish(gateway(t0 + 5000), t0 + 5000);
  assert.ok(refreshed.attempted && refreshed.result.ok);
  const second = (await stored('east-gw')).json.metadata.annotations[UPDATE_TIMESTAMP_ANNOTATION] as string;
  assert.equal(Number(second) - Number(first), 5, 'update-timestamp advanced by the 5 s that passed');
  const changed = await publisher.publish(gateway(t0 + 5100, { haStatus: 'passive', remotes: [] }), t0 + 5100);
  assert.ok(changed.attempted && changed.result.ok);
  assert.equal((await stored('east-gw')).json.status.haStatus, 'passive');
  assert.deepEqual((await gatewayRequests(since)).map((e) => e.verb), ['update', 'update', 'update'], 'three writes for six observations');
});

test('failures come back as results, never thrown: an injected 500, a hung server past the deadline, a schema mistake (422)', async () => {
  await admin.failNext(1, 500, { verb: 'update', path: '/gateways/east-gw' });
  const failed = await writer.write(gateway(Date.now()));
  assert.ok(!failed.ok);
  assert.deepEqual([failed.step, failed.problem.statusCode, failed.problem.cause], ['replace', 500, 'HTTP 500 InternalError']);

  const quick = createGatewayStatusWriter(sender(kubeConfigConnection(kubeConfig)), { namespace: NS, userAgent: USER_AGENT, requestTimeoutMs: 300 });
  await admin.pause('hold', { path: '/gateways/' });
  try {
    const started = Date.now();
    const hung = await quick.write(gateway(Date.now()));
    assert.ok(!hung.ok);
    assert.equal(hung.problem.category, 'timeout');
    assert.ok(Date.now() - started < 3000, 'answered at the deadline, not when the server woke');
  } finally {
    await admin.resume();
  }

  const bad = gateway(Date.now());
  bad.status.connections[0]!.endpoint.cluster_id = '';
  const refused = await writer.write(bad);
  assert.ok(!refused.ok);
  assert.equal(refused.problem.statusCode, 422, 'the lab enforces the CRD schema: a mistake in gatewayObject would show as this');
  assert.match(refused.problem.detail, /status\.connections\[0\]\.endpoint\.cluster_id/);
  assert.ok(!JSON.stringify([failed, refused]).includes(token), 'no credential in a result');

  const healed = await writer.write(gateway(Date.now()));
  assert.ok(healed.ok, JSON.stringify(healed));
});

test('stale objects of other candidates are deleted (uid and resourceVersion preconditions); live and fresh ones stay', async () => {
  const nowMs = Date.now();
  const seconds = (ms: number) => String(Math.floor(ms / 1000));
  await otherGateway('old-gw', seconds(nowMs - 60_000));
  await otherGateway('fresh-gw', seconds(nowMs));
  await otherGateway('live-old-gw', seconds(nowMs - 60_000));
  await otherGateway('unstamped-gw', undefined);
  const since = await auditMark();
  const result = await writer.removeStale(['east-gw', 'live-old-gw'], nowMs, SUBMARINER_STALE_MS);
  assert.deepEqual(result, { deleted: ['old-gw', 'unstamped-gw'], alreadyGone: [], changed: [], failed: [] });
  const names = (await adminRequest('GET', COLLECTION)).json.items.map((i: any) => i.metadata.name).sort();
  assert.deepEqual(names, ['east-gw', 'fresh-gw', 'live-old-gw']);
  assert.deepEqual((await gatewayRequests(since)).map((e) => [e.verb, e.code]), [['list', 200], ['delete', 200], ['delete', 200]]);
});

test('an object refreshed between the list and the delete survives: the precondition fails (409) and it is reported as changed', async () => {
  const nowMs = Date.now();
  await otherGateway('revived-gw', String(Math.floor((nowMs - 60_000) / 1000)));
  await admin.pause('hold', { verb: 'delete' });
  let cleanup: ReturnType<GatewayStatusWriter['removeStale']> | undefined;
  try {
    const since = await auditMark();
    cleanup = writer.removeStale(['east-gw', 'live-old-gw'], nowMs, SUBMARINER_STALE_MS);
    await waitFor('the delete to be held', async () => (await gatewayRequests(since)).some((e) => e.verb === 'delete' && e.code === null));
    // Its owner comes back and refreshes it (through the trusted socket, which the pause on deletes does not hold).
    const refreshed = await adminRequest('PATCH', `${COLLECTION}/revived-gw`, { metadata: { annotations: { [UPDATE_TIMESTAMP_ANNOTATION]: String(Math.floor(Date.now() / 1000)) } } }, 'application/merge-patch+json');
    assert.equal(refreshed.status, 200);
  } finally {
    await admin.resume();
  }
  const result = await cleanup!;
  assert.deepEqual(result, { deleted: [], alreadyGone: [], changed: ['revived-gw'], failed: [] });
  assert.equal((await stored('revived-gw')).status, 200);
});

test('a failed list deletes nothing and says why', async () => {
  await admin.failNext(1, 503, { verb: 'list', path: '/gateways' });
  const result = await writer.removeStale([], Date.now() + 3_600_000, SUBMARINER_STALE_MS);
  assert.deepEqual([result.deleted, result.listProblem?.statusCode], [[], 503]);
  assert.equal((await stored('fresh-gw')).status, 200);
});

test('kubectl with the gateway\'s token reads what subctl shows: HA status, connection status, the remote cluster id', async () => {
  const write = await writer.write(gateway(Date.now()));
  assert.ok(write.ok, JSON.stringify(write));
  const listed = JSON.parse((await kubectl(['get', 'gateways', '-n', NS, '-o', 'json'])).stdout) as { items: any[] };
  const own = listed.items.find((i) => i.metadata.name === 'east-gw');
  assert.ok(own, 'east-gw listed');
  assert.equal(own.status.haStatus, 'active');
  assert.equal(own.status.statusFailure, '');
  assert.equal(own.status.version, 'seaway-test');
  assert.equal(own.status.localEndpoint.hostname, 'east-gw');
  assert.deepEqual(own.status.connections.map((c: any) => [c.status, c.endpoint.cluster_id, c.endpoint.hostname, c.usingIP, c.usingNAT, c.endpoint.backend, c.endpoint.subnets]),
    [['connected', 'west', 'west-gw', '203.0.113.10', true, 'libreswan', ['10.2.0.0/16']]]);
  assert.match(own.metadata.annotations[UPDATE_TIMESTAMP_ANNOTATION], /^\d+$/);
  // The CRD's printer column (.status.haStatus), printed client-side: the lab serves no server-side Table.
  const table = (await kubectl(['get', 'gateway', 'east-gw', '-n', NS, '-o', 'custom-columns=NAME:.metadata.name,HA STATUS:.status.haStatus'])).stdout;
  assert.match(table, /^east-gw\s+active\s*$/m);
});

test('the whole run: the gateway never asked for a /status path (Gateway has none: it would be 404), and used only granted verbs', async () => {
  const requests = await gatewayRequests(0);
  assert.ok(requests.length > 20, `the run's requests are all there (${requests.length})`);
  assert.deepEqual(requests.filter((e) => /\/status(\?|$)/.test(e.path)), []);
  assert.deepEqual([...new Set(requests.map((e) => e.verb))].sort(), ['create', 'delete', 'get', 'list', 'update']);
  assert.ok(requests.every((e) => e.decision === 'allow'));
  // The path the writer avoids really does not exist on this CRD.
  const viaStatus = await adminRequest('PUT', `${COLLECTION}/east-gw/status`, (await stored('east-gw')).json);
  assert.equal(viaStatus.status, 404);
});
