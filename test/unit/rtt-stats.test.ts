import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RttWindow, SUBMARINER_RTT_WINDOW, goDuration, latencyRtt } from '../../src/model/rtt-stats.ts';

const ns = 1;
const us = 1_000;
const ms = 1_000_000;
const s = 1_000_000_000;
const min = 60 * s;
const h = 60 * min;

test("goDuration matches Go's own time.Duration.String() test table, and its negations", () => {
  // durationTests from Go's src/time/time_test.go (TestDurationString negates every positive case).
  const table: Array<[string, bigint]> = [
    ['0s', 0n],
    ['1ns', 1n],
    ['1.1µs', 1100n],
    ['2.2ms', 2_200_000n],
    ['3.3s', 3_300_000_000n],
    ['4m5s', BigInt(4 * min + 5 * s)],
    ['4m5.001s', BigInt(4 * min + 5001 * ms)],
    ['5h6m7.001s', BigInt(5 * h + 6 * min + 7001 * ms)],
    ['8m0.000000001s', BigInt(8 * min) + 1n],
    ['2562047h47m16.854775807s', 2n ** 63n - 1n],
    ['-2562047h47m16.854775808s', -(2n ** 63n)],
  ];
  for (const [want, d] of table) {
    assert.equal(goDuration(d), want, `Duration(${d})`);
    if (d > 0n) assert.equal(goDuration(-d), `-${want}`, `Duration(${-d})`);
  }
});

test('goDuration: the unit switches at each power of a thousand below a second, fractions lose trailing zeros', () => {
  const cases: Array<[number, string]> = [
    [1 * ns, '1ns'],
    [999 * ns, '999ns'],
    [1 * us, '1µs'],
    [1001 * ns, '1.001µs'],
    [523 * us, '523µs'],
    [999_999 * ns, '999.999µs'],
    [1 * ms, '1ms'],
    [1_234_567 * ns, '1.234567ms'],
    [1_000_001 * ns, '1.000001ms'],
    [1_200_000 * ns, '1.2ms'],
    [999_999_999 * ns, '999.999999ms'],
    [1 * s, '1s'],
    [2 * s, '2s'],
    [1 * s + 1, '1.000000001s'],
    [1.5 * s, '1.5s'],
    [59 * s + 999 * ms, '59.999s'],
  ];
  for (const [d, want] of cases) assert.equal(goDuration(d), want, `${d} ns`);
  // The micro sign is U+00B5, as Go writes it, not the Greek mu U+03BC.
  assert.equal(goDuration(5 * us).codePointAt(1), 0xb5);
});

test('goDuration: from a second on, hours and minutes appear once non-zero and then stay, seconds always', () => {
  const cases: Array<[number, string]> = [
    [60 * s, '1m0s'],
    [62.5 * s, '1m2.5s'],
    [59 * min + 59 * s, '59m59s'],
    [1 * h, '1h0m0s'],
    [1 * h + 2 * min + 300 * ms, '1h2m0.3s'], // the example in Go's documentation of Duration.String
    [1 * h + 1, '1h0m0.000000001s'],
    [25 * h, '25h0m0s'], // no days: they differ in length
    [100 * h + 30 * s, '100h0m30s'],
  ];
  for (const [d, want] of cases) assert.equal(goDuration(d), want, `${d} ns`);
  assert.equal(goDuration(-62.5 * s), '-1m2.5s');
  assert.equal(goDuration(-300 * ms), '-300ms');
});

test('goDuration truncates fractional nanoseconds toward zero, as a conversion to Duration does', () => {
  assert.equal(goDuration(1.9), '1ns');
  assert.equal(goDuration(0.4), '0s');
  assert.equal(goDuration(-0.4), '0s');
  assert.equal(goDuration(-0), '0s');
  assert.equal(goDuration(-1.9), '-1ns');
  assert.equal(goDuration(693_424.6), '693.424µs');
  assert.equal(goDuration(205_994.077), '205.994µs');
});

test('goDuration refuses what is not an int64 count of nanoseconds', () => {
  for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e19, -1e19, 2n ** 63n, -(2n ** 63n) - 1n]) {
    assert.throws(() => goDuration(bad), RangeError, String(bad));
  }
  for (const bad of ['1ms', null, undefined, {}]) {
    assert.throws(() => goDuration(bad as unknown as number), RangeError, String(bad));
  }
});

test('an empty window has no summary; one sample is last, min, average and max, with no deviation', () => {
  const window = new RttWindow();
  assert.equal(window.summary(), null);
  assert.equal(window.size, 0);
  assert.equal(window.add(1_500_000), true);
  assert.deepEqual(window.summary(), { samples: 1, lastNs: 1_500_000, minNs: 1_500_000, averageNs: 1_500_000, maxNs: 1_500_000, stdDevNs: 0 });
});

test('mean and population standard deviation of a known set', () => {
  const window = new RttWindow(10);
  for (const x of [2, 4, 4, 4, 5, 5, 7, 9]) window.add(x * ms);
  const summary = window.summary()!;
  assert.equal(summary.samples, 8);
  assert.equal(summary.lastNs, 9 * ms);
  assert.equal(summary.minNs, 2 * ms);
  assert.equal(summary.maxNs, 9 * ms);
  assert.equal(summary.averageNs, 5 * ms);
  assert.equal(summary.stdDevNs, 2 * ms);
  assert.deepEqual(latencyRtt(summary), { last: '9ms', min: '2ms', average: '5ms', max: '9ms', stdDev: '2ms' });
});

test("the figures of Submariner's own statistics test (10 samples), as the Gateway status would show them", () => {
  // pkg/pinger/statistics_internal_test.go: expected mean 693424 and SD 205994 (whole ns).
  const window = new RttWindow(10);
  for (const x of [404351, 490406, 530333, 609556, 609650, 685106, 726265, 785707, 1048263, 1044609]) window.add(x);
  assert.deepEqual(latencyRtt(window.summary()!), {
    last: '1.044609ms',
    min: '404.351µs',
    average: '693.424µs',
    max: '1.048263ms',
    stdDev: '205.994µs',
  });
});

test('the window slides: only the last N samples count, min and max included', () => {
  const window = new RttWindow(3);
  for (const x of [1, 100, 3, 4, 5]) window.add(x * us);
  const summary = window.summary()!;
  assert.equal(window.size, 3);
  assert.deepEqual(
    { samples: summary.samples, last: summary.lastNs, min: summary.minNs, max: summary.maxNs, average: summary.averageNs },
    { samples: 3, last: 5 * us, min: 3 * us, max: 5 * us, average: 4 * us },
    'the 1µs minimum and the 100µs maximum fell out of the window',
  );
  window.add(2 * us);
  assert.deepEqual([window.summary()!.lastNs, window.summary()!.minNs, window.summary()!.maxNs], [2 * us, 2 * us, 5 * us]);
});

test("Submariner's window: 1000 samples by default, and a long run keeps exactly the last 1000", () => {
  const window = new RttWindow();
  assert.equal(window.capacity, SUBMARINER_RTT_WINDOW);
  assert.equal(SUBMARINER_RTT_WINDOW, 1000);
  for (let i = 1; i <= 2500; i++) window.add(i * us);
  const summary = window.summary()!;
  assert.equal(summary.samples, 1000);
  assert.equal(summary.minNs, 1501 * us);
  assert.equal(summary.maxNs, 2500 * us);
  assert.equal(summary.lastNs, 2500 * us);
  assert.equal(summary.averageNs, 2000.5 * us);
});

test('a small deviation on a long path is not lost in rounding', () => {
  const window = new RttWindow(1000);
  // 100 ms ± 10 µs alternating: the deviation is exactly 10 µs.
  for (let i = 0; i < 1000; i++) window.add(100 * ms + (i % 2 === 0 ? 10 : -10) * us);
  const summary = window.summary()!;
  assert.equal(summary.averageNs, 100 * ms);
  assert.ok(Math.abs(summary.stdDevNs - 10 * us) < 1e-6, String(summary.stdDevNs));
  assert.equal(latencyRtt(summary).stdDev, '10µs');
});

test('samples that cannot be an RTT are refused and change nothing (a clock step gives a negative one)', () => {
  const window = new RttWindow(5);
  window.add(3 * ms);
  const before = window.summary();
  for (const bad of [0, -0, -250 * us, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, '1' as unknown as number, 5n as unknown as number, undefined as unknown as number]) {
    assert.equal(window.add(bad), false, String(bad));
  }
  assert.deepEqual(window.summary(), before);
  assert.equal(window.size, 1);
});

test('clear forgets every sample; the window fills again from empty', () => {
  const window = new RttWindow(2);
  window.add(1 * ms);
  window.add(2 * ms);
  window.add(3 * ms);
  window.clear();
  assert.equal(window.summary(), null);
  assert.equal(window.size, 0);
  window.add(7 * ms);
  assert.deepEqual(window.summary(), { samples: 1, lastNs: 7 * ms, minNs: 7 * ms, averageNs: 7 * ms, maxNs: 7 * ms, stdDevNs: 0 });
});

test('a window must hold a positive whole number of samples', () => {
  for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60]) {
    assert.throws(() => new RttWindow(bad), RangeError, String(bad));
  }
  assert.equal(new RttWindow(1).capacity, 1);
});

test('latencyRtt writes whole nanoseconds, truncated, for every field', () => {
  assert.deepEqual(latencyRtt({ samples: 3, lastNs: 523_000, minNs: 999.9, averageNs: 1_234_567.89, maxNs: 62.5 * s, stdDevNs: 0.2 }), {
    last: '523µs',
    min: '999ns',
    average: '1.234567ms',
    max: '1m2.5s',
    stdDev: '0s',
  });
});

test('a window takes memory as samples come (8, doubling, at most its capacity), and growing and wrapping keep the last N exactly', () => {
  const window = new RttWindow(20);
  assert.equal(window.allocated, 0, 'a target that never answers costs no samples');
  window.add(1 * ms);
  assert.equal(window.allocated, 8);
  for (let i = 2; i <= 9; i++) window.add(i * ms);
  assert.equal(window.allocated, 16);
  for (let i = 10; i <= 25; i++) window.add(i * ms);
  assert.equal(window.allocated, 20, 'never more than the capacity');
  const summary = window.summary()!;
  // The last 20 of 1..25 ms: 6..25.
  assert.deepEqual([summary.samples, summary.lastNs, summary.minNs, summary.maxNs, summary.averageNs], [20, 25 * ms, 6 * ms, 25 * ms, 15.5 * ms]);
});
