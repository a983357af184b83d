/**
 * One gateway's IPsec cable as a process, for tests and benchmarks: run inside the gateway's
 * network namespace (`ip netns exec <ns> node ipsec-gateway-child.ts <config.json>`), it builds the
 * real pieces (src/cable/ipsec-runtime.ts: ESP detection, the supervised charon-systemd, the VICI
 * client, the cable and its service, over its own rtnetlink handle) and takes commands as JSON
 * lines on stdin, answering on stdout, as the gateway role's main will drive the same runtime.
 */
import { readFile } from 'node:fs/promises';
import { pino } from 'pino';
import type { CableEndpoint } from '../../src/cable/cable.ts';
import { recordCableStatus } from '../../src/cable/cable-metrics.ts';
import { startIpsecRuntime } from '../../src/cable/ipsec-runtime.ts';
import { openRtnetlink } from '../../src/kernel/rtnetlink.ts';
import { expectSuccess } from '../../src/kernel/vici/client.ts';
import type { LocalSubnet } from '../../src/plan/ipsec-connections.ts';
import { createMetrics } from '../../src/telemetry/metrics.ts';
import { announceReady, serveCableChild } from './cable-child.ts';

export interface IpsecGatewayConfig {
  stateDir: string;
  pskFile: string;
  privateIp: string;
  subnets: LocalSubnet[];
  natTPort: number;
  rotationWindowMs: number;
  tickMs: number;
  childRekeyS?: number;
  ikeRekeyS?: number;
  dpdDelayS?: number;
  deleteRekeyedDelayS?: number;
  logLevel?: string;
}

export type GatewayRequest =
  | { id: number; op: 'connect'; endpoint: CableEndpoint }
  | { id: number; op: 'disconnect'; cableName: string }
  | { id: number; op: 'status' }
  | { id: number; op: 'wait-connected'; cableName: string; timeoutMs: number }
  | { id: number; op: 'refresh-keys' }
  | { id: number; op: 'reauthenticate'; cableName: string }
  | { id: number; op: 'rekey-child'; cableName: string; child: string }
  | { id: number; op: 'sas' }
  | { id: number; op: 'shared-keys' }
  | { id: number; op: 'metrics' }
  | { id: number; op: 'info' };

const config = JSON.parse(await readFile(process.argv[2] as string, 'utf8')) as IpsecGatewayConfig;
const log = pino({ level: config.logLevel ?? 'info' }, pino.destination(2));
const metrics = createMetrics({ defaultMetrics: false });
const rtnl = openRtnetlink();
const runtime = await startIpsecRuntime({
  stateDir: config.stateDir, pskFile: config.pskFile, log, metrics, rtnl,
  local: { privateIp: config.privateIp, subnets: config.subnets, natTPort: config.natTPort },
  settings: {
    ...(config.childRekeyS ? { childRekeyS: config.childRekeyS } : {}),
    ...(config.ikeRekeyS ? { ikeRekeyS: config.ikeRekeyS } : {}),
    ...(config.dpdDelayS ? { dpdDelayS: config.dpdDelayS } : {}),
  },
  rotationWindowMs: config.rotationWindowMs, tickMs: config.tickMs,
  ...(config.deleteRekeyedDelayS === undefined ? {} : { deleteRekeyedDelayS: config.deleteRekeyedDelayS }),
});
const { cable, vici, supervisor, espMode } = runtime;

announceReady({ espMode });

async function handle(request: GatewayRequest): Promise<unknown> {
  switch (request.op) {
    case 'connect': return cable.connect(request.endpoint);
    case 'disconnect': return cable.disconnect(request.cableName);
    case 'status': return cable.status();
    case 'wait-connected': return cable.waitConnected(request.cableName, request.timeoutMs);
    case 'refresh-keys': return cable.refreshKeys();
    case 'reauthenticate': return cable.reauthenticate(request.cableName);
    case 'rekey-child': return expectSuccess(await vici.request('rekey', { ike: request.cableName, child: request.child }), 'rekey');
    case 'sas': return (await vici.stream('list-sas', 'list-sa', { noblock: 'yes' })).events;
    case 'shared-keys': return (await vici.request('get-shared')).keys;
    case 'metrics':
      recordCableStatus(metrics, cable.backend, await cable.status());
      return metrics.registry.metrics();
    case 'info': return { charonPid: supervisor.pid, restarts: supervisor.restarts };
  }
}

serveCableChild(handle, async () => {
  await runtime.stop();
  rtnl.close();
});
