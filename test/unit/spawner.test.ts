/**
 * The addon's posix_spawn (kernel/spawner posixSpawner) against Node's child_process: the child
 * starts the same (signals, descriptors, environment, working directory), failures carry the same
 * codes, and every child is reaped, however many end at once and beside Node's own children.
 */
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { run } from '../../src/kernel/exec.ts';
import { loadIcmpAddon } from '../../src/kernel/icmp-socket.ts';
import { nodeSpawner, posixSpawner, type ChildSignals } from '../../src/kernel/spawner.ts';
import { processAlive as alive } from '../helpers/process-alive.ts';
import { waitFor } from '../helpers/wait.ts';

const addon = loadIcmpAddon();

/** process's SIGCHLD, counting the listeners the spawner holds there. */
function countingSignals(): ChildSignals & { listening: () => number } {
  let listening = 0;
  return {
    on: (event, listener) => { listening++; return process.on(event, listener); },
    off: (event, listener) => { listening--; return process.off(event, listener); },
    listening: () => listening,
  };
}

/** A SIGCHLD nobody sends: the test calls the listener itself (`deliver`), so only output closing reaps otherwise. */
function manualSignals(): ChildSignals & { deliver: () => void } {
  let listener: (() => void) | undefined;
  return {
    on: (_event, l) => { listener = l; },
    off: () => { listener = undefined; },
    deliver: () => listener?.(),
  };
}

/** Whether the process is a zombie: exited, not yet reaped. */
const zombie = (pid: number): boolean => {
  try { return / Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/\(.*\)/, '()')); } catch { return false; }
};

describe('posix_spawn children start as child_process children do', () => {
  const posix = posixSpawner(addon);

  test('no signal blocked in the child and no standard one ignored (Node ignores SIGPIPE; an ignored signal survives exec)', async () => {
    const status = async (spawner: typeof posix) => {
      const text = (await run('grep', ['-E', '^Sig(Ign|Blk)', '/proc/self/status'], { spawner })).stdout;
      const [, blocked, ignored] = /^SigBlk:\t([0-9a-f]{16})\nSigIgn:\t([0-9a-f]{16})\n$/.exec(text) ?? assert.fail(`unexpected status: ${text}`);
      return { blocked: BigInt(`0x${blocked}`), ignored: BigInt(`0x${ignored}`) };
    };
    for (const spawner of [posix, nodeSpawner]) {
      const { blocked, ignored } = await status(spawner);
      assert.equal(blocked, 0n);
      // Bit n is signal n + 1. glibc's posix_spawn leaves its own two internal signals (32 and 33,
      // below SIGRTMIN) ignored in the child; a program that uses them installs its handlers over that.
      const glibcInternal = (1n << 31n) | (1n << 32n);
      assert.equal(ignored & ~glibcInternal, 0n, `ignored: ${ignored.toString(16)}`);
    }
  });

  test('the child holds the descriptors child_process\'s does: not this process\'s own, nor another child\'s pipes', async () => {
    const own = openSync('/dev/null', 'r');
    const other = posix('sleep', ['1000'], { env: process.env });
    try {
      assert.ok(other.pid !== undefined);
      const fds = async (spawner: typeof posix) => (await run('ls', ['/proc/self/fd'], { spawner })).stdout.split('\n').filter(Boolean).map(Number);
      const listed = await fds(posix);
      assert.deepEqual(listed, await fds(nodeSpawner));
      // 0-2 are its own pipes; 3 is the directory ls lists. Anything else came from whoever started this test.
      for (const fd of [0, 1, 2, 3]) assert.ok(listed.includes(fd), `fd ${fd} in ${listed}`);
      assert.ok(!listed.includes(own), `this process's fd ${own} is not the child's`);
      const otherPipes = [other.stdin, other.stdout, other.stderr].map((s) => (s as unknown as { _handle: { fd: number } })._handle.fd);
      for (const fd of otherPipes) assert.ok(!listed.includes(fd), `the other child's pipe ${fd} is not this child's: ${listed}`);
    } finally {
      closeSync(own);
      other.kill('SIGKILL');
      await new Promise((resolve) => other.once('exit', resolve));
    }
  });

  describe('the environment, its PATH and the working directory', () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'seaway-spawner-'));
      await mkdir(join(dir, 'bin'));
      await mkdir(join(dir, 'shadow'));
      await writeFile(join(dir, 'bin', 'seaway-stub'), '#!/bin/sh\necho "$SEAWAY_STUB_WORD $(pwd)"\n');
      await chmod(join(dir, 'bin', 'seaway-stub'), 0o755);
      // Earlier on the PATH: a directory and a file that cannot be executed, both passed over.
      await mkdir(join(dir, 'shadow', 'seaway-stub'));
      await mkdir(join(dir, 'plain'));
      await writeFile(join(dir, 'plain', 'seaway-stub'), '#!/bin/sh\necho wrong\n');
      await writeFile(join(dir, 'not-executable'), '#!/bin/sh\n');
    });
    after(async () => { await rm(dir, { recursive: true, force: true }); });

    test('a file is looked for on the PATH of the environment given, which is the whole environment', async () => {
      const env = { PATH: `${join(dir, 'shadow')}:${join(dir, 'plain')}:${join(dir, 'bin')}:/usr/bin:/bin`, SEAWAY_STUB_WORD: 'found' };
      for (const spawner of [posix, nodeSpawner]) {
        assert.equal((await run('seaway-stub', [], { spawner, env, cwd: dir })).stdout, `found ${dir}\n`);
        const printed = (await run('env', [], { spawner, env })).stdout.split('\n').filter(Boolean).sort();
        assert.deepEqual(printed, [`PATH=${env.PATH}`, 'SEAWAY_STUB_WORD=found']);
      }
    });

    test('failures to start carry the errno code as Node\'s do: ENOENT off the PATH or missing, EACCES not executable', async () => {
      const code = (file: string, spawner: typeof posix, env: NodeJS.ProcessEnv = process.env) =>
        run(file, [], { spawner, env }).then(() => 'started', (error: NodeJS.ErrnoException) => error.code);
      for (const spawner of [posix, nodeSpawner]) {
        assert.equal(await code('seaway-stub', spawner, { PATH: '/usr/bin:/bin' }), 'ENOENT');
        assert.equal(await code(join(dir, 'missing'), spawner), 'ENOENT');
        assert.equal(await code(join(dir, 'not-executable'), spawner), 'EACCES');
        // Only a file that may not be executed on the PATH: EACCES, as execvp says.
        assert.equal(await code('seaway-stub', spawner, { PATH: join(dir, 'plain') }), 'EACCES');
      }
      await assert.rejects(run(join(dir, 'missing'), [], { spawner: posix }), { message: `spawn ${join(dir, 'missing')} ENOENT`, syscall: 'spawn' });
    });

    test('a relative PATH entry is taken from the working directory the child gets, as libuv does', async () => {
      const env = { PATH: 'shadow:bin:/usr/bin:/bin', SEAWAY_STUB_WORD: 'relative' };
      for (const spawner of [posix, nodeSpawner]) {
        assert.equal((await run('seaway-stub', [], { spawner, env, cwd: dir })).stdout, `relative ${dir}\n`);
      }
    });

    test('a working directory that is not there fails the spawn, not the agent', async () => {
      await assert.rejects(run('true', [], { spawner: posix, cwd: join(dir, 'nowhere') }), { code: 'ENOENT' });
    });
  });

  test('a NUL byte in an argument or the environment is refused before anything starts or is listened for', async () => {
    const signals = countingSignals();
    const refusing = posixSpawner(addon, signals);
    await assert.rejects(run('echo', ['a\0b'], { spawner: refusing }), TypeError);
    await assert.rejects(run('echo', [], { spawner: refusing, env: { X: 'a\0b' } }), TypeError);
    await assert.rejects(run('echo', [], { spawner: refusing, cwd: '/tmp\0x' }), TypeError);
    assert.equal(signals.listening(), 0);
  });

  test('a child killed by SIGABRT is said so by name (not its alias SIGIOT), as child_process says', async () => {
    for (const spawner of [posix, nodeSpawner]) {
      const result = await run('sh', ['-c', 'kill -ABRT $$'], { spawner, allowFailure: true });
      assert.deepEqual([result.code, result.signal], [128, 'SIGABRT']);
    }
  });
});

describe('posix_spawn children are reaped', () => {
  test('64 children ending together (SIGCHLD coalesces) are each reaped, and SIGCHLD is no longer listened for after', async () => {
    const signals = countingSignals();
    const posix = posixSpawner(addon, signals);
    // Their output closed at once and their exits together, 0.3 s on: the exits are found by SIGCHLD.
    const script = (i: number) => `exec >&- 2>&-; sleep 0.3; exit ${i % 7}`;
    const results = await Promise.all(Array.from({ length: 64 }, (_, i) => run('sh', ['-c', script(i)], { spawner: posix, allowFailure: true })));
    assert.deepEqual(results.map((r) => r.code), Array.from({ length: 64 }, (_, i) => i % 7));
    assert.equal(signals.listening(), 0);
  });

  test('beside children of Node\'s own spawn, which libuv reaps: both kinds end and are told apart', async () => {
    const posix = posixSpawner(addon);
    const runs = Array.from({ length: 20 }, (_, i) => run('sh', ['-c', `echo ${i}; exit ${i % 3}`], { spawner: i % 2 ? posix : nodeSpawner, allowFailure: true }));
    const results = await Promise.all(runs);
    assert.deepEqual(results.map((r) => [r.stdout, r.code]), Array.from({ length: 20 }, (_, i) => [`${i}\n`, i % 3]));
  });

  test('an abort kills the child, which is reaped, and stops listening', async () => {
    const signals = countingSignals();
    const posix = posixSpawner(addon, signals);
    const controller = new AbortController();
    let pid: number | undefined;
    const running = run('sleep', ['1000'], {
      signal: controller.signal,
      spawner: (file, args, options) => { const child = posix(file, args, options); pid = child.pid; return child; },
    });
    assert.ok(pid !== undefined && alive(pid), 'started');
    controller.abort();
    await assert.rejects(running, { name: 'AbortError' });
    // kill(pid, 0) succeeds on a zombie: gone means killed and reaped.
    await waitFor(`process ${pid} to be reaped`, () => !alive(pid!));
    await waitFor('SIGCHLD no longer listened for', () => signals.listening() === 0);
  });

  test('a listener that throws on one exit leaves no other child unreaped: each is told, then the error goes on', async () => {
    const signals = manualSignals();
    const posix = posixSpawner(addon, signals);
    // Outputs closed at once: only the (manual) SIGCHLD reaps them.
    const children = [0, 1].map(() => posix('sh', ['-c', 'exec >&- 2>&-; sleep 0.2'], { env: process.env }));
    const exits: number[] = [];
    children[0]!.once('exit', () => { throw new Error('listener failed'); });
    children[1]!.once('exit', (code) => { exits.push(code ?? -1); });
    await waitFor('both children to have exited', () => children.every((c) => zombie(c.pid!)));
    assert.throws(() => signals.deliver(), /listener failed/);
    assert.deepEqual(exits, [0], 'the second child was reaped and told despite the first listener\'s error');
    assert.ok(children.every((c) => !alive(c.pid!)), 'both reaped');
  });

  test('a child reaped by someone else fails its run with ECHILD instead of a made-up exit code', async () => {
    const signals = manualSignals();
    const posix = posixSpawner(addon, signals);
    let pid: number | undefined;
    const running = run('sh', ['-c', 'exec >&- 2>&-; sleep 0.2'], {
      spawner: (file, args, options) => { const child = posix(file, args, options); pid = child.pid; return child; },
    });
    await waitFor('the child to have exited', () => pid !== undefined && zombie(pid));
    assert.deepEqual(addon.reap(pid!), [0, 0], 'taken from under the spawner');
    signals.deliver();
    await assert.rejects(running, { code: 'ECHILD' });
  });

  test('a signal that already aborted starts nothing', async () => {
    const signals = countingSignals();
    await assert.rejects(run('true', [], { spawner: posixSpawner(addon, signals), signal: AbortSignal.abort() }), { name: 'AbortError' });
    assert.equal(signals.listening(), 0);
  });

  test('reap answers without blocking: [-1, 0] for a pid that is not a child of this process', () => {
    assert.deepEqual(addon.reap(1), [-1, 0]);
    assert.throws(() => addon.reap(0), TypeError);
    assert.throws(() => addon.reap(-5), TypeError);
  });

  test('spawn refuses arguments that are not strings, or too few, with an error naming the call', () => {
    assert.throws(() => addon.spawn('true', [1 as unknown as string], [], null, null), /napi_get_value_string_utf8/);
    assert.throws(() => (addon.spawn as (...a: unknown[]) => unknown)('true', []), /five arguments/);
  });
});
