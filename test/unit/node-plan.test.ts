import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ECHO_LIMIT_BURST, ECHO_LIMIT_PER_SECOND, planNode, PlanInputError, staleRoutesAllowed, type PlanConfig } from '../../src/plan/node-plan.ts';
import { newPlanMemo, type PlanMemo } from '../../src/model/endpoint-set.ts';
import type { NodeFacts } from '../../src/model/node-facts.ts';
import { FENCING_ANNOTATION } from '../../src/plan/local-endpoint-object.ts';
import { mssClampFromAnnotations } from '../../src/plan/mss-clamp.ts';
import type { Snapshot } from '../../src/model/snapshot.ts';
import { endpoint, gatewayNode, node, shuffled, spec } from './model-fixtures.ts';

const config: PlanConfig = {
  clusterId: 'east', nodeName: 'east-worker', podCidrs: ['10.244.0.0/16'], serviceCidrs: ['10.96.0.0/12'],
  minPrefixLength: 8, maxSubnetsPerEndpoint: 64,
};

const workerFacts: NodeFacts = {
  nodeIp: '192.168.1.21', underlayDevice: 'eth0', underlayMtu: 1500,
  cniInterface: { name: 'vxlan.calico', address: '10.244.1.0' }, networks: ['192.168.1.21/24'],
};

const gatewayFacts: NodeFacts = {
  nodeIp: '192.168.1.10', underlayDevice: 'eth0', underlayMtu: 9000,
  cniInterface: { name: 'tunl0', address: '10.244.0.1' }, networks: ['192.168.1.10/24'],
};

const gatewayConfig: PlanConfig = { ...config, nodeName: 'east-gw' };

function localEndpoint(hostname = 'east-gw', privateIp = '192.168.1.10') {
  return endpoint('east-ep', spec({ cluster_id: 'east', hostname, private_ip: privateIp, subnets: ['10.244.0.0/16', '10.96.0.0/12'] }));
}

function snapshot(extra: Partial<Snapshot> = {}): Snapshot {
  return {
    endpoints: [
      localEndpoint(),
      endpoint('west-ep', spec({ cluster_id: 'west', subnets: ['10.2.0.0/16', '10.102.0.0/16'] })),
      endpoint('north-ep', spec({ cluster_id: 'north', hostname: 'north-gw', private_ip: '192.168.3.10', subnets: ['10.3.0.0/16'] })),
    ],
    clusters: [],
    nodes: [
      gatewayNode('east-gw', '192.168.1.10'), node('east-worker', '192.168.1.21'), node('east-worker-2', '192.168.1.22'),
    ],
    ...extra,
  };
}

test('non-gateway node: VXLAN towards the gateway, main-table routes via the gateway VTEP (longest prefix wins), no rule', () => {
  const plan = planNode(snapshot({ endpoints: [...snapshot().endpoints.slice(0, 1), endpoint('west-ep', spec({ subnets: ['10.2.0.0/16', '10.202.0.0/16'] })), snapshot().endpoints[2]!] }), workerFacts, config);
  assert.equal(plan.isGateway, false);
  assert.equal(plan.gatewayNode, 'east-gw');
  assert.equal(plan.localEndpoint?.name, 'east-ep');
  assert.deepEqual(plan.desired.links, [{
    name: 'vx-submariner', vni: 100, port: 4800, mtu: 1450, local: '192.168.1.21', remote: '192.168.1.10',
    underlayDevice: 'eth0', address: '240.168.1.21/8',
  }]);
  assert.deepEqual(plan.desired.rules, []);
  assert.deepEqual(plan.desired.routes, [
    { table: 254, dst: '10.2.0.0/16', gateway: '240.168.1.10', dev: 'vx-submariner' },
    { table: 254, dst: '10.3.0.0/16', gateway: '240.168.1.10', dev: 'vx-submariner' },
    { table: 254, dst: '10.202.0.0/16', gateway: '240.168.1.10', dev: 'vx-submariner' },
  ]);
  assert.deepEqual(plan.desired.fdb, []);
  assert.deepEqual(plan.desired.sysctls, [
    { key: 'net/ipv4/conf/vx-submariner/rp_filter', value: '2' },
    { key: 'net/ipv4/conf/vxlan.calico/rp_filter', value: '2' },
    { key: 'net/ipv4/ip_forward', value: '1' },
    { key: 'net/ipv4/neigh/vx-submariner/retrans_time_ms', value: '100' },
  ]);
  assert.deepEqual(plan.desired.filter, {
    localCidrs: ['10.96.0.0/12', '10.244.0.0/16'], remoteCidrs: ['10.2.0.0/16', '10.3.0.0/16', '10.202.0.0/16'],
    nodeAddresses: ['192.168.1.10/32', '192.168.1.21/32', '192.168.1.22/32'], egress: { only: ['vx-submariner'] },
    cniAddress: '10.244.1.0', vxlanDevice: 'vx-submariner', vxlanPort: 4800, mssClamp: { mode: 'pmtu' },
  });
  assert.deepEqual(plan.remoteClusters.map((r) => [r.clusterId, r.subnets]), [['north', ['10.3.0.0/16']], ['west', ['10.2.0.0/16', '10.202.0.0/16']]]);
  assert.deepEqual(plan.notes, []);
});

test('an Endpoint overlapping the local service CIDR is rejected and gets no route', () => {
  const plan = planNode(snapshot(), workerFacts, config);
  assert.deepEqual(plan.rejected.map((r) => [r.endpoint.name, r.reason]), [['west-ep', 'overlaps-local']]);
  assert.deepEqual(plan.desired.routes.map((r) => r.dst), ['10.3.0.0/16']);
  assert.deepEqual(plan.desired.filter?.remoteCidrs, ['10.3.0.0/16']);
});

test('VXLAN is accepted from every Node\'s InternalIP, the gateway\'s private IP and this node\'s own address, once each', () => {
  const nodes = [gatewayNode('east-gw', '192.168.1.10'), node('east-worker', '192.168.1.21'), node('no-ip', null), node('bad-ip', 'fe80::1'), node('twin', '192.168.1.21')];
  const plan = planNode(snapshot({ nodes, endpoints: [localEndpoint()] }), { ...workerFacts, nodeIp: '192.168.5.21' }, config);
  assert.deepEqual(plan.desired.filter?.nodeAddresses, ['192.168.1.10/32', '192.168.1.21/32', '192.168.5.21/32']);
});

test('gateway node: no remote, FDB per other node, table 150 via the cable interface with src = CNI address, rule 150', () => {
  const plan = planNode(snapshot({ endpoints: [localEndpoint(), endpoint('north-ep', spec({ cluster_id: 'north', subnets: ['10.3.0.0/16', '10.33.0.0/16'] }))] }), gatewayFacts, gatewayConfig);
  assert.equal(plan.isGateway, true);
  assert.deepEqual(plan.desired.links, [{
    name: 'vx-submariner', vni: 100, port: 4800, mtu: 8950, local: '192.168.1.10', underlayDevice: 'eth0', address: '240.168.1.10/8',
  }]);
  assert.ok(!('remote' in (plan.desired.links[0] ?? {})));
  assert.deepEqual(plan.desired.rules, [{ priority: 150, table: 150 }]);
  assert.deepEqual(plan.desired.routes, [
    { table: 150, dst: '10.3.0.0/16', dev: 'eth0', src: '10.244.0.1' },
    { table: 150, dst: '10.33.0.0/16', dev: 'eth0', src: '10.244.0.1' },
  ]);
  assert.deepEqual(plan.desired.fdb, [
    { dev: 'vx-submariner', mac: '00:00:00:00:00:00', dst: '192.168.1.21' },
    { dev: 'vx-submariner', mac: '00:00:00:00:00:00', dst: '192.168.1.22' },
  ]);
  assert.deepEqual(plan.desired.filter?.egress, { never: ['tunl0'] }, 'the gateway\'s traffic to remote clusters leaves by its cable, never its CNI interface');
  assert.deepEqual(plan.notes, []);
});

test('gateway FDB skips nodes without a usable InternalIP and says so', () => {
  const plan = planNode(snapshot({ nodes: [gatewayNode('east-gw', '192.168.1.10'), node('a', null), node('b', 'fd00::2'), node('c', '192.168.1.30'), node('d', '192.168.1.30')] }), gatewayFacts, gatewayConfig);
  assert.deepEqual(plan.desired.fdb.map((f) => f.dst), ['192.168.1.30']);
  // c and d share an InternalIP, hence a VTEP address too.
  assert.deepEqual(plan.notes.map((n) => n.code), ['node-without-internal-ip', 'node-without-internal-ip', 'vtep-collision']);
});

test('gateway without the CNI interface: no table 150 routes, no SNAT target, and a note', () => {
  const plan = planNode(snapshot(), { ...gatewayFacts, cniInterface: null }, gatewayConfig);
  assert.deepEqual(plan.desired.routes, []);
  assert.deepEqual(plan.desired.rules, [{ priority: 150, table: 150 }]);
  assert.equal(plan.desired.filter?.cniAddress, undefined);
  assert.ok(!('cniAddress' in (plan.desired.filter ?? {})));
  assert.deepEqual(plan.desired.sysctls.map((s) => s.key), ['net/ipv4/conf/vx-submariner/rp_filter', 'net/ipv4/ip_forward', 'net/ipv4/neigh/vx-submariner/retrans_time_ms']);
  assert.deepEqual(plan.notes.map((n) => n.code), ['cni-interface-unknown']);
});

test('gateway whose underlay address differs from the local Endpoint private_ip gets a note', () => {
  const plan = planNode(snapshot(), { ...gatewayFacts, nodeIp: '192.168.1.99' }, gatewayConfig);
  assert.ok(plan.notes.some((n) => n.code === 'gateway-ip-mismatch' && /192.168.1.10 differs from its underlay address 192.168.1.99/.test(n.message)));
});

test('no local Endpoint: nothing planned for remote routes, and the plan says why', () => {
  const plan = planNode(snapshot({ endpoints: snapshot().endpoints.slice(1) }), workerFacts, config);
  assert.equal(plan.gatewayNode, null);
  assert.equal(plan.isGateway, false);
  assert.deepEqual(plan.desired, { links: [], routes: [], rules: [], fdb: [], sysctls: [], filter: null });
  assert.equal(plan.notes[0]?.code, 'no-local-endpoint');
  assert.match(plan.notes[0]?.message ?? '', /no Endpoint for the local cluster "east"/);
  assert.deepEqual(plan.remoteClusters.map((r) => r.clusterId), ['north']);
});

test('a rejected local Endpoint is named in the no-local-endpoint note', () => {
  const plan = planNode(snapshot({ endpoints: [endpoint('east-ep', spec({ cluster_id: 'east', hostname: 'east-gw', private_ip: 'fd00::1' }))] }), workerFacts, config);
  assert.equal(plan.gatewayNode, null);
  assert.match(plan.notes[0]?.message ?? '', /local Endpoint submariner-operator\/east-ep is rejected \(ipv6-unsupported\)/);
});

test('gateway moving to another node: the old gateway becomes a worker and the new one a gateway', () => {
  const before = snapshot();
  const after = snapshot({
    endpoints: [endpoint('east-ep-2', spec({ cluster_id: 'east', hostname: 'east-worker', private_ip: '192.168.1.21' }), '2024-06-01T00:00:00Z'), ...before.endpoints],
    nodes: [gatewayNode('east-gw', '192.168.1.10'), gatewayNode('east-worker', '192.168.1.21'), node('east-worker-2', '192.168.1.22')],
  });
  const oldGateway = planNode(after, gatewayFacts, gatewayConfig);
  const newGateway = planNode(after, workerFacts, config);
  const otherWorker = planNode(after, { ...workerFacts, nodeIp: '192.168.1.22' }, { ...config, nodeName: 'east-worker-2' });
  assert.equal(planNode(before, gatewayFacts, gatewayConfig).isGateway, true);
  assert.equal(oldGateway.isGateway, false);
  assert.equal(oldGateway.desired.links[0]?.remote, '192.168.1.21');
  assert.deepEqual(oldGateway.desired.rules, []);
  assert.deepEqual(oldGateway.desired.routes.map((r) => r.gateway), ['240.168.1.21']);
  assert.equal(newGateway.isGateway, true);
  assert.deepEqual(newGateway.desired.fdb.map((f) => f.dst), ['192.168.1.10', '192.168.1.22']);
  assert.equal(otherWorker.desired.links[0]?.remote, '192.168.1.21');
  assert.deepEqual(otherWorker.desired.routes.map((r) => [r.dst, r.gateway]), [['10.3.0.0/16', '240.168.1.21']]);
  assert.deepEqual(newGateway.duplicates.map((d) => [d.endpoint.name, d.winner.name]), [['east-ep', 'east-ep-2']]);
});

test('MSS clamp comes from the Node annotation; an invalid value falls back to pmtu and is reported', () => {
  const withMss = (value: string) => planNode(snapshot({ nodes: [gatewayNode('east-gw', '192.168.1.10'), node('east-worker', '192.168.1.21', { 'submariner.io/tcp-clamp-mss': value })] }), workerFacts, config);
  assert.deepEqual(withMss('1360').desired.filter?.mssClamp, { mode: 'fixed', mss: 1360 });
  assert.deepEqual(withMss('48').desired.filter?.mssClamp, { mode: 'fixed', mss: 48 }, 'the smallest MSS a Linux sender honours');
  for (const bad of ['abc', '0', '-5', '1360.5', '47', '65496', '01360', '', '9'.repeat(100)]) {
    const plan = withMss(bad);
    assert.deepEqual(plan.desired.filter?.mssClamp, { mode: 'pmtu' }, bad);
    assert.ok(plan.notes.some((n) => n.code === 'invalid-mss-annotation'), bad);
  }
  assert.deepEqual(mssClampFromAnnotations(undefined), { clamp: { mode: 'pmtu' }, problem: null });
  assert.deepEqual(mssClampFromAnnotations({ 'submariner.io/tcp-clamp-mss': ' 1400 ' }).clamp, { mode: 'fixed', mss: 1400 });
});

test('host bits in a remote subnet are normalised and noted', () => {
  const plan = planNode(snapshot({ endpoints: [localEndpoint(), endpoint('north-ep', spec({ cluster_id: 'north', subnets: ['10.3.1.1/16'] }))] }), workerFacts, config);
  assert.deepEqual(plan.desired.routes.map((r) => r.dst), ['10.3.0.0/16']);
  assert.deepEqual(plan.notes.map((n) => n.code), ['subnet-normalised']);
});

test('remote subnets covering Node addresses are rejected (node-local refusals: node-plan-verdict.test.ts)', () => {
  const plan = planNode(snapshot({ endpoints: [localEndpoint(), endpoint('north-ep', spec({ cluster_id: 'north', subnets: ['192.168.0.0/16'] }))] }), workerFacts, config);
  assert.deepEqual(plan.rejected.map((r) => r.reason), ['covers-node-address']);
  assert.deepEqual(plan.desired.routes, []);
});

test('invalid NodeFacts are a programming error with a clear message', () => {
  assert.throws(() => planNode(snapshot(), { ...workerFacts, nodeIp: 'eth0' }, config), PlanInputError);
  assert.throws(() => planNode(snapshot(), { ...workerFacts, underlayMtu: 100 }, config), /underlayMtu: 100/);
  assert.throws(() => planNode(snapshot(), { ...workerFacts, underlayMtu: Number.NaN }, config), PlanInputError);
  assert.throws(() => planNode(snapshot(), { ...workerFacts, underlayDevice: '' }, config), /underlayDevice/);
  assert.throws(() => planNode(snapshot(), { ...workerFacts, cniInterface: { name: 'cni0', address: 'x' } }, config), /cniInterface.address/);
});

test('determinism: shuffled endpoints and nodes give the same plan', () => {
  const endpoints = [localEndpoint()];
  for (let i = 0; i < 50; i++) endpoints.push(endpoint(`c${i}`, spec({ cluster_id: `c${i}`, subnets: [`11.${i}.0.0/16`, `12.${i}.0.0/16`] })));
  endpoints.push(endpoint('c7-dup', spec({ cluster_id: 'c7', subnets: ['11.7.0.0/16'] })));
  endpoints.push(endpoint('bad', spec({ cluster_id: 'bad', subnets: ['0.0.0.0/0'] })));
  const nodes = [gatewayNode('east-gw', '192.168.1.10'), ...Array.from({ length: 30 }, (_, i) => node(`n${i}`, `192.168.2.${i + 1}`))];
  const reference = planNode({ endpoints, clusters: [], nodes }, gatewayFacts, gatewayConfig);
  const referenceWorker = planNode({ endpoints, clusters: [], nodes }, workerFacts, config);
  for (let seed = 1; seed <= 10; seed++) {
    const shuffledSnapshot = { endpoints: shuffled(endpoints, seed), clusters: [], nodes: shuffled(nodes, seed + 100) };
    assert.deepEqual(planNode(shuffledSnapshot, gatewayFacts, gatewayConfig), reference);
    assert.deepEqual(planNode(shuffledSnapshot, workerFacts, config), referenceWorker);
  }
  assert.equal(reference.desired.fdb.length, 30);
  assert.equal(reference.duplicates.length, 1);
});

/** Remote gateways with health-check addresses: inside their own subnets, inside another cluster's, none at all. */
function healthSnapshot(): Snapshot {
  return snapshot({
    endpoints: [
      localEndpoint(),
      endpoint('north-ep', spec({ cluster_id: 'north', hostname: 'north-gw', private_ip: '192.168.3.10', subnets: ['10.3.0.0/16'], healthCheckIP: '10.3.0.1' })),
      endpoint('south-ep', spec({ cluster_id: 'south', hostname: 'south-gw', private_ip: '192.168.4.10', subnets: ['10.4.0.0/16', '10.40.0.0/16'], healthCheckIP: '10.40.0.7' })),
      endpoint('rogue-ep', spec({ cluster_id: 'rogue', hostname: 'rogue-gw', private_ip: '192.168.5.10', subnets: ['10.5.0.0/16'], healthCheckIP: '10.3.0.99' })),
      endpoint('mute-ep', spec({ cluster_id: 'mute', hostname: 'mute-gw', private_ip: '192.168.6.10', subnets: ['10.6.0.0/16'], healthCheckIP: undefined })),
    ],
  });
}

test('the gateway\'s filter limits echo requests to its CNI address, exempting each remote gateway\'s healthCheckIP that lies in its own subnets', () => {
  const plan = planNode(healthSnapshot(), gatewayFacts, gatewayConfig);
  assert.deepEqual(plan.remoteClusters.map((r) => r.clusterId), ['mute', 'north', 'rogue', 'south'], 'every remote is accepted');
  assert.deepEqual(plan.desired.filter?.echoLimit, {
    address: '10.244.0.1', exempt: ['10.3.0.1/32', '10.40.0.7/32'], perSecond: ECHO_LIMIT_PER_SECOND, burst: ECHO_LIMIT_BURST,
  }, 'rogue\'s healthCheckIP lies in north\'s range: no exemption of another cluster\'s address; mute names none');
  assert.deepEqual([ECHO_LIMIT_PER_SECOND, ECHO_LIMIT_BURST], [200, 400]);
});

test('a worker\'s filter has no echo limit, nor has a gateway whose CNI address is not known yet', () => {
  const worker = planNode(healthSnapshot(), workerFacts, config);
  assert.equal(worker.isGateway, false);
  assert.ok(worker.desired.filter !== null && !('echoLimit' in worker.desired.filter));
  const blind = planNode(healthSnapshot(), { ...gatewayFacts, cniInterface: null }, gatewayConfig);
  assert.equal(blind.isGateway, true);
  assert.ok(blind.desired.filter !== null && !('echoLimit' in blind.desired.filter));
});

test('behind seaway\'s own cable the gateway has the same echo limit; with no remote cluster it limits with nothing exempt', () => {
  const [local, ...remotes] = healthSnapshot().endpoints;
  const seaway = snapshot({ endpoints: [endpoint('east-ep', local!.spec, local!.creationTimestamp, { [FENCING_ANNOTATION]: '1' }), ...remotes] });
  const behindSeaway = planNode(seaway, gatewayFacts, gatewayConfig);
  assert.ok(behindSeaway.notes.some((n) => n.code === 'cable-routes'), 'the local Endpoint is seaway\'s gateway\'s');
  assert.deepEqual(behindSeaway.desired.filter?.echoLimit, planNode(healthSnapshot(), gatewayFacts, gatewayConfig).desired.filter?.echoLimit);
  assert.deepEqual(planNode(snapshot({ endpoints: [localEndpoint()] }), gatewayFacts, gatewayConfig).desired.filter?.echoLimit,
    { address: '10.244.0.1', exempt: [], perSecond: 200, burst: 400 });
});

test('with a memo, the gateway\'s FDB entries and its notes on Nodes without an address are kept while the Nodes are the same, and made again for another node or list', () => {
  const memo = newPlanMemo();
  const nodes = [gatewayNode('east-gw', '192.168.1.10'), node('a', null), gatewayNode('c', '192.168.1.30'), node('d', '192.168.1.31')];
  const steady = snapshot({ nodes });
  const first = planNode(steady, gatewayFacts, gatewayConfig, { memo });
  const again = planNode(snapshot({ nodes: steady.nodes }), gatewayFacts, gatewayConfig, { memo });
  assert.equal(again.desired.fdb, first.desired.fdb, 'the same list, not made again');
  assert.deepEqual(again.desired.fdb.map((f) => f.dst), ['192.168.1.30', '192.168.1.31']);
  assert.equal(again.notes.filter((n) => n.code === 'node-without-internal-ip').length, 1, 'the note comes with the kept entries too');
  assert.deepEqual(again.notes.filter((n) => n.code === 'node-without-internal-ip'), first.notes.filter((n) => n.code === 'node-without-internal-ip'));
  const fewer = planNode(snapshot({ nodes: nodes.slice(0, 3) }), gatewayFacts, gatewayConfig, { memo });
  assert.deepEqual(fewer.desired.fdb.map((f) => f.dst), ['192.168.1.30']);
  // The same list on another node (c becomes the gateway): its own entry goes, the old gateway's comes.
  const onC = planNode(snapshot({ nodes: steady.nodes, endpoints: [localEndpoint('c', '192.168.1.30')] }), { ...gatewayFacts, nodeIp: '192.168.1.30' }, { ...gatewayConfig, nodeName: 'c' }, { memo });
  assert.deepEqual(onC.desired.fdb.map((f) => f.dst), ['192.168.1.10', '192.168.1.31']);
  // The same list and node, another address of this node: the Node at it gets no entry.
  const readdressed = planNode(snapshot({ nodes: steady.nodes }), { ...gatewayFacts, nodeIp: '192.168.1.31' }, gatewayConfig, { memo });
  assert.deepEqual(readdressed.desired.fdb.map((f) => f.dst), ['192.168.1.30']);
  assert.throws(() => { (again.desired.fdb as unknown as string[]).push('x'); }, TypeError, 'a kept list is frozen');
});

test('with a memo, an unchanged remote Endpoint is listed as the same entry; a changed one as a new entry with its new subnets', () => {
  const memo = newPlanMemo();
  const south = (subnets: string[]) => endpoint('south-ep', spec({ cluster_id: 'south', hostname: 'south-gw', private_ip: '192.168.4.10', subnets }));
  const north = endpoint('north-ep', spec({ cluster_id: 'north', hostname: 'north-gw', private_ip: '192.168.3.10', subnets: ['10.3.0.0/16'] }));
  const first = planNode(snapshot({ endpoints: [localEndpoint(), south(['172.16.0.0/24']), north] }), workerFacts, config, { memo });
  const moved = south(['172.17.0.0/24']);
  const changed = planNode(snapshot({ endpoints: [localEndpoint(), moved, north] }), workerFacts, config, { memo });
  const byId = (plan: typeof first) => new Map(plan.remoteClusters.map((r) => [r.clusterId, r]));
  assert.equal(byId(changed).get('north'), byId(first).get('north'), 'north unchanged: the same entry');
  assert.notEqual(byId(changed).get('south'), byId(first).get('south'));
  assert.deepEqual(byId(changed).get('south')?.subnets, ['172.17.0.0/24']);
  assert.deepEqual(byId(first).get('south')?.subnets, ['172.16.0.0/24'], 'the earlier plan\'s entry is not changed under it');
  const unmemoised = planNode(snapshot({ endpoints: [localEndpoint(), moved, north] }), workerFacts, config);
  assert.deepEqual(unmemoised.remoteClusters, changed.remoteClusters, 'the same entries as without a memo');
  assert.throws(() => { byId(changed).get('north')!.subnets.push('10.9.0.0/16'); }, TypeError, 'a kept entry\'s subnets are frozen');
  // The same Endpoint object validated again (a new spec object): a new entry, not the one kept for the old spec.
  (memo as { validated: PlanMemo['validated'] }).validated = new WeakMap();
  const revalidated = planNode(snapshot({ endpoints: [localEndpoint(), moved, north] }), workerFacts, config, { memo });
  assert.notEqual(byId(revalidated).get('north'), byId(changed).get('north'));
  assert.deepEqual(byId(revalidated).get('north'), byId(changed).get('north'));
});

test('with a memo, routes no longer planned are not kept for ever: a cluster whose subnets keep changing leaves at most an eighth more than the planned routes (plus 64) behind', () => {
  const memo = newPlanMemo();
  const south = (n: number) => endpoint('south-ep', spec({ cluster_id: 'south', hostname: 'south-gw', private_ip: '192.168.4.10', subnets: [`172.${16 + (n % 10)}.${Math.floor(n / 10)}.0/24`] }));
  let largest = 0;
  for (let n = 0; n < 500; n++) {
    const plan = planNode(snapshot({ endpoints: [localEndpoint(), south(n)] }), workerFacts, config, { memo });
    assert.deepEqual(plan.desired.routes.map((r) => r.dst), [`172.${16 + (n % 10)}.${Math.floor(n / 10)}.0/24`]);
    largest = Math.max(largest, memo.routes.size);
  }
  assert.ok(largest <= staleRoutesAllowed(1), `the memo held ${largest} routes for 1 planned`);
  assert.ok(largest > 1, 'routes no longer planned are kept a while (one rebuild per many passes)');
  assert.equal(staleRoutesAllowed(10_000), 11_314, 'an eighth more at 10,000, plus 64');
});

test('with a memo, what the plan takes from the Nodes (VXLAN sources, VTEP collisions) is kept while their list (and this node\'s address) are the same, and follows a change', () => {
  const memo = newPlanMemo();
  const colliding = [gatewayNode('east-gw', '192.168.1.10'), node('east-worker', '192.168.1.21'), node('twin', '10.168.1.21')];
  const steady = snapshot({ nodes: colliding });
  const first = planNode(steady, workerFacts, config, { memo });
  const again = planNode(snapshot({ nodes: steady.nodes }), workerFacts, config, { memo });
  assert.equal(again.desired.filter?.nodeAddresses, first.desired.filter?.nodeAddresses, 'the same Nodes list and gateway: the same list, not made again');
  assert.deepEqual(again.notes.filter((n) => n.code === 'vtep-collision'), first.notes.filter((n) => n.code === 'vtep-collision'));
  assert.equal(first.notes.filter((n) => n.code === 'vtep-collision').length, 1);
  const collisions = memo.vtepCollisions.get(steady.nodes);
  planNode(snapshot({ nodes: steady.nodes }), workerFacts, config, { memo });
  assert.ok(collisions !== undefined && memo.vtepCollisions.get(steady.nodes) === collisions, 'the collisions are not judged again for the same list');
  assert.throws(() => { again.desired.filter!.nodeAddresses.push('10.0.0.1/32'); }, TypeError, 'a kept list is frozen');

  const fewer = planNode(snapshot({ nodes: colliding.slice(0, 2) }), workerFacts, config, { memo });
  assert.deepEqual(fewer.desired.filter?.nodeAddresses, ['192.168.1.10/32', '192.168.1.21/32'], 'a new Nodes list: made from it');
  assert.deepEqual(fewer.notes.filter((n) => n.code === 'vtep-collision'), [], 'the collision went with the Node');

  // This node's own underlay address is a source too, Node or not.
  const elsewhere = { ...workerFacts, nodeIp: '192.168.1.77' };
  const readdressed = planNode(snapshot({ nodes: steady.nodes }), elsewhere, config, { memo });
  assert.ok(readdressed.desired.filter?.nodeAddresses.includes('192.168.1.77/32'), 'this node\'s address changed: the list follows, with the same Nodes list');
  assert.deepEqual(readdressed.desired.filter?.nodeAddresses, planNode(snapshot({ nodes: steady.nodes }), elsewhere, config).desired.filter?.nodeAddresses);
});

test('with a memo, a route that comes out the same is the same object as in the last plan; a changed remote\'s and a moved gateway\'s are new', () => {
  const memo = newPlanMemo();
  const north = endpoint('north-ep', spec({ cluster_id: 'north', hostname: 'north-gw', private_ip: '192.168.3.10', subnets: ['10.3.0.0/16'] }));
  const south = (subnets: string[]) => endpoint('south-ep', spec({ cluster_id: 'south', hostname: 'south-gw', private_ip: '192.168.4.10', subnets }));
  const at = (plan: ReturnType<typeof planNode>, dst: string) => plan.desired.routes.find((r) => r.dst === dst);
  const first = planNode(snapshot({ endpoints: [localEndpoint(), north, south(['10.4.0.0/16'])] }), workerFacts, config, { memo });
  assert.ok(at(first, '10.3.0.0/16') && at(first, '10.4.0.0/16'));

  const changed = snapshot({ endpoints: [localEndpoint(), north, south(['10.5.0.0/16'])] });
  const second = planNode(changed, workerFacts, config, { memo });
  assert.equal(at(second, '10.3.0.0/16'), at(first, '10.3.0.0/16'), 'north did not change: the same route object');
  assert.equal(at(second, '10.4.0.0/16'), undefined);
  assert.ok(at(second, '10.5.0.0/16'));
  assert.deepEqual(planNode(changed, workerFacts, config).desired.routes, second.desired.routes, 'the same content as without a memo');

  // The gateway moves: every route's next hop changes, so none is the old object.
  const moved = planNode(snapshot({
    endpoints: [localEndpoint('east-worker-2', '192.168.1.22'), north, south(['10.5.0.0/16'])],
    nodes: [node('east-gw', '192.168.1.10'), gatewayNode('east-worker-2', '192.168.1.22'), node('east-worker', '192.168.1.21')],
  }), workerFacts, config, { memo });
  assert.notEqual(at(moved, '10.3.0.0/16'), at(second, '10.3.0.0/16'));
  assert.equal(at(moved, '10.3.0.0/16')?.gateway, '240.168.1.22');
  // And back: the routes follow the gateway again, whatever the memo held before it moved.
  const back = planNode(changed, workerFacts, config, { memo });
  assert.deepEqual(back.desired.routes, second.desired.routes, 'the same content as before the move');
  assert.notEqual(at(back, '10.3.0.0/16'), at(moved, '10.3.0.0/16'));
});
