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

/** Lets every pending promise callback run (setImmediate is not among the mocked timers). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

test('checks never overlap: changes notified while a check runs, past its interval, start no second check until it ends', async (t) => {
  // Mocked timers: "no check started" is then a fact after firing every due timer, not a guess after a sleep.
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  let active = 0;
  let maxActive = 0;
  let checks = 0;
  let release: (() => void) | undefined;
  let notify!: () => void;
  const watch = watchFilterDrift({
    drift: () => {
      active++; maxActive = Math.max(maxActive, active); checks++;
      return new Promise<string[]>((resolve) => { release = () => { active--; resolve([]); }; });
    },
  }, { intervalMs: 1, minGapMs: 0, onDrift: () => {}, changes: (n) => { notify = n; return () => {}; } });
  try {
    t.mock.timers.tick(1);
    assert.equal(checks, 1, 'the first (interval) check is running');
    for (let round = 1; round <= 3; round++) {
      // The change source fires during the check, more than once, and the interval passes many times over.
      notify(); notify();
      t.mock.timers.tick(50);
      await settle();
      notify();
      t.mock.timers.tick(50);
      await settle();
      assert.equal(checks, round, `round ${round}: no second check while one runs`);
      assert.equal(maxActive, 1);
      release!();
      await settle();
      t.mock.timers.tick(0); // the notified check follows the one that ended (minimum gap 0)
      assert.equal(checks, round + 1, `round ${round}: the notifications made one more check once the running one ended`);
    }
    assert.equal(maxActive, 1, 'never more than one check at a time');
  } finally {
    const closing = watch.close();
    release?.();
    await closing;
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

test('close waits for a running check and no check starts afterwards', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  let checks = 0;
  let release!: () => void;
  let started!: () => void;
  const inCheck = new Promise<void>((resolve) => { started = resolve; });
  const reported: string[][] = [];
  const watch = watchFilterDrift({
    drift: () => { checks++; started(); return new Promise<string[]>((resolve) => { release = () => resolve(['x']); }); },
  }, { intervalMs: 1, onDrift: (d) => reported.push(d) });
  t.mock.timers.tick(1);
  await inCheck;
  const closing = watch.close();
  release();
  await closing;
  const after = checks;
  await settle();
  t.mock.timers.runAll(); // fires any timer still set: a live one would start a check here
  await settle();
  assert.equal(checks, after);
  assert.deepEqual(reported, [], 'drift found by a check that ends after close is not reported');
});

test('a change notification brings the check forward; notifications during a check make one more check, not one each', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  let checks = 0;
  let notify!: () => void;
  let unsubscribed = false;
  let release: (() => void) | undefined;
  const watch = watchFilterDrift({
    drift: () => { checks++; return new Promise<string[]>((resolve) => { release = () => resolve([]); }); },
  }, {
    intervalMs: 3_600_000, minGapMs: 0, onDrift: () => {},
    changes: (n) => { notify = n; return () => { unsubscribed = true; }; },
  });
  try {
    assert.equal(checks, 0);
    notify();
    t.mock.timers.tick(0);
    assert.equal(checks, 1, 'the notified check runs at once, not after the hour');
    notify(); notify(); notify();
    release!();
    await settle();
    t.mock.timers.tick(0);
    assert.equal(checks, 2, 'exactly one more check for the three notifications');
    release!();
    await settle();
    t.mock.timers.tick(3_600_000 - 1);
    assert.equal(checks, 2, 'no further check without a notification until the hour is up');
    t.mock.timers.tick(1);
    assert.equal(checks, 3, 'the hourly backstop check');
  } finally {
    const closing = watch.close();
    release?.();
    await closing;
  }
  assert.equal(unsubscribed, true, 'close unsubscribes from the notifications');
});

test('notified checks keep the minimum gap after the previous check', async () => {
  const ends: number[] = [];
  const starts: number[] = [];
  let notify!: () => void;
  const watch = watchFilterDrift({
    drift: async () => { starts.push(Date.now()); ends.push(Date.now()); return []; },
  }, { intervalMs: 3_600_000, minGapMs: 100, onDrift: () => {}, changes: (n) => { notify = n; return () => {}; } });
  try {
    notify();
    await waitFor('the first notified check', () => starts.length === 1);
    notify();
    await waitFor('the second notified check', () => starts.length === 2);
    assert.ok(starts[1]! - ends[0]! >= 95, `second check ${starts[1]! - ends[0]!} ms after the first ended; the gap is 100 ms`);
  } finally {
    await watch.close();
  }
});

test('notifications that keep finding nothing widen the gap between checks, doubling up to its maximum; drift found narrows it again', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  let drift: string[] = [];
  const startedAt: number[] = [];
  let notify!: () => void;
  const watch = watchFilterDrift({ drift: async () => { startedAt.push(Date.now()); return drift; } }, {
    intervalMs: 1_000_000, minGapMs: 100, maxQuietGapMs: 800, onDrift: () => {}, changes: (n) => { notify = n; return () => {}; },
  });
  try {
    // Another agent churns its own rules every 10 ms for 5 s: each check finds nothing.
    for (let ms = 0; ms < 5000; ms += 10) {
      notify();
      t.mock.timers.tick(10);
      await settle();
    }
    const gaps = startedAt.slice(1).map((at, i) => at - startedAt[i]!);
    assert.deepEqual(gaps.slice(0, 4), [200, 400, 800, 800], 'the gap after each quiet check doubles, up to 800 ms');
    assert.ok(startedAt.length <= 10, `${startedAt.length} checks in 5 s of churn`);
    drift = ['iptables-nft-restore: *nat; ...'];
    notify();
    t.mock.timers.tick(800);
    await settle();
    const found = startedAt.length;
    drift = [];
    notify();
    t.mock.timers.tick(100);
    await settle();
    assert.equal(startedAt.length, found + 1, 'after a check that found drift, the next notification is checked after the minimum gap');
  } finally {
    await watch.close();
  }
});

test('while the filter\'s repairs are held, no check runs before the hold ends, however many notifications arrive', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  let checks = 0;
  let notify!: () => void;
  const holdUntil = Date.now() + 3000;
  const watch = watchFilterDrift({ drift: async () => { checks++; return []; } }, {
    intervalMs: 50, minGapMs: 10, onDrift: () => {}, changes: (n) => { notify = n; return () => {}; },
    pausedUntil: () => (Date.now() < holdUntil ? holdUntil : undefined),
  });
  try {
    for (let ms = 0; ms < 2990; ms += 10) {
      notify();
      t.mock.timers.tick(10);
      await settle();
    }
    assert.equal(checks, 0, 'nothing checked during the hold');
    t.mock.timers.tick(20);
    await settle();
    assert.equal(checks, 1, 'checked once the hold is over');
  } finally {
    await watch.close();
  }
});
