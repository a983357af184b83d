/**
 * How the lab stops its processes, on real processes: only the ones it found, never a process that
 * was given one of their pids since (pids wrap within minutes under the test suite).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { afterEach, describe, it } from 'node:test';
import { createNetns, netnsMembers } from '../helpers/netns.ts';
import { identifyProcess, processState, terminate, waitFor } from './processes.ts';

const started: ChildProcess[] = [];
afterEach(async () => {
  for (const child of started.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  }
});

async function sleeper(): Promise<ChildProcess & { pid: number }> {
  const child = spawn('sleep', ['600'], { stdio: 'ignore' });
  started.push(child);
  await once(child, 'spawn');
  return child as ChildProcess & { pid: number };
}

/** The signals waiting for a stopped process (a stopped process takes none but SIGKILL). */
async function pending(pid: number): Promise<bigint> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const mask = (field: string) => BigInt(`0x${new RegExp(`^${field}:\\s*([0-9a-f]+)$`, 'm').exec(status)![1]}`);
  return mask('SigPnd') | mask('ShdPnd');
}
const SIGTERM_BIT = 1n << 14n;

describe('the lab\'s processes, found and stopped', () => {
  it('stops a process it found: SIGTERM first', async () => {
    const child = await sleeper();
    const found = identifyProcess(child.pid);
    assert.ok(found, 'a running process is identified');
    const exited = once(child, 'exit');
    await terminate([found]);
    assert.equal((await exited)[1], 'SIGTERM');
  });

  it('signals nothing under a found pid that another process holds now (another start time)', async () => {
    const child = await sleeper();
    const found = identifyProcess(child.pid)!;
    // Stopped, the process keeps any SIGTERM pending where it can be seen, instead of dying of it.
    child.kill('SIGSTOP');
    await waitFor('the process stopped', async () => (processState(child.pid) === 'T' ? true : undefined), 10_000, 5);
    await terminate([{ pid: child.pid, started: String(Number(found.started) - 1) }], 50);
    assert.equal(await pending(child.pid) & SIGTERM_BIT, 0n, 'no SIGTERM was sent to it');
    assert.equal(child.exitCode ?? child.signalCode, null, 'it runs on');
    // The same process as found: it is signalled (pending while stopped), then killed past the grace period.
    const exited = once(child, 'exit');
    await terminate([found], 50);
    assert.equal((await exited)[1], 'SIGKILL');
  });

  it('finds the processes of a namespace by the namespace they are in, and a namespace\'s end kills them', async () => {
    const ns = await createNetns('members');
    try {
      const child = spawn('ip', ['netns', 'exec', ns.name, 'sleep', '600'], { stdio: 'ignore' });
      started.push(child);
      await once(child, 'spawn');
      // ip netns exec becomes sleep under the same pid, once it has entered the namespace.
      await waitFor('sleep in the namespace', async () => ((await netnsMembers(ns.name)).includes(child.pid!) ? true : undefined), 10_000);
      assert.deepEqual(await netnsMembers(ns.name), [child.pid], 'nothing else is in it');
      const exited = once(child, 'exit');
      await ns.destroy();
      assert.equal((await exited)[1], 'SIGKILL');
      assert.deepEqual(await netnsMembers(ns.name), [], 'a namespace that is gone has no members');
    } finally {
      await ns.destroy();
    }
  });

  it('identifies no process that is not there', () => {
    assert.equal(identifyProcess(2 ** 22 + 1), null);
  });
});
