/**
 * Issue 10 item 5 in the lab, "the underlays real nodes have": nodes whose default route is ECMP, a
 * nexthop object (with nexthop_compat_mode=0, so the route dump names only the object), only in
 * another table behind a rule, absent (air-gapped, the agent told SEAWAY_UNDERLAY_INTERFACE), or on
 * another NIC than the InternalIP (with a jumbo MTU there). Every agent becomes ready; on every node
 * vx-submariner's `local`, its 240.x address and (on gateways) the FDB derive from the InternalIPs,
 * with eth0's MTU; pods of the two clusters reach each other; and a change of the underlay's MTU
 * reaches vx-submariner at once, the resync being a day away.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { run } from '../../src/kernel/exec.ts';
import { requireTools } from '../helpers/prereq.ts';
import { waitFor } from '../helpers/wait.ts';
import { labDown, labUp } from '../lab/lab.ts';
import type { UnderlayVariant } from '../lab/addressing.ts';
import type { ClusterStatus, LabStatus, NodeStatus } from '../lab/state.ts';
import { agentLog, expectedRouting, ipJson, nodeRouting, readyAgents, vtep } from './routing-support.ts';
import { failures, probeAll, startEchoServer, type EchoServer, type Probe } from './datapath-support.ts';

/** Node 1 of each cluster is its gateway (the lab's Endpoints say so). */
const UNDERLAYS: Record<string, UnderlayVariant> = {
  'cluster1-node1': 'multi-nic',
  'cluster1-node2': 'ecmp',
  'cluster1-node3': 'nhid',
  'cluster2-node1': 'none',
  'cluster2-node2': 'policy',
  'cluster2-node3': 'multi-nic',
};

type RouteJson = { dst: string; gateway?: string; dev?: string; nhid?: number; nexthops?: Array<{ gateway?: string; dev?: string }> };
type LinkJson = { ifname: string; mtu: number };
type AddressJson = { addr_info: Array<{ family: string; local: string; prefixlen: number }> };

const defaults = (node: NodeStatus, table = 'main') => ipJson<RouteJson[]>(node.namespace, ['-4', 'route', 'show', 'table', table, 'default']);
const mtuOf = async (node: NodeStatus, dev: string) => (await ipJson<LinkJson[]>(node.namespace, ['link', 'show', 'dev', dev]))[0]?.mtu;

describe('the underlays real nodes have', () => {
  const prefix = `swu${randomBytes(2).toString('hex')}`;
  let lab: LabStatus;
  let clusters: [ClusterStatus, ClusterStatus];
  let nodes: NodeStatus[];
  const servers: EchoServer[] = [];

  before(async () => {
    requireTools('ip', 'bridge', 'iptables', 'ping', 'sysctl');
    lab = await labUp({
      endpoints: true, prefix, clusters: 2, nodes: 3, gateways: 1, podsPerNode: 1, nodeReadyDelay: 0, cniDelay: 0, wait: true, underlays: UNDERLAYS,
      // Nothing but kernel events can wake the agents within the tests' bounds.
      agentEnv: { SEAWAY_RESYNC_SECONDS: '86400' },
    });
    clusters = lab.clusters as [ClusterStatus, ClusterStatus];
    nodes = lab.clusters.flatMap((c) => c.nodes);
    for (const pod of lab.clusters.flatMap((c) => c.pods)) servers.push(await startEchoServer(pod.namespace));
  });

  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await labDown(prefix);
  });

  it('the lab\'s nodes really have these underlays', async () => {
    const byName = new Map(nodes.map((n) => [n.name, n]));
    const node = (name: string) => byName.get(name)!;
    const [c1gw, ecmp, nhid, c2gw, policy, c2multi] = ['cluster1-node1', 'cluster1-node2', 'cluster1-node3', 'cluster2-node1', 'cluster2-node2', 'cluster2-node3'].map(node) as NodeStatus[];
    for (const multi of [c1gw!, c2multi!]) {
      const subnet = multi.ip.split('.')[2];
      assert.deepEqual((await defaults(multi)).map((r) => [r.gateway, r.dev]), [[`172.30.${subnet}.1`, 'eth2']], `${multi.name}: default on eth2`);
      assert.equal(await mtuOf(multi, 'eth2'), 9000);
    }
    assert.deepEqual((await defaults(ecmp!))[0]?.nexthops?.map((h) => h.dev), ['eth0', 'eth2'], 'two next hops');
    assert.equal((await defaults(nhid!))[0]?.nhid, 1);
    const { stdout: compat } = await run('ip', ['netns', 'exec', nhid!.namespace, 'sysctl', '-n', 'net.ipv4.nexthop_compat_mode']);
    assert.equal(compat.trim(), '0', 'the route dump names only the nexthop object');
    assert.deepEqual(await defaults(c2gw!, 'all'), [], 'no default route in any table');
    assert.deepEqual(await defaults(policy!), [], 'none in main');
    assert.deepEqual((await defaults(policy!, '200')).map((r) => r.dev), ['eth0']);
    const rules = await ipJson<Array<{ priority: number; table: string }>>(policy!.namespace, ['rule', 'show']);
    assert.ok(rules.some((r) => r.priority === 32800 && r.table === '200'), 'table 200 behind rule 32800');
  });

  it('every agent is ready; vx-submariner\'s local, its 240.x address and the gateways\' FDB derive from the InternalIPs, with eth0\'s MTU', async () => {
    await readyAgents(lab);
    for (const [index, cluster] of clusters.entries()) {
      const gateway = cluster.nodes[0]!;
      const remote = clusters[1 - index]!;
      for (const node of cluster.nodes) {
        assert.deepEqual(await nodeRouting(node.namespace), expectedRouting(cluster, node, gateway, [remote.podCidr, remote.serviceCidr]), `${node.name} (${UNDERLAYS[node.name]})`);
        const [vx] = await ipJson<AddressJson[]>(node.namespace, ['addr', 'show', 'dev', 'vx-submariner']);
        assert.deepEqual(vx?.addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`), [`${vtep(node.ip)}/8`], `${node.name}: VTEP address`);
        assert.equal(await mtuOf(node, 'vx-submariner'), 1450, `${node.name}: eth0's MTU less 50`);
        const chosen = (await agentLog(node)).filter((l) => l.msg === 'underlay chosen').at(-1);
        assert.deepEqual([chosen?.nodeIp, chosen?.nodeIpFrom, chosen?.device, chosen?.mtu], [node.ip, 'internal-ip', 'eth0', 1500], `${node.name}: logged choice`);
        assert.equal(chosen?.deviceFrom, UNDERLAYS[node.name] === 'none' ? 'setting' : 'node-ip', `${node.name}: device from`);
      }
    }
  });

  it('every pod of cluster 1 reaches every pod of cluster 2 and back: ping and TCP, seen with its own pod IP', async () => {
    const [a, b] = clusters;
    const probes: Probe[] = [];
    for (const [src, dst] of [[a, b], [b, a]] as const) for (const from of src.pods) for (const to of dst.pods) probes.push({ from, to });
    const results = await probeAll(probes);
    assert.equal(results.length, 2 * a.pods.length * b.pods.length);
    assert.deepEqual(failures(results, (r) => r.from.ip), []);
  });

  it('a change of the underlay\'s MTU reaches vx-submariner at once (the resync is a day away), and back', async () => {
    for (const node of [clusters[0].nodes[1]!, clusters[1].nodes[0]!]) {
      for (const mtu of [1400, 1500]) {
        await run('ip', ['-n', node.namespace, 'link', 'set', 'eth0', 'mtu', String(mtu)]);
        await waitFor(`${node.name}: vx-submariner MTU ${mtu - 50}`, async () => (await mtuOf(node, 'vx-submariner')) === mtu - 50, { timeoutMs: 10_000, intervalMs: 50 });
      }
    }
  });
});
