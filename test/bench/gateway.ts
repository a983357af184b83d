/**
 * Benchmark (issue 13): the gateway role's failover, on the default lab (two gateway nodes per
 * cluster, seaway's own defaults: a 5 s Lease renewed every second), measured as a pod sees it: a
 * ping every 50 ms from a pod of cluster 2 to a pod of cluster 1 that does not run on the node
 * being failed.
 *
 *   crash      every process of the active gateway node killed and its links down: time from the
 *              crash to the first reply through the standby (goal: 8 s median)
 *   sigterm    the active gateway stopped with a ready standby: the longest gap between replies
 *              (goal: at most 1 s)
 *   label      the gateway label removed from the active node: the longest gap (goal: at most 1 s)
 *   new-remote a third cluster's gateway starts: time from its Endpoint's arrival in cluster 1 to
 *              the first reply from a pod of it (goal: under 1 s)
 *
 *   npm run bench -- gateway           node test/bench/gateway.ts [--trials 3] [--no-cables]
 *
 * Then, per cable, time to the first packet and throughput against the bare tool configured by
 * hand in the same run (test/bench/cables.ts, also `npm run bench -- cables` alone).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { labDown, labUp, startAgent, stopAgent } from '../lab/lab.ts';
import type { ClusterStatus, LabStatus, NodeStatus } from '../lab/state.ts';
import { continuousPing, type ContinuousPing } from '../helpers/gateway-pair.ts';
import { waitFor } from '../helpers/wait.ts';
import { activeGateway, BROKER_NS, coreApi, crashNode, customApi, list, nodeNow, NS, restoreNode, waitStandbyReady } from '../e2e/gateway-support.ts';
import { mergePatch, readyAgents } from '../e2e/routing-support.ts';
import { median } from './bench-support.ts';

const { values } = parseArgs({ options: { trials: { type: 'string', default: '3' }, 'no-cables': { type: 'boolean', default: false } } });
const trials = Number(values.trials);
const GATEWAY_ENV = { SEAWAY_LOG_LEVEL: 'info' };
const RECOVERY_MS = 120_000;

async function activeNode(prefix: string, cluster: ClusterStatus): Promise<NodeStatus> {
  // Until the old active's object goes stale, two may say active: the one that holds the Lease is the one that keeps writing.
  const name = await waitFor(`${cluster.id}: one active Gateway`, () => activeGateway(cluster), { timeoutMs: RECOVERY_MS, intervalMs: 100 });
  return nodeNow(prefix, name);
}

const standbyOf = (cluster: ClusterStatus, node: NodeStatus): NodeStatus => cluster.nodes.find((n) => n.gatewayCapable && n.name !== node.name)!;

/** A ping from cluster 2 to a pod of cluster 1 away from `avoid`, running and answered before the trial starts. */
async function pingAway(c1: ClusterStatus, c2: ClusterStatus, avoid: NodeStatus): Promise<ContinuousPing> {
  const to = c1.pods.find((p) => p.node !== avoid.name)!;
  const ping = continuousPing(c2.pods[0]!.namespace, to.ip, { intervalS: 0.05 });
  await waitFor('replies before the trial', () => ping.replies > 10, { timeoutMs: RECOVERY_MS, intervalMs: 20 });
  return ping;
}

/** Seconds from `at` (epoch s) to the first reply after it. */
function firstReplyAfter(replyTimes: readonly number[], at: number): number {
  const next = replyTimes.find((t) => t > at);
  if (next === undefined) throw new Error('no reply after the event');
  return next - at;
}

async function crashTrial(prefix: string, c1: ClusterStatus, c2: ClusterStatus): Promise<number> {
  const active = await activeNode(prefix, c1);
  const standby = standbyOf(c1, active);
  await waitStandbyReady(c1, standby.name);
  const ping = await pingAway(c1, c2, active);
  const crashedAt = Date.now() / 1000;
  await crashNode(prefix, active);
  const before = ping.replies;
  await waitFor('replies through the standby', () => ping.replies > before + 5, { timeoutMs: RECOVERY_MS, intervalMs: 20 });
  const report = await ping.stop();
  await restoreNode(prefix, c1, active, GATEWAY_ENV);
  await waitStandbyReady(c1, active.name, RECOVERY_MS);
  return firstReplyAfter(report.replyTimes, crashedAt);
}

async function gracefulTrial(prefix: string, c1: ClusterStatus, c2: ClusterStatus, how: 'sigterm' | 'label'): Promise<number> {
  const active = await activeNode(prefix, c1);
  const standby = standbyOf(c1, active);
  await waitStandbyReady(c1, standby.name);
  const ping = await pingAway(c1, c2, active);
  const core = coreApi(c1.kubeconfig);
  const label = (value: string | null) => core.patchNode({ name: active.name, body: { metadata: { labels: { 'submariner.io/gateway': value } } } }, mergePatch);
  if (how === 'sigterm') await stopAgent(prefix, active.name, { role: 'gateway', exitTimeoutMs: 30_000 });
  else await label(null);
  await waitFor(`${standby.name} active`, async () =>
    (await list(c1.kubeconfig, NS, 'gateways')).some((g) => g.metadata.name === standby.name && g.status?.haStatus === 'active'), { timeoutMs: RECOVERY_MS, intervalMs: 50 });
  const before = ping.replies;
  await waitFor('replies through the new gateway', () => ping.replies > before + 20, { timeoutMs: RECOVERY_MS, intervalMs: 20 });
  const report = await ping.stop();
  if (how === 'sigterm') await startAgent(prefix, active.name, { role: 'gateway', env: GATEWAY_ENV });
  else await label('true');
  await waitStandbyReady(c1, active.name, RECOVERY_MS);
  return report.maxGapS;
}

async function newRemoteTrial(prefix: string, lab: LabStatus): Promise<number> {
  const [c1, , c3] = lab.clusters as [ClusterStatus, ClusterStatus, ClusterStatus];
  const gateways = c3.nodes.filter((n) => n.gatewayCapable);
  for (const node of gateways) await stopAgent(prefix, node.name, { role: 'gateway', exitTimeoutMs: 30_000 });
  // Its Endpoint gone everywhere (the route agents' grace aside): cluster 3 is new to cluster 1 again.
  const c3Endpoint = async () => (await list(c1.kubeconfig, NS, 'endpoints')).find((e) => e.spec?.cluster_id === c3.id);
  // As an uninstall of cluster 3 leaves things: its Endpoint gone from it and from the broker (cluster 1's copy follows).
  for (const [kubeconfig, namespace] of [[c3.kubeconfig, NS], [lab.broker.kubeconfig, BROKER_NS]] as const) {
    for (const e of (await list(kubeconfig, namespace, 'endpoints')).filter((x) => x.spec?.cluster_id === c3.id)) {
      await customApi(kubeconfig).deleteNamespacedCustomObject({ group: 'submariner.io', version: 'v1', namespace, plural: 'endpoints', name: e.metadata.name });
    }
  }
  await waitFor('cluster 3 gone from cluster 1', async () => (await c3Endpoint()) === undefined, { timeoutMs: RECOVERY_MS, intervalMs: 100 });
  const ping = continuousPing(c1.pods[0]!.namespace, c3.pods[0]!.ip, { intervalS: 0.02 });
  for (const node of gateways) await startAgent(prefix, node.name, { role: 'gateway', env: GATEWAY_ENV });
  const arrived = await waitFor('cluster 3\'s Endpoint in cluster 1', async () => ((await c3Endpoint()) ? Date.now() / 1000 : undefined), { timeoutMs: RECOVERY_MS, intervalMs: 10 });
  await waitFor('a reply from cluster 3', () => ping.replies > 0, { timeoutMs: RECOVERY_MS, intervalMs: 10 });
  const report = await ping.stop();
  // The first reply at all (the Endpoint's arrival is seen by a 10 ms poll: a reply within that is counted as 0).
  return Math.max(0, report.replyTimes[0]! - arrived);
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the gateway benchmark needs root (it runs a lab of network namespaces)');
  const prefix = `swgb${randomBytes(2).toString('hex')}`;
  const lab = await labUp({ prefix, clusters: 3, nodes: 2, gateways: 2, podsPerNode: 1, nodeReadyDelay: 0, cniDelay: 0, wait: true, gatewayEnv: GATEWAY_ENV });
  try {
    await readyAgents(lab);
    const [c1, c2] = lab.clusters as [ClusterStatus, ClusterStatus];
    const results: Record<string, number[]> = { crash: [], sigterm: [], label: [], 'new-remote': [] };
    for (let t = 0; t < trials; t++) {
      results.crash!.push(await crashTrial(prefix, c1, c2));
      results.sigterm!.push(await gracefulTrial(prefix, c1, c2, 'sigterm'));
      results.label!.push(await gracefulTrial(prefix, c1, c2, 'label'));
      results['new-remote']!.push(await newRemoteTrial(prefix, lab));
    }
    const goals: Record<string, string> = { crash: '8 s', sigterm: '1 s', label: '1 s', 'new-remote': '1 s' };
    const what: Record<string, string> = {
      crash: 'crash failover: crash -> first reply through the standby',
      sigterm: 'graceful handover (SIGTERM): longest gap between replies',
      label: 'graceful handover (label removed): longest gap between replies',
      'new-remote': 'new remote cluster: its Endpoint in cluster 1 -> first reply',
    };
    for (const [name, seconds] of Object.entries(results)) {
      console.log(`${what[name]!.padEnd(66)} median ${median(seconds).toFixed(2)} s  (goal ${goals[name]}; trials ${seconds.map((s) => s.toFixed(2)).join(', ')})`);
    }
  } finally {
    await labDown(prefix);
  }
}

await main();
if (!values['no-cables']) {
  const code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, [fileURLToPath(new URL('./cables.ts', import.meta.url))], { stdio: 'inherit' });
    child.on('close', (c) => resolve(c ?? 1));
  });
  if (code !== 0) process.exit(code);
}
