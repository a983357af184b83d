/**
 * Issue 15, item 2: seaway installed into the lab as an operator installs it. `lab up --deploy
 * manifests` creates the seaway-cluster ConfigMap and the two Secrets, runs `kubectl apply -f
 * manifests/`, and each node's kubelet runs the DaemonSets' Pods from the image `npm run image` built
 * (chrooted into its root filesystem, with the capabilities the manifests grant).
 * - `kubectl get pods -A -o wide` shows every agent Running and Ready on its node.
 * - Pods of the two clusters reach each other through the gateways the DaemonSet started.
 * - A liveness probe that fails (the agent frozen) makes the kubelet restart the agent.
 * - `kubectl delete -f manifests/` removes every agent Pod and process.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { run } from '../../src/kernel/exec.ts';
import { requireTools } from '../helpers/prereq.ts';
import { waitFor } from '../helpers/wait.ts';
import { GATEWAY_DAEMONSET, MANIFESTS_DIR, ROUTE_AGENT_DAEMONSET } from '../lab/deploy.ts';
import { loadImage } from '../lab/image.ts';
import { kubeletStateFile, type KubeletNodeState } from '../lab/kubelet.ts';
import { labDown, labStatus, labUp } from '../lab/lab.ts';
import { labPaths } from '../lab/paths.ts';
import { isAlive } from '../lab/processes.ts';
import type { LabStatus } from '../lab/state.ts';
import { pings } from './datapath-support.ts';

const NS = 'submariner-operator';
// A frozen agent is found in seconds rather than the manifest's 30; the delay covers a start on a busy machine.
const LIVENESS = { initialDelaySeconds: 10, periodSeconds: 1, failureThreshold: 3, timeoutSeconds: 1 };

interface PodJson {
  metadata: { name: string; labels?: Record<string, string> };
  spec: { nodeName: string };
  status: { podIP?: string; phase?: string; conditions?: Array<{ type: string; status: string }>; containerStatuses?: Array<{ restartCount: number; ready: boolean }> };
}

describe('seaway deployed from manifests/ by the lab\'s DaemonSet controller and kubelets', () => {
  const prefix = `swd${randomBytes(2).toString('hex')}`;
  let lab: LabStatus;
  const kubectl = (cluster: number, args: string[], allowFailure = false) =>
    run('kubectl', ['--kubeconfig', lab.clusters[cluster]!.kubeconfig, ...args], { timeoutMs: 60_000, allowFailure });
  const pods = async (cluster: number): Promise<PodJson[]> => (JSON.parse((await kubectl(cluster, ['get', 'pods', '-n', NS, '-o', 'json'])).stdout) as { items: PodJson[] }).items;
  const ready = (pod: PodJson) => pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

  before(async () => {
    requireTools('ip', 'iptables', 'kubectl', 'unshare', 'setpriv', 'chroot');
    loadImage();
    lab = await labUp({
      prefix, clusters: 2, nodes: 2, gateways: 1, podsPerNode: 1, nodeReadyDelay: 0, cniDelay: 0, wait: true, deploy: 'manifests',
      podTimers: { [ROUTE_AGENT_DAEMONSET]: { liveness: LIVENESS, terminationGracePeriodSeconds: 2 } },
    });
  });
  after(async () => { await labDown(prefix); });

  it('kubectl get pods -A -o wide shows the route agent on every node and the gateway on the gateway node, Running and Ready', async () => {
    for (const [index, cluster] of lab.clusters.entries()) {
      const expected = cluster.nodes.length + cluster.nodes.filter((node) => node.gatewayCapable).length;
      const listed = await waitFor(`${cluster.id}: ${expected} seaway Pods Ready`, async () => {
        const items = await pods(index);
        return items.length === expected && items.every(ready) ? items : undefined;
      }, { timeoutMs: 90_000, intervalMs: 500 });
      for (const node of cluster.nodes) {
        const onNode = listed.filter((pod) => pod.spec.nodeName === node.name).map((pod) => pod.metadata.name.replace(/-[0-9a-f]{5}$/, '')).sort();
        assert.deepEqual(onNode, node.gatewayCapable ? [GATEWAY_DAEMONSET, ROUTE_AGENT_DAEMONSET] : [ROUTE_AGENT_DAEMONSET], node.name);
      }
      const wide = (await kubectl(index, ['get', 'pods', '-A', '-o', 'wide'])).stdout;
      for (const pod of listed) {
        assert.match(wide, new RegExp(`^${NS}\\s+${pod.metadata.name}\\s+1/1\\s+Running\\s+0\\s+\\S+\\s+${pod.status.podIP!.replaceAll('.', '\\.')}\\s+${pod.spec.nodeName}\\s`, 'm'), wide);
      }
    }
  });

  it('the pods of the two clusters reach each other through the deployed gateways', async () => {
    const [c1, c2] = [lab.clusters[0]!, lab.clusters[1]!];
    for (const [from, to] of [[c1, c2], [c2, c1]] as const) {
      for (const pod of from.pods) {
        await waitFor(`${pod.name} to reach ${to.pods[0]!.name}`, () => pings(pod.namespace, to.pods[0]!.ip, 1), { timeoutMs: 60_000, intervalMs: 200 });
      }
    }
  });

  it('an agent whose liveness probe fails is restarted by the kubelet, and turns Ready again', async () => {
    const node = lab.clusters[0]!.nodes[1]!;
    const stateFile = kubeletStateFile(labPaths(prefix).node(node.name).dir);
    const agentOf = async () => {
      const state = JSON.parse(await readFile(stateFile, 'utf8')) as KubeletNodeState;
      const entry = Object.entries(state.pods).find(([name]) => name.startsWith(`${NS}/${ROUTE_AGENT_DAEMONSET}-`));
      return entry?.[1].containers[ROUTE_AGENT_DAEMONSET] ?? Object.values(entry?.[1].containers ?? {})[0];
    };
    const before = await agentOf();
    assert.ok(before?.pid, 'the agent runs');
    // Frozen, not dead: only the failing probe can tell the kubelet.
    process.kill(before.pid, 'SIGSTOP');
    const restarted = await waitFor('the kubelet to restart the frozen agent', async () => {
      const now = await agentOf();
      return now && now.pid !== null && now.pid !== before.pid && now.restartCount === before.restartCount + 1 ? now : undefined;
    }, { timeoutMs: 30_000, intervalMs: 200 });
    assert.equal(before.restartCount, 0, 'the agent had not been restarted before');
    await waitFor('the restarted agent Ready', async () => {
      const pod = (await pods(0)).find((p) => p.spec.nodeName === node.name && p.metadata.name.startsWith(ROUTE_AGENT_DAEMONSET));
      return pod && ready(pod) && pod.status.containerStatuses?.[0]?.restartCount === before.restartCount + 1 ? true : undefined;
    }, { timeoutMs: 30_000, intervalMs: 200 });
    assert.notEqual(restarted.pid, before.pid);
    assert.equal(isAlive(before.pid), false, 'the frozen process is gone');
  });

  it('kubectl delete -f manifests/ removes every agent Pod and process', async () => {
    const cluster = lab.clusters[0]!;
    const running = (await labStatus(prefix)).clusters.find((c) => c.id === cluster.id)!.nodes.flatMap((node) => [node.agent?.pid, node.gateway?.pid]).filter((pid) => pid !== undefined);
    assert.equal(running.length, 3, 'two route agents and a gateway ran');
    await kubectl(0, ['delete', '-f', MANIFESTS_DIR, '--wait=false']);
    await waitFor('no seaway Pod left in cluster1', async () => ((await pods(0)).length === 0 ? true : undefined), { timeoutMs: 60_000, intervalMs: 500 });
    await waitFor('no agent process left on cluster1\'s nodes', async () => {
      const status = await labStatus(prefix);
      const nodes = status.clusters.find((c) => c.id === cluster.id)!.nodes;
      return nodes.every((node) => !node.agent && !node.gateway) && running.every((pid) => !isAlive(pid)) ? true : undefined;
    }, { timeoutMs: 60_000, intervalMs: 500 });
    // The other cluster, not deleted from, runs on.
    assert.equal((await pods(1)).filter(ready).length, 3);
  });
});
