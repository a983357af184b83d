/**
 * run()'s deadline with real processes: stub scripts that never exit, or leave a descendant
 * holding their output open, must make run() reject with ETIMEDOUT and leave no child behind.
 */
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ExecTimeoutError, run as runWith, type ExecOptions } from '../../src/kernel/exec.ts';
import { SPAWNERS } from '../helpers/spawners.ts';
import { processAlive as alive } from '../helpers/process-alive.ts';
import { waitFor } from '../helpers/wait.ts';

// Every case with Node's child_process and with the addon's posix_spawn (the agent's).
for (const { name, spawner } of SPAWNERS) describe(`run() deadline, with ${name}`, () => {
  const run = (file: string, args: readonly string[], options: ExecOptions = {}) => runWith(file, args, { spawner, ...options });
  let dir: string;
  /** Descendants the stubs started; killed by pid in after(). */
  const descendants: number[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seaway-exec-'));
    const stub = async (name: string, body: string) => {
      const path = join(dir, name);
      await writeFile(path, `#!/bin/sh\n${body}\n`);
      await chmod(path, 0o755);
    };
    await stub('hang', 'exec sleep 1000');
    // The grandchild inherits stdout/stderr, so 'close' never comes while it lives.
    await stub('hang-with-grandchild', `sleep 1000 &\necho $! > "${dir}/grandchild-$$"\nexec sleep 1000`);
    await stub('exit-with-grandchild', `sleep 1000 &\necho $! > "${dir}/grandchild-$$"\nexit 0`);
  });

  after(async () => {
    for (const pid of descendants) if (alive(pid)) process.kill(pid, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  const grandchildOf = async (pid: number): Promise<number> => {
    const grandchild = Number((await readFile(join(dir, `grandchild-${pid}`), 'utf8')).trim());
    descendants.push(grandchild);
    return grandchild;
  };

  it('kills a process that never exits and rejects with ETIMEDOUT', async () => {
    const error = await run(join(dir, 'hang'), [], { timeoutMs: 200 }).then(() => assert.fail('resolved'), (e: unknown) => e);
    assert.ok(error instanceof ExecTimeoutError, String(error));
    assert.equal(error.code, 'ETIMEDOUT');
    assert.match(error.message, /hang .*200 ms/);
    assert.ok(error.pid);
    await waitFor(`process ${error.pid} to be gone`, () => !alive(error.pid!));
  });

  it('settles when a grandchild holds the pipes open after the child is killed', async () => {
    const error = await run(join(dir, 'hang-with-grandchild'), [], { timeoutMs: 300 }).then(() => assert.fail('resolved'), (e: unknown) => e);
    assert.ok(error instanceof ExecTimeoutError, String(error));
    assert.ok(error.pid);
    await waitFor(`process ${error.pid} to be gone`, () => !alive(error.pid!));
    assert.ok(alive(await grandchildOf(error.pid)), 'the grandchild is the one holding the pipes');
  });

  it('rejects when the child exited but a descendant keeps its output open past the deadline', async () => {
    const error = await run(join(dir, 'exit-with-grandchild'), [], { timeoutMs: 300 }).then(() => assert.fail('resolved'), (e: unknown) => e);
    assert.ok(error instanceof ExecTimeoutError, String(error));
    assert.match(error.message, /held open by a descendant/);
    assert.ok(error.pid);
    await grandchildOf(error.pid);
  });

  it('honours an AbortSignal with SIGKILL', async () => {
    const controller = new AbortController();
    const running = run(join(dir, 'hang'), [], { signal: controller.signal });
    controller.abort();
    await assert.rejects(running, { name: 'AbortError' });
  });

  it('rejects a deadline that is not a positive finite number', async () => {
    await assert.rejects(run('true', [], { timeoutMs: 0 }), RangeError);
    await assert.rejects(run('true', [], { timeoutMs: Infinity }), RangeError);
  });

  it('leaves quick processes alone', async () => {
    assert.equal((await run('printf', ['ok'], { timeoutMs: 5000 })).stdout, 'ok');
  });
});
