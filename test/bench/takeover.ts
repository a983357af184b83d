/**
 * Benchmark (issue 9): a gateway takeover as Submariner performs it (the cluster's Endpoint deleted,
 * a new one created naming another gateway node, new cable name), on a lab cluster of 3 nodes. Prints
 * the median time from the new Endpoint's creation until every node of the cluster is programmed for
 * the new gateway (routes, VXLAN remote, table 150, FDB), and kernel deletions seen during the gap
 * (the goal is 0: fail static). The gap itself is fixed by the benchmark, not measured.
 *
 *   npm run bench -- takeover          node test/bench/takeover.ts [--trials 5] [--gap-ms 1000]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { waitFor } from '../helpers/wait.ts';
import { labDown, labUp } from '../lab/lab.ts';
import type { ClusterStatus, NodeStatus } from '../lab/state.ts';
import { expectedRouting, nodeRouting, readyAgents, submarinerApi } from '../e2e/routing-support.ts';

const { values } = parseArgs({ options: { trials: { type: 'string', default: '5' }, 'gap-ms': { type: 'string', default: '1000' } } });
const trials = Number(values.trials);
const gapMs = Number(values['gap-ms']);

function deletions(namespace: string): { count: () => number; stop: () => Promise<void> } {
  const child: ChildProcess = spawn('ip', ['-n', namespace, 'monitor', 'route', 'rule', 'link', 'address', 'neigh'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => { text += chunk.toString('utf8'); });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return { count: () => text.split('\n').filter((l) => l.startsWith('Deleted')).length, stop: async () => { child.kill('SIGTERM'); await exited; } };
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the takeover benchmark needs root (it runs a lab of network namespaces)');
  const prefix = `swt${randomBytes(2).toString('hex')}`;
  const lab = await labUp({ endpoints: true, prefix, clusters: 2, nodes: 3, gateways: 2, podsPerNode: 0, nodeReadyDelay: 0, cniDelay: 0, wait: true, agentEnv: { SEAWAY_RESYNC_SECONDS: '86400' } });
  try {
    await readyAgents(lab);
    const [c1, c2] = lab.clusters as [ClusterStatus, ClusterStatus];
    const api = submarinerApi(c1);
    const switchMs: number[] = [];
    const gapDeletions: number[] = [];
    for (let t = 0; t < trials * 2; t++) {
      const to = c1.nodes[(t + 1) % 2] as NodeStatus;
      const old = (await api.list()).find((e) => (e.spec as { cluster_id: string }).cluster_id === c1.id)!;
      const spec: Record<string, unknown> = { ...(old.spec as Record<string, unknown>), hostname: to.name, private_ip: to.ip, public_ip: to.wanIp, cable_name: `submariner-cable-${c1.id}-${randomBytes(3).toString('hex')}` };
      delete spec.privateIPs;
      delete spec.publicIPs;
      const monitors = c1.nodes.map((n) => deletions(n.namespace));
      await api.remove(old.metadata.name);
      const gapEnds = Date.now() + gapMs;
      await waitFor('the gap', () => Date.now() >= gapEnds, { timeoutMs: gapMs + 5000, intervalMs: 10 });
      gapDeletions.push(monitors.reduce((sum, m) => sum + m.count(), 0));
      const start = performance.now();
      await api.create(`${c1.id}-${String(spec.cable_name)}`, spec);
      for (const node of c1.nodes) {
        const expected = JSON.stringify(expectedRouting(c1, node, to, [c2.podCidr, c2.serviceCidr]));
        await waitFor(`${node.name} programmed for ${to.name}`, async () => JSON.stringify(await nodeRouting(node.namespace)) === expected, { timeoutMs: 30_000, intervalMs: 2 });
      }
      switchMs.push(performance.now() - start);
      await Promise.all(monitors.map((m) => m.stop()));
    }
    console.log(`gateway takeover on a 3-node cluster (Endpoint deleted, ${gapMs} ms gap, new Endpoint naming the other node), ${switchMs.length} switches`);
    console.log(`  switch: new Endpoint created -> every node programmed for the new gateway: median ${median(switchMs).toFixed(0)} ms (min ${Math.min(...switchMs).toFixed(0)}, max ${Math.max(...switchMs).toFixed(0)})`);
    console.log(`  kernel deletions on the cluster's nodes during the gap: ${gapDeletions.join(', ')} (goal 0 each)`);
    if (gapDeletions.some((d) => d > 0)) process.exitCode = 1;
  } finally {
    await labDown(prefix);
  }
}

await main();
