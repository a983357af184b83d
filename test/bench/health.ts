/**
 * Benchmark (issue 14): the RTT the Gateway object reports (`connections[].latencyRTT`, from
 * seaway's health checks through the cable) against `ping` over the same path (from the active
 * gateway's CNI address to the remote gateway's healthCheckIP, through the tunnel), per cable, in
 * the same run. The Gateway object is read once a second (its refresh) for `samples` readings of
 * `latencyRTT.last` while `ping -i 1` sends as many probes alongside; the medians are compared
 * (goal: within max(20 %, 0.2 ms)), and the object's own average over its window too.
 *
 *   npm run bench -- health           node test/bench/health.ts [--samples 100] [--cables ipsec,wireguard,vxlan]
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { run } from '../../src/kernel/exec.ts';
import { labDown, labUp } from '../lab/lab.ts';
import type { LabCable } from '../lab/addressing.ts';
import type { ClusterStatus } from '../lab/state.ts';
import { waitFor } from '../helpers/wait.ts';
import { activeGateway, list, nodeNow, NS } from '../e2e/gateway-support.ts';
import { median } from './bench-support.ts';

const { values } = parseArgs({ options: { samples: { type: 'string', default: '100' }, cables: { type: 'string', default: 'ipsec,wireguard,vxlan' } } });
const samples = Number(values.samples);
const cables = values.cables.split(',') as LabCable[];

/** Go duration text (as latencyRTT carries it) in ms. */
function durationMs(text: string): number {
  const units: Record<string, number> = { ns: 1e-6, 'µs': 1e-3, us: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/([0-9.]+)(ns|µs|us|ms|s|m|h)/g)) total += Number(amount) * units[unit!]!;
  return total;
}

async function connectionOf(cluster: ClusterStatus): Promise<{ latencyRTT?: Record<string, string>; endpoint: { healthCheckIP?: string } } | undefined> {
  const active = (await list(cluster.kubeconfig, NS, 'gateways')).find((g) => g.status?.haStatus === 'active');
  return active?.status?.connections[0] as never;
}

async function benchCable(cable: LabCable): Promise<{ cable: LabCable; status: number; ping: number; statusAverage: number; pingAverage: number; within: boolean }> {
  const prefix = `swbh${randomBytes(2).toString('hex')}`;
  try {
    const lab = await labUp({
      prefix, clusters: 2, nodes: 1, gateways: 1, podsPerNode: 1, nodeReadyDelay: 0, cniDelay: 0, wait: true, cable,
      gatewayEnv: { SEAWAY_STATUS_REFRESH_SECONDS: '1', SEAWAY_HEALTH_CHECK_INTERVAL_MS: '1000', SEAWAY_LOG_LEVEL: 'info' },
    });
    const [c1] = lab.clusters as [ClusterStatus, ClusterStatus];
    const connection = await waitFor(`${cable}: cluster1 connected with an RTT`, async () => {
      const c = await connectionOf(c1);
      return c?.latencyRTT?.last !== undefined ? c : undefined;
    }, { timeoutMs: 60_000, intervalMs: 250 });
    const gateway = await nodeNow(prefix, (await activeGateway(c1))!);
    const target = connection.endpoint.healthCheckIP!;
    // The same path: from the gateway's CNI address (the probes' source) into the cable.
    const ping = run('ip', ['netns', 'exec', gateway.namespace, 'ping', '-n', '-i', '1', '-c', String(samples), '-I', gateway.cniIp, target], { timeoutMs: (samples + 30) * 1000, allowFailure: true });
    const readings: number[] = [];
    let last = '';
    const started = Date.now();
    while (readings.length < samples && Date.now() - started < (samples + 60) * 1000) {
      const rtt = (await connectionOf(c1))?.latencyRTT;
      // A reading counts once per refresh: an unchanged `last` is the same probe read again.
      if (rtt?.last !== undefined && rtt.last !== last) {
        readings.push(durationMs(rtt.last));
        last = rtt.last;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const pinged = await ping;
    const pingTimes = [...pinged.stdout.matchAll(/time=([0-9.]+) ms/g)].map((m) => Number(m[1]));
    // The summary line: min/avg/max/mdev.
    const summary = /= ([0-9.]+)\/([0-9.]+)\/([0-9.]+)\/([0-9.]+) ms/.exec(pinged.stdout);
    if (!summary || pingTimes.length === 0) throw new Error(`${cable}: ping got no replies: ${pinged.stdout}${pinged.stderr}`);
    const final = (await connectionOf(c1))?.latencyRTT;
    const statusMedian = median(readings);
    const pingMedian = median(pingTimes);
    const within = Math.abs(statusMedian - pingMedian) <= Math.max(0.2 * pingMedian, 0.2);
    console.log(`${cable}: Gateway latencyRTT.last median ${statusMedian.toFixed(3)} ms over ${readings.length} readings; ping median ${pingMedian.toFixed(3)} ms over ${pingTimes.length} probes; `
      + `Gateway average ${durationMs(final?.average ?? '0s').toFixed(3)} ms vs ping average ${Number(summary[2]).toFixed(3)} ms; ${within ? 'within' : 'NOT within'} max(20 %, 0.2 ms)`);
    return { cable, status: statusMedian, ping: pingMedian, statusAverage: durationMs(final?.average ?? '0s'), pingAverage: Number(summary[2]), within };
  } finally {
    await labDown(prefix);
  }
}

const results = [];
for (const cable of cables) results.push(await benchCable(cable));
console.log('\ncable      status median   ping median   ratio   within max(20%, 0.2 ms)');
for (const r of results) console.log(`${r.cable.padEnd(10)} ${r.status.toFixed(3).padStart(10)} ms ${r.ping.toFixed(3).padStart(10)} ms ${(r.status / r.ping).toFixed(2).padStart(7)}   ${r.within ? 'yes' : 'NO'}`);
process.exit(results.every((r) => r.within) ? 0 : 1);
