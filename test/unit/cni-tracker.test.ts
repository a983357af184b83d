import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CniTracker } from '../../src/init/cni-tracker.ts';
import type { InterfaceChange, InterfaceEvent } from '../../src/model/interface-events.ts';

// 10.1.3.0/24 as the pod CIDR, checked textually so the test does not depend on the CIDR module.
const inPodCidr = (address: string) => address.startsWith('10.1.3.');
const link = (index: number, name: string, op: 'new' | 'del' = 'new'): InterfaceChange => ({ type: 'link', op, index, name });
const addr = (index: number, address: string, op: 'new' | 'del' = 'new', prefixLength = 24): InterfaceChange =>
  ({ type: 'address', op, index, address, prefixLength });

function track(events: InterfaceEvent[], interfaceName?: string) {
  const tracker = new CniTracker({ inPodCidr, interfaceName });
  for (const event of events) tracker.apply(event);
  return tracker;
}

test('no interface until one holds an address in the pod CIDR', () => {
  assert.equal(track([link(1, 'lo'), addr(1, '127.0.0.1', 'new', 8), link(2, 'eth0'), addr(2, '192.168.1.10')]).current(), null);
});

test('finds the interface holding an address in the pod CIDR', () => {
  const tracker = track([link(2, 'eth0'), addr(2, '192.168.1.10'), link(5, 'cni0'), addr(5, '10.1.3.1')]);
  assert.deepEqual(tracker.current(), { name: 'cni0', index: 5, address: '10.1.3.1', prefixLength: 24 });
});

test('an address event before its link event (dump and stream interleaved) still resolves', () => {
  assert.equal(track([addr(7, '10.1.3.1'), link(7, 'tunl0')]).current()?.name, 'tunl0');
});

test('duplicate events from dump and stream are idempotent', () => {
  const tracker = track([link(5, 'cni0'), addr(5, '10.1.3.1'), link(5, 'cni0'), addr(5, '10.1.3.1'), addr(5, '10.1.3.1', 'del')]);
  assert.equal(tracker.current(), null, 'one delete removes the address even if it was reported twice');
});

test('losing the address or the link drops the interface', () => {
  assert.equal(track([link(5, 'cni0'), addr(5, '10.1.3.1'), addr(5, '10.1.3.1', 'del')]).current(), null);
  assert.equal(track([link(5, 'cni0'), addr(5, '10.1.3.1'), link(5, 'cni0', 'del')]).current(), null);
});

test('a re-created interface with a new index is found again', () => {
  const tracker = track([link(5, 'cni0'), addr(5, '10.1.3.1'), link(5, 'cni0', 'del'), link(9, 'cni0'), addr(9, '10.1.3.1')]);
  assert.deepEqual(tracker.current(), { name: 'cni0', index: 9, address: '10.1.3.1', prefixLength: 24 });
});

test('a reused index with another name does not inherit the old addresses', () => {
  assert.equal(track([link(5, 'cni0'), addr(5, '10.1.3.1'), link(5, 'other')]).current(), null);
});

test('a configured interface name wins, even outside the pod CIDR', () => {
  const events = [link(5, 'cni0'), addr(5, '10.1.3.1'), link(6, 'tunl0'), addr(6, '172.16.0.1', 'new', 32)];
  assert.deepEqual(track(events, 'tunl0').current(), { name: 'tunl0', index: 6, address: '172.16.0.1', prefixLength: 32 });
});

test('a configured interface without any address is not found yet', () => {
  assert.equal(track([link(6, 'tunl0'), link(5, 'cni0'), addr(5, '10.1.3.1')], 'tunl0').current(), null);
});

test('several candidates: the lowest index wins, deterministically', () => {
  const a = track([link(9, 'b'), addr(9, '10.1.3.9'), link(4, 'a'), addr(4, '10.1.3.4')]).current();
  const b = track([link(4, 'a'), addr(4, '10.1.3.4'), link(9, 'b'), addr(9, '10.1.3.9')]).current();
  assert.deepEqual(a, b);
  assert.equal(a?.name, 'a');
});

test('describe lists what was seen, for the waiting log', () => {
  assert.deepEqual(track([link(1, 'lo'), link(2, 'eth0'), addr(2, '192.168.1.10')]).describe(), ['lo', 'eth0 192.168.1.10/24']);
});

test('a snapshot after lost notifications replaces everything: an interface deleted meanwhile is gone', () => {
  const tracker = track([link(5, 'cni0'), addr(5, '10.1.3.1')]);
  tracker.apply({ type: 'snapshot', changes: [link(1, 'lo'), link(2, 'eth0')] });
  assert.equal(tracker.current(), null);
  tracker.apply({ type: 'snapshot', changes: [link(9, 'cni0'), addr(9, '10.1.3.1')] });
  assert.equal(tracker.current()?.index, 9);
});
