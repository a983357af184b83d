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
  let closedWithoutInput = false;
  await run('true', [], { onInputClosed: () => { closedWithoutInput = true; } });
  assert.ok(closedWithoutInput, 'no input: the empty input is closed too');
});
