import type { ProcessRunner } from '../kernel/iptables.ts';
import type { FilterBackend as ConfiguredBackend } from '../config.ts';
import { createFilterDriver, type FilterDriver } from '../dataplane/filter.ts';
import type { FilterNetlink } from '../dataplane/filter-iptables.ts';

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
