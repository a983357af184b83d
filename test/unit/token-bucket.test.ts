import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkLimits, fullBucket, msUntilToken, refill, takeToken, type TokenBucket, type TokenBucketLimits } from '../../src/model/token-bucket.ts';

const limits: TokenBucketLimits = { capacity: 3, refillPerSecond: 0.5 };

/** Takes at each time and says which were allowed. */
function run(times: number[], start: TokenBucket = fullBucket(limits, 0)): boolean[] {
  let bucket = start;
  return times.map((t) => {
    const result = takeToken(bucket, limits, t);
    bucket = result.bucket;
    return result.allowed;
  });
}

test('a burst up to the capacity, then one token per refill interval', () => {
  assert.deepEqual(run([0, 0, 0, 0, 0]), [true, true, true, false, false]);
  // 0.5 tokens a second: the next token 2 s after the bucket ran dry.
  assert.deepEqual(run([0, 0, 0, 1999, 2000, 2001, 4000]), [true, true, true, false, true, false, true]);
});

test('refill never goes past the capacity, however long the quiet', () => {
  assert.deepEqual(run([0, 0, 0, 1e9, 1e9, 1e9, 1e9]), [true, true, true, true, true, true, false]);
  assert.equal(refill({ tokens: 0, atMs: 0 }, limits, 1e12).tokens, 3);
});

test('a refused take still counts the refill (partial tokens accumulate)', () => {
  assert.deepEqual(run([0, 0, 0, 500, 1000, 1500, 2000]), [true, true, true, false, false, false, true]);
});

test('time running backwards or not a number mints nothing and does not move the clock back', () => {
  const empty: TokenBucket = { tokens: 0, atMs: 10_000 };
  assert.deepEqual(refill(empty, limits, 5_000), empty);
  assert.deepEqual(refill(empty, limits, Number.NaN), empty);
  assert.deepEqual(refill(empty, limits, Number.POSITIVE_INFINITY), empty);
  assert.deepEqual(run([5_000, 11_999, 12_000], empty), [false, false, true], 'refill counts from the later clock only');
  assert.deepEqual(fullBucket(limits, Number.NaN), { tokens: 3, atMs: 0 });
});

test('time until the next token', () => {
  assert.equal(msUntilToken(fullBucket(limits, 0), limits, 0), 0);
  assert.equal(msUntilToken({ tokens: 0, atMs: 0 }, limits, 0), 2000);
  assert.equal(msUntilToken({ tokens: 0.5, atMs: 0 }, limits, 500), 500, '0.75 tokens by then, 0.25 more takes 500 ms');
  assert.equal(msUntilToken({ tokens: 0, atMs: 10_000 }, limits, 9_000), 3000, 'clock behind the bucket: wait for it too');
});

test('limits are checked', () => {
  assert.equal(checkLimits(limits), null);
  for (const bad of [{ capacity: 0, refillPerSecond: 1 }, { capacity: 1.5, refillPerSecond: 1 }, { capacity: Number.NaN, refillPerSecond: 1 },
    { capacity: 1, refillPerSecond: 0 }, { capacity: 1, refillPerSecond: -1 }, { capacity: 1, refillPerSecond: Number.POSITIVE_INFINITY }]) {
    assert.notEqual(checkLimits(bad), null, JSON.stringify(bad));
  }
});

test('the bucket is plain data: a call never changes the bucket it was given', () => {
  const bucket = Object.freeze(fullBucket(limits, 0));
  const result = takeToken(bucket, limits, 100);
  assert.deepEqual(bucket, { tokens: 3, atMs: 0 });
  assert.deepEqual(result.bucket, { tokens: 2, atMs: 100 });
});
