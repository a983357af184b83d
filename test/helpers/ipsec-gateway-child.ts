/**
 * One gateway's IPsec cable as a process, for tests and benchmarks: run inside the gateway's
 * network namespace (`ip netns exec <ns> node ipsec-gateway-child.ts <config.json>`), it builds the
 * real pieces (ESP detection, the supervised charon-systemd, the VICI client, rtnetlink, the cable
 * and its service) and takes commands as JSON lines on stdin, answering on stdout. The gateway
 * role (issue 13) composes the same pieces in main.
 */
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { pino } from 'pino';
import { IpsecCable } from '../../src/cable/ipsec.ts';
import { ipsecKernel } from '../../src/cable/ipsec-kernel.ts';
import { ipsecService } from '../../src/cable/ipsec-service.ts';
import { recordCableStatus } from '../../src/cable/cable-metrics.ts';
import { createMetrics } from '../../src/telemetry/metrics.ts';
import type { CableEndpoint } from '../../src/cable/cable.ts';
import { CharonSupervisor } from '../../src/kernel/charon.ts';
import { detectEspMode } from '../../src/kernel/esp-support.ts';
import { openRtnetlink } from '../../src/kernel/rtnetlink.ts';
import { ViciClient, connectUnix } from '../../src/kernel/vici/client.ts';
import { readPskFile } from '../../src/cable/psk-file.ts';
import { DEFAULT_IPSEC_SETTINGS, type LocalSubnet } from '../../src/plan/ipsec-connections.ts';
import { strongswanConf } from '../../src/plan/strongswan-conf.ts';

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
  | { id: number; op: 'sas' }
  | { id: number; op: 'shared-keys' }
  | { id: number; op: 'metrics' }
  | { id: number; op: 'info' };

const config = JSON.parse(await readFile(process.argv[2] as string, 'utf8')) as IpsecGatewayConfig;
const log = pino({ level: config.logLevel ?? 'info' }, pino.destination(2));
const esp = await detectEspMode();
log.info({ espMode: esp.mode, reason: esp.reason }, 'ESP mode detected');
const metrics = createMetrics({ defaultMetrics: false });
metrics.ipsecEspMode.set({ mode: esp.mode }, 1);
const viciSocketPath = join(config.stateDir, 'charon.vici');
const vici = new ViciClient({ connect: connectUnix(viciSocketPath), logger: log });
const rtnl = openRtnetlink();
const cable = new IpsecCable({
  vici, kernel: ipsecKernel(rtnl), log,
  local: { privateIp: config.privateIp, subnets: config.subnets, natTPort: config.natTPort },
  settings: {
    ...DEFAULT_IPSEC_SETTINGS, espMode: esp.mode,
    ...(config.childRekeyS ? { childRekeyS: config.childRekeyS } : {}),
    ...(config.ikeRekeyS ? { ikeRekeyS: config.ikeRekeyS } : {}),
    ...(config.dpdDelayS ? { dpdDelayS: config.dpdDelayS } : {}),
  },
  readPsk: () => readPskFile(config.pskFile),
  rotationWindowMs: config.rotationWindowMs,
});
const service = ipsecService({ cable, tickMs: config.tickMs, log });
const supervisor = new CharonSupervisor({
  stateDir: config.stateDir,
  conf: strongswanConf({
    espMode: esp.mode, viciSocketPath, natTPort: config.natTPort, routingTable: 220, routingTablePriority: 220,
    ...(config.deleteRekeyedDelayS === undefined ? {} : { deleteRekeyedDelayS: config.deleteRekeyedDelayS }),
  }),
  viciSocketPath, logger: log, onStart: () => service.onCharonStart(), onRestart: () => metrics.charonRestarts.inc(),
});
await supervisor.start();
service.start();

const reply = (message: object) => process.stdout.write(`${JSON.stringify(message)}\n`);
reply({ ready: true, espMode: esp.mode });

async function handle(request: GatewayRequest): Promise<unknown> {
  switch (request.op) {
    case 'connect': return cable.connect(request.endpoint);
    case 'disconnect': return cable.disconnect(request.cableName);
    case 'status': return cable.status();
    case 'wait-connected': return cable.waitConnected(request.cableName, request.timeoutMs);
    case 'refresh-keys': return cable.refreshKeys();
    case 'reauthenticate': return cable.reauthenticate(request.cableName);
    case 'sas': return (await vici.stream('list-sas', 'list-sa', { noblock: 'yes' })).events;
    case 'shared-keys': return (await vici.request('get-shared')).keys;
    case 'metrics':
      recordCableStatus(metrics, cable.backend, await cable.status());
      return metrics.registry.metrics();
    case 'info': return { charonPid: supervisor.pid, restarts: supervisor.restarts, espMode: esp.mode };
  }
}

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  service.stop();
  await supervisor.stop();
  vici.close();
  rtnl.close();
  process.exit(0);
}
process.on('SIGTERM', () => { void shutdown(); });
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const request = JSON.parse(line) as GatewayRequest;
  handle(request).then(
    (result) => reply({ id: request.id, ok: true, result: result ?? null }),
    (error: Error) => reply({ id: request.id, ok: false, error: error.message, name: error.name }),
  );
});
lines.on('close', () => { void shutdown(); });
