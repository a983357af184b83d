/**
 * Fail static (issue 9): Submariner replaces an Endpoint on every gateway takeover by deleting it
 * and creating a new one (new cable name, new object name). In that gap no node may tear anything
 * down: the local cluster's gateway is held, and a remote cluster keeps its routes (never falling
 * through to the default route, masqueraded onto the underlay in the clear).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { run } from '../../src/kernel/exec.ts';
import { requireTools } from '../helpers/prereq.ts';
import { waitFor } from '../helpers/wait.ts';
import { httpGetUnix } from '../lab/http-unix.ts';
import { labDown, labUp } from '../lab/lab.ts';
import { cutApi, liftApiFault } from '../lab/api-faults.ts';
import type { ClusterStatus, LabStatus, NodeStatus } from '../lab/state.ts';
import { agentMetrics, expectedRouting, nodeRouting, readyAgents, submarinerApi, type EndpointBody } from './routing-support.ts';

const PREFIX = `swq${randomBytes(2).toString('hex')}`;
/** Long enough for a gap of seconds; the test of the grace's end waits for it. */
const GRACE_SECONDS = 6;
/** How long each gap lasts: Submariner's takeover takes about as long (lease, election, broker sync). */
const GAP_MS = 2000;

/** Every change the kernel reports in a namespace (routes, rules, links, addresses, neighbours/FDB). */
function monitorKernel(namespace: string): { deletions: () => string[]; changes: () => string[]; stop: () => Promise<void> } {
  const child: ChildProcess = spawn('ip', ['-n', namespace, 'monitor', 'route', 'rule', 'link', 'address', 'neigh'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => { text += chunk.toString('utf8'); });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  // IPv6 multicast addresses' neighbour entries (ff02::16 lladdr 33:33:00:00:00:16 NOARP) are the
  // kernel's own mapping, made and collected as it sees fit: nobody's write. seaway writes no IPv6 neighbour.
  const kernelsMulticast = (l: string) => /^(Deleted )?ff[0-9a-f]{2}:\S* dev \S+ lladdr 33:33:/.test(l);
  return {
    deletions: () => text.split('\n').filter((l) => l.startsWith('Deleted') && !kernelsMulticast(l)),
    // The kernel's own IPv6 link-local addresses finishing DAD are nobody's write.
    // Neighbour reachability (STALE, REACHABLE, ...) is the kernel's own bookkeeping, not a write either.
    // (An address event's second line, "valid_lft ...", belongs to the line before it.)
    changes: () => text.split('\n').filter((l) => l !== '' && !/ fe80::/.test(l) && !/^\s+valid_lft/.test(l) && !/ (STALE|REACHABLE|DELAY|PROBE|FAILED|INCOMPLETE)\s*$/.test(l) && !kernelsMulticast(l)),
    stop: async () => { child.kill('SIGTERM'); await exited; },
  };
}

/** A ping running through the whole operation: how many were sent and answered. */
function pingDuring(namespace: string, target: string, seconds: number): Promise<{ sent: number; received: number; text: string }> {
  // A count, with a deadline well past it: the last echo of a count is waited for, unlike with -w alone.
  return run('ip', ['netns', 'exec', namespace, 'ping', '-n', '-q', '-i', '0.05', '-c', String(seconds * 20), '-w', String(seconds + 10), target], { allowFailure: true, timeoutMs: (seconds + 20) * 1000 })
    .then(({ stdout }) => {
      const m = /(\d+) packets transmitted, (\d+) received/.exec(stdout);
      return { sent: Number(m?.[1] ?? 0), received: Number(m?.[2] ?? 0), text: stdout };
    });
}

const readyz = async (node: NodeStatus) => httpGetUnix(node.agent!.socket, '/readyz');

describe('fail static through Submariner\'s delete-then-create takeovers (issue 9)', () => {
  let lab: LabStatus;
  let c1: ClusterStatus;
  let c2: ClusterStatus;

  before(async () => {
    requireTools('ip', 'ping', 'tcpdump');
    lab = await labUp({
      endpoints: true, prefix: PREFIX, clusters: 2, nodes: 3, gateways: 2, podsPerNode: 1, nodeReadyDelay: 0, cniDelay: 0, wait: true,
      // A resync every 2 s: passes keep running through every gap and cut, so "nothing written" is tested, not assumed.
      agentEnv: { SEAWAY_RESYNC_SECONDS: '2', SEAWAY_REMOTE_GRACE_SECONDS: String(GRACE_SECONDS), SEAWAY_API_RETRY_MAX_MS: '2000' },
    });
    [c1, c2] = lab.clusters as [ClusterStatus, ClusterStatus];
    await readyAgents(lab);
  });

  after(async () => { await labDown(PREFIX); });

  /** Deletes the Endpoint of `of` from `inCluster`'s API, waits the gap, creates its successor (new cable, new name); returns the successor. */
  async function replaceEndpoint(
    inCluster: ClusterStatus, of: ClusterStatus, change: (spec: Record<string, unknown>) => void, duringGap?: () => Promise<void>, atGapEnd?: () => void,
  ): Promise<EndpointBody> {
    const api = submarinerApi(inCluster);
    const old = (await api.list()).find((e) => (e.spec as { cluster_id: string }).cluster_id === of.id);
    assert.ok(old, `${of.id}'s Endpoint in ${inCluster.id}`);
    const spec = { ...(old.spec as Record<string, unknown>) };
    spec.cable_name = `submariner-cable-${of.id}-takeover-${randomBytes(2).toString('hex')}`;
    change(spec);
    await api.remove(old.metadata.name);
    const gapEnds = Date.now() + GAP_MS;
    await duringGap?.();
    await waitFor('the end of the gap', () => Date.now() >= gapEnds, { timeoutMs: GAP_MS + 5000, intervalMs: 50 });
    atGapEnd?.();
    return api.create(`${of.id}-${String(spec.cable_name)}`, spec);
  }

  it('the local Endpoint replaced with the same gateway node and a new cable name: no kernel deletion on any node, no lost ping', async () => {
    const monitors = c1.nodes.map((n) => monitorKernel(n.namespace));
    const from = c1.pods.find((p) => p.node === c1.nodes[2]!.name)!;
    const to = c2.pods.find((p) => p.node === c2.nodes[2]!.name)!;
    try {
      const pinging = pingDuring(from.namespace, to.ip, 6);
      await replaceEndpoint(c1, c1, () => undefined, async () => {
        // In the gap every node says what it holds, and keeps its datapath.
        await Promise.all(c1.nodes.map((n) => waitFor(`${n.name} readiness naming the held local Endpoint`, async () => /local-endpoint: /.test((await readyz(n)).body), { timeoutMs: 5000, intervalMs: 20 })));
      });
      await Promise.all(c1.nodes.map((n) => waitFor(`${n.name} ready again`, async () => (await readyz(n)).status === 200, { timeoutMs: 10_000, intervalMs: 50 })));
      const ping = await pinging;
      assert.ok(ping.sent > 50, `the ping ran through the takeover: ${ping.text}`);
      assert.equal(ping.received, ping.sent, `no ping lost: ${ping.text}`);
    } finally {
      await Promise.all(monitors.map((m) => m.stop()));
    }
    monitors.forEach((m, i) => assert.deepEqual(m.deletions(), [], `${c1.nodes[i]!.name}: kernel deletions`));
  });

  it('a remote cluster\'s Endpoint replaced: its routes stay through the gap and no pod packet to it leaves a node\'s underlay in the clear', async () => {
    const worker = c1.nodes[2] as NodeStatus;
    const from = c1.pods.find((p) => p.node === worker.name)!;
    const to = c2.pods.find((p) => p.node === c2.nodes[2]!.name)!;
    const monitor = monitorKernel(worker.namespace);
    const capture = spawn('ip', ['netns', 'exec', worker.namespace, 'tcpdump', '-n', '-l', '-i', 'eth0', 'dst', 'net', c2.podCidr], { stdio: ['ignore', 'pipe', 'pipe'] });
    let captured = '';
    capture.stdout.on('data', (chunk: Buffer) => { captured += chunk.toString('utf8'); });
    let listening!: () => void;
    const ready = new Promise<void>((resolve) => { listening = resolve; });
    capture.stderr.on('data', (chunk: Buffer) => { if (/listening on/.test(chunk.toString('utf8'))) listening(); });
    const captureExited = new Promise<void>((resolve) => capture.on('exit', () => resolve()));
    try {
      await ready;
      const pinging = pingDuring(from.namespace, to.ip, 5);
      await replaceEndpoint(c1, c2, () => undefined, async () => {
        await waitFor(`${worker.name} still routing ${c2.podCidr} in the gap`, async () => (await nodeRouting(worker.namespace)).main.some((r) => r.startsWith(`${c2.podCidr} via`)), { timeoutMs: 2000, intervalMs: 20 });
      });
      const ping = await pinging;
      assert.equal(ping.received, ping.sent, `no ping lost while ${c2.id}'s Endpoint was replaced: ${ping.text}`);
    } finally {
      capture.kill('SIGTERM');
      await captureExited;
      await monitor.stop();
    }
    assert.equal(captured.trim(), '', `pod packets to ${c2.podCidr} on ${worker.name}'s underlay in the clear:\n${captured}`);
    assert.deepEqual(monitor.deletions().filter((l) => l.includes(c2.podCidr) || l.includes(c2.serviceCidr)), [], `${c2.id}'s routes were never removed`);
  });

  it('a remote cluster whose Endpoint does not come back loses its routes when the grace ends, with no trigger', async () => {
    const api = submarinerApi(c1);
    const endpoint = (await api.list()).find((e) => (e.spec as { cluster_id: string }).cluster_id === c2.id)!;
    const worker = c1.nodes[2] as NodeStatus;
    const removedAt = Date.now();
    await api.remove(endpoint.metadata.name);
    await waitFor(`${c2.id}'s routes gone from ${worker.name} after the grace`, async () => !(await nodeRouting(worker.namespace)).main.some((r) => r.startsWith(c2.podCidr)), { timeoutMs: (GRACE_SECONDS + 10) * 1000, intervalMs: 100 });
    assert.ok(Date.now() - removedAt >= GRACE_SECONDS * 1000 - 100, 'not before the grace ended');
    await api.create(endpoint.metadata.name, endpoint.spec);
  });
  it('the local Endpoint replaced with another gateway node: no kernel deletion during the gap, then every node follows the new gateway', async () => {
    const monitors = c1.nodes.map((n) => monitorKernel(n.namespace));
    const newGateway = c1.nodes[1] as NodeStatus;
    let gapDeletions: string[][] = [];
    try {
      await replaceEndpoint(c1, c1, (spec) => {
        spec.hostname = newGateway.name; spec.private_ip = newGateway.ip; spec.public_ip = newGateway.wanIp;
        delete spec.privateIPs; delete spec.publicIPs;
      }, async () => {
        await waitFor('the gap to be seen by every node', async () => (await Promise.all(c1.nodes.map(async (n) => /local-endpoint: /.test((await readyz(n)).body)))).every(Boolean), { timeoutMs: 5000, intervalMs: 20 });
      }, () => { gapDeletions = monitors.map((m) => m.deletions()); });
      for (const node of c1.nodes) {
        const expected = expectedRouting(c1, node, newGateway, [c2.podCidr, c2.serviceCidr]);
        await waitFor(`${node.name} following the new gateway`, async () => JSON.stringify(await nodeRouting(node.namespace)) === JSON.stringify(expected), { timeoutMs: 10_000, intervalMs: 50 });
      }
    } finally {
      await Promise.all(monitors.map((m) => m.stop()));
    }
    gapDeletions.forEach((d, i) => assert.deepEqual(d, [], `${c1.nodes[i]!.name}: kernel deletions during the gap`));
    // Back to node 1, where the lab's WAN stands in for the tunnels, for the tests that follow.
    const original = c1.nodes[0] as NodeStatus;
    await replaceEndpoint(c1, c1, (spec) => { spec.hostname = original.name; spec.private_ip = original.ip; spec.public_ip = original.wanIp; });
    for (const node of c1.nodes) {
      const expected = expectedRouting(c1, node, original, [c2.podCidr, c2.serviceCidr]);
      await waitFor(`${node.name} back on ${original.name}`, async () => JSON.stringify(await nodeRouting(node.namespace)) === JSON.stringify(expected), { timeoutMs: 10_000, intervalMs: 50 });
    }
  });
  for (const mode of ['blackhole', 'reset'] as const) {
    it(`the API ${mode === 'blackhole' ? 'blackholed' : 'resetting every connection'} (8 s): passes go on, no kernel write on any node, pod traffic flows`, async () => {
      const writes = async (node: NodeStatus) => [...(await agentMetrics(node)).matchAll(/^seaway_kernel_operations_total\{[^}]*op="write"[^}]*\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
      const passes = async (node: NodeStatus) => [...(await agentMetrics(node)).matchAll(/^seaway_reconcile_passes_total\{[^}]*\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
      const before = await Promise.all(c1.nodes.map(async (n) => ({ writes: await writes(n), passes: await passes(n) })));
      const monitors = c1.nodes.map((n) => monitorKernel(n.namespace));
      const from = c1.pods.find((p) => p.node === c1.nodes[2]!.name)!;
      const to = c2.pods.find((p) => p.node === c2.nodes[2]!.name)!;
      await cutApi(PREFIX, c1.id, mode);
      try {
        const pinging = pingDuring(from.namespace, to.ip, 6);
        const cutEnds = Date.now() + 8000;
        await waitFor('the end of the cut', () => Date.now() >= cutEnds, { timeoutMs: 15_000, intervalMs: 100 });
        const ping = await pinging;
        assert.equal(ping.received, ping.sent, `no ping lost while the API was cut: ${ping.text}`);
      } finally {
        await liftApiFault(PREFIX, c1.id);
        await Promise.all(monitors.map((m) => m.stop()));
      }
      for (const [i, node] of c1.nodes.entries()) {
        assert.deepEqual(monitors[i]!.changes(), [], `${node.name}: kernel changes while the API was cut`);
        assert.equal(await writes(node), before[i]!.writes, `${node.name}: seaway_kernel_operations_total{op="write"}`);
        assert.ok(await passes(node) >= before[i]!.passes + 2, `${node.name}: passes went on during the cut`);
      }
      await Promise.all(c1.nodes.map((n) => waitFor(`${n.name} ready after the API is back`, async () => (await readyz(n)).status === 200, { timeoutMs: 30_000, intervalMs: 100 })));
    });
  }
});
