/**
 * How seaway reaches its API server: the server's URL and, per request, the credentials, CA and a
 * keep-alive agent. The route agent loads this itself from the kubeconfig or the pod's service account
 * (`loadApiConnection`) instead of loading @kubernetes/client-node's KubeConfig, which pulls in the
 * whole generated client (all API classes and models, undici): about 25 MiB of resident memory on
 * every node for a handful of requests (research/deploy-and-footprint.md section 5). A kubeconfig that
 * needs what only the client does (exec or auth-provider credential plugins, impersonation, a proxy)
 * is handed to the client's KubeConfig after all, loaded on demand; the connection says why.
 *
 * Where it differs from client-node, on purpose: `*-data` wins over the file it replaces (as
 * client-go and kubectl), both `tokenFile` (kubectl's key) and `token-file` (client-node's) are read,
 * the in-cluster plain-HTTP ports work, and TLS is verified whatever NODE_TLS_REJECT_UNAUTHORIZED says.
 *
 * The kubeconfig is configuration: a file that is missing, unreadable or names no cluster, or no file
 * and no service account, is a ConfigError naming the setting (exit 2, before anything is touched).
 */
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { dirname, isAbsolute, join } from 'node:path';
import { load as loadYaml } from 'js-yaml';
import { ConfigError } from '../config.ts';
import { isRecord } from '../model/compare.ts';

export interface ApiConnection {
  /** The API server's base URL, without a trailing slash. */
  readonly server: string;
  /** What each request needs, as of now: the agent (TLS trust and client certificate) and headers (Authorization). */
  requestOptions(): Promise<https.RequestOptions>;
  /** Set when @kubernetes/client-node serves this connection: why (for the start-up log: it costs memory). */
  readonly servedByClient?: string;
}

export const KUBECONFIG_SETTING = '--kubeconfig (env SEAWAY_KUBECONFIG or KUBECONFIG)';
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
export const SERVICE_ACCOUNT_TOKEN = join(SERVICE_ACCOUNT_DIR, 'token');
/** A bound service account token is rotated by the kubelet (hourly by default): read it again this often. */
export const TOKEN_REREAD_MS = 60_000;

/** What the connection is made of (pure data, so the parsing is tested without files or sockets). */
export interface ConnectionSpec {
  server: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  insecureSkipTlsVerify: boolean;
  tlsServerName?: string;
  /** A fixed bearer token, or a file holding one (read again every TOKEN_REREAD_MS). */
  token?: string;
  tokenFile?: string;
  basicAuth?: { username: string; password: string };
}

/** Where a spec's files are read from (injected in tests). */
export type ReadFile = (path: string) => Buffer;

/** A kubeconfig that only @kubernetes/client-node can serve, and why. */
export interface NeedsClient {
  needsClient: string;
}

const problem = (detail: string) => new ConfigError([`${KUBECONFIG_SETTING}: ${detail}`]);
const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

function named(list: unknown, name: string, field: string): Record<string, unknown> | null {
  if (!Array.isArray(list)) return null;
  const entry = list.find((item) => isRecord(item) && item.name === name);
  return entry !== undefined && isRecord(entry[field]) ? entry[field] : null;
}

/** Every entry of a kubeconfig list has a name and its body (client-node refuses the file otherwise; so does this). */
function checkEntries(config: Record<string, unknown>, list: 'clusters' | 'users' | 'contexts', body: string): void {
  const entries = config[list];
  if (entries === undefined || entries === null) return;
  if (!Array.isArray(entries)) throw new Error(`${list} is not a list`);
  entries.forEach((entry, index) => {
    if (!isRecord(entry) || text(entry.name) === undefined) throw new Error(`${list}[${index}].name is missing`);
    if (!isRecord(entry[body])) throw new Error(`${list}[${index}].${body} is missing`);
    if (list === 'clusters' && text((entry[body] as Record<string, unknown>).server) === undefined) throw new Error(`${list}[${index}].${body}.server is missing`);
  });
}

/**
 * A kubeconfig's current context as a ConnectionSpec (pure but for `read`, which reads the files it
 * names, relative to the kubeconfig's directory). `where` names the file in messages.
 */
export function parseKubeconfig(textOfFile: string, path: string, where: string, read: ReadFile): ConnectionSpec | NeedsClient {
  let config: unknown;
  try {
    config = loadYaml(textOfFile);
    if (config === undefined) throw new Error('expected a document, but the input is empty');
    if (isRecord(config)) {
      checkEntries(config, 'clusters', 'cluster');
      checkEntries(config, 'users', 'user');
      checkEntries(config, 'contexts', 'context');
    }
  } catch (error) {
    throw problem(`cannot load "${path}": ${(error instanceof Error ? error.message : String(error)).split('\n')[0]}`);
  }
  const contextName = isRecord(config) ? text(config['current-context']) : undefined;
  if (!isRecord(config) || contextName === undefined) throw problem(`${where} has no current-context (is it a kubeconfig file?)`);
  const context = named(config.contexts, contextName, 'context');
  const cluster = context ? named(config.clusters, String(context.cluster ?? ''), 'cluster') : null;
  if (cluster === null) throw problem(`${where}: current-context "${contextName}" names no cluster in the file`);
  const user = (context ? named(config.users, String(context.user ?? ''), 'user') : null) ?? {};
  const plugin = ['exec', 'auth-provider', 'as', 'as-groups', 'as-uid', 'as-user-extra'].find((field) => user[field] !== undefined && user[field] !== null);
  if (plugin) return { needsClient: `its user sets ${plugin}` };
  if (text(cluster['proxy-url'])) return { needsClient: 'its cluster sets proxy-url' };

  const base = dirname(path);
  const file = (value: unknown, setting: string): Buffer | undefined => {
    const name = text(value);
    if (name === undefined) return undefined;
    const full = isAbsolute(name) ? name : join(base, name);
    try {
      return read(full);
    } catch (error) {
      throw problem(`${where}: ${setting} "${full}" cannot be read: ${(error as Error).message}`);
    }
  };
  const data = (value: unknown, setting: string): Buffer | undefined => {
    const encoded = text(value);
    if (encoded === undefined) return undefined;
    if (!/^[A-Za-z0-9+/=\s]+$/.test(encoded)) throw problem(`${where}: ${setting} is not base64`);
    return Buffer.from(encoded, 'base64');
  };
  const spec: ConnectionSpec = { server: String(cluster.server), insecureSkipTlsVerify: cluster['insecure-skip-tls-verify'] === true };
  const ca = data(cluster['certificate-authority-data'], 'certificate-authority-data') ?? file(cluster['certificate-authority'], 'certificate-authority');
  const cert = data(user['client-certificate-data'], 'client-certificate-data') ?? file(user['client-certificate'], 'client-certificate');
  const key = data(user['client-key-data'], 'client-key-data') ?? file(user['client-key'], 'client-key');
  if (ca) spec.ca = ca;
  if (cert) spec.cert = cert;
  if (key) spec.key = key;
  if (text(cluster['tls-server-name'])) spec.tlsServerName = String(cluster['tls-server-name']);
  const tokenFile = text(user.tokenFile) ?? text(user['token-file']);
  if (text(user.token)) spec.token = String(user.token);
  else if (tokenFile) spec.tokenFile = isAbsolute(tokenFile) ? tokenFile : join(base, tokenFile);
  if (text(user.username)) spec.basicAuth = { username: String(user.username), password: typeof user.password === 'string' ? user.password : '' };
  return checkedSpec(spec, where);
}

function checkedSpec(spec: ConnectionSpec, where: string): ConnectionSpec {
  let url: URL;
  try {
    url = new URL(spec.server);
  } catch {
    throw problem(`${where}: the cluster's server "${spec.server}" is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw problem(`${where}: the cluster's server "${spec.server}" is neither https:// nor http://`);
  // As @kubernetes/client-node: plain HTTP only when the kubeconfig says it does not want TLS checked.
  if (url.protocol === 'http:' && !spec.insecureSkipTlsVerify) throw problem(`${where}: the server "${spec.server}" is plain HTTP, which needs insecure-skip-tls-verify: true`);
  if ((spec.cert === undefined) !== (spec.key === undefined)) throw problem(`${where}: a client certificate needs both client-certificate and client-key`);
  // The URL's own spelling (lower-case scheme and host), without a trailing slash: paths are appended to it.
  return { ...spec, server: url.href.replace(/\/+$/, '') };
}

/** The pod's service account, as client-node's loadFromCluster reads it (pure). */
export function inClusterSpec(env: Readonly<Record<string, string | undefined>>, read: ReadFile, dir = SERVICE_ACCOUNT_DIR): ConnectionSpec {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) throw problem('not set, and the in-cluster configuration needs KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT, which are not set');
  const scheme = ['80', '8080', '8001'].includes(port) ? 'http' : 'https';
  const spec: ConnectionSpec = { server: `${scheme}://${isIP(host) === 6 ? `[${host}]` : host}:${port}`, insecureSkipTlsVerify: false, tokenFile: join(dir, 'token') };
  try {
    spec.ca = read(join(dir, 'ca.crt'));
  } catch (error) {
    if (scheme === 'https') throw problem(`not set, and the service account's CA ${join(dir, 'ca.crt')} cannot be read: ${(error as Error).message}`);
  }
  return spec;
}

/** The connection a spec describes: one keep-alive agent for all requests (watches included), the token read fresh. */
export function connectionFromSpec(spec: ConnectionSpec, read: ReadFile, now: () => number = Date.now): ApiConnection {
  const tls = new URL(spec.server).protocol === 'https:';
  const agent = tls
    ? new https.Agent({
      keepAlive: true,
      ...(spec.ca ? { ca: spec.ca } : {}),
      ...(spec.cert ? { cert: spec.cert } : {}),
      ...(spec.key ? { key: spec.key } : {}),
      ...(spec.tlsServerName ? { servername: spec.tlsServerName } : {}),
      rejectUnauthorized: !spec.insecureSkipTlsVerify,
    })
    : new http.Agent({ keepAlive: true });
  let token: { value: string; readAt: number } | undefined;
  const bearer = (): string | undefined => {
    if (spec.token) return spec.token;
    if (!spec.tokenFile) return undefined;
    if (token === undefined || now() - token.readAt >= TOKEN_REREAD_MS || now() < token.readAt) {
      // A failed read keeps the last token: it may still be valid, and the API server says if not.
      try {
        token = { value: read(spec.tokenFile).toString('utf8').trim(), readAt: now() };
      } catch (error) {
        if (token === undefined) throw new Error(`cannot read the token file ${spec.tokenFile}: ${(error as Error).message}`);
      }
    }
    return token.value;
  };
  return {
    server: spec.server,
    async requestOptions() {
      const headers: Record<string, string> = {};
      const value = bearer();
      if (value) headers.Authorization = `Bearer ${value}`;
      return { agent, headers, ...(spec.basicAuth ? { auth: `${spec.basicAuth.username}:${spec.basicAuth.password}` } : {}) };
    },
  };
}

/** What kubeConfigConnection needs of client-node's KubeConfig. */
interface ClientKubeConfig {
  getCurrentCluster(): { server: string; proxyUrl?: string } | null;
  applyToHTTPSOptions(options: https.RequestOptions): Promise<void>;
}

/**
 * client-node's KubeConfig as a connection (the gateway's, the broker's, and kubeconfigs only it can
 * serve): its credentials per request (an exec plugin's token is fetched again as it expires), but
 * on a keep-alive agent made once from the TLS settings it applies, where its own agent would do a
 * TLS handshake per request. Through a proxy its own agent is kept.
 */
export function kubeConfigConnection(kubeConfig: ClientKubeConfig, servedByClient?: string): ApiConnection {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig names no current cluster');
  const tls = new URL(cluster.server).protocol === 'https:';
  let agent: http.Agent | undefined;
  return {
    server: cluster.server.replace(/\/+$/, ''),
    ...(servedByClient !== undefined ? { servedByClient } : {}),
    async requestOptions() {
      const options: https.RequestOptions = {};
      await kubeConfig.applyToHTTPSOptions(options);
      if (cluster.proxyUrl) return options;
      agent ??= tls
        ? new https.Agent({
          keepAlive: true,
          ...Object.fromEntries((['ca', 'cert', 'key', 'pfx', 'passphrase', 'servername', 'rejectUnauthorized'] as const)
            .filter((key) => options[key] !== undefined).map((key) => [key, options[key]])),
        })
        : new http.Agent({ keepAlive: true });
      return { ...options, agent };
    },
  };
}

/**
 * The route agent's connection: `path` (--kubeconfig, which config.ts also reads from KUBECONFIG) if
 * set; otherwise ~/.kube/config, then the pod's service account, in client-node's order.
 */
export async function loadApiConnection(path: string | null, env: Readonly<Record<string, string | undefined>>, read: ReadFile = (file) => readFileSync(file)): Promise<ApiConnection> {
  const home = env.HOME ? join(env.HOME, '.kube', 'config') : undefined;
  const file = path ?? (home !== undefined && existsSync(home) ? home : undefined);
  if (file === undefined) {
    if (!existsSync(SERVICE_ACCOUNT_TOKEN)) throw problem(`not set, and there is neither a service account token at ${SERVICE_ACCOUNT_TOKEN} nor ~/.kube/config`);
    return connectionFromSpec(inClusterSpec(env, read), read);
  }
  const where = path !== null ? `"${file}"` : '~/.kube/config';
  let contents: string;
  try {
    contents = read(file).toString('utf8');
  } catch (error) {
    throw problem(`cannot load "${file}": ${(error as Error).message}`);
  }
  const parsed = parseKubeconfig(contents, file, where, read);
  if ('needsClient' in parsed) {
    const { loadKubeConfigChecked } = await import('./kubeconfig.ts');
    return kubeConfigConnection(loadKubeConfigChecked(path, env), parsed.needsClient);
  }
  return connectionFromSpec(parsed, read);
}
