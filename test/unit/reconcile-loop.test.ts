import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { startReconcileLoop } from '../../src/reconcile/loop.ts';

const logger = pino({ level: 'silent' });

test('triggers during a pass coalesce into exactly one more pass, never overlapping', async () => {
  let active = 0;
  let maxActive = 0;
  const seen: string[][] = [];
  let release!: () => void;
  let firstStarted!: () => void;
  const started = new Promise<void>((resolve) => { firstStarted = resolve; });
  const gate = new Promise<void>((resolve) => { release = resolve; });
  const loop = startReconcileLoop({
    logger, resyncMs: 60_000,
    pass: async (reasons) => {
      active++; maxActive = Math.max(maxActive, active);
      seen.push([...reasons]);
      if (seen.length === 1) { firstStarted(); await gate; }
      active--;
      return true;
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

test('a failed pass is retried with backoff until it succeeds', async () => {
  let calls = 0;
  let done!: () => void;
  const succeeded = new Promise<void>((resolve) => { done = resolve; });
  const loop = startReconcileLoop({
    logger, resyncMs: 60_000, minRetryMs: 5, maxRetryMs: 20, random: () => 0.5,
    pass: async () => {
      calls++;
      if (calls < 3) throw new Error('kernel said no');
      done();
      return true;
    },
  });
  loop.trigger('start');
  await succeeded;
  await loop.stop();
  assert.equal(calls, 3);
});

test('a pass resolving false counts as a failure and is retried', async () => {
  const results = [false, true];
  const reasons: string[][] = [];
  let done!: () => void;
  const finished = new Promise<void>((resolve) => { done = resolve; });
  const loop = startReconcileLoop({
    logger, resyncMs: 60_000, minRetryMs: 5,
    pass: async (r) => { reasons.push([...r]); const ok = results.shift()!; if (ok) done(); return ok; },
  });
  loop.trigger('start');
  await finished;
  await loop.stop();
  assert.deepEqual(reasons, [['start'], ['retry after failure']]);
});

test('the periodic resync wakes the loop without any trigger', async () => {
  let done!: (reasons: readonly string[]) => void;
  const ran = new Promise<readonly string[]>((resolve) => { done = resolve; });
  const loop = startReconcileLoop({ logger, resyncMs: 10, pass: async (r) => { done(r); return true; } });
  assert.deepEqual(await ran, ['periodic resync']);
  await loop.stop();
});

test('after stop no pass runs', async () => {
  let calls = 0;
  const loop = startReconcileLoop({ logger, resyncMs: 60_000, pass: async () => { calls++; return true; } });
  await loop.stop();
  loop.trigger('late');
  await loop.idle();
  assert.equal(calls, 0);
});

test('a failure repeated on every retry is logged once at error level, a new failure again, and recovery once', async () => {
  const lines: Array<{ level: number; msg: string; err?: string; afterFailures?: number }> = [];
  const captured = pino({ level: 'debug' }, { write: (line: string) => { lines.push(JSON.parse(line)); } });
  const outcomes: Array<Error | true> = [new Error('EPERM'), new Error('EPERM'), new Error('EPERM'), new Error('ENOBUFS'), true];
  let done!: () => void;
  const finished = new Promise<void>((resolve) => { done = resolve; });
  const loop = startReconcileLoop({
    logger: captured, resyncMs: 60_000, minRetryMs: 1, maxRetryMs: 2,
    pass: async () => {
      const outcome = outcomes.shift()!;
      if (outcome instanceof Error) throw outcome;
      done();
      return true;
    },
  });
  loop.trigger('start');
  await finished;
  await loop.idle();
  await loop.stop();
  const at = (level: number, msg: string) => lines.filter((l) => l.level === level && l.msg === msg);
  const ERROR = 50, WARN = 40, INFO = 30, DEBUG = 20;
  assert.deepEqual(at(ERROR, 'reconcile pass failed').map((l) => l.err), ['EPERM', 'ENOBUFS']);
  assert.deepEqual(at(DEBUG, 'reconcile pass failed').map((l) => l.err), ['EPERM', 'EPERM']);
  assert.equal(at(WARN, 'reconcile pass will be retried').length, 1);
  assert.equal(at(DEBUG, 'reconcile pass will be retried').length, 3);
  assert.deepEqual(at(INFO, 'reconcile pass succeeded again').map((l) => l.afterFailures), [4]);
});
