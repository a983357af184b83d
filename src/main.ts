#!/usr/bin/env node
import { parseConfig, ConfigError, type RunConfig } from './config.ts';
import { createLogger, type Logger } from './telemetry/logger.ts';
import { createMetrics } from './telemetry/metrics.ts';
import { Readiness } from './server/readiness.ts';
import { Liveness } from './server/liveness.ts';
import { startHttpServer } from './server/http.ts';
import { loadKubeConfig } from './k8s/kubeconfig.ts';
import { watchOwnNode } from './k8s/node-ready.ts';
import { startInitPhase, WAIT_CNI, WAIT_NODE } from './init/init-phase.ts';
import { openInterfaceEvents } from './kernel/interface-events.ts';
import { containsAddress, parseCidr, parseIpv4 } from './model/cidr.ts';
import packageJson from '../package.json' with { type: 'json' };

async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let config;
  try {
    config = parseConfig(argv, env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`seaway: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  switch (config.command) {
    case 'help':
      process.stdout.write(config.text);
      return 0;
    case 'version':
      process.stdout.write(`seaway ${packageJson.version}\n`);
      return 0;
    case 'cleanup':
      process.stderr.write('seaway: cleanup is not implemented yet\n');
      return 1;
    case 'run':
      return run(config, createLogger(config.logLevel));
  }
}

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

async function run(config: RunConfig, logger: Logger): Promise<number> {
  for (const warning of config.warnings) logger.warn({ warning }, 'configuration warning');
  logger.info({ version: packageJson.version, node: config.nodeName, cluster: config.clusterId, podCidrs: config.podCidrs }, 'seaway starting');
  const metrics = createMetrics();
  const readiness = new Readiness({ [WAIT_NODE]: 'starting', [WAIT_CNI]: 'starting' });
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

  const stopped = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  const signal = await stopped;
  // The datapath stays in place on a normal stop: a restart or upgrade must not cut traffic.
  logger.info({ signal }, 'stopping; the datapath is left in place (run `seaway cleanup` to remove it)');
  clearInterval(heartbeat);
  await init.stop();
  interfaceEvents.close();
  await http.close();
  return 0;
}

main(process.argv.slice(2), process.env).then(
  (code) => { process.exitCode = code; },
  (error: unknown) => {
    process.stderr.write(`seaway: fatal: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
