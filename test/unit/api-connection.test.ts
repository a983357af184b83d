/**
 * The route agent's own connection to its API server (src/k8s/api-connection.ts) and its requests
 * (api-request.ts): kubeconfig parsing, the service account, the token read again as the kubelet
 * rotates it, client-node taking over what only it can do, configuration errors naming the setting,
 * and each request's outcome against a real local HTTP server (answers, Status errors with
 * Retry-After, non-JSON, the deadline, the caller's abort).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError } from '../../src/config.ts';
import {
  connectionFromSpec, inClusterSpec, loadApiConnection, parseKubeconfig, TOKEN_REREAD_MS, type ConnectionSpec, type ReadFile,
} from '../../src/k8s/api-connection.ts';
import { ApiStatusError, ApiTimeoutError } from '../../src/k8s/api-problem.ts';
import { apiRequest, callUrl } from '../../src/k8s/api-request.ts';

const SETTING = /^invalid configuration: --kubeconfig \(env SEAWAY_KUBECONFIG or KUBECONFIG\): /;

function kubeconfig(cluster: Record<string, unknown>, user: Record<string, unknown> = {}): string {
  return JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'c',
    clusters: [{ name: 'k', cluster }], users: [{ name: 'u', user }], contexts: [{ name: 'c', context: { cluster: 'k', user: 'u' } }],
  });
}

/** A file system of a few files; anything else is ENOENT. */
function files(contents: Record<string, string>): ReadFile {
  return (path) => {
    if (!(path in contents)) throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' });
    return Buffer.from(contents[path]!);
  };
}

const parse = (text: string, read: ReadFile = files({})) => parseKubeconfig(text, '/etc/kc/config', '"/etc/kc/config"', read);
const spec = (text: string, read?: ReadFile) => {
  const parsed = parse(text, read);
  assert.ok(!('needsClient' in parsed), 'parsed natively');
  return parsed as ConnectionSpec;
};
const rejects = (action: () => unknown, detail: RegExp) => assert.throws(action, (error: unknown) => {
  assert.ok(error instanceof ConfigError, `a ConfigError, got ${String(error)}`);
  assert.match(error.message, SETTING);
  assert.match(error.message, detail);
  return true;
});

describe('parseKubeconfig (pure but for the files it names)', () => {
  test('server, CA data, client certificate files relative to the kubeconfig, token', () => {
    const read = files({ '/etc/kc/client.crt': 'CERT', '/keys/client.key': 'KEY' });
    const parsed = spec(kubeconfig(
      { server: 'https://10.0.0.1:6443/', 'certificate-authority-data': Buffer.from('CA').toString('base64'), 'tls-server-name': 'kubernetes' },
      { 'client-certificate': 'client.crt', 'client-key': '/keys/client.key', token: 'abc' },
    ), read);
    assert.equal(parsed.server, 'https://10.0.0.1:6443');
    assert.equal(parsed.ca?.toString(), 'CA');
    assert.equal(parsed.cert?.toString(), 'CERT');
    assert.equal(parsed.key?.toString(), 'KEY');
    assert.equal(parsed.tlsServerName, 'kubernetes');
    assert.equal(parsed.token, 'abc');
    assert.equal(parsed.insecureSkipTlsVerify, false);
  });

  test('the server\'s URL in its own spelling: an upper-case scheme is still TLS', async () => {
    const parsed = spec(kubeconfig({ server: 'HTTPS://API.Example:6443/' }));
    assert.equal(parsed.server, 'https://api.example:6443');
    const options = await connectionFromSpec(parsed, files({})).requestOptions();
    assert.ok(options.agent instanceof https.Agent, 'a TLS agent');
  });

  test('client-node\'s own key for a token file (token-file) is read as kubectl\'s tokenFile', () => {
    assert.equal(spec(kubeconfig({ server: 'https://x' }, { 'token-file': '/var/run/token' })).tokenFile, '/var/run/token');
  });

  test('YAML as written by kubectl, a tokenFile and basic auth', () => {
    const yaml = [
      'apiVersion: v1', 'kind: Config', 'current-context: c',
      'clusters:', '- name: k', '  cluster:', '    server: https://api.example:443', '    insecure-skip-tls-verify: true',
      'users:', '- name: u', '  user:', '    tokenFile: token', '    username: admin', '    password: pw',
      'contexts:', '- name: c', '  context: {cluster: k, user: u}',
    ].join('\n');
    const parsed = spec(yaml);
    assert.equal(parsed.tokenFile, '/etc/kc/token');
    assert.deepEqual(parsed.basicAuth, { username: 'admin', password: 'pw' });
    assert.equal(parsed.insecureSkipTlsVerify, true);
  });

  test('what only client-node can do is handed to it, naming why', () => {
    for (const [user, cluster, why] of [
      [{ exec: { command: 'aws' } }, {}, 'exec'],
      [{ 'auth-provider': { name: 'oidc' } }, {}, 'auth-provider'],
      [{ as: 'someone' }, {}, 'as'],
    ] as const) {
      const parsed = parse(kubeconfig({ server: 'https://10.0.0.1:6443', ...cluster }, user));
      assert.deepEqual(parsed, { needsClient: `its user sets ${why}` });
    }
    assert.deepEqual(parse(kubeconfig({ server: 'https://10.0.0.1:6443', 'proxy-url': 'socks5://proxy:1080' })), { needsClient: 'its cluster sets proxy-url' });
  });

  test('malformed files are configuration errors naming the setting, the file and the fault', () => {
    rejects(() => parse(''), /cannot load "\/etc\/kc\/config": expected a document, but the input is empty/);
    rejects(() => parse('clusters: [\n  {name: x'), /cannot load "\/etc\/kc\/config": /);
    rejects(() => parse('this is not a kubeconfig'), /"\/etc\/kc\/config" has no current-context \(is it a kubeconfig file\?\)/);
    rejects(() => parse(JSON.stringify({ clusters: [{ name: 'a', cluster: {} }] })), /clusters\[0\]\.cluster\.server is missing/);
    rejects(() => parse(JSON.stringify({ clusters: 'many' })), /clusters is not a list/);
    rejects(() => parse(JSON.stringify({ users: [{ user: {} }] })), /users\[0\]\.name is missing/);
    rejects(() => parse(JSON.stringify({ ...JSON.parse(kubeconfig({ server: 'https://x' })), 'current-context': 'elsewhere' })), /current-context "elsewhere" names no cluster in the file/);
    rejects(() => parse(kubeconfig({ server: 'not a url' })), /the cluster's server "not a url" is not a URL/);
    rejects(() => parse(kubeconfig({ server: 'ftp://x' })), /is neither https:\/\/ nor http:\/\//);
    rejects(() => parse(kubeconfig({ server: 'http://10.0.0.1:8080' })), /plain HTTP, which needs insecure-skip-tls-verify: true/);
    rejects(() => parse(kubeconfig({ server: 'https://x', 'certificate-authority-data': 'not base64!' })), /certificate-authority-data is not base64/);
    rejects(() => parse(kubeconfig({ server: 'https://x', 'certificate-authority': 'ca.crt' })), /certificate-authority "\/etc\/kc\/ca\.crt" cannot be read: ENOENT/);
    rejects(() => parse(kubeconfig({ server: 'https://x' }, { 'client-certificate-data': 'Q0VSVA==' })), /needs both client-certificate and client-key/);
  });
});

describe('inClusterSpec: the pod\'s service account (pure but for its files)', () => {
  const dir = '/sa';
  const read = files({ '/sa/ca.crt': 'CA' });
  test('https to the service host with the CA and the token file; IPv6 in brackets; the plain-HTTP ports as client-node has them', () => {
    assert.deepEqual(inClusterSpec({ KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, read, dir),
      { server: 'https://10.96.0.1:443', insecureSkipTlsVerify: false, tokenFile: '/sa/token', ca: Buffer.from('CA') });
    assert.equal(inClusterSpec({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443' }, read, dir).server, 'https://[fd00::1]:6443');
    assert.equal(inClusterSpec({ KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '8080' }, files({}), dir).server, 'http://10.96.0.1:8080');
  });
  test('without the service variables, or without the CA for https: a configuration error', () => {
    rejects(() => inClusterSpec({}, read, dir), /needs KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT, which are not set/);
    rejects(() => inClusterSpec({ KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, files({}), dir), /the service account's CA \/sa\/ca\.crt cannot be read/);
  });
});

describe('connectionFromSpec: credentials per request', () => {
  test('a token file is read again once TOKEN_REREAD_MS passed (the kubelet rotates it); a failed read keeps the last token', async () => {
    let now = 1_000_000;
    let token = 'first';
    let reads = 0;
    let failing = false;
    const read: ReadFile = () => {
      reads += 1;
      if (failing) throw new Error('EIO');
      return Buffer.from(`${token}\n`);
    };
    const connection = connectionFromSpec({ server: 'https://10.0.0.1:6443', insecureSkipTlsVerify: false, tokenFile: '/sa/token' }, read, () => now);
    const bearer = async () => (await connection.requestOptions()).headers as Record<string, string>;
    assert.equal((await bearer()).Authorization, 'Bearer first');
    token = 'second';
    now += TOKEN_REREAD_MS - 1;
    assert.equal((await bearer()).Authorization, 'Bearer first');
    assert.equal(reads, 1);
    now += 1;
    assert.equal((await bearer()).Authorization, 'Bearer second');
    failing = true;
    now += TOKEN_REREAD_MS;
    assert.equal((await bearer()).Authorization, 'Bearer second');
    assert.equal(reads, 3);
  });

  test('one agent for every request (keep-alive: no new TLS handshake per list page)', async () => {
    const connection = connectionFromSpec({ server: 'https://10.0.0.1:6443', insecureSkipTlsVerify: false, token: 't' }, files({}));
    const [a, b] = [await connection.requestOptions(), await connection.requestOptions()];
    assert.ok(a.agent);
    assert.equal(a.agent, b.agent);
  });
});

describe('loadApiConnection: where the configuration comes from', () => {
  let dir: string;
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'seaway-conn-')); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  test('the given file (--kubeconfig, which config.ts also takes from KUBECONFIG), else ~/.kube/config; a missing file names it', async () => {
    await mkdir(join(dir, 'home', '.kube'), { recursive: true });
    await writeFile(join(dir, 'a'), kubeconfig({ server: 'https://a:6443' }));
    await writeFile(join(dir, 'home', '.kube', 'config'), kubeconfig({ server: 'https://home:6443' }));
    const home = { HOME: join(dir, 'home') };
    assert.equal((await loadApiConnection(join(dir, 'a'), home)).server, 'https://a:6443');
    assert.equal((await loadApiConnection(null, home)).server, 'https://home:6443');
    await assert.rejects(loadApiConnection(join(dir, 'missing'), {}), (error: unknown) => error instanceof ConfigError && /cannot load ".*\/missing": ENOENT/.test(error.message));
    assert.equal((await loadApiConnection(join(dir, 'a'), {})).servedByClient, undefined, 'served natively');
  });

  test('an exec plugin is served by client-node\'s KubeConfig, loaded on demand: the connection says why, and each request runs the plugin', async () => {
    // `true` prints nothing, so the client's exec authenticator fails to read a credential: proof the plugin ran.
    await writeFile(join(dir, 'exec'), kubeconfig({ server: 'https://exec:6443' }, { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'true' } }));
    const connection = await loadApiConnection(join(dir, 'exec'), {});
    assert.equal(connection.server, 'https://exec:6443');
    assert.equal(connection.servedByClient, 'its user sets exec');
    await assert.rejects(connection.requestOptions());
  });

  test('no kubeconfig and no service account: a configuration error naming both', async () => {
    assert.equal(existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token'), false,
      'this test needs a machine that is not a Kubernetes pod (no service account token mounted)');
    await assert.rejects(loadApiConnection(null, { HOME: dir }), (error: unknown) => error instanceof ConfigError
      && /not set, and there is neither a service account token at \/var\/run\/secrets\/kubernetes\.io\/serviceaccount\/token nor ~\/\.kube\/config/.test(error.message));
  });
});

describe('apiRequest against a local HTTP server', () => {
  let server: Server;
  let url: string;
  const seen: Array<{ method?: string; url?: string; headers: IncomingMessage['headers']; body: string }> = [];
  let answer: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end('{}');
  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => { body += chunk; });
      req.on('end', () => { seen.push({ method: req.method, url: req.url, headers: req.headers, body }); answer(req, res); });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const connection = () => connectionFromSpec({ server: url, insecureSkipTlsVerify: true, token: 'tok' }, files({}));
  const options = { userAgent: 'seaway/test', timeoutMs: 2000, what: 'the test call' };

  test('sends the method, path, query, JSON body, token and User-Agent; parses the answer', async () => {
    answer = (_req, res) => res.end('{"kind":"Thing","n":1}');
    const result = await apiRequest(connection(), { method: 'POST', path: '/apis/x/v1/things', query: { fieldManager: 'seaway', skipped: undefined }, body: { a: 1 } }, options);
    assert.deepEqual(result, { kind: 'Thing', n: 1 });
    const last = seen.at(-1)!;
    assert.deepEqual([last.method, last.url, last.body], ['POST', '/apis/x/v1/things?fieldManager=seaway', '{"a":1}']);
    assert.deepEqual([last.headers.authorization, last.headers['user-agent'], last.headers['content-type']], ['Bearer tok', 'seaway/test', 'application/json']);
  });

  test('an error answer is an ApiStatusError with the Status\'s reason and message and the Retry-After', async () => {
    answer = (_req, res) => { res.writeHead(429, { 'Retry-After': '7' }); res.end(JSON.stringify({ kind: 'Status', code: 429, reason: 'TooManyRequests', message: 'slow down' })); };
    await assert.rejects(apiRequest(connection(), { method: 'GET', path: '/api/v1/nodes' }, options), (error: unknown) => {
      assert.ok(error instanceof ApiStatusError);
      assert.deepEqual([error.statusCode, error.reason, error.message, error.retryAfterMs], [429, 'TooManyRequests', 'slow down', 7000]);
      return true;
    });
    answer = (_req, res) => { res.writeHead(502); res.end('<html>bad gateway</html>'); };
    await assert.rejects(apiRequest(connection(), { method: 'GET', path: '/api/v1/nodes' }, options), (error: unknown) => error instanceof ApiStatusError && error.statusCode === 502 && error.message === 'HTTP 502');
  });

  test('asks for gzip and reads a gzip-compressed answer (kube-apiserver compresses large lists)', async () => {
    const items = Array.from({ length: 2000 }, (_, i) => ({ metadata: { name: `node-${i}` } }));
    answer = (_req, res) => { res.writeHead(200, { 'Content-Encoding': 'gzip', 'Content-Type': 'application/json' }); res.end(gzipSync(JSON.stringify({ items }))); };
    const result = await apiRequest(connection(), { method: 'GET', path: '/api/v1/nodes' }, options) as { items: unknown[] };
    assert.equal(result.items.length, 2000);
    assert.equal(seen.at(-1)!.headers['accept-encoding'], 'gzip');
    answer = (_req, res) => { res.writeHead(200, { 'Content-Encoding': 'gzip' }); res.end('not gzip at all'); };
    await assert.rejects(apiRequest(connection(), { method: 'GET', path: '/x' }, options), /the answer to the test call is not valid gzip/);
  });

  test('an error\'s body is read only so far: a huge error page is cut, its code still tells', async () => {
    answer = (_req, res) => { res.writeHead(503); res.end('x'.repeat(1024 * 1024)); };
    await assert.rejects(apiRequest(connection(), { method: 'GET', path: '/x' }, options), (error: unknown) => error instanceof ApiStatusError && error.statusCode === 503);
  });

  test('a 200 that is not JSON is an error naming the call; an empty 200 is undefined', async () => {
    answer = (_req, res) => res.end('<html>');
    await assert.rejects(apiRequest(connection(), { method: 'GET', path: '/x' }, options), /the answer to the test call is not JSON/);
    answer = (_req, res) => res.end('');
    assert.equal(await apiRequest(connection(), { method: 'DELETE', path: '/x' }, options), undefined);
  });

  test('a server that never answers is an ApiTimeoutError at the deadline; the caller\'s abort ends it with the caller\'s reason', async () => {
    answer = () => undefined;
    await assert.rejects(apiRequest(connection(), { method: 'GET', path: '/slow' }, { ...options, timeoutMs: 100 }), (error: unknown) => error instanceof ApiTimeoutError && /no answer to the test call within 100 ms/.test(error.message));
    const stop = new AbortController();
    const pending = apiRequest(connection(), { method: 'GET', path: '/slow' }, { ...options, signal: stop.signal });
    stop.abort(new Error('shutting down'));
    await assert.rejects(pending, /shutting down/);
  });

  test('callUrl joins the server and the path and drops undefined query values', () => {
    assert.equal(callUrl('https://h:6443', { path: '/api/v1/nodes', query: { limit: '500', continue: undefined } }).href, 'https://h:6443/api/v1/nodes?limit=500');
  });
});

describe('apiRequest on a pooled socket the server closed', () => {
  // The server resets the connection of chosen requests before answering: what a client sees when
  // the server closed a keep-alive socket just as a request went out on it.
  let server: Server;
  let url: string;
  let connections = 0;
  let arrivals: Array<{ method?: string; reused: boolean; reset: boolean }> = [];
  let reset: (reused: boolean) => boolean = () => false;
  before(async () => {
    server = createServer((req, res) => {
      const served = (req.socket as { served?: number } & typeof req.socket);
      const reused = (served.served ?? 0) > 0;
      served.served = (served.served ?? 0) + 1;
      const resetting = reset(reused);
      arrivals.push({ method: req.method, reused, reset: resetting });
      req.resume();
      if (resetting) req.socket.resetAndDestroy();
      else res.end('{"ok":true}');
    });
    server.on('connection', () => { connections++; });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const options = { userAgent: 'seaway/test', timeoutMs: 2000, what: 'the test call' };
  /** A connection whose first GET left one socket in its pool; counters start after it. */
  async function warmed() {
    const connection = connectionFromSpec({ server: url, insecureSkipTlsVerify: true, token: 'tok' }, files({}));
    reset = () => false;
    assert.deepEqual(await apiRequest(connection, { method: 'GET', path: '/warm' }, options), { ok: true });
    arrivals = [];
    connections = 0;
    return connection;
  }
  const isReset = (error: unknown) => (error as NodeJS.ErrnoException).code === 'ECONNRESET';

  test('a GET reset on a reused socket is sent once more, on a new socket, and answers', async () => {
    const connection = await warmed();
    reset = (reused) => reused;
    assert.deepEqual(await apiRequest(connection, { method: 'GET', path: '/api/v1/nodes' }, options), { ok: true });
    assert.deepEqual(arrivals, [{ method: 'GET', reused: true, reset: true }, { method: 'GET', reused: false, reset: false }]);
    assert.equal(connections, 1, 'the second try opened a socket of its own');
  });

  test('a write reset on a reused socket is not sent again: the server may have acted on it', async () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE'] as const) {
      const connection = await warmed();
      reset = (reused) => reused;
      await assert.rejects(apiRequest(connection, { method, path: '/apis/x/v1/things', body: { a: 1 } }, options), isReset, method);
      assert.deepEqual(arrivals.map((a) => a.method), [method]);
    }
  });

  test('a GET is sent at most twice, and a reset on a fresh socket is not retried at all', async () => {
    let connection = await warmed();
    reset = () => true;
    await assert.rejects(apiRequest(connection, { method: 'GET', path: '/x' }, options), isReset);
    assert.deepEqual(arrivals, [{ method: 'GET', reused: true, reset: true }, { method: 'GET', reused: false, reset: true }]);

    connection = connectionFromSpec({ server: url, insecureSkipTlsVerify: true, token: 'tok' }, files({}));
    arrivals = [];
    await assert.rejects(apiRequest(connection, { method: 'GET', path: '/x' }, options), isReset);
    assert.deepEqual(arrivals, [{ method: 'GET', reused: false, reset: true }]);
  });
});
