/**
 * Issue 15, item 5: an upgrade from the previous release to this build, as an operator does it, with
 * cross-cluster traffic running. The previous release (the newest `v*` tag that is not this version) is
 * built from its tag, with its own scripts (test/lab/release-build.ts), and installed from its own
 * manifests/ into a lab of two clusters of three nodes with two gateway nodes each. Then, cluster by
 * cluster, `kubectl apply` of this build's manifests, DaemonSet by DaemonSet (the route agents, then the
 * gateways), each rollout awaited with `kubectl rollout status`. Pings both ways between the clusters
 * run throughout, and every Pod ends on this version's image. The test asserts that every gateway
 * change was a graceful handover: no gap between replies as long as a crash failover's lease expiry
 * (5 s). How long the gaps are against the handover's budget (1 s, README) is a figure, printed with
 * each gap's time, not asserted: a wall-clock bound would measure this machine's load.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { run } from '../../src/kernel/exec.ts';
import { continuousPing, type ContinuousPing } from '../helpers/gateway-pair.ts';
import { requireTools } from '../helpers/prereq.ts';
import { waitFor } from '../helpers/wait.ts';
import { REPO_ROOT } from '../lab/agents.ts';
import { GATEWAY_DAEMONSET, MANIFESTS_DIR, ROUTE_AGENT_DAEMONSET } from '../lab/deploy.ts';
import { imageTag, loadImage } from '../lab/image.ts';
import { installSeaway, labDown, labUp } from '../lab/lab.ts';
import { buildRelease, previousReleaseTag, releaseTags, type Release } from '../lab/release-build.ts';
import type { ClusterStatus, LabStatus } from '../lab/state.ts';
import { pings } from './datapath-support.ts';

const NS = 'submariner-operator';
/** The graceful handover's budget (README, "graceful handover"): the longest gap between replies; printed against. */
const HANDOVER_BUDGET_S = 1;
/** A crash failover waits for the lease to expire (5 s by default): a gap this long means a handover was not graceful. */
const NOT_GRACEFUL_S = 5;

interface PodJson { metadata: { name: string }; spec: { nodeName: string; containers: Array<{ image: string }> }; status: { conditions?: Array<{ type: string; status: string }> } }

describe('upgrade from the previous release, DaemonSet by DaemonSet, with traffic running', () => {
  const prefix = `swv${randomBytes(2).toString('hex')}`;
  let lab: LabStatus;
  let release: Release;
  let current: string;
  const kubectl = (cluster: ClusterStatus, args: string[]) => run('kubectl', ['--kubeconfig', cluster.kubeconfig, ...args], { timeoutMs: 600_000 });
  const pods = async (cluster: ClusterStatus): Promise<PodJson[]> => (JSON.parse((await kubectl(cluster, ['get', 'pods', '-n', NS, '-o', 'json'])).stdout) as { items: PodJson[] }).items;
  const ready = (pod: PodJson) => pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

  async function allOn(cluster: ClusterStatus, version: string): Promise<void> {
    const expected = cluster.nodes.length + cluster.nodes.filter((node) => node.gatewayCapable).length;
    await waitFor(`${cluster.id}: ${expected} Pods Ready on ${version}`, async () => {
      const listed = await pods(cluster);
      return listed.length === expected && listed.every((pod) => ready(pod) && imageTag(pod.spec.containers[0]!.image) === version) ? true : undefined;
    }, { timeoutMs: 120_000, intervalMs: 500 });
  }

  before(async () => {
    requireTools('ip', 'iptables', 'kubectl', 'git', 'unshare', 'setpriv', 'chroot', 'buildah', 'debootstrap');
    loadImage();
    current = (JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    const tag = previousReleaseTag(await releaseTags(), current);
    if (!tag) throw new Error(`no earlier release to upgrade from: no releases/v<major>.<minor>.<patch>.tar.gz other than v${current} (scripts/archive-release.sh <tag> makes one)`);
    release = await buildRelease(tag);
    lab = await labUp({ prefix, clusters: 2, nodes: 3, gateways: 2, podsPerNode: 1, nodeReadyDelay: 0, cniDelay: 0, wait: true, deploy: 'manifests', agents: false,
      // Only a bound for a hang: the release was just built, and the other test file runs beside this one.
      waitTimeoutMs: 120_000 });
    await installSeaway(prefix, { manifestsDir: release.manifestsDir });
    for (const cluster of lab.clusters) await allOn(cluster, release.version);
    const [c1, c2] = lab.clusters as [ClusterStatus, ClusterStatus];
    await waitFor('traffic between the clusters on the previous release', () => pings(c2.pods[2]!.namespace, c1.pods[2]!.ip, 1), { timeoutMs: 120_000, intervalMs: 250 });
    await waitFor('and back', () => pings(c1.pods[2]!.namespace, c2.pods[2]!.ip, 1), { timeoutMs: 60_000, intervalMs: 250 });
  });
  after(async () => { await labDown(prefix); });

  it('every Pod ends on this version, every gateway change a graceful handover, traffic flowing throughout', async (t) => {
    const [c1, c2] = lab.clusters as [ClusterStatus, ClusterStatus];
    // Between pods on the nodes that are not gateways: through both clusters' gateways and route agents.
    const traffic: ContinuousPing[] = [
      continuousPing(c2.pods[2]!.namespace, c1.pods[2]!.ip, { intervalS: 0.1 }),
      continuousPing(c1.pods[2]!.namespace, c2.pods[2]!.ip, { intervalS: 0.1 }),
    ];
    try {
      await waitFor('replies before the upgrade', () => traffic.every((ping) => ping.replies > 5), { timeoutMs: 10_000, intervalMs: 50 });
      for (const cluster of [c1, c2]) {
        const started = performance.now();
        // Namespace, CRDs and RBAC first, then one DaemonSet at a time, each rollout awaited.
        for (const file of ['00-namespace.yaml', '01-crds.yaml', '02-rbac-route-agent.yaml', '03-rbac-gateway.yaml']) await kubectl(cluster, ['apply', '-f', join(MANIFESTS_DIR, file)]);
        for (const [file, daemonSet] of [['10-route-agent.yaml', ROUTE_AGENT_DAEMONSET], ['11-gateway.yaml', GATEWAY_DAEMONSET]] as const) {
          await kubectl(cluster, ['apply', '-f', join(MANIFESTS_DIR, file)]);
          await kubectl(cluster, ['rollout', 'status', `daemonset/${daemonSet}`, '-n', NS, '--timeout=300s']);
        }
        await allOn(cluster, current);
        t.diagnostic(`${cluster.id}: upgraded from ${release.version} to ${current} in ${Math.round(performance.now() - started)} ms`);
      }
    } finally {
      const reports = await Promise.all(traffic.map((ping) => ping.stop()));
      for (const [index, report] of reports.entries()) {
        const gaps = report.replyTimes.slice(1).map((time, i) => ({ after: report.replyTimes[i]!, s: time - report.replyTimes[i]! })).filter((gap) => gap.s > 0.5);
        t.diagnostic(`pings ${index === 0 ? 'cluster2 -> cluster1' : 'cluster1 -> cluster2'}: ${report.received} of ${report.transmitted} answered, `
          + `longest gap ${report.maxGapS.toFixed(2)} s (handover budget ${HANDOVER_BUDGET_S} s); gaps over 0.5 s: `
          + `${gaps.map((gap) => `${gap.s.toFixed(2)} s after ${new Date(gap.after * 1000).toISOString()}`).join(', ') || 'none'}`);
      }
      for (const report of reports) assert.ok(report.maxGapS < NOT_GRACEFUL_S, `longest gap ${report.maxGapS.toFixed(2)} s: shorter than a crash failover's ${NOT_GRACEFUL_S} s`);
      for (const report of reports) assert.ok(report.trailingGapS < NOT_GRACEFUL_S, `replies until the end (the last ${report.trailingGapS.toFixed(2)} s without one)`);
    }
  });
});
