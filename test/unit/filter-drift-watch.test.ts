import { test } from 'node:test';
import assert from 'node:assert/strict';
import { watchFilterDrift } from '../../src/dataplane/filter-drift-watch.ts';
import { waitFor } from '../helpers/wait.ts';

test('reports drift as soon as a check finds it, and nothing while the filter is intact', async () => {
  let state: string[] = [];
  let checks = 0;
  const reported: string[][] = [];
  const watch = watchFilterDrift({ drift: async () => { checks++; return state; } }, { intervalMs: 5, onDrift: (d) => reported.push(d) });
  try {
    await waitFor('three intact checks', () => checks >= 3);
    assert.deepEqual(reported, [], 'intact: nothing reported');
    state = ['iptables-nft-restore: *nat; -I POSTROUTING 1 -j SUBMARINER-POSTROUTING'];
    await waitFor('the drift to be reported', () => reported.length > 0);
    assert.deepEqual(reported[0], state);
  } finally {
    await watch.close();
  }
});

test('checks never overlap, even when one takes longer than the interval', async () => {
  let active = 0;
  let maxActive = 0;
  let checks = 0;
  const watch = watchFilterDrift({
    drift: async () => {
      active++; maxActive = Math.max(maxActive, active); checks++;
      await new Promise((resolve) => setTimeout(resolve, 20));
      active--;
      return [];
    },
  }, { intervalMs: 1, onDrift: () => {} });
  try {
    await waitFor('several slow checks', () => checks >= 4);
    assert.equal(maxActive, 1);
  } finally {
    await watch.close();
  }
});

test('a failing check is reported and the watch keeps checking', async () => {
  let checks = 0;
  const errors: string[] = [];
  const reported: string[][] = [];
  const watch = watchFilterDrift({
    drift: async () => {
      checks++;
      if (checks === 1) throw new Error('iptables-save: resource temporarily unavailable');
      return ['nft -f: add table ip seaway'];
    },
  }, { intervalMs: 5, onDrift: (d) => reported.push(d), onError: (e) => errors.push(e.message) });
  try {
    await waitFor('a drift report after the failed check', () => reported.length > 0);
    assert.deepEqual(errors, ['iptables-save: resource temporarily unavailable']);
  } finally {
    await watch.close();
  }
});

test('close waits for a running check and no check starts afterwards', async () => {
  let checks = 0;
  let release!: () => void;
  let started!: () => void;
  const inCheck = new Promise<void>((resolve) => { started = resolve; });
  const reported: string[][] = [];
  const watch = watchFilterDrift({
    drift: () => { checks++; started(); return new Promise<string[]>((resolve) => { release = () => resolve(['x']); }); },
  }, { intervalMs: 1, onDrift: (d) => reported.push(d) });
  await inCheck;
  const closing = watch.close();
  release();
  await closing;
  const after = checks;
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setTimeout(resolve, 10)); // several intervals: a live timer would have fired
  assert.equal(checks, after);
  assert.deepEqual(reported, [], 'drift found by a check that ends after close is not reported');
});
