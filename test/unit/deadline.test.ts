/** withDeadline (src/k8s/deadline.ts): every API call's deadline and end, and that a settled call leaves nothing behind. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { withDeadline } from '../../src/k8s/deadline.ts';
import { ApiTimeoutError } from '../../src/k8s/api-problem.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

test('the call gets a signal that aborts at the deadline, and the race settles with ApiTimeoutError even if the call never does', async () => {
  let seen: AbortSignal | undefined;
  await assert.rejects(withDeadline(20, new AbortController().signal, (signal) => { seen = signal; return new Promise(() => {}); }, 'listing nodes'), (error: unknown) => {
    assert.ok(error instanceof ApiTimeoutError);
    assert.match((error as Error).message, /no answer to listing nodes within 20 ms/);
    return true;
  });
  assert.equal(seen?.aborted, true);
});

test('the caller\'s end aborts the call at once, with its reason; a caller already ended settles at once', async () => {
  const outer = new AbortController();
  let seen: AbortSignal | undefined;
  const pending = withDeadline(60_000, outer.signal, (signal) => { seen = signal; return new Promise(() => {}); }, 'x');
  outer.abort(new Error('stopping'));
  await assert.rejects(pending, /stopping/);
  assert.equal(seen?.aborted, true);
  const ended = new AbortController();
  ended.abort(new Error('stopped before'));
  await assert.rejects(withDeadline(60_000, ended.signal, () => new Promise(() => {}), 'x'), /stopped before/);
});

test('a call that settles leaves no listener on the caller\'s signal, and its answer is not kept (a long-lived signal would keep every answer)', async () => {
  const outer = new AbortController().signal;
  const answers: Array<WeakRef<object>> = [];
  const calls = async () => {
    for (let i = 0; i < 50; i++) {
      const result = await withDeadline(60_000, outer, async () => {
        const body = { items: new Array(1000).fill(i) };
        answers.push(new WeakRef(body));
        return body;
      }, 'x');
      assert.equal(result.items.length, 1000);
    }
  };
  await calls();
  assert.equal(getEventListeners(outer, 'abort').length, 0, 'nothing left listening on the caller\'s signal');
  // WeakRef targets live to the end of the job that made them: collect on a later turn.
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  const kept = answers.filter((ref) => ref.deref() !== undefined).length;
  // The last one or two may still sit in a register of the finished frames; every one was kept before.
  assert.ok(kept <= 2, `${kept} of 50 answers still held after the calls settled`);
});
