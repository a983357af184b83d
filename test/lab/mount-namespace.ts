/**
 * A lab container's mount namespace, as the kubelet uses it in place of a cgroup: what is still in
 * it when the container's main process exits is killed with it.
 *
 * The namespace is held open from the moment it is noted. A mount namespace's inode number is free
 * for the next one as soon as the last process in it is gone, and the next is made at once (every
 * `ip netns exec` makes one): a number remembered without a hold names whatever came next, such as
 * another test's ping.
 */
import { open, readdir, stat } from 'node:fs/promises';

export interface HeldMountNamespace { readonly inode: number; close(): Promise<void> }

/**
 * Holds pid's mount namespace, if `stillOurs()` after the open says the pid was not reaped meanwhile
 * (so the open reached the process meant) and it is not this process's own namespace.
 */
export async function holdMountNamespace(pid: number, stillOurs: () => boolean): Promise<HeldMountNamespace | undefined> {
  const handle = await open(`/proc/${pid}/ns/mnt`, 'r').catch(() => undefined);
  if (handle === undefined) return undefined;
  const [held, own] = await Promise.all([handle.stat().catch(() => undefined), stat('/proc/self/ns/mnt')]);
  if (held === undefined || held.ino === own.ino || !stillOurs()) {
    await handle.close();
    return undefined;
  }
  return { inode: held.ino, close: () => handle.close() };
}

/** SIGKILLs every process in the held namespace, then lets it go; returns the pids signalled. */
export async function killMountNamespace(namespace: HeldMountNamespace): Promise<number[]> {
  const killed: number[] = [];
  try {
    for (const entry of await readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      if ((await stat(`/proc/${entry}/ns/mnt`).catch(() => undefined))?.ino !== namespace.inode) continue;
      try {
        process.kill(Number(entry), 'SIGKILL');
        killed.push(Number(entry));
      } catch { /* gone meanwhile */ }
    }
  } finally {
    await namespace.close();
  }
  return killed;
}
