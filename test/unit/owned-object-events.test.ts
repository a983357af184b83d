import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ownedObjectChange } from '../../src/dataplane/owned-object-events.ts';

test('kernel events wake the loop only when they touch what seaway owns or reads', () => {
  assert.equal(ownedObjectChange({ type: 'route', op: 'del', table: 100, protocol: 147, dst: '10.2.0.0/16' }), 'owned route 10.2.0.0/16 table 100 deleted');
  assert.equal(ownedObjectChange({ type: 'route', op: 'new', table: 254, protocol: 4, dst: '0.0.0.0/0' }), 'default route changed');
  assert.equal(ownedObjectChange({ type: 'route', op: 'new', table: 255, protocol: 2, dst: '0.0.0.0/0' }), null, 'not the main table');
  assert.equal(ownedObjectChange({ type: 'route', op: 'del', table: 100, protocol: 4, dst: '10.2.0.0/16' }), null, 'not seaway\'s route');
  for (const priority of [100, 150]) {
    assert.equal(ownedObjectChange({ type: 'rule', op: 'del', priority, table: priority, protocol: 147 }), `rule priority ${priority} deleted`);
  }
  assert.equal(ownedObjectChange({ type: 'rule', op: 'del', priority: 101, table: 100, protocol: 147 }), null);
  assert.equal(ownedObjectChange({ type: 'rule', op: 'new', priority: 100, table: 100, protocol: 147 }), null);
  assert.equal(ownedObjectChange({ type: 'link', op: 'del', index: 7, name: 'vx-submariner', up: false, mtu: 1450 }), 'vx-submariner deleted');
  assert.equal(ownedObjectChange({ type: 'overflow' }), 'kernel events were lost: full resync');
  assert.equal(ownedObjectChange({ type: 'overflow', reason: 'ENOBUFS' }), 'kernel events were lost (ENOBUFS): full resync');
});
