/**
 * One cluster's gateway behind a NAT namespace (the lab's `nat` option): its private address is
 * unreachable from the other cluster, only its NAT's public address is. seaway's NAT discovery
 * (Submariner's protocol on UDP 4490) finds that out, the other cluster's gateway reaches it at the
 * public address with NAT, and the tunnel comes up through the NAT: every pod pair talks, and the
 * WAN carries nothing in the clear.
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
import { cleartextHits, describePackets, startWanCapture, type WanCapture } from '../helpers/wan-capture.ts';
import { bulkTcp, failures, fromItself, podProbes, probeAll, startBulkServer, startEchoServer, type EchoServer } from './datapath-support.ts';
import { activeGateway, gatewayHttp, gatewayLog, list, nodeNow, NS } from './gateway-support.ts';
import { metricValue, readyAgents } from './routing-support.ts';

const PREFIX = 'swgwnat';
const RECOVERY_MS = 60_000;
const GATEWAY_ENV = { SEAWAY_LEASE_DURATION_SECONDS: '4', SEAWAY_LEASE_RETRY_MS: '500', SEAWAY_STATUS_REFRESH_SECONDS: '2', SEAWAY_HEALTH_CHECK_INTERVAL_MS: '200', SEAWAY_LOG_LEVEL: 'debug' };

describe('a cluster behind NAT: NAT discovery finds the way and the tunnel comes up through the NAT', () => {
  let lab: LabStatus;
  let c1: ClusterStatus;
  let c2: ClusterStatus;
  let capture: WanCapture | undefined;
  let scratch: string | undefined;
  const servers: EchoServer[] = [];

  before(async () => {
    requireTools('ip', 'iptables', 'ping', 'tcpdump', 'charon-systemd');
    // One gateway per cluster: the lab's NAT forwards the tunnel ports to gateway node 1 only.
    lab = await labUp({ prefix: PREFIX, clusters: 2, nodes: 2, gateways: 1, podsPerNode: 1, nodeReadyDelay: 0, cniDelay: 0, wait: true, gatewayEnv: GATEWAY_ENV, nat: ['cluster2'] });
    [c1, c2] = lab.clusters as [ClusterStatus, ClusterStatus];
    scratch = await mkdtemp(join(tmpdir(), 'seaway-nat-'));
    capture = await startWanCapture(lab.wan.namespace, 'br0', join(scratch, 'wan.pcap'));
    await readyAgents(lab);
    for (const pod of [...c1.pods, ...c2.pods]) servers.push(await startEchoServer(pod.namespace), await startBulkServer(pod.namespace));
  });

  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    try {
      if (capture) {
        await capture.stop();
        const report = await cleartextHits(capture.file, [c1, c2].flatMap((c) => [c.podCidr, c.serviceCidr]));
        assert.equal(report.hits.length, 0, `nothing in the clear on the WAN: ${describePackets(report.hits)}`);
      }
    } finally {
      if (scratch) await rm(scratch, { recursive: true, force: true });
      await labDown(PREFIX);
    }
  });

  it('cluster1 reaches cluster2\'s gateway at its NAT\'s public address, with NAT, chosen by a NAT discovery answer', async () => {
    const natPublic = c2.nat!.publicIp;
    const connection = await waitFor('cluster1\'s connection to cluster2 connected through the NAT', async () => {
      const gateways = await list(c1.kubeconfig, NS, 'gateways');
      const c = gateways.find((g) => g.status?.haStatus === 'active')?.status?.connections[0] as { status: string; usingIP?: string; usingNAT?: boolean } | undefined;
      return c?.status === 'connected' && c.usingIP === natPublic ? c : undefined;
    }, { timeoutMs: RECOVERY_MS, intervalMs: 250 });
    assert.equal(connection.usingNAT, true);
    const active = await nodeNow(PREFIX, (await activeGateway(c1))!);
    const chosen = (await gatewayLog(active)).filter((l) => l.msg === 'NAT discovery: the address to reach a remote gateway' && l.ip === natPublic);
    assert.ok(chosen.some((l) => l.basis === 'public-reply' && l.nat === true), `a public answer with NAT detected chose it: ${JSON.stringify(chosen)}`);
  });

  it('cluster2, behind the NAT, found cluster1\'s gateway by its answers too, and answered cluster1\'s requests', async () => {
    const active = await nodeNow(PREFIX, (await waitFor('cluster2 active', () => activeGateway(c2), { timeoutMs: RECOVERY_MS }))!);
    const chosen = await waitFor('cluster2\'s choice from an answer', async () =>
      (await gatewayLog(active)).find((l) => l.msg === 'NAT discovery: the address to reach a remote gateway' && (l.basis === 'public-reply' || l.basis === 'private-reply')), { timeoutMs: RECOVERY_MS, intervalMs: 250 });
    assert.ok(chosen, 'answered');
    const answered = metricValue((await gatewayHttp(active, '/metrics')).body, 'seaway_nat_discovery_responses_total{response="NAT_DETECTED"}');
    assert.ok((answered ?? 0) > 0, `cluster2's gateway answered requests that came through its NAT with NAT_DETECTED (${answered})`);
  });

  it('every cross-cluster pod pair talks through the NAT: ping, TCP, and 1 MiB each way', async () => {
    const probes = podProbes(c1, c2);
    await waitFor('every pair talks', async () => failures(await probeAll(probes), fromItself).length === 0, { timeoutMs: RECOVERY_MS, intervalMs: 500 }).catch(async (error: unknown) => {
      assert.deepEqual(failures(await probeAll(probes), fromItself), [], (error as Error).message);
    });
    const bytes = 1024 * 1024;
    for (const probe of probes) assert.deepEqual(await bulkTcp(probe.from.namespace, probe.to.ip, bytes), { sent: bytes, serverGot: bytes, received: bytes }, `${probe.from.name} -> ${probe.to.name}`);
  });
});
