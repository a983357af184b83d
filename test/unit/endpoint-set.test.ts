import { test } from 'node:test';
import assert from 'node:assert/strict';
import { endpointValidationContext } from '../../src/model/endpoint.ts';
import { buildEndpointSet, groupByCluster, newPlanMemo, type EndpointSetContext, type EndpointSetInput, type PlanMemo } from '../../src/model/endpoint-set.ts';
import type { EndpointObject } from '../../src/model/snapshot.ts';
import { cluster, endpoint, gatewayNode, node, shuffled, spec } from './model-fixtures.ts';

const ctx: EndpointSetContext = {
  ...endpointValidationContext({ localClusterId: 'east', podCidrs: ['10.244.0.0/16'], serviceCidrs: ['10.96.0.0/12'], minPrefixLength: 8, maxSubnets: 64 }),
  apiServerAddresses: ['172.30.0.1'],
  maxRemoteSubnets: 10_000,
};

const NODES = [gatewayNode('east-gw', '192.168.1.10'), node('east-worker', '192.168.1.21'), node('east-worker-2', '192.168.1.22')];
const LOCAL = endpoint('east', spec({ cluster_id: 'east', hostname: 'east-gw', private_ip: '192.168.1.10', public_ip: '198.51.100.10', subnets: ['10.244.0.0/16'] }), '2024-01-01T00:00:00Z');

function build(endpoints: EndpointObject[], extra: Partial<EndpointSetInput> = {}, context: EndpointSetContext = ctx) {
  return buildEndpointSet({ endpoints, clusters: [], nodes: NODES, ...extra }, context);
}

const verdicts = (set: ReturnType<typeof build>) => ({
  local: set.local?.object.name ?? null,
  remotes: set.remotes.map((r) => r.spec.clusterId),
  rejected: set.rejected.map((r) => [r.endpoint.name, r.reason]),
});

test('grouping: Endpoints per cluster id, oldest first; unreadable cluster ids are rejected as malformed', () => {
  const old = endpoint('west-old', spec(), '2024-01-01T00:00:00Z');
  const newer = endpoint('west-new', spec(), '2024-02-01T00:00:00Z');
  const grouping = groupByCluster([newer, endpoint('broken', null), old, endpoint('no-id', { subnets: [] })]);
  assert.deepEqual([...grouping.byCluster.entries()].map(([id, group]) => [id, group.map((e) => e.name)]), [['west', ['west-old', 'west-new']]]);
  assert.deepEqual(grouping.unreadable.map((r) => [r.endpoint.name, r.reason]), [['broken', 'malformed'], ['no-id', 'malformed']]);
});

test('newest remote Endpoint per cluster wins; the older ones are reported as duplicates naming the winner', () => {
  const old = endpoint('west-old', spec(), '2024-01-01T00:00:00Z');
  const newer = endpoint('west-new', spec({ subnets: ['10.12.0.0/16'] }), '2024-02-01T00:00:00Z');
  const set = build([LOCAL, newer, old]);
  assert.deepEqual(set.remotes.map((r) => [r.object.name, r.spec.subnets]), [['west-new', ['10.12.0.0/16']]]);
  assert.deepEqual(set.duplicates, [{
    endpoint: { name: 'west-old', namespace: old.namespace, uid: old.uid, resourceVersion: old.resourceVersion }, cluster: 'west',
    winner: { name: 'west-new', namespace: newer.namespace, uid: newer.uid, resourceVersion: newer.resourceVersion },
  }]);
});

test('identical timestamps are broken by name, the same way whatever the input order; an unreadable timestamp counts as oldest', () => {
  const a = endpoint('west-a', spec(), '2024-01-01T00:00:00Z');
  const b = endpoint('west-b', spec(), '2024-01-01T00:00:00Z');
  const c = endpoint('west-c', spec(), '2024-01-01T00:00:00Z');
  for (let seed = 0; seed < 20; seed++) {
    const set = build(shuffled([a, b, c, LOCAL], seed));
    assert.equal(set.remotes[0]?.object.name, 'west-c');
    assert.deepEqual(set.duplicates.map((d) => d.endpoint.name), ['west-a', 'west-b']);
  }
  const good = endpoint('west-good', spec(), '2020-01-01T00:00:00Z');
  const bad = endpoint('west-zzz', spec(), 'yesterday');
  assert.equal(build([bad, good]).remotes[0]?.object.name, 'west-good');
});

test('one bad Endpoint does not affect the others', () => {
  const set = build([
    LOCAL,
    endpoint('west', spec()),
    endpoint('north', spec({ cluster_id: 'north', subnets: ['0.0.0.0/0'] })),
    endpoint('south', spec({ cluster_id: 'south', subnets: ['10.30.0.0/16'], private_ip: '192.168.3.10', public_ip: '203.0.113.30' })),
    endpoint('garbage', 'not an object'),
    endpoint('ipv6', spec({ cluster_id: 'six', private_ip: 'fd00::1' })),
  ]);
  assert.deepEqual(verdicts(set), {
    local: 'east',
    remotes: ['south', 'west'],
    rejected: [['garbage', 'malformed'], ['ipv6', 'ipv6-unsupported'], ['north', 'default-route']],
  });
  assert.deepEqual(set.rejected.map((r) => r.cluster), [undefined, 'six', 'north']);
});

test('the newest remote Endpoint of a cluster is judged even when invalid: no fallback to a superseded one', () => {
  const set = build([
    LOCAL,
    endpoint('west-old', spec(), '2024-01-01T00:00:00Z'),
    endpoint('west-new', spec({ subnets: ['10.2.0.0/33'] }), '2024-02-01T00:00:00Z'),
  ]);
  assert.deepEqual(set.remotes, []);
  assert.deepEqual(set.rejected.map((r) => [r.endpoint.name, r.reason]), [['west-new', 'invalid-cidr']]);
  assert.deepEqual(set.duplicates.map((d) => [d.endpoint.name, d.winner.name]), [['west-old', 'west-new']]);
});

test('local Endpoint: trusted only when its hostname names a gateway-labelled Node holding its private IP', () => {
  assert.equal(build([LOCAL]).local?.node, 'east-gw');
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ hostname: 'nobody', private_ip: '203.0.113.66' }, /hostname "nobody" names no Node of this cluster/],
    [{ hostname: 'east-worker', private_ip: '192.168.1.21' }, /Node east-worker does not carry the label submariner.io\/gateway=true/],
    [{ hostname: 'east-gw', private_ip: '203.0.113.66' }, /private IP 203.0.113.66 is not an address of Node east-gw \(its addresses: 192.168.1.10\)/],
    [{ hostname: 'east-gw', private_ip: '192.168.1.21' }, /private IP 192.168.1.21 is not an address of Node east-gw/],
  ];
  for (const [overrides, message] of cases) {
    const spoof = endpoint('spoof', spec({ cluster_id: 'east', subnets: [], ...overrides }), '2025-01-01T00:00:00Z');
    // Alone: no local Endpoint at all. Beside the real one (older): the real one stays.
    const alone = build([spoof]);
    assert.equal(alone.local, null, JSON.stringify(overrides));
    assert.deepEqual(alone.rejected.map((r) => [r.endpoint.name, r.cluster, r.reason]), [['spoof', 'east', 'untrusted-local-endpoint']]);
    assert.match(alone.rejected[0]?.message ?? '', message);
    assert.match(alone.rejected[0]?.message ?? '', /; it is ignored and the gateway stays the one last trusted$/);
    const beside = build([LOCAL, spoof]);
    assert.equal(beside.local?.object.name, 'east', JSON.stringify(overrides));
    assert.deepEqual(beside.rejected.map((r) => [r.endpoint.name, r.reason]), [['spoof', 'untrusted-local-endpoint']]);
    assert.deepEqual(beside.duplicates, [], 'a rejected spoof makes the real Endpoint no duplicate');
  }
});

test('local Endpoint: os.Hostname() that is no Node name is matched through the Node\'s Hostname address; a label other than "true" is no gateway', () => {
  const nodes = [gatewayNode('ip-10-0-1-5.ec2.internal', '10.0.1.5', ['10.0.1.5', 'gw-host']), node('w', '10.0.1.6')];
  const byHostname = endpoint('east', spec({ cluster_id: 'east', hostname: 'gw-host', private_ip: '10.0.1.5' }));
  assert.equal(build([byHostname], { nodes }).local?.node, 'ip-10-0-1-5.ec2.internal');
  const falseLabel = [node('east-gw', '192.168.1.10', {}, { labels: { 'submariner.io/gateway': 'false' } })];
  assert.equal(build([LOCAL], { nodes: falseLabel }).rejected[0]?.reason, 'untrusted-local-endpoint');
  // The private IP may be any of the Node's addresses (an ExternalIP or a second InternalIP too).
  const multi = [gatewayNode('east-gw', '192.168.1.10', ['192.168.1.10', '10.9.0.10'])];
  assert.equal(build([endpoint('east', spec({ cluster_id: 'east', hostname: 'east-gw', private_ip: '10.9.0.10' }))], { nodes: multi }).local?.spec.privateIp, '10.9.0.10');
});

test('local Endpoint: the newest trusted one is used; newer untrusted ones are rejected, older ones are duplicates', () => {
  const older = endpoint('east-older', spec({ cluster_id: 'east', hostname: 'east-gw', private_ip: '192.168.1.10' }), '2023-01-01T00:00:00Z');
  const spoof = endpoint('east-spoof', spec({ cluster_id: 'east', hostname: 'nobody', private_ip: '203.0.113.66' }), '2025-01-01T00:00:00Z');
  const broken = endpoint('east-broken', spec({ cluster_id: 'east', hostname: '' }), '2025-02-01T00:00:00Z');
  for (let seed = 0; seed < 10; seed++) {
    const set = build(shuffled([older, LOCAL, spoof, broken], seed));
    assert.equal(set.local?.object.name, 'east');
    assert.deepEqual(set.rejected.map((r) => [r.endpoint.name, r.reason]), [['east-broken', 'malformed'], ['east-spoof', 'untrusted-local-endpoint']]);
    assert.deepEqual(set.duplicates.map((d) => [d.endpoint.name, d.winner.name]), [['east-older', 'east']]);
  }
  const none = build([spoof, broken]);
  assert.equal(none.local, null);
  assert.deepEqual(none.rejected.map((r) => r.endpoint.name), ['east-broken', 'east-spoof']);
});

test('remote subnets covering a Node address, the API server or the local Endpoint\'s addresses are rejected; neighbours are not', () => {
  const nodes = [...NODES, node('east-multi', '192.168.1.30', {}, { addresses: ['192.168.1.30', '100.64.7.7', 'fd00::30', 'east-multi'] })];
  const cases: Array<[string, string, RegExp]> = [
    ['192.168.1.0/24', 'covers-node-address', /subnet 192.168.1.0\/24 contains 192.168.1.10, an address of Node east-gw/],
    ['192.168.1.16/28', 'covers-node-address', /subnet 192.168.1.16\/28 contains 192.168.1.21, an address of Node east-worker/],
    ['100.64.0.0/16', 'covers-node-address', /contains 100.64.7.7, an address of Node east-multi/],
    ['172.30.0.0/16', 'covers-api-server', /contains 172.30.0.1, the API server address/],
    ['198.51.100.0/24', 'covers-endpoint-address', /contains 198.51.100.10, the public IP of the local Endpoint submariner-operator\/east/],
    ['192.168.1.21/32', 'covers-node-address', /contains 192.168.1.21/],
  ];
  for (const [subnet, reason, message] of cases) {
    const set = build([LOCAL, endpoint('west', spec({ subnets: ['10.2.0.0/16', subnet] }))], { nodes });
    assert.deepEqual(set.rejected.map((r) => [r.endpoint.name, r.reason]), [['west', reason]], subnet);
    assert.match(set.rejected[0]?.message ?? '', message, subnet);
    assert.deepEqual(set.remotes, []);
  }
  for (const subnet of ['192.168.1.32/27', '172.30.0.2/31', '198.51.101.0/24', '100.65.0.0/16']) {
    assert.deepEqual(build([LOCAL, endpoint('west', spec({ subnets: [subnet] }))], { nodes }).rejected, [], subnet);
  }
});

test('a remote subnet covering the Endpoint\'s own private or public IP is rejected (tunnel packets would enter the tunnel)', () => {
  const own = build([LOCAL, endpoint('west', spec({ subnets: ['203.0.113.0/24'], public_ip: '203.0.113.10' }))]);
  assert.deepEqual(own.rejected.map((r) => r.reason), ['covers-endpoint-address']);
  assert.match(own.rejected[0]?.message ?? '', /subnet 203.0.113.0\/24 contains the Endpoint's own public IP 203.0.113.10/);
  const plural = build([LOCAL, endpoint('west', spec({ subnets: ['10.50.0.0/16'], private_ip: '192.168.5.10', privateIPs: ['10.50.0.9'] }))]);
  assert.match(plural.rejected[0]?.message ?? '', /own private IP 10.50.0.9/);
  const publicPlural = build([LOCAL, endpoint('west', spec({ subnets: ['10.51.0.0/16'], publicIPs: ['fd00::1', '10.51.1.1'] }))]);
  assert.equal(publicPlural.rejected[0]?.reason, 'covers-endpoint-address');
});

test('overlap precedence goes by the Cluster object\'s age and survives the owner\'s failover (new Endpoint, new name, newer)', () => {
  const clusters = [cluster('west', '2023-01-01T00:00:00Z'), cluster('north', '2024-01-01T00:00:00Z')];
  const west = endpoint('west-cable-a', spec({ subnets: ['10.2.0.0/16'] }), '2024-01-01T00:00:00Z');
  const squatter = endpoint('north-cable', spec({ cluster_id: 'north', subnets: ['10.5.0.0/16', '10.2.128.0/17'], private_ip: '192.168.3.10', public_ip: '203.0.113.30' }), '2024-03-01T00:00:00Z');
  const unrelated = endpoint('south', spec({ cluster_id: 'south', subnets: ['10.3.0.0/16'], private_ip: '192.168.4.10', public_ip: '203.0.113.40' }), '2024-04-01T00:00:00Z');
  // Failover as Submariner does it: the owner's Endpoint is deleted and a new one (new cable name) created, now the newest.
  const westAfterFailover = endpoint('west-cable-b', spec({ subnets: ['10.2.0.0/16'], cable_name: 'submariner-cable-west-192-168-1-11', private_ip: '192.168.1.11' }), '2025-06-01T00:00:00Z');
  for (const westNow of [west, westAfterFailover]) {
    for (let seed = 0; seed < 10; seed++) {
      const set = build(shuffled([LOCAL, squatter, unrelated, westNow], seed), { clusters: shuffled(clusters, seed) });
      assert.deepEqual(verdicts(set), { local: 'east', remotes: ['south', 'west'], rejected: [['north-cable', 'overlaps-other-endpoint']] }, westNow.name);
      assert.match(set.rejected[0]?.message ?? '', /subnet 10.2.128.0\/17 overlaps 10.2.0.0\/16 of cluster "west" \(Endpoint submariner-operator\/west-cable-.\), which keeps its routes: cluster "west" joined first/);
    }
  }
});

test('without Cluster objects: a cluster that has one goes first; among clusters without, the cluster id decides (stable across failover)', () => {
  const alpha = endpoint('alpha-new', spec({ cluster_id: 'alpha', subnets: ['10.7.0.0/16'], private_ip: '192.168.7.1', public_ip: '203.0.113.71' }), '2025-01-01T00:00:00Z');
  const zulu = endpoint('zulu-old', spec({ cluster_id: 'zulu', subnets: ['10.7.0.0/16'], private_ip: '192.168.8.1', public_ip: '203.0.113.81' }), '2020-01-01T00:00:00Z');
  const neither = build([LOCAL, zulu, alpha]);
  assert.deepEqual(verdicts(neither).rejected, [['zulu-old', 'overlaps-other-endpoint']]);
  assert.match(neither.rejected[0]?.message ?? '', /neither has a Cluster object, so the cluster id decides \("alpha" before "zulu"\)/);
  const zuluJoined = build([LOCAL, zulu, alpha], { clusters: [cluster('zulu', '2024-01-01T00:00:00Z')] });
  assert.deepEqual(verdicts(zuluJoined).rejected, [['alpha-new', 'overlaps-other-endpoint']]);
  assert.match(zuluJoined.rejected[0]?.message ?? '', /cluster "zulu" has a Cluster object \(created 2024-01-01T00:00:00Z\) and "alpha" has none/);
});

test('an Endpoint address inside another cluster\'s subnet: the cluster without precedence is rejected, whichever side the address is on', () => {
  const clusters = [cluster('west', '2023-01-01T00:00:00Z'), cluster('north', '2024-01-01T00:00:00Z')];
  // The newcomer's subnet covers the established cluster's public IP.
  const west = endpoint('west', spec({ subnets: ['10.2.0.0/16'], public_ip: '100.70.0.10' }));
  const covering = endpoint('north', spec({ cluster_id: 'north', subnets: ['100.70.0.0/16'], private_ip: '192.168.3.10', public_ip: '203.0.113.30' }));
  const a = build([LOCAL, west, covering], { clusters });
  assert.deepEqual(verdicts(a).rejected, [['north', 'covers-endpoint-address']]);
  assert.match(a.rejected[0]?.message ?? '', /subnet 100.70.0.0\/16 contains 100.70.0.10, the public IP of cluster "west"/);
  // The newcomer names an address inside the established cluster's subnet: it cannot get that cluster rejected.
  const inside = endpoint('north', spec({ cluster_id: 'north', subnets: ['10.30.0.0/16'], private_ip: '10.2.5.5', public_ip: '203.0.113.30' }));
  const b = build([LOCAL, west, inside], { clusters });
  assert.deepEqual(verdicts(b), { local: 'east', remotes: ['west'], rejected: [['north', 'overlaps-other-endpoint']] });
  assert.match(b.rejected[0]?.message ?? '', /its private IP 10.2.5.5 lies in subnet 10.2.0.0\/16 of cluster "west"/);
});

test('gateways that share their own addresses (clusters made from one template) are all kept; a subnet holding that address still loses to them', () => {
  const shared = { private_ip: '172.31.0.1', public_ip: '198.51.100.1' };
  const remotes = ['a', 'b', 'c'].map((id, n) => endpoint(id, spec({ cluster_id: id, subnets: [`10.${n + 1}.0.0/16`], ...shared })));
  assert.deepEqual(verdicts(build([LOCAL, ...remotes])), { local: 'east', remotes: ['a', 'b', 'c'], rejected: [] });
  const clusters = ['a', 'b', 'c', 'd'].map((id, n) => cluster(id, `2024-01-0${n + 1}T00:00:00Z`));
  const covering = endpoint('d', spec({ cluster_id: 'd', subnets: ['172.31.0.0/24'], private_ip: '192.168.9.4', public_ip: '203.0.113.4' }));
  const set = build([LOCAL, ...remotes, covering], { clusters });
  assert.deepEqual(verdicts(set), { local: 'east', remotes: ['a', 'b', 'c'], rejected: [['d', 'covers-endpoint-address']] });
  assert.match(set.rejected[0]?.message ?? '', /contains 172.31.0.1, the private IP of cluster "a"/);
});

test('overlap resolution is greedy by precedence: a cluster that only clashes with a rejected one is kept', () => {
  const clusters = [cluster('a', '2024-01-01T00:00:00Z'), cluster('b', '2024-01-02T00:00:00Z'), cluster('c', '2024-01-03T00:00:00Z')];
  const ip = (n: number) => ({ private_ip: `192.168.9.${n}`, public_ip: `203.0.113.${n}` });
  const a = endpoint('a', spec({ cluster_id: 'a', subnets: ['10.1.0.0/16'], ...ip(1) }));
  const b = endpoint('b', spec({ cluster_id: 'b', subnets: ['10.1.0.0/24', '10.2.0.0/24'], ...ip(2) }));
  const c = endpoint('c', spec({ cluster_id: 'c', subnets: ['10.2.0.0/16'], ...ip(3) }));
  const set = build([LOCAL, c, b, a], { clusters });
  assert.deepEqual(verdicts(set), { local: 'east', remotes: ['a', 'c'], rejected: [['b', 'overlaps-other-endpoint']] });
});

test('a wide subnet over many narrower ones of other clusters is rejected, naming the first one it overlaps', () => {
  const narrow = Array.from({ length: 200 }, (_, i) => endpoint(`n${i}`, spec({ cluster_id: `n${i}`, subnets: [`11.${i}.0.0/16`], private_ip: `192.168.20.${i}`, public_ip: `198.18.0.${i}` })));
  const wide = endpoint('wide', spec({ cluster_id: 'wide', subnets: ['11.0.0.0/8'], private_ip: '192.168.21.1', public_ip: '198.18.1.1' }));
  const clusters = [...narrow.map((n) => cluster(n.name, '2024-01-01T00:00:00Z')), cluster('wide', '2024-06-01T00:00:00Z')];
  const set = build([LOCAL, wide, ...narrow], { clusters });
  assert.equal(set.remotes.length, 200);
  assert.deepEqual(set.rejected.map((r) => r.endpoint.name), ['wide']);
  assert.match(set.rejected[0]?.message ?? '', /11.0.0.0\/8 overlaps 11.0.0.0\/16 of cluster "n0"/);
});

test('the budget of remote subnets: whole Endpoints past it are rejected in precedence order; rejected ones use none of it', () => {
  const clusters = ['a', 'b', 'c', 'd'].map((id, i) => cluster(id, `2024-01-0${i + 1}T00:00:00Z`));
  const ep = (id: string, subnets: string[], n: number) => endpoint(id, spec({ cluster_id: id, subnets, private_ip: `192.168.9.${n}`, public_ip: `203.0.113.${n}` }));
  const endpoints = [
    LOCAL,
    ep('a', ['10.1.0.0/16', '10.2.0.0/16'], 1),
    ep('b', ['10.1.0.0/24', '10.3.0.0/16', '10.4.0.0/16'], 2), // overlaps a: rejected, uses no budget
    ep('c', ['10.5.0.0/16', '10.6.0.0/16'], 3),
    ep('d', ['10.7.0.0/16'], 4),
  ];
  const budget = (max: number) => build(endpoints, { clusters }, { ...ctx, maxRemoteSubnets: max });
  assert.deepEqual(verdicts(budget(4)).remotes, ['a', 'c']);
  assert.deepEqual(verdicts(budget(4)).rejected, [['b', 'overlaps-other-endpoint'], ['d', 'over-subnet-budget']]);
  assert.match(budget(4).rejected[1]?.message ?? '', /its 1 subnets would take the remote subnets past the budget of 4 \(--max-remote-subnets\); 4 are taken by clusters with precedence/);
  assert.deepEqual(verdicts(budget(5)).remotes, ['a', 'c', 'd'], 'an exact fit is accepted');
  // A later, smaller Endpoint still fits after a larger one was turned away.
  assert.deepEqual(verdicts(budget(3)).remotes, ['a', 'd']);
  assert.deepEqual(verdicts(budget(1)).remotes, ['d']);
  for (let seed = 0; seed < 10; seed++) {
    assert.deepEqual(verdicts(build(shuffled(endpoints, seed), { clusters: shuffled(clusters, seed) }, { ...ctx, maxRemoteSubnets: 4 })), verdicts(budget(4)));
  }
});

test('many clusters claiming one range: exactly the one with precedence keeps it', () => {
  const endpoints = [LOCAL];
  for (let i = 0; i < 2000; i++) {
    endpoints.push(endpoint(`c${i}`, spec({ cluster_id: `c${String(i).padStart(4, '0')}`, subnets: ['100.64.0.0/10'], private_ip: `192.168.${100 + (i >> 8)}.${i & 255}`, public_ip: '203.0.113.9' })));
  }
  const set = build(endpoints);
  assert.deepEqual(set.remotes.map((r) => r.spec.clusterId), ['c0000']);
  assert.equal(set.rejected.length, 1999);
  assert.ok(set.rejected.every((r) => r.reason === 'overlaps-other-endpoint'));
});

test('the verdict depends on the snapshot only: shuffled inputs give the same set', () => {
  const endpoints = [LOCAL];
  for (let i = 0; i < 50; i++) endpoints.push(endpoint(`c${i}`, spec({ cluster_id: `c${i}`, subnets: [`11.${i}.0.0/16`, `12.${i % 7}.0.0/16`], private_ip: `192.168.50.${i}`, public_ip: `198.19.0.${i}` }), `2024-01-0${1 + (i % 9)}T00:00:00Z`));
  const clusters = Array.from({ length: 50 }, (_, i) => cluster(`c${i}`, `2023-0${1 + (i % 9)}-01T00:00:00Z`));
  const nodes = [...NODES, ...Array.from({ length: 30 }, (_, i) => node(`n${i}`, `192.168.2.${i + 1}`))];
  const reference = buildEndpointSet({ endpoints, clusters, nodes }, ctx);
  // c0-c6 own 12.0-12.6.0.0/16 by precedence; the 43 others each overlap one of them.
  assert.deepEqual([reference.remotes.length, reference.rejected.length], [7, 43]);
  for (let seed = 1; seed <= 10; seed++) {
    assert.deepEqual(buildEndpointSet({ endpoints: shuffled(endpoints, seed), clusters: shuffled(clusters, seed + 1), nodes: shuffled(nodes, seed + 2) }, ctx), reference);
  }
});

test('while a cluster has no Endpoint (its gateway failing over), its Cluster object holds its CIDRs against newcomers', () => {
  const clusters = [
    cluster('west', '2023-01-01T00:00:00Z', { cluster_id: 'west', cluster_cidr: ['10.2.0.0/16'], service_cidr: ['10.202.0.0/16'] }),
    cluster('north', '2024-01-01T00:00:00Z', { cluster_id: 'north', cluster_cidr: ['10.3.0.0/16'] }),
  ];
  const squatter = endpoint('north', spec({ cluster_id: 'north', subnets: ['10.3.0.0/16', '10.2.128.0/17'], private_ip: '192.168.3.10', public_ip: '203.0.113.30' }));
  const gap = build([LOCAL, squatter], { clusters });
  assert.deepEqual(verdicts(gap), { local: 'east', remotes: [], rejected: [['north', 'overlaps-other-endpoint']] });
  assert.match(gap.rejected[0]?.message ?? '', /overlaps 10.2.0.0\/16 of cluster "west" \(no Endpoint now; its Cluster object submariner-operator\/west holds its CIDRs\), which keeps its routes: cluster "west" joined first/);
  // A newer cluster's Cluster object reserves nothing against an older one, and reservations use no budget.
  const older = endpoint('south', spec({ cluster_id: 'south', subnets: ['10.3.0.0/16'], private_ip: '192.168.4.10', public_ip: '203.0.113.40' }));
  const kept = build([LOCAL, older], { clusters: [...clusters, cluster('south', '2022-01-01T00:00:00Z')] }, { ...ctx, maxRemoteSubnets: 1 });
  assert.deepEqual(verdicts(kept), { local: 'east', remotes: ['south'], rejected: [] });
  // Once the owner's Endpoint is back, it speaks for the cluster (no reservation): the squatter stays rejected.
  const back = build([LOCAL, squatter, endpoint('west-new', spec({ subnets: ['10.2.0.0/16'] }), '2026-01-01T00:00:00Z')], { clusters });
  assert.deepEqual(verdicts(back), { local: 'east', remotes: ['west'], rejected: [['north', 'overlaps-other-endpoint']] });
});

/** A WeakMap that counts what is put in it: each put is a computation the memo did not have. */
class CountingWeakMap<K extends object, V> extends WeakMap<K, V> {
  puts = 0;
  override set(key: K, value: V): this { this.puts++; return super.set(key, value); }
}

test('with a memo, validation is not recomputed for unchanged inputs: an Endpoint whose spec object is the same, Nodes whose list is the same; a changed one is', () => {
  const validated = new CountingWeakMap<object, never>();
  const byNodes = new CountingWeakMap<readonly never[], never>();
  const memo: PlanMemo = { ...newPlanMemo(), validated, byNodes } as unknown as PlanMemo;
  const remotes = Array.from({ length: 50 }, (_, i) => endpoint(`r${i}`, spec({ cluster_id: `r${i}`, hostname: `r${i}-gw`, private_ip: `192.168.50.${i + 1}`, public_ip: `203.0.113.${i + 1}`, subnets: [`10.${150 + i}.0.0/16`] })));
  const first = build([LOCAL, ...remotes], {}, { ...ctx, memo });
  assert.equal(first.remotes.length, 50);
  assert.deepEqual([validated.puts, byNodes.puts], [51, 1], 'the first pass computes everything once');

  // A new snapshot: new lists, one Endpoint replaced by the informer (a new spec object); the Nodes list kept.
  const changed = [...remotes];
  changed[7] = endpoint('r7', spec({ cluster_id: 'r7', hostname: 'r7-gw', private_ip: '192.168.50.8', public_ip: '203.0.113.8', subnets: ['10.220.0.0/16'] }));
  const second = build([LOCAL, ...changed], {}, { ...ctx, memo });
  assert.deepEqual([validated.puts, byNodes.puts], [52, 1], 'only the changed Endpoint validated again; the Nodes not indexed again');
  assert.equal(second.remotes.length, 50);
  assert.deepEqual(second.remotes.find((r) => r.spec.clusterId === 'r7')?.spec.subnets, ['10.220.0.0/16']);

  // Another Nodes list (a Node changed): indexed again, and what it says is used.
  const nodes = [...NODES, node('east-worker-3', '10.220.0.9')];
  const third = build([LOCAL, ...changed], { nodes }, { ...ctx, memo });
  assert.deepEqual([validated.puts, byNodes.puts], [52, 2]);
  assert.ok(third.rejected.some((r) => r.cluster === 'r7' && r.reason === 'covers-node-address'), 'the new Node\'s address is protected');
});

test('the subnet a rejection names is the first in address order, whatever order the Endpoint lists its subnets in', () => {
  const west = endpoint('west', spec({ cluster_id: 'west', hostname: 'west-gw', private_ip: '192.168.60.1', subnets: ['10.20.0.0/16', '10.30.0.0/16'] }), '2024-01-01T00:00:00Z');
  const listings = [['10.40.0.0/16', '10.30.0.0/16', '10.20.0.0/16', '10.50.0.0/16'], ['10.50.0.0/16', '10.20.0.0/16', '10.40.0.0/16', '10.30.0.0/16']];
  const messages = listings.map((subnets) => {
    const zulu = endpoint('zulu', spec({ cluster_id: 'zulu', hostname: 'zulu-gw', private_ip: '192.168.61.1', subnets }), '2024-02-01T00:00:00Z');
    const set = build([LOCAL, west, zulu]);
    return set.rejected.find((r) => r.cluster === 'zulu')?.message;
  });
  assert.match(messages[0] ?? '', /^subnet 10\.20\.0\.0\/16 overlaps 10\.20\.0\.0\/16 of cluster "west"/);
  assert.equal(messages[1], messages[0]);
});

test('with a memo, the protected addresses follow the API server and the local Endpoint while the Nodes list stays the same', () => {
  const memo = newPlanMemo();
  const over = (address: string) => endpoint('west', spec({ cluster_id: 'west', hostname: 'west-gw', private_ip: '192.168.60.1', subnets: [`${address}/32`] }));
  const reason = (set: ReturnType<typeof build>) => set.rejected.find((r) => r.cluster === 'west')?.reason ?? 'accepted';
  assert.equal(reason(build([LOCAL, over('172.30.0.1')], {}, { ...ctx, memo })), 'covers-api-server');
  assert.equal(reason(build([LOCAL, over('172.30.0.1')], {}, { ...ctx, apiServerAddresses: ['172.30.0.2'], memo })), 'accepted', 'the API server moved: its old address is free');
  assert.equal(reason(build([LOCAL, over('172.30.0.2')], {}, { ...ctx, apiServerAddresses: ['172.30.0.2'], memo })), 'covers-api-server');
  const movedLocal = endpoint('east', spec({ cluster_id: 'east', hostname: 'east-gw', private_ip: '192.168.1.10', public_ip: '198.51.100.77', subnets: ['10.244.0.0/16'] }), '2024-01-01T00:00:00Z');
  assert.equal(reason(build([LOCAL, over('198.51.100.77')], {}, { ...ctx, memo })), 'accepted');
  assert.equal(reason(build([movedLocal, over('198.51.100.77')], {}, { ...ctx, memo })), 'covers-endpoint-address', 'the local Endpoint\'s new public IP is protected');
  assert.equal(reason(build([LOCAL, over('192.168.1.22')], {}, { ...ctx, memo })), 'covers-node-address');
});
