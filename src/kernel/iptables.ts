import { readFile } from 'node:fs/promises';
import { ExecError, type run } from './exec.ts';
import { nftTableNames } from './nft.ts';
import type { IptablesMode } from '../model/node-facts.ts';

export type { IptablesMode } from '../model/node-facts.ts';

/** How the filter code reaches programs; the real one is exec.ts's run, tests may wrap it to count. */
export type ProcessRunner = typeof run;

/** Seconds to wait for the xtables lock another agent (kube-proxy, the CNI) may hold; never forever. */
const LOCK_WAIT_SECONDS = 5;
/** iptables-legacy's exit code when another process held the xtables lock past --wait (RESOURCE_PROBLEM). */
const EXIT_RESOURCE_PROBLEM = 4;

/**
 * The host's xtables lock is what serialises iptables-legacy writers: kube-proxy and seaway each
 * restore a whole table, so without one shared lock file each can silently undo the other's update.
 * iptables takes the lock file from XTABLES_LOCKFILE (default /run/xtables.lock); the DaemonSet
 * mounts the host's. iptables-nft takes no lock: nf_tables transactions need none.
 */
export function withXtablesLock(runner: ProcessRunner, lockFile: string): ProcessRunner {
  return (file, args, options = {}) => runner(file, args, { ...options, env: { ...(options.env ?? process.env), XTABLES_LOCKFILE: lockFile } });
}

/**
 * Another process held the xtables lock for all of --wait. iptables-legacy-restore takes the lock
 * per table section, so sections before the one that waited may have committed; the next attempt
 * reads the tables again and writes only what still differs.
 */
export class XtablesLockBusyError extends Error {
  readonly code = 'EBUSY';
  constructor(cause: ExecError) {
    super(`another process (kube-proxy, the CNI?) held the xtables lock for more than ${LOCK_WAIT_SECONDS} s: the write stopped there, retrying (${cause.result.stderr.trim()})`);
    this.name = 'XtablesLockBusyError';
  }
}

/** The tables iptables keeps in nf_tables (family ip) under these names; iptables-nft-save shows those. */
const XTABLES_TABLES = new Set(['filter', 'nat', 'mangle', 'raw', 'security']);

/**
 * The iptables tables one flavour holds in this network namespace, read without a process: for
 * legacy, the kernel's /proc/net/ip_tables_names (what iptables-legacy-save itself dumps; a
 * namespace registers a table on its first use); for nft, the family ip tables of those names, over
 * netlink. null when that cannot be told (no ip_tables module loaded, netlink not answering): read
 * with iptables-save then. An empty list means the save would print nothing.
 */
export async function iptablesTableNames(mode: IptablesMode): Promise<string[] | null> {
  if (mode === 'nft') return (await nftTableNames('ip'))?.filter((name) => XTABLES_TABLES.has(name)) ?? null;
  try {
    return (await readFile('/proc/self/net/ip_tables_names', 'utf8')).split('\n').filter((name) => name !== '');
  } catch {
    return null;
  }
}

export async function iptablesSave(runner: ProcessRunner, mode: IptablesMode): Promise<string> {
  return (await runner(`iptables-${mode}-save`, [])).stdout;
}

/**
 * One atomic transaction per table section; --noflush leaves every chain not named in the input
 * alone. `onInputClosed`: see ExecOptions.
 */
export async function iptablesRestore(runner: ProcessRunner, mode: IptablesMode, input: string, onInputClosed?: () => void): Promise<void> {
  try {
    await runner(`iptables-${mode}-restore`, ['--noflush', '--wait', String(LOCK_WAIT_SECONDS)], { input, ...(onInputClosed ? { onInputClosed } : {}) });
  } catch (error) {
    if (error instanceof ExecError && error.result.code === EXIT_RESOURCE_PROBLEM && /xtables lock/.test(error.result.stderr)) throw new XtablesLockBusyError(error);
    throw error;
  }
}

/**
 * One flavour's iptables-save output, or null when that flavour is not usable on this host (its
 * tools missing, its kernel side absent, the save failing): finding which flavour the host speaks
 * reads both, and one that cannot be read simply holds no rules. Which to choose is plan's call.
 */
export async function iptablesSaveIfUsable(runner: ProcessRunner, mode: IptablesMode): Promise<string | null> {
  try {
    const result = await runner(`iptables-${mode}-save`, [], { allowFailure: true });
    return result.code === 0 ? result.stdout : null;
  } catch {
    return null;
  }
}
