import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readiness } from '../../src/server/readiness.ts';
import { Liveness } from '../../src/server/liveness.ts';

test('readiness is the conjunction of its conditions and reports the unmet ones in order', () => {
  const readiness = new Readiness({ node: 'waiting for Node', cni: 'waiting for CNI' });
  assert.equal(readiness.ready, false);
  assert.deepEqual(readiness.reasons, ['node: waiting for Node', 'cni: waiting for CNI']);
  readiness.met('node');
  assert.deepEqual(readiness.reasons, ['cni: waiting for CNI']);
  readiness.met('cni');
  assert.equal(readiness.ready, true);
});

test('readiness notifies only on transitions', () => {
  const readiness = new Readiness({ a: 'x' });
  const seen: boolean[] = [];
  readiness.onChange((ready) => seen.push(ready));
  readiness.unmet('a', 'still x');
  readiness.met('a');
  readiness.met('a');
  readiness.unmet('b', 'y');
  assert.deepEqual(seen, [true, false]);
});

test('liveness reports loops that missed their allowance', () => {
  let now = 0;
  const liveness = new Liveness(() => now);
  const beatA = liveness.register('a', 1000);
  liveness.register('b', 5000);
  now = 2000;
  assert.deepEqual(liveness.stalled(), ['a']);
  beatA();
  assert.deepEqual(liveness.stalled(), []);
  now = 6000;
  assert.deepEqual(liveness.stalled(), ['a', 'b']);
});
