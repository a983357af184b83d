import { mkdir } from 'node:fs/promises';
import type { RunConfig } from './config.ts';
import type { Logger } from './telemetry/logger.ts';
import { createMetrics } from './telemetry/metrics.ts';
import { Readiness } from './server/readiness.ts';
import { Liveness } from './server/liveness.ts';
import { startHttpServer } from './server/http.ts';
import { loadKubeConfig } from './k8s/kubeconfig.ts';
import { watchOwnNode } from './k8s/node-ready.ts';
import { createSnapshotInformers } from './k8s/snapshot-informers.ts';
import { createEventRecorder } from './k8s/event-recorder.ts';
import { startInitPhase, WAIT_CNI, WAIT_NODE } from './init/init-phase.ts';
import { openInterfaceEvents } from './kernel/interface-events.ts';
import { openRtnetlink } from './kernel/rtnetlink.ts';
import { run as runProcess } from './kernel/exec.ts';
import { containsAddress, parseCidr, parseIpv4 } from './model/cidr.ts';
import { createFilterDriver } from './dataplane/filter.ts';
import { watchOwnedObjects } from './dataplane/owned-object-events.ts';
import { FILTER_DRIFT_INTERVAL_MS, watchFilterDrift } from './dataplane/filter-drift-watch.ts';
import { startReconcileLoop } from './reconcile/loop.ts';
import { createPass, PROGRAMMED } from './reconcile/pass.ts';
import { routingDataplane } from './routing-dataplane-for-node.ts';
import packageJson from '../package.json' with { type: 'json' };

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

/** `seaway run`: the composition root of the agent. */
export async function run(config: RunConfig, logger: Logger): Promise<number> {
  for (const warning of config.warnings) logger.warn({ warning }, 'configuration warning');
  logger.info({ version: packageJson.version, node: config.nodeName, cluster: config.clusterId, podCidrs: config.podCidrs }, 'seaway starting');
  const metrics = createMetrics();
  const readiness = new Readiness({ [WAIT_NODE]: 'starting', [WAIT_CNI]: 'starting', [PROGRAMMED]: 'no reconcile pass has run yet' });
  readiness.onChange((ready) => {
    metrics.ready.set(ready ? 1 : 0);
    logger.info({ ready, pending: readiness.reasons }, ready ? 'ready' : 'not ready');
  });
  const liveness = new Liveness();
  const beat = liveness.register('event-loop', 10_000);
  const heartbeat = setInterval(beat, 1000);

  const http = await startHttpServer(config.listen, { readiness, liveness, registry: metrics.registry, logger });
  const kubeConfig = loadKubeConfig(config.kubeconfig ?? undefined);
  const nodeInformer = watchOwnNode(kubeConfig, config.nodeName, { logger, onApiError: (op) => metrics.apiErrors.inc({ operation: op }) });
  const interfaceEvents = await openInterfaceEvents();
  const lookingFor = config.cniInterface
    ? `interface ${config.cniInterface} with an IPv4 address`
    : `an interface holding an IPv4 address in ${config.podCidrs.join(', ')}`;
  const init = await startInitPhase({
    nodeName: config.nodeName,
    nodeInformer,
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

  await mkdir(config.stateDir, { recursive: true });
  const rtnl = openRtnetlink();
  const routing = routingDataplane(rtnl, config.stateDir);
  const filter = await createFilterDriver(config.filterBackend, { run: runProcess });
  logger.info({ backend: filter.backend, iptablesMode: filter.iptablesMode }, 'packet filter backend chosen');
  const informers = createSnapshotInformers(kubeConfig, config.namespace, { logger, onApiError: (op) => metrics.apiErrors.inc({ operation: op }) });
  const events = createEventRecorder(kubeConfig, {
    component: 'seaway', host: config.nodeName, logger, onError: () => metrics.apiErrors.inc({ operation: 'create event' }),
  });
  const loopBeat = liveness.register('reconcile', Math.max(60_000, config.resyncSeconds * 3000));
  const loop = startReconcileLoop({
    logger,
    resyncMs: config.resyncSeconds * 1000,
    onTurn: loopBeat,
    pass: createPass({
      config, logger, metrics, readiness, rtnl, routing, filter,
      informersSynced: () => informers.synced,
      snapshot: () => informers.snapshot(),
      nodeReady: () => init.nodeReady(),
      cniInterface: () => init.cniInterface(),
      events,
    }),
  });
  informers.onChange(() => loop.trigger('API objects changed'));
  init.onChange(() => loop.trigger('init state changed'));
  const ownedEvents = watchOwnedObjects((reason) => loop.trigger(reason));
  // Packet filters send no change events: a read-only check every 2 s wakes the loop on drift.
  const filterDrift = watchFilterDrift(filter, {
    intervalMs: FILTER_DRIFT_INTERVAL_MS,
    onDrift: (drift) => { logger.info({ drift }, 'packet filter drifted'); loop.trigger('packet filter drift'); },
    onError: (error) => logger.warn({ err: error.message }, 'packet filter drift check failed'),
  });
  informers.start();
  loop.trigger('start');

  const stopped = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  const signal = await stopped;
  // The datapath stays in place on a normal stop: a restart or upgrade must not cut traffic.
  logger.info({ signal }, 'stopping; the datapath is left in place (run `seaway cleanup` to remove it)');
  clearInterval(heartbeat);
  ownedEvents.close();
  await filterDrift.close();
  await loop.stop();
  await informers.stop();
  await events.flush();
  rtnl.close();
  await init.stop();
  interfaceEvents.close();
  await http.close();
  return 0;
}

