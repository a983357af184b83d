/**
 * One gateway's WireGuard cable as a process, for tests and benchmarks: run inside the gateway's
 * network namespace, it builds the real pieces (src/cable/wireguard-runtime.ts: the key file, the
 * device through wireguard-go under supervision, the cable and its ticks) and takes commands as
 * JSON lines (cable-child.ts).
 */
import { readFile } from 'node:fs/promises';
import { pino } from 'pino';
import type { CableEndpoint } from '../../src/cable/cable.ts';
import { recordCableStatus } from '../../src/cable/cable-metrics.ts';
import { startWireguardRuntime } from '../../src/cable/wireguard-runtime.ts';
import { openRtnetlink } from '../../src/kernel/rtnetlink.ts';
import { kernelWireguardControl, openGenericNetlink } from '../../src/kernel/wireguard/kernel-control.ts';
import { createMetrics } from '../../src/telemetry/metrics.ts';
import { announceReady, serveCableChild } from './cable-child.ts';

export interface WireguardGatewayConfig {
  stateDir: string;
  pskFile: string;
  privateIp: string;
  podCidrs: string[];
  listenPort: number;
  tickMs: number;
  logLevel?: string;
}

export type WireguardRequest =
  | { id: number; op: 'connect'; endpoint: CableEndpoint }
  | { id: number; op: 'disconnect'; cableName: string }
  | { id: number; op: 'hold'; subnets: string[] }
  | { id: number; op: 'status' }
  | { id: number; op: 'wait-connected'; cableName: string; timeoutMs: number }
  | { id: number; op: 'repair' }
  | { id: number; op: 'metrics' }
  | { id: number; op: 'info' };

const config = JSON.parse(await readFile(process.argv[2] as string, 'utf8')) as WireguardGatewayConfig;
const log = pino({ level: config.logLevel ?? 'info' }, pino.destination(2));
const metrics = createMetrics({ defaultMetrics: false });
const rtnl = openRtnetlink();
const runtime = await startWireguardRuntime({
  stateDir: config.stateDir, pskFile: config.pskFile, privateIp: config.privateIp, podCidrs: config.podCidrs,
  listenPort: config.listenPort, tickMs: config.tickMs, log, metrics, rtnl,
  // As the gateway does: the kernel's WireGuard where it has one.
  kernelControl: (device) => {
    const genl = openGenericNetlink();
    return { control: kernelWireguardControl({ ifname: device, transport: genl }), close: () => genl.close() };
  },
});
const { cable } = runtime;
announceReady({ publicKey: runtime.publicKey(), implementation: runtime.implementation });

async function handle(request: WireguardRequest): Promise<unknown> {
  switch (request.op) {
    case 'connect': return cable.connect(request.endpoint);
    case 'disconnect': return cable.disconnect(request.cableName);
    case 'hold': return cable.holdSubnets(request.subnets);
    case 'status': return cable.status();
    case 'wait-connected': return cable.waitConnected(request.cableName, request.timeoutMs);
    case 'repair': return cable.repair();
    case 'metrics':
      recordCableStatus(metrics, cable.backend, await cable.status());
      return metrics.registry.metrics();
    case 'info': return { wireguardGoPid: runtime.supervisor?.pid, restarts: runtime.supervisor?.restarts ?? 0, socketPath: runtime.supervisor?.socketPath };
  }
}

serveCableChild(handle, async () => {
  await runtime.stop();
  rtnl.close();
});
