import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ObjectTable, type ComponentReport, type ObjectStatus } from '../../src/reconcile/object-table.ts';
import { backoffBounds, backoffDelay } from '../../src/model/backoff.ts';
import type { DesiredObject } from '../../src/plan/desired-objects.ts';

const policy = { minMs: 200, maxMs: 3200 };
const route = (dst: string, via = '240.1.0.1'): DesiredObject => ({ kind: 'route', key: `100 ${dst}`, object: `route ${dst} via ${via} table 100` });
const OK: ComponentReport = { failures: [], deferred: [] };
const failed = (o: DesiredObject, reason = 'File exists', code = 'EEXIST'): ComponentReport =>
  ({ failures: [{ ...o, reason, code }], deferred: [] });

function table(now = { t: 0 }, random = () => 0) {
  const settled: ObjectStatus[] = [];
  const t = new ObjectTable({ backoff: policy, now: () => now.t, random, onSettled: (s) => settled.push(s) });
  return { t, now, settled };
}

/** One pass of a component: prepare, let the component report with the gate it was given, record. */
function pass(t: ObjectTable, desired: DesiredObject[], report: (gate: (o: DesiredObject) => boolean) => ComponentReport): ComponentReport {
  const gate = t.prepare('routing', desired);
  const r = report((o) => gate(o.kind, o.key));
  t.record('routing', desired, r);
  return r;
}

const status = (t: ObjectTable, o: DesiredObject) => t.list().find((s) => s.kind === o.kind && s.key === o.key);

test('backoffDelay doubles from the minimum to the cap and draws from [ceiling/2, ceiling]', () => {
  const lows = [1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(n, policy, () => 0));
  assert.deepEqual(lows, [100, 200, 400, 800, 1600, 1600, 1600]);
  const highs = [1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(n, policy, () => 1));
  assert.deepEqual(highs, [200, 400, 800, 1600, 3200, 3200, 3200]);
  assert.deepEqual(backoffBounds(3, policy), { lowMs: 400, highMs: 800 });
  assert.equal(backoffDelay(10_000, policy, () => 0.5), 2400, 'huge failure counts neither overflow nor pass the cap');
  assert.equal(backoffDelay(0, policy, () => 0), 100, 'zero failures is treated as the first');
});

test('a failing object is gated by its own backoff while the others are programmed; it is retried when due', () => {
  const { t, now } = table();
  const bad = route('10.2.0.0/16');
  const good = route('10.3.0.0/16');
  const attempts: number[] = [];
  const apply = () => pass(t, [bad, good], (gate) => {
    if (!gate(bad)) return { failures: [], deferred: [bad] };
    attempts.push(now.t);
    return failed(bad);
  });
  for (now.t = 0; now.t <= 10_000; now.t += 20) apply();
  // random 0: the low end of each range, 100, 200, 400, 800, 1600, 1600...
  const delays = attempts.slice(1).map((a, i) => a - attempts[i]!);
  assert.deepEqual(delays.slice(0, 6), [100, 200, 400, 800, 1600, 1600]);
  const s = status(t, bad)!;
  assert.equal(s.state, 'failed');
  assert.equal(s.code, 'EEXIST');
  assert.equal(s.reason, 'File exists');
  assert.equal(s.since, 0, 'since: when the failure streak began');
  assert.equal(s.attempts, attempts.length);
  assert.equal(status(t, good)!.state, 'programmed');
  assert.equal(t.nextRetryAt(), s.retryAt);
});

test('an object wanted differently is new work: it skips the old backoff', () => {
  const { t, now } = table();
  const old = route('10.2.0.0/16', '240.1.0.1');
  pass(t, [old], () => failed(old));
  now.t = 10;
  assert.equal(t.prepare('routing', [old])('route', old.key), false);
  const moved = route('10.2.0.0/16', '240.1.0.9');
  let attempted = false;
  pass(t, [moved], (gate) => { attempted = gate(moved); return OK; });
  assert.ok(attempted);
  assert.deepEqual({ state: status(t, moved)!.state, object: status(t, moved)!.object, attempts: status(t, moved)!.attempts },
    { state: 'programmed', object: moved.object, attempts: 0 });
});

test('an object blocked on another is pending with the reason, without a backoff of its own', () => {
  const { t } = table();
  const r = route('10.2.0.0/16');
  pass(t, [r], () => ({ failures: [{ ...r, reason: 'waiting for device vx-submariner', blocked: true }], deferred: [] }));
  const s = status(t, r)!;
  assert.equal(s.state, 'pending');
  assert.equal(s.reason, 'waiting for device vx-submariner');
  assert.equal(s.retryAt, undefined);
  assert.ok(t.prepare('routing', [r])('route', r.key));
  assert.equal(t.nextRetryAt(), undefined);
});

test('a removal that fails stays visible and backs off; once it goes through it is forgotten', () => {
  const { t, now } = table();
  const stale = route('10.9.0.0/16');
  pass(t, [stale], () => OK);
  const removing = { ...stale, object: `removing ${stale.object}` };
  pass(t, [], () => failed(removing, 'Operation not permitted', 'EPERM'));
  let s = status(t, stale)!;
  assert.deepEqual({ state: s.state, desired: s.desired, object: s.object }, { state: 'failed', desired: false, object: removing.object });
  now.t = 50;
  pass(t, [], (gate) => (gate(stale) ? failed(removing) : { failures: [], deferred: [stale] }));
  s = status(t, stale)!;
  assert.equal(s.attempts, 1, 'not attempted during its backoff');
  now.t = 1000;
  pass(t, [], () => OK);
  assert.equal(status(t, stale), undefined);
  assert.deepEqual(t.list(), []);
});

test('an asynchronous object is in progress without holding anything up; its completion settles it and says so', async () => {
  const { t, settled } = table();
  const tunnel: DesiredObject = { kind: 'filter', key: 'tunnel east', object: 'tunnel to east' };
  const fast = route('10.2.0.0/16');
  let finish!: () => void;
  const completion = new Promise<void>((resolve) => { finish = resolve; });
  pass(t, [tunnel, fast], () => ({ failures: [], deferred: [], started: [{ kind: tunnel.kind, key: tunnel.key, completion }] }));
  assert.equal(status(t, tunnel)!.state, 'in-progress');
  assert.equal(status(t, fast)!.state, 'programmed');
  assert.equal(t.prepare('routing', [tunnel, fast])(tunnel.kind, tunnel.key), false, 'not started twice');
  // A later pass, while it is still in progress: the component defers it, its state stands.
  pass(t, [tunnel, fast], (gate) => (gate(tunnel) ? OK : { failures: [], deferred: [tunnel] }));
  assert.equal(status(t, tunnel)!.state, 'in-progress');
  finish();
  await completion;
  await Promise.resolve();
  assert.equal(status(t, tunnel)!.state, 'programmed');
  assert.deepEqual(settled.map((s) => `${s.key} ${s.state}`), ['tunnel east programmed']);
});

test('an asynchronous object that fails gets the error as its reason and a backoff; one no longer wanted is kept until it settles, then forgotten', async () => {
  const { t, now, settled } = table();
  const tunnel: DesiredObject = { kind: 'filter', key: 'tunnel east', object: 'tunnel to east' };
  const error = Object.assign(new Error('IKE_SA_INIT timed out'), { code: 'ETIMEDOUT' });
  const failing = Promise.reject(error);
  failing.catch(() => undefined);
  pass(t, [tunnel], () => ({ failures: [], deferred: [], started: [{ ...tunnel, completion: failing }] }));
  await Promise.resolve();
  await Promise.resolve();
  let s = status(t, tunnel)!;
  assert.deepEqual({ state: s.state, reason: s.reason, code: s.code, attempts: s.attempts, retryAt: s.retryAt }, {
    state: 'failed', reason: 'IKE_SA_INIT timed out', code: 'ETIMEDOUT', attempts: 1, retryAt: 100,
  });
  now.t = 100;
  let second!: () => void;
  const retry = new Promise<void>((resolve) => { second = resolve; });
  pass(t, [tunnel], (gate) => (gate(tunnel) ? { failures: [], deferred: [], started: [{ ...tunnel, completion: retry }] } : OK));
  assert.equal(status(t, tunnel)!.state, 'in-progress');
  // No longer wanted while its negotiation runs: kept (and gated) until the negotiation settles.
  pass(t, [], () => OK);
  assert.equal(status(t, tunnel)!.state, 'in-progress', 'an in-progress object is kept until it settles');
  second();
  await retry;
  await Promise.resolve();
  s = status(t, tunnel)!;
  assert.equal(s.state, 'programmed');
  pass(t, [], () => OK);
  assert.equal(status(t, tunnel), undefined, 'no longer wanted, settled: forgotten');
  assert.equal(settled.length, 2);
});

test('counts per kind and state, and unsettled lists only what is not programmed', () => {
  const { t } = table();
  const a = route('10.2.0.0/16');
  const b = route('10.3.0.0/16');
  const rule: DesiredObject = { kind: 'rule', key: '100 100', object: 'rule priority 100 lookup 100' };
  pass(t, [a, b, rule], () => failed(b));
  assert.deepEqual(t.counts().get('route'), { pending: 0, 'in-progress': 0, programmed: 1, failed: 1 });
  assert.deepEqual(t.counts().get('rule'), { pending: 0, 'in-progress': 0, programmed: 1, failed: 0 });
  assert.deepEqual(t.unsettled().map((s) => s.key), [b.key]);
});

test('a failure described differently from the wanted object (a link\'s "up" write) keeps the wanted description and its backoff', () => {
  const { t, now } = table();
  const link: DesiredObject = { kind: 'link', key: 'vx-submariner', object: 'link vx-submariner (vxlan vni 100 port 4800 local 192.168.1.2 dev eth0 mtu 1450)' };
  const attempts: number[] = [];
  for (now.t = 0; now.t <= 1000; now.t += 10) {
    pass(t, [link], (gate) => {
      if (!gate(link)) return { failures: [], deferred: [link] };
      attempts.push(now.t);
      return { failures: [{ ...link, object: 'link vx-submariner up', reason: 'set-up link ifindex 7 up: EPERM', code: 'EPERM' }], deferred: [] };
    });
  }
  assert.deepEqual(attempts.slice(0, 4), [0, 100, 300, 700], 'retries on the backoff (random 0: 100, 200, 400 ms)');
  const s = status(t, link)!;
  assert.deepEqual({ object: s.object, attempts: s.attempts, reason: s.reason }, { object: link.object, attempts: 4, reason: 'set-up link ifindex 7 up: EPERM' });
});

test('a failure reported again during its backoff (no write was made) is not an attempt: count and next retry stay', () => {
  const { t, now } = table();
  const link: DesiredObject = { kind: 'link', key: 'vx-submariner', object: 'link vx-submariner' };
  const missing = { failures: [{ ...link, reason: 'underlay device eth9 not found', code: 'ENODEV' }], deferred: [] };
  pass(t, [link], () => missing);
  const first = status(t, link)!;
  now.t = 50;
  pass(t, [link], () => missing);
  assert.deepEqual([status(t, link)!.attempts, status(t, link)!.retryAt], [1, first.retryAt]);
  now.t = first.retryAt!;
  pass(t, [link], () => missing);
  assert.equal(status(t, link)!.attempts, 2, 'once due, it is an attempt again');
});

test('an object in progress is settled by its completion only, even when the component reports nothing for it', async () => {
  const { t } = table();
  const tunnel: DesiredObject = { kind: 'filter', key: 'tunnel east', object: 'tunnel to east' };
  let fail!: (e: Error) => void;
  const completion = new Promise<void>((_, reject) => { fail = reject; });
  pass(t, [tunnel], () => ({ failures: [], deferred: [], started: [{ ...tunnel, completion }] }));
  pass(t, [tunnel], () => OK);
  assert.equal(status(t, tunnel)!.state, 'in-progress');
  fail(new Error('AUTHENTICATION_FAILED'));
  await completion.catch(() => undefined);
  await Promise.resolve();
  assert.equal(status(t, tunnel)!.state, 'failed');
});

test('descriptions are read only when asked or when an object changed: the same desired object again reads none', () => {
  const { t } = table();
  let reads = 0;
  const counted = (text: string): DesiredObject => ({ kind: 'route', key: '100 10.9.0.0/16', get object() { reads++; return text; } });
  const first = counted('route 10.9.0.0/16 via 240.1.0.1 table 100');
  pass(t, [first], () => OK);
  pass(t, [first], () => OK);
  assert.equal(reads, 0, 'made, programmed and seen again without its description');
  assert.equal(status(t, first)?.object, 'route 10.9.0.0/16 via 240.1.0.1 table 100');
  assert.equal(reads, 1, 'read for the status asked');
  // Another object that says the same: compared by what it says, and it stays programmed; it is
  // then the one the entry knows, so the next pass with it reads no description.
  const same = counted('route 10.9.0.0/16 via 240.1.0.1 table 100');
  t.prepare('routing', [same]);
  assert.equal(status(t, same)?.state, 'programmed');
  const readsAfterCompare = reads;
  pass(t, [same], () => OK);
  assert.equal(reads, readsAfterCompare, 'the same object again: no description read');
  // One that says something else is new work: pending until recorded.
  const moved = counted('route 10.9.0.0/16 via 240.1.0.2 table 100');
  t.prepare('routing', [moved]);
  assert.equal(status(t, moved)?.state, 'pending');
  assert.equal(status(t, moved)?.object, 'route 10.9.0.0/16 via 240.1.0.2 table 100');
});
