import assert from 'node:assert/strict';
import { test } from 'node:test';
import { growthAfterWarmup, slope, stretchMedians } from '../bench/churn-figures.ts';

test('slope is the least-squares slope, 0 for a flat, single or empty series', () => {
  assert.equal(slope([{ x: 0, y: 1 }, { x: 1, y: 3 }, { x: 2, y: 5 }]), 2);
  assert.equal(slope([{ x: 0, y: 4 }, { x: 1, y: 3 }, { x: 2, y: 2 }, { x: 3, y: 1 }]), -1);
  assert.equal(slope([{ x: 0, y: 1 }, { x: 1, y: 4 }, { x: 2, y: 1 }]), 0, 'a swing that returns: no trend');
  assert.equal(slope([{ x: 5, y: 9 }]), 0);
  assert.equal(slope([]), 0);
  assert.equal(slope([{ x: 1, y: 1 }, { x: 1, y: 7 }]), 0, 'one x: no slope rather than NaN');
});

test('stretchMedians takes each stretch\'s median, and a short tail joins the stretch before it', () => {
  // 1 s samples, 3 s stretches.
  assert.deepEqual(stretchMedians([1, 9, 2, 5, 5, 5, 7, 8, 6], 1000, 3000), [2, 5, 7]);
  assert.deepEqual(stretchMedians([1, 2, 3, 4, 5, 6, 100], 1000, 3000), [2, 5], 'a tail of 1 (under half of 3) is folded into [4, 5, 6, 100]');
  assert.deepEqual(stretchMedians([1, 2, 3, 4, 5, 6, 7, 8], 1000, 3000), [2, 5, 7], 'a tail of 2 stays a stretch of its own');
  assert.deepEqual(stretchMedians([4, 1], 1000, 3000), [1], 'a series shorter than a stretch is one stretch');
  assert.deepEqual(stretchMedians([], 1000, 3000), []);
});

test('growthAfterWarmup leaves the warm-up out and compares the measured span\'s first and last windows', () => {
  // 10 samples of warm-up rising 40 -> 49, then a flat 50 with noise: the rise in the warm-up is not growth.
  const warmup = Array.from({ length: 10 }, (_, i) => 40 + i);
  const steady = [50, 51, 49, 50, 52, 48, 50, 51, 49, 50];
  const g = growthAfterWarmup([...warmup, ...steady], 1000, 10_000, 3000);
  assert.equal(g.warmupSamples, 10);
  assert.equal(g.measuredSamples, 10);
  assert.equal(g.first, 50, 'median of 50, 51, 49');
  assert.equal(g.last, 50, 'median of 51, 49, 50');
  assert.equal(g.growth, 0);
  const fromStart = growthAfterWarmup([...warmup, ...steady], 1000, 0, 3000);
  assert.equal(fromStart.first, 41);
  assert.equal(fromStart.growth, 9, 'from the start the warm-up counts');
});

test('growthAfterWarmup reports growth in the measured span, and its trend per hour', () => {
  // One sample a minute rising 1 MiB a minute after 5 minutes of warm-up: 60 MiB an hour.
  const values = [...Array.from({ length: 5 }, () => 10), ...Array.from({ length: 20 }, (_, i) => 100 + i)];
  const g = growthAfterWarmup(values, 60_000, 300_000, 180_000);
  assert.equal(g.first, 101);
  assert.equal(g.last, 118);
  assert.equal(g.growth, 17);
  assert.ok(Math.abs(g.trendPerHour - 60) < 1e-9, `trend ${g.trendPerHour}`);
});

test('growthAfterWarmup counts a partial sample interval of warm-up as warm-up', () => {
  // A 2.5 s warm-up at 1 s samples: samples at 0, 1 and 2 s are in it.
  assert.equal(growthAfterWarmup([1, 2, 3, 4, 5, 6, 7, 8], 1000, 2500, 2000).warmupSamples, 3);
});

test('growthAfterWarmup refuses a measured span that cannot hold two separate windows, and nonsense timings', () => {
  assert.throws(() => growthAfterWarmup([1, 2, 3, 4, 5], 1000, 2000, 2000), /3 samples after the warm-up cannot hold two windows of 2/);
  assert.throws(() => growthAfterWarmup([1, 2, 3], 1000, 60_000, 1000), /0 samples after the warm-up/, 'a warm-up longer than the run');
  assert.throws(() => growthAfterWarmup([1, 2, 3, 4], 0, 0, 1000), /sampleMs must be positive \(0\)/);
  assert.throws(() => growthAfterWarmup([1, 2, 3, 4], 1000, 0, 500), /windowMs at least sampleMs \(500\)/);
  assert.throws(() => growthAfterWarmup([1, 2, 3, 4], 1000, -1, 1000), /warmupMs not negative \(-1\)/);
  assert.throws(() => growthAfterWarmup([1, 2, 3, 4], Number.NaN, 0, 1000), /sampleMs must be positive \(NaN\)/);
});
