import { test } from 'node:test';
import assert from 'node:assert/strict';
import { endpointValidationContext } from '../../src/model/endpoint.ts';
import { buildEndpointSet, selectEndpoints } from '../../src/model/endpoint-set.ts';
import { endpoint, shuffled, spec } from './model-fixtures.ts';

const ctx = endpointValidationContext({
  localClusterId: 'east', podCidrs: ['10.244.0.0/16'], serviceCidrs: ['10.96.0.0/12'], nodeNetworks: ['192.168.1.0/24'],
  minPrefixLength: 8, maxSubnets: 64,
});

test('newest Endpoint per cluster wins; the older ones are reported as duplicates naming the winner', () => {
  const old = endpoint('west-old', spec(), '2024-01-01T00:00:00Z');
  const newer = endpoint('west-new', spec(), '2024-02-01T00:00:00Z');
  const other = endpoint('north', spec({ cluster_id: 'north' }));
  const selection = selectEndpoints([newer, other, old]);
  assert.deepEqual(selection.winners.map((w) => [w.clusterId, w.object.name]), [['north', 'north'], ['west', 'west-new']]);
  assert.deepEqual(selection.duplicates, [{
    endpoint: { name: 'west-old', namespace: old.namespace, uid: old.uid, resourceVersion: old.resourceVersion }, cluster: 'west',
    winner: { name: 'west-new', namespace: newer.namespace, uid: newer.uid, resourceVersion: newer.resourceVersion },
  }]);
});

test('identical timestamps are broken by name, the same way whatever the input order', () => {
  const a = endpoint('west-a', spec(), '2024-01-01T00:00:00Z');
  const b = endpoint('west-b', spec(), '2024-01-01T00:00:00Z');
  const c = endpoint('west-c', spec(), '2024-01-01T00:00:00Z');
  for (let seed = 0; seed < 20; seed++) {
    const selection = selectEndpoints(shuffled([a, b, c], seed));
    assert.equal(selection.winners[0]?.object.name, 'west-c');
    assert.deepEqual(selection.duplicates.map((d) => d.endpoint.name), ['west-a', 'west-b']);
  }
});

test('an unreadable timestamp never displaces a well-formed one', () => {
  const good = endpoint('west-good', spec(), '2020-01-01T00:00:00Z');
  const bad = endpoint('west-zzz', spec(), 'yesterday');
  assert.equal(selectEndpoints([bad, good]).winners[0]?.object.name, 'west-good');
});

test('Endpoints without a readable cluster id are rejected as malformed and grouped nowhere', () => {
  const selection = selectEndpoints([endpoint('broken', null), endpoint('no-id', { subnets: [] }), endpoint('west', spec())]);
  assert.deepEqual(selection.unreadable.map((r) => [r.endpoint.name, r.reason]), [['broken', 'malformed'], ['no-id', 'malformed']]);
  assert.equal(selection.winners.length, 1);
});

test('one bad Endpoint does not affect the others', () => {
  const set = buildEndpointSet([
    endpoint('east', spec({ cluster_id: 'east', hostname: 'east-gw', private_ip: '192.168.1.5' })),
    endpoint('west', spec()),
    endpoint('north', spec({ cluster_id: 'north', subnets: ['0.0.0.0/0'] })),
    endpoint('south', spec({ cluster_id: 'south', subnets: ['10.30.0.0/16'] })),
    endpoint('garbage', 'not an object'),
    endpoint('ipv6', spec({ cluster_id: 'six', subnets: ['fd00::/64'] })),
  ], ctx);
  assert.equal(set.local?.spec.hostname, 'east-gw');
  assert.deepEqual(set.remotes.map((r) => r.spec.clusterId), ['south', 'west']);
  assert.deepEqual(set.rejected.map((r) => [r.endpoint.name, r.cluster, r.reason]), [
    ['garbage', undefined, 'malformed'], ['ipv6', 'six', 'ipv6-unsupported'], ['north', 'north', 'default-route'],
  ]);
});

test('the newest Endpoint of a cluster is judged even when invalid: no fallback to a superseded one', () => {
  const set = buildEndpointSet([
    endpoint('west-old', spec(), '2024-01-01T00:00:00Z'),
    endpoint('west-new', spec({ subnets: ['10.2.0.0/33'] }), '2024-02-01T00:00:00Z'),
  ], ctx);
  assert.deepEqual(set.remotes, []);
  assert.deepEqual(set.rejected.map((r) => [r.endpoint.name, r.reason]), [['west-new', 'invalid-cidr']]);
  assert.deepEqual(set.duplicates.map((d) => [d.endpoint.name, d.winner.name]), [['west-old', 'west-new']]);
});

test('two remote clusters claiming overlapping subnets: the older claim keeps its routes, the newer is rejected', () => {
  const older = endpoint('west', spec({ subnets: ['10.2.0.0/16'] }), '2024-01-01T00:00:00Z');
  const newer = endpoint('north', spec({ cluster_id: 'north', subnets: ['10.5.0.0/16', '10.2.128.0/17'] }), '2024-03-01T00:00:00Z');
  const unrelated = endpoint('south', spec({ cluster_id: 'south', subnets: ['10.3.0.0/16'] }), '2024-04-01T00:00:00Z');
  for (let seed = 0; seed < 10; seed++) {
    const set = buildEndpointSet(shuffled([newer, unrelated, older], seed), ctx);
    assert.deepEqual(set.remotes.map((r) => r.spec.clusterId), ['south', 'west']);
    assert.equal(set.rejected.length, 1);
    const [rejected] = set.rejected;
    assert.equal(rejected?.reason, 'overlaps-other-endpoint');
    assert.equal(rejected?.cluster, 'north');
    assert.match(rejected?.message ?? '', /subnet 10.2.128.0\/17 overlaps 10.2.0.0\/16 of cluster "west" .*older/);
  }
});

test('overlap resolution is greedy by age: a cluster that only overlaps a rejected one is kept', () => {
  const a = endpoint('a', spec({ cluster_id: 'a', subnets: ['10.1.0.0/16'] }), '2024-01-01T00:00:00Z');
  const b = endpoint('b', spec({ cluster_id: 'b', subnets: ['10.1.0.0/24', '10.2.0.0/24'] }), '2024-01-02T00:00:00Z');
  const c = endpoint('c', spec({ cluster_id: 'c', subnets: ['10.2.0.0/16'] }), '2024-01-03T00:00:00Z');
  const set = buildEndpointSet([c, b, a], ctx);
  assert.deepEqual(set.remotes.map((r) => r.spec.clusterId), ['a', 'c']);
  assert.deepEqual(set.rejected.map((r) => r.endpoint.name), ['b']);
});

test('identical subnets with identical timestamps: the name decides, deterministically', () => {
  const x = endpoint('x', spec({ cluster_id: 'x', subnets: ['10.7.0.0/16'] }), '2024-01-01T00:00:00Z');
  const y = endpoint('y', spec({ cluster_id: 'y', subnets: ['10.7.0.0/16'] }), '2024-01-01T00:00:00Z');
  for (const order of [[x, y], [y, x]]) {
    const set = buildEndpointSet(order, ctx);
    assert.deepEqual(set.remotes.map((r) => r.spec.clusterId), ['x']);
    assert.deepEqual(set.rejected.map((r) => r.cluster), ['y']);
  }
});

test('a wide subnet over many narrower ones of other clusters is found in one sweep', () => {
  const narrow = Array.from({ length: 200 }, (_, i) => endpoint(`n${i}`, spec({ cluster_id: `n${i}`, subnets: [`11.${i}.0.0/16`] }), '2024-01-01T00:00:00Z'));
  const wide = endpoint('wide', spec({ cluster_id: 'wide', subnets: ['11.0.0.0/8'] }), '2024-06-01T00:00:00Z');
  const set = buildEndpointSet([wide, ...narrow], ctx);
  assert.equal(set.remotes.length, 200);
  assert.deepEqual(set.rejected.map((r) => r.endpoint.name), ['wide']);
  assert.match(set.rejected[0]?.message ?? '', /11.0.0.0\/8 overlaps 11.0.0.0\/16 of cluster "n0"/);
});

test('no local Endpoint gives local null; a rejected local Endpoint too', () => {
  assert.equal(buildEndpointSet([endpoint('west', spec())], ctx).local, null);
  const set = buildEndpointSet([endpoint('east', spec({ cluster_id: 'east', hostname: 5 }))], ctx);
  assert.equal(set.local, null);
  assert.deepEqual(set.rejected.map((r) => r.reason), ['malformed']);
});
