import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chainNames, diagnoseLeftovers, type AgentsHere, type LeftoverView } from '../../src/plan/diagnose-leftovers.ts';

const EMPTY: LeftoverView = {
  links: [{ index: 1, name: 'lo' }, { index: 2, name: 'eth0' }], routes: [], rules: [], loAddresses: [{ address: '127.0.0.1' }],
  iptables: { legacy: new Map(), nft: new Map() }, nftTables: [], ipsets: [], xfrmPolicies: { count: 0, sample: [] },
};
const NOBODY: AgentsHere = { routeAgent: false, gateway: false, activeGatewayHere: null, cableBackend: null, seawayIptables: null };
const WORKER: AgentsHere = { routeAgent: true, gateway: false, activeGatewayHere: false, cableBackend: 'libreswan', seawayIptables: 'nft' };
const ACTIVE: AgentsHere = { routeAgent: true, gateway: true, activeGatewayHere: true, cableBackend: 'libreswan', seawayIptables: 'nft' };

/** A worker as seaway's route agent programs it. */
const PROGRAMMED: LeftoverView = {
  ...EMPTY,
  links: [...EMPTY.links, { index: 5, name: 'vx-submariner', kind: 'vxlan' }],
  routes: [{ table: 254, dst: '10.2.0.0/16', gateway: '240.168.1.11', oif: 5, protocol: 147 }],
  iptables: { legacy: new Map(), nft: new Map([['nat', new Set(['POSTROUTING', 'SUBMARINER-POSTROUTING'])], ['filter', new Set(['SUBMARINER-INPUT'])]]) },
  ipsets: ['SUBMARINER-LOCALCIDRS', 'SUBMARINER-REMOTECIDRS'],
};

const only = (findings: ReturnType<typeof diagnoseLeftovers>) => findings.map((f) => [f.severity, f.target]);

test('nothing of anyone\'s, or only what running agents keep: one ok finding', () => {
  assert.deepEqual(only(diagnoseLeftovers('n', EMPTY, NOBODY)), [['ok', 'kernel objects']]);
  assert.deepEqual(only(diagnoseLeftovers('n', PROGRAMMED, WORKER)), [['ok', 'kernel objects']]);
});

test('the route agent\'s datapath with no route agent running: every object named, fixed by seaway cleanup', () => {
  const [f] = diagnoseLeftovers('n', { ...PROGRAMMED, nftTables: ['ip seaway', 'inet other'] }, NOBODY);
  assert.equal(f!.severity, 'error');
  assert.match(f!.found, /no seaway route agent answers on this node/);
  for (const part of ['link vx-submariner', '10.2.0.0/16 via 240.168.1.11 dev vx-submariner table 254 proto 147', 'iptables-nft chains nat/SUBMARINER-POSTROUTING, filter/SUBMARINER-INPUT', 'nft table ip seaway', 'ipsets SUBMARINER-LOCALCIDRS, SUBMARINER-REMOTECIDRS']) {
    assert.ok(f!.found.includes(part), part);
  }
  assert.match(f!.fix ?? '', /seaway cleanup/);
});

test('Submariner\'s route agent routes: leftovers without an agent, a warning beside a running one (it adopts them)', () => {
  const view: LeftoverView = {
    ...PROGRAMMED,
    routes: [{ table: 254, dst: '10.3.0.0/16', gateway: '240.168.1.12', oif: 5, protocol: 4 }, { table: 150, dst: '10.3.0.0/16', oif: 2, protocol: 4 }, { table: 254, dst: '10.9.0.0/16', gateway: '192.168.1.1', oif: 2, protocol: 4 }],
    rules: [{ priority: 150, table: 150, protocol: 0 }],
  };
  const without = diagnoseLeftovers('n', view, NOBODY)[0]!;
  assert.match(without.found, /2 route\(s\) of Submariner's route agent/);
  assert.match(without.found, /Submariner's rule pref 150 lookup 150/);
  assert.doesNotMatch(without.found, /10\.9\.0\.0/, 'a static route that is not via a VTEP is nobody\'s business');
  const beside = diagnoseLeftovers('n', view, WORKER);
  assert.deepEqual(only(beside), [['warning', 'Submariner route agent routes']]);
});

test('seaway\'s chains in the iptables flavour it does not use are a warning while it runs', () => {
  const view: LeftoverView = { ...PROGRAMMED, iptables: { ...PROGRAMMED.iptables, legacy: new Map([['mangle', new Set(['SUBMARINER-POSTROUTING'])]]) } };
  const [f] = diagnoseLeftovers('n', view, WORKER);
  assert.equal(f!.target, 'iptables-legacy chains');
  assert.match(f!.found, /mangle\/SUBMARINER-POSTROUTING in iptables-legacy, which seaway does not use on this node \(it uses iptables-nft\)/);
});

test('a cable\'s state without an active gateway here (planted vxlan-tunnel, tables 218/221, lo addresses): an error with the commands', () => {
  const view: LeftoverView = {
    ...EMPTY,
    links: [...EMPTY.links, { index: 7, name: 'vxlan-tunnel', kind: 'vxlan' }, { index: 8, name: 'submariner', kind: 'wireguard' }, { index: 9, name: 'other', kind: 'vxlan' }],
    routes: [{ table: 221, dst: '10.2.0.0/16', protocol: 147, blackhole: true }, { table: 218, dst: '10.2.0.0/16', oif: 7, protocol: 147 }],
    rules: [{ priority: 221, table: 221, protocol: 147 }],
    loAddresses: [{ address: '127.0.0.1' }, { address: '10.1.255.255', label: 'lo:seaway' }],
  };
  for (const agents of [WORKER, { ...ACTIVE, activeGatewayHere: false }]) {
    const [f] = diagnoseLeftovers('n', view, agents);
    assert.equal(f!.target, 'cable state');
    assert.equal(f!.severity, 'error');
    for (const part of ['link vxlan-tunnel (vxlan)', 'link submariner (wireguard)', 'blackhole 10.2.0.0/16 table 221 proto 147', 'rule pref 221 lookup 221', 'IPsec source address(es) 10.1.255.255 on lo']) assert.ok(f!.found.includes(part), part);
    assert.doesNotMatch(f!.found, /other/);
    assert.match(f!.fix ?? '', /ip link del vxlan-tunnel; ip link del submariner/);
  }
  assert.deepEqual(only(diagnoseLeftovers('n', view, ACTIVE)), [['ok', 'kernel objects']], 'the active gateway keeps them');
  assert.deepEqual(only(diagnoseLeftovers('n', view, { ...ACTIVE, gateway: false })), [['ok', 'kernel objects']],
    'on the node the local Endpoint names, a gateway that does not answer left them fail-static: its own finding says so, they are no leftover');
  assert.deepEqual(only(diagnoseLeftovers('n', view, { ...ACTIVE, activeGatewayHere: null })), [['ok', 'kernel objects']], 'when the API cannot say, a running gateway is given the benefit');
});

test('Submariner\'s VXLAN cable table 100 is an error naming the ip commands; seaway\'s own rule 100 is the route agent\'s', () => {
  const view: LeftoverView = { ...EMPTY, rules: [{ priority: 100, table: 100, protocol: 0 }], routes: [{ table: 100, dst: '10.3.0.0/16', oif: 2, protocol: 3 }] };
  const [f] = diagnoseLeftovers('n', view, WORKER);
  assert.equal(f!.target, 'table 100');
  assert.equal(f!.fix, 'ip rule del pref 100 lookup 100; ip route flush table 100');
  const own: LeftoverView = { ...EMPTY, rules: [{ priority: 100, table: 100, protocol: 147 }] };
  assert.deepEqual(only(diagnoseLeftovers('n', own, WORKER)), [['ok', 'kernel objects']]);
  assert.deepEqual(only(diagnoseLeftovers('n', own, NOBODY)), [['error', 'route agent datapath']]);
});

test('XFRM policies: kept by an active IPsec gateway here, a warning anywhere else; charon\'s table without a gateway is a warning', () => {
  const view: LeftoverView = { ...EMPTY, xfrmPolicies: { count: 3, sample: ['10.1.0.0/16 -> 10.2.0.0/16 out'] }, routes: [{ table: 220, dst: '10.2.0.0/16', oif: 2, protocol: 4 }] };
  assert.deepEqual(only(diagnoseLeftovers('n', view, ACTIVE)), [['ok', 'kernel objects']]);
  assert.deepEqual(only(diagnoseLeftovers('n', view, { ...ACTIVE, cableBackend: 'wireguard' })), [['warning', 'XFRM policies']]);
  assert.deepEqual(only(diagnoseLeftovers('n', view, WORKER)).sort(), [['warning', 'XFRM policies'], ['warning', 'table 220']]);
  assert.match(diagnoseLeftovers('n', view, WORKER).find((f) => f.target === 'XFRM policies')!.found, /3 XFRM policies \(10\.1\.0\.0\/16 -> 10\.2\.0\.0\/16 out\)/);
});

test('what could not be read is said in the ok finding, not taken for absence silently', () => {
  const [f] = diagnoseLeftovers('n', { ...EMPTY, iptables: { legacy: null, nft: new Map() }, ipsets: null, xfrmPolicies: null }, WORKER);
  assert.match(f!.found, /not read: iptables-legacy \(not usable here\), ipsets, XFRM policies/);
});

test('chain names come from the declarations of an iptables-save text, per table', () => {
  const names = chainNames('# comment\n*nat\n:PREROUTING ACCEPT [0:0]\n:SUBMARINER-POSTROUTING - [0:0]\n-A POSTROUTING -j SUBMARINER-POSTROUTING\nCOMMIT\n*filter\n:INPUT DROP [1:2]\nCOMMIT\n:ORPHAN - [0:0]\n');
  assert.deepEqual([...names].map(([t, c]) => [t, [...c]]), [['nat', ['PREROUTING', 'SUBMARINER-POSTROUTING']], ['filter', ['INPUT']]]);
});
