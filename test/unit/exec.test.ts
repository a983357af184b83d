import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run, ExecError } from '../../src/kernel/exec.ts';

test('run passes arguments without a shell and collects output', async () => {
  const result = await run('printf', ['%s|', 'a b', '$(x)', ';']);
  assert.equal(result.stdout, 'a b|$(x)|;|');
});

test('run feeds standard input', async () => {
  const result = await run('cat', [], { input: 'hello\n' });
  assert.equal(result.stdout, 'hello\n');
});

test('run rejects with the exit code and stderr on failure', async () => {
  await assert.rejects(run('sh', ['-c', 'echo oops >&2; exit 3']), (error: unknown) => {
    assert.ok(error instanceof ExecError);
    assert.equal(error.result.code, 3);
    assert.match(error.message, /oops/);
    return true;
  });
});

test('run resolves failures when allowed', async () => {
  const result = await run('sh', ['-c', 'exit 4'], { allowFailure: true });
  assert.equal(result.code, 4);
  assert.equal(result.signal, undefined, 'an exit names no signal');
});

test('a child killed by a signal: code 128, and the error names the signal, not an exit code it never chose', async () => {
  await assert.rejects(run('sh', ['-c', 'echo partial; kill -TERM $$']), (error: unknown) => {
    assert.ok(error instanceof ExecError);
    assert.equal(error.result.code, 128);
    assert.equal(error.result.signal, 'SIGTERM');
    assert.match(error.message, /^sh -c .* was killed by SIGTERM: partial$/);
    return true;
  });
  const allowed = await run('sh', ['-c', 'kill -KILL $$'], { allowFailure: true });
  assert.deepEqual(allowed, { code: 128, stdout: '', stderr: '', signal: 'SIGKILL' });
});

test('run says when the child\'s input is closed: after run returns, before the child that reads its input to the end is done', async () => {
  const events: string[] = [];
  // The child prints only once its input has ended: the end of file it waits for is what is said.
  const result = run('sh', ['-c', 'cat >/dev/null; echo ended'], {
    input: 'x'.repeat(100_000),
    onInputClosed: () => events.push('input closed'),
  });
  events.push('started');
  const { stdout } = await result;
  events.push('done');
  assert.equal(stdout, 'ended\n');
  assert.deepEqual(events, ['started', 'input closed', 'done'], 'closed on the event loop, after run returned and before the exit');
  let closedWithoutInput = 0;
  await run('true', [], { onInputClosed: () => { closedWithoutInput += 1; } });
  assert.equal(closedWithoutInput, 1, 'no input: the empty input is closed too, once');
});

test('the input is said closed once, before run settles, also when the child is gone before its pipe is seen closed', async () => {
  // A program that never starts: run rejects at once, its input pipe's close still to come.
  let closedOnFailure = 0;
  await assert.rejects(run('/nonexistent/seaway-no-such-program', [], { onInputClosed: () => { closedOnFailure += 1; } }), (error: unknown) => {
    assert.equal(closedOnFailure, 1, 'said closed before the rejection is seen');
    return (error as NodeJS.ErrnoException).code === 'ENOENT';
  });
  // Children that exit at once, in a row: each settles with its input already said closed.
  const closed: number[] = [];
  for (let i = 0; i < 50; i += 1) {
    closed.push(0);
    await run('true', [], { onInputClosed: () => { closed[i] = (closed[i] ?? 0) + 1; } });
    assert.equal(closed[i], 1, `run ${i}: said closed once before run resolved`);
  }
  // The pipes' own closes come a loop turn later: none of them says it a second time.
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual([...new Set(closed), closedOnFailure], [1, 1]);
});
