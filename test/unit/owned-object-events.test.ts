import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostNetworkChange, ownedObjectChange } from '../../src/dataplane/owned-object-events.ts';
import type { RtnetlinkEvent } from '../../src/kernel/rtnetlink-events.ts';

test('kernel events wake the loop only when they touch what seaway owns or reads', () => {
  assert.equal(ownedObjectChange({ type: 'route', op: 'del', table: 100, protocol: 147, dst: '10.2.0.0/16' }, new Set(['100 10.2.0.0/16'])), 'owned route 10.2.0.0/16 table 100 deleted');
  assert.equal(ownedObjectChange({ type: 'route', op: 'del', table: 100, protocol: 147, dst: '10.2.0.0/16' }, new Set(['254 10.2.0.0/16'])), null, 'not wanted there any more: seaway\'s own removal');
  assert.equal(ownedObjectChange({ type: 'route', op: 'new', table: 254, protocol: 4, dst: '0.0.0.0/0' }), 'default route changed');
  assert.equal(ownedObjectChange({ type: 'route', op: 'new', table: 255, protocol: 2, dst: '0.0.0.0/0' }), null, 'not the main table');
  assert.equal(ownedObjectChange({ type: 'route', op: 'del', table: 100, protocol: 4, dst: '10.2.0.0/16' }), null, 'not seaway\'s route');
  for (const priority of [100, 150]) {
    assert.equal(ownedObjectChange({ type: 'rule', op: 'del', priority, table: priority, protocol: 147 }), `rule priority ${priority} deleted`);
  }
  assert.equal(ownedObjectChange({ type: 'rule', op: 'del', priority: 101, table: 100, protocol: 147 }), null);
  assert.equal(ownedObjectChange({ type: 'rule', op: 'new', priority: 100, table: 100, protocol: 147 }), null);
  assert.equal(ownedObjectChange({ type: 'rule', op: 'new', priority: 150, table: 150, protocol: 0 }), 'foreign rule added at priority 150');
  assert.equal(ownedObjectChange({ type: 'address', op: 'del', index: 7, address: '240.168.1.12', prefixLength: 8 }), 'VTEP address 240.168.1.12 deleted');
  assert.equal(ownedObjectChange({ type: 'address', op: 'del', index: 2, address: '192.168.1.12', prefixLength: 24 }), null, 'not a VTEP address');
  assert.equal(ownedObjectChange({ type: 'address', op: 'new', index: 7, address: '240.168.1.12', prefixLength: 8 }), null, 'an address added is seaway\'s own write');
  assert.equal(ownedObjectChange({ type: 'fdb', op: 'del', ifindex: 7, mac: '00:00:00:00:00:00', dst: '192.168.1.13' }), 'FDB entry towards 192.168.1.13 deleted');
  assert.equal(ownedObjectChange({ type: 'fdb', op: 'del', ifindex: 3, mac: '0e:71:da:85:f4:08' }), null, 'a bridge forgetting a learned MAC');
  assert.equal(ownedObjectChange({ type: 'link', op: 'del', index: 7, name: 'vx-submariner', up: false, mtu: 1450 }), 'vx-submariner deleted');
  assert.equal(ownedObjectChange({ type: 'overflow' }), 'kernel events were lost: full resync');
  assert.equal(ownedObjectChange({ type: 'overflow', reason: 'ENOBUFS' }), 'kernel events were lost (ENOBUFS): full resync');
});

test('a route of another protocol wakes the loop only at a destination seaway wants: added, replaced or deleted there', () => {
  const wanted = new Set(['254 10.2.0.0/16', '150 10.3.0.0/16']);
  const route = (op: 'new' | 'del', table: number, dst: string, protocol: number) => ownedObjectChange({ type: 'route', op, table, protocol, dst, oif: 2 }, wanted);
  assert.equal(route('new', 254, '10.2.0.0/16', 4), 'route 10.2.0.0/16 table 254 of protocol 4 added or replaced at a destination of seaway\'s');
  assert.equal(route('new', 150, '10.3.0.0/16', 3), 'route 10.3.0.0/16 table 150 of protocol 3 added or replaced at a destination of seaway\'s');
  assert.equal(route('del', 254, '10.2.0.0/16', 3), 'route 10.2.0.0/16 table 254 of protocol 3 deleted at a destination of seaway\'s', 'the destination may be free for seaway again');
  assert.equal(route('new', 254, '10.2.1.0/24', 3), null, 'a more specific route is another destination');
  assert.equal(route('new', 150, '10.2.0.0/16', 3), null, 'the same CIDR in another table');
  assert.equal(route('new', 254, '10.9.0.0/16', 12), null, 'a busy node\'s own routes');
  assert.equal(route('new', 254, '10.2.0.0/16', 147), null, 'seaway\'s own write');
  assert.equal(route('del', 254, '10.2.0.0/16', 147), 'owned route 10.2.0.0/16 table 254 deleted');
  assert.equal(ownedObjectChange({ type: 'route', op: 'new', table: 254, protocol: 4, dst: '10.2.0.0/16' }), null, 'no destinations known yet');
});

test('link events of the underlay wake the loop (its MTU is vx-submariner\'s less 50); other links\' do not', () => {
  const link = (name: string, op: 'new' | 'del' = 'new') => ({ type: 'link' as const, op, index: 2, name, up: true, mtu: 1400 });
  assert.equal(ownedObjectChange(link('eth0'), undefined, 'eth0'), 'underlay eth0 changed');
  assert.equal(ownedObjectChange(link('eth0', 'del'), undefined, 'eth0'), 'underlay eth0 deleted');
  assert.equal(ownedObjectChange(link('eth1'), undefined, 'eth0'), null, 'another interface');
  assert.equal(ownedObjectChange(link('veth1a2b'), undefined, null), null, 'no underlay known yet');
  assert.equal(ownedObjectChange(link('vx-submariner'), undefined, 'eth0'), 'vx-submariner changed');
});

test('host network changes: any link, address or rule, a default route of any table, lost events; not other routes nor FDB entries', () => {
  const changes: RtnetlinkEvent[] = [
    { type: 'link', op: 'new', index: 9, name: 'veth1234', up: true, mtu: 1500 },
    { type: 'address', op: 'del', index: 2, address: '192.168.1.21', prefixLength: 24 },
    { type: 'rule', op: 'new', priority: 5, table: 7, protocol: 2 },
    { type: 'route', op: 'new', table: 200, protocol: 3, dst: '0.0.0.0/0' },
    { type: 'overflow' },
  ];
  for (const event of changes) assert.equal(hostNetworkChange(event), true, JSON.stringify(event));
  const others: RtnetlinkEvent[] = [
    { type: 'route', op: 'new', table: 254, protocol: 147, dst: '10.2.0.0/16' },
    { type: 'route', op: 'del', table: 254, protocol: 2, dst: '10.244.3.0/24' },
    { type: 'fdb', op: 'del', ifindex: 9, mac: '00:00:00:00:00:00', dst: '192.168.1.12' },
  ];
  for (const event of others) assert.equal(hostNetworkChange(event), false, JSON.stringify(event));
});
