import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { run as runWith, ExecError, type ExecOptions } from '../../src/kernel/exec.ts';
import { SPAWNERS } from '../helpers/spawners.ts';

// Every case twice: with Node's child_process and with the addon's posix_spawn (the agent's).
for (const { name, spawner } of SPAWNERS) describe(`run with ${name}`, () => {
  const run = (file: string, args: readonly string[], options: ExecOptions = {}) => runWith(file, args, { spawner, ...options });

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
    assert.equal(closedWithoutInput, 1, 'no input: the empty input is said closed too, before run resolved');
  });

  test('the input is said closed once, before run settles: a program that never starts, and children that exit at once', async () => {
    // A program that never starts: run rejects at once, its input pipe's close still to come (always so).
    let closedOnFailure = 0;
    await assert.rejects(run('/nonexistent/seaway-no-such-program', [], { onInputClosed: () => { closedOnFailure += 1; } }), (error: unknown) => {
      assert.equal(closedOnFailure, 1, 'said closed before the rejection is seen');
      return (error as NodeJS.ErrnoException).code === 'ENOENT';
    });
    // Children that exit at once, in a row: a child seen gone before its pipe's close happens only
    // now and then (5 in 50 on a loaded machine), so this part is a best-effort check of that case.
    const closed: number[] = [];
    for (let i = 0; i < 50; i += 1) {
      closed.push(0);
      await run('true', [], { onInputClosed: () => { closed[i]! += 1; } });
      assert.equal(closed[i], 1, `run ${i}: said closed before run resolved`);
    }
    // The pipes' own closes come a loop turn or so later: none of them says it a second time. (A
    // window, not a condition: a second call past it would go unseen, but none can fail this falsely.)
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(closed.every((count) => count === 1), `each said once: ${closed.join(',')}`);
    assert.equal(closedOnFailure, 1, 'the program that never started: said once');
  });

  test('a spawn refused for want of file descriptors rejects with EMFILE, says the input closed, and throws nothing past run', async () => {
    // In a process of its own with a low descriptor limit, all of it taken before run is called.
    const script = `
      import { openSync } from 'node:fs';
      import { run } from ${JSON.stringify(new URL('../../src/kernel/exec.ts', import.meta.url).href)};
      import { loadIcmpAddon } from ${JSON.stringify(new URL('../../src/kernel/icmp-socket.ts', import.meta.url).href)};
      import { posixSpawner } from ${JSON.stringify(new URL('../../src/kernel/spawner.ts', import.meta.url).href)};
      // The addon is loaded (a descriptor of its own, closed again) before every descriptor is taken.
      const spawner = ${JSON.stringify(name)} === 'posix_spawn' ? posixSpawner(loadIcmpAddon()) : undefined;
      const held = [];
      try { for (;;) held.push(openSync('/dev/null', 'r')); } catch (error) { if (error.code !== 'EMFILE') throw error; }
      let closed = 0;
      const outcome = await run('true', [], { spawner, onInputClosed: () => { closed += 1; } }).then(() => 'resolved', (error) => String(error.code ?? error));
      // Whatever the child process object emits afterwards happens before the verdict is printed.
      await new Promise((resolve) => setTimeout(resolve, 20));
      console.log(JSON.stringify({ outcome, closed }));
    `;
    const result = await run('prlimit', ['--nofile=128:128', process.execPath, '--input-type=module', '-e', script], { allowFailure: true })
      .catch((error: NodeJS.ErrnoException) => { throw error.code === 'ENOENT' ? new Error('prlimit is missing: apt-get install util-linux') : error; });
    assert.equal(result.code, 0, `the process ended cleanly: ${result.stderr}`);
    assert.deepEqual(JSON.parse(result.stdout), { outcome: 'EMFILE', closed: 1 });
  });
});
