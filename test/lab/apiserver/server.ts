import { rm } from 'node:fs/promises';
import { load } from 'js-yaml';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { handleAdmin } from './admin.ts';
import { createAccessControl } from './access.ts';
import { openApi } from './openapi.ts';
import { AuditLog, type AuditEntry } from './audit.ts';
import { mediaType, parseJson, readBody } from './body.ts';
import { discoveryDocument } from './discovery.ts';
import { Faults } from './faults.ts';
import { CrdController } from './crd-controller.ts';
import { parseDeleteOptions } from './delete-options.ts';
import { GarbageCollector } from './garbage-collector.ts';
import { PodExpiry } from './pod-expiry.ts';
import { loadCrdManifests, SUBMARINER_CRDS_FILE } from './crd-files.ts';
import { writeContextFor, type WriteContext } from './custom-resources.ts';
import { warningHeaderValue } from './field-errors.ts';
import { ObjectService, objectFilter, patchContentTypes } from './objects.ts';
import { decodeContinue, limitParam, pageOf } from './pagination.ts';
import { defaultResources, resourceKey, ResourceRegistry, type ResourceType } from './resources.ts';
import { routeResource, type ResourceRoute } from './routes.ts';
import { ApiError, errors, toApiError } from './status.ts';
import { Store } from './store.ts';
import { WatchHub } from './watch.ts';
import { toTable, wantsTable } from './table.ts';

export interface ApiServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Also listen on this unix socket (a stale socket file is replaced). */
  socketPath?: string;
  /** Serve HTTPS on the TCP port with this certificate and key (PEM); plain HTTP without. The unix socket stays plain. */
  tls?: { cert: string; key: string };
  /** With tls: also serve HTTPS on this unix socket (what the lab forwards the root namespace's loopback to). */
  tlsSocketPath?: string;
  /** How many changes are kept for watches to resume from (default 50,000). */
  historyLimit?: number;
  /** Largest accepted request body (default 3 MiB, as the Kubernetes API server). */
  maxBodyBytes?: number;
  /** Server-side watch timeout when the client sends no timeoutSeconds (default 1800). */
  watchTimeoutSeconds?: number;
  /** How often watches with allowWatchBookmarks get a BOOKMARK (default 5000 ms). */
  bookmarkIntervalMs?: number;
  /** Namespaces that exist from the start (default: default, kube-system, kube-public, kube-node-lease). */
  namespaces?: string[];
  /** The built-in kinds (default: defaultResources()); customresourcedefinitions must be among them. */
  resources?: ResourceType[];
  /**
   * CustomResourceDefinition manifests (decoded YAML/JSON) created at start, as an installer would apply them:
   * their kinds are served from the start and the CRDs are objects like any (listable, deletable). Default:
   * Submariner's four CRDs from manifests/01-crds.yaml (loadCrdManifests reads a file or a directory); [] for none.
   */
  crds?: unknown[];
  /** One line per request and lifecycle event; silent when absent. */
  log?: (line: string) => void;
  /**
   * Authenticate and authorize requests on the TCP port and the TLS socket as a cluster does (bearer
   * tokens issued through /admin/tokens, RBAC over the stored roles and bindings); the plain unix socket
   * is the lab's trusted administrator. Without it every request is served, as a single-user test server.
   */
  access?: { anonymous?: boolean };
  /**
   * Remove a terminating Pod once its deletionTimestamp has passed, as its kubelet would (pod-expiry.ts). Default
   * true; false leaves such Pods terminating until a DELETE with grace 0 (a server without kubelets).
   */
  expireTerminatingPods?: boolean;
}

export interface RunningApiServer {
  url: string;
  socketPath?: string;
  close(): Promise<void>;
}

const jsonTypes = ['application/json'];
const applyPatchType = 'application/apply-patch+yaml';
const patchTypes = [...Object.keys(patchContentTypes), applyPatchType];
/** Custom resources have no strategic-merge-patch: a real server answers 415 for it. */
const customResourcePatchTypes = patchTypes.filter((t) => t !== 'application/strategic-merge-patch+json');

/** An apply configuration: YAML (JSON is YAML too); one document. */
function parseYaml(text: string): unknown {
  if (text.trim() === '') throw errors.badRequest('the request body is empty');
  try {
    return load(text);
  } catch (error) {
    throw errors.badRequest(`error decoding YAML: ${(error as Error).message}`);
  }
}

function sendJson(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function flag(value: string | null): boolean {
  return value === 'true' || value === '1';
}

function versionParam(url: URL): number | undefined {
  const value = url.searchParams.get('resourceVersion');
  if (value === null || value === '' || value === '0') return undefined;
  if (!/^\d+$/.test(value)) throw errors.badRequest(`invalid resourceVersion "${value}": must be a decimal number`);
  return Number(value);
}

function timeoutParam(url: URL, fallbackSeconds: number): number {
  const value = url.searchParams.get('timeoutSeconds');
  if (value === null || value === '') return fallbackSeconds * 1000;
  if (!/^\d+$/.test(value)) throw errors.badRequest(`invalid timeoutSeconds "${value}"`);
  return Number(value) * 1000;
}

/**
 * Runs a write and puts one `Warning: 299 - "<text>"` header per warning it recorded on the response, whether
 * the write succeeds or fails (the API server's warning recorder writes them to the response as they come).
 */
function withWarnings<T>(res: ServerResponse, context: WriteContext, write: () => T): T {
  try {
    return write();
  } finally {
    if (context.warnings.length > 0 && !res.headersSent) res.setHeader('Warning', context.warnings.map(warningHeaderValue));
  }
}

/** Starts a Kubernetes-wire-compatible API server (plain HTTP) holding its objects in memory. */
export async function startApiServer(options: ApiServerOptions = {}): Promise<RunningApiServer> {
  const host = options.host ?? '127.0.0.1';
  const maxBodyBytes = options.maxBodyBytes ?? 3 * 1024 * 1024;
  const watchTimeoutSeconds = options.watchTimeoutSeconds ?? 1800;
  const bookmarkIntervalMs = options.bookmarkIntervalMs ?? 5000;
  const log = options.log ?? (() => {});
  const registry = new ResourceRegistry(options.resources ?? defaultResources());
  const store = new Store(options.historyLimit ?? 50_000);
  const watches = new WatchHub(store);
  const crds = new CrdController(store, registry, watches, log);
  const objects = new ObjectService(store, registry, undefined, (resource) => (resource === crds.resource ? crds.hooks : undefined));
  // Both follow the store from its first object on (namespaces and CRDs are created below).
  const collector = new GarbageCollector(store, registry, objects, { log });
  const podsResource = registry.lookup('', 'v1', 'pods');
  const podExpiry = podsResource && options.expireTerminatingPods !== false ? new PodExpiry(store, podsResource, objects, { log }) : undefined;
  const faults = new Faults();
  const audit = new AuditLog();
  const rbac = (plural: string) => registry.lookup('rbac.authorization.k8s.io', 'v1', plural);
  const storedRbac = (plural: string) => {
    const resource = rbac(plural);
    return resource ? objects.list(resource, () => true).items : [];
  };
  // The compiled policy is cached until a role or binding is written, not rebuilt after every write of any kind.
  let rbacWrites = 0;
  for (const plural of ['roles', 'clusterroles', 'rolebindings', 'clusterrolebindings']) {
    const resource = rbac(plural);
    if (resource) store.subscribe(resourceKey(resource), () => { rbacWrites++; });
  }
  const access = options.access ? createAccessControl({
    rbacObjects: () => ({ roles: storedRbac('roles'), clusterRoles: storedRbac('clusterroles'), roleBindings: storedRbac('rolebindings'), clusterRoleBindings: storedRbac('clusterrolebindings') }),
    version: () => rbacWrites,
    ...(options.access.anonymous === undefined ? {} : { anonymous: options.access.anonymous }),
  }) : null;
  for (const ns of options.namespaces ?? ['default', 'kube-system', 'kube-public', 'kube-node-lease']) objects.ensureNamespace(ns);
  for (const manifest of options.crds ?? loadCrdManifests(SUBMARINER_CRDS_FILE)) objects.create(crds.resource, undefined, manifest);
  let serverAddress = host;

  async function bodyOf(req: IncomingMessage, accepted: string[], required: boolean): Promise<unknown> {
    const type = mediaType(req);
    const text = await readBody(req, maxBodyBytes);
    if (text.trim() === '') {
      if (required) throw errors.badRequest('the request body is empty');
      return undefined;
    }
    if (type !== '' && !accepted.includes(type)) throw errors.unsupportedMediaType(type, accepted);
    return parseJson(text);
  }

  async function serveResource(req: IncomingMessage, res: ServerResponse, url: URL, route: ResourceRoute, entry: AuditEntry): Promise<void> {
    const { resource, namespace, name = '', subresource } = route;
    if (url.searchParams.has('dryRun')) throw errors.badRequest('dryRun is not supported by this API server');
    const selectors = { labelSelector: url.searchParams.get('labelSelector'), fieldSelector: url.searchParams.get('fieldSelector') };
    // `kubectl get` asks for server-side printing.
    const table = wantsTable(req.headers.accept);
    switch (route.verb) {
      case 'list': {
        const kind = { kind: `${resource.kind}List`, apiVersion: resource.group ? `${resource.group}/${resource.version}` : resource.version };
        const continueText = url.searchParams.get('continue');
        const rvText = url.searchParams.get('resourceVersion');
        versionParam(url);
        if (continueText && rvText) throw errors.badRequest('specifying resource version is not allowed when using continue');
        const limit = limitParam(url.searchParams.get('limit'));
        const filter = objectFilter(resource, namespace, selectors);
        // A resourceVersion (0 included) is served from the watch cache, which returns the whole list; a
        // consistent read (no resourceVersion) honours limit and continue.
        if (limit === undefined || (rvText !== null && rvText !== '')) {
          if (continueText) throw errors.badRequest('continue needs a limit');
          const list = objects.list(resource, filter, namespace);
          if (table) return sendJson(res, 200, toTable(resource.kind, list.items, { resourceVersion: list.resourceVersion }, Date.now()));
          return sendJson(res, 200, { ...kind, metadata: { resourceVersion: list.resourceVersion }, items: list.items });
        }
        const token = continueText ? decodeContinue(continueText) : undefined;
        const rv = token?.rv ?? store.resourceVersion;
        const atRv = token ? store.listAt(resourceKey(resource), namespace, rv) : store.list(resourceKey(resource), namespace);
        if (!Array.isArray(atRv)) throw errors.continueExpired();
        const page = pageOf(atRv.filter(filter), rv, limit, token?.start, Boolean(selectors.labelSelector || selectors.fieldSelector));
        const metadata: Record<string, unknown> = { resourceVersion: String(rv) };
        if (page.continueToken) metadata.continue = page.continueToken;
        if (page.remainingItemCount !== undefined) metadata.remainingItemCount = page.remainingItemCount;
        if (table) return sendJson(res, 200, toTable(resource.kind, page.items, metadata, Date.now()));
        return sendJson(res, 200, { ...kind, metadata, items: page.items });
      }
      case 'watch': {
        const fieldSelector = route.name === undefined ? selectors.fieldSelector
          : [selectors.fieldSelector, `metadata.name=${route.name}`].filter(Boolean).join(',');
        const filter = objectFilter(resource, namespace, { ...selectors, fieldSelector });
        const since = versionParam(url);
        const timeoutMs = timeoutParam(url, watchTimeoutSeconds);
        // The stream starts with a 200 whatever follows (an ERROR event included).
        entry.code = 200;
        return watches.serve(res, {
          resource, namespace, filter, since, timeoutMs, bookmarkIntervalMs, maxBufferedBytes: 64 * 1024 * 1024,
          allowBookmarks: flag(url.searchParams.get('allowWatchBookmarks')),
          sendInitialEvents: flag(url.searchParams.get('sendInitialEvents')),
        }, { remote: entry.remote, userAgent: entry.userAgent, path: entry.path, since: entry.time });
      }
      case 'get': {
        const object = objects.get(resource, namespace, name, subresource);
        if (table && !subresource) return sendJson(res, 200, toTable(resource.kind, [object], {}, Date.now()));
        return sendJson(res, 200, object);
      }
      case 'create': {
        const body = await bodyOf(req, jsonTypes, true);
        const context = writeContextFor('create', url.searchParams, entry.userAgent);
        const created = withWarnings(res, context, () => objects.create(resource, namespace, body, context));
        return sendJson(res, 201, created);
      }
      case 'update': {
        const body = await bodyOf(req, jsonTypes, true);
        const context = writeContextFor('update', url.searchParams, entry.userAgent);
        const result = withWarnings(res, context, () => objects.update(resource, namespace, name, body, subresource, context));
        return sendJson(res, result.created ? 201 : 200, result.object);
      }
      case 'patch': {
        const type = mediaType(req);
        const accepted = resource.schema ? customResourcePatchTypes : patchTypes;
        if (type === applyPatchType) {
          const context = writeContextFor('apply', url.searchParams, entry.userAgent);
          const config = parseYaml(await readBody(req, maxBodyBytes));
          const result = withWarnings(res, context, () => objects.apply(resource, namespace, name, config, subresource, context));
          return sendJson(res, result.created ? 201 : 200, result.object);
        }
        const patchType = patchContentTypes[type];
        if (!patchType || !accepted.includes(type)) {
          await readBody(req, maxBodyBytes);
          throw errors.unsupportedMediaType(type, accepted);
        }
        const body = await bodyOf(req, [type], true);
        const context = writeContextFor('patch', url.searchParams, entry.userAgent);
        const patched = withWarnings(res, context, () => objects.patch(resource, namespace, name, patchType, body, subresource, context));
        return sendJson(res, 200, patched);
      }
      case 'delete': {
        const deleteOptions = parseDeleteOptions(await bodyOf(req, jsonTypes, false), url.searchParams);
        const { object, removed } = objects.deleteWithOptions(resource, namespace, name, deleteOptions);
        // 202 only where the API server sends it: not deleted yet, and the legacy orphanDependents=false asked for.
        return sendJson(res, !removed && deleteOptions.orphanDependents === false ? 202 : 200, object);
      }
      case 'deletecollection': {
        const deleteOptions = parseDeleteOptions(await bodyOf(req, jsonTypes, false), url.searchParams);
        const deleted = objects.deleteCollection(resource, namespace, objectFilter(resource, namespace, selectors), deleteOptions);
        return sendJson(res, 200, {
          kind: `${resource.kind}List`, apiVersion: resource.group ? `${resource.group}/${resource.version}` : resource.version,
          metadata: { resourceVersion: String(store.resourceVersion) }, items: deleted,
        });
      }
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse, trusted: boolean): Promise<void> {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://apiserver');
    const path = url.pathname;
    // The lab's fault and token API is the trusted socket's alone once access is checked; a real server has none.
    if ((path === '/admin' || path.startsWith('/admin/')) && (trusted || access === null)) {
      const body = method === 'POST' ? await bodyOf(req, jsonTypes, false) : undefined;
      return sendJson(res, 200, handleAdmin(method, path, url, body, { store, watches, faults, audit, tokens: access?.tokens ?? null }));
    }
    const route = path.startsWith('/api/') || path.startsWith('/apis/') ? routeResource(method, url, registry) : undefined;
    const request = { method, verb: route && !(route instanceof ApiError) ? route.verb : method.toLowerCase(), path: path + url.search };
    const entry = audit.record({
      time: new Date().toISOString(), remote: req.socket.remoteAddress ?? 'unix', userAgent: req.headers['user-agent'] ?? '',
      method, verb: request.verb, path: request.path,
    });
    res.on('close', () => { entry.code = res.headersSent ? res.statusCode : null; });
    if (access) {
      const admitted = access.admit({ method, target: req.url ?? '/', headers: req.headers }, trusted);
      entry.user = admitted.user.name;
      entry.decision = admitted.audit.decision;
      if (admitted.audit.rule) entry.rule = admitted.audit.rule;
      if (admitted.refusal) throw admitted.refusal;
    }
    await faults.gate(request);
    const failure = faults.takeFailure(request);
    if (failure) throw failure;

    if (route && !(route instanceof ApiError)) return serveResource(req, res, url, route, entry);
    if (['/healthz', '/readyz', '/livez'].includes(path)) {
      if (method !== 'GET' && method !== 'HEAD') throw errors.methodNotAllowed(method, path);
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('ok');
      return;
    }
    const openapi = openApi(path, registry);
    if (openapi !== undefined && method !== 'GET') throw errors.methodNotAllowed(method, path);
    if (openapi !== undefined) return sendJson(res, 200, openapi);
    const document = discoveryDocument(path, registry, serverAddress);
    if (document !== undefined && method !== 'GET') throw errors.methodNotAllowed(method, path);
    if (document !== undefined) return sendJson(res, 200, document);
    throw route ?? errors.pathNotFound(path);
  }

  const listenerFor = (trusted: boolean) => (req: IncomingMessage, res: ServerResponse) => {
    const started = Date.now();
    res.on('finish', () => log(`${req.method} ${req.url} ${res.statusCode} ${Date.now() - started}ms`));
    handle(req, res, trusted).catch((error: unknown) => {
      const apiError = toApiError(error);
      if (apiError.code >= 500 && !(error instanceof ApiError)) log(`internal error on ${req.method} ${req.url}: ${(error as Error).stack ?? String(error)}`);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const retryAfter = apiError.details?.retryAfterSeconds;
      sendJson(res, apiError.code, apiError.toStatus(), retryAfter === undefined ? {} : { 'Retry-After': String(retryAfter) });
    });
  };

  const servers: Server[] = [];
  const listen = (server: Server, target: { port: number; host: string } | { path: string }) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(target, () => {
        server.off('error', reject);
        resolve();
      });
    });

  const listener = listenerFor(false);
  const tcp = options.tls ? createTlsServer({ cert: options.tls.cert, key: options.tls.key }, listener) : createServer(listener);
  await listen(tcp, { port: options.port ?? 0, host });
  servers.push(tcp);
  const address = tcp.address() as AddressInfo;
  const hostForUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${options.tls ? 'https' : 'http'}://${hostForUrl}:${address.port}`;
  serverAddress = `${hostForUrl}:${address.port}`;

  const sockets: Array<{ path: string; server: Server }> = [];
  // The plain unix socket: the lab's own tools, as its administrator.
  if (options.socketPath) sockets.push({ path: options.socketPath, server: createServer(listenerFor(true)) });
  if (options.tlsSocketPath) {
    if (!options.tls) throw new Error('tlsSocketPath needs tls');
    sockets.push({ path: options.tlsSocketPath, server: createTlsServer({ cert: options.tls.cert, key: options.tls.key }, listener) });
  }
  for (const socket of sockets) {
    await rm(socket.path, { force: true });
    try {
      await listen(socket.server, { path: socket.path });
    } catch (error) {
      for (const server of servers) server.close();
      throw error;
    }
    servers.push(socket.server);
  }
  log(`listening on ${url}${sockets.map((s) => ` and ${s.path}`).join('')}`);

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      faults.shutdown();
      collector.stop();
      podExpiry?.stop();
      watches.dropAll();
      // Let the released requests write their 503 before connections are cut.
      await new Promise((resolve) => setImmediate(resolve));
      await Promise.all(servers.map((server) => new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      })));
      for (const socket of sockets) await rm(socket.path, { force: true });
      log('closed');
    })();
    return closing;
  };

  const running: RunningApiServer = { url, close };
  if (options.socketPath) running.socketPath = options.socketPath;
  return running;
}
