import { test } from 'node:test';
import assert from 'node:assert/strict';
import { settledWithin } from '../../src/startup/bounded-stop.ts';

test('a stop that never finishes is given up at its deadline; one that finishes (or fails) in time is waited for', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const hung = settledWithin(new Promise(() => { /* never settles */ }), 10_000);
  let given: boolean | undefined;
  void hung.then((v) => { given = v; });
  t.mock.timers.tick(9_999);
  await Promise.resolve();
  assert.equal(given, undefined, 'not before the deadline');
  t.mock.timers.tick(1);
  assert.equal(await hung, false);
  assert.equal(await settledWithin(Promise.resolve(), 10_000), true);
  assert.equal(await settledWithin(Promise.reject(new Error('a closer failed')), 10_000), true, 'a failed stop is still a finished one');
});
