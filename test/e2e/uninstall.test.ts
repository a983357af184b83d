/**
 * Issue 15, item 5: uninstall and reinstall as operators do them, on a lab installed from manifests/.
 * - `kubectl apply -f manifests/uninstall/` leaves every node of the cluster as it was before seaway was
 *   installed (routes, rules, links, FDB, iptables in both flavours, nft, ipsets, sysctls), no pod, no
 *   uninstall workload, and none of seaway's objects in the cluster's API or on the broker; also while
 *   the API server answers every request late.
 * - Five quick uninstall/reinstall cycles (each uninstall applied while the install is still starting,
 *   as an interrupted reinstall is) leave exactly one Endpoint per cluster, here and on the broker, and
 *   no duplicate rule; traffic flows again.
 * The figures (time from `kubectl apply` of the uninstall to a clean cluster) go to the test's diagnostics.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { after, before, describe, it } from 'node:test';
import { run } from '../../src/kernel/exec.ts';
import { requireTools } from '../helpers/prereq.ts';
import { waitFor } from '../helpers/wait.ts';
import { AdminClient } from '../lab/apiserver/admin-client.ts';
import { MANIFESTS_DIR } from '../lab/deploy.ts';
import { loadImage } from '../lab/image.ts';
import { installSeaway, labDown, labUp } from '../lab/lab.ts';
import type { ClusterStatus, LabStatus } from '../lab/state.ts';
import { compareRbac, requestsFromAudit } from '../manifests/rbac-coverage.ts';
import { pings } from './datapath-support.ts';
import { describeDifferences, differences, inNode, linkLocalSettled, nodeState, type NodeState } from './cleanup-support.ts';

const NS = 'submariner-operator';
const UNINSTALL_USER = `system:serviceaccount:${NS}:seaway-uninstall`;
const BROKER_NS = 'submariner-k8s-broker';
const UNINSTALL_DIR = join(MANIFESTS_DIR, 'uninstall');
/** A bound that only catches a hang: the figures are printed, not asserted. */
const UNINSTALL_BOUND_MS = 120_000;

interface Item { metadata: { name: string; deletionTimestamp?: string }; spec?: { cluster_id?: string; nodeName?: string }; status?: { conditions?: Array<{ type: string; status: string }> } }

describe('uninstall and reinstall from manifests/', () => {
  const prefix = `swu${randomBytes(2).toString('hex')}`;
  let lab: LabStatus;
  const original = new Map<string, NodeState>();
  const kubectl = async (kubeconfig: string, args: string[], allowFailure = false) =>
    run('kubectl', ['--kubeconfig', kubeconfig, ...args], { timeoutMs: 60_000, allowFailure });
  const items = async (kubeconfig: string, kind: string, namespace = NS): Promise<Item[]> =>
    (JSON.parse((await kubectl(kubeconfig, ['get', kind, '-n', namespace, '-o', 'json'])).stdout) as { items: Item[] }).items;
  const ready = (item: Item) => item.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
  const expectedPods = (cluster: ClusterStatus) => cluster.nodes.length + cluster.nodes.filter((node) => node.gatewayCapable).length;

  async function installed(cluster: ClusterStatus, requireReady: boolean): Promise<void> {
    await waitFor(`${cluster.id}: seaway's ${expectedPods(cluster)} Pods ${requireReady ? 'Ready' : 'created'}`, async () => {
      const pods = await items(cluster.kubeconfig, 'pods');
      return pods.length === expectedPods(cluster) && (!requireReady || pods.every(ready)) ? true : undefined;
    }, { timeoutMs: 90_000, intervalMs: 250 });
  }

  /** `kubectl apply -f manifests/uninstall/`, then until the uninstall workload has removed itself and every Pod is gone; its duration. */
  async function uninstall(cluster: ClusterStatus): Promise<number> {
    const start = performance.now();
    await kubectl(cluster.kubeconfig, ['apply', '-f', UNINSTALL_DIR]);
    await waitFor(`${cluster.id}: the uninstall workload gone, with every Pod`, async () => {
      const [pods, daemonSets, accounts, roles, bindings] = await Promise.all(['pods', 'daemonsets', 'serviceaccounts', 'roles', 'rolebindings'].map((kind) => items(cluster.kubeconfig, kind)));
      const own = [...daemonSets!, ...accounts!, ...roles!, ...bindings!].filter((item) => item.metadata.name === 'seaway-uninstall');
      return pods!.length === 0 && daemonSets!.length === 0 && own.length === 0 ? true : undefined;
    }, { timeoutMs: UNINSTALL_BOUND_MS, intervalMs: 250 });
    return Math.round(performance.now() - start);
  }

  async function assertPristine(cluster: ClusterStatus): Promise<void> {
    for (const node of cluster.nodes) {
      await linkLocalSettled(node);
      const now = await nodeState(node);
      assert.deepEqual(differences(original.get(node.name)!, now), [], `${node.name} as before seaway:${describeDifferences(original.get(node.name)!, now)}`);
    }
    for (const kind of ['endpoints.submariner.io', 'clusters.submariner.io', 'gateways.submariner.io', 'routeagents.submariner.io']) {
      assert.deepEqual((await items(cluster.kubeconfig, kind)).map((item) => item.metadata.name), [], `${cluster.id}: no ${kind} left`);
    }
    assert.equal((await kubectl(cluster.kubeconfig, ['get', 'lease', 'seaway-gateway-lock', '-n', NS], true)).code, 1, 'no election Lease left');
    const brokerCopies = (await items(lab.broker.kubeconfig, 'endpoints.submariner.io', BROKER_NS)).filter((item) => item.spec?.cluster_id === cluster.id);
    assert.deepEqual(brokerCopies.map((item) => item.metadata.name), [], `${cluster.id}: no Endpoint left on the broker`);
    assert.equal((await kubectl(lab.broker.kubeconfig, ['get', 'clusters.submariner.io', cluster.id, '-n', BROKER_NS], true)).code, 1, 'no Cluster left on the broker');
  }

  before(async () => {
    requireTools('ip', 'bridge', 'iptables-legacy-save', 'iptables-nft-save', 'nft', 'ipset', 'sysctl', 'kubectl', 'unshare', 'setpriv', 'chroot');
    loadImage();
    lab = await labUp({ prefix, clusters: 2, nodes: 2, gateways: 1, podsPerNode: 1, nodeReadyDelay: 0, cniDelay: 0, wait: true, deploy: 'manifests', agents: false });
    for (const cluster of lab.clusters) {
      for (const node of cluster.nodes) {
        await linkLocalSettled(node);
        original.set(node.name, await nodeState(node));
      }
    }
    await installSeaway(prefix);
    for (const cluster of lab.clusters) await installed(cluster, true);
  });
  after(async () => { await labDown(prefix); });

  const [c1, c2] = [() => lab.clusters[0]!, () => lab.clusters[1]!];
  const trafficFlows = async () => {
    for (const [from, to] of [[c1(), c2()], [c2(), c1()]] as const) {
      for (const pod of from.pods) await waitFor(`${pod.name} to reach ${to.pods[0]!.name}`, () => pings(pod.namespace, to.pods[0]!.ip, 1), { timeoutMs: 90_000, intervalMs: 250 });
    }
  };

  it('installed from manifests/, the two clusters\' pods reach each other', trafficFlows);

  it('uninstall leaves cluster1\'s nodes as before seaway, no Pod, and nothing of seaway in its API or on the broker', async (t) => {
    const ms = await uninstall(c1());
    t.diagnostic(`uninstall of ${c1().id} (${c1().nodes.length} nodes): ${ms} ms from kubectl apply to no Pod and no uninstall workload`);
    await assertPristine(c1());
    // Its RBAC, against what it asked for: every request allowed, every grant used.
    const { entries } = await new AdminClient({ socketPath: c1().apiserver.socket }).requests();
    const documents = loadAll(await readFile(join(UNINSTALL_DIR, 'uninstall.yaml'), 'utf8'));
    const requests = requestsFromAudit(entries).filter((request) => request.user === UNINSTALL_USER);
    assert.ok(requests.length > 0, 'the uninstall pods used their service account');
    const coverage = compareRbac(documents, requests, { users: [UNINSTALL_USER] });
    assert.deepEqual(coverage.missing.map((m) => m.message), [], 'every request of the uninstall granted');
    assert.deepEqual(coverage.unused.map((u) => u.message), [], 'every grant of the uninstall used');
  });

  it('with the API server answering every request 300 ms late, uninstall still finishes and leaves the nodes pristine', async (t) => {
    await installSeaway(prefix, { clusters: [c1().id] });
    await installed(c1(), true);
    const admin = new AdminClient({ socketPath: c1().apiserver.socket });
    await admin.slow(300);
    try {
      const ms = await uninstall(c1());
      t.diagnostic(`uninstall of ${c1().id} with 300 ms per API request: ${ms} ms`);
    } finally {
      await admin.slow(0);
    }
    await assertPristine(c1());
  });

  it('five quick uninstall/reinstall cycles leave one Endpoint per cluster here and on the broker, no duplicate rule, and traffic', async (t) => {
    for (let cycle = 1; cycle <= 5; cycle++) {
      await installSeaway(prefix, { clusters: [c1().id] });
      // Interrupted: the uninstall comes while the agents are still starting.
      await installed(c1(), false);
      const ms = await uninstall(c1());
      t.diagnostic(`cycle ${cycle}: uninstall ${ms} ms`);
    }
    await installSeaway(prefix, { clusters: [c1().id] });
    await installed(c1(), true);
    await trafficFlows();
    const perCluster = (endpoints: Item[]) => Object.fromEntries(['cluster1', 'cluster2'].map((id) => [id, endpoints.filter((e) => e.spec?.cluster_id === id).length]));
    for (const cluster of lab.clusters) {
      await waitFor(`${cluster.id}: one Endpoint per cluster`, async () => {
        const counts = perCluster(await items(cluster.kubeconfig, 'endpoints.submariner.io'));
        return counts.cluster1 === 1 && counts.cluster2 === 1 ? true : undefined;
      }, { timeoutMs: 60_000, intervalMs: 250 });
    }
    await waitFor('the broker: one Endpoint per cluster', async () => {
      const counts = perCluster(await items(lab.broker.kubeconfig, 'endpoints.submariner.io', BROKER_NS));
      return counts.cluster1 === 1 && counts.cluster2 === 1 ? true : undefined;
    }, { timeoutMs: 60_000, intervalMs: 250 });
    for (const node of c1().nodes) {
      const duplicates = async (file: string, args: string[]) => {
        const lines = (await inNode(node, file, args)).stdout.split('\n').filter((line) => line.startsWith('-A ') || /^\d+:/.test(line)).map((line) => line.replace(/^\d+:\s*/, ''));
        return lines.filter((line, index) => lines.indexOf(line) !== index);
      };
      assert.deepEqual(await duplicates('iptables-save', []), [], `${node.name}: no duplicate iptables rule`);
      assert.deepEqual(await duplicates('ip', ['rule', 'show']), [], `${node.name}: no duplicate routing rule`);
    }
  });
});

