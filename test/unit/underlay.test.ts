import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chooseUnderlay, effectiveDefaultRoute, MIN_UNDERLAY_MTU, type Underlay, type UnderlaySettings } from '../../src/plan/underlay.ts';
import type { HostAddress, HostDefaultRoute, HostLink, HostLookupRule, HostNetwork } from '../../src/model/host-network.ts';
import { parseIpv4 } from '../../src/model/cidr.ts';

const link = (index: number, name: string, extra: Partial<HostLink> = {}): HostLink => ({ index, name, mtu: 1500, up: true, ...extra });
const address = (ifindex: number, cidr: string, scope = 0): HostAddress => ({ ifindex, address: cidr.split('/')[0]!, prefixLength: Number(cidr.split('/')[1]), scope });
const route = (paths: Array<[number, string?]>, extra: Partial<HostDefaultRoute> = {}): HostDefaultRoute =>
  ({ table: 254, metric: 0, paths: paths.map(([ifindex, gateway]) => (gateway === undefined ? { ifindex } : { ifindex, gateway })), ...extra });
/** A fresh host's rules: local, main, default. */
const STOCK_RULES: HostLookupRule[] = [
  { priority: 0, table: 255, narrowed: false },
  { priority: 32766, table: 254, narrowed: false },
  { priority: 32767, table: 253, narrowed: false },
];
const LO = link(1, 'lo', { mtu: 65536, loopback: true });
const ETH0 = link(2, 'eth0');
const ETH1 = link(3, 'eth1', { mtu: 9000 });
const ETH2 = link(4, 'eth2', { mtu: 1450 });
const VXLAN = link(9, 'vx-submariner', { kind: 'vxlan', mtu: 1450 });

/** lo, eth0 192.168.1.21/24 (default via 192.168.1.1), eth1 10.0.0.5/24 (MTU 9000), eth2 172.30.1.21/24, vx-submariner 240.168.1.21/8. */
function host(parts: Partial<HostNetwork> = {}): HostNetwork {
  return {
    links: [LO, ETH0, ETH1, ETH2, VXLAN],
    addresses: [address(1, '127.0.0.1/8', 254), address(2, '192.168.1.21/24'), address(3, '10.0.0.5/24'), address(4, '172.30.1.21/24'), address(9, '240.168.1.21/8')],
    defaultRoutes: [route([[2, '192.168.1.1']])],
    rules: STOCK_RULES,
    ...parts,
  };
}

function choose(h: HostNetwork, internalIP: string | null, settings: Partial<UnderlaySettings> = {}) {
  return chooseUnderlay({ settings: { nodeIp: null, underlayInterface: null, ...settings }, internalIP, host: h });
}

function chosen(h: HostNetwork, internalIP: string | null, settings: Partial<UnderlaySettings> = {}): Underlay {
  const choice = choose(h, internalIP, settings);
  assert.ok(choice.ok, `expected an underlay, got: ${choice.ok ? '' : choice.reason}`);
  return choice.underlay;
}

function refused(h: HostNetwork, internalIP: string | null, settings: Partial<UnderlaySettings> = {}): string {
  const choice = choose(h, internalIP, settings);
  assert.ok(!choice.ok, `expected no underlay, got ${JSON.stringify(choice.ok && choice.underlay)}`);
  return choice.reason;
}

const ip = (text: string): number => { const parsed = parseIpv4(text); assert.ok(parsed.ok); return parsed.address; };

describe('the node IP', () => {
  it('is this Node\'s InternalIP, on the interface holding it, with that interface\'s MTU', () => {
    assert.deepEqual(chosen(host(), '192.168.1.21'), {
      nodeIp: '192.168.1.21', nodeIpFrom: 'internal-ip', device: 'eth0', deviceFrom: 'node-ip', mtu: 1500, defaultGateways: ['192.168.1.1'], notes: [],
    });
  });

  it('multi-NIC: an InternalIP on another NIC than the default route\'s wins, with that NIC and its MTU', () => {
    const u = chosen(host(), '10.0.0.5');
    assert.deepEqual([u.nodeIp, u.device, u.deviceFrom, u.mtu], ['10.0.0.5', 'eth1', 'node-ip', 9000]);
    assert.deepEqual(u.defaultGateways, ['192.168.1.1'], 'the default route still has its gateway protected');
  });

  it('--node-ip wins over the InternalIP (with a note that the gateway still sends to the InternalIP)', () => {
    const u = chosen(host(), '192.168.1.21', { nodeIp: '172.30.1.21' });
    assert.deepEqual([u.nodeIp, u.nodeIpFrom, u.device], ['172.30.1.21', 'setting', 'eth2']);
    assert.equal(u.notes.length, 1);
    assert.match(u.notes[0]!, /--node-ip .* 172\.30\.1\.21 differs from this Node's InternalIP 192\.168\.1\.21/);
    assert.deepEqual(chosen(host(), '172.30.1.21', { nodeIp: '172.30.1.21' }).notes, [], 'no note when they agree');
  });

  it('without --node-ip or an InternalIP: the default route\'s preferred source, else its device\'s address on the gateway\'s network, else its first', () => {
    const two = host({ addresses: [address(2, '10.10.0.5/16'), address(2, '172.18.0.7/24'), address(3, '10.0.0.5/24')], defaultRoutes: [route([[2, '172.18.0.1']])] });
    assert.deepEqual([chosen(two, null).nodeIp, chosen(two, null).nodeIpFrom], ['172.18.0.7', 'default-route']);
    const withSrc = { ...two, defaultRoutes: [route([[2, '172.18.0.1']], { src: '10.10.0.5' })] };
    assert.equal(chosen(withSrc, null).nodeIp, '10.10.0.5');
    const offNetwork = { ...two, defaultRoutes: [route([[2, '192.0.2.1']])] };
    assert.equal(chosen(offNetwork, null).nodeIp, '10.10.0.5', 'the first address when none is on the gateway\'s network');
    const deviceRoute = { ...two, defaultRoutes: [route([[2]])] };
    assert.equal(chosen(deviceRoute, null).nodeIp, '10.10.0.5', 'a device route (no gateway): the first address');
  });

  it('a preferred source that is not an address of this node is passed over', () => {
    assert.equal(chosen(host({ defaultRoutes: [route([[2, '192.168.1.1']], { src: '192.168.1.99' })] }), null).nodeIp, '192.168.1.21');
  });

  it('an unusable InternalIP (malformed, loopback, 240/4) is noted and the default route\'s address is used', () => {
    for (const bad of ['192.168.001.21', 'node-1.example', '127.0.0.1', '240.1.2.3', '224.0.0.5']) {
      const u = chosen(host(), bad);
      assert.deepEqual([u.nodeIp, u.nodeIpFrom], ['192.168.1.21', 'default-route'], bad);
      assert.match(u.notes.join('\n'), /InternalIP .* is not usable/, bad);
    }
  });

  it('no --node-ip, no InternalIP and no default route: refused, naming --node-ip', () => {
    const reason = refused(host({ defaultRoutes: [] }), null);
    assert.match(reason, /cannot tell this node's underlay address/);
    assert.match(reason, /give --node-ip \(env SEAWAY_NODE_IP\)/);
  });

  it('a default route whose devices hold no usable address: refused, naming --node-ip', () => {
    const reason = refused(host({ addresses: [address(1, '127.0.0.1/8', 254)] }), null);
    assert.match(reason, /default route's interfaces \(eth0\) have no usable IPv4 address; give --node-ip/);
    assert.match(refused(host({ defaultRoutes: [route([[77, '192.168.1.1']])] }), null), /\(ifindex 77\) have no usable/, 'a device gone since the route was read');
  });

  it('a node IP that no interface holds is refused: the kernel would not send from it and peers would send to nobody', () => {
    assert.match(refused(host(), null, { nodeIp: '192.168.1.99' }), /node IP 192\.168\.1\.99 \(from --node-ip .*\) is not an address of any interface on this node; give --node-ip/);
    const internal = refused(host(), '192.168.1.99');
    assert.match(internal, /this Node's InternalIP\) is not an address of any interface/);
    assert.match(internal, /gateway's VXLAN sends to a Node's InternalIP/);
    assert.match(refused(host(), '240.168.1.21', { nodeIp: '240.168.1.21' }), /not an address of any interface/, 'vx-submariner\'s own address is not the node\'s');
    const gone = host({ addresses: [address(2, '192.168.1.21/24'), address(42, '10.9.9.9/24')] });
    assert.match(refused(gone, '10.9.9.9'), /not an address of any interface/, 'an address of a link that is gone counts for nothing');
  });
});

describe('the underlay device', () => {
  it('--underlay-interface wins; one that does not hold the node IP is accepted with a note', () => {
    const u = chosen(host(), '192.168.1.21', { underlayInterface: 'eth1' });
    assert.deepEqual([u.device, u.deviceFrom, u.mtu], ['eth1', 'setting', 9000]);
    assert.deepEqual(u.notes, ['the node IP 192.168.1.21 is on eth0, not on the underlay eth1: VXLAN leaves eth1 from 192.168.1.21']);
    assert.deepEqual(chosen(host(), '192.168.1.21', { underlayInterface: 'eth0' }).notes, []);
  });

  it('--underlay-interface naming a missing, loopback or dummy interface is refused, naming the setting', () => {
    assert.match(refused(host(), '192.168.1.21', { underlayInterface: 'bond0' }), /the interface bond0 named by --underlay-interface \(env SEAWAY_UNDERLAY_INTERFACE\) does not exist on this node/);
    assert.match(refused(host(), '192.168.1.21', { underlayInterface: 'lo' }), /lo named by --underlay-interface .* is a loopback device/);
    const withDummy = host({ links: [...host().links, link(5, 'dummy0', { kind: 'dummy' })] });
    assert.match(refused(withDummy, '192.168.1.21', { underlayInterface: 'dummy0' }), /is a dummy device: nothing sent through it leaves the node/);
  });

  it('a routed host (node IP on lo or a dummy): the default route\'s first next hop names the device', () => {
    const routed = host({
      links: [LO, ETH0, ETH1, link(5, 'dummy0', { kind: 'dummy' })],
      addresses: [address(1, '127.0.0.1/8', 254), address(1, '10.255.0.7/32'), address(5, '10.255.1.7/32'), address(2, '192.168.1.21/24'), address(3, '10.0.0.5/24')],
      defaultRoutes: [route([[3, '10.0.0.1'], [2, '192.168.1.1']])],
    });
    for (const nodeIp of ['10.255.0.7', '10.255.1.7']) {
      const u = chosen(routed, nodeIp);
      assert.deepEqual([u.nodeIp, u.device, u.deviceFrom, u.mtu], [nodeIp, 'eth1', 'default-route', 9000], nodeIp);
      assert.deepEqual(u.defaultGateways, ['10.0.0.1', '192.168.1.1']);
    }
    assert.match(refused({ ...routed, defaultRoutes: [] }, '10.255.0.7'), /only on lo, through which nothing leaves the node, and no IPv4 default route .*; give --underlay-interface/);
    assert.equal(chosen({ ...routed, defaultRoutes: [] }, '10.255.0.7', { underlayInterface: 'eth0' }).device, 'eth0', 'the setting settles it');
  });

  it('a node IP on two real interfaces is ambiguous until --underlay-interface says which', () => {
    const twice = host({ addresses: [address(2, '192.168.1.21/24'), address(3, '192.168.1.21/32')] });
    assert.match(refused(twice, '192.168.1.21'), /192\.168\.1\.21 is on several interfaces \(eth0, eth1\); give --underlay-interface/);
    assert.equal(chosen(twice, '192.168.1.21', { underlayInterface: 'eth1' }).device, 'eth1');
    const plusLo = host({ addresses: [address(1, '192.168.1.21/32'), address(2, '192.168.1.21/24')] });
    assert.equal(chosen(plusLo, '192.168.1.21').device, 'eth0', 'beside lo, the one real holder');
  });

  it('a device that is down is still chosen, with a note (no flapping between devices)', () => {
    const down = host({ links: [LO, { ...ETH0, up: false }, ETH1, ETH2, VXLAN] });
    const u = chosen(down, '192.168.1.21');
    assert.equal(u.device, 'eth0');
    assert.deepEqual(u.notes, ['the underlay interface eth0 is down']);
  });

  it('an MTU that leaves vx-submariner no valid MTU is refused', () => {
    for (const mtu of [0, MIN_UNDERLAY_MTU - 1, 65536, 1500.5]) {
      const h = host({ links: [LO, { ...ETH0, mtu }, ETH1, ETH2, VXLAN] });
      assert.match(refused(h, '192.168.1.21'), new RegExp(`eth0 has MTU ${mtu}, which leaves no valid MTU for vx-submariner`), String(mtu));
    }
    assert.equal(chosen(host({ links: [LO, { ...ETH0, mtu: MIN_UNDERLAY_MTU }] }), '192.168.1.21').mtu, MIN_UNDERLAY_MTU);
  });
});

describe('the default route, as the kernel would pick it', () => {
  const eth0Default = route([[2, '192.168.1.1']]);
  const eth1Default = (table: number, extra: Partial<HostDefaultRoute> = {}) => route([[3, '10.0.0.1']], { table, ...extra });

  it('ECMP: both next hops\' gateways are protected; the first path gives the address without an InternalIP', () => {
    const ecmp = host({ defaultRoutes: [route([[2, '192.168.1.1'], [4, '172.30.1.1']])] });
    const u = chosen(ecmp, null);
    assert.deepEqual([u.nodeIp, u.device, u.defaultGateways], ['192.168.1.21', 'eth0', ['192.168.1.1', '172.30.1.1']]);
    assert.deepEqual([chosen(ecmp, '172.30.1.21').device, chosen(ecmp, '172.30.1.21').mtu], ['eth2', 1450], 'an InternalIP on the second path\'s NIC');
  });

  it('policy-routed: a default only in another table, reached through a rule, counts; one no rule reaches does not', () => {
    const policy = host({ defaultRoutes: [eth1Default(200)], rules: [...STOCK_RULES, { priority: 32800, table: 200, narrowed: false }] });
    const u = chosen(policy, null);
    assert.deepEqual([u.nodeIp, u.device, u.defaultGateways], ['10.0.0.5', 'eth1', ['10.0.0.1']]);
    assert.match(refused(host({ defaultRoutes: [eth1Default(300)] }), null), /no IPv4 default route applies/);
  });

  it('tables are consulted in rule order, then by metric', () => {
    const h = host({ defaultRoutes: [eth0Default, eth1Default(100)], rules: [...STOCK_RULES, { priority: 100, table: 100, narrowed: false }] });
    assert.equal(effectiveDefaultRoute(h, null)?.table, 100, 'a rule ahead of main');
    const metrics = host({ defaultRoutes: [eth1Default(254, { metric: 100 }), { ...eth0Default, metric: 50 }] });
    assert.equal(effectiveDefaultRoute(metrics, null)?.paths[0]?.ifindex, 2, 'the lower metric');
  });

  it('a `from` rule applies only to its sources; marked, interface or destination rules never to the node\'s plain traffic', () => {
    const fromRule = host({ defaultRoutes: [eth0Default, eth1Default(101)], rules: [...STOCK_RULES, { priority: 100, table: 101, from: '10.0.0.0/24', narrowed: false }] });
    assert.equal(effectiveDefaultRoute(fromRule, null)?.table, 254, 'an unspecified source is not `from` 10.0.0.0/24');
    assert.equal(effectiveDefaultRoute(fromRule, ip('10.0.0.5'))?.table, 101);
    assert.equal(effectiveDefaultRoute(fromRule, ip('192.168.1.21'))?.table, 254);
    assert.equal(chosen(fromRule, null).nodeIp, '192.168.1.21');
    assert.deepEqual(chosen(fromRule, '10.0.0.5').defaultGateways, ['10.0.0.1'], 'the gateway the node IP\'s traffic really takes');
    const marked = host({ defaultRoutes: [eth0Default, eth1Default(51820)], rules: [...STOCK_RULES, { priority: 100, table: 51820, narrowed: true }] });
    assert.equal(effectiveDefaultRoute(marked, null)?.table, 254);
    const malformedFrom = host({ defaultRoutes: [eth1Default(101)], rules: [...STOCK_RULES, { priority: 100, table: 101, from: 'junk', narrowed: false }] });
    assert.equal(effectiveDefaultRoute(malformedFrom, ip('10.0.0.5')), undefined);
  });

  it('a default route without a usable next hop (a blackhole nexthop object) is passed over', () => {
    const h = host({ defaultRoutes: [route([], { table: 254, metric: 0 }), { ...eth0Default, metric: 10 }] });
    assert.equal(effectiveDefaultRoute(h, null)?.metric, 10);
  });

  it('no default route at all (air-gapped): the InternalIP\'s interface, no gateway to protect', () => {
    const u = chosen(host({ defaultRoutes: [] }), '192.168.1.21');
    assert.deepEqual([u.device, u.defaultGateways], ['eth0', []]);
  });
});
