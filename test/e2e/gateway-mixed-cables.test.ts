/**
 * Two clusters whose gateways run different cables (cluster1 IPsec, cluster2 WireGuard): no tunnel
 * can exist, and each side says so clearly: its Gateway object lists the other cluster as an error
 * naming both cables, its metrics count the rejection, and nothing is routed in the clear meanwhile.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { labDown, labUp } from '../lab/lab.ts';
import type { ClusterStatus, LabStatus } from '../lab/state.ts';
import { requireTools } from '../helpers/prereq.ts';
import { waitFor } from '../helpers/wait.ts';
import { cleartextHits, describePackets, startWanCapture } from '../helpers/wan-capture.ts';
import { activeGateway, gatewayHttp, list, nodeNow, NS } from './gateway-support.ts';
import { pings } from './datapath-support.ts';
import { metricValue } from './routing-support.ts';

const PREFIX = 'swgwmix';

describe('clusters with different cables', () => {
  let lab: LabStatus;
  let c1: ClusterStatus;
  let c2: ClusterStatus;

  before(async () => {
    requireTools('ip', 'iptables', 'ping', 'tcpdump', 'charon-systemd', 'wireguard-go', 'unshare');
    lab = await labUp({ prefix: PREFIX, clusters: 2, nodes: 2, gateways: 1, podsPerNode: 1, nodeReadyDelay: 0, cniDelay: 0, wait: true, cable: 'ipsec', cableOverrides: { cluster2: 'wireguard' } });
    [c1, c2] = lab.clusters as [ClusterStatus, ClusterStatus];
  });

  after(async () => {
    await labDown(PREFIX);
  });

  for (const [side, other, mine, theirs] of [['cluster1', 'cluster2', 'libreswan', 'wireguard'], ['cluster2', 'cluster1', 'wireguard', 'libreswan']] as const) {
    it(`${side}'s Gateway lists ${other} as an error naming both cables, and its metrics count the rejection`, async () => {
      const cluster = side === 'cluster1' ? c1 : c2;
      const connection = await waitFor(`${side}: ${other} listed as an error`, async () => {
        const active = (await list(cluster.kubeconfig, NS, 'gateways')).find((g) => g.status?.haStatus === 'active');
        return active?.status?.connections.find((c) => c.endpoint.cluster_id === other && c.status === 'error');
      }, { timeoutMs: 60_000, intervalMs: 250 });
      assert.equal(connection.statusMessage, `error: no cable to this cluster: it runs the "${theirs}" cable; this gateway runs "${mine}"`);
      const node = await nodeNow(PREFIX, (await activeGateway(cluster))!);
      assert.equal(metricValue((await gatewayHttp(node, '/metrics')).body, `seaway_rejected_cables{cluster="${other}"}`), 1);
    });
  }

  it('no pod reaches the other cluster, and nothing leaves in the clear: the floor drops it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'seaway-mix-'));
    try {
      const capture = await startWanCapture(lab.wan.namespace, 'br0', join(dir, 'wan.pcap'));
      try {
        assert.equal(await pings(c1.pods[0]!.namespace, c2.pods[0]!.ip, 2), false);
        assert.equal(await pings(c2.pods[0]!.namespace, c1.pods[0]!.ip, 2), false);
      } finally {
        await capture.stop();
      }
      const report = await cleartextHits(capture.file, [c1.podCidr, c2.podCidr]);
      assert.equal(report.hits.length, 0, describePackets(report.hits));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
