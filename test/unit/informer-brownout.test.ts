/**
 * The informer under a long API brownout, in virtual time with the agent's default settings: a
 * minute of errors on every watch costs a handful of requests and two log lines, never a second
 * loop or a second open watch, and the informer resumes from where it was, without relisting.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULTS } from '../../src/config.ts';
import { createInformer } from '../../src/k8s/informer.ts';
import { captureLogger, httpError, metricValue, object, ScriptedSource, testMetrics, unlimited, VirtualClock, type TestObject } from './informer-fakes.ts';

const SETTINGS = {
  backoff: { minMs: DEFAULTS.apiRetryMinMs, maxMs: DEFAULTS.apiRetryMaxMs },
  watchTimeoutSeconds: DEFAULTS.apiWatchTimeoutSeconds,
};
const OUTAGE_START = 10_000;
const OUTAGE_MS = 60_000;

function setup(random: () => number) {
  const clock = new VirtualClock();
  const source = new ScriptedSource(clock, [object('a', '5')], '10');
  const { logger, lines } = captureLogger();
  const metrics = testMetrics();
  const informer = createInformer(
    { name: 'things', source, project: (o: TestObject) => ({ name: o.metadata.name, spec: o.spec }) },
    { logger, metrics, limiter: unlimited, settings: SETTINGS, clock, random },
  );
  return { clock, source, lines, metrics, informer };
}

const randoms: Array<[string, () => number]> = [['the shortest waits', () => 0], ['the longest waits', () => 0.999], ['random waits', Math.random]];

for (const [which, random] of randoms) {
  test(`60 s of HTTP 500 on every watch (${which}): at most 7 watch requests, no relist, 2 log lines, one watch afterwards, resumed from the last version`, async () => {
    const { clock, source, lines, metrics, informer } = setup(random);
    informer.start();
    await clock.runUntil(1000);
    assert.equal(source.open, 1, 'watching after the first list');
    source.current?.emit({ type: 'MODIFIED', object: object('a', '11', { v: 2 }) });
    await clock.runUntil(OUTAGE_START);

    // The brownout: the server drops the open watch and answers every new one with 500 for a minute.
    source.onWatch = (_request, call) => (call.at < OUTAGE_START + OUTAGE_MS ? httpError(500, 'InternalError') : undefined);
    source.current?.end();
    await clock.runUntil(OUTAGE_START + OUTAGE_MS - 1);
    const duringOutage = source.count('watch', OUTAGE_START);
    assert.ok(duringOutage <= 7, `${duringOutage} watch requests in the minute of errors`);
    assert.ok(duringOutage >= 4, `${duringOutage} watch requests: the backoff is capped, retries go on`);
    assert.equal(await metricValue(metrics, 'informerFailing', { informer: 'things' }), 1);

    // Recovery: the next retry (at most one backoff ceiling later) opens the one watch again.
    await clock.runUntil(OUTAGE_START + OUTAGE_MS + SETTINGS.backoff.maxMs + 2000);
    assert.equal(source.open, 1, 'one open watch after recovery');
    assert.equal(source.maxOpen, 1, 'never two open watches');
    const untilRecovered = source.count('watch', OUTAGE_START);
    assert.ok(untilRecovered <= 8, `${untilRecovered} watch requests from the start of the brownout until watching again`);
    assert.equal(source.count('list'), 1, 'a failed watch resumes from its version: no relist');
    assert.equal(source.calls.at(-1)?.resourceVersion, '11', 'resumed from the last version seen');
    assert.equal(await metricValue(metrics, 'informerFailing', { informer: 'things' }), 0);
    assert.equal(await metricValue(metrics, 'informerRestarts', { informer: 'things' }), untilRecovered - 1, 'every request after the first failure is a restart');

    const said = lines.filter((l) => l.informer === 'things' && l.msg !== 'informer synced');
    assert.deepEqual(said.map((l) => l.msg), ['informer failing; retrying with backoff', 'informer recovered']);
    assert.equal(said[0]?.cause, 'HTTP 500 InternalError');
    await informer.stop();
  });
}

test('429 with Retry-After: no watch request comes sooner than the server asked, though the backoff alone would be shorter', async () => {
  const { clock, source, lines, informer } = setup(() => 0);
  informer.start();
  await clock.runUntil(OUTAGE_START);
  const retryAfterMs = 20_000;
  let throttled = 0;
  source.onWatch = () => (throttled++ < 3 ? httpError(429, 'TooManyRequests', retryAfterMs) : undefined);
  source.current?.end();
  await clock.runUntil(OUTAGE_START + 4 * retryAfterMs);
  const watches = source.calls.filter((c) => c.op === 'watch' && c.at >= OUTAGE_START);
  assert.equal(watches.length, 4, 'three refused, the fourth open');
  for (let i = 1; i < watches.length; i++) {
    const gap = watches[i]!.at - watches[i - 1]!.at;
    assert.ok(gap >= retryAfterMs, `request ${i + 1} came ${gap} ms after a 429 asking for ${retryAfterMs} ms`);
  }
  assert.equal(source.open, 1);
  assert.equal(source.count('list'), 1);
  assert.deepEqual(lines.filter((l) => l.informer === 'things' && l.level >= 30 && l.msg !== 'informer synced').map((l) => l.msg),
    ['informer failing; retrying with backoff', 'informer recovered']);
  await informer.stop();
});

test('stop during the backoff ends the wait at once and no request follows', async () => {
  const { clock, source, informer } = setup(() => 0.5);
  informer.start();
  await clock.runUntil(1000);
  source.onWatch = () => httpError(503, 'ServiceUnavailable');
  source.current?.fail(httpError(500, 'InternalError'));
  await clock.runUntil(1001);
  assert.equal(clock.sleeping, 1, 'waiting out the backoff');
  const calls = source.calls.length;
  await informer.stop();
  assert.equal(clock.sleeping, 0, 'the wait was cancelled');
  await clock.runUntil(10 * 60_000);
  assert.equal(source.calls.length, calls, 'nothing was requested after stop');
});

test('stop while a watch is open closes it', async () => {
  const { clock, source, informer } = setup(() => 0.5);
  informer.start();
  await clock.runUntil(1000);
  assert.equal(source.open, 1);
  await informer.stop();
  assert.equal(source.open, 0);
});
