/**
 * Replacing Submariner's route agent in place (issue 9): a node where Submariner's route agent ran
 * (built here from the facts in shared/research/submariner.md §2: vx-submariner, main-table routes
 * proto static via 240.x on workers, table 150 proto static and a rule 150 without protocol on the
 * gateway, FDB entries, the SUBMARINER-* chains with Submariner's own jumps and its ipsets, rp_filter
 * 2), and a node with seaway's own earlier layout (table 100 behind rule 100), both become ready under
 * seaway and end exactly as seaway programs a fresh node; `seaway cleanup` afterwards leaves them as
 * they were before either ran.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { requireTools } from '../helpers/prereq.ts';
import { waitFor } from '../helpers/wait.ts';
import { httpGetUnix } from '../lab/http-unix.ts';
import { labDown, labUp, startAgent, stopAgent } from '../lab/lab.ts';
import { labPaths } from '../lab/paths.ts';
import type { ClusterStatus, LabStatus, NodeStatus } from '../lab/state.ts';
import { describeDifferences, differences, inNode, linkLocalSettled, nodeState, runNodeCleanup, type NodeState } from './cleanup-support.ts';
import { vtep } from './routing-support.ts';

const prefix = `swm${randomBytes(2).toString('hex')}`;

/**
 * A node's state as far as the comparison goes: vx-submariner made anew gets another index and MAC
 * (and with it another IPv6 link-local address), a set made anew another hash seed (initval) and
 * member order, and nft lists chains in the order they were made; none of that is anyone's configuration.
 */
function comparable(state: NodeState): NodeState {
  return {
    ...state,
    links: state.links.replace(/^\d+: /gm, '').replace(/(vx-submariner: [^\n]*\n\s+link\/ether )\S+/, '$1<mac>'),
    routes: state.routes.split('\n').filter((l) => !(l.includes('fe80') && l.includes('dev vx-submariner'))).join('\n'),
    nftRuleset: state.nftRuleset.split('\n').map((l) => l.trim()).filter(Boolean).sort().join('\n'),
    ipsets: state.ipsets.replace(/ initval 0x[0-9a-f]+/g, '').split('\n').sort().join('\n'),
  };
}
const stateOf = async (node: NodeStatus) => { await linkLocalSettled(node); return comparable(await nodeState(node)); };

describe('replacing Submariner\'s route agent, and seaway\'s earlier layout, in place (issue 9)', () => {
  let lab: LabStatus;
  let c1: ClusterStatus;
  let c2: ClusterStatus;
  const pristine = new Map<string, NodeState>();
  const wanted = new Map<string, NodeState>();
  const all = () => lab.clusters.flatMap((cluster) => cluster.nodes.map((node) => ({ node, cluster })));

  const ready = async (nodes: readonly NodeStatus[]) => {
    for (const node of nodes) await startAgent(prefix, node.name);
    await Promise.all(nodes.map((node) => waitFor(`${node.name} ready`, async () =>
      (await httpGetUnix(labPaths(prefix).node(node.name).agentSocket, '/readyz')).status === 200, { timeoutMs: 30_000, intervalMs: 50 })));
  };
  const readyAll = () => ready(all().map(({ node }) => node));
  const stopAll = async () => { for (const { node } of all()) await stopAgent(prefix, node.name); };
  const cleanupAll = async () => {
    for (const { node, cluster } of all()) {
      const result = await runNodeCleanup(prefix, node, cluster);
      assert.equal(result.code, 0, `${node.name} cleanup: ${result.output}`);
    }
  };

  before(async () => {
    requireTools('ip', 'bridge', 'iptables', 'iptables-nft-save', 'iptables-legacy-save', 'nft', 'ipset', 'sysctl');
    lab = await labUp({ endpoints: true, prefix, clusters: 2, nodes: 2, gateways: 1, podsPerNode: 1, nodeReadyDelay: 0, cniDelay: 0, agents: false, wait: true });
    [c1, c2] = lab.clusters as [ClusterStatus, ClusterStatus];
    for (const { node } of all()) {
      await linkLocalSettled(node);
      pristine.set(node.name, await nodeState(node));
    }
    // What seaway programs on a fresh node: the state every migration must end in.
    await readyAll();
    for (const { node } of all()) wanted.set(node.name, await stateOf(node));
    await stopAll();
    await cleanupAll();
    for (const { node } of all()) assert.deepEqual(differences(pristine.get(node.name)!, await nodeState(node)), [], `${node.name} back to pristine`);
  });

  after(async () => { await labDown(prefix); });

  /** Submariner's route agent's datapath on `node` of `cluster`, as its kubeproxy and MTU handlers leave it. */
  async function submarinerLeftovers(cluster: ClusterStatus, node: NodeStatus, remote: ClusterStatus): Promise<void> {
    const gateway = cluster.nodes[0] as NodeStatus;
    const isGateway = node.name === gateway.name;
    const sh = (...args: string[]) => inNode(node, args[0]!, args.slice(1));
    await sh('ip', 'link', 'add', 'vx-submariner', 'type', 'vxlan', 'id', '100', 'local', node.ip, ...(isGateway ? [] : ['remote', gateway.ip]), 'dstport', '4800', 'dev', 'eth0', 'nolearning');
    await sh('ip', 'link', 'set', 'vx-submariner', 'mtu', '1450', 'up');
    await sh('ip', 'addr', 'add', `${vtep(node.ip)}/8`, 'dev', 'vx-submariner');
    const remoteCidrs = [remote.podCidr, remote.serviceCidr];
    if (isGateway) {
      await sh('ip', 'rule', 'add', 'pref', '150', 'lookup', '150');
      for (const cidr of remoteCidrs) await sh('ip', 'route', 'add', cidr, 'dev', 'eth0', 'src', node.cniIp, 'proto', 'static', 'table', '150');
      for (const other of cluster.nodes.filter((n) => n.name !== node.name)) {
        await sh('bridge', 'fdb', 'append', '00:00:00:00:00:00', 'dev', 'vx-submariner', 'dst', other.ip, 'self', 'permanent');
      }
    } else {
      for (const cidr of remoteCidrs) await sh('ip', 'route', 'add', cidr, 'via', vtep(gateway.ip), 'dev', 'vx-submariner', 'proto', 'static');
    }
    await sh('sysctl', '-q', '-w', 'net.ipv4.conf.vx-submariner.rp_filter=2', 'net.ipv4.conf.vx-submariner.forwarding=1');
    const local = [cluster.podCidr, cluster.serviceCidr];
    await sh('ipset', 'create', 'SUBMARINER-LOCALCIDRS', 'hash:net', 'family', 'inet');
    await sh('ipset', 'create', 'SUBMARINER-REMOTECIDRS', 'hash:net', 'family', 'inet');
    for (const cidr of local) await sh('ipset', 'add', 'SUBMARINER-LOCALCIDRS', cidr);
    for (const cidr of remoteCidrs) await sh('ipset', 'add', 'SUBMARINER-REMOTECIDRS', cidr);
    const ipt = (...args: string[]) => sh('iptables', ...args);
    await ipt('-t', 'nat', '-N', 'SUBMARINER-POSTROUTING');
    await ipt('-t', 'nat', '-I', 'POSTROUTING', '1', '-j', 'SUBMARINER-POSTROUTING');
    await ipt('-t', 'nat', '-A', 'SUBMARINER-POSTROUTING', '-s', '240.0.0.0/8', '-o', 'vx-submariner', '-j', 'SNAT', '--to-source', node.cniIp);
    for (const l of local) {
      for (const r of remoteCidrs) {
        await ipt('-t', 'nat', '-A', 'SUBMARINER-POSTROUTING', '-s', l, '-d', r, '-j', 'ACCEPT');
        await ipt('-t', 'nat', '-A', 'SUBMARINER-POSTROUTING', '-s', r, '-d', l, '-j', 'ACCEPT');
      }
    }
    await ipt('-t', 'filter', '-N', 'SUBMARINER-INPUT');
    await ipt('-t', 'filter', '-A', 'INPUT', '-p', 'udp', '-m', 'udp', '-j', 'SUBMARINER-INPUT');
    await ipt('-t', 'filter', '-A', 'SUBMARINER-INPUT', '-p', 'udp', '-m', 'udp', '--dport', '4800', '-j', 'ACCEPT');
    await ipt('-t', 'filter', '-N', 'SUBMARINER-FORWARD');
    await ipt('-t', 'filter', '-I', 'FORWARD', '1', '-j', 'SUBMARINER-FORWARD');
    await ipt('-t', 'filter', '-A', 'SUBMARINER-FORWARD', '-o', 'vx-submariner', '-j', 'ACCEPT');
    await ipt('-t', 'mangle', '-N', 'SUBMARINER-POSTROUTING');
    await ipt('-t', 'mangle', '-I', 'POSTROUTING', '1', '-j', 'SUBMARINER-POSTROUTING');
    for (const [src, dst] of [['SUBMARINER-LOCALCIDRS', 'SUBMARINER-REMOTECIDRS'], ['SUBMARINER-REMOTECIDRS', 'SUBMARINER-LOCALCIDRS']] as const) {
      await ipt('-t', 'mangle', '-A', 'SUBMARINER-POSTROUTING', '-p', 'tcp', '-m', 'set', '--match-set', src, 'src', '-m', 'set', '--match-set', dst, 'dst',
        '-m', 'tcp', '--tcp-flags', 'SYN,RST', 'SYN', '-j', 'TCPMSS', '--clamp-mss-to-pmtu');
    }
  }

  it('nodes with Submariner\'s route agent\'s leftovers, and a worker with seaway\'s earlier layout, become ready and end exactly as seaway programs a fresh node', async () => {
    for (const node of c1.nodes) await submarinerLeftovers(c1, node, c2);
    for (const node of c1.nodes) assert.notDeepEqual(differences(wanted.get(node.name)!, await stateOf(node)), [], `${node.name} starts different`);
    // seaway's earlier layout on cluster 2: as seaway programs it now, with the worker's routes moved to table 100 behind rule 100.
    await ready(c2.nodes);
    for (const node of c2.nodes) await stopAgent(prefix, node.name);
    const earlier = c2.nodes[1] as NodeStatus;
    const routes = (await inNode(earlier, 'ip', ['route', 'show', 'proto', '147'])).stdout.split('\n').filter(Boolean);
    assert.ok(routes.length > 0);
    for (const route of routes) {
      await inNode(earlier, 'ip', ['route', 'del', ...route.trim().split(/\s+/)]);
      // (`ip route show proto 147` leaves the protocol out of what it prints.)
      await inNode(earlier, 'ip', ['route', 'add', ...route.trim().split(/\s+/), 'table', '100', 'proto', '147']);
    }
    await inNode(earlier, 'ip', ['rule', 'add', 'pref', '100', 'lookup', '100', 'proto', '147']);
    assert.deepEqual(differences(wanted.get(earlier.name)!, await stateOf(earlier)), ['routes', 'rules'], `${earlier.name} starts in the earlier layout`);

    await readyAll();
    for (const { node } of all()) {
      const now = await stateOf(node);
      assert.deepEqual(differences(wanted.get(node.name)!, now), [], `${node.name} ends in seaway's state:${describeDifferences(wanted.get(node.name)!, now)}`);
    }
  });

  // Submariner also sets rp_filter=2 on the CNI interface; a node where it did keeps that value after
  // seaway's cleanup, since seaway never saw the original. The leftovers here leave it as it was.
  it('seaway cleanup afterwards leaves every node as before either ran', async () => {
    await stopAll();
    await cleanupAll();
    for (const { node } of all()) {
      const now = await nodeState(node);
      assert.deepEqual(differences(pristine.get(node.name)!, now), [], `${node.name} pristine:${describeDifferences(pristine.get(node.name)!, now)}`);
    }
  });
});
