import { test } from 'node:test';
import assert from 'node:assert/strict';
import { changeCount, diffLinks, diffRoutes, diffState, diffSysctls, isEmptyDiff } from '../../src/plan/diff.ts';
import type { DesiredState, DesiredVxlanLink } from '../../src/model/desired-state.ts';
import type { ObservedState, ObservedVxlanLink } from '../../src/model/observed-state.ts';
import { EMPTY_OBSERVED_STATE } from '../../src/model/observed-state.ts';
import { planNode } from '../../src/plan/node-plan.ts';
import { endpoint, node, shuffled, spec } from './model-fixtures.ts';

const link: DesiredVxlanLink = {
  name: 'vx-submariner', vni: 100, port: 4800, mtu: 1450, local: '192.168.1.21', remote: '192.168.1.10', underlayDevice: 'eth0', address: '240.168.1.21/8',
};

function observedLink(overrides: Partial<ObservedVxlanLink> = {}): ObservedVxlanLink {
  const { address, ...rest } = link;
  return { ...rest, kind: 'vxlan', addresses: [address], up: true, ...overrides };
}

function desiredState(): DesiredState {
  return {
    links: [link],
    routes: [
      { table: 100, dst: '10.2.0.0/16', gateway: '240.168.1.10', dev: 'vx-submariner' },
      { table: 100, dst: '10.3.0.0/16', gateway: '240.168.1.10', dev: 'vx-submariner' },
      { table: 150, dst: '10.3.0.0/16', dev: 'eth0', src: '10.244.0.1' },
    ],
    rules: [{ priority: 100, table: 100 }],
    fdb: [{ dev: 'vx-submariner', mac: '00:00:00:00:00:00', dst: '192.168.1.22' }],
    sysctls: [{ key: 'net/ipv4/conf/vx-submariner/rp_filter', value: '2' }, { key: 'net/ipv4/ip_forward', value: '1' }],
    filter: null,
  };
}

/** What the kernel would report after applying `desired` perfectly. */
function observedFrom(desired: DesiredState): ObservedState {
  return {
    links: desired.links.map(({ address, ...rest }) => ({ ...rest, kind: 'vxlan', addresses: [address, 'fe80::1/64'], up: true })),
    routes: desired.routes.map((r) => ({ ...r })),
    rules: desired.rules.map((r) => ({ ...r })),
    fdb: desired.fdb.map((f) => ({ ...f })),
    sysctls: desired.sysctls.map((s) => ({ key: s.key, value: `${s.value}\n` })),
  };
}

test('diff of desired against itself (as observed) is empty', () => {
  const diff = diffState(observedFrom(desiredState()), desiredState());
  assert.ok(isEmptyDiff(diff), JSON.stringify(diff));
  assert.equal(changeCount(diff), 0);
});

test('idempotence on real plans, with observed lists in any order', () => {
  const endpoints = [endpoint('east', spec({ cluster_id: 'east', hostname: 'gw', private_ip: '192.168.1.10' }))];
  for (let i = 0; i < 100; i++) endpoints.push(endpoint(`c${i}`, spec({ cluster_id: `c${i}`, subnets: [`11.${i}.0.0/16`, `12.${i}.0.0/24`] })));
  const nodes = Array.from({ length: 20 }, (_, i) => node(`n${i}`, `192.168.1.${i + 30}`));
  const config = { clusterId: 'east', podCidrs: ['10.244.0.0/16'], serviceCidrs: ['10.96.0.0/12'], minPrefixLength: 8, maxSubnetsPerEndpoint: 64 };
  const facts = { nodeIp: '192.168.1.10', underlayDevice: 'eth0', underlayMtu: 1500, cniInterface: { name: 'cni0', address: '10.244.0.1' }, networks: [] };
  for (const nodeName of ['gw', 'worker']) {
    const desired = planNode({ endpoints, clusters: [], nodes }, facts, { ...config, nodeName }).desired;
    const observed = observedFrom(desired);
    const scrambled: ObservedState = {
      links: observed.links, routes: shuffled(observed.routes, 1), rules: observed.rules, fdb: shuffled(observed.fdb, 2), sysctls: shuffled(observed.sysctls, 3),
    };
    assert.ok(isEmptyDiff(diffState(scrambled, desired)), nodeName);
  }
});

test('from nothing, everything is created, in a stable order', () => {
  const diff = diffState(EMPTY_OBSERVED_STATE, desiredState());
  assert.deepEqual(diff.links.create, [link]);
  assert.deepEqual(diff.routes.create.map((r) => `${r.table} ${r.dst}`), ['100 10.2.0.0/16', '100 10.3.0.0/16', '150 10.3.0.0/16']);
  assert.equal(diff.rules.create.length, 1);
  assert.equal(diff.fdb.create.length, 1);
  assert.equal(diff.sysctls.create.length, 2);
  assert.equal(changeCount(diff), 8);
  const reversed = { ...desiredState(), routes: [...desiredState().routes].reverse() };
  assert.deepEqual(diffState(EMPTY_OBSERVED_STATE, reversed).routes.create, diff.routes.create);
});

test('to nothing, every owned object is deleted', () => {
  const empty: DesiredState = { links: [], routes: [], rules: [], fdb: [], sysctls: [], filter: null };
  const observed = observedFrom(desiredState());
  const diff = diffState(observed, empty);
  assert.equal(diff.links.delete.length, 1);
  // Routes, FDB entries and rp_filter of the deleted link go with it; only what lives elsewhere is deleted explicitly.
  assert.deepEqual(diff.routes.delete.map((r) => r.dev), ['eth0']);
  assert.deepEqual(diff.fdb.delete, []);
  assert.deepEqual(diff.sysctls.delete.map((s) => s.key), ['net/ipv4/ip_forward']);
  assert.equal(diff.rules.delete.length, 1);
});

test('routes: replace when gateway, device or source differ; stale ones deleted; key is table and destination', () => {
  const desired = desiredState().routes;
  const observed = [
    { table: 100, dst: '10.2.0.0/16', gateway: '240.168.1.99', dev: 'vx-submariner' },
    { table: 100, dst: '10.3.0.0/16', gateway: '240.168.1.10', dev: 'eth1' },
    { table: 150, dst: '10.3.0.0/16', dev: 'eth0' },
    { table: 100, dst: '10.9.0.0/16', gateway: '240.168.1.10', dev: 'vx-submariner' },
  ];
  const diff = diffRoutes(observed, desired);
  assert.deepEqual(diff.create, []);
  assert.deepEqual(diff.update.map((u) => [u.observed, u.desired]), [
    [observed[0], desired[0]], [observed[1], desired[1]], [observed[2], desired[2]],
  ]);
  assert.deepEqual(diff.delete, [observed[3]]);
});

test('routes: an empty gateway or source equals an absent one; destinations compare canonically', () => {
  const diff = diffRoutes(
    [{ table: 150, dst: '10.3.0.0/16', gateway: '', dev: 'eth0', src: '10.244.0.1' }, { table: 100, dst: '10.2.5.5/16', gateway: '240.0.0.1', dev: 'vx-submariner', src: '' }],
    [{ table: 150, dst: '10.3.0.0/16', dev: 'eth0', src: '10.244.0.1' }, { table: 100, dst: '10.2.0.0/16', gateway: '240.0.0.1', dev: 'vx-submariner' }],
  );
  assert.equal(diff.create.length + diff.update.length + diff.delete.length, 0);
});

test('routes: duplicates of one key keep the exact match and delete the rest', () => {
  const wanted = { table: 100, dst: '10.2.0.0/16', gateway: '240.0.0.1', dev: 'vx-submariner' };
  const wrong = { ...wanted, gateway: '240.0.0.2' };
  const diff = diffRoutes([wrong, wanted, { ...wrong }], [wanted]);
  assert.deepEqual(diff.update, []);
  assert.deepEqual(diff.delete, [wrong, wrong]);
  const noneRight = diffRoutes([wrong, { ...wrong, dev: 'x' }], [wanted]);
  assert.deepEqual(noneRight.update, [{ observed: wrong, desired: wanted }]);
  assert.equal(noneRight.delete.length, 1);
});

test('rules and FDB: create missing, delete unwanted, never update', () => {
  const diff = diffState({
    ...observedFrom(desiredState()),
    rules: [{ priority: 100, table: 150 }, { priority: 150, table: 150 }],
    fdb: [{ dev: 'vx-submariner', mac: '00:00:00:00:00:00', dst: '192.168.1.99' }, { dev: 'vx-submariner', mac: '00:00:00:00:00:00', dst: '192.168.1.22' }],
  }, desiredState());
  assert.deepEqual(diff.rules, { create: [{ priority: 100, table: 100 }], update: [], delete: [{ priority: 100, table: 150 }, { priority: 150, table: 150 }] });
  assert.deepEqual(diff.fdb, { create: [], update: [], delete: [{ dev: 'vx-submariner', mac: '00:00:00:00:00:00', dst: '192.168.1.99' }] });
});

test('FDB MAC comparison ignores case', () => {
  const desired = desiredState();
  const observed = { ...observedFrom(desired), fdb: [{ dev: 'vx-submariner', mac: '00:00:00:00:00:00'.toUpperCase(), dst: '192.168.1.22' }] };
  assert.ok(isEmptyDiff(diffState(observed, desired)));
  const mac = { ...observed, fdb: [{ dev: 'vx-submariner', mac: 'AA:00:00:00:00:00', dst: '192.168.1.22' }] };
  assert.equal(diffState(mac, desired).fdb.delete.length, 1);
});

test('links: VXLAN parameter changes recreate, MTU/address/up change in place', () => {
  for (const change of [{ vni: 101 }, { port: 4789 }, { local: '192.168.1.5' }, { remote: '192.168.1.11' }, { remote: undefined }, { underlayDevice: 'eth1' }, { underlayDevice: undefined }, { kind: 'bridge' }] as Array<Partial<ObservedVxlanLink>>) {
    const [update] = diffLinks([observedLink(change)], [link]).update;
    assert.equal(update?.recreate, true, JSON.stringify(change));
  }
  const gatewayLink: DesiredVxlanLink = { ...link, remote: undefined };
  delete gatewayLink.remote;
  assert.equal(diffLinks([observedLink()], [gatewayLink]).update[0]?.recreate, true, 'remote removed when the node becomes the gateway');
  assert.deepEqual(diffLinks([observedLink({ remote: undefined })], [gatewayLink]).update, []);

  const [mtu] = diffLinks([observedLink({ mtu: 1500 })], [link]).update;
  assert.deepEqual({ ...mtu, observed: undefined, desired: undefined }, { observed: undefined, desired: undefined, recreate: false, mtu: 1450, setUp: false, addAddresses: [], removeAddresses: [] });
  const [down] = diffLinks([observedLink({ up: false })], [link]).update;
  assert.equal(down?.setUp, true);
  const [addresses] = diffLinks([observedLink({ addresses: ['240.168.1.99/8', 'fe80::5/64', '240.168.1.21/16'] })], [link]).update;
  assert.deepEqual(addresses?.addAddresses, ['240.168.1.21/8']);
  assert.deepEqual(addresses?.removeAddresses, ['240.168.1.21/16', '240.168.1.99/8']);
  assert.deepEqual(diffLinks([observedLink()], [link]), { create: [], update: [], delete: [] });
  assert.deepEqual(diffLinks([], [link]).create, [link]);
  assert.deepEqual(diffLinks([observedLink({ name: 'vx-old' })], [link]).delete.map((l) => l.name), ['vx-old']);
});

test('a recreated link takes its routes, FDB entries and rp_filter with it: they are recreated, not kept', () => {
  const desired = desiredState();
  const observed = { ...observedFrom(desired), links: [observedLink({ vni: 7 })] };
  const diff = diffState(observed, desired);
  assert.equal(diff.links.update[0]?.recreate, true);
  assert.deepEqual(diff.routes.create.map((r) => r.dev), ['vx-submariner', 'vx-submariner']);
  assert.deepEqual(diff.routes.delete, []);
  assert.equal(diff.fdb.create.length, 1);
  assert.deepEqual(diff.sysctls.create.map((s) => s.key), ['net/ipv4/conf/vx-submariner/rp_filter']);
  assert.deepEqual(diff.sysctls.update, []);
});

test('sysctls: values compare without the trailing newline; changes update; unwanted ones are restored', () => {
  const diff = diffSysctls(
    [{ key: 'net/ipv4/ip_forward', value: '0\n' }, { key: 'net/ipv4/conf/old0/rp_filter', value: '2\n' }, { key: 'net/ipv4/conf/cni0/rp_filter', value: '2\n' }],
    [{ key: 'net/ipv4/ip_forward', value: '1' }, { key: 'net/ipv4/conf/cni0/rp_filter', value: '2' }, { key: 'net/ipv4/conf/vx-submariner/rp_filter', value: '2' }],
  );
  assert.deepEqual(diff.create, [{ key: 'net/ipv4/conf/vx-submariner/rp_filter', value: '2' }]);
  assert.deepEqual(diff.update.map((u) => [u.observed.value, u.desired.value]), [['0\n', '1']]);
  assert.deepEqual(diff.delete, [{ key: 'net/ipv4/conf/old0/rp_filter', value: '2\n' }]);
});

test('gateway moving away: a worker diff against its old gateway state replaces the link and swaps tables', () => {
  const endpoints = [
    endpoint('east-1', spec({ cluster_id: 'east', hostname: 'a', private_ip: '192.168.1.10' }), '2024-01-01T00:00:00Z'),
    endpoint('west', spec({ cluster_id: 'west', subnets: ['10.2.0.0/16'] })),
  ];
  const nodes = [node('a', '192.168.1.10'), node('b', '192.168.1.11')];
  const config = { clusterId: 'east', nodeName: 'a', podCidrs: ['10.244.0.0/16'], serviceCidrs: ['10.96.0.0/12'], minPrefixLength: 8, maxSubnetsPerEndpoint: 64 };
  const facts = { nodeIp: '192.168.1.10', underlayDevice: 'eth0', underlayMtu: 1500, cniInterface: { name: 'cni0', address: '10.244.0.1' }, networks: [] };
  const asGateway = planNode({ endpoints, clusters: [], nodes }, facts, config).desired;
  const moved = [...endpoints, endpoint('east-2', spec({ cluster_id: 'east', hostname: 'b', private_ip: '192.168.1.11' }), '2024-02-01T00:00:00Z')];
  const asWorker = planNode({ endpoints: moved, clusters: [], nodes }, facts, config).desired;
  const diff = diffState(observedFrom(asGateway), asWorker);
  assert.equal(diff.links.update[0]?.recreate, true);
  assert.deepEqual(diff.rules, { create: [{ priority: 100, table: 100 }], update: [], delete: [{ priority: 150, table: 150 }] });
  assert.deepEqual(diff.routes.create, [{ table: 100, dst: '10.2.0.0/16', gateway: '240.168.1.11', dev: 'vx-submariner' }]);
  assert.deepEqual(diff.routes.delete, [{ table: 150, dst: '10.2.0.0/16', dev: 'eth0', src: '10.244.0.1' }]);
  assert.deepEqual(diff.fdb.delete, []);
  assert.ok(isEmptyDiff(diffState(observedFrom(asWorker), asWorker)));
});
