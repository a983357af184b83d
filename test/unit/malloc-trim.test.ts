import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startMallocTrim } from '../../src/kernel/malloc-trim.ts';
import { waitFor } from '../helpers/wait.ts';

test('startMallocTrim trims at its interval until stopped', async () => {
  let trims = 0;
  const stop = startMallocTrim(() => { trims++; return true; }, 5);
  try {
    await waitFor('three trims', () => trims >= 3, { timeoutMs: 5000, intervalMs: 1 });
  } finally {
    stop();
  }
  const atStop = trims;
  // Three more ticks of a timer with the same interval: the stopped one would have fired meanwhile.
  let ticks = 0;
  const control = setInterval(() => { ticks++; }, 5);
  try {
    await waitFor('three ticks of the control timer', () => ticks >= 3, { timeoutMs: 5000, intervalMs: 1 });
  } finally {
    clearInterval(control);
  }
  assert.equal(trims, atStop, 'no trim after stop()');
});
