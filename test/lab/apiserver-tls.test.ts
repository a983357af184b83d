/**
 * Issue 11, TLS: a lab API server serves HTTPS with a certificate from the lab's CA (made with
 * openssl); the real @kubernetes/client-node and kubectl connect given the CA, and a client that
 * does not trust the CA is refused.
 */
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import assert from 'node:assert/strict';
import { get } from 'node:https';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { run } from '../../src/kernel/exec.ts';
import { loadApiConnection } from '../../src/k8s/api-connection.ts';
import { apiRequest } from '../../src/k8s/api-request.ts';
import { requireTools } from '../helpers/prereq.ts';
import { startApiServer, type RunningApiServer } from './apiserver/server.ts';
import { createLabCa, issueServerCertificate, type LabCa } from './tls.ts';

let dir: string;
let ca: LabCa;
let server: RunningApiServer;

/** A kubeconfig that trusts `caPem` (or, without it, the system's roots only). */
function kubeconfigText(url: string, caPem: string | null): string {
  const cluster: Record<string, unknown> = { server: url };
  if (caPem !== null) cluster['certificate-authority-data'] = Buffer.from(caPem).toString('base64');
  return JSON.stringify({
    apiVersion: 'v1', kind: 'Config',
    // A token, so kubectl does not ask for a user name (the server does not check it yet).
    clusters: [{ name: 'lab', cluster }], users: [{ name: 'lab', user: { token: 'seaway-lab' } }],
    contexts: [{ name: 'lab', context: { cluster: 'lab', user: 'lab' } }], 'current-context': 'lab',
  });
}

before(async () => {
  requireTools('openssl', 'kubectl');
  dir = await mkdtemp(join(tmpdir(), 'seaway-tls-'));
  ca = await createLabCa(dir, 'swtls');
  const cert = await issueServerCertificate(ca, dir, 'apiserver', { commonName: 'kube-apiserver', ips: ['127.0.0.1'], dnsNames: ['localhost'] });
  server = await startApiServer({ host: '127.0.0.1', tls: { cert: cert.certPem, key: cert.keyPem } });
});

after(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('the lab API server serves HTTPS; @kubernetes/client-node given the lab CA lists namespaces', async () => {
  assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfigText(server.url, ca.certPem));
  const namespaces = await kc.makeApiClient(CoreV1Api).listNamespace();
  assert.ok(namespaces.items.some((n) => n.metadata?.name === 'default'));
});

test('the route agent\'s own connection (kubeconfig with the CA and a token) lists over HTTPS; without the CA it refuses the server', async () => {
  const trusted = join(dir, 'agent-trusted.kubeconfig');
  const untrusted = join(dir, 'agent-untrusted.kubeconfig');
  await writeFile(trusted, kubeconfigText(server.url, ca.certPem));
  await writeFile(untrusted, kubeconfigText(server.url, null));
  const call = { method: 'GET', path: '/api/v1/namespaces' } as const;
  const options = { userAgent: 'seaway/test', timeoutMs: 10_000, what: 'listing namespaces' };
  const listed = await apiRequest(await loadApiConnection(trusted, {}), call, options) as { items: Array<{ metadata: { name: string } }> };
  assert.ok(listed.items.some((n) => n.metadata.name === 'default'));
  await assert.rejects(apiRequest(await loadApiConnection(untrusted, {}), call, options), /self-signed certificate|unable to verify|unable to get local issuer/);
});

test('kubectl given the lab CA talks to it; without the CA it refuses the server', async () => {
  const trusted = join(dir, 'trusted.kubeconfig');
  const untrusted = join(dir, 'untrusted.kubeconfig');
  await writeFile(trusted, kubeconfigText(server.url, ca.certPem));
  await writeFile(untrusted, kubeconfigText(server.url, null));
  const ok = await run('kubectl', ['--kubeconfig', trusted, 'get', '--raw', '/api'], { timeoutMs: 30_000 });
  assert.equal((JSON.parse(ok.stdout) as { kind: string }).kind, 'APIVersions');
  const refused = await run('kubectl', ['--kubeconfig', untrusted, 'get', '--raw', '/api'], { timeoutMs: 30_000, allowFailure: true });
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /certificate signed by unknown authority/);
});

test('a plain TLS client that does not trust the lab CA is refused before any request', async () => {
  const error = await new Promise<NodeJS.ErrnoException>((resolve, reject) => {
    const request = get(`${server.url}/api`, { timeout: 10_000 }, (response) => { response.resume(); reject(new Error(`answered ${response.statusCode}`)); });
    request.on('error', resolve);
    request.on('timeout', () => request.destroy(new Error('timed out')));
  });
  assert.match(String(error.code), /SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY/);
});

test('certificates issued at once each get their own serial', async () => {
  const issued = await Promise.all(['one', 'two', 'three', 'four'].map((file) => issueServerCertificate(ca, dir, file, { commonName: file, ips: ['127.0.0.1'] })));
  const serials = await Promise.all(issued.map(async (c) => (await run('openssl', ['x509', '-in', c.certPath, '-noout', '-serial'])).stdout.trim()));
  assert.equal(new Set(serials).size, 4, serials.join(', '));
});

test('a certificate is issued only for the names it is given', async () => {
  await assert.rejects(issueServerCertificate(ca, dir, 'nothing', { commonName: 'x', ips: [] }), /no IP address or DNS name/);
  const other = await issueServerCertificate(ca, dir, 'other', { commonName: 'other', ips: ['127.0.0.2'] });
  const text = (await run('openssl', ['x509', '-in', other.certPath, '-noout', '-ext', 'subjectAltName'])).stdout;
  assert.match(text, /IP Address:127\.0\.0\.2/);
  assert.doesNotMatch(text, /127\.0\.0\.1/);
});

test('a settled call\'s answer is not kept by the keep-alive socket it came over (Node\'s TLS agent keeps the request that made a socket reachable for the socket\'s life)', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const file = join(dir, 'agent-pool.kubeconfig');
  await writeFile(file, kubeconfigText(server.url, ca.certPem));
  const connection = await loadApiConnection(file, {});
  const options = { userAgent: 'seaway/test', timeoutMs: 10_000, what: 'listing namespaces' };
  const answers: Array<WeakRef<object>> = [];
  // Concurrent calls: each makes a socket of its own, which stays in the pool afterwards.
  const calls = async () => {
    const results = await Promise.all(Array.from({ length: 8 }, () => apiRequest(connection, { method: 'GET', path: '/api/v1/namespaces' }, options)));
    for (const result of results) answers.push(new WeakRef(result as object));
  };
  await calls();
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  const kept = answers.filter((ref) => ref.deref() !== undefined).length;
  assert.equal(kept, 0, `${kept} of ${answers.length} answers are still held`);
});
