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
});
