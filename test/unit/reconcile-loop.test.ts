import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as flush } from 'node:timers/promises';
import { pino } from 'pino';
import { startReconcileLoop } from '../../src/reconcile/loop.ts';
import { backoffBounds } from '../../src/model/backoff.ts';

const logger = pino({ level: 'silent' });

/** Virtual time: timers and Date are mocked, so seconds of triggers run in milliseconds and delays are exact. */
function virtualClock(t: TestContext) {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 1_000_000 });
  return {
    now: () => Date.now(),
    /** Advances time by `ms` in steps of `step`, letting promise chains (the passes) run in between. */
    async advance(ms: number, step = 1, each?: (elapsed: number) => void) {
      for (let elapsed = step; elapsed <= ms; elapsed += step) {
        t.mock.timers.tick(step);
        each?.(elapsed);
        await flush();
        await flush();
      }
    },
  };
}

test('triggers during a pass coalesce into exactly one more pass, never overlapping', async () => {
  let active = 0;
  let maxActive = 0;
  const seen: string[][] = [];
  let release!: () => void;
  let firstStarted!: () => void;
  const started = new Promise<void>((resolve) => { firstStarted = resolve; });
  const gate = new Promise<void>((resolve) => { release = resolve; });
  const loop = startReconcileLoop({
    logger, resyncMs: 60_000, minIntervalMs: 0,
    pass: async (reasons) => {
      active++; maxActive = Math.max(maxActive, active);
      seen.push([...reasons]);
      if (seen.length === 1) { firstStarted(); await gate; }
      active--;
      return {};
    },
  });
  loop.trigger('a');
  await started;
  loop.trigger('b'); loop.trigger('c'); loop.trigger('b');
  release();
  await loop.idle();
  await loop.stop();
  assert.deepEqual(seen, [['a'], ['b', 'c']]);
  assert.equal(maxActive, 1);
});

test('a trigger every 20 ms for 5 s runs passes no closer than the throttle, and the last trigger is served', async (t) => {
  const clock = virtualClock(t);
  const starts: number[] = [];
  const loop = startReconcileLoop({ logger, resyncMs: 3_600_000, minIntervalMs: 250, pass: async () => { starts.push(clock.now()); return {}; } });
  let lastTrigger = 0;
  await clock.advance(5000, 1, (elapsed) => { if (elapsed % 20 === 0) { loop.trigger('event'); lastTrigger = clock.now(); } });
  await clock.advance(300);
  await loop.stop();
  const gaps = starts.slice(1).map((s, i) => s - starts[i]!);
  assert.ok(gaps.every((g) => g >= 250), `gaps between pass starts: ${gaps.join(', ')}`);
  // 250 triggers became at most one pass per 250 ms (plus the first, which runs at once).
  assert.ok(starts.length <= 5000 / 250 + 1, `${starts.length} passes`);
  assert.ok(starts.length >= 5000 / 250 - 1, `${starts.length} passes: the throttle delays passes, it does not drop them`);
  assert.ok(starts.at(-1)! >= lastTrigger, 'a pass ran after the last trigger');
});

test('a pass that throws is retried on an exponential backoff that triggers never bypass', async (t) => {
  const clock = virtualClock(t);
  const policy = { minMs: 100, maxMs: 1600 };
  const attempts: number[] = [];
  const loop = startReconcileLoop({
    logger, resyncMs: 3_600_000, minIntervalMs: 10, minRetryMs: policy.minMs, maxRetryMs: policy.maxMs, random: () => 0,
    pass: async () => { attempts.push(clock.now()); throw new Error('netlink dump failed'); },
  });
  loop.trigger('start');
  await flush();
  await clock.advance(8000, 1, (elapsed) => { if (elapsed % 20 === 0) loop.trigger('event'); });
  await loop.stop();
  const delays = attempts.slice(1).map((a, i) => a - attempts[i]!);
  // random 0 draws the low end of each range: 50, 100, 200, 400, 800, then the cap's 800 again.
  const expected = delays.map((_, i) => backoffBounds(i + 1, policy).lowMs);
  assert.deepEqual(delays, expected, `measured delays ${delays.join(', ')}`);
  assert.ok(attempts.length >= 8, `${attempts.length} attempts in 8 s`);
});

test('objects waiting out their backoff get a pass when their retry is due, without any trigger', async (t) => {
  const clock = virtualClock(t);
  const passes: Array<{ at: number; reasons: readonly string[] }> = [];
  const loop = startReconcileLoop({
    logger, resyncMs: 3_600_000, minIntervalMs: 50,
    pass: async (reasons) => {
      passes.push({ at: clock.now(), reasons });
      return passes.length === 1 ? { retryAt: clock.now() + 700 } : {};
    },
  });
  loop.trigger('start');
  await clock.advance(2000, 5);
  await loop.stop();
  assert.equal(passes.length, 2);
  assert.equal(passes[1]!.at - passes[0]!.at, 700);
  assert.deepEqual(passes[1]!.reasons, ['object retry due']);
});

test('a pass that ends after stop arms no object retry: no timer is left to keep a stopping process alive', async () => {
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const before = timers();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  const loop = startReconcileLoop({
    logger, resyncMs: 3_600_000, minIntervalMs: 0,
    pass: async () => { await gate; return { retryAt: Date.now() + 30_000 }; },
  });
  loop.trigger('start');
  const stopping = loop.stop();
  release();
  await stopping;
  assert.equal(timers(), before);
});

test('the periodic resync wakes the loop without any trigger', async (t) => {
  const clock = virtualClock(t);
  const reasons: string[][] = [];
  const loop = startReconcileLoop({ logger, resyncMs: 1000, pass: async (r) => { reasons.push([...r]); return {}; } });
  await clock.advance(2500, 10);
  await loop.stop();
  assert.deepEqual(reasons, [['periodic resync'], ['periodic resync']]);
});

test('idle waits for a pass held back by the throttle, and after stop no pass runs', async (t) => {
  const clock = virtualClock(t);
  let calls = 0;
  const loop = startReconcileLoop({ logger, resyncMs: 3_600_000, minIntervalMs: 500, pass: async () => { calls++; return {}; } });
  loop.trigger('first');
  await flush();
  loop.trigger('second');
  let idle = false;
  void loop.idle().then(() => { idle = true; });
  await clock.advance(400, 10);
  assert.equal(idle, false, 'the second pass is still queued behind the throttle');
  await clock.advance(200, 10);
  assert.equal(idle, true);
  assert.equal(calls, 2);
  await loop.stop();
  loop.trigger('late');
  await clock.advance(1000, 50);
  assert.equal(calls, 2);
});

test('a failure repeated on every retry is logged once at error level, a new failure again, and recovery once', async (t) => {
  const clock = virtualClock(t);
  const lines: Array<{ level: number; msg: string; err?: string; afterFailures?: number }> = [];
  const captured = pino({ level: 'debug' }, { write: (line: string) => { lines.push(JSON.parse(line)); } });
  const outcomes: Array<Error | true> = [new Error('EPERM'), new Error('EPERM'), new Error('EPERM'), new Error('ENOBUFS'), true];
  const loop = startReconcileLoop({
    logger: captured, resyncMs: 3_600_000, minIntervalMs: 0, minRetryMs: 10, maxRetryMs: 20,
    pass: async () => {
      const outcome = outcomes.shift()!;
      if (outcome instanceof Error) throw outcome;
      return {};
    },
  });
  loop.trigger('start');
  await clock.advance(500, 5);
  await loop.stop();
  assert.equal(outcomes.length, 0);
  const at = (level: number, msg: string) => lines.filter((l) => l.level === level && l.msg === msg);
  const ERROR = 50, INFO = 30, DEBUG = 20;
  const failed = 'reconcile pass failed; retrying with backoff';
  assert.deepEqual(at(ERROR, failed).map((l) => l.err), ['EPERM', 'ENOBUFS']);
  assert.deepEqual(at(DEBUG, failed).map((l) => l.err), ['EPERM', 'EPERM']);
  assert.deepEqual(at(INFO, 'reconcile pass succeeded again').map((l) => l.afterFailures), [4]);
});
