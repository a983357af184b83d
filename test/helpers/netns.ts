import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { run, type ExecResult } from '../../src/kernel/exec.ts';
import { requireTools } from './prereq.ts';

/** Every namespace a test makes starts with this, so leftovers are attributable. */
export const TEST_NETNS_PREFIX = 'swt-';

export interface TestNetns {
  name: string;
  /** Runs a program inside the namespace. */
  exec(file: string, args: readonly string[], options?: { input?: string; allowFailure?: boolean }): Promise<ExecResult>;
  /** Kills every process inside and deletes the namespace; safe to call twice. */
  destroy(): Promise<void>;
}

export async function createNetns(label = 'ns'): Promise<TestNetns> {
  requireTools('ip');
  const name = `${TEST_NETNS_PREFIX}${label}-${randomBytes(3).toString('hex')}`.slice(0, 30);
  await run('ip', ['netns', 'add', name]);
  await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  let destroyed = false;
  return {
    name,
    exec: (file, args, options) => run('ip', ['netns', 'exec', name, file, ...args], options),
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      await killNetnsProcesses(name);
      await run('ip', ['netns', 'delete', name], { allowFailure: true });
    },
  };
}

/**
 * The processes in a named namespace: `ip netns pids`, each checked to be in it still (its
 * /proc/<pid>/ns/net is the namespace, which the name's bind mount keeps from being another's): a
 * pid listed may have ended and been given to another process since (pids wrap within minutes under
 * the suite).
 */
export async function netnsMembers(name: string): Promise<number[]> {
  const inode = (await stat(`/run/netns/${name}`).catch(() => undefined))?.ino;
  if (inode === undefined) return [];
  const { stdout } = await run('ip', ['netns', 'pids', name], { allowFailure: true });
  const members: number[] = [];
  for (const pid of stdout.split(/\s+/).filter(Boolean).map(Number)) {
    if ((await stat(`/proc/${pid}/ns/net`).catch(() => undefined))?.ino === inode) members.push(pid);
  }
  return members;
}

export async function killNetnsProcesses(name: string): Promise<void> {
  for (const pid of await netnsMembers(name)) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
  }
}

/** Runs fn with a fresh namespace and always removes it afterwards, also when fn throws. */
export async function withNetns<T>(label: string, fn: (ns: TestNetns) => Promise<T>): Promise<T> {
  const ns = await createNetns(label);
  try {
    return await fn(ns);
  } finally {
    await ns.destroy();
  }
}
