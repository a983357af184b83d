/**
 * One gateway's VXLAN cable as a process inside its namespace (src/cable/vxlan-runtime.ts over its
 * own rtnetlink handle), taking commands as JSON lines (cable-child.ts).
 */
import { readFile } from 'node:fs/promises';
import { pino } from 'pino';
import type { CableEndpoint } from '../../src/cable/cable.ts';
import { startVxlanRuntime } from '../../src/cable/vxlan-runtime.ts';
import { openRtnetlink } from '../../src/kernel/rtnetlink.ts';
import { announceReady, serveCableChild } from './cable-child.ts';

export interface VxlanGatewayConfig {
  stateDir: string;
  privateIp: string;
  podCidrs: string[];
  port: number;
  tickMs: number;
}

type Request =
  | { id: number; op: 'connect'; endpoint: CableEndpoint }
  | { id: number; op: 'disconnect'; cableName: string }
  | { id: number; op: 'hold'; subnets: string[] }
  | { id: number; op: 'status' }
  | { id: number; op: 'repair' };

const config = JSON.parse(await readFile(process.argv[2] as string, 'utf8')) as VxlanGatewayConfig;
const log = pino({ level: 'debug' }, pino.destination(2));
const rtnl = openRtnetlink();
const runtime = await startVxlanRuntime({ privateIp: config.privateIp, podCidrs: config.podCidrs, port: config.port, tickMs: config.tickMs, log, rtnl });
announceReady({});

serveCableChild(async (request: Request) => {
  switch (request.op) {
    case 'connect': return runtime.cable.connect(request.endpoint);
    case 'disconnect': return runtime.cable.disconnect(request.cableName);
    case 'hold': return runtime.cable.holdSubnets(request.subnets);
    case 'status': return runtime.cable.status();
    case 'repair': return runtime.cable.repair();
  }
}, async () => {
  await runtime.stop();
  rtnl.close();
});
