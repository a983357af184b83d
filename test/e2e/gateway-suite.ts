/**
 * The default lab, connected by seaway alone: no simulated Endpoints, no plain WAN routes. Each
 * cluster's gateway-capable nodes run `seaway gateway` (the real cable daemon, the real client
 * against the lab's API servers and broker, with the RBAC of manifests/); they elect, publish
 * the cluster's Endpoint, sync it through the broker and build tunnels of one cable kind over the
 * WAN, and the route agents steer the other nodes' traffic to them. One suite, run once per cable
 * (gateway-<cable>.test.ts). The WAN is captured for the whole run: with an encrypting cable no
 * packet may carry a pod or service address in the clear, in its header or inside its payload.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { run } from '../../src/kernel/exec.ts';
import { cutApi, liftApiFault } from '../lab/api-faults.ts';
import { labDown, labUp, startAgent, stopAgent } from '../lab/lab.ts';
import type { LabCable } from '../lab/addressing.ts';
import { CABLE_BACKENDS } from '../../src/gateway/cable-choice.ts';
import { AdminClient } from '../lab/apiserver/admin-client.ts';
import { AGENT_ENTRY } from '../lab/agents.ts';
import { BROKER_NAMESPACE, BROKER_RBAC, brokerClusterAccess, GATEWAY_ACCOUNT, GATEWAY_RBAC, rulesOf } from '../lab/manifests.ts';
import { labPaths } from '../lab/paths.ts';
import { findLabProcesses } from '../lab/processes.ts';
import type { ClusterStatus, LabStatus, NodeStatus } from '../lab/state.ts';
import { continuousPing } from '../helpers/gateway-pair.ts';
import { requireTools } from '../helpers/prereq.ts';
import { waitFor } from '../helpers/wait.ts';
import { cleartextHits, describePackets, startWanCapture, type WanCapture } from '../helpers/wan-capture.ts';
import { bulkTcp, failures, fromItself, pings, podProbes, probeAll, startBulkServer, startEchoServer, tcpSeenAs, type EchoServer } from './datapath-support.ts';
import {
  activeGateway, coreApi, crashNode, customApi, gatewayHttp, gatewayLog, list, nodeNow, NS, oneEndpointPerCluster, restoreNode, waitStandbyReady,
} from './gateway-support.ts';
import { mergePatch, metricValue, readyAgents } from './routing-support.ts';

const LEASE_SECONDS = 4;
const HEALTH_INTERVAL_MS = 200;
const HEALTH_MAX_LOSS = 5;
/** Short election timers, so a test waits seconds, not the production lease. */
const GATEWAY_ENV = {
  SEAWAY_LEASE_DURATION_SECONDS: String(LEASE_SECONDS), SEAWAY_LEASE_RETRY_MS: '500', SEAWAY_STATUS_REFRESH_SECONDS: '2',
  SEAWAY_BROKER_REFRESH_SECONDS: '1', SEAWAY_REMOTE_STALE_SECONDS: '4', SEAWAY_LOG_LEVEL: 'debug',
  SEAWAY_HEALTH_CHECK_INTERVAL_MS: String(HEALTH_INTERVAL_MS), SEAWAY_HEALTH_CHECK_MAX_LOSS: String(HEALTH_MAX_LOSS),
};
const GATEWAY_USER = `system:serviceaccount:${GATEWAY_ACCOUNT.namespace}:${GATEWAY_ACCOUNT.name}`;

const RECOVERY_MS = 60_000;


/** What a cable needs on the machine, and whether it encrypts. */
const CABLE_FACTS: Record<LabCable, { tools: string[]; encrypts: boolean; title: string }> = {
  ipsec: { tools: ['charon-systemd'], encrypts: true, title: 'IPsec' },
  wireguard: { tools: ['wireguard-go', 'unshare'], encrypts: true, title: 'WireGuard' },
  vxlan: { tools: [], encrypts: false, title: 'VXLAN, unencrypted' },
};

export function gatewaySuite(cable: LabCable, PREFIX: string): void {
  describe(`the lab connected by seaway gateways (${CABLE_FACTS[cable].title} over the WAN)`, () => {
    let lab: LabStatus;
    let c1: ClusterStatus;
    let c2: ClusterStatus;
    let capture: WanCapture | undefined;
    let scratch: string | undefined;
    const servers: EchoServer[] = [];

    const nodeOf = (cluster: ClusterStatus, name: string | undefined): NodeStatus => {
      const node = cluster.nodes.find((n) => n.name === name);
      if (!node) throw new Error(`${cluster.id} has no node ${String(name)}`);
      return node;
    };
    const activeOf = async (cluster: ClusterStatus): Promise<NodeStatus> =>
      nodeOf(cluster, await waitFor(`${cluster.id}: exactly one active Gateway`, () => activeGateway(cluster), { timeoutMs: RECOVERY_MS, intervalMs: 250 }));
    const otherCandidate = (cluster: ClusterStatus, node: NodeStatus): NodeStatus => cluster.nodes.find((n) => n.gatewayCapable && n.name !== node.name)!;
    /** A pod of `cluster` that does not run on `avoid` (a crashed node's pods are gone with it). */
    const podAway = (cluster: ClusterStatus, avoid: NodeStatus) => cluster.pods.find((p) => p.node !== avoid.name)!;
    const allPodsTalk = async (what: string) => {
      const probes = podProbes(c1, c2);
      await waitFor(what, async () => failures(await probeAll(probes), fromItself).length === 0, { timeoutMs: RECOVERY_MS, intervalMs: 500 }).catch(async (error: unknown) => {
        assert.deepEqual(failures(await probeAll(probes), fromItself), [], `${what} (${(error as Error).message})`);
      });
    };

    const expectBulk = async (what: string) => {
      const bytes = 1024 * 1024;
      for (const probe of podProbes(c1, c2)) {
        const result = await bulkTcp(probe.from.namespace, probe.to.ip, bytes);
        assert.deepEqual(result, { sent: bytes, serverGot: bytes, received: bytes }, `${what}: ${probe.from.name} -> ${probe.to.name}`);
      }
    };

    before(async () => {
      requireTools('ip', 'iptables', 'ping', 'tcpdump', 'nft', 'promtool', ...CABLE_FACTS[cable].tools);
      lab = await labUp({ prefix: PREFIX, clusters: 2, nodes: 2, gateways: 2, podsPerNode: 1, nodeReadyDelay: 0, cniDelay: 0, wait: true, gatewayEnv: GATEWAY_ENV, cable });
      [c1, c2] = lab.clusters as [ClusterStatus, ClusterStatus];
      scratch = await mkdtemp(join(tmpdir(), 'seaway-gw-'));
      capture = await startWanCapture(lab.wan.namespace, 'br0', join(scratch, 'wan.pcap'));
      await readyAgents(lab);
      for (const pod of [...c1.pods, ...c2.pods]) servers.push(await startEchoServer(pod.namespace), await startBulkServer(pod.namespace));
    });

    after(async () => {
      await Promise.all(servers.map((s) => s.stop()));
      try {
        if (capture) {
          await capture.stop();
          const secret = [c1, c2].flatMap((c) => [c.podCidr, c.serviceCidr]);
          const report = await cleartextHits(capture.file, secret);
          if (CABLE_FACTS[cable].encrypts) {
            assert.equal(report.hits.length, 0, `no pod or service address in the clear on the WAN over the whole run: ${describePackets(report.hits)}`);
            // IPsec's ESP-in-UDP and WireGuard's messages both travel on UDP 4500 (the udp-port).
            assert.ok(report.totals.espInUdp > 0, `the capture saw the tunnels' traffic on UDP 4500: ${JSON.stringify(report.totals)}`);
          } else {
            // As configured: the pods' packets cross inside VXLAN, visible to anyone on the WAN, and nowhere else.
            assert.ok(report.hits.length > 0 && report.hits.every((p) => p.inner !== undefined && p.dstPort === 4500), `pods' packets only inside VXLAN on UDP 4500: ${describePackets(report.hits.filter((p) => p.inner === undefined || p.dstPort !== 4500))}`);
          }
        }
      } finally {
        if (scratch) await rm(scratch, { recursive: true, force: true });
        await labDown(PREFIX);
        // Nothing the lab started outlives it, charon included (it carries no lab marker, only its strongswan.conf's path).
        const paths = labPaths(PREFIX);
        assert.deepEqual(await findLabProcesses(paths.dir, paths.pids, []), [], 'no process of the lab left running');
      }
    });

    it('each cluster and the broker hold exactly one Endpoint and one Cluster per cluster, published by the elected gateway', async () => {
      await waitFor('one Endpoint per cluster in each cluster and on the broker', () => oneEndpointPerCluster(lab), { timeoutMs: RECOVERY_MS, intervalMs: 250 });
      await waitFor('one Cluster per cluster in each cluster and on the broker', async () => {
        const views = await Promise.all([...lab.clusters.map((c) => list(c.kubeconfig, NS, 'clusters')), list(lab.broker.kubeconfig, 'submariner-k8s-broker', 'clusters')]);
        return views.every((items) => items.map((c) => c.metadata.name).sort().join() === 'cluster1,cluster2');
      }, { timeoutMs: RECOVERY_MS, intervalMs: 250 });
    });

    it('every pod of each cluster reaches every pod of the other, ping and TCP, seen with its own address', async () => {
      await allPodsTalk('every cross-cluster pod pair talks');
    });

    it('1 MiB of TCP each way between every cross-cluster pod pair', async () => {
      await expectBulk('at the WAN\'s own MTU');
    });

    it('Service VIPs answer across clusters (kube-proxy\'s DNAT on the receiving gateway), each client seen with its own pod address', async () => {
      for (const [from, to] of [[c1, c2], [c2, c1]] as const) {
        const service = to.service!;
        for (const pod of from.pods) {
          const seen = await waitFor(`${pod.name} -> ${to.id} Service ${service.ip}:${service.port}`, async () => {
            const answer = (await tcpSeenAs(pod.namespace, [service.ip]))[service.ip];
            return answer === pod.ip ? answer : undefined;
          }, { timeoutMs: RECOVERY_MS, intervalMs: 500 }).catch(async () => (await tcpSeenAs(pod.namespace, [service.ip]))[service.ip]);
          assert.equal(seen, pod.ip, `${pod.name} reaches ${to.id}'s Service VIP and is seen as itself`);
        }
      }
    });

    it('each cluster has exactly one active Gateway, the other candidate passive, and the active one\'s connections are connected, proven by health checks with their RTT', async () => {
      for (const cluster of [c1, c2]) {
        const other = cluster === c1 ? c2 : c1;
        let seen = '';
        const connection = await waitFor(`${cluster.id}: one active Gateway with every connection connected`, async () => {
          const gateways = await list(cluster.kubeconfig, NS, 'gateways');
          seen = JSON.stringify(gateways.map((g) => ({ name: g.metadata.name, ha: g.status?.haStatus, connections: g.status?.connections })));
          const active = gateways.filter((g) => g.status?.haStatus === 'active');
          const passive = gateways.filter((g) => g.status?.haStatus === 'passive');
          if (active.length !== 1 || passive.length !== 1) return undefined;
          const connections = active[0]!.status!.connections;
          return connections.length === 1 && connections[0]!.status === 'connected' && connections[0]!.latencyRTT ? connections[0] : undefined;
        }, { timeoutMs: RECOVERY_MS, intervalMs: 500 }).catch((error: Error) => { throw new Error(`${error.message}; last seen: ${seen}`); });
        // The remote gateway's CNI address, published as its Endpoint's healthCheckIP.
        const healthCheckIp = connection.endpoint.healthCheckIP;
        assert.ok(other.nodes.some((n) => n.gatewayCapable && n.cniIp === healthCheckIp), `${cluster.id} probes ${other.id}'s gateway CNI address (${healthCheckIp})`);
        assert.match(connection.statusMessage, new RegExp(`health checks to ${healthCheckIp!.replaceAll('.', '\\.')} answered through the cable`));
        for (const figure of Object.values(connection.latencyRTT!)) assert.match(figure, /^\d+(\.\d+)?(ns|µs|ms|s)$/, 'Go durations');
        // The same connection on the active gateway's metrics, as Submariner's gateway metrics say it.
        const metrics = await waitFor(`${cluster.id}: the connection on the metrics`, async () => {
          const body = (await gatewayHttp(await activeOf(cluster), '/metrics')).body;
          return /^seaway_connection_latency_seconds\{/m.test(body) ? body : undefined;
        }, { timeoutMs: 20_000, intervalMs: 250 });
        assert.match(metrics, new RegExp(`^seaway_connections\\{cable_driver="${CABLE_BACKENDS[cable]}",local_cluster="${cluster.id}",[^}]*remote_cluster="${other.id}"[^}]*status="connected"\\} 1$`, 'm'));
        assert.match(metrics, new RegExp(`^seaway_connections_short\\{cable_driver="${CABLE_BACKENDS[cable]}",status="connected"\\} 1$`, 'm'));
        const lint = await run('promtool', ['check', 'metrics'], { input: metrics, allowFailure: true });
        assert.equal(lint.code, 0, `promtool check metrics: ${lint.stdout}${lint.stderr}`);
      }
    });

    it('the WAN drops the cable\'s UDP 4500 while the tunnel stays up: the connection turns error within the lost-probe limit, and connected again once it passes', async () => {
      const active = await activeOf(c1);
      const connection = async () => (await list(c1.kubeconfig, NS, 'gateways')).find((g) => g.metadata.name === active.name)?.status?.connections[0];
      await waitFor('connected before the drop', async () => (await connection())?.status === 'connected', { timeoutMs: RECOVERY_MS, intervalMs: 200 });
      // On the WAN bridge itself: what a firewall between the sites blocking the tunnel's port would do.
      await run('ip', ['netns', 'exec', lab.wan.namespace, 'nft', '-f', '-'], {
        input: 'table bridge seaway_test_drop {\n chain forward {\n  type filter hook forward priority 0;\n  udp dport 4500 drop\n  udp sport 4500 drop\n }\n}\n',
      });
      try {
        const failed = await waitFor('the connection to turn error', async () => {
          const c = await connection();
          return c?.status === 'error' ? c : undefined;
        }, { timeoutMs: 30_000, intervalMs: 100 });
        assert.match(failed.statusMessage, new RegExp(`the tunnel is up but the last ${HEALTH_MAX_LOSS} health checks to .* got no reply`));
      } finally {
        await run('ip', ['netns', 'exec', lab.wan.namespace, 'nft', 'delete', 'table', 'bridge', 'seaway_test_drop']);
      }
      await waitFor('connected again once UDP 4500 passes', async () => (await connection())?.status === 'connected', { timeoutMs: RECOVERY_MS, intervalMs: 200 });
      await allPodsTalk('every pair talks after the drop');
    });

    it('one RouteAgent object per node, each listing the other cluster with its path from that node', async () => {
      for (const cluster of [c1, c2]) {
        const other = cluster === c1 ? c2 : c1;
        await waitFor(`${cluster.id}: a RouteAgent per node, the other cluster connected on each`, async () => {
          const agents = (await list(cluster.kubeconfig, NS, 'routeagents')) as unknown as Array<{ metadata: { name: string }; status?: { remoteEndpoints?: Array<{ status: string; spec: { cluster_id: string } }> } }>;
          const names = agents.map((a) => a.metadata.name).sort();
          if (names.join() !== cluster.nodes.map((n) => n.name).sort().join()) return undefined;
          return agents.every((a) => a.status?.remoteEndpoints?.length === 1 && a.status.remoteEndpoints[0]!.spec.cluster_id === other.id && a.status.remoteEndpoints[0]!.status === 'connected');
        }, { timeoutMs: RECOVERY_MS, intervalMs: 500 });
      }
    });

    it('a remote Endpoint with another cable is rejected with its reason; the other tunnel carries on', async () => {
      const otherBackend = cable === 'wireguard' ? 'libreswan' : 'wireguard';
      const active = await activeOf(c1);
      const custom = customApi(c1.kubeconfig);
      const name = 'cluster9-submariner-cable-cluster9-192-168-9-11';
      await custom.createNamespacedCustomObject({
        group: 'submariner.io', version: 'v1', namespace: NS, plural: 'endpoints',
        body: {
          apiVersion: 'submariner.io/v1', kind: 'Endpoint', metadata: { name },
          spec: {
            cluster_id: 'cluster9', cable_name: 'submariner-cable-cluster9-192-168-9-11', hostname: 'gw9', subnets: ['10.9.0.0/16'],
            private_ip: '192.168.9.11', nat_enabled: false, backend: otherBackend, backend_config: { publicKey: 'x' },
          },
        },
      });
      try {
        await waitFor('the active gateway to reject cluster9\'s cable', async () =>
          metricValue((await gatewayHttp(active, '/metrics')).body, 'seaway_rejected_cables{cluster="cluster9"}') === 1, { timeoutMs: 20_000, intervalMs: 250 });
        // The metric can be read before the log line is flushed: waited for, not read once.
        const said = await waitFor('the rejection in the active gateway\'s log', async () =>
          (await gatewayLog(active)).find((l) => l.msg === 'no cable to this remote cluster' && l.cluster === 'cluster9'), { timeoutMs: 10_000, intervalMs: 100 });
        assert.equal(String(said?.reason), `runs the "${otherBackend}" cable; this gateway runs "${CABLE_BACKENDS[cable]}"`);
        // The route agents still send cluster9's range to the gateway: the floor drops it there (the WAN capture would show a leak).
        await waitFor('cluster9\'s range on the floor of the active gateway', async () =>
          (await run('ip', ['-n', active.namespace, 'route', 'show', 'table', '221'])).stdout.includes('blackhole 10.9.0.0/16'), { timeoutMs: 20_000, intervalMs: 100 });
        assert.equal(await pings(c1.pods.find((p) => p.node !== active.name)!.namespace, '10.9.1.1', 1), false, 'nothing answers, and nothing leaves in the clear');
        await allPodsTalk('cluster1 and cluster2 still talk');
      } finally {
        await custom.deleteNamespacedCustomObject({ group: 'submariner.io', version: 'v1', namespace: NS, plural: 'endpoints', name });
      }
    });

    it('the cluster\'s API blackholed for twice the lease duration: no ping lost, no tunnel torn down', async () => {
      const from = c2.pods[0]!;
      const to = c1.pods[0]!;
      const ping = continuousPing(from.namespace, to.ip, { intervalS: 0.1 });
      await waitFor('replies before the cut', () => ping.replies > 5, { timeoutMs: 10_000, intervalMs: 50 });
      const active = await activeOf(c1);
      await cutApi(PREFIX, c1.id, 'blackhole');
      const cutAt = Date.now();
      try {
        await waitFor('twice the lease', () => Date.now() - cutAt >= 2 * LEASE_SECONDS * 1000 + 1000, { timeoutMs: 30_000, intervalMs: 100 });
      } finally {
        await liftApiFault(PREFIX, c1.id);
      }
      const report = await ping.stop();
      // Lost, not late: on two busy cores a reply may come after the next echo is sent (ping -O says "no answer yet").
      assert.deepEqual(report.lost, [], `no ping lost through a ${2 * LEASE_SECONDS} s API outage (largest gap ${report.maxGapS.toFixed(2)} s; late: ${report.unanswered.join(',')})`);
      assert.ok(report.received >= report.transmitted - 1, `replies ${report.received} of ${report.transmitted}`);
      const steps = (await gatewayLog(active)).filter((l) => typeof l.msg === 'string' && (l.msg as string).startsWith('gateway election:') && l.from === 'active-unconfirmed' && l.to === 'standby');
      assert.deepEqual(steps, [], 'the active gateway never stepped down');
    });

    it('crash of the active gateway node (processes killed, links down): the standby takes over and traffic returns', async () => {
      const crashed = await nodeNow(PREFIX, (await activeOf(c1)).name);
      const standby = otherCandidate(c1, crashed);
      const to = podAway(c1, crashed);
      const ping = continuousPing(c2.pods[0]!.namespace, to.ip, { intervalS: 0.1 });
      await waitFor('replies before the crash', () => ping.replies > 5, { timeoutMs: 10_000, intervalMs: 50 });
      await crashNode(PREFIX, crashed);
      try {
        const before = ping.replies;
        try {
          await waitFor(`${standby.name} to carry the traffic`, () => ping.replies > before + 10, { timeoutMs: RECOVERY_MS, intervalMs: 100 });
        } finally {
          await ping.stop();
        }
        // The dead node's object still says active until it is stale (15 s): the survivor's says active too.
        await waitFor(`${standby.name}'s Gateway active`, async () =>
          (await list(c1.kubeconfig, NS, 'gateways')).some((g) => g.metadata.name === standby.name && g.status?.haStatus === 'active'), { timeoutMs: RECOVERY_MS, intervalMs: 100 });
        await waitFor('one Endpoint per cluster, cluster1\'s from the new gateway', () => oneEndpointPerCluster(lab, { cluster: c1.id, node: standby.name }), { timeoutMs: RECOVERY_MS, intervalMs: 250 });
      } finally {
        await restoreNode(PREFIX, c1, crashed, GATEWAY_ENV);
      }
      await waitStandbyReady(c1, crashed.name);
      await allPodsTalk('every pair talks once the crashed node is back');
    });

    it('SIGTERM of the active gateway with a ready standby: the Lease is released and the standby takes over', async () => {
      const leaving = await nodeNow(PREFIX, (await activeOf(c1)).name);
      const standby = otherCandidate(c1, leaving);
      await waitStandbyReady(c1, standby.name);
      const ping = continuousPing(c2.pods[0]!.namespace, podAway(c1, leaving).ip, { intervalS: 0.1 });
      await waitFor('replies before the stop', () => ping.replies > 5, { timeoutMs: 10_000, intervalMs: 50 });
      await stopAgent(PREFIX, leaving.name, { role: 'gateway', exitTimeoutMs: 30_000 });
      const before = ping.replies;
      try {
        await waitFor(`${standby.name} active`, async () => (await activeGateway(c1)) === standby.name, { timeoutMs: RECOVERY_MS, intervalMs: 100 });
        await waitFor('traffic through the new gateway', () => ping.replies > before + 10, { timeoutMs: RECOVERY_MS, intervalMs: 100 });
        // Handed over and gone: nothing of its cable stays to drop its own pods' traffic (the floor, the source addresses).
        assert.equal((await run('ip', ['-n', leaving.namespace, 'route', 'show', 'table', '221'])).stdout.trim(), '', 'no blackhole left on the node that left');
        assert.doesNotMatch((await run('ip', ['-n', leaving.namespace, 'rule'])).stdout, /lookup 22[01]|lookup 218/, 'nor the floor\'s or the cable table\'s rule');
        // (ip fails on a table that never held a route: nothing there either.)
        assert.equal((await run('ip', ['-n', leaving.namespace, 'route', 'show', 'table', '218'], { allowFailure: true })).stdout.trim(), '', 'no cable route left');
        assert.ok(!(await run('ip', ['-n', leaving.namespace, 'addr', 'show', 'dev', 'lo'])).stdout.includes('lo:seaway'), 'no source address left on lo');
        await allPodsTalk('every pair talks with the old gateway gone');
      } finally {
        await ping.stop();
        await startAgent(PREFIX, leaving.name, { role: 'gateway', env: GATEWAY_ENV });
      }
      // The release and the decision it allows happen in one round: active -> stopped, "a standby is ready ... handed over".
      const stops = (await gatewayLog(await nodeNow(PREFIX, leaving.name))).filter((l) => l.to === 'stopped');
      assert.ok(stops.length > 0 && stops.every((l) => String(l.reason).includes('handed over')), `the stopped gateway handed over: ${JSON.stringify(stops.map((m) => m.reason))}`);
    });

    it('the gateway label removed from the active node: it hands over like a graceful stop, and takes candidacy up again when the label returns', async () => {
      const leaving = await nodeNow(PREFIX, (await activeOf(c1)).name);
      const standby = otherCandidate(c1, leaving);
      await waitStandbyReady(c1, standby.name);
      const core = coreApi(c1.kubeconfig);
      const patch = (value: string | null) => core.patchNode({ name: leaving.name, body: { metadata: { labels: { 'submariner.io/gateway': value } } } }, mergePatch);
      await patch(null);
      try {
        await waitFor(`${standby.name} active after the label went`, async () => (await activeGateway(c1)) === standby.name, { timeoutMs: RECOVERY_MS, intervalMs: 100 });
        const refused = await waitFor(`${leaving.name} refused`, async () => (await gatewayLog(leaving)).find((l) => l.to === 'refused' && String(l.reason).includes('lost its gateway label')), { timeoutMs: 20_000, intervalMs: 100 });
        assert.equal(refused.from, 'active', 'the active gateway itself stepped down for the label');
      } finally {
        await patch('true');
      }
      await waitStandbyReady(c1, leaving.name);
      await allPodsTalk('every pair talks after the label moves');
    });

    it('a paused ex-leader that resumes deletes nothing of the new leader\'s, and steps down', async () => {
      const paused = await nodeNow(PREFIX, (await activeOf(c1)).name);
      const successor = otherCandidate(c1, paused);
      await waitStandbyReady(c1, successor.name);
      const pid = paused.gateway!.pid;
      process.kill(pid, 'SIGSTOP');
      let newEndpoint;
      try {
        await waitFor(`${successor.name} active while ${paused.name} is paused`, async () => (await activeGateway(c1)) === successor.name, { timeoutMs: RECOVERY_MS, intervalMs: 100 });
        newEndpoint = await waitFor('the new leader\'s Endpoint', async () => (await list(c1.kubeconfig, NS, 'endpoints')).find((e) => e.spec?.hostname === successor.name), { timeoutMs: RECOVERY_MS, intervalMs: 100 });
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      await waitFor(`${paused.name} to step down after resuming`, async () =>
        (await gatewayLog(paused)).some((l) => typeof l.msg === 'string' && (l.msg as string).startsWith('gateway election:') && l.to === 'standby' && String(l.reason).includes('holds the Lease')),
      { timeoutMs: 30_000, intervalMs: 100 });
      await waitFor('one Endpoint per cluster, cluster1\'s the new leader\'s', () => oneEndpointPerCluster(lab, { cluster: c1.id, node: successor.name }), { timeoutMs: RECOVERY_MS, intervalMs: 250 });
      const still = (await list(c1.kubeconfig, NS, 'endpoints')).find((e) => e.spec?.hostname === successor.name);
      assert.equal(still?.metadata.uid, newEndpoint.metadata.uid, 'the new leader\'s Endpoint is the same object: never deleted');
      await allPodsTalk('every pair talks after the pause');
    });

    it('Submariner\'s own Lease held by someone else: seaway stays passive and says why; it takes over once the Lease is gone', async () => {
      const coordination = { group: 'coordination.k8s.io', version: 'v1', namespace: NS, plural: 'leases' };
      const custom = customApi(c2.kubeconfig);
      const now = new Date().toISOString().replace('Z', '000Z');
      await custom.createNamespacedCustomObject({
        ...coordination,
        body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'submariner-gateway-lock' }, spec: { holderIdentity: 'submariner-gateway-x', leaseDurationSeconds: 3600, acquireTime: now, renewTime: now, leaseTransitions: 0 } },
      });
      try {
        await waitFor('both cluster2 candidates passive', async () => {
          const gateways = await list(c2.kubeconfig, NS, 'gateways');
          return gateways.length === 2 && gateways.every((g) => g.status?.haStatus === 'passive');
        }, { timeoutMs: RECOVERY_MS, intervalMs: 250 });
        for (const node of c2.nodes.filter((n) => n.gatewayCapable)) {
          await waitFor(`${node.name} to say Submariner's Lease is why it stays passive`, async () =>
            (await gatewayLog(await nodeNow(PREFIX, node.name))).some((l) => typeof l.reason === 'string' && (l.reason as string).includes('submariner-gateway-x holds submariner-gateway-lock')),
          { timeoutMs: 20_000, intervalMs: 200 });
        }
      } finally {
        await custom.deleteNamespacedCustomObject({ ...coordination, name: 'submariner-gateway-lock' });
      }
      await waitFor('cluster2 active again', () => activeGateway(c2), { timeoutMs: RECOVERY_MS, intervalMs: 250 });
      await allPodsTalk('every pair talks again');
    });

    it('a bad PSK or broker credential makes that node refuse candidacy, with a clear reason on /readyz; its routing goes on', async () => {
      const active = await activeOf(c1);
      const candidate = await nodeNow(PREFIX, otherCandidate(c1, active).name);
      const shortPsk = join(scratch!, 'short-psk');
      await writeFile(shortPsk, 'too-short\n', { mode: 0o600 });
      const badBroker = join(scratch!, 'broker-bad-token');
      const brokerKubeconfig = JSON.parse(await readFile(c1.brokerKubeconfig, 'utf8')) as { users: Array<{ user: { token: string } }> };
      brokerKubeconfig.users[0]!.user.token = 'not-a-valid-token';
      await writeFile(badBroker, JSON.stringify(brokerKubeconfig), { mode: 0o600 });
      for (const [env, expected] of [
        [{ SEAWAY_PSK_FILE: shortPsk }, /gateway-config: not a gateway candidate: IPsec PSK: .*at least 32 are needed/],
        [{ SEAWAY_BROKER_KUBECONFIG: badBroker }, /gateway-config: not a gateway candidate: broker credentials: the broker at .* refuses them \(HTTP 401/],
      ] as const) {
        await startAgent(PREFIX, candidate.name, { role: 'gateway', env: { ...GATEWAY_ENV, ...env }, exitTimeoutMs: 30_000 });
        const now = await nodeNow(PREFIX, candidate.name);
        const ready = await waitFor('/readyz to say why', async () => {
          const answer = await gatewayHttp(now, '/readyz').catch(() => undefined);
          return answer !== undefined && expected.test(answer.body) ? answer : undefined;
        }, { timeoutMs: 30_000, intervalMs: 200 });
        assert.equal(ready.status, 503);
        assert.ok(!ready.body.includes('too-short') && !ready.body.includes('not-a-valid-token'), 'the reason quotes no secret');
        const agent = await gatewayHttp({ ...now, gateway: now.agent }, '/readyz');
        assert.equal(agent.status, 200, 'the route agent on the node stays ready');
      }
      await startAgent(PREFIX, candidate.name, { role: 'gateway', env: GATEWAY_ENV, exitTimeoutMs: 30_000 });
      await waitStandbyReady(c1, candidate.name);
    });

    it('1 MiB of TCP each way with the WAN MTU lowered to 1400', async () => {
      const wanLinks = async (mtu: number) => {
        const ports = lab.clusters.flatMap((c) => c.nodes).filter((n) => n.wanIp !== null);
        for (const node of ports) await run('ip', ['-n', node.namespace, 'link', 'set', 'eth1', 'mtu', String(mtu)]);
        const bridgePorts = (await run('ip', ['-n', lab.wan.namespace, '-o', 'link', 'show', 'master', 'br0'])).stdout.split('\n')
          .map((l) => /^\d+: ([^@:]+)/.exec(l)?.[1]).filter((name): name is string => name !== undefined);
        for (const port of bridgePorts) await run('ip', ['-n', lab.wan.namespace, 'link', 'set', port, 'mtu', String(mtu)]);
      };
      await wanLinks(1400);
      try {
        await expectBulk('with a 1400-byte WAN MTU');
      } finally {
        await wanLinks(1500);
      }
    });

    it('a remote whose gateway stops refreshing its broker copies is reported stale (metric, Event) and stays routed', async () => {
      const paused = c2.nodes.filter((n) => n.gatewayCapable).map((n) => n.name);
      const pids = await Promise.all(paused.map(async (name) => (await nodeNow(PREFIX, name)).gateway!.pid));
      const ping = continuousPing(c1.pods[0]!.namespace, c2.pods[0]!.ip, { intervalS: 0.1 });
      await waitFor('replies before the pause', () => ping.replies > 5, { timeoutMs: 10_000, intervalMs: 50 });
      // Their charon runs on: only the gateways' API work (the refresh of the broker copies) stops.
      for (const pid of pids) process.kill(pid, 'SIGSTOP');
      try {
        const active = await activeOf(c1);
        await waitFor('cluster 1 to report cluster 2 stale', async () =>
          metricValue((await gatewayHttp(active, '/metrics')).body, 'seaway_remote_cluster_liveness{cluster="cluster2",state="stale"}') === 1, { timeoutMs: 30_000, intervalMs: 250 });
        await waitFor('a RemoteClusterStale Event on cluster 2\'s Cluster copy', async () =>
          (await coreApi(c1.kubeconfig).listNamespacedEvent({ namespace: NS })).items.some((e) => e.reason === 'RemoteClusterStale' && e.involvedObject.name === 'cluster2'), { timeoutMs: 15_000, intervalMs: 250 });
        const before = ping.replies;
        await waitFor('pings still answered', () => ping.replies > before + 10, { timeoutMs: 10_000, intervalMs: 50 });
        // seaway status, over the gateway's own socket, says it too.
        const socket = join(labPaths(PREFIX).node(active.name).gatewayStateDir, 'gateway.sock');
        const said = await run(process.execPath, [AGENT_ENTRY, 'status', '--status-socket', socket], { allowFailure: true });
        assert.match(said.stdout, /remote cluster cluster2: STALE \(last refresh \d+ s ago\): its gateway no longer refreshes its broker copies; still routed/);
        assert.match(said.stdout, /gateway active: holds the Lease/);
      } finally {
        for (const pid of pids) process.kill(pid, 'SIGCONT');
        await ping.stop();
      }
      const active = await activeOf(c1);
      await waitFor('cluster 2 fresh again', async () =>
        metricValue((await gatewayHttp(active, '/metrics')).body, 'seaway_remote_cluster_liveness{cluster="cluster2",state="fresh"}') === 1, { timeoutMs: 30_000, intervalMs: 250 });
      await allPodsTalk('every pair talks after the pause of cluster 2\'s gateways');
    });

    it('the gateways\' RBAC (manifests/03-rbac-gateway.yaml, broker.yaml): every request allowed, every rule used', async () => {
      // Every rule used by the run as a whole: which cluster posts an Event (a stale remote, a rejected
      // cable) depends on what the run did to it, and both clusters hold the same manifest.
      const used = new Set<string>();
      for (const cluster of lab.clusters) {
        const { entries } = await new AdminClient({ socketPath: cluster.apiserver.socket }).requests();
        const mine = entries.filter((e) => e.user === GATEWAY_USER);
        assert.ok(mine.length > 0, `${cluster.id}: the gateways used their service account`);
        assert.deepEqual(mine.filter((e) => e.decision !== 'allow').map((e) => `${e.verb} ${e.path}`), [], `${cluster.id}: every gateway request allowed`);
        for (const e of mine) if (e.rule !== undefined) used.add(e.rule);
      }
      assert.deepEqual([...used].sort(), await rulesOf(GATEWAY_RBAC), 'every rule of gateway.yaml used');
      const { entries } = await new AdminClient({ socketPath: lab.broker.socket }).requests();
      for (const cluster of lab.clusters) {
        const user = `system:serviceaccount:${BROKER_NAMESPACE}:${brokerClusterAccess(cluster.id).account.name}`;
        const mine = entries.filter((e) => e.user === user);
        assert.deepEqual(mine.filter((e) => e.decision !== 'allow').map((e) => `${e.verb} ${e.path}`), [], `broker: every request of ${cluster.id} allowed`);
        assert.deepEqual([...new Set(mine.map((e) => e.rule))].sort(), await rulesOf(BROKER_RBAC), `broker: every rule of broker.yaml used by ${cluster.id}`);
      }
    });

    it('the PSK and the broker tokens appear in no log line, metric, Gateway status or Event', async () => {
      const paths = labPaths(PREFIX);
      const psk = (await readFile(paths.psk, 'utf8')).trim();
      const tokens = await Promise.all([c1, c2].map(async (c) => (JSON.parse(await readFile(c.brokerKubeconfig, 'utf8')) as { users: Array<{ user: { token: string } }> }).users[0]!.user.token));
      // WireGuard's private keys and the preshared key it derives from the PSK are secrets too.
      const keys = await Promise.all(lab.clusters.flatMap((c) => c.nodes.filter((n) => n.gatewayCapable)).map(async (n) =>
        readFile(join(paths.node(n.name).gatewayStateDir, 'wireguard', 'wireguard.key'), 'utf8').then((k) => [k.trim(), Buffer.from(k.trim(), 'base64').toString('hex')], () => [])));
      // Made when a gateway first goes active: at least one per cluster.
      if (cable === 'wireguard') assert.ok(keys.filter((k) => k.length > 0).length >= 2, 'the active gateways kept their WireGuard keys');
      const derived = createHash('sha256').update(psk).digest();
      const secrets = [psk, Buffer.from(psk).toString('hex'), ...tokens, ...keys.flat(), ...(cable === 'wireguard' ? [derived.toString('hex'), derived.toString('base64')] : [])];
      const texts: Array<[string, string]> = [];
      for (const cluster of lab.clusters) {
        for (const node of cluster.nodes) {
          const now = await nodeNow(PREFIX, node.name);
          for (const file of [now.agent?.log, now.gateway?.log]) if (file) texts.push([file, await readFile(file, 'utf8')]);
          if (now.gateway) texts.push([`${node.name} /metrics`, (await gatewayHttp(now, '/metrics')).body]);
        }
        texts.push([`${cluster.id} Gateways`, JSON.stringify(await list(cluster.kubeconfig, NS, 'gateways'))]);
        texts.push([`${cluster.id} Events`, JSON.stringify(await coreApi(cluster.kubeconfig).listEventForAllNamespaces())]);
        texts.push([`${cluster.id} RouteAgents`, JSON.stringify(await list(cluster.kubeconfig, NS, 'routeagents'))]);
        texts.push([`${cluster.id} Leases`, JSON.stringify(await customApi(cluster.kubeconfig).listNamespacedCustomObject({ group: 'coordination.k8s.io', version: 'v1', namespace: NS, plural: 'leases' }))]);
        for (const node of cluster.nodes.filter((n) => n.gatewayCapable)) {
          const now = await nodeNow(PREFIX, node.name);
          texts.push([`${node.name} /readyz`, (await gatewayHttp(now, '/readyz')).body]);
          const socket = join(labPaths(PREFIX).node(node.name).gatewayStateDir, 'gateway.sock');
          texts.push([`${node.name} seaway status`, (await run(process.execPath, [AGENT_ENTRY, 'status', '--json', '--status-socket', socket], { allowFailure: true })).stdout]);
        }
      }
      for (const file of await readdir(paths.dir, { recursive: true })) {
        if (file.endsWith('.log')) texts.push([file, await readFile(join(paths.dir, file), 'utf8')]);
      }
      for (const [where, text] of texts) {
        for (const secret of secrets) assert.ok(!text.includes(secret), `a secret appears in ${where}`);
      }
      assert.ok(texts.length > 10, `looked at ${texts.length} texts`);
    });
  });
}
