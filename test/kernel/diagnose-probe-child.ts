/**
 * Runs inside a test's network namespace (started with `ip netns exec`) for the diagnose kernel
 * tests, given one JSON argument:
 * - `{ "mode": "probe", ... }`: diagnose's probes of one remote gateway (src/diagnose/remote-probes.ts)
 *   with the real network seams; prints the findings as JSON on stdout.
 * - `{ "mode": "nat-responder", ... }`: seaway's NAT discovery driver answering on UDP 4490; prints
 *   "ready" once bound and serves until its stdin closes.
 */
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { openNatDiscovery } from '../../src/cable/nat-discovery.ts';
import { parseConfig, type DiagnoseConfig } from '../../src/config.ts';
import { realDiagnoseDeps } from '../../src/diagnose/real-deps.ts';
import { probeRemote } from '../../src/diagnose/remote-probes.ts';
import { udp4Socket } from '../../src/kernel/udp.ts';
import type { EndpointFacts } from '../../src/plan/diagnose-endpoints.ts';
import type { NatDiscoveryIdentity } from '../../src/plan/nat-discovery-responder.ts';

type Input =
  | { mode: 'probe'; local: EndpointFacts; remote: EndpointFacts; cniAddress: string | null; fixedMss: number | null }
  | { mode: 'nat-responder'; local: NatDiscoveryIdentity; port: number };

const input = JSON.parse(process.argv[2] ?? '{}') as Input;

if (input.mode === 'nat-responder') {
  const discovery = await openNatDiscovery({
    port: input.port, local: { ...input.local, natEnabled: false }, createSocket: udp4Socket, requestCounterSeed: randomBytes(8).readBigUInt64BE(),
    counters: { dropped: () => undefined }, log: pino({ level: 'warn' }, pino.destination(2)), tickMs: 0,
  });
  process.stdout.write('ready\n');
  process.stdin.resume();
  await new Promise<void>((resolve) => process.stdin.on('close', () => resolve()));
  await discovery.close();
} else {
  const config = parseConfig(['diagnose', '--cluster-id', input.local.clusterId, '--node-name', input.local.hostname, '--pod-cidrs', '10.250.0.0/16', '--service-cidrs', '10.251.0.0/16',
    '--exec-timeout-seconds', '10'], {}) as DiagnoseConfig;
  const { deps, close } = await realDiagnoseDeps(config, { connection: 'no API in this test', userAgent: 'seaway-test' });
  try {
    const links = await deps.kernel.links();
    const findings = await probeRemote(deps, { node: input.local.hostname, local: input.local, cniAddress: input.cniAddress, links, fixedMss: input.fixedMss }, input.remote);
    process.stdout.write(`${JSON.stringify(findings)}\n`);
  } finally {
    close();
  }
}
