/**
 * Every error path of the informer's restart state machine, driven through an injected list and
 * watch in virtual time: 410 relists, a reset connection or a TypeError re-watches from the last
 * version, list failures back off and are said once per cause, and a watch that ends at once is a
 * failure while one that ends after a while resumes at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createInformer, MAX_SILENCE_MS, SHORT_WATCH_MS } from '../../src/k8s/informer.ts';
import { captureLogger, httpError, metricValue, object, ScriptedSource, testMetrics, unlimited, VirtualClock, type TestObject } from './informer-fakes.ts';

const BACKOFF = { minMs: 1000, maxMs: 60_000 };

function setup(options: { random?: () => number; watchTimeoutSeconds?: number } = {}) {
  const clock = new VirtualClock();
  const source = new ScriptedSource(clock, [object('a', '5', { v: 1 })], '10');
  const { logger, lines } = captureLogger();
  const metrics = testMetrics();
  const seen: string[] = [];
  const informer = createInformer(
    { name: 'things', source, project: (o: TestObject) => ({ name: o.metadata.name, spec: o.spec }) },
    { logger, metrics, limiter: unlimited, settings: { backoff: BACKOFF, watchTimeoutSeconds: options.watchTimeoutSeconds ?? 300 }, clock, random: options.random ?? (() => 0.5) },
  );
  informer.onChange((changes) => { for (const c of changes) seen.push(`${c.key}:${JSON.stringify(c.current?.spec ?? null)}`); });
  const said = () => lines.filter((l) => l.informer === 'things' && l.level >= 30 && l.msg !== 'informer synced');
  return { clock, source, lines, metrics, informer, seen, said };
}

const reset = () => Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
const refused = () => Object.assign(new Error('connect ECONNREFUSED 192.168.1.1:6443'), { code: 'ECONNREFUSED' });

test('410 Gone on the watch relists (after a backoff wait) and watches from the new list, without a failure log', async () => {
  const { clock, source, informer, said, metrics } = setup();
  informer.start();
  await clock.runUntil(1000);
  source.onList = () => ({ items: [object('a', '50', { v: 1 })], resourceVersion: '60' });
  source.current?.fail(httpError(410, 'Expired'));
  await clock.runUntil(5000);
  assert.deepEqual(source.calls.map((c) => c.op), ['list', 'watch', 'list', 'watch']);
  assert.ok(source.calls[2]!.at >= 1000 + BACKOFF.minMs / 2, 'the relist waited a backoff step');
  assert.equal(source.calls[3]?.resourceVersion, '60', 'watching from the relist');
  assert.deepEqual(said(), [], '410 is routine: nothing logged');
  assert.equal(await metricValue(metrics, 'informerRestarts', { informer: 'things' }), 1);
  assert.equal(await metricValue(metrics, 'informerFailing', { informer: 'things' }), 0);
  await informer.stop();
});

test('a reset connection re-watches from the last version; refused reconnects are the same cause and add no log line', async () => {
  const { clock, source, informer, said, seen } = setup();
  informer.start();
  await clock.runUntil(1000);
  source.current?.emit({ type: 'MODIFIED', object: object('a', '12', { v: 2 }) });
  let refusals = 3;
  source.onWatch = () => (refusals-- > 0 ? refused() : undefined);
  source.current?.fail(reset());
  await clock.runUntil(60_000);
  const watches = source.calls.filter((c) => c.op === 'watch');
  assert.equal(watches.length, 5, 'the first, three refused, the one that works');
  assert.ok(watches.slice(1).every((c) => c.resourceVersion === '12'), 'every retry resumes from version 12');
  assert.equal(source.count('list'), 1, 'no relist');
  assert.deepEqual(said().map((l) => [l.msg, l.cause]), [['informer failing; retrying with backoff', 'unreachable'], ['informer recovered', undefined]]);
  assert.match(String(said()[0]?.err), /ECONNRESET/);
  source.current?.emit({ type: 'MODIFIED', object: object('a', '13', { v: 3 }) });
  await clock.runUntil(61_000);
  assert.deepEqual(seen.slice(-1), ['a:{"v":3}'], 'events flow again');
  await informer.stop();
});

test('a TypeError thrown by the client (a bug, or undici\'s "fetch failed") never ends the informer', async () => {
  const { clock, source, informer, said, seen } = setup();
  let broken = 2;
  source.onList = () => {
    if (broken-- > 0) throw new TypeError("Cannot read properties of undefined (reading 'items')");
    return { items: [object('a', '5', { v: 1 })], resourceVersion: '10' };
  };
  let throwing = 2;
  source.onWatch = () => {
    if (throwing-- > 0) throw new TypeError('fetch failed', { cause: { code: 'UND_ERR_SOCKET' } });
    return undefined;
  };
  informer.start();
  await clock.runUntil(60_000);
  assert.equal(informer.synced, true);
  assert.equal(source.open, 1, 'watching after two broken lists and two broken watches');
  assert.deepEqual(said().map((l) => [l.msg, l.cause]), [
    ['informer failing; retrying with backoff', 'unexpected'],
    ['informer recovered', undefined],
    ['informer failing; retrying with backoff', 'unreachable'],
    ['informer recovered', undefined],
  ]);
  source.current?.emit({ type: 'ADDED', object: object('b', '11', { v: 1 }) });
  await clock.runUntil(61_000);
  assert.deepEqual(seen, ['a:{"v":1}', 'b:{"v":1}']);
  await informer.stop();
});

test('a failing list backs off with growing waits, is said once per cause, and syncs once it works', async () => {
  const { clock, source, informer, said } = setup({ random: () => 0.5 });
  const failures = [httpError(500, 'InternalError'), httpError(500, 'InternalError'), refused(), refused()];
  source.onList = () => {
    const failure = failures.shift();
    if (failure) throw failure;
    return { items: [object('a', '5')], resourceVersion: '10' };
  };
  let synced = 0;
  informer.onSynced(() => { synced++; });
  informer.start();
  await clock.runUntil(30_000);
  const lists = source.calls.filter((c) => c.op === 'list').map((c) => c.at);
  assert.equal(lists.length, 5);
  const gaps = lists.slice(1).map((at, i) => at - lists[i]!);
  // random 0.5: each wait is three quarters of a ceiling that doubles from 1 s.
  assert.deepEqual(gaps, [750, 1500, 3000, 6000]);
  assert.equal(informer.synced, true);
  assert.equal(synced, 1);
  assert.deepEqual(said().map((l) => l.msg), ['informer failing; retrying with backoff', 'informer still failing, with another cause', 'informer recovered']);
  assert.deepEqual(said().map((l) => l.op), ['list', 'list', undefined]);
  await informer.stop();
});

test('a watch the server ends at once without events is a failure (backoff); one that ran a while resumes at once', async () => {
  const { clock, source, informer, said } = setup();
  informer.start();
  await clock.runUntil(500);
  // Ends within a second, nothing delivered: "very short watch", as client-go calls it.
  source.current?.end();
  await clock.runUntil(501);
  assert.equal(source.count('watch'), 1, 'not re-watched at once');
  assert.equal(said()[0]?.cause, 'watch closed at once');
  await clock.runUntil(20_000);
  assert.equal(source.count('watch'), 2);
  // This one stays open past SHORT_WATCH_MS, then the server ends it (its timeout): re-watched at once.
  const endedAt = clock.now();
  assert.ok(endedAt - source.calls.at(-1)!.at > SHORT_WATCH_MS);
  source.current?.end();
  await clock.runUntil(endedAt);
  assert.equal(source.count('watch'), 3);
  assert.equal(source.calls.at(-1)?.at, endedAt, 'resumed without waiting');
  assert.deepEqual(said().map((l) => l.msg), ['informer failing; retrying with backoff', 'informer recovered']);
  await informer.stop();
});

test('each watch asks for a server-side timeout in [T, 2T) and is presumed dead only after 120 s of silence: no forced reconnect churn', async () => {
  const randoms = [0, 0.5, 0.999];
  for (const r of randoms) {
    const { clock, source, informer } = setup({ random: () => r, watchTimeoutSeconds: 300 });
    informer.start();
    await clock.runUntil(1000);
    const call = source.calls.find((c) => c.op === 'watch');
    assert.ok(call?.timeoutSeconds !== undefined && call.timeoutSeconds >= 300 && call.timeoutSeconds < 600, `timeoutSeconds ${call?.timeoutSeconds}`);
    assert.equal(call.silenceMs, MAX_SILENCE_MS);
    // Quiet for ten minutes: the informer itself never ends a watch (only the server, or the source's silence deadline).
    await clock.runUntil(10 * 60_000);
    assert.equal(source.count('watch'), 1);
    await informer.stop();
  }
  const { clock, source, informer } = setup({ watchTimeoutSeconds: 3 });
  informer.start();
  await clock.runUntil(1000);
  assert.equal(source.calls.find((c) => c.op === 'watch')?.silenceMs, 6000, 'a short watch timeout shortens the silence limit with it');
  await informer.stop();
});

test('after a watch that ran well breaks, the first retry waits the first backoff step, not where an old streak left off', async () => {
  const { clock, source, informer } = setup({ random: () => 0.999 });
  informer.start();
  await clock.runUntil(1000);
  // An outage long enough to reach the backoff's ceiling...
  let failuresLeft = 8;
  source.onWatch = () => (failuresLeft-- > 0 ? httpError(500, 'InternalError') : undefined);
  source.current?.fail(httpError(500, 'InternalError'));
  await clock.runUntil(10 * 60_000);
  assert.equal(source.open, 1);
  // ...then hours of a good watch, which then breaks.
  await clock.runUntil(5 * 3600_000);
  const brokeAt = clock.now();
  source.current?.fail(reset());
  await clock.runUntil(brokeAt + 5 * 60_000);
  const retry = source.calls.find((c) => c.op === 'watch' && c.at > brokeAt);
  assert.ok(retry && retry.at - brokeAt <= BACKOFF.minMs, `first retry ${retry ? retry.at - brokeAt : 'never'} ms after the break`);
  await informer.stop();
});

test('a failing streak counts its restarts and the recovery line says how long it failed', async () => {
  const { clock, source, informer, said, metrics } = setup({ random: () => 0 });
  informer.start();
  await clock.runUntil(1000);
  let failuresLeft = 4;
  source.onWatch = () => (failuresLeft-- > 0 ? httpError(503, 'ServiceUnavailable') : undefined);
  source.current?.fail(httpError(500, 'InternalError'));
  await clock.runUntil(60_000);
  const recovered = said().find((l) => l.msg === 'informer recovered');
  assert.equal(recovered?.restarts, 5);
  assert.ok(Number(recovered?.failedForSeconds) > 0);
  // The 500 and the 503s are two causes: two failing lines, one recovery.
  assert.deepEqual(said().map((l) => l.cause ?? 'recovered'), ['HTTP 500 InternalError', 'HTTP 503 ServiceUnavailable', 'recovered']);
  assert.equal(await metricValue(metrics, 'apiErrors', { operation: 'things' }), 5);
  await informer.stop();
});

test('onHealth hears when the informer starts failing (with the cause) and when it recovers, for the api readiness condition', async () => {
  const clock = new VirtualClock();
  const source = new ScriptedSource(clock, [object('a', '5', { v: 1 })], '10');
  const health: Array<[string, string | null]> = [];
  const failures = [httpError(500, 'InternalError'), refused()];
  source.onList = () => {
    const failure = failures.shift();
    if (failure) throw failure;
    return { items: [object('a', '5')], resourceVersion: '10' };
  };
  const informer = createInformer(
    { name: 'things', source, project: (o: TestObject) => ({ name: o.metadata.name, spec: o.spec }) },
    { logger: captureLogger().logger, metrics: testMetrics(), limiter: unlimited, settings: { backoff: BACKOFF, watchTimeoutSeconds: 300 }, clock, random: () => 0.5, onHealth: (name, cause) => health.push([name, cause]) },
  );
  informer.start();
  await clock.runUntil(30_000);
  assert.deepEqual(health.map(([name, cause]) => [name, cause?.replace(/:.*/, '') ?? null]), [['things', 'HTTP 500 InternalError'], ['things', 'unreachable'], ['things', null]]);
  await informer.stop();
});
