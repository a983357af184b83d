import { agentDiagnoseConfig, type RunConfig } from './config.ts';
import type { Logger } from './telemetry/logger.ts';
import { createMetrics } from './telemetry/metrics.ts';
import { Readiness } from './server/readiness.ts';
import { Liveness } from './server/liveness.ts';
import { loadApiConnection } from './k8s/api-connection.ts';
import { sender } from './k8s/api-request.ts';
import { apiServerAddresses } from './model/api-server-addresses.ts';
import { ApiRateLimiter } from './k8s/rate-limiter.ts';
import { systemClock } from './k8s/clock.ts';
import { clientSnapshotSources, createSnapshotInformers } from './k8s/snapshot-informers.ts';
import { createEventRecorder } from './k8s/event-recorder.ts';
import { createRouteAgentPublisher, createRouteAgentWriter } from './k8s/route-agent-writer.ts';
import { createRouteAgentReporter } from './reconcile/route-agent-report.ts';
import { startInitPhase, WAIT_CNI, WAIT_NODE } from './init/init-phase.ts';
import { openInterfaceEvents } from './kernel/interface-events.ts';
import { openRtnetlink } from './kernel/rtnetlink.ts';
import { run as runProcess } from './kernel/exec.ts';
import { nodeSpawner, posixSpawner } from './kernel/spawner.ts';
import { withXtablesLock, type ProcessRunner } from './kernel/iptables.ts';
import { dirname } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { containsAddress, parseCidr, parseIpv4 } from './model/cidr.ts';
import { KERNEL_FILTER_NETLINK, type FilterDriver } from './dataplane/filter.ts';
import { watchOwnedObjects } from './dataplane/owned-object-events.ts';
import { createNodeFactsReader } from './dataplane/node-facts.ts';
import { FILTER_DRIFT_BACKSTOP_MS, FILTER_DRIFT_INTERVAL_MS, watchFilterDrift } from './dataplane/filter-drift-watch.ts';
import { nftChangeSource } from './dataplane/nft-change-source.ts';
import { KernelChanges } from './reconcile/kernel-changes.ts';
import { startReconcileLoop, type ReconcileLoop } from './reconcile/loop.ts';
import { createPass, PROGRAMMED, type PassDeps } from './reconcile/pass.ts';
import { ObjectTable } from './reconcile/object-table.ts';
import { TugOfWar } from './reconcile/tug-of-war.ts';
import { createFightReport, fightId } from './reconcile/fight-report.ts';
import { filterKey } from './reconcile/components.ts';
import { statusDocument } from './server/status.ts';
import { startHttpServer } from './server/http.ts';
import { nodeRoutingDataplane } from './dataplane/routing-dataplane.ts';
import { createComponentMetrics } from './startup/component-metrics.ts';
import { startupSteps } from './startup/startup-steps.ts';
import { startHttpListeners } from './startup/http-listeners.ts';
import { runClosers, settledWithin } from './startup/bounded-stop.ts';
import { Streaks } from './telemetry/streaks.ts';
import { prepareStateDir, STATE_DIR } from './startup/state-dir.ts';
import { createCheckedFilterDriver, PACKET_FILTER, sayingMemberFallbacks } from './startup/packet-filter.ts';
import { checkKernelFeatures } from './startup/kernel-features.ts';
import { probeKernelFeatures } from './kernel/kernel-features.ts';
import { HealthChecker } from './cable/health-checker.ts';
import { loadIcmpAddon, openIcmpSocket, type IcmpAddon } from './kernel/icmp-socket.ts';
import { startMallocTrim } from './kernel/malloc-trim.ts';
import { routeAgentHealthSettings } from './plan/route-agent-health.ts';
import { createNodeHealthChecks } from './reconcile/node-health-checks.ts';
import { errorText } from './model/error-text.ts';
import { createDiagnoseService } from './diagnose/diagnose-service.ts';
import packageJson from '../package.json' with { type: 'json' };

/** Readiness conditions of start-up steps that touch the kernel (besides the init waits and the filter). */
const CNI_WATCH = 'cni-watch';
const NETLINK = 'netlink';
const KERNEL_EVENTS = 'kernel-events';
const STATUS_SOCKET = 'status-socket';
/** Readiness condition while an informer cannot list or watch: its last view stays in use. */
const API = 'api';

function podCidrMatcher(podCidrs: readonly string[]): (address: string) => boolean {
  const cidrs = podCidrs.map((text) => {
    const parsed = parseCidr(text);
    if (!parsed.ok) throw new Error(`validated pod CIDR ${text} failed to parse`);
    return parsed.cidr;
  });
  return (address) => {
    const parsed = parseIpv4(address);
    return parsed.ok && cidrs.some((cidr) => containsAddress(cidr, parsed.address));
  };
}

/**
 * `seaway run`: the composition root of the agent. Configuration problems end it (a ConfigError,
 * exit 2) before anything is touched; everything after is a condition of the node, retried with
 * backoff as a start-up step while the rest proceeds: routing is programmed while the packet
 * filter or the HTTP port is still failing, and readiness names what does.
 */
export async function run(config: RunConfig, logger: Logger): Promise<{ code: number; forceExit: boolean }> {
  const connection = await loadApiConnection(config.kubeconfig, process.env);
  // Read now: a diagnose variable that does not parse is a configuration error like any other.
  const diagnoseConfig = agentDiagnoseConfig(config, process.env);
  // No remote subnet may cover the API server, however this node reaches it (kubeconfig or in-cluster).
  config.apiServerAddresses = apiServerAddresses(connection.server, process.env);
  for (const warning of config.warnings) logger.warn({ warning }, 'configuration warning');
  if (connection.servedByClient) logger.info({ reason: connection.servedByClient }, 'the kubeconfig needs @kubernetes/client-node (about 25 MiB more memory): it serves the API connection');
  logger.info({ version: packageJson.version, node: config.nodeName, cluster: config.clusterId, podCidrs: config.podCidrs }, 'seaway starting');
  const metrics = createMetrics();
  const componentMetrics = createComponentMetrics(metrics.registry);
  const readiness = new Readiness({
    [WAIT_NODE]: 'starting', [WAIT_CNI]: 'starting', [PROGRAMMED]: 'no reconcile pass has run yet',
    [PACKET_FILTER]: 'detecting the packet filter backend',
  });
  readiness.onChange((ready) => {
    metrics.ready.set(ready ? 1 : 0);
    logger.info({ ready, pending: readiness.reasons }, ready ? 'ready' : 'not ready');
  });
  const liveness = new Liveness();
  const beat = liveness.register('event-loop', 10_000);
  const heartbeat = setInterval(beat, 1000);

  const stopping = new AbortController();
  const closers: Array<() => Promise<void> | void> = [];
  const runStep = startupSteps({ readiness, metrics: componentMetrics, logger, signal: stopping.signal, closers });
  const stopped = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });

  // `seaway diagnose --all` asks each route agent for its node's findings: at most one diagnosis per 30 s, loaded on first use.
  const diagnosis = createDiagnoseService({
    node: config.nodeName,
    diagnose: async () => (await import('./diagnose/agent-diagnosis.ts'))
      .diagnoseThisNode(diagnoseConfig, { connection, userAgent: `seaway/${packageJson.version}`, signal: stopping.signal }),
  });
  const http = startHttpListeners(config.listen, { readiness, liveness, registry: metrics.registry, logger, diagnose: () => diagnosis.handle() }, runStep);

  // Every kernel object's status: the engine gates retries on it, and everything that reports reads it.
  let loop: ReconcileLoop | null = null;
  const wake = (reason: string) => loop?.trigger(reason);
  const table = new ObjectTable({
    backoff: { minMs: config.retryMinMs, maxMs: config.retryMaxMs },
    onSettled: (settled) => wake(`${settled.kind} ${settled.key} ${settled.state}`),
  });
  // Repairs another agent keeps undoing back off (a tug-of-war), and are reported.
  const fights = createFightReport({
    war: new TugOfWar({
      repairs: config.fightRepairs, windowMs: config.fightWindowSeconds * 1000,
      backoff: { minMs: config.fightBackoffMinMs, maxMs: config.fightBackoffMaxMs },
    }),
    readiness, metrics, logger,
  });
  const statusSocket = runStep({
    name: STATUS_SOCKET,
    what: `serving the object status on ${config.statusSocket}`,
    attempt: async () => {
      await mkdir(dirname(config.statusSocket), { recursive: true, mode: 0o750 });
      return startHttpServer([{ kind: 'unix', path: config.statusSocket }], {
        readiness, liveness, registry: metrics.registry, logger,
        status: () => statusDocument(config.nodeName, readiness.ready, readiness.reasons, table.list(), Date.now()),
      });
    },
    close: (server) => server.close(),
  });

  const userAgent = `seaway/${packageJson.version}`;
  // One rate limit for every list and watch the agent sends, however many informers restart at once.
  const apiLimiter = new ApiRateLimiter({ qps: config.apiQps, burst: config.apiBurst }, systemClock);
  // While the API fails, what the informers hold stays in use (fail static); readiness names it.
  const apiFailing = new Map<string, string>();
  const onHealth = (informer: string, cause: string | null) => {
    if (cause === null) apiFailing.delete(informer);
    else apiFailing.set(informer, cause);
    if (apiFailing.size === 0) readiness.met(API);
    else readiness.unmet(API, `${[...apiFailing].map(([name, why]) => `${name}: ${why}`).join('; ')}; retrying, and the datapath stays as last programmed`);
  };
  const informers = createSnapshotInformers(
    {
      sources: clientSnapshotSources(connection, config.namespace, { requestTimeoutMs: config.apiTimeoutSeconds * 1000, userAgent }),
      nodeName: config.nodeName,
    },
    {
      logger, metrics, limiter: apiLimiter, onHealth,
      settings: { backoff: { minMs: config.apiRetryMinMs, maxMs: config.apiRetryMaxMs }, watchTimeoutSeconds: config.apiWatchTimeoutSeconds },
    },
  );
  closers.push(() => informers.stop());
  const events = createEventRecorder(sender(connection), {
    component: 'seaway', host: config.nodeName, logger, userAgent, onError: () => metrics.apiErrors.inc({ operation: 'create event' }),
  });
  closers.push(() => events.flush());
  // Health checks from this node's CNI address to each remote gateway, through the local gateway and
  // its cable (not on the gateway node, whose own are the gateway's). Without the ICMP addon routing
  // still goes on: the RouteAgent status then says why no remote can be probed.
  const healthSettings = routeAgentHealthSettings(config.healthCheckIntervalSeconds);
  let icmp: IcmpAddon | null = null;
  let icmpProblem: string | undefined;
  try {
    icmp = loadIcmpAddon();
    // The same addon gives glibc's free memory back (kernel/malloc-trim.ts).
    closers.push(startMallocTrim(icmp.mallocTrim));
  } catch (error) {
    icmpProblem = errorText(error);
    logger.warn({ err: icmpProblem }, healthSettings !== null
      ? 'health checks to the remote gateways are not possible on this node, freed memory is not given back early, and the kernel tools start through Node\'s slower spawn; routing is not affected'
      : 'the native addon is not loaded: freed memory is not given back early, and the kernel tools start through Node\'s slower spawn; routing is not affected');
  }
  // The kernel tools (iptables-restore, nft, ipset) start with the addon's posix_spawn, which does
  // not copy this process's memory map as Node's fork does (kernel/spawner.ts); without it, with Node's.
  const spawner = icmp !== null ? posixSpawner(icmp) : nodeSpawner;
  // The CNI address the probes are sent from, once the init phase has found the interface.
  let cniAddress: () => string | undefined = () => undefined;
  const checker = healthSettings !== null && icmp !== null ? new HealthChecker({
    open: (source, onReplies, onError) => openIcmpSocket(icmp, { source, onReplies, onError }),
    source: async () => cniAddress(),
    settings: healthSettings,
    log: logger.child({ component: 'health-check' }),
    onChange: () => routeAgent.refresh(),
  }) : null;
  const nodeHealth = createNodeHealthChecks({ settings: healthSettings, checker, ...(icmpProblem !== undefined ? { unavailable: icmpProblem } : {}) });
  closers.push(() => nodeHealth.close());
  // This node's RouteAgent object: after each pass, written within its budget (never waited for by the pass).
  const routeAgent = createRouteAgentReporter({
    nodeName: config.nodeName, namespace: config.namespace, version: packageJson.version, logger,
    publisher: createRouteAgentPublisher(createRouteAgentWriter(sender(connection), { namespace: config.namespace, userAgent })),
    onWriteError: () => metrics.apiErrors.inc({ operation: 'write routeagent' }),
    health: (plan) => nodeHealth.view(plan),
  });
  closers.push(() => routeAgent.stop());
  informers.onChange(() => wake('API objects changed'));
  informers.start();

  const lookingFor = config.cniInterface
    ? `interface ${config.cniInterface} with an IPv4 address`
    : `an interface holding an IPv4 address in ${config.podCidrs.join(', ')}`;
  const startInit = runStep({
    name: CNI_WATCH,
    what: 'watching links and addresses for the CNI interface (netlink)',
    attempt: async () => {
      const interfaceEvents = await openInterfaceEvents((message) => logger.warn(message));
      try {
        const init = await startInitPhase({
          nodeName: config.nodeName,
          nodeInformer: informers.ownNode(),
          cni: {
            source: interfaceEvents,
            match: { interfaceName: config.cniInterface ?? undefined, inPodCidr: podCidrMatcher(config.podCidrs) },
            lookingFor,
            logIntervalMs: config.cniWaitLogSeconds * 1000,
          },
          readiness,
          metrics,
          logger,
        });
        return { init, interfaceEvents };
      } catch (error) {
        interfaceEvents.close();
        throw error;
      }
    },
    close: async ({ init, interfaceEvents }) => { await init.stop(); interfaceEvents.close(); },
  });
  const prepareState = runStep({ name: STATE_DIR, what: `preparing the state directory ${config.stateDir}`, attempt: () => prepareStateDir(config.stateDir) });
  const openNetlink = runStep({ name: NETLINK, what: 'opening the rtnetlink socket', attempt: () => openRtnetlink({ timeoutMs: config.netlinkTimeoutSeconds * 1000, warn: (message) => logger.warn(message) }), close: (rtnl) => rtnl.close() });

  // Every tool run has the configured deadline: a hung iptables-restore fails its object, not the loop.
  // A stop kills the tools still running (the datapath stays as the last finished transaction left it).
  // iptables-legacy writers serialise on the host's xtables lock (kube-proxy's too): seaway uses the same file.
  const boundedRun: ProcessRunner = withXtablesLock((file, args, options) =>
    runProcess(file, args, { timeoutMs: config.execTimeoutSeconds * 1000, signal: stopping.signal, spawner, ...options }), config.xtablesLock);
  // What the kernel watches saw since the last pass: the parts nobody changed are not read again.
  const kernelChanges = new KernelChanges();
  // The filter joins the pass once it works; until then the pass programs routing alone.
  let filter: FilterDriver | null = null;
  const startFilter = runStep({
    name: PACKET_FILTER,
    what: `detecting the packet filter backend (${config.filterBackend})`,
    attempt: () => createCheckedFilterDriver(config.filterBackend, boundedRun, sayingMemberFallbacks(KERNEL_FILTER_NETLINK, logger)),
  }).then((driver) => {
    // Only iptables-legacy writers serialise on the lock file: say which one seaway shares.
    logger.info({ backend: driver.backend, iptablesMode: driver.iptablesMode, ...(driver.iptablesMode === 'legacy' ? { xtablesLock: config.xtablesLock } : {}) }, 'packet filter backend chosen');
    // From here the filter is one object of the pass: its failures are its status (readiness, seaway status, metrics).
    filter = driver;
    const watched = filter;
    const driftSaid = new Streaks();
    const nftChanges = nftChangeSource(() => watched.notifications().tables, logger);
    // A read-only check wakes the loop on drift: at once on nf_tables notifications, and every
    // 2 s while part of the filter sends none (iptables-legacy, ipsets).
    const heldAs = fightId('filter', filterKey(watched));
    const drift = watchFilterDrift(filter, {
      intervalMs: () => (nftChanges && watched.notifications().complete ? FILTER_DRIFT_BACKSTOP_MS : FILTER_DRIFT_INTERVAL_MS),
      ...(nftChanges ? { changes: nftChanges } : {}),
      // While its repairs are held a check could change nothing, and the rival's every write would cost
      // one: only one look once the last repair has stood a while (has the rival stopped?), then none
      // until the hold ends.
      pausedUntil: () => fights.war.lookAt(heldAs),
      onChecked: (drift) => {
        metrics.filterChecks.inc({ result: drift.length > 0 ? 'drift' : 'intact' });
        fights.looked(heldAs, drift.length > 0);
      },
      // The same drift found again (the filter waits out its backoff) is said at debug only.
      onDrift: (lines) => {
        kernelChanges.changed('filter');
        logger[driftSaid.mark('drift', lines.join('\n')) === 'new' ? 'info' : 'debug']({ drift: lines }, 'packet filter drifted');
        wake('packet filter drift');
      },
      onError: (error) => logger.warn({ err: error.message }, 'packet filter drift check failed'),
    });
    closers.push(() => drift.close());
    kernelChanges.watching('filter');
    wake('packet filter available');
  });

  const startLoop = Promise.all([startInit, prepareState, openNetlink]).then(async ([{ init }, , rtnl]) => {
    const loopBeat = liveness.register('reconcile', Math.max(60_000, config.resyncSeconds * 3000));
    const routing = nodeRoutingDataplane(rtnl, config.stateDir, logger);
    cniAddress = () => init.cniInterface()?.address;
    // One reader for the planner and the kernel events: the underlay it chose is the device whose changes wake the loop.
    const nodeFacts = createNodeFactsReader(rtnl, config, (underlay) => logger[underlay.notes.length > 0 ? 'warn' : 'info'](underlay, 'underlay chosen'));
    const passDeps: PassDeps = {
      config, logger, metrics, readiness, rtnl, events, table, fights, routing, nodeFacts, kernelChanges,
      // Read on every pass: null until the packet filter step succeeds.
      get filter() { return filter; },
      informersSynced: () => informers.synced,
      snapshot: () => informers.snapshot(),
      nodeReady: () => init.nodeReady(),
      cniInterface: () => init.cniInterface(),
      // The probes follow the plan (which remotes, and whether this node is the gateway), then the status reads them.
      onPassed: (passed) => { nodeHealth.update(passed.plan); routeAgent.report(passed); },
    };
    const started = startReconcileLoop({
      logger, resyncMs: config.resyncSeconds * 1000, onTurn: loopBeat, pass: createPass(passDeps),
      minIntervalMs: config.minPassIntervalMs, minRetryMs: config.retryMinMs, maxRetryMs: config.retryMaxMs,
    });
    loop = started;
    closers.push(() => started.stop());
    init.onChange(() => started.trigger('init state changed'));
    started.trigger('start');
    await runStep({
      name: KERNEL_EVENTS,
      what: 'subscribing to route, rule and link changes (netlink)',
      attempt: async () => {
        const subscription = await watchOwnedObjects(
          (reason) => { kernelChanges.changed('routing'); started.trigger(reason); },
          () => routing.routeDestinations(), (message) => logger.warn(message), () => nodeFacts.underlayDevice(),
          () => kernelChanges.changed('host-network'),
        );
        kernelChanges.watching('routing');
        kernelChanges.watching('host-network');
        return subscription;
      },
      close: (subscription) => { kernelChanges.unwatched('routing'); kernelChanges.unwatched('host-network'); subscription.close(); },
    });
  });

  // Read-only probes, bounded by the netlink deadline; what the kernel lacks is logged and, where it matters, a readiness condition.
  const kernelCheck = checkKernelFeatures({ readiness, logger, probe: () => probeKernelFeatures({ timeoutMs: config.netlinkTimeoutSeconds * 1000 }) });

  const steps = [http, statusSocket, startFilter, startLoop, kernelCheck];
  Promise.all(steps).then(() => logger.info('start-up complete'), () => { /* steps only reject when stopping */ });

  const signal = await stopped;
  // The datapath stays in place on a normal stop: a restart or upgrade must not cut traffic.
  logger.info({ signal }, 'stopping; the datapath is left in place (run `seaway cleanup` to remove it)');
  stopping.abort(new Error(`stopping on ${signal}`));
  const stop = async () => {
    // Every step settles first (pending ones reject on the abort), so no step registers a closer after this.
    await Promise.allSettled(steps);
    clearInterval(heartbeat);
    await runClosers(closers, (err) => logger.warn({ err }, 'error while stopping'));
  };
  // Past the deadline the agent exits anyway (main forces it: something still holds the event loop).
  const finished = await settledWithin(stop(), config.shutdownTimeoutSeconds * 1000);
  if (!finished) logger.error({ timeoutSeconds: config.shutdownTimeoutSeconds }, 'stopping took too long; exiting with work still pending (the datapath stays in place)');
  return { code: 0, forceExit: !finished };
}
