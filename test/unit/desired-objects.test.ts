/** routingObjects (src/plan/desired-objects.ts): keys and descriptions, made once per route object when a memo is given. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { routingObjects, type DesiredObject } from '../../src/plan/desired-objects.ts';
import type { DesiredRoute } from '../../src/model/desired-state.ts';

const state = (routes: DesiredRoute[]) => ({ links: [], routes, rules: [{ priority: 150, table: 150 }], fdb: [], sysctls: [{ key: 'net/ipv4/ip_forward', value: '1' }] });

test('each route\'s object names its table and destination and says what is wanted; rules and sysctls too', () => {
  const objects = routingObjects(state([{ table: 254, dst: '10.2.0.0/16', gateway: '240.1.1.10', dev: 'vx-submariner' }]));
  assert.deepEqual(objects, [
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
  assert.deepEqual(equal, first);
  const moved = routingObjects(state([{ ...route, gateway: '240.1.1.11' }]), known).find((o) => o.kind === 'route');
  assert.equal(moved?.object, 'route 10.2.0.0/16 via 240.1.1.11 dev vx-submariner table 254');
});

test('with a memo, the same FDB entry object gives the same object; a changed entry a new one that says what changed', () => {
  const known = new WeakMap<object, DesiredObject>();
  const entry = { dev: 'vx-submariner', mac: '00:00:00:00:00:00', dst: '192.168.1.21' };
  const withFdb = (fdb: typeof entry[]) => ({ ...state([]), fdb });
  const first = routingObjects(withFdb([entry]), known).find((o) => o.kind === 'fdb');
  assert.deepEqual(first, { kind: 'fdb', key: 'vx-submariner 00:00:00:00:00:00 192.168.1.21', object: 'fdb 00:00:00:00:00:00 dst 192.168.1.21 dev vx-submariner' });
  assert.equal(routingObjects(withFdb([entry]), known).find((o) => o.kind === 'fdb'), first);
  assert.equal(routingObjects(withFdb([{ ...entry, dst: '192.168.1.22' }]), known).find((o) => o.kind === 'fdb')?.key, 'vx-submariner 00:00:00:00:00:00 192.168.1.22');
});
