/**
 * The gateway half of the demo: each cluster's Gateway objects as Submariner's tools read them, the
 * active gateway's IPsec SAs as charon lists them (swanctl over its VICI socket), and a capture of
 * the WAN while the pods talk, checked for any packet with a pod or service address in the clear.
 */
import { join } from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { run } from '../../src/kernel/exec.ts';
import { list, NS } from '../e2e/gateway-support.ts';
import { pings } from '../e2e/datapath-support.ts';
import { cleartextHits, startWanCapture, type WanCapture } from '../helpers/wan-capture.ts';
import { waitFor } from '../helpers/wait.ts';
import { labPaths } from './paths.ts';
import type { LabStatus } from './state.ts';

const TUNNELS_TIMEOUT_MS = 60_000;

/** Whether the lab runs seaway gateways (not the simulated Endpoints). */
export const runsGateways = (status: LabStatus): boolean => status.clusters.some((c) => c.nodes.some((n) => n.gateway !== undefined));

/** Waits until a pod of the first cluster pings a pod of each other cluster (the gateways elected and connected). */
export async function waitForTunnels(status: LabStatus): Promise<boolean> {
  const [first, ...others] = status.clusters;
  const from = first?.pods[0];
  if (!from) return true;
  try {
    await waitFor('the tunnels', async () => (await Promise.all(others.map((c) => (c.pods[0] ? pings(from.namespace, c.pods[0].ip, 1) : true)))).every(Boolean),
      { timeoutMs: TUNNELS_TIMEOUT_MS, intervalMs: 250 });
    return true;
  } catch {
    return false;
  }
}

export async function startDemoCapture(status: LabStatus): Promise<{ capture: WanCapture; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'seaway-demo-'));
  return { capture: await startWanCapture(status.wan.namespace, 'br0', join(dir, 'wan.pcap')), dir };
}

/** Stops the capture and says what crossed the WAN; false when a pod or service address was seen in the clear. */
export async function captureReport(status: LabStatus, started: { capture: WanCapture; dir: string }, write: (text: string) => void): Promise<boolean> {
  try {
    await started.capture.stop();
    const cidrs = status.clusters.flatMap((c) => [c.podCidr, c.serviceCidr]);
    const report = await cleartextHits(started.capture.file, cidrs);
    const { totals } = report;
    write(`\nthe WAN while the pods talked (tcpdump on the WAN bridge): ${totals.total} packets: ${totals.ike} IKE, ${totals.espInUdp} ESP in UDP, ${totals.esp} raw ESP, ${totals.natKeepalive} NAT-T keepalives, ${totals.other} other\n`);
    write(report.hits.length === 0
      ? `  no packet with a pod or service address (${cidrs.join(', ')}) in the clear\n`
      : `  ${report.hits.length} packets with a pod or service address in the CLEAR\n`);
    return report.hits.length === 0;
  } finally {
    await rm(started.dir, { recursive: true, force: true });
  }
}

/** Each cluster's Gateways and its active gateway's SAs. */
export async function gatewaysReport(status: LabStatus, write: (text: string) => void): Promise<void> {
  write('\ngateways (the Gateway objects Submariner\'s tools read, and the active gateway\'s IPsec SAs as charon lists them):\n');
  for (const cluster of status.clusters) {
    const gateways = await list(cluster.kubeconfig, NS, 'gateways').catch(() => []);
    for (const gateway of gateways.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))) {
      const connections = gateway.status?.connections.map((c) => `${c.endpoint.cluster_id} ${c.status}`).join(', ') || 'no connections';
      write(`  ${cluster.id}  ${gateway.metadata.name.padEnd(16)} ${(gateway.status?.haStatus ?? '?').padEnd(8)} ${connections}${gateway.status?.statusFailure ? `  (${gateway.status.statusFailure})` : ''}\n`);
    }
    const active = gateways.find((g) => g.status?.haStatus === 'active');
    const node = cluster.nodes.find((n) => n.name === active?.metadata.name);
    if (!node) continue;
    const vici = join(labPaths(status.prefix).node(node.name).gatewayStateDir, 'charon', 'charon.vici');
    const sas = await run('ip', ['netns', 'exec', node.namespace, 'swanctl', '--list-sas', '--uri', `unix://${vici}`], { allowFailure: true });
    // The IKE SA line and each child's traffic selectors: enough to see what is encrypted between whom.
    const lines = sas.stdout.split('\n').filter((l) => /^\S.*IKEv2|^\s+local |^\s+remote |^\s+\S+: #\d+, reqid|^\s+in |^\s+out /.test(l));
    for (const line of lines) write(`      ${line.trim()}\n`);
  }
}
