/**
 * `seaway uninstall`, the command of the uninstall DaemonSet (manifests/uninstall/uninstall.yaml), on
 * every node:
 *   1. deletes the agents' DaemonSets (Foreground) and waits until they are gone, or until this
 *      node's agents have not answered on their status sockets for longer than their grace period
 *      (a Pod on a node that is down stays Terminating, and with it a foreground deletion: the
 *      healthy nodes must not wait the whole deadline for it), so no agent re-programs what the
 *      cleanup removes;
 *   2. cleans its node as `seaway cleanup` does, again until it succeeds or the deadline passes;
 *   3. deletes its node's RouteAgent and Gateway, then says on /readyz that its node is clean;
 *   4. once the DaemonSet counts every node clean (or at the deadline: a node that is down never
 *      will be), the pods that see it (usually one) delete what is left of seaway in the API (RouteAgents, Gateways, Endpoints,
 *      Clusters, the election Lease, the cluster's copies on the broker), hands its own ServiceAccount,
 *      Role and RoleBinding to the garbage collector and deletes its DaemonSet; the collector removes
 *      the rest. Until it is stopped a finished pod stays: a DaemonSet's pod that exits is restarted.
 * Every failing request is logged and the next one is made: one object that cannot be deleted never
 * keeps the others.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { Registry } from 'prom-client';
import type { UninstallConfig } from './config.ts';
import type { BrokerUninstallApi, OwnedKind, SubmarinerResource, UninstallApi } from './k8s/uninstall-api.ts';
import { errorText } from './model/error-text.ts';
import { AGENT_DAEMONSETS, brokerEndpointsOf, finishDecision, GATEWAY_LEASE, UNINSTALL_NAME } from './plan/uninstall.ts';
import type { Logger } from './telemetry/logger.ts';

export interface UninstallDeps {
  api: UninstallApi;
  /** The broker, or null when the cluster has no (usable) broker credentials. */
  broker: BrokerUninstallApi | null;
  cleanNode(): Promise<number>;
  /** Whether this node's agents answer on their status sockets (a stopped agent does not). */
  localAgentsAnswer(): Promise<boolean>;
  /** /readyz turns 200: this node is clean. */
  markClean(): void;
  logger: Logger;
  nodeName: string;
  clusterId: string;
  timeoutMs: number;
  /** Longer than the agents' termination grace: silence on their sockets that long means they are gone. */
  agentsQuietMs: number;
  pollMs: number;
  now(): number;
  /** Waits, or less when the signal aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  random(): number;
  /** Aborted on SIGTERM: the pod is being stopped. */
  signal: AbortSignal;
}

/** Longer than the agents' termination grace (25 s, manifests/11-gateway.yaml): quiet this long, they have stopped. */
const AGENTS_QUIET_MS = 30_000;
const CLUSTER_RESOURCES: readonly SubmarinerResource[] = ['routeagents', 'gateways', 'endpoints', 'clusters'];
const OWN_OBJECTS: readonly OwnedKind[] = ['ServiceAccount', 'Role', 'RoleBinding'];

async function attempt(deps: UninstallDeps, what: string, call: () => Promise<unknown>): Promise<boolean> {
  try {
    await call();
    return true;
  } catch (error) {
    deps.logger.error({ err: errorText(error) }, `uninstall: ${what} failed`);
    return false;
  }
}

/** Polls until the check holds, the deadline passes or the pod is stopped; errors are logged once per distinct text. */
async function waitUntil(deps: UninstallDeps, what: string, check: () => Promise<boolean>, deadline: number): Promise<boolean> {
  let lastError = '';
  while (!deps.signal.aborted) {
    try {
      if (await check()) return true;
    } catch (error) {
      const text = errorText(error);
      if (text !== lastError) deps.logger.error({ err: text }, `uninstall: waiting for ${what}`);
      lastError = text;
    }
    if (deps.now() >= deadline) {
      deps.logger.warn({ timeoutMs: deps.timeoutMs }, `uninstall: gave up waiting for ${what}; going on`);
      return false;
    }
    await deps.sleep(deps.pollMs * (1 + deps.random()), deps.signal);
  }
  return false;
}

export async function uninstall(deps: UninstallDeps): Promise<number> {
  const { api, logger } = deps;
  const deadline = deps.now() + deps.timeoutMs;

  for (const name of AGENT_DAEMONSETS) {
    await attempt(deps, `deleting the DaemonSet ${name}`, () => api.deleteDaemonSet(name, 'Foreground'));
  }
  let quietSince: number | null = null;
  await waitUntil(deps, 'the agents\' DaemonSets and their pods to be gone', async () => {
    quietSince = (await deps.localAgentsAnswer()) ? null : quietSince ?? deps.now();
    if (quietSince !== null && deps.now() - quietSince >= deps.agentsQuietMs) {
      logger.info({ quietMs: deps.now() - quietSince }, 'uninstall: this node\'s agents have stopped (the DaemonSets still wait for other nodes)');
      return true;
    }
    for (const name of AGENT_DAEMONSETS) if ((await api.readDaemonSet(name)) !== null) return false;
    return true;
  }, deadline);

  // The cleanup gets its own budget: a wait that used up the deadline must not leave it one attempt.
  const cleanBy = Math.max(deadline, deps.now() + deps.timeoutMs / 2);
  let code = await deps.cleanNode();
  while (code !== 0 && !deps.signal.aborted && deps.now() < cleanBy) {
    await deps.sleep(deps.pollMs * 5, deps.signal);
    code = await deps.cleanNode();
  }
  for (const resource of ['routeagents', 'gateways'] as const) {
    await attempt(deps, `deleting ${resource}/${deps.nodeName}`, () => api.deleteObject(resource, deps.nodeName));
  }
  if (code === 0) {
    deps.markClean();
    logger.info({ node: deps.nodeName }, 'uninstall: this node is clean');
  } else {
    logger.error({ node: deps.nodeName }, 'uninstall: this node could not be cleaned; see the errors above (it stays not ready)');
  }

  while (!deps.signal.aborted) {
    let own;
    try {
      own = await api.readDaemonSet(UNINSTALL_NAME);
    } catch (error) {
      logger.error({ err: errorText(error) }, `uninstall: reading the DaemonSet ${UNINSTALL_NAME}`);
      await deps.sleep(deps.pollMs * (1 + deps.random()), deps.signal);
      continue;
    }
    const decision = finishDecision(own, deps.now(), deadline);
    if (decision.finish && own) {
      logger.info({ why: decision.why }, 'uninstall: deleting seaway\'s objects and the uninstall workload');
      await finish(deps, own.uid);
      // Looked at again: once the DaemonSet is being deleted the loop ends; if deleting it failed, it is tried again.
      await deps.sleep(deps.pollMs * (1 + deps.random()), deps.signal);
      continue;
    }
    if (decision.why === 'finishing-elsewhere') break;
    await deps.sleep(deps.pollMs * (1 + deps.random()), deps.signal);
  }
  // Stay until stopped: a DaemonSet's pod that exits is started again, and would clean the node again.
  while (!deps.signal.aborted) await deps.sleep(60_000, deps.signal);
  return code;
}

async function finish(deps: UninstallDeps, ownUid: string): Promise<void> {
  const { api, broker } = deps;
  for (const resource of CLUSTER_RESOURCES) {
    let names: string[] = [];
    await attempt(deps, `listing ${resource}`, async () => { names = await api.listNames(resource); });
    for (const name of names) await attempt(deps, `deleting ${resource}/${name}`, () => api.deleteObject(resource, name));
  }
  await attempt(deps, `deleting the Lease ${GATEWAY_LEASE}`, () => api.deleteLease(GATEWAY_LEASE));
  if (broker) {
    let names: string[] = [];
    await attempt(deps, 'listing the broker\'s Endpoints', async () => { names = brokerEndpointsOf(await broker.listEndpoints(), deps.clusterId); });
    for (const name of names) await attempt(deps, `deleting the broker's Endpoint ${name}`, () => broker.deleteEndpoint(name));
    await attempt(deps, `deleting the broker's Cluster ${deps.clusterId}`, () => broker.deleteCluster(deps.clusterId));
  } else {
    deps.logger.warn('uninstall: no broker credentials: this cluster\'s Endpoint and Cluster on the broker are left for the broker\'s owner to delete');
  }
  for (const kind of OWN_OBJECTS) {
    await attempt(deps, `handing ${kind} ${UNINSTALL_NAME} to the garbage collector`, () => api.ownBy(kind, UNINSTALL_NAME, { name: UNINSTALL_NAME, uid: ownUid }));
  }
  await attempt(deps, `deleting the DaemonSet ${UNINSTALL_NAME}`, () => api.deleteDaemonSet(UNINSTALL_NAME, 'Background'));
}

/** The command: the real API, kernel cleanup and /readyz, stopped by SIGTERM. */
export async function runUninstall(config: UninstallConfig, logger: Logger): Promise<number> {
  const { loadKubeConfigChecked } = await import('./k8s/kubeconfig.ts');
  const { brokerUninstallApi, clusterUninstallApi } = await import('./k8s/uninstall-api.ts');
  const { httpGet } = await import('./kernel/http-get.ts');
  const { loadBrokerKubeConfig } = await import('./k8s/broker-kubeconfig.ts');
  const { cleanup } = await import('./cleanup.ts');
  const { startHttpServer } = await import('./server/http.ts');
  const { Readiness } = await import('./server/readiness.ts');
  const { Liveness } = await import('./server/liveness.ts');
  const packageJson = (await import('../package.json', { with: { type: 'json' } })).default;
  for (const warning of config.warnings) logger.warn(warning);

  const abort = new AbortController();
  const limits = { userAgent: `seaway/${packageJson.version} (uninstall)`, timeoutMs: config.apiTimeoutSeconds * 1000, signal: abort.signal };
  const api = clusterUninstallApi(loadKubeConfigChecked(config.kubeconfig, process.env), config.namespace, limits);
  let broker: BrokerUninstallApi | null = null;
  if (config.broker) {
    const loaded = await loadBrokerKubeConfig(config.broker);
    if (loaded.ok) broker = brokerUninstallApi(loaded.kubeConfig, config.brokerNamespace, limits);
    else logger.error({ problem: loaded.problem }, 'uninstall: the broker credentials do not load; the broker\'s copies are left');
  }
  const readiness = new Readiness({ 'node-clean': 'this node is being cleaned' });
  const server = await startHttpServer(config.listen, { readiness, liveness: new Liveness(), registry: new Registry(), logger });
  const stop = () => abort.abort();
  const answers = (socketPath: string) => httpGet({ socketPath, path: '/healthz', timeoutMs: 2000 }).then(() => true, () => false);
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    return await uninstall({
      api,
      broker,
      cleanNode: () => cleanup(config.cleanup.filterBackend, config.cleanup.stateDir, config.cleanup.xtablesLock, logger),
      localAgentsAnswer: async () => (await Promise.all(config.agentSockets.map(answers))).some(Boolean),
      markClean: () => readiness.met('node-clean'),
      logger,
      nodeName: config.nodeName,
      clusterId: config.clusterId,
      timeoutMs: config.uninstallTimeoutSeconds * 1000,
      agentsQuietMs: AGENTS_QUIET_MS,
      pollMs: 2000,
      now: Date.now,
      sleep: (ms, signal) => delay(ms, undefined, { signal }).catch(() => undefined),
      random: Math.random,
      signal: abort.signal,
    });
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
    await server.close();
  }
}
