/**
 * One verdict per Endpoint on every node (issue 9 item 4), through the planner: what each node plans
 * from the same snapshot, whatever its own interfaces.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planNode, type Plan, type PlanConfig } from '../../src/plan/node-plan.ts';
import type { NodeFacts } from '../../src/model/node-facts.ts';
import type { Snapshot } from '../../src/model/snapshot.ts';
import { cluster, endpoint, gatewayNode, node, shuffled, spec } from './model-fixtures.ts';

const API_SERVER = '192.168.1.1';
const config: PlanConfig = {
  clusterId: 'east', nodeName: 'east-worker', podCidrs: ['10.244.0.0/16'], serviceCidrs: ['10.96.0.0/12'],
  minPrefixLength: 8, maxSubnetsPerEndpoint: 64, maxRemoteSubnets: 10_000, apiServerAddresses: [API_SERVER],
};
const gatewayConfig: PlanConfig = { ...config, nodeName: 'east-gw' };
const worker2Config: PlanConfig = { ...config, nodeName: 'east-worker-2' };

const gatewayFacts: NodeFacts = {
  nodeIp: '192.168.1.10', underlayDevice: 'eth0', underlayMtu: 1500,
  cniInterface: { name: 'cni0', address: '10.244.0.1' }, networks: ['192.168.1.10/24', '198.18.1.1/16'],
};
const workerFacts: NodeFacts = {
  nodeIp: '192.168.1.21', underlayDevice: 'eth0', underlayMtu: 1500,
  cniInterface: { name: 'cni0', address: '10.244.1.1' }, networks: ['192.168.1.21/24'],
};
/** A second worker whose own interfaces differ: a docker0 bridge and a VPN. */
const worker2Facts: NodeFacts = {
  nodeIp: '192.168.1.22', underlayDevice: 'eth0', underlayMtu: 1500,
  cniInterface: { name: 'cni0', address: '10.244.2.1' }, networks: ['192.168.1.22/24', '172.17.0.1/16', '100.100.0.1/24'],
};

const LOCAL = endpoint('east-submariner-cable-east-192-168-1-10', spec({
  cluster_id: 'east', hostname: 'east-gw', private_ip: '192.168.1.10', public_ip: '198.18.1.1', subnets: ['10.244.0.0/16', '10.96.0.0/12'],
}), '2024-01-01T00:00:00Z');
const WEST = endpoint('west-submariner-cable-west-198-18-2-1', spec({
  cluster_id: 'west', hostname: 'west-gw', private_ip: '192.168.2.10', public_ip: '198.18.2.1', subnets: ['10.2.0.0/16', '10.202.0.0/16'],
}), '2024-01-01T00:00:00Z');
const NODES = [gatewayNode('east-gw', '192.168.1.10', ['192.168.1.10', '198.18.1.1', 'east-gw']), node('east-worker', '192.168.1.21'), node('east-worker-2', '192.168.1.22')];

function snapshot(endpoints = [LOCAL, WEST], extra: Partial<Snapshot> = {}): Snapshot {
  return { endpoints, clusters: [cluster('east', '2023-01-01T00:00:00Z'), cluster('west', '2023-02-01T00:00:00Z')], nodes: NODES, ...extra };
}

/** The same snapshot planned on the gateway and on two workers with different interfaces. */
function everyNode(snap: Snapshot, memory: Parameters<typeof planNode>[3] = {}): Plan[] {
  return [
    planNode(snap, gatewayFacts, gatewayConfig, memory),
    planNode(snap, workerFacts, config, memory),
    planNode(snap, worker2Facts, worker2Config, memory),
  ];
}

const verdictOf = (plan: Plan) => ({
  rejected: plan.rejected.map((r) => [r.endpoint.name, r.reason, r.message]),
  duplicates: plan.duplicates,
  remotes: plan.remoteClusters,
  gateway: plan.gatewayNode,
  local: plan.localEndpoint?.name ?? null,
});

test('a spoofed local Endpoint (newer, local cluster_id, no such node, foreign private_ip) changes nothing and is rejected with a reason', () => {
  const spoof = endpoint('east-spoof', spec({ cluster_id: 'east', hostname: 'nobody', private_ip: '203.0.113.66', subnets: ['10.244.0.0/16'] }), '2025-01-01T00:00:00Z');
  const before = everyNode(snapshot());
  const after = everyNode(snapshot([LOCAL, WEST, spoof]));
  for (const [i, plan] of after.entries()) {
    assert.deepEqual(plan.desired, before[i]!.desired, `node ${i}: nothing planned differs`);
    assert.equal(plan.gatewayNode, 'east-gw');
    assert.equal(plan.isGateway, i === 0);
    assert.deepEqual(plan.rejected.map((r) => [r.endpoint.name, r.cluster, r.reason]), [['east-spoof', 'east', 'untrusted-local-endpoint']]);
    assert.match(plan.rejected[0]!.message, /hostname "nobody" names no Node of this cluster/);
    assert.deepEqual(plan.duplicates, [], 'the real Endpoint is no duplicate of a rejected spoof');
  }
  // Workers still send VXLAN to the real gateway, never to the spoof's address.
  assert.equal(after[1]!.desired.links[0]?.remote, '192.168.1.10');
  assert.equal(after[2]!.desired.links[0]?.remote, '192.168.1.10');
});

test('a spoof naming a real worker without the gateway label (with that worker\'s own IP) is rejected too', () => {
  const spoof = endpoint('east-spoof', spec({ cluster_id: 'east', hostname: 'east-worker', private_ip: '192.168.1.21', subnets: [] }), '2025-01-01T00:00:00Z');
  const before = everyNode(snapshot());
  const after = everyNode(snapshot([LOCAL, WEST, spoof]));
  for (const [i, plan] of after.entries()) {
    assert.deepEqual(plan.desired, before[i]!.desired);
    assert.equal(plan.isGateway, i === 0, 'east-worker does not become a gateway');
    assert.deepEqual(plan.rejected.map((r) => r.reason), ['untrusted-local-endpoint']);
    assert.match(plan.rejected[0]!.message, /Node east-worker does not carry the label submariner.io\/gateway=true/);
  }
});

test('with only a spoof left (the real Endpoint deleted), the last trusted gateway stays in use when the pass carries it', () => {
  const spoof = endpoint('east-spoof', spec({ cluster_id: 'east', hostname: 'nobody', private_ip: '203.0.113.66' }), '2025-01-01T00:00:00Z');
  const before = everyNode(snapshot());
  for (const [i, previous] of before.entries()) {
    assert.deepEqual(previous.lastGoodLocal, { endpoint: previous.localEndpoint, node: 'east-gw', privateIp: '192.168.1.10', publisher: 'submariner' });
    const facts = [gatewayFacts, workerFacts, worker2Facts][i]!;
    const cfg = [gatewayConfig, config, worker2Config][i]!;
    for (const endpoints of [[WEST, spoof], [WEST]]) {
      const held = planNode(snapshot(endpoints), facts, cfg, { lastGoodLocal: previous.lastGoodLocal });
      assert.deepEqual(held.desired, previous.desired, `node ${i}, ${endpoints.length} Endpoints: the datapath is kept`);
      assert.deepEqual(held.lastGoodLocal, previous.lastGoodLocal, 'carried on to the next pass');
      assert.equal(held.localHeld, true);
      assert.ok(held.notes.some((n) => n.code === 'local-endpoint-held' && /keeping the last trusted one, submariner-operator\/east-submariner-cable-east-192-168-1-10 \(gateway Node east-gw, 192.168.1.10\)/.test(n.message)));
    }
    // A node that starts with no memory has no gateway to trust: it plans nothing (and says why).
    const fresh = planNode(snapshot([WEST, spoof]), facts, cfg);
    assert.equal(fresh.gatewayNode, null);
    assert.equal(fresh.lastGoodLocal, null);
    assert.equal(fresh.localHeld, false, 'nothing to hold');
    assert.ok(fresh.notes.some((n) => n.code === 'no-local-endpoint' && /east-spoof is rejected \(untrusted-local-endpoint\)/.test(n.message)));
  }
});

test('a trusted local Endpoint in the snapshot wins over the carried one (a real gateway move)', () => {
  const moved = endpoint('east-new', spec({ cluster_id: 'east', hostname: 'east-gw-2', private_ip: '192.168.1.11' }), '2025-01-01T00:00:00Z');
  const nodes = [...NODES, gatewayNode('east-gw-2', '192.168.1.11')];
  const previous = planNode(snapshot(), workerFacts, config);
  const plan = planNode(snapshot([moved, WEST], { nodes }), workerFacts, config, { lastGoodLocal: previous.lastGoodLocal });
  assert.equal(plan.gatewayNode, 'east-gw-2');
  assert.equal(plan.desired.links[0]?.remote, '192.168.1.11');
  assert.equal(plan.lastGoodLocal?.node, 'east-gw-2');
  assert.ok(!plan.notes.some((n) => n.code === 'local-endpoint-held'));
  assert.equal(plan.localHeld, false);
});

test('a remote subnet covering a Node address, an Endpoint IP or the API server is rejected alike on nodes whose interfaces differ', () => {
  const cases: Array<[string, string]> = [
    ['192.168.1.16/28', 'covers-node-address'], // east-worker 192.168.1.21, east-worker-2 .22
    ['198.18.1.0/24', 'covers-node-address'], // the gateway Node's second address (its WAN)
    ['198.18.2.0/24', 'covers-endpoint-address'], // north's subnet over west's public IP
    ['192.168.1.0/30', 'covers-api-server'], // the API server at 192.168.1.1, no Node inside
  ];
  for (const [subnet, reason] of cases) {
    const north = endpoint('north-ep', spec({ cluster_id: 'north', hostname: 'north-gw', private_ip: '192.168.3.10', public_ip: '198.18.3.1', subnets: ['10.3.0.0/16', subnet] }), '2024-06-01T00:00:00Z');
    const plans = everyNode(snapshot([LOCAL, WEST, north], { clusters: [cluster('west', '2023-01-01T00:00:00Z'), cluster('north', '2024-01-01T00:00:00Z')] }));
    for (const plan of plans) {
      assert.deepEqual(plan.rejected.map((r) => [r.endpoint.name, r.reason]), [['north-ep', reason]], `${subnet} on ${plan.isGateway ? 'gateway' : 'worker'}`);
      assert.ok(!plan.desired.routes.some((r) => r.dst === '10.3.0.0/16' || r.dst === subnet), 'no route for any of its subnets');
      assert.ok(!plan.desired.filter!.remoteCidrs.includes('10.3.0.0/16'));
    }
    assert.deepEqual(plans.map(verdictOf), [verdictOf(plans[0]!), verdictOf(plans[0]!), verdictOf(plans[0]!)], `${subnet}: one verdict`);
  }
});

test('a subnet that collides only with one node\'s own interfaces: accepted everywhere, refused on that node alone, visibly', () => {
  const north = endpoint('north-ep', spec({ cluster_id: 'north', hostname: 'north-gw', private_ip: '192.168.3.10', public_ip: '198.18.3.1', subnets: ['10.3.0.0/16', '172.17.0.0/16', '100.100.0.0/16'] }));
  const [gw, w1, w2] = everyNode(snapshot([LOCAL, WEST, north]));
  for (const plan of [gw!, w1!, w2!]) {
    assert.deepEqual(plan.rejected, []);
    assert.deepEqual(plan.remoteClusters.map((r) => [r.clusterId, r.subnets]), [['north', ['10.3.0.0/16', '172.17.0.0/16', '100.100.0.0/16']], ['west', ['10.2.0.0/16', '10.202.0.0/16']]]);
  }
  assert.deepEqual(verdictOf(w1!), verdictOf(w2!));
  assert.deepEqual(w1!.desired.routes.map((r) => r.dst), ['10.2.0.0/16', '10.3.0.0/16', '10.202.0.0/16', '100.100.0.0/16', '172.17.0.0/16']);
  assert.deepEqual(w1!.refusedHere, []);
  assert.deepEqual(w2!.desired.routes.map((r) => r.dst), ['10.2.0.0/16', '10.3.0.0/16', '10.202.0.0/16']);
  assert.deepEqual(w2!.desired.filter?.remoteCidrs, ['10.2.0.0/16', '10.3.0.0/16', '10.202.0.0/16']);
  assert.deepEqual(w2!.refusedHere.map((r) => [r.clusterId, r.subnet, r.reason]), [
    ['north', '100.100.0.0/16', 'overlaps-node-network'], ['north', '172.17.0.0/16', 'overlaps-node-network'],
  ]);
  assert.match(w2!.refusedHere[1]!.message, /overlaps this node's network 172.17.0.0\/16; not routed on this node/);
});

test('subnets retained from earlier passes (fail-static grace) are still refused where this node\'s own networks hold them', () => {
  const plan = planNode(snapshot([LOCAL]), worker2Facts, worker2Config, { retainedSubnets: ['10.3.0.0/16', '172.17.0.0/16', '100.100.0.0/24'] });
  assert.deepEqual(plan.desired.routes.map((r) => r.dst), ['10.3.0.0/16']);
  assert.deepEqual(planNode(snapshot([LOCAL]), workerFacts, config, { retainedSubnets: ['10.3.0.0/16', '172.17.0.0/16'] }).desired.routes.map((r) => r.dst), ['10.3.0.0/16', '172.17.0.0/16']);
});

test('a dual-stack Endpoint programs its IPv4 subnets; its IPv6 subnets and addresses are skipped with a note, never a rejection', () => {
  const dual = endpoint('north-ep', spec({
    cluster_id: 'north', hostname: 'north-gw', private_ip: '192.168.3.10', privateIPs: ['192.168.3.10', 'fd00:3::10'],
    public_ip: 'fd00:3::1', publicIPs: ['fd00:3::1', '198.18.3.1'], healthCheckIP: 'fd00:3::2', healthCheckIPs: ['10.3.0.1', 'fd00:3::2'],
    subnets: ['10.3.0.0/16', 'fd00:3::/64', '10.33.0.0/16', 'fd00:33::/112'],
  }));
  for (const plan of everyNode(snapshot([LOCAL, WEST, dual]))) {
    assert.deepEqual(plan.rejected, []);
    const dsts = plan.desired.routes.map((r) => r.dst);
    assert.ok(dsts.includes('10.3.0.0/16') && dsts.includes('10.33.0.0/16'), dsts.join());
    assert.ok(!dsts.some((d) => d.includes(':')));
    assert.deepEqual(plan.notes.filter((n) => n.code === 'ipv6-subnet-skipped').map((n) => n.message), [
      'Endpoint submariner-operator/north-ep: spec.subnets[1]: fd00:3::/64 is IPv6; only the IPv4 subnets are routed',
      'Endpoint submariner-operator/north-ep: spec.subnets[3]: fd00:33::/112 is IPv6; only the IPv4 subnets are routed',
    ]);
  }
});

test('Globalnet\'s 242.0.0.0/8 is accepted and routed; 240.0.0.0/8 (the VTEPs) is not', () => {
  const globalnet = endpoint('north-ep', spec({ cluster_id: 'north', hostname: 'north-gw', private_ip: '192.168.3.10', public_ip: '198.18.3.1', subnets: ['242.0.0.0/8'] }));
  const [gw, w1] = everyNode(snapshot([LOCAL, WEST, globalnet]));
  assert.ok(w1!.desired.routes.some((r) => r.dst === '242.0.0.0/8' && r.gateway === '240.168.1.10'));
  assert.ok(gw!.desired.routes.some((r) => r.dst === '242.0.0.0/8'));
  const vtep = endpoint('north-ep', spec({ cluster_id: 'north', private_ip: '192.168.3.10', public_ip: '198.18.3.1', subnets: ['240.0.0.0/8'] }));
  assert.deepEqual(planNode(snapshot([LOCAL, WEST, vtep]), workerFacts, config).rejected.map((r) => r.reason), ['reserved-range']);
});

test('the overlap owner stays the owner across its own failover (Endpoint deleted and recreated with a new name and cable)', () => {
  const clusters = [
    cluster('east', '2023-01-01T00:00:00Z'),
    cluster('west', '2023-02-01T00:00:00Z', { cluster_id: 'west', cluster_cidr: ['10.2.0.0/16'], service_cidr: ['10.202.0.0/16'] }),
    cluster('north', '2024-01-01T00:00:00Z'),
  ];
  const squatter = endpoint('north-submariner-cable-north-198-18-3-1', spec({ cluster_id: 'north', hostname: 'north-gw', private_ip: '192.168.3.10', public_ip: '198.18.3.1', subnets: ['10.2.0.0/16', '10.3.0.0/16'] }), '2024-06-01T00:00:00Z');
  const westAfter = endpoint('west-submariner-cable-west-198-18-2-2', spec({ cluster_id: 'west', hostname: 'west-gw-2', private_ip: '192.168.2.11', public_ip: '198.18.2.2', subnets: ['10.2.0.0/16', '10.202.0.0/16'] }), '2025-06-01T00:00:00Z');
  const routedBy = (plan: Plan) => plan.remoteClusters.map((r) => r.clusterId);
  for (const [label, endpoints] of [['before', [LOCAL, WEST, squatter]], ['during', [LOCAL, squatter]], ['after', [LOCAL, westAfter, squatter]]] as const) {
    for (let seed = 0; seed < 5; seed++) {
      const plans = everyNode(snapshot(shuffled(endpoints, seed), { clusters: shuffled(clusters, seed) }));
      for (const plan of plans) {
        // In the gap west's Cluster object holds its CIDRs: the squatter is never accepted, not even for a moment.
        assert.deepEqual(routedBy(plan), label === 'during' ? [] : ['west'], `${label}`);
        assert.ok(!plan.desired.routes.some((r) => r.dst === '10.3.0.0/16'), `${label}: the squatter's other subnet is never routed`);
        assert.deepEqual(plan.rejected.map((r) => [r.endpoint.name, r.reason]), [[squatter.name, 'overlaps-other-endpoint']]);
        assert.match(plan.rejected[0]!.message, /cluster "west" joined first/);
      }
    }
  }
});

test('VTEP collisions are noted the same on every node, naming both nodes', () => {
  const nodes = [...NODES, node('east-odd', '10.168.1.21')];
  for (const plan of everyNode(snapshot(undefined, { nodes }))) {
    const collisions = plan.notes.filter((n) => n.code === 'vtep-collision');
    assert.equal(collisions.length, 1);
    assert.match(collisions[0]!.message, /^Nodes east-odd \(10.168.1.21\), east-worker \(192.168.1.21\) share the VTEP address 240.168.1.21 /);
  }
});

test('the budget of remote subnets applies through the planner, the same on every node', () => {
  const clusters = [cluster('west', '2023-01-01T00:00:00Z'), cluster('north', '2024-01-01T00:00:00Z')];
  const north = endpoint('north-ep', spec({ cluster_id: 'north', hostname: 'north-gw', private_ip: '192.168.3.10', public_ip: '198.18.3.1', subnets: ['10.3.0.0/16'] }));
  const snap = snapshot([LOCAL, WEST, north], { clusters });
  for (const [facts, cfg] of [[gatewayFacts, gatewayConfig], [workerFacts, config], [worker2Facts, worker2Config]] as const) {
    const tight = planNode(snap, facts, { ...cfg, maxRemoteSubnets: 2 });
    assert.deepEqual(tight.remoteClusters.map((r) => r.clusterId), ['west']);
    assert.deepEqual(tight.rejected.map((r) => [r.endpoint.name, r.reason]), [['north-ep', 'over-subnet-budget']]);
    assert.deepEqual(planNode(snap, facts, { ...cfg, maxRemoteSubnets: 3 }).rejected, []);
  }
});

test('the verdict is independent of input order and of the node: shuffled snapshots on every node', () => {
  const endpoints = [LOCAL, WEST];
  for (let i = 0; i < 40; i++) {
    endpoints.push(endpoint(`c${i}`, spec({ cluster_id: `c${i}`, hostname: `c${i}-gw`, private_ip: `192.168.100.${i}`, public_ip: `198.19.0.${i}`, subnets: [`11.${i}.0.0/16`, `12.${i % 5}.0.0/16`] }), `2024-01-0${1 + (i % 9)}T00:00:00Z`));
  }
  endpoints.push(endpoint('spoof', spec({ cluster_id: 'east', hostname: 'nobody', private_ip: '203.0.113.66' }), '2026-01-01T00:00:00Z'));
  endpoints.push(endpoint('node-cover', spec({ cluster_id: 'cover', private_ip: '192.168.200.1', public_ip: '198.19.1.1', subnets: ['192.168.1.0/24'] })));
  const clusters = Array.from({ length: 40 }, (_, i) => cluster(`c${i}`, `2023-0${1 + (i % 9)}-01T00:00:00Z`));
  const reference = verdictOf(planNode({ endpoints, clusters, nodes: NODES }, workerFacts, config));
  assert.equal(reference.rejected.length, 35 + 2, '35 overlaps, the spoof and the node cover');
  for (let seed = 1; seed <= 5; seed++) {
    const snap = { endpoints: shuffled(endpoints, seed), clusters: shuffled(clusters, seed), nodes: shuffled(NODES, seed) };
    for (const plan of everyNode(snap)) assert.deepEqual(verdictOf(plan), reference);
  }
});
