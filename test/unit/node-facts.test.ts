import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createNodeFactsReader, readNodeFacts } from '../../src/dataplane/node-facts.ts';
import type { ObservedDefaultRoute, ObservedNexthop, Rtnetlink } from '../../src/kernel/rtnetlink.ts';
import type { Underlay } from '../../src/plan/underlay.ts';

const MAIN_RULE = { priority: 32766, table: 254, protocol: 2, action: 1, selective: false, narrowed: false };
const NO_SETTINGS = { nodeIp: null, underlayInterface: null };

/** The Rtnetlink seam: eth0 (index 2) and eth1 (index 3) with the given addresses, default routes and nexthop objects. */
function kernel(options: { addresses: Array<[number, string]>; defaults: ObservedDefaultRoute[]; nexthops?: ObservedNexthop[]; mtu?: number }) {
  const calls = { nexthops: 0 };
  const rtnl = {
    listLinks: async () => [{ index: 2, name: 'eth0', mtu: options.mtu ?? 1460, up: true }, { index: 3, name: 'eth1', mtu: 1500, up: true }],
    listAddresses: async () => options.addresses.map(([ifindex, cidr]) => ({ ifindex, address: cidr.split('/')[0]!, prefixLength: Number(cidr.split('/')[1]), cidr, scope: 0 })),
    listDefaultRoutes: async () => options.defaults,
    listRules: async () => [MAIN_RULE, { ...MAIN_RULE, priority: 50, table: 50, action: 2 /* goto: not a lookup */ }],
    listNexthops: async () => { calls.nexthops++; return options.nexthops ?? []; },
  } as unknown as Rtnetlink;
  return { rtnl, calls };
}

const viaMain = (paths: ObservedDefaultRoute['paths'], nexthopId?: number): ObservedDefaultRoute =>
  ({ table: 254, metric: 0, paths, ...(nexthopId === undefined ? {} : { nexthopId }) });

test('a default gateway outside every interface network (a /32 NIC) is one of the node\'s networks, so no remote subnet may cover it here', async () => {
  const { rtnl } = kernel({ addresses: [[2, '10.132.0.10/32']], defaults: [viaMain([{ ifindex: 2, gateway: '10.132.0.1' }])] });
  const read = await readNodeFacts(rtnl, null, { settings: NO_SETTINGS, internalIP: '10.132.0.10' });
  assert.ok(read.ok);
  assert.deepEqual(read.facts, { nodeIp: '10.132.0.10', underlayDevice: 'eth0', underlayMtu: 1460, cniInterface: null, networks: ['10.132.0.10/32', '10.132.0.1/32'] });
});

test('an on-link default gateway adds nothing: its interface network already holds it', async () => {
  const { rtnl } = kernel({ addresses: [[2, '192.168.1.21/24']], defaults: [viaMain([{ ifindex: 2, gateway: '192.168.1.1' }])] });
  const read = await readNodeFacts(rtnl, { name: 'cni0', address: '10.244.1.1' }, { settings: NO_SETTINGS, internalIP: '192.168.1.21' });
  assert.ok(read.ok);
  assert.deepEqual(read.facts.networks, ['192.168.1.0/24']);
  assert.deepEqual(read.facts.cniInterface, { name: 'cni0', address: '10.244.1.1' });
});

test('ECMP: every next hop\'s gateway off the interface networks is protected', async () => {
  const { rtnl } = kernel({ addresses: [[2, '10.132.0.10/32'], [3, '10.133.0.10/32']], defaults: [viaMain([{ ifindex: 2, gateway: '10.132.0.1' }, { ifindex: 3, gateway: '10.133.0.1' }])] });
  const read = await readNodeFacts(rtnl, null, { settings: NO_SETTINGS, internalIP: null });
  assert.ok(read.ok);
  assert.deepEqual([read.facts.nodeIp, read.facts.underlayDevice], ['10.132.0.10', 'eth0']);
  assert.deepEqual(read.facts.networks, ['10.132.0.10/32', '10.133.0.10/32', '10.132.0.1/32', '10.133.0.1/32']);
});

test('a default route naming only its nexthop object (nexthop_compat_mode=0) is resolved through the nexthop objects, read only then', async () => {
  const nexthops: ObservedNexthop[] = [
    { id: 1, oif: 3, gateway: '10.0.0.1', blackhole: false },
    { id: 2, oif: 2, gateway: '192.168.1.1', blackhole: false },
    { id: 10, group: [1, 2], blackhole: false },
  ];
  const bare = kernel({ addresses: [[2, '192.168.1.21/24'], [3, '10.0.0.5/24']], defaults: [viaMain([], 10)], nexthops });
  const read = await readNodeFacts(bare.rtnl, null, { settings: NO_SETTINGS, internalIP: null });
  assert.ok(read.ok);
  assert.deepEqual([read.underlay.nodeIp, read.underlay.device, read.underlay.defaultGateways], ['10.0.0.5', 'eth1', ['10.0.0.1', '192.168.1.1']], 'the group\'s first member leads');
  assert.equal(bare.calls.nexthops, 1);

  const compat = kernel({ addresses: [[2, '192.168.1.21/24']], defaults: [viaMain([{ ifindex: 2, gateway: '192.168.1.1' }], 10)], nexthops });
  assert.ok((await readNodeFacts(compat.rtnl, null, { settings: NO_SETTINGS, internalIP: null })).ok);
  assert.equal(compat.calls.nexthops, 0, 'the route names its next hops itself: no nexthop dump');

  const blackhole = kernel({ addresses: [[2, '192.168.1.21/24']], defaults: [viaMain([], 7)], nexthops: [{ id: 7, blackhole: true }] });
  const refused = await readNodeFacts(blackhole.rtnl, null, { settings: NO_SETTINGS, internalIP: null });
  assert.ok(!refused.ok);
  assert.match(refused.reason, /no IPv4 default route applies; give --node-ip/);
});

test('no underlay: the reason comes back, nothing is guessed', async () => {
  const { rtnl } = kernel({ addresses: [[2, '192.168.1.21/24']], defaults: [] });
  const read = await readNodeFacts(rtnl, null, { settings: { nodeIp: null, underlayInterface: 'bond0' }, internalIP: '192.168.1.21' });
  assert.deepEqual(read, { ok: false, reason: 'the interface bond0 named by --underlay-interface (env SEAWAY_UNDERLAY_INTERFACE) does not exist on this node' });
});

test('the reader remembers the underlay for the kernel events and reports each new choice once', async () => {
  const addresses: Array<[number, string]> = [[2, '192.168.1.21/24']];
  const k = kernel({ addresses, defaults: [], mtu: 1500 });
  const chosen: Underlay[] = [];
  const unset = createNodeFactsReader(k.rtnl, NO_SETTINGS, (u) => chosen.push(u));
  assert.equal(unset.underlayDevice(), null, 'nothing chosen yet');
  assert.equal(createNodeFactsReader(k.rtnl, { nodeIp: null, underlayInterface: 'eth1' }).underlayDevice(), 'eth1', 'the named interface, before any read');

  assert.ok((await unset.read(null, '192.168.1.21')).ok);
  assert.ok((await unset.read(null, '192.168.1.21')).ok);
  assert.equal(unset.underlayDevice(), 'eth0');
  assert.deepEqual(chosen.map((u) => `${u.nodeIp} ${u.device} ${u.mtu}`), ['192.168.1.21 eth0 1500'], 'the same choice is reported once');

  addresses.push([3, '10.0.0.5/24']);
  assert.ok((await unset.read(null, '10.0.0.5')).ok);
  assert.equal(unset.underlayDevice(), 'eth1');
  assert.ok(!(await unset.read(null, '10.9.9.9')).ok);
  assert.equal(unset.underlayDevice(), 'eth1', 'a failed read keeps the last choice');
  assert.deepEqual(chosen.map((u) => `${u.nodeIp} ${u.device} ${u.mtu}`), ['192.168.1.21 eth0 1500', '10.0.0.5 eth1 1500']);
});
