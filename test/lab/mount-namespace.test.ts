/**
 * The lab kubelet's stand-in for a cgroup, on real processes in real mount namespaces: what is left
 * in a container's namespace dies with it, and nothing in a namespace made afterwards does, even
 * though the kernel hands a freed namespace's inode number to the next one made.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readlink, stat } from 'node:fs/promises';
import { afterEach, describe, it } from 'node:test';
import { holdMountNamespace, killMountNamespace, type HeldMountNamespace } from './mount-namespace.ts';
import { identifyProcess, isAlive, terminate, waitFor, type FoundProcess } from './processes.ts';
import { requireTools } from '../helpers/prereq.ts';

requireTools('unshare', 'sleep', 'sh');

const started: ChildProcess[] = [];
/** Processes a container left, ended by the test unless it failed first; told by start time, so a recycled pid is never hit. */
const strays: FoundProcess[] = [];
/** Namespaces held, let go by the test unless it failed first: a failure does not leave the next test one more held. */
const held: HeldMountNamespace[] = [];
afterEach(async () => {
  for (const namespace of held.splice(0)) await namespace.close().catch(() => { /* closed by the test */ });
  await terminate(strays.splice(0), 0);
  for (const child of started.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  }
});


/** A process in a mount namespace of its own, once `unshare` has made it and exec'd `argv`. */
async function inOwnMountNamespace(argv: string[]): Promise<ChildProcess & { pid: number }> {
  const child = spawn('unshare', ['--mount', '--propagation', 'private', '--', ...argv], { stdio: ['ignore', 'pipe', 'inherit'] });
  started.push(child);
  const pid = child.pid;
  assert.ok(pid !== undefined, 'unshare started');
  await waitFor(`${argv[0]} running in its own mount namespace`, async () => {
    const exe = await readlink(`/proc/${pid}/exe`).catch(() => '');
    return exe !== '' && !exe.endsWith('/unshare') ? true : undefined;
  }, 10_000, 5);
  return child as ChildProcess & { pid: number };
}

const running = (child: ChildProcess) => () => child.exitCode === null && child.signalCode === null;
/** Mount namespaces this process holds open. */
async function heldNamespaces(): Promise<number> {
  const targets = await Promise.all((await readdir('/proc/self/fd')).map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
  return targets.filter((target) => target.startsWith('mnt:')).length;
}

describe('a container\'s mount namespace, held', () => {
  it('kills what the container left in its namespace after its main process exited', async () => {
    const main = await inOwnMountNamespace(['sh', '-c', 'sleep 600 & echo $!; exec sleep 600']);
    const [line] = await once(main.stdout!, 'data') as [Buffer];
    const left = Number(line.toString().trim());
    const leftProcess = identifyProcess(left);
    assert.ok(leftProcess, 'the process the container left is running');
    strays.push(leftProcess);
    const namespace = await holdMountNamespace(main.pid, running(main));
    assert.ok(namespace, 'the namespace is held');
    held.push(namespace);
    assert.equal(namespace.inode, (await stat(`/proc/${left}/ns/mnt`)).ino, 'the process it left is in the held namespace');

    main.kill('SIGKILL');
    await once(main, 'exit');
    assert.equal(isAlive(left), true, 'the main process\'s end leaves the other running');
    assert.deepEqual(await killMountNamespace(namespace), [left]);
    await waitFor('the left process to end', async () => (isAlive(left) ? undefined : true), 10_000);
  });

  it('never kills a process of a namespace made after the container\'s ended', async () => {
    const container = await inOwnMountNamespace(['sleep', '600']);
    const namespace = await holdMountNamespace(container.pid, running(container));
    assert.ok(namespace);
    held.push(namespace);
    assert.equal(await heldNamespaces(), 1);
    container.kill('SIGKILL');
    await once(container, 'exit');

    // Unheld, the container's namespace would be gone now and its number the next one's (the kernel gives the lowest free).
    const next = await inOwnMountNamespace(['sleep', '600']);
    assert.notEqual((await stat(`/proc/${next.pid}/ns/mnt`)).ino, namespace.inode, 'a namespace made later has another number');
    assert.deepEqual(await killMountNamespace(namespace), [], 'nothing was left in the container\'s namespace');
    assert.ok(running(next)(), 'the later process runs on');
    assert.equal(await heldNamespaces(), 0, 'the namespace is let go');
  });

  it('holds nothing when the process is no longer the one meant, or shares this process\'s namespace', async () => {
    const container = await inOwnMountNamespace(['sleep', '600']);
    assert.equal(await holdMountNamespace(container.pid, () => false), undefined, 'reaped meanwhile: not held');
    assert.equal(await holdMountNamespace(process.pid, () => true), undefined, 'this process\'s own namespace is never a container\'s');
    assert.equal(await holdMountNamespace(2 ** 22 + 1, () => true), undefined, 'no such process');
    assert.equal(await heldNamespaces(), 0, 'every namespace opened and not held was closed');
  });
});
