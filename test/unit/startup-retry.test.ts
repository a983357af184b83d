import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { retryForever, type AttemptFailure } from '../../src/startup/retry-forever.ts';
import { createFailureLog, describeError } from '../../src/startup/failure-log.ts';
import { startupSteps } from '../../src/startup/startup-steps.ts';
import { createComponentMetrics } from '../../src/startup/component-metrics.ts';
import { Readiness } from '../../src/server/readiness.ts';

/** A pino logger whose lines land in an array, parsed. */
function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (text: string) => { lines.push(JSON.parse(text) as Record<string, unknown>); } });
  return { logger, lines };
}

const failTimes = (n: number, error: () => unknown = () => new Error('boom')) => {
  let calls = 0;
  const attempt = async () => {
    calls++;
    if (calls <= n) throw error();
    return `ok after ${calls}`;
  };
  return { attempt, calls: () => calls };
};

test('retryForever returns the first success and reports each failure with its attempt number', async () => {
  const failures: AttemptFailure[] = [];
  const { attempt, calls } = failTimes(4);
  const result = await retryForever(attempt, { minDelayMs: 1, maxDelayMs: 4, onFailure: (f) => failures.push(f) });
  assert.equal(result, 'ok after 5');
  assert.equal(calls(), 5);
  assert.deepEqual(failures.map((f) => f.attempt), [1, 2, 3, 4]);
  assert.ok(failures.every((f) => f.error.message === 'boom'));
});

test('retryForever does not give up after many failures (no retry budget)', async () => {
  const { attempt, calls } = failTimes(60);
  assert.equal(await retryForever(attempt, { minDelayMs: 0.01, maxDelayMs: 0.01 }), 'ok after 61');
  assert.equal(calls(), 61);
});

test('retryForever backs off exponentially with jitter, capped at the maximum', async () => {
  const delays: number[] = [];
  const { attempt } = failTimes(8);
  await retryForever(attempt, { minDelayMs: 1, maxDelayMs: 20, onFailure: (f) => delays.push(f.retryInMs ?? -1) });
  // Attempt n waits in [min * 2^(n-1), 2 * min * 2^(n-1)), rounded, never above the cap.
  delays.forEach((delay, i) => {
    const low = Math.min(20, 2 ** i);
    assert.ok(delay >= low && delay <= Math.min(20, 2 * 2 ** i), `delay ${i + 1} was ${delay} ms`);
  });
  assert.equal(delays.at(-1), 20, 'the last pauses reach the cap');
});

test('retryForever keeps retrying TypeErrors and thrown non-errors, which p-retry alone would give up on', async () => {
  const type = failTimes(2, () => new TypeError('not a function'));
  const seen: Error[] = [];
  assert.equal(await retryForever(type.attempt, { minDelayMs: 1, maxDelayMs: 1, onFailure: (f) => seen.push(f.error) }), 'ok after 3');
  assert.ok(seen[0] instanceof TypeError, 'the original error is reported');
  const odd = failTimes(2, () => 'a string');
  assert.equal(await retryForever(odd.attempt, { minDelayMs: 1, maxDelayMs: 1 }), 'ok after 3');
});

test('retryForever stops when its signal aborts, during the pause, with the abort reason', async () => {
  const controller = new AbortController();
  const reason = new Error('stopping');
  let calls = 0;
  const pending = retryForever(async () => { calls++; throw new Error('still failing'); }, {
    minDelayMs: 60_000, maxDelayMs: 60_000, signal: controller.signal,
    onFailure: () => controller.abort(reason),
  });
  await assert.rejects(pending, (error) => error === reason);
  assert.equal(calls, 1);
});

test('failure log: one warning for a repeated error, a reminder after the interval, a new warning on a different error, one recovery line', () => {
  const { logger, lines } = capturingLogger();
  let now = 0;
  const log = createFailureLog({ logger, name: 'state-dir', what: 'preparing /x', remindEveryMs: 60_000, now: () => now });
  const fail = (message: string) => log.failed({ error: new Error(message), attempt: 0, retryInMs: 100 });
  fail('EROFS');
  for (let i = 0; i < 20; i++) { now += 1000; fail('EROFS'); }
  assert.equal(lines.length, 1, 'twenty repeats within a minute add nothing');
  assert.equal(lines[0]!.msg, 'preparing /x failed; retrying with backoff');
  assert.equal(lines[0]!.step, 'state-dir');
  assert.equal(lines[0]!.err, 'EROFS');
  now += 40_000; fail('EROFS');
  assert.equal(lines.length, 2);
  assert.equal(lines[1]!.msg, 'preparing /x still failing; retrying with backoff');
  assert.equal(lines[1]!.failuresSinceLastLog, 21);
  assert.equal(lines[1]!.failingSeconds, 60);
  now += 1000; fail('EACCES');
  assert.equal(lines.length, 3);
  assert.match(String(lines[2]!.msg), /now with a different error/);
  log.succeeded();
  assert.equal(lines.length, 4);
  assert.equal(lines[3]!.msg, 'preparing /x recovered');
  assert.equal(lines[3]!.failedAttempts, 23);
  log.succeeded();
  assert.equal(lines.length, 4, 'success without failures logs nothing');
  fail('EROFS');
  assert.equal(lines.length, 5, 'a new failing period starts with a warning again');
  assert.equal(lines[4]!.msg, 'preparing /x failed; retrying with backoff');
});

test('describeError adds the errno code unless the message has it', () => {
  const withCode = Object.assign(new Error('listen failed'), { code: 'EADDRINUSE' });
  assert.equal(describeError(withCode), 'listen failed (EADDRINUSE)');
  const already = Object.assign(new Error('listen EADDRINUSE: address already in use 127.0.0.1:1'), { code: 'EADDRINUSE' });
  assert.equal(describeError(already), 'listen EADDRINUSE: address already in use 127.0.0.1:1');
  assert.equal(describeError(new Error('')), 'Error');
});

function stepFixture() {
  const { logger, lines } = capturingLogger();
  const registry = new Registry();
  const metrics = createComponentMetrics(registry);
  const readiness = new Readiness({});
  const controller = new AbortController();
  const closers: Array<() => Promise<void> | void> = [];
  const runStep = startupSteps({ readiness, metrics, logger, signal: controller.signal, closers, retry: { minDelayMs: 1, maxDelayMs: 2 } });
  const value = async (name: string) => (await metrics.failing.get()).values.find((v) => v.labels.component === name)?.value;
  const count = async (name: string) => (await metrics.failures.get()).values.find((v) => v.labels.component === name)?.value;
  return { lines, readiness, controller, closers, runStep, value, count };
}

test('a failing step is a readiness condition naming what fails, a metric and one log line; success clears them', async () => {
  const f = stepFixture();
  let release!: () => void;
  const released = new Promise<void>((resolve) => { release = resolve; });
  let attempts = 0;
  let closed = 0;
  const step = f.runStep({
    name: 'state-dir', what: 'preparing the state directory /var/lib/seaway',
    attempt: async () => {
      attempts++;
      if (attempts < 4) throw Object.assign(new Error('read-only file system'), { code: 'EROFS' });
      if (attempts === 4) { await released; throw Object.assign(new Error('read-only file system'), { code: 'EROFS' }); }
      return 'done';
    },
    close: () => { closed++; },
  });
  // While attempt 4 hangs, look at the state after three failures.
  await waitUntil(() => attempts === 4);
  assert.equal(f.readiness.ready, false);
  assert.match(f.readiness.reasons[0]!, /^state-dir: preparing the state directory \/var\/lib\/seaway failed: read-only file system \(EROFS\); retrying \(attempt 3, next in \d\.\d s\)$/);
  assert.equal(await f.value('state-dir'), 1);
  assert.equal(await f.count('state-dir'), 3);
  assert.equal(f.lines.filter((l) => l.level === 40).length, 1, 'one warning for three identical failures');
  release();
  assert.equal(await step, 'done');
  assert.equal(f.readiness.ready, true);
  assert.equal(await f.value('state-dir'), 0);
  assert.equal(await f.count('state-dir'), 4);
  assert.equal(f.lines.at(-1)!.msg, 'preparing the state directory /var/lib/seaway recovered');
  assert.equal(f.closers.length, 1);
  await f.closers[0]!();
  assert.equal(closed, 1);
});

test('a step that succeeds at once changes nothing in readiness and logs no failure', async () => {
  const f = stepFixture();
  f.readiness.unmet('other', 'something else');
  assert.equal(await f.runStep({ name: 'netlink', what: 'opening', attempt: () => 42 }), 42);
  assert.deepEqual(f.readiness.reasons, ['other: something else']);
  assert.equal(f.lines.length, 0);
  assert.equal(f.closers.length, 0, 'nothing to close');
});

test('stopping rejects pending steps, and a value made after the stop is closed at once, not registered', async () => {
  const f = stepFixture();
  const retrying = f.runStep({ name: 'a', what: 'a', attempt: () => { throw new Error('no'); } });
  let finish!: () => void;
  const gate = new Promise<void>((resolve) => { finish = resolve; });
  let closedLate = false;
  const slow = f.runStep({ name: 'b', what: 'b', attempt: async () => { await gate; return 'made'; }, close: () => { closedLate = true; } });
  await waitUntil(() => f.readiness.reasons.some((r) => r.startsWith('a:')));
  const reason = new Error('stopping on SIGTERM');
  f.controller.abort(reason);
  await assert.rejects(retrying, (error) => error === reason);
  finish();
  await assert.rejects(slow, (error) => error === reason);
  assert.equal(closedLate, true);
  assert.equal(f.closers.length, 0);
});

async function waitUntil(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setImmediate(resolve));
  }
}
