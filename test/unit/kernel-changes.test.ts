/** KernelChanges (src/reconcile/kernel-changes.ts): a part is quiet only while its watch is live and has reported nothing since the last take. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KernelChanges } from '../../src/reconcile/kernel-changes.ts';

test('no part is quiet before its watch is live, nor on the first take after it went live', () => {
  const changes = new KernelChanges();
  assert.deepEqual([...changes.take()], []);
  assert.deepEqual([...changes.take()], [], 'unwatched: never quiet');
  changes.watching('routing');
  assert.deepEqual([...changes.take()], [], 'what happened before the watch is unknown: read once');
  assert.deepEqual([...changes.take()], ['routing']);
});

test('a reported change makes its part, and only it, not quiet for exactly one take', () => {
  const changes = new KernelChanges();
  for (const part of ['routing', 'host-network', 'filter'] as const) changes.watching(part);
  changes.take();
  changes.changed('filter');
  changes.changed('filter');
  assert.deepEqual([...changes.take()].sort(), ['host-network', 'routing']);
  assert.deepEqual([...changes.take()].sort(), ['filter', 'host-network', 'routing']);
});

test('a watch that ended makes its part never quiet again, until it is live once more', () => {
  const changes = new KernelChanges();
  changes.watching('routing');
  changes.take();
  changes.unwatched('routing');
  assert.deepEqual([...changes.take()], []);
  assert.deepEqual([...changes.take()], []);
  changes.watching('routing');
  changes.take();
  assert.deepEqual([...changes.take()], ['routing']);
});
