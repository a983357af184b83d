/**
 * Issue 9's "only relevant changes cost work", on a lab cluster of three agents: 100 heartbeat-only
 * Node updates (new heartbeat times, new images, another condition) cause no reconcile pass on any
 * agent, while a change of a Node's Ready condition or of its addresses causes exactly one on every
 * agent watching it. Passes are read from each agent's seaway_reconcile_passes_total.
 *
 * No waiting for "long enough": the relevant change is written after the 100 heartbeats, on the
 * same Nodes and so on the same watch stream, so once an agent's pass for it has run the agent has
 * also seen every heartbeat before it; the count then says whether any of them cost a pass. The
 * agents' periodic resync is a day, and passes are not throttled, so coalescing cannot hide them.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it, type TestContext } from 'node:test';
import { CoreV1Api, KubeConfig, type V1NodeCondition } from '@kubernetes/client-node';
import { requireTools } from '../helpers/prereq.ts';
import { waitFor } from '../helpers/wait.ts';
import { labDown, labUp } from '../lab/lab.ts';
import type { ClusterStatus, LabStatus, NodeStatus } from '../lab/state.ts';
import { total } from './api-support.ts';
import { agentLog, mergePatch, readyAgents } from './routing-support.ts';

const PREFIX = `swhb${randomBytes(2).toString('hex')}`;
const PASSES = 'seaway_reconcile_passes_total';

function condition(type: string, status: string, reason: string, message: string, heartbeat: Date): V1NodeCondition {
  return { type, status, reason, message, lastHeartbeatTime: heartbeat, lastTransitionTime: new Date('2030-01-01T00:00:00Z') };
}

/** The status a kubelet posts: the lab's Ready condition and InternalIP, plus what changes on every heartbeat. */
function kubeletStatus(node: NodeStatus, beat: number, options: { ready?: boolean; extraAddress?: string } = {}) {
  const heartbeat = new Date(Date.UTC(2030, 0, 1, 0, 0, beat));
  const ready = options.ready ?? true;
  return {
    addresses: [
      { type: 'InternalIP', address: node.ip },
      { type: 'Hostname', address: node.name },
      ...(options.extraAddress ? [{ type: 'ExternalIP', address: options.extraAddress }] : []),
    ],
    conditions: [
      condition('Ready', ready ? 'True' : 'False', ready ? 'KubeletReady' : 'KubeletNotReady',
        ready ? 'kubelet is posting ready status' : 'container runtime network not ready (lab: waiting for --node-ready-delay)', heartbeat),
      // Another condition that comes and goes, and images that change: none of it is projected.
      ...(beat % 2 === 0 ? [condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', `free ${beat}`, heartbeat)] : []),
    ],
    images: [{ names: [`registry.example/app:${beat % 7}`], sizeBytes: 1000 + beat }],
  };
}

describe('Node heartbeats cost no reconcile pass (issue 9 acceptance)', () => {
  let lab: LabStatus;
  let cluster: ClusterStatus;
  let nodes: NodeStatus[];
  let core: CoreV1Api;
  let beat = 0;

  const postStatus = (node: NodeStatus, status: object) =>
    core.patchNodeStatus({ name: node.name, body: { status } }, mergePatch);
  const passes = async () => Promise.all(nodes.map((node) => total(node, PASSES)));
  const heartbeats = async (count: number) => {
    for (let i = 0; i < count; i++) {
      beat++;
      const node = nodes[beat % nodes.length] as NodeStatus;
      await postStatus(node, kubeletStatus(node, beat));
    }
  };
  /** Why each pass since `since` ran, from an agent's debug log (said only when an assertion fails). */
  const passReasons = async (node: NodeStatus, since: number) =>
    (await agentLog(node)).filter((l) => l.msg === 'reconcile pass' && Date.parse(String(l.time)) >= since).map((l) => JSON.stringify(l.reasons));

  /** A label change every agent reacts to (a `seaway.io/` label: the only ones kept besides Submariner's), and every agent's pass for it done: no pass is still due after. */
  const settle = async (node: NodeStatus, value: string) => {
    const start = await passes();
    await core.patchNode({ name: node.name, body: { metadata: { labels: { 'seaway.io/test-settled': value } } } }, mergePatch);
    await waitFor('every agent to have run a pass for the settling change', async () => (await passes()).every((n, i) => n > (start[i] ?? 0)), { timeoutMs: 30_000, intervalMs: 100 });
  };
  /** Waits until each observer ran a pass since `base`, then asserts it ran exactly one. */
  const expectOnePassEach = async (t: TestContext, observers: number[], base: number[], since: number, what: string) => {
    await waitFor(`the agents ${observers.map((i) => nodes[i]!.name).join(', ')} to run a pass for ${what}`, async () => {
      const now = await passes();
      return observers.every((i) => (now[i] ?? 0) > (base[i] ?? 0));
    }, { timeoutMs: 30_000, intervalMs: 100 });
    const now = await passes();
    for (const i of observers) {
      t.diagnostic(`${nodes[i]!.name}: ${(now[i] ?? 0) - (base[i] ?? 0)} pass(es) for 100 heartbeats and ${what}`);
      assert.equal(now[i], (base[i] ?? 0) + 1, `${nodes[i]!.name}: passes since the heartbeats began: ${(await passReasons(nodes[i]!, since)).join(' ')}`);
    }
  };

  before(async () => {
    requireTools('ip', 'iptables', 'sysctl');
    lab = await labUp({
      endpoints: true, prefix: PREFIX, clusters: 1, nodes: 3, gateways: 1, nodeReadyDelay: 0, cniDelay: 0, wait: true,
      agentEnv: { SEAWAY_RESYNC_SECONDS: '86400', SEAWAY_MIN_PASS_INTERVAL_MS: '0', SEAWAY_LOG_LEVEL: 'debug' },
    });
    cluster = lab.clusters[0] as ClusterStatus;
    nodes = cluster.nodes;
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfig);
    core = kc.makeApiClient(CoreV1Api);
    await readyAgents(lab);
    // Start from a settled state, so no pass from the start-up is still due when the counting begins.
    await settle(nodes[0]!, 'yes');
  });

  after(async () => {
    await labDown(PREFIX);
  });

  it('100 heartbeat-only updates, then Ready=False on node 3: no pass for the heartbeats, exactly one for the Ready change on the agents of nodes 1 and 2', async (t) => {
    const since = Date.now();
    const base = await passes();
    await heartbeats(100);
    const node3 = nodes[2] as NodeStatus;
    await postStatus(node3, kubeletStatus(node3, ++beat, { ready: false }));
    try {
      await expectOnePassEach(t, [0, 1], base, since, 'one Ready change');
    } finally {
      await postStatus(node3, kubeletStatus(node3, ++beat, { ready: true }));
    }
  });

  it('100 heartbeat-only updates, then a new address on node 1: no pass for the heartbeats, exactly one for the address on every agent (node 1\'s own included)', async (t) => {
    // Node 3's agent went through its own NotReady and back, every agent saw Ready=True again: settle on one more change.
    await readyAgents(lab);
    await settle(nodes[1]!, 'again');
    const since = Date.now();
    const base = await passes();
    await heartbeats(100);
    const node1 = nodes[0] as NodeStatus;
    await postStatus(node1, kubeletStatus(node1, ++beat, { extraAddress: '203.0.113.11' }));
    await expectOnePassEach(t, [0, 1, 2], base, since, 'one address change');
  });
});
