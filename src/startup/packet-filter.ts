import type { ProcessRunner } from '../kernel/iptables.ts';
import type { FilterBackend as ConfiguredBackend } from '../config.ts';
import { createFilterDriver, type FilterDriver } from '../dataplane/filter.ts';
import type { FilterNetlink } from '../dataplane/filter-iptables.ts';
import type { Logger } from '../telemetry/logger.ts';
import { Streaks } from '../telemetry/streaks.ts';

export const PACKET_FILTER = 'packet-filter';

/**
 * createFilterDriver, made strict: backend detection reads a save tool that runs but fails (xtables
 * lock, a broken install) as "no rules in this flavour", which could pick the wrong iptables flavour
 * for good, a classic cause of silently ignored rules. Any detection tool that ran and failed fails
 * the attempt, and so does a first read of the chosen backend, so a driver returned here works.
 * `netlink` defaults to the kernel's (createFilterDriver); a test passes fakes with its fake runner.
 */
export async function createCheckedFilterDriver(backend: ConfiguredBackend, run: ProcessRunner, netlink?: FilterNetlink): Promise<FilterDriver> {
  let detecting = true;
  const failed: string[] = [];
  const watched: ProcessRunner = async (file, args, options) => {
    const result = await run(file, args, options);
    if (detecting && result.code !== 0) {
      const stderr = result.stderr.trim().split('\n')[0];
      failed.push(`${[file, ...args].join(' ')} exited ${result.code}${stderr ? `: ${stderr}` : ''}`);
    }
    return result;
  };
  const driver = await createFilterDriver(backend, { run: watched, netlink });
  detecting = false;
  if (failed.length > 0) {
    throw new Error(`cannot tell which packet filter the host uses: ${failed.sort().join('; ')}`
      + (backend === 'auto' ? ' (--filter-backend / SEAWAY_FILTER_BACKEND set explicitly skips the nft check)' : ''));
  }
  await driver.observe();
  return driver;
}

/**
 * The netlink calls, saying when sets cannot be made or their members written over netlink: the
 * driver then writes them with `ipset restore` or `nft -f` (it still works, a process per change),
 * which would otherwise go unnoticed on a kernel that always refuses. Said once per set and cause,
 * and again when that set is written over netlink once more.
 */
export function sayingMemberFallbacks(netlink: FilterNetlink, logger: Logger): FilterNetlink {
  const failing = new Streaks();
  /** The call's answer, each set's streak (of this kind of write) marked or cleared by it; a throw is passed on. */
  /** `beforeIt`: what the call waited for; when that failed, so did the call, and that is not netlink's to say. */
  const watched = async (kind: string, sets: readonly string[], what: string, instead: string, call: () => Promise<boolean>, beforeIt?: Promise<unknown>): Promise<boolean> => {
    const failed = (cause: string) => {
      for (const set of sets) if (failing.mark(`${kind} ${set}`, cause) === 'new') logger.warn({ set, cause }, `${what} over netlink: ${instead} writes them instead`);
    };
    let written: boolean;
    try {
      written = await call();
    } catch (error) {
      const before = await beforeIt?.then(() => 'done', () => 'failed');
      if (before !== 'failed') failed((error as Error).message);
      throw error;
    }
    // False also when the change could not be put in netlink's terms at all (see the kernel calls).
    if (!written) failed('netlink refused it, did not answer, or cannot carry it');
    else for (const set of sets) if (failing.clear(`${kind} ${set}`)) logger.info({ set }, `${what.replace(/could not be/, 'are')} over netlink again`);
    return written;
  };
  return {
    ...netlink,
    ipsetCreate: (sets) => watched('create', sets.map((s) => s.set), 'sets could not be made', 'ipset restore', () => netlink.ipsetCreate(sets)),
    ipsetChangeMembers: (set, add, del) => watched('members', [set], 'set members could not be written', 'ipset restore', () => netlink.ipsetChangeMembers(set, add, del)),
    nftChangeElements: (changes) => watched('elements', changes.map((c) => c.set), 'nft set elements could not be written', 'nft -f', () => netlink.nftChangeElements(changes)),
    nftFillAndWake: (fill, tableMade) => watched('fill', fill.map((f) => f.set), 'nft sets could not be filled', 'nft -f', () => netlink.nftFillAndWake(fill, tableMade), tableMade),
  };
}
