/** routingObjects (src/plan/desired-objects.ts): keys and descriptions, made once per route object when a memo is given. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeFdb, describeRoute, fdbKey, routeKey, routingObjects, type DesiredObject } from '../../src/plan/desired-objects.ts';
import type { DesiredRoute } from '../../src/model/desired-state.ts';

/** An object as plain data: a route's or FDB entry's description is a getter (made when read). */
const plain = (o: DesiredObject | undefined) => (o === undefined ? undefined : { kind: o.kind, key: o.key, object: o.object });
const state = (routes: DesiredRoute[]) => ({ links: [], routes, rules: [{ priority: 150, table: 150 }], fdb: [], sysctls: [{ key: 'net/ipv4/ip_forward', value: '1' }] });

test('each route\'s object names its table and destination and says what is wanted; rules and sysctls too', () => {
  const objects = routingObjects(state([{ table: 254, dst: '10.2.0.0/16', gateway: '240.1.1.10', dev: 'vx-submariner' }]));
  assert.deepEqual(objects.map(plain), [
    { kind: 'rule', key: '150 150', object: 'rule priority 150 lookup 150' },
    { kind: 'route', key: '254 10.2.0.0/16', object: 'route 10.2.0.0/16 via 240.1.1.10 dev vx-submariner table 254' },
    { kind: 'sysctl', key: 'net/ipv4/ip_forward', object: 'sysctl net/ipv4/ip_forward=1' },
  ]);
});

test('with a memo, the same route object gives the same object (nothing made again); an equal new route gives an equal new one', () => {
  const known = new WeakMap<DesiredRoute, DesiredObject>();
  const route: DesiredRoute = { table: 254, dst: '10.2.0.0/16', gateway: '240.1.1.10', dev: 'vx-submariner' };
  const first = routingObjects(state([route]), known).find((o) => o.kind === 'route');
  const again = routingObjects(state([route]), known).find((o) => o.kind === 'route');
  assert.equal(again, first);
  const equal = routingObjects(state([{ ...route }]), known).find((o) => o.kind === 'route');
  assert.notEqual(equal, first);
  assert.deepEqual(plain(equal), plain(first));
  const moved = routingObjects(state([{ ...route, gateway: '240.1.1.11' }]), known).find((o) => o.kind === 'route');
  assert.equal(moved?.object, 'route 10.2.0.0/16 via 240.1.1.11 dev vx-submariner table 254');
});

test('with a memo, the same FDB entry object gives the same object; a changed entry a new one that says what changed', () => {
  const known = new WeakMap<object, DesiredObject>();
  const entry = { dev: 'vx-submariner', mac: '00:00:00:00:00:00', dst: '192.168.1.21' };
  const withFdb = (fdb: typeof entry[]) => ({ ...state([]), fdb });
  const first = routingObjects(withFdb([entry]), known).find((o) => o.kind === 'fdb');
  assert.deepEqual(plain(first), { kind: 'fdb', key: 'vx-submariner 00:00:00:00:00:00 192.168.1.21', object: 'fdb 00:00:00:00:00:00 dst 192.168.1.21 dev vx-submariner' });
  assert.equal(routingObjects(withFdb([entry]), known).find((o) => o.kind === 'fdb'), first);
  assert.equal(routingObjects(withFdb([{ ...entry, dst: '192.168.1.22' }]), known).find((o) => o.kind === 'fdb')?.key, 'vx-submariner 00:00:00:00:00:00 192.168.1.22');
});

test('route and FDB keys and descriptions read as seaway has always written them', () => {
  assert.equal(routeKey({ table: 254, dst: '10.2.0.0/16' }), '254 10.2.0.0/16');
  assert.equal(routeKey({ table: 100, dst: '0.0.0.0/0' }), '100 0.0.0.0/0');
  assert.equal(describeRoute({ table: 254, dst: '10.2.0.0/16', gateway: '240.168.1.11', dev: 'vx-submariner' }), 'route 10.2.0.0/16 via 240.168.1.11 dev vx-submariner table 254');
  assert.equal(describeRoute({ table: 150, dst: '10.3.0.0/24', dev: 'vx-submariner', src: '10.1.1.1' }), 'route 10.3.0.0/24 dev vx-submariner src 10.1.1.1 table 150');
  assert.equal(describeRoute({ table: 100, dst: '10.4.0.0/24', gateway: '192.168.1.1', dev: 'eth0', src: '10.1.1.1' }), 'route 10.4.0.0/24 via 192.168.1.1 dev eth0 src 10.1.1.1 table 100');
  assert.equal(describeRoute({ table: 100, dst: '10.5.0.0/24', dev: 'eth0' }), 'route 10.5.0.0/24 dev eth0 table 100');
  // The MAC is the key's in lower case, the description's as written.
  const entry = { dev: 'vx-submariner', mac: '0A:1B:2C:3D:4E:5F', dst: '192.168.1.12' };
  assert.equal(fdbKey(entry), 'vx-submariner 0a:1b:2c:3d:4e:5f 192.168.1.12');
  assert.equal(describeFdb(entry), 'fdb 0A:1B:2C:3D:4E:5F dst 192.168.1.12 dev vx-submariner');
});

