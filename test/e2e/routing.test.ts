/**
 * Issue 4 in the lab: seaway programs the routing datapath from the lab's Endpoints, traffic from a pod on a
 * non-gateway node reaches the local gateway over VXLAN, drift is repaired from kernel events, and a gateway
 * move re-programs every node of the cluster from the Endpoint's change.
 *
 * The agents' periodic resync is set to a day, so nothing here can be repaired or re-programmed by it: what
 * happens, happens through events. Time bounds only catch a hang; they assert no speed (a shared 2-core box).
 *
 * The lab stands in for tunnels with plain routes between the gateways on the WAN. seaway's table 150 on the
 * gateway (`<remote> dev eth0 src <cni ip>`, rule 150) is what an IPsec cable needs: the XFRM policy, not the
 * route, carries the packet. Without a cable it sends remote traffic onto the LAN, so the lab adds rules at
 * priority 140 sending remote CIDRs to its WAN routes in the main table; the "cross-cluster ping" test below
 * shows with real packets that this works, and (temporarily removing the rules) that table 150 alone would not.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { run } from '../../src/kernel/exec.ts';
import { requireTools } from '../helpers/prereq.ts';
import { labDown, labUp } from '../lab/lab.ts';
import { WAN_RULE_PRIORITY, WAN_TABLE } from '../lab/topology.ts';
import type { ClusterStatus, LabStatus, NodeStatus } from '../lab/state.ts';
import { agentMetrics, expectedRouting, metricValue, msUntil, nodeRouting, readyAgents, submarinerApi, vtep } from './routing-support.ts';
import { waitFor } from '../helpers/wait.ts';

const PREFIX = `swf${randomBytes(2).toString('hex')}`;
/** A day: longer than the whole file runs, so only events can repair or re-program. */
const RESYNC_SECONDS = 86_400;
/** Catches a hang (a repair that never comes); not a speed goal. */
const HANG_MS = 15_000;

async function ping(namespace: string, ip: string, count: number, deadlineSeconds: number): Promise<boolean> {
  const result = await run('ip', ['netns', 'exec', namespace, 'ping', '-n', '-q', '-i', '0.2', '-c', String(count), '-w', String(deadlineSeconds), ip], { allowFailure: true });
  return result.code === 0;
}

async function rxPackets(namespace: string, device: string): Promise<number> {
  const { stdout } = await run('ip', ['-n', namespace, '-j', '-s', 'link', 'show', device]);
  const [link] = JSON.parse(stdout) as Array<{ stats64: { rx: { packets: number } } }>;
  assert.ok(link, `${device} missing in ${namespace}`);
  return link.stats64.rx.packets;
}

describe('routing datapath in the lab (issue 4)', () => {
  let lab: LabStatus;
  let c1: ClusterStatus;
  let c2: ClusterStatus;

  const remoteOf = (cluster: ClusterStatus) => (cluster === c1 ? [c2.podCidr, c2.serviceCidr] : [c1.podCidr, c1.serviceCidr]);
  const mismatches = async (cluster: ClusterStatus, gateway: NodeStatus) => {
    const wrong: string[] = [];
    await Promise.all(cluster.nodes.map(async (node) => {
      const actual = await nodeRouting(node.namespace);
      const expected = expectedRouting(cluster, node, gateway, remoteOf(cluster));
      if (JSON.stringify(actual) !== JSON.stringify(expected)) wrong.push(`${node.name}: ${JSON.stringify(actual)} != ${JSON.stringify(expected)}`);
    }));
    return wrong;
  };
  const programmed = async (cluster: ClusterStatus, gateway: NodeStatus) => (await mismatches(cluster, gateway)).length === 0;

  before(async () => {
    requireTools('ip', 'bridge', 'ping', 'iptables', 'sysctl');
    // Two gateway-capable nodes per cluster, so the gateway can move to node 2.
    lab = await labUp({
      endpoints: true, prefix: PREFIX, clusters: 2, nodes: 3, gateways: 2, podsPerNode: 1, nodeReadyDelay: 0, cniDelay: 0, wait: true,
      agentEnv: { SEAWAY_RESYNC_SECONDS: String(RESYNC_SECONDS) },
    });
    [c1, c2] = lab.clusters as [ClusterStatus, ClusterStatus];
    await readyAgents(lab);
  });

  after(async () => {
    await labDown(PREFIX);
  });

  it('every non-gateway node routes the remote subnets through vx-submariner to its gateway; the gateway has table 150, rule 150 and FDB entries', async () => {
    for (const cluster of [c1, c2]) {
      const gateway = cluster.nodes[0] as NodeStatus;
      await msUntil(performance.now(), `${cluster.id} programmed`, () => programmed(cluster, gateway), 10_000)
        .catch(async (error: Error) => { throw new Error(`${error.message}\n${(await mismatches(cluster, gateway)).join('\n')}`); });
      for (const node of cluster.nodes.slice(1)) {
        for (const subnet of remoteOf(cluster)) {
          const host = subnet.replace(/\.0\.0\/16$/, '.1.2');
          const { stdout } = await run('ip', ['-n', node.namespace, 'route', 'get', host]);
          assert.match(stdout, new RegExp(`^${host.replaceAll('.', '\\.')} via ${vtep(gateway.ip).replaceAll('.', '\\.')} dev vx-submariner `), `${node.name}: ${stdout}`);
        }
      }
    }
    // Spelled out once, for the reader: cluster 1's gateway and a worker.
    assert.deepEqual((await nodeRouting(c1.nodes[0]!.namespace)).fdb, ['00:00:00:00:00:00 dst 192.168.1.12', '00:00:00:00:00:00 dst 192.168.1.13']);
    assert.deepEqual((await nodeRouting(c1.nodes[0]!.namespace)).table150, ['10.102.0.0/16 dev eth0 src 10.1.1.1', '10.2.0.0/16 dev eth0 src 10.1.1.1']);
    assert.deepEqual((await nodeRouting(c1.nodes[1]!.namespace)).main, ['10.102.0.0/16 via 240.168.1.11 dev vx-submariner', '10.2.0.0/16 via 240.168.1.11 dev vx-submariner']);
  });

  it('a packet from a pod on a non-gateway node to a remote pod arrives at the local gateway over VXLAN and crosses the WAN', async () => {
    const gateway = c1.nodes[0] as NodeStatus;
    const from = c1.pods.find((p) => p.node === c1.nodes[1]!.name);
    const to = c2.pods.find((p) => p.node === c2.nodes[1]!.name);
    assert.ok(from && to);
    const before = await rxPackets(gateway.namespace, 'vx-submariner');
    assert.equal(await ping(from.namespace, to.ip, 5, 10), true, `${from.name} -> ${to.name} (${to.ip})`);
    const received = (await rxPackets(gateway.namespace, 'vx-submariner')) - before;
    assert.ok(received >= 5, `the gateway's vx-submariner received ${received} packets, expected at least the 5 echo requests`);

    // The counterfactual: without the lab's rules, table 150 sends the forwarded packet out of the LAN interface.
    const gateways = [{ ns: gateway.namespace, remote: [c2.podCidr, c2.serviceCidr] }, { ns: c2.nodes[0]!.namespace, remote: [c1.podCidr, c1.serviceCidr] }];
    try {
      for (const g of gateways) for (const cidr of g.remote) await run('ip', ['-n', g.ns, 'rule', 'del', 'priority', String(WAN_RULE_PRIORITY), 'to', cidr, 'lookup', String(WAN_TABLE)]);
      const { stdout } = await run('ip', ['-n', gateway.namespace, 'route', 'get', to.ip, 'from', from.ip, 'iif', 'vx-submariner']);
      assert.match(stdout, /dev eth0 table 150/, stdout);
      assert.equal(await ping(from.namespace, to.ip, 1, 2), false, 'table 150 alone must not reach the remote cluster in the lab');
    } finally {
      for (const g of gateways) for (const cidr of g.remote) await run('ip', ['-n', g.ns, 'rule', 'add', 'priority', String(WAN_RULE_PRIORITY), 'to', cidr, 'lookup', String(WAN_TABLE)], { allowFailure: true });
    }
    assert.equal(await ping(from.namespace, to.ip, 1, 5), true, 'restored');
  });

  it('drift: a deleted owned route, the gateway\'s rule, vx-submariner deleted or set down, the VTEP address and an FDB entry deleted are each repaired from kernel events alone', async () => {
    const gateway = c1.nodes[0] as NodeStatus;
    const worker = c1.nodes[1] as NodeStatus;
    const ns = worker.namespace;
    const expected = expectedRouting(c1, worker, gateway, remoteOf(c1));
    const whole = async () => JSON.stringify(await nodeRouting(ns)) === JSON.stringify(expected);
    assert.equal(await whole(), true);
    const timings: Record<string, number> = {};
    const ROUTING_REPAIRS = 'seaway_drift_repairs_total{component="routing"}';
    const repairsBefore = metricValue(await agentMetrics(worker), ROUTING_REPAIRS) ?? 0;

    let start = performance.now();
    await run('ip', ['-n', ns, 'route', 'del', c2.podCidr, 'proto', '147']);
    // (`ip route del` exiting 0 is the proof of deletion: the repair is often done before a second `ip` could look.)
    timings.route = await msUntil(start, 'the deleted route to come back', whole, HANG_MS);

    start = performance.now();
    await run('ip', ['-n', ns, 'link', 'del', 'vx-submariner']);
    timings.link = await msUntil(start, 'vx-submariner, its address and its routes to come back', whole, HANG_MS);
    // The route, and the link with its address and routes: at least three repairing writes, counted as such.
    await waitFor('the repairs counted in seaway_drift_repairs_total', async () => (metricValue(await agentMetrics(worker), ROUTING_REPAIRS) ?? 0) >= repairsBefore + 3, { timeoutMs: HANG_MS, intervalMs: 20 });

    // Set down, the link stays but the kernel drops its routes without telling anyone; the link's own
    // change event is what brings it back up with them.
    start = performance.now();
    await run('ip', ['-n', ns, 'link', 'set', 'vx-submariner', 'down']);
    const linkUp = async () => /[<,]UP[,>]/.test((await run('ip', ['-n', ns, 'link', 'show', 'vx-submariner'])).stdout);
    timings.linkDown = await msUntil(start, 'vx-submariner up again with its routes', async () => (await linkUp()) && (await whole()), HANG_MS);

    // The gateway's rule too.
    start = performance.now();
    await run('ip', ['-n', gateway.namespace, 'rule', 'del', 'priority', '150']);
    timings.gatewayRule = await msUntil(start, 'rule 150 to come back', async () => (await nodeRouting(gateway.namespace)).rules.includes('150 lookup 150'), HANG_MS);

    // The VTEP address (the kernel takes the routes via the gateway's VTEP with it), and one of the gateway's FDB entries.
    start = performance.now();
    await run('ip', ['-n', ns, 'addr', 'del', `${vtep(worker.ip)}/8`, 'dev', 'vx-submariner']);
    const hasVtep = async () => (await run('ip', ['-n', ns, '-o', 'addr', 'show', 'dev', 'vx-submariner'])).stdout.includes(`inet ${vtep(worker.ip)}/8`);
    timings.vtepAddress = await msUntil(start, 'the VTEP address and its routes to come back', async () => (await hasVtep()) && (await whole()), HANG_MS);
    const gatewayExpected = expectedRouting(c1, gateway, gateway, remoteOf(c1));
    start = performance.now();
    await run('bridge', ['-n', gateway.namespace, 'fdb', 'del', '00:00:00:00:00:00', 'dev', 'vx-submariner', 'dst', worker.ip]);
    timings.fdb = await msUntil(start, 'the gateway\'s FDB entry to come back', async () => JSON.stringify(await nodeRouting(gateway.namespace)) === JSON.stringify(gatewayExpected), HANG_MS);

    // For the reader only, not asserted: no benchmark prints these yet.
    console.log(`drift repair times (ms): ${JSON.stringify(Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v)])))}`);
  });

  it('the gateway moves to node 2: every node of the cluster re-programs to follow it', async () => {
    const api = submarinerApi(c1);
    const [local] = (await api.list()).filter((e) => (e.spec as { cluster_id: string }).cluster_id === c1.id);
    assert.ok(local);
    const newGateway = c1.nodes[1] as NodeStatus;
    assert.equal(await programmed(c1, c1.nodes[0] as NodeStatus), true);
    const repairs = async () => Promise.all(c1.nodes.map(async (n) => metricValue(await agentMetrics(n), 'seaway_drift_repairs_total{component="routing"}') ?? 0));
    const repairsBefore = await repairs();
    const start = performance.now();
    await api.patchSpec(local.metadata.name, { hostname: newGateway.name, private_ip: newGateway.ip, public_ip: newGateway.wanIp });
    // With the resync a day away, only the Endpoint's watch event can bring this about.
    const ms = await msUntil(start, 'every node of cluster1 to follow the new gateway', () => programmed(c1, newGateway), HANG_MS)
      .catch(async (error: Error) => { throw new Error(`${error.message}\n${(await mismatches(c1, newGateway)).join('\n')}`); });
    // For the reader only, not asserted: no benchmark prints this yet.
    console.log(`gateway move re-programmed ${c1.nodes.length} nodes in ${ms.toFixed(0)} ms`);
    assert.equal(await programmed(c2, c2.nodes[0] as NodeStatus), true, 'the other cluster is unaffected');
    assert.deepEqual(await repairs(), repairsBefore, 'writes that follow an Endpoint change are not drift repairs');
  });
});
