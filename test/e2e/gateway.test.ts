/**
 * The default lab, connected by seaway alone: no simulated Endpoints, no plain WAN routes. Each
 * cluster's gateway-capable nodes run `seaway gateway` (the real charon, the real client against the
 * lab's API servers and broker, with the RBAC of manifests/rbac); they elect, publish the cluster's
 * Endpoint, sync it through the broker and build IPsec tunnels over the WAN, and the route agents
 * steer the other nodes' traffic to them. The WAN is captured for the whole file: no packet with a
 * pod or service address may cross it in the clear.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { labDown, labUp } from '../lab/lab.ts';
import type { ClusterStatus, LabStatus } from '../lab/state.ts';
import { requireTools } from '../helpers/prereq.ts';
import { waitFor } from '../helpers/wait.ts';
import { cleartextHits, describePackets, startWanCapture, type WanCapture } from '../helpers/wan-capture.ts';
import { failures, probeAll, startEchoServer, type EchoServer, type Probe, type ProbeResult } from './datapath-support.ts';
import { readyAgents } from './routing-support.ts';

const PREFIX = 'swgw';
const NS = 'submariner-operator';
const BROKER_NS = 'submariner-k8s-broker';
/** Short election timers, so a test waits seconds, not the production lease. */
const GATEWAY_ENV = { SEAWAY_LEASE_DURATION_SECONDS: '4', SEAWAY_LEASE_RETRY_MS: '500', SEAWAY_STATUS_REFRESH_SECONDS: '2', SEAWAY_LOG_LEVEL: 'debug' };

interface Listed { metadata: { name: string; labels?: Record<string, string> }; spec?: { cluster_id?: string }; status?: GatewayStatusBody }
interface GatewayStatusBody { haStatus: string; statusFailure: string; connections: Array<{ status: string; statusMessage: string; endpoint: { cluster_id: string } }> }

function customApi(kubeconfig: string): CustomObjectsApi {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  return kc.makeApiClient(CustomObjectsApi);
}

async function list(kubeconfig: string, namespace: string, plural: string): Promise<Listed[]> {
  const answer = await customApi(kubeconfig).listNamespacedCustomObject({ group: 'submariner.io', version: 'v1', namespace, plural });
  return (answer as { items: Listed[] }).items;
}

function podProbes(a: ClusterStatus, b: ClusterStatus): Probe[] {
  const probes: Probe[] = [];
  for (const [src, dst] of [[a, b], [b, a]] as const) {
    for (const from of src.pods) for (const to of dst.pods) probes.push({ from, to });
  }
  return probes;
}

const fromItself = (r: ProbeResult) => r.from.ip;

describe('the lab connected by seaway gateways (IPsec over the WAN)', () => {
  let lab: LabStatus;
  let c1: ClusterStatus;
  let c2: ClusterStatus;
  let capture: WanCapture | undefined;
  let captureDir: string | undefined;
  const servers: EchoServer[] = [];

  before(async () => {
    requireTools('ip', 'iptables', 'ping', 'tcpdump', 'charon-systemd');
    lab = await labUp({ prefix: PREFIX, clusters: 2, nodes: 2, gateways: 2, podsPerNode: 1, nodeReadyDelay: 0, cniDelay: 0, wait: true, gatewayEnv: GATEWAY_ENV });
    [c1, c2] = lab.clusters as [ClusterStatus, ClusterStatus];
    captureDir = await mkdtemp(join(tmpdir(), 'seaway-gw-'));
    capture = await startWanCapture(lab.wan.namespace, 'br0', join(captureDir, 'wan.pcap'));
    await readyAgents(lab);
    for (const pod of [...c1.pods, ...c2.pods]) servers.push(await startEchoServer(pod.namespace));
  });

  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    try {
      if (capture) {
        await capture.stop();
        const secret = [c1, c2].flatMap((c) => [c.podCidr, c.serviceCidr]);
        const report = await cleartextHits(capture.file, secret);
        assert.equal(report.hits.length, 0, `no pod or service address in the clear on the WAN: ${describePackets(report.hits)}`);
        assert.ok(report.totals.espInUdp > 0, 'the capture saw the tunnels\' ESP-in-UDP');
      }
    } finally {
      if (captureDir) await rm(captureDir, { recursive: true, force: true });
      await labDown(PREFIX);
    }
  });

  it('each cluster and the broker hold exactly one Endpoint per cluster, published by the elected gateway', async () => {
    await waitFor('one Endpoint per cluster in each cluster and on the broker', async () => {
      const views = await Promise.all([
        ...[c1, c2].map((c) => list(c.kubeconfig, NS, 'endpoints')),
        list(lab.broker.kubeconfig, BROKER_NS, 'endpoints'),
      ]);
      const ok = views.every((items) => items.length === 2 && new Set(items.map((e) => e.spec?.cluster_id)).size === 2);
      return ok ? views : undefined;
    }, { timeoutMs: 60_000, intervalMs: 250 });
  });

  it('every pod of each cluster reaches every pod of the other, ping and TCP, seen with its own address', async () => {
    const probes = podProbes(c1, c2);
    await waitFor('every cross-cluster pod pair to talk', async () => {
      const results = await probeAll(probes);
      return failures(results, fromItself).length === 0 ? results : undefined;
    }, { timeoutMs: 60_000, intervalMs: 500 }).catch(async (error: unknown) => {
      const results = await probeAll(probes);
      assert.deepEqual(failures(results, fromItself), [], `after the wait (${(error as Error).message})`);
    });
  });

  it('each cluster has exactly one active Gateway, the other candidate passive, and the active one\'s connections are connected', async () => {
    // connected means SAs installed and bytes moving both ways: keep traffic going while waiting.
    const keepTalking = setInterval(() => { void probeAll(podProbes(c1, c2).slice(0, 2)); }, 1000);
    try {
      for (const cluster of [c1, c2]) {
        await waitFor(`${cluster.id}: one active Gateway with every connection connected`, async () => {
          const gateways = await list(cluster.kubeconfig, NS, 'gateways');
          const active = gateways.filter((g) => g.status?.haStatus === 'active');
          const passive = gateways.filter((g) => g.status?.haStatus === 'passive');
          if (active.length !== 1 || passive.length !== 1) return undefined;
          const connections = active[0]!.status!.connections;
          return connections.length === 1 && connections.every((c) => c.status === 'connected') ? gateways : undefined;
        }, { timeoutMs: 60_000, intervalMs: 500 });
      }
    } finally {
      clearInterval(keepTalking);
    }
  });
});
