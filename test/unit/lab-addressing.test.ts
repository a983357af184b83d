import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isLabNamespace, planLab, planNamespaces, resolveOptions, validatePrefix, MAX_CLUSTERS, MAX_NODES, NAT_FORWARDED_UDP_PORTS, type ClusterPlan } from '../lab/addressing.ts';
import { cniSteps } from '../lab/cni-sim.ts';
import { cidrBits, natCommands, topologyPhases, underlayCommands } from '../lab/topology.ts';

function ipToNumber(ip: string): number {
  return ip.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

function cidrRange(cidr: string): [number, number] {
  const [ip, bits] = cidr.split('/') as [string, string];
  const size = 2 ** (32 - Number(bits));
  const start = ipToNumber(ip);
  assert.equal(start % size, 0, `${cidr} is not aligned`);
  return [start, start + size - 1];
}

function inCidr(ip: string, cidr: string): boolean {
  const [start, end] = cidrRange(cidr);
  const value = ipToNumber(ip);
  return value >= start && value <= end;
}

function overlaps(a: string, b: string): boolean {
  const [a0, a1] = cidrRange(a);
  const [b0, b1] = cidrRange(b);
  return a0 <= b1 && b0 <= a1;
}

describe('lab address planning', () => {
  it('plans the default lab: 2 clusters x 3 nodes, 1 pod each, node 1 gateway-capable', () => {
    const plan = planLab({ prefix: 'sw' });
    assert.equal(plan.clusters.length, 2);
    const [c1, c2] = plan.clusters as [typeof plan.clusters[0], typeof plan.clusters[0]];
    assert.equal(c1.id, 'cluster1');
    assert.equal(c1.podCidr, '10.1.0.0/16');
    assert.equal(c1.serviceCidr, '10.101.0.0/16');
    assert.equal(c1.lanCidr, '192.168.1.0/24');
    assert.equal(c2.podCidr, '10.2.0.0/16');
    assert.equal(c1.controlPlane.url, 'https://192.168.1.1:6443');
    assert.deepEqual(c1.nodes.map((n) => [n.name, n.ip, n.podCidr, n.gatewayCapable, n.wanIp]), [
      ['cluster1-node1', '192.168.1.11', '10.1.1.0/24', true, '198.18.1.1'],
      ['cluster1-node2', '192.168.1.12', '10.1.2.0/24', false, null],
      ['cluster1-node3', '192.168.1.13', '10.1.3.0/24', false, null],
    ]);
    assert.deepEqual(c2.nodes[0]?.pods, [{ name: 'cluster2-node1-pod1', namespace: 'sw-c2-n1-p1', ip: '10.2.1.2', hostVeth: 'vp1', node: 'cluster2-node1' }]);
    assert.equal(plan.broker.url, 'https://198.18.0.1:6443');
  });

  it('keeps every address inside its network and no two networks of different clusters overlapping', () => {
    const plan = planLab({ prefix: 'big', clusters: 12, nodes: 20, podsPerNode: 3, gateways: 2 });
    const networks: { owner: string; cidr: string }[] = [{ owner: 'wan', cidr: plan.wan.cidr }];
    const seen = new Set<string>([plan.broker.ip]);
    for (const cluster of plan.clusters) {
      networks.push({ owner: cluster.id, cidr: cluster.podCidr }, { owner: cluster.id, cidr: cluster.serviceCidr }, { owner: cluster.id, cidr: cluster.lanCidr });
      assert.ok(inCidr(cluster.controlPlane.ip, cluster.lanCidr));
      for (const node of cluster.nodes) {
        assert.ok(inCidr(node.ip, cluster.lanCidr), `${node.name} ${node.ip} in ${cluster.lanCidr}`);
        assert.ok(inCidr(node.podCidr.split('/')[0] as string, cluster.podCidr) && cidrBits(node.podCidr) === 24);
        assert.ok(inCidr(node.cniIp, node.podCidr));
        if (node.wanIp) assert.ok(inCidr(node.wanIp, plan.wan.cidr));
        for (const address of [node.ip, node.cniIp, node.wanIp, ...node.pods.map((p) => p.ip)]) {
          if (address === null) continue;
          assert.ok(!seen.has(address), `address ${address} used twice`);
          seen.add(address);
        }
        for (const pod of node.pods) assert.ok(inCidr(pod.ip, node.podCidr) && pod.ip !== node.cniIp);
      }
      for (const [a, b] of pairs(cluster.nodes)) assert.ok(!overlaps(a.podCidr, b.podCidr), `${a.name} and ${b.name} pod CIDRs overlap`);
    }
    for (const [a, b] of pairs(networks)) {
      if (a.owner !== b.owner) assert.ok(!overlaps(a.cidr, b.cidr), `${a.owner} ${a.cidr} overlaps ${b.owner} ${b.cidr}`);
    }
  });

  it('holds at the size limits', () => {
    const plan = planLab({ prefix: 'max', clusters: MAX_CLUSTERS, nodes: MAX_NODES, podsPerNode: 1, gateways: 3 });
    const last = plan.clusters.at(-1)?.nodes.at(-1);
    assert.equal(last?.ip, `192.168.${MAX_CLUSTERS}.${10 + MAX_NODES}`);
    assert.equal(last?.podCidr, `10.${MAX_CLUSTERS}.${MAX_NODES}.0/24`);
    assert.equal(plan.clusters.at(-1)?.serviceCidr, `10.${100 + MAX_CLUSTERS}.0.0/16`);
  });

  it('names every namespace with the prefix and recognises exactly those', () => {
    const plan = planLab({ prefix: 'swb7', clusters: 2, nodes: 2, podsPerNode: 2 });
    const names = planNamespaces(plan);
    assert.equal(names.length, 2 + 2 * (2 + 2 * (1 + 2)));
    assert.equal(new Set(names).size, names.length);
    for (const name of names) {
      assert.ok(name.startsWith('swb7-'), name);
      assert.ok(isLabNamespace('swb7', name), name);
      assert.ok(!isLabNamespace('swb', name), `${name} must not belong to prefix swb`);
      assert.ok(!isLabNamespace('swb77', name), `${name} must not belong to prefix swb77`);
    }
    for (const foreign of ['swb7', 'swb7-', 'swb7-other', 'swb7-c1', 'swb7-c1-n1-x', 'swt-k-abc123', 'swb7-c-lan', 'xswb7-wan', 'swb7-wan2']) {
      assert.ok(!isLabNamespace('swb7', foreign), foreign);
    }
  });

  it('rejects bad prefixes with a message naming the rule', () => {
    for (const bad of ['', 'SW', '1sw', 'sw-b', 'sw b', 'a'.repeat(17), 'sw/..', undefined, 3]) {
      assert.throws(() => validatePrefix(bad), /lab prefix .* is invalid/, String(bad));
    }
    assert.equal(validatePrefix('swb1'), 'swb1');
  });

  it('rejects out-of-range and malformed options, naming the option', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ clusters: 0 }, /clusters must be an integer from 1 to 50/],
      [{ clusters: MAX_CLUSTERS + 1 }, /clusters/],
      [{ clusters: 1.5 }, /clusters/],
      [{ clusters: '2' }, /clusters/],
      [{ nodes: 0 }, /nodes/],
      [{ nodes: MAX_NODES + 1 }, /nodes/],
      [{ podsPerNode: -1 }, /podsPerNode/],
      [{ nodes: 2, gateways: 3 }, /gateways must be an integer from 0 to 2/],
      [{ nodeReadyDelay: -1 }, /nodeReadyDelay/],
      [{ nodeReadyDelay: Number.NaN }, /nodeReadyDelay/],
      [{ cniDelay: Infinity }, /cniDelay/],
      [{ cniInterface: 'eth0' }, /cniInterface/],
      [{ cniInterface: 'a-name-much-too-long' }, /cniInterface/],
      [{ cniInterface: 'bad name' }, /cniInterface/],
      [{ cniInterface: '' }, /cniInterface/],
      [{ cniInterface: 'eth2' }, /cniInterface/],
      [{ underlays: { 'cluster1-node1': 'vrf' } }, /underlays: cluster1-node1 has "vrf", not one of plain, ecmp, nhid, policy, none, multi-nic/],
      [{ underlays: { 'cluster3-node1': 'ecmp' } }, /underlays names "cluster3-node1", which is not a node of this lab/],
      [{ underlays: { 'cluster1-node4': 'ecmp' } }, /not a node of this lab/],
      [{ underlays: { 'cluster1-node01': 'ecmp' } }, /not a node of this lab/],
      [{ underlays: ['ecmp'] }, /underlays must map node names/],
    ];
    for (const [input, message] of cases) {
      assert.throws(() => resolveOptions({ prefix: 'sw', ...input } as never), message, JSON.stringify(input));
    }
  });

  it('accepts zero delays, a CNI that never comes, zero pods and zero gateways', () => {
    const options = resolveOptions({ prefix: 'sw', nodeReadyDelay: 0, cniDelay: null, podsPerNode: 0, gateways: 0, cniInterface: 'vxlan.calico' });
    assert.equal(options.nodeReadyDelay, 0);
    assert.equal(options.cniDelay, null);
    const plan = planLab(options);
    assert.ok(plan.clusters.every((c) => c.nodes.every((n) => !n.gatewayCapable && n.wanIp === null && n.pods.length === 0)));
  });
});

describe('lab wiring (pure)', () => {
  it('builds bridges before the leaves, never naming the root namespace', () => {
    const plan = planLab({ prefix: 'sw' });
    const [bridges = [], leaves = []] = topologyPhases(plan);
    const namespaces = new Set(planNamespaces(plan));
    assert.deepEqual(new Set(bridges.map((b) => b.namespace)), new Set(['sw-c1-lan', 'sw-c2-lan', 'sw-wan']));
    for (const batch of [...bridges, ...leaves]) {
      assert.ok(namespaces.has(batch.namespace), batch.namespace);
      for (const line of batch.lines) {
        const peer = /netns (\S+)/.exec(line)?.[1];
        if (peer !== undefined) assert.ok(namespaces.has(peer), `${line}: peer namespace ${peer} is not the lab's`);
      }
    }
    const wan = bridges.find((b) => b.namespace === 'sw-wan');
    assert.ok(wan?.lines.includes('link add c1n1 type veth peer name eth1 netns sw-c1-n1'));
    assert.ok(!wan?.lines.some((line) => line.includes('sw-c1-n2')), 'only gateway-capable nodes join the WAN');
    const node2 = leaves.find((b) => b.namespace === 'sw-c1-n2');
    assert.ok(node2?.lines.includes('route add default via 192.168.1.1 dev eth0'));
  });

  it('underlay variants: each node gets the default route (and second NIC) its variant names; unnamed nodes stay plain', () => {
    const plan = planLab({
      prefix: 'sw', nodes: 6,
      underlays: { 'cluster1-node2': 'ecmp', 'cluster1-node3': 'nhid', 'cluster1-node4': 'policy', 'cluster1-node5': 'none', 'cluster1-node6': 'multi-nic' },
    });
    const nodes = plan.clusters[0]!.nodes;
    assert.deepEqual(nodes.map((n) => [n.underlay, n.secondIp]), [
      ['plain', null], ['ecmp', '172.30.1.12'], ['nhid', null], ['policy', null], ['none', null], ['multi-nic', '172.30.1.16'],
    ]);
    assert.ok(plan.clusters[1]!.nodes.every((n) => n.underlay === 'plain'));
    const leaves = topologyPhases(plan)[1] ?? [];
    const lines = (namespace: string) => leaves.find((b) => b.namespace === namespace)?.lines ?? [];
    // The gateway's WAN stand-in (table 140) aside.
    const routing = (namespace: string) => lines(namespace).filter((l) => /^(route|rule|nexthop|link add eth2|link set eth2|addr add \S+ dev eth2)/.test(l) && !/ 140$/.test(l));
    assert.deepEqual(routing('sw-c1-n1'), ['route add default via 192.168.1.1 dev eth0']);
    assert.deepEqual(routing('sw-c1-n2'), [
      'link add eth2 type veth peer name eth2p', 'link set eth2p up', 'link set eth2 mtu 9000 up', 'addr add 172.30.1.12/24 dev eth2',
      'route add default nexthop via 192.168.1.1 dev eth0 nexthop via 172.30.1.1 dev eth2',
    ]);
    assert.deepEqual(routing('sw-c1-n3'), ['nexthop add id 1 via 192.168.1.1 dev eth0', 'route add default nhid 1']);
    assert.deepEqual(routing('sw-c1-n4'), ['route add default via 192.168.1.1 dev eth0 table 200', 'rule add priority 32800 lookup 200']);
    assert.deepEqual(routing('sw-c1-n5'), []);
    assert.deepEqual(routing('sw-c1-n6'), [
      'link add eth2 type veth peer name eth2p', 'link set eth2p up', 'link set eth2 mtu 9000 up', 'addr add 172.30.1.16/24 dev eth2', 'route add default via 172.30.1.1 dev eth2',
    ]);
    for (const namespace of ['sw-c1-n1', 'sw-c1-n2', 'sw-c1-n6']) assert.ok(lines(namespace).includes('addr add 192.168.1.1' + namespace.slice(-1) + '/24 dev eth0'), `${namespace}: the InternalIP stays on eth0`);
    assert.deepEqual(underlayCommands(plan), [{ file: 'ip', args: ['netns', 'exec', 'sw-c1-n3', 'sysctl', '-q', '-w', 'net.ipv4.nexthop_compat_mode=0'] }]);
    assert.deepEqual(underlayCommands(planLab({ prefix: 'sw' })), [], 'the default lab runs nothing extra');
  });

  it('the CNI adds its address last, routes to the other nodes of its cluster only, and masquerades leaving the cluster CIDR', () => {
    const plan = planLab({ prefix: 'sw', podsPerNode: 2, cniInterface: 'tunl0' });
    const cluster = plan.clusters[0] as typeof plan.clusters[0];
    const node = cluster.nodes[1] as typeof cluster.nodes[0];
    const steps = cniSteps(plan, cluster, node);
    assert.deepEqual(steps.address, { namespace: 'sw-c1-n2', lines: ['addr add 10.1.2.1/24 dev tunl0'] });
    const nodeLines = steps.wiring[0]?.[0]?.lines ?? [];
    assert.ok(!nodeLines.some((line) => line.startsWith('addr ')), 'no address before the last step');
    assert.deepEqual(nodeLines.filter((line) => line.startsWith('route ')), [
      'route add 10.1.1.0/24 via 192.168.1.11 dev eth0',
      'route add 10.1.3.0/24 via 192.168.1.13 dev eth0',
    ]);
    assert.deepEqual(steps.wiring[1]?.map((b) => b.namespace), ['sw-c1-n2-p1', 'sw-c1-n2-p2']);
    assert.ok(steps.wiring[1]?.[1]?.lines.includes('addr add 10.1.2.3/24 dev eth0'));
    const masquerade = steps.commands.find((c) => c.args.includes('MASQUERADE'));
    assert.deepEqual(masquerade?.args, ['netns', 'exec', 'sw-c1-n2', 'iptables', '-w', '-t', 'nat', '-A', 'POSTROUTING', '-s', '10.1.0.0/16', '!', '-d', '10.1.0.0/16', '-j', 'MASQUERADE']);
    assert.ok(steps.commands.every((c) => c.file === 'ip' && c.args[0] === 'netns' && c.args[2] === 'sw-c1-n2'), 'every command runs inside the node');
    const dnat = steps.commands.find((c) => c.args.includes('DNAT'));
    assert.deepEqual(dnat?.args.slice(3), ['iptables', '-w', '-t', 'nat', '-A', 'KUBE-SERVICES', '-d', '10.101.0.10/32', '-p', 'tcp', '--dport', '7007', '-j', 'DNAT', '--to-destination', '10.1.1.2:7007'],
      'the Service VIP goes to the cluster\'s first pod, on every node');
    assert.equal(cniSteps(planLab({ prefix: 'sw', podsPerNode: 0 }), planLab({ prefix: 'sw', podsPerNode: 0 }).clusters[0]!, node).commands.some((c) => c.args.includes('DNAT')), false, 'no pods, no Service');
  });
});

function pairs<T>(items: readonly T[]): [T, T][] {
  const out: [T, T][] = [];
  for (let i = 0; i < items.length; i++) for (let j = i + 1; j < items.length; j++) out.push([items[i] as T, items[j] as T]);
  return out;
}

it('each cluster runs the lab\'s cable unless an override names another; overrides name real clusters', () => {
  const plan = planLab({ prefix: 'swc', clusters: 3, cable: 'wireguard', cableOverrides: { cluster2: 'vxlan' } });
  assert.deepEqual(plan.clusters.map((c) => c.cable), ['wireguard', 'vxlan', 'wireguard']);
  assert.equal(planLab({ prefix: 'swc' }).clusters[0]!.cable, 'ipsec', 'IPsec by default');
  assert.throws(() => planLab({ prefix: 'swc', clusters: 2, cableOverrides: { cluster3: 'vxlan' } }), /not a cluster of this lab \(cluster1\.\.cluster2\)/);
  assert.throws(() => planLab({ prefix: 'swc', cableOverrides: { cluster1: 'gre' as 'vxlan' } }), /cableOverrides\.cluster1 must be one of/);
});

describe('lab NAT option (pure)', () => {
  it('plans a NAT namespace for each named cluster: segment, public address, ports, and gateways behind it', () => {
    const plan = planLab({ prefix: 'sw', clusters: 3, nodes: 3, gateways: 2, nat: ['cluster2'] });
    const [c1, c2, c3] = plan.clusters as [ClusterPlan, ClusterPlan, ClusterPlan];
    assert.deepEqual(plan.options.nat, ['cluster2']);
    assert.deepEqual(c2.nat, {
      namespace: 'sw-c2-nat', publicIp: '198.18.2.254', segmentCidr: '172.31.2.0/24', segmentIp: '172.31.2.1', wanPort: 'c2nat', forwardTo: '192.168.2.11',
    });
    assert.deepEqual(c2.nodes.map((n) => [n.name, n.ip, n.wanIp, n.publicIp, n.wanPort, n.natPort]), [
      ['cluster2-node1', '192.168.2.11', '172.31.2.11', '198.18.2.254', null, 'n1'],
      ['cluster2-node2', '192.168.2.12', '172.31.2.12', '198.18.2.254', null, 'n2'],
      ['cluster2-node3', '192.168.2.13', null, null, null, null],
    ]);
    assert.equal(c2.nat.forwardTo, c2.nodes[0]?.ip, 'the forwarded ports go to gateway node 1\'s private IP (its InternalIP)');
    for (const other of [c1, c3]) {
      assert.equal(other.nat, null);
      assert.deepEqual(other.nodes.map((n) => [n.wanIp, n.publicIp, n.wanPort, n.natPort]), [
        [`198.18.${other.index}.1`, `198.18.${other.index}.1`, `c${other.index}n1`, null],
        [`198.18.${other.index}.2`, `198.18.${other.index}.2`, `c${other.index}n2`, null],
        [null, null, null, null],
      ]);
    }
    assert.deepEqual(NAT_FORWARDED_UDP_PORTS, [4500, 4490], 'Submariner\'s default udp-port and natt-discovery-port');
  });

  it('leaves the clusters it does not name exactly as without the option', () => {
    const without = planLab({ prefix: 'sw', clusters: 3, gateways: 2 });
    const withNat = planLab({ prefix: 'sw', clusters: 3, gateways: 2, nat: ['cluster2'] });
    assert.deepEqual(withNat.clusters[0], without.clusters[0]);
    assert.deepEqual(withNat.clusters[2], without.clusters[2]);
    assert.deepEqual(planLab({ prefix: 'sw' }).options.nat, [], 'no NAT by default');
    const batches = (plan: typeof without) => topologyPhases(plan).flat();
    const linesOf = (plan: typeof without, namespace: string) => batches(plan).filter((b) => b.namespace === namespace).map((b) => b.lines);
    for (const namespace of ['sw-c1-lan', 'sw-c1-cp', 'sw-c1-n1', 'sw-c1-n2', 'sw-c1-n3', 'sw-c3-n1', 'sw-broker']) {
      assert.deepEqual(linesOf(withNat, namespace), linesOf(without, namespace), namespace);
    }
    const wanLines = (plan: typeof without) => linesOf(plan, 'sw-wan')[0] ?? [];
    assert.deepEqual(wanLines(withNat).filter((l) => !/c2/.test(l)), wanLines(without).filter((l) => !/c2/.test(l)));
    assert.deepEqual(natCommands(without), []);
  });

  it('names the NAT namespace with the prefix; down recognises it, and only it', () => {
    const plan = planLab({ prefix: 'swb7', clusters: 2, nodes: 1, podsPerNode: 0, nat: ['cluster1', 'cluster2'] });
    const names = planNamespaces(plan);
    assert.deepEqual(names.filter((n) => n.endsWith('-nat')), ['swb7-c1-nat', 'swb7-c2-nat']);
    assert.equal(new Set(names).size, names.length);
    for (const name of names) assert.ok(isLabNamespace('swb7', name), name);
    assert.equal(names.length, planNamespaces(planLab({ prefix: 'swb7', clusters: 2, nodes: 1, podsPerNode: 0 })).length + 2);
    for (const foreign of ['swb7-nat', 'swb7-c1-nat2', 'swb7-c-nat', 'swb7-c1-nat-x', 'swb-c1-nat', 'swb77-c1-nat']) assert.ok(!isLabNamespace('swb7', foreign), foreign);
  });

  it('rejects what it cannot build, naming the option: unknown or malformed cluster ids, duplicates, no gateways, simulated Endpoints', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ nat: ['cluster3'] }, /nat names "cluster3", which is not a cluster of this lab \(cluster1\.\.cluster2\)/],
      [{ nat: ['cluster0'] }, /nat names "cluster0"/],
      [{ nat: ['cluster02'] }, /nat names "cluster02"/],
      [{ nat: ['c2'] }, /nat names "c2"/],
      [{ nat: ['Cluster2'] }, /nat names "Cluster2"/],
      [{ nat: [''] }, /nat names ""/],
      [{ nat: [2] }, /nat names 2,/],
      [{ nat: [null] }, /nat names null/],
      [{ nat: 'cluster2' }, /nat must be a list of cluster ids \(cluster1\.\.cluster2\), got "cluster2"/],
      [{ nat: { cluster2: true } }, /nat must be a list of cluster ids/],
      [{ nat: null }, /nat must be a list of cluster ids/],
      [{ nat: ['cluster2', 'cluster2'] }, /nat names cluster2 twice/],
      [{ nat: ['cluster2'], gateways: 0 }, /nat puts gateway-capable nodes behind a NAT: it needs gateways >= 1 \(nat names cluster2\)/],
      [{ nat: ['cluster1'], endpoints: true }, /nat does not go with the simulated Endpoints/],
    ];
    for (const [input, message] of cases) {
      assert.throws(() => resolveOptions({ prefix: 'sw', ...input } as never), message, JSON.stringify(input));
    }
    assert.deepEqual(resolveOptions({ prefix: 'sw', nat: [] }).nat, [], 'an empty list is no NAT');
    assert.deepEqual(resolveOptions({ prefix: 'sw', nat: undefined }).nat, [], 'unset is no NAT');
  });

  it('keeps the NAT segments and public addresses apart from every other network and address, at the size limits', () => {
    const ids = Array.from({ length: MAX_CLUSTERS }, (_, i) => `cluster${i + 1}`).filter((_, i) => i % 2 === 0);
    const plan = planLab({ prefix: 'max', clusters: MAX_CLUSTERS, nodes: MAX_NODES, gateways: MAX_NODES, podsPerNode: 0, nat: ids });
    const networks: { owner: string; cidr: string }[] = [{ owner: 'wan', cidr: plan.wan.cidr }];
    const addresses = new Set<string>([plan.broker.ip]);
    const claim = (address: string) => {
      assert.ok(!addresses.has(address), `address ${address} used twice`);
      addresses.add(address);
    };
    for (const cluster of plan.clusters) {
      networks.push({ owner: cluster.id, cidr: cluster.podCidr }, { owner: cluster.id, cidr: cluster.serviceCidr }, { owner: cluster.id, cidr: cluster.lanCidr });
      assert.equal(cluster.nat !== null, ids.includes(cluster.id), cluster.id);
      if (cluster.nat) {
        networks.push({ owner: cluster.id, cidr: cluster.nat.segmentCidr });
        assert.ok(inCidr(cluster.nat.publicIp, plan.wan.cidr));
        assert.ok(inCidr(cluster.nat.segmentIp, cluster.nat.segmentCidr));
        claim(cluster.nat.publicIp);
        claim(cluster.nat.segmentIp);
      }
      for (const node of cluster.nodes) {
        claim(node.ip);
        if (node.wanIp === null) continue;
        claim(node.wanIp);
        assert.ok(inCidr(node.wanIp, cluster.nat ? cluster.nat.segmentCidr : plan.wan.cidr), `${node.name} ${node.wanIp}`);
        assert.equal(node.publicIp, cluster.nat ? cluster.nat.publicIp : node.wanIp);
        assert.ok(!overlaps(`${node.ip}/32`, plan.wan.cidr));
      }
    }
    for (const [a, b] of pairs(networks)) {
      if (a.owner !== b.owner) assert.ok(!overlaps(a.cidr, b.cidr), `${a.owner} ${a.cidr} overlaps ${b.owner} ${b.cidr}`);
    }
    assert.equal(plan.clusters.at(-1)?.nodes.at(-1)?.wanIp, `198.18.${MAX_CLUSTERS}.${MAX_NODES}`, 'the last cluster is on the WAN itself');
    assert.equal(plan.clusters.at(-2)?.nodes.at(-1)?.wanIp, `172.31.${MAX_CLUSTERS - 1}.${10 + MAX_NODES}`, 'the last node of a NAT segment');
    const interfaceNames = plan.clusters.flatMap((c) => [c.nat?.wanPort, ...c.nodes.map((n) => n.natPort)]).filter((name): name is string => typeof name === 'string');
    assert.ok(interfaceNames.length > 0 && interfaceNames.every((name) => name.length <= 15), 'veth names fit IFNAMSIZ');
  });

  it('wires the gateways\' eth1 to the NAT namespace\'s bridge and only the NAT to the WAN, never naming the root namespace', () => {
    const plan = planLab({ prefix: 'sw', nodes: 2, gateways: 2, podsPerNode: 0, nat: ['cluster2'] });
    const [bridges = [], leaves = []] = topologyPhases(plan);
    const namespaces = new Set(planNamespaces(plan));
    for (const batch of [...bridges, ...leaves]) {
      assert.ok(namespaces.has(batch.namespace), batch.namespace);
      for (const line of batch.lines) {
        const peer = /netns (\S+)/.exec(line)?.[1];
        if (peer !== undefined) assert.ok(namespaces.has(peer), `${line}: peer namespace ${peer} is not the lab's`);
      }
    }
    const bridge = (namespace: string) => bridges.find((b) => b.namespace === namespace)?.lines ?? [];
    const leaf = (namespace: string) => leaves.find((b) => b.namespace === namespace)?.lines ?? [];
    assert.deepEqual(bridge('sw-c2-nat'), [
      'link set lo up', 'link add br0 type bridge', 'link set br0 up', 'addr add 172.31.2.1/24 dev br0',
      'link add n1 type veth peer name eth1 netns sw-c2-n1', 'link set n1 master br0', 'link set n1 up',
      'link add n2 type veth peer name eth1 netns sw-c2-n2', 'link set n2 master br0', 'link set n2 up',
    ]);
    const wan = bridge('sw-wan');
    assert.ok(wan.includes('link add c2nat type veth peer name wan0 netns sw-c2-nat') && wan.includes('link set c2nat master br0'));
    assert.ok(wan.includes('link add c1n1 type veth peer name eth1 netns sw-c1-n1'), 'cluster1\'s gateways stay on the WAN');
    assert.ok(!wan.some((line) => /netns sw-c2-n\d/.test(line)), 'no gateway of cluster2 on the WAN bridge');
    assert.deepEqual(leaf('sw-c2-nat'), [
      'link set lo up', 'addr add 198.18.2.254/16 dev wan0', 'link set wan0 up',
      'route add 192.168.2.11/32 via 172.31.2.11 dev br0', 'route add 192.168.2.12/32 via 172.31.2.12 dev br0',
    ]);
    assert.deepEqual(leaf('sw-c2-n2').filter((l) => l.includes('eth1')), ['addr add 172.31.2.12/24 dev eth1', 'link set eth1 up', 'route add 198.18.0.0/16 via 172.31.2.1 dev eth1']);
    assert.ok(leaf('sw-c2-n1').includes('route add default via 192.168.2.1 dev eth0'), 'the default route stays on the LAN');
    assert.deepEqual(leaf('sw-c1-n1').filter((l) => l.includes('eth1')), ['addr add 198.18.1.1/16 dev eth1', 'link set eth1 up']);
  });

  it('the NAT masquerades what leaves for the WAN, forwards UDP 4500 and 4490 to gateway node 1, and lets nothing else in', () => {
    const plan = planLab({ prefix: 'sw', clusters: 3, nat: ['cluster3', 'cluster2'] });
    const commands = natCommands(plan);
    assert.ok(commands.every((c) => c.file === 'ip' && c.args[0] === 'netns' && c.args[1] === 'exec' && /^sw-c[23]-nat$/.test(c.args[2] ?? '')), 'every command runs inside a NAT namespace');
    const of = (namespace: string) => commands.filter((c) => c.args[2] === namespace).map((c) => c.args.slice(3));
    assert.deepEqual(of('sw-c2-nat'), [
      ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1'],
      ['iptables', '-w', '-t', 'nat', '-A', 'PREROUTING', '-i', 'wan0', '-d', '198.18.2.254/32', '-p', 'udp', '--dport', '4500', '-j', 'DNAT', '--to-destination', '192.168.2.11'],
      ['iptables', '-w', '-t', 'nat', '-A', 'PREROUTING', '-i', 'wan0', '-d', '198.18.2.254/32', '-p', 'udp', '--dport', '4490', '-j', 'DNAT', '--to-destination', '192.168.2.11'],
      ['iptables', '-w', '-t', 'nat', '-A', 'POSTROUTING', '-o', 'wan0', '-j', 'SNAT', '--to-source', '198.18.2.254'],
      ['iptables', '-w', '-t', 'filter', '-A', 'FORWARD', '-i', 'wan0', '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED,DNAT', '-j', 'ACCEPT'],
      ['iptables', '-w', '-t', 'filter', '-A', 'FORWARD', '-i', 'wan0', '-j', 'DROP'],
    ]);
    assert.equal(of('sw-c3-nat').length, 6);
    assert.ok(of('sw-c3-nat').some((args) => args.join(' ').endsWith('SNAT --to-source 198.18.3.254')));
    assert.deepEqual(of('sw-c1-nat'), []);
  });
});
