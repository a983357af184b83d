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
 * The netlink calls, saying when set members cannot be written over netlink: the driver then writes
 * them with `ipset restore` (it still works, a process per change), which would otherwise go
 * unnoticed on a kernel that always refuses. Said once per set and cause, and again when that set's
 * members go over netlink once more.
 */
export function sayingMemberFallbacks(netlink: FilterNetlink, logger: Logger): FilterNetlink {
  const failing = new Streaks();
  const failed = (set: string, cause: string) => {
    if (failing.mark(set, cause) === 'new') logger.warn({ set, cause }, 'set members could not be written over netlink: ipset restore writes them instead');
  };
  return {
    ...netlink,
    async ipsetChangeMembers(set, add, del) {
      let written: boolean;
      try {
        written = await netlink.ipsetChangeMembers(set, add, del);
      } catch (error) {
        failed(set, (error as Error).message);
        throw error;
      }
      if (!written) failed(set, 'netlink refused a member or did not answer');
      else if (failing.clear(set)) logger.info({ set }, 'set members are written over netlink again');
      return written;
    },
  };
}
