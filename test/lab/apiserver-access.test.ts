/**
 * Issue 11, authentication and authorization in the lab API server, through the real
 * @kubernetes/client-node: a service account's token is allowed what manifests/ grants it and
 * refused the rest with the real 403; an unknown token is 401; every request is in the audit log
 * with its user, decision and the rule that allowed it. The plain unix socket is the lab's trusted
 * administrator (tokens and RBAC objects are made through it).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ApiException, CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { loadAll } from 'js-yaml';
import { httpUnix } from './http-unix.ts';
import { AdminClient } from './apiserver/admin-client.ts';
import { startApiServer, type RunningApiServer } from './apiserver/server.ts';
import { kubeConfigWithToken, endpointSpec, expectStatus } from './apiserver/test-support.ts';

const NS = 'submariner-operator';
let dir: string;
let server: RunningApiServer;
let admin: AdminClient;

const clientWith = (token: string | null): KubeConfig => kubeConfigWithToken(server.url, token);

/** Creates an object through the trusted socket, as an installer applying manifests would. */
async function applyAsAdmin(manifest: { apiVersion: string; kind: string; metadata: { namespace?: string } }): Promise<void> {
  const plural = `${manifest.kind.toLowerCase()}s`;
  const base = manifest.apiVersion === 'v1' ? '/api/v1' : `/apis/${manifest.apiVersion}`;
  const path = manifest.metadata.namespace ? `${base}/namespaces/${manifest.metadata.namespace}/${plural}` : `${base}/${plural}`;
  const response = await httpUnix(server.socketPath!, path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(manifest) });
  assert.equal(response.status, 201, `${manifest.kind}: ${response.body}`);
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'seaway-access-'));
  server = await startApiServer({ socketPath: join(dir, 'apiserver.sock'), access: {} });
  admin = new AdminClient({ socketPath: server.socketPath! });
  const manifests = loadAll(await readFile(new URL('../../manifests/02-rbac-route-agent.yaml', import.meta.url), 'utf8')) as Array<{ apiVersion: string; kind: string; metadata: { namespace?: string } }>;
  await applyAsAdmin({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } } as never);
  for (const manifest of manifests) await applyAsAdmin(manifest);
  await applyAsAdmin({ apiVersion: 'submariner.io/v1', kind: 'Endpoint', metadata: { name: 'east', namespace: NS }, spec: endpointSpec('east') } as never);
});

after(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('the route agent\'s token lists what manifests/ grants it and is refused the rest with the real 403', async () => {
  const token = await admin.token({ serviceAccount: { namespace: NS, name: 'seaway-route-agent' } });
  const kc = clientWith(token);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const listed = await custom.listNamespacedCustomObject({ group: 'submariner.io', version: 'v1', namespace: NS, plural: 'endpoints' }) as { items: unknown[] };
  assert.equal(listed.items.length, 1);
  assert.ok((await kc.makeApiClient(CoreV1Api).listNode()).items);
  const refused = await expectStatus(() => custom.createNamespacedCustomObject({ group: 'submariner.io', version: 'v1', namespace: NS, plural: 'endpoints', body: { apiVersion: 'submariner.io/v1', kind: 'Endpoint', metadata: { name: 'x' }, spec: endpointSpec('x') } }));
  assert.equal(refused.httpCode, 403);
  assert.equal(refused.reason, 'Forbidden');
  assert.equal(refused.message, `endpoints.submariner.io is forbidden: User "system:serviceaccount:${NS}:seaway-route-agent" cannot create resource "endpoints" in API group "submariner.io" in the namespace "${NS}"`);
  const node = await expectStatus(() => kc.makeApiClient(CoreV1Api).readNode({ name: 'any' }));
  assert.equal(node.httpCode, 403, 'get on a node is not granted (the agent only lists and watches)');
});

test('an unknown token is 401; no token is system:anonymous, refused discovery; the audit log names user, decision and rule', async () => {
  const before = (await admin.requests()).next;
  // client-node keeps no body of a 401 (the server's Status: fetch shows it), only the code.
  await assert.rejects(clientWith('forged').makeApiClient(CoreV1Api).listNode(), (error: unknown) => error instanceof ApiException && error.code === 401);
  const raw = await fetch(`${server.url}/api/v1/nodes`, { headers: { authorization: 'Bearer forged' } });
  assert.deepEqual([raw.status, (await raw.json() as { reason: string }).reason], [401, 'Unauthorized']);
  assert.equal((await expectStatus(() => clientWith(null).makeApiClient(CoreV1Api).listNode())).httpCode, 403);
  const token = await admin.token({ serviceAccount: { namespace: NS, name: 'seaway-route-agent' } });
  await clientWith(token).makeApiClient(CoreV1Api).listNode();
  const entries = (await admin.requests(before)).entries;
  const last = entries.at(-1)!;
  assert.deepEqual([last.user, last.decision, last.rule, last.code], [`system:serviceaccount:${NS}:seaway-route-agent`, 'allow', 'ClusterRole/seaway-route-agent#0', 200]);
  assert.ok(entries.some((e) => e.user === 'system:anonymous' && e.decision === 'forbid' && e.code === 403));
  assert.ok(!JSON.stringify(entries).includes(token), 'no token in the audit log');
});

test('the trusted socket is the administrator; /admin is not served on the TCP port of a server that checks access', async () => {
  const viaSocket = await httpUnix(server.socketPath!, '/api/v1/nodes');
  assert.equal(viaSocket.status, 200);
  const response = await fetch(`${server.url}/admin/state`);
  assert.equal(response.status, 403, 'not the lab\'s fault API from outside: an anonymous request for a path no role grants');
});
