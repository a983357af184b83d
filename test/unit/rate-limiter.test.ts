import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiRateLimiter } from '../../src/k8s/rate-limiter.ts';
import { settle, VirtualClock } from './informer-fakes.ts';

test('a burst goes at once, then requests are spaced at the QPS, in the order they asked', async () => {
  const clock = new VirtualClock();
  const bucket = new ApiRateLimiter({ qps: 5, burst: 10 }, clock);
  const signal = new AbortController().signal;
  const grantedAt: Array<[number, number]> = [];
  const takers = Array.from({ length: 15 }, (_, i) => bucket.take(signal).then(() => { grantedAt.push([i, clock.now()]); }));
  await settle();
  assert.equal(grantedAt.length, 10, 'the burst');
  await clock.runUntil(1000);
  await Promise.all(takers);
  assert.deepEqual(grantedAt.slice(10), [[10, 200], [11, 400], [12, 600], [13, 800], [14, 1000]]);
});

test('the bucket refills while quiet, never beyond the burst', async () => {
  const clock = new VirtualClock();
  const bucket = new ApiRateLimiter({ qps: 5, burst: 3 }, clock);
  const signal = new AbortController().signal;
  for (let i = 0; i < 3; i++) await bucket.take(signal);
  await clock.advance(60_000);
  let granted = 0;
  const takers = Array.from({ length: 4 }, () => bucket.take(signal).then(() => { granted++; }));
  await settle();
  assert.equal(granted, 3, 'a minute of quiet gives back the burst, not 300 tokens');
  await clock.advance(200);
  await Promise.all(takers);
  assert.equal(granted, 4);
});

test('a waiter that gives up hands its token back to those who ask after it', async () => {
  const clock = new VirtualClock();
  const bucket = new ApiRateLimiter({ qps: 1, burst: 1 }, clock);
  const signal = new AbortController().signal;
  await bucket.take(signal);
  const quitter = new AbortController();
  const first = bucket.take(quitter.signal); // reserves the token due at 1 s
  const second = bucket.take(signal); // reserves the token due at 2 s
  await settle();
  quitter.abort(new Error('stopping'));
  await assert.rejects(first, /stopping/);
  let thirdAt: number | undefined;
  const third = bucket.take(signal).then(() => { thirdAt = clock.now(); });
  await clock.runUntil(5000);
  await Promise.all([second, third]);
  // Without the hand-back the third would queue behind three reservations and wait until 3 s.
  assert.equal(thirdAt, 2000);
});
