/**
 * `seaway gateway`: the composition root of the gateway role. Configuration problems end it (a
 * ConfigError, exit 2) before anything is touched. What is wrong with this node's credentials (the
 * PSK file, the broker's token or CA, the broker refusing them) is not a configuration error: the
 * node refuses candidacy, says why on /readyz (`gateway-config`), and takes the fixed Secret up
 * without a restart; the route agent on the node is a separate process and routes on regardless.
 */
import { dirname } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { startHttpServer } from '../server/http.ts';
import type { ClusterLiveness } from '../plan/broker-sync.ts';
import { gatewayStatusDocument } from './gateway-status-document.ts';
import type { GatewayConfig } from '../config.ts';
import type { Logger } from '../telemetry/logger.ts';
import { createMetrics } from '../telemetry/metrics.ts';
import { Readiness } from '../server/readiness.ts';
import { Liveness } from '../server/liveness.ts';
import { loadKubeConfigChecked } from '../k8s/kubeconfig.ts';
import { ApiRateLimiter } from '../k8s/rate-limiter.ts';
import { systemClock } from '../k8s/clock.ts';
import { clientSnapshotSources, createSnapshotInformers } from '../k8s/snapshot-informers.ts';
import { createInformer } from '../k8s/informer.ts';
import { leaseClient } from '../k8s/lease.ts';
import { clientBrokerSyncApi, clientSyncSide, createBrokerSync } from '../k8s/broker-sync.ts';
import { loadBrokerKubeConfig } from '../k8s/broker-kubeconfig.ts';
import { clientGatewayObjects, clientLeases, leaseHolder, probeBroker, type GatewayObjectItem } from '../k8s/gateway-sources.ts';
import { brokerCredentialProblem } from '../plan/gateway-candidacy.ts';
import { createGatewayStatusPublisher, createGatewayStatusWriter } from '../k8s/gateway-status-writer.ts';
import { openRtnetlink } from '../kernel/rtnetlink.ts';
import { readPskFile } from '../cable/psk-file.ts';
import { CABLE_BACKENDS, cableStarter } from './cable-choice.ts';
import { removeCableLeftovers } from '../cable/cable-leftovers.ts';
import { HealthChecker } from '../cable/health-checker.ts';
import { openNatDiscovery } from '../cable/nat-discovery.ts';
import { udp4Socket } from '../kernel/udp.ts';
import { responseTypeName } from '../model/nat-discovery-message.ts';
import { loadIcmpAddon, openIcmpSocket } from '../kernel/icmp-socket.ts';
import { startMallocTrim } from '../kernel/malloc-trim.ts';
import { cableSourceAddress } from '../plan/cable-source-address.ts';
import { DEFAULT_HEALTH_SETTINGS } from '../plan/health-probes.ts';
import { createComponentMetrics } from '../startup/component-metrics.ts';
import { startupSteps } from '../startup/startup-steps.ts';
import { startHttpListeners } from '../startup/http-listeners.ts';
import { runClosers, settledWithin } from '../startup/bounded-stop.ts';
import { prepareStateDir } from '../startup/state-dir.ts';
import { SUBMARINER_API_VERSION } from '../model/submariner-api.ts';
import { createEventRecorder } from '../k8s/event-recorder.ts';
import { kubeConfigConnection } from '../k8s/api-connection.ts';
import { sender } from '../k8s/api-request.ts';
import { Streaks } from '../telemetry/streaks.ts';
import { errorText } from '../model/error-text.ts';
import { GATEWAY_CONFIG, GATEWAY_SYNC, GatewayRole } from './gateway-role.ts';
import packageJson from '../../package.json' with { type: 'json' };

const FIELD_MANAGER = 'seaway-gateway';
/** How often the broker credentials are tried while nothing else tells (the sync's own requests do while active). */
const BROKER_PROBE_MS = 30_000;
/** Readiness while the API cannot be listed or watched: the last view stays in use. */
const API = 'api';

export async function runGateway(config: GatewayConfig, logger: Logger): Promise<{ code: number; forceExit: boolean }> {
  const kubeConfig = loadKubeConfigChecked(config.kubeconfig, process.env);
  const connection = kubeConfigConnection(kubeConfig);
  // The health checks' ICMP addon, before anything is touched: a gateway without it would report
  // tunnels it cannot prove, so a missing build stops it with the command that builds it.
  const icmp = loadIcmpAddon();
  for (const warning of config.warnings) logger.warn({ warning }, 'configuration warning');
  logger.info({ version: packageJson.version, node: config.nodeName, cluster: config.clusterId, lease: config.leaseName, label: `${config.gatewayLabel.key}=${config.gatewayLabel.value}` }, 'seaway gateway starting');
  const metrics = createMetrics();
  const readiness = new Readiness({ [GATEWAY_SYNC]: 'starting', [GATEWAY_CONFIG]: 'starting' });
  readiness.onChange((ready) => {
    metrics.ready.set(ready ? 1 : 0);
    logger.info({ ready, pending: readiness.reasons }, ready ? 'ready' : 'not ready');
  });
  const liveness = new Liveness();
  const beat = liveness.register('event-loop', 10_000);
  const heartbeat = setInterval(beat, 1000);
  const stopping = new AbortController();
  const closers: Array<() => Promise<void> | void> = [];
  // The same addon gives glibc's free memory back (kernel/malloc-trim.ts).
  closers.push(startMallocTrim(icmp.mallocTrim));
  const runStep = startupSteps({ readiness, metrics: createComponentMetrics(metrics.registry), logger, signal: stopping.signal, closers });
  const stopped = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  const http = startHttpListeners(config.listen, { readiness, liveness, registry: metrics.registry, logger }, runStep);

  const userAgent = `seaway/${packageJson.version}`;
  const request = { requestTimeoutMs: config.apiTimeoutSeconds * 1000, userAgent };
  const limiter = new ApiRateLimiter({ qps: config.apiQps, burst: config.apiBurst }, systemClock);
  // The broker sync has its own budget (as client-go has one per client): started when this gateway
  // goes active, its lists and watches must not queue behind the election's and the status's
  // requests, nor hold them up (measured: a shared burst delayed the new gateway's export by ~0.8 s).
  const brokerLimiter = new ApiRateLimiter({ qps: config.apiQps, burst: config.apiBurst }, systemClock);
  const apiFailing = new Map<string, string>();
  const onHealth = (informer: string, cause: string | null) => {
    if (cause === null) apiFailing.delete(informer);
    else apiFailing.set(informer, cause);
    if (apiFailing.size === 0) readiness.met(API);
    else readiness.unmet(API, `${[...apiFailing].map(([name, why]) => `${name}: ${why}`).join('; ')}; retrying, and the tunnels stay as they are`);
  };
  const informerDeps = {
    logger, metrics, limiter, onHealth,
    settings: { backoff: { minMs: config.apiRetryMinMs, maxMs: config.apiRetryMaxMs }, watchTimeoutSeconds: config.apiWatchTimeoutSeconds },
  };
  const informers = createSnapshotInformers({ sources: clientSnapshotSources(connection, config.namespace, request), nodeName: config.nodeName, nodeKeys: [config.gatewayLabel.key] }, informerDeps);
  const gateways = createInformer<GatewayObjectItem, unknown>({ name: 'gateways', source: clientGatewayObjects(kubeConfig, config.namespace, request), project: (object) => object }, informerDeps);
  const leaseWatch = createInformer({ name: 'leases', source: clientLeases(kubeConfig, config.namespace, request), project: leaseHolder }, informerDeps);
  closers.push(() => gateways.stop(), () => informers.stop(), () => leaseWatch.stop());
  informers.start();
  gateways.start();
  leaseWatch.start();

  // The broker: its credentials load (or why not), and whether it accepts them. While they are a
  // problem they are loaded again on every probe, so a fixed Secret is taken up without a restart.
  let broker = await loadBrokerKubeConfig(config.broker);
  let brokerProblem: string | null = broker.ok ? null : broker.problem;
  const probe = async () => {
    if (brokerProblem !== null) broker = await loadBrokerKubeConfig(config.broker);
    if (!broker.ok) {
      brokerProblem = broker.problem;
      return;
    }
    await brokerLimiter.take(stopping.signal);
    const answer = await probeBroker(broker.kubeConfig, config.brokerNamespace, request, stopping.signal);
    brokerProblem = brokerCredentialProblem(answer, broker.kubeConfig.getCurrentCluster()?.server ?? '?');
  };
  await probe().catch(() => { /* only when stopping */ });
  const brokerProbe = setInterval(() => { void probe().catch(() => { /* only when stopping */ }); }, BROKER_PROBE_MS);

  await runStep({ name: 'state-dir', what: `preparing the state directory ${config.stateDir}`, attempt: () => prepareStateDir(config.stateDir) });
  const rtnl = await runStep({
    name: 'netlink', what: 'opening the rtnetlink socket',
    attempt: () => openRtnetlink({ timeoutMs: config.netlinkTimeoutSeconds * 1000, warn: (message) => logger.warn(message) }),
    close: (handle) => handle.close(),
  });
  const statusWriter = createGatewayStatusWriter(sender(connection), { namespace: config.namespace, userAgent });
  // The election's rounds wait for the pass: its writes must not outlast half a lease, or renewals would.
  const localSide = clientSyncSide(kubeConfig, config.namespace, {
    ...request, requestTimeoutMs: Math.min(request.requestTimeoutMs, config.leaseDurationSeconds * 500), fieldManager: FIELD_MANAGER,
  });

  const events = createEventRecorder(sender(connection), {
    component: 'seaway-gateway', host: config.nodeName, logger, userAgent, onError: () => metrics.apiErrors.inc({ operation: 'create event' }),
  });
  closers.push(() => events.flush());
  // Each remote cluster's liveness, said when it changes: a stale one in the log and as an Event on its Cluster copy here.
  const remoteLiveness = new Streaks();
  let lastLiveness: readonly ClusterLiveness[] = [];
  const reportStale = (clusterId: string, ageMs: number | null) => {
    const age = ageMs === null ? 'unknown' : `${Math.round(ageMs / 1000)} s`;
    const message = `the gateway of cluster ${clusterId} has not refreshed its broker copies for ${age}; it is still routed (its tunnel stays as it is)`;
    logger.warn({ cluster: clusterId, ageSeconds: ageMs === null ? null : Math.round(ageMs / 1000) }, 'remote cluster stale');
    const cluster = informers.snapshot().clusters.find((c) => c.name === clusterId);
    if (cluster) {
      events.warning({ apiVersion: SUBMARINER_API_VERSION, kind: 'Cluster', name: cluster.name, namespace: cluster.namespace, uid: cluster.uid, resourceVersion: cluster.resourceVersion }, 'RemoteClusterStale', message);
    }
  };

  // Health checks through the cables, from this gateway's CNI address (also its Endpoint's healthCheckIP).
  const healthCheckIp = async () => cableSourceAddress(config.podCidrs, (await rtnl.listAddresses()).map((a) => a.address));
  const health = new HealthChecker({
    open: (source, onReplies, onError) => openIcmpSocket(icmp, { source, onReplies, onError }),
    source: healthCheckIp,
    settings: { ...DEFAULT_HEALTH_SETTINGS, intervalMs: config.healthCheckIntervalMs, maxLoss: config.healthCheckMaxLoss },
    log: logger.child({ component: 'health-check' }),
    onChange: () => role.wake(),
  });
  closers.push(() => health.close());
  const role = new GatewayRole({
    settings: {
      clusterId: config.clusterId, namespace: config.namespace, nodeName: config.nodeName, podCidrs: config.podCidrs, serviceCidrs: config.serviceCidrs,
      nodeIp: config.nodeIp, publicIp: config.publicIp, natTPort: config.natTPort, nattDiscoveryPort: config.nattDiscoveryPort, natEnabled: config.natEnabled,
      gatewayLabel: config.gatewayLabel, leaseName: config.leaseName, leaseDurationSeconds: config.leaseDurationSeconds, leaseRetryMs: config.leaseRetryMs,
      cableConnectTimeoutSeconds: config.cableConnectTimeoutSeconds, minPassIntervalMs: config.minPassIntervalMs,
      version: packageJson.version, backend: CABLE_BACKENDS[config.cable],
    },
    log: logger, metrics, readiness, informers, gateways, leaseWatch,
    leases: leaseClient(kubeConfig, config.namespace, request),
    writeEndpoint: (action, signal) => localSide.write(action, signal),
    statusWriter,
    statusPublisher: createGatewayStatusPublisher(statusWriter, { refreshMs: config.statusRefreshSeconds * 1000 }),
    startCable: cableStarter(config, { log: logger, metrics, rtnl }),
    brokerSync: () => (broker.ok && brokerProblem === null ? createBrokerSync(
      clientBrokerSyncApi({ local: kubeConfig, broker: broker.kubeConfig }, { local: config.namespace, broker: config.brokerNamespace }, { ...request, fieldManager: FIELD_MANAGER }),
      {
        clusterId: config.clusterId, localNamespace: config.namespace, brokerNamespace: config.brokerNamespace,
        refreshIntervalMs: config.brokerRefreshSeconds * 1000, staleAfterMs: config.remoteStaleSeconds * 1000,
        resyncMs: config.resyncSeconds * 1000, minPassIntervalMs: config.minPassIntervalMs,
        retry: { minMs: config.retryMinMs, maxMs: config.retryMaxMs }, informer: informerDeps.settings,
      },
      {
        logger, metrics, limiter: brokerLimiter, onHealth,
        onReport: (report) => {
          lastLiveness = report.liveness;
          metrics.remoteClusterLiveness.reset();
          for (const remote of report.liveness) {
            metrics.remoteClusterLiveness.set({ cluster: remote.clusterId, state: remote.state }, 1);
            if (remoteLiveness.mark(remote.clusterId, remote.state) === 'new' && remote.state === 'stale') reportStale(remote.clusterId, remote.ageMs);
          }
        },
        onDropped: (dropped) => logger.warn({ dropped }, 'broker sync: object dropped'),
      },
    ) : null),
    pskProblem: async () => {
      try {
        await readPskFile(config.pskFile);
        return null;
      } catch (error) {
        return errorText(error);
      }
    },
    brokerProblem: () => brokerProblem,
    clearLeftovers: () => removeCableLeftovers(rtnl),
    health,
    healthCheckIp,
    natDiscovery: (local, onSelected) => {
      const backendConfig = local.spec.backend_config as Record<string, string>;
      return openNatDiscovery({
        port: Number(backendConfig['natt-discovery-port'] ?? config.nattDiscoveryPort),
        local: { clusterId: config.clusterId, endpointId: String(local.spec.cable_name), privateIp: String(local.spec.private_ip), natEnabled: config.natEnabled },
        createSocket: udp4Socket,
        requestCounterSeed: BigInt.asUintN(64, randomBytes(8).readBigUInt64BE()),
        counters: {
          dropped: (reason) => metrics.natDiscoveryDropped.inc({ reason }),
          responded: (response) => metrics.natDiscoveryResponses.inc({ response: responseTypeName(response) }),
        },
        log: logger.child({ component: 'nat-discovery' }),
        onSelected: (cable, view) => {
          logger.info({ cable, ip: view.ip, nat: view.useNat, basis: view.basis, final: view.final }, 'NAT discovery: the address to reach a remote gateway');
          onSelected();
        },
      });
    },
  });
  role.start();
  // `seaway status --status-socket <this>`: the election, the remote clusters' liveness, the cables.
  void runStep({
    name: 'status-socket',
    what: `serving the gateway's status on ${config.statusSocket}`,
    attempt: async () => {
      await mkdir(dirname(config.statusSocket), { recursive: true, mode: 0o750 });
      return startHttpServer([{ kind: 'unix', path: config.statusSocket }], {
        readiness, liveness, registry: metrics.registry, logger,
        status: () => gatewayStatusDocument({
          node: config.nodeName, ready: readiness.ready, reasons: readiness.reasons, decision: role.decision,
          liveness: role.state === 'active' ? lastLiveness : [], cables: role.cables.statuses, since: role.cables.since, now: Date.now(),
        }),
      });
    },
    close: (server) => server.close(),
  }).catch(() => { /* only rejects when stopping */ });

  const signal = await stopped;
  logger.info({ signal, state: role.state }, 'stopping: handing over to a ready standby, or leaving the tunnels\' kernel state for a restarted gateway');
  const stop = async () => {
    // The handover gets most of the deadline; what follows only closes sockets.
    await role.stop(Math.max(1000, config.shutdownTimeoutSeconds * 1000 - 2000));
    stopping.abort(new Error(`stopping on ${signal}`));
    await http.catch(() => undefined);
    clearInterval(heartbeat);
    clearInterval(brokerProbe);
    await runClosers(closers, (err) => logger.warn({ err }, 'error while stopping'));
  };
  const finished = await settledWithin(stop(), config.shutdownTimeoutSeconds * 1000);
  if (!finished) logger.error({ timeoutSeconds: config.shutdownTimeoutSeconds }, 'stopping took too long; exiting with work still pending');
  return { code: 0, forceExit: !finished };
}
