import type { ProcessRunner } from '../kernel/iptables.ts';
import type { FilterBackend as ConfiguredBackend } from '../config.ts';
import type { Readiness } from '../server/readiness.ts';
import { createFilterDriver, type FilterDriver } from '../dataplane/filter.ts';
import type { FilterNetlinkReads } from '../dataplane/filter-iptables.ts';
import type { ComponentMetrics } from './component-metrics.ts';
import { describeError, type FailureLog } from './failure-log.ts';

export const PACKET_FILTER = 'packet-filter';

/**
 * createFilterDriver, made strict: backend detection reads a save tool that runs but fails (xtables
 * lock, a broken install) as "no rules in this flavour", which could pick the wrong iptables flavour
 * for good, a classic cause of silently ignored rules. Any detection tool that ran and failed fails
 * the attempt, and so does a first read of the chosen backend, so a driver returned here works.
 * `netlink` defaults to the kernel's (createFilterDriver); a test passes fakes with its fake runner.
 */
export async function createCheckedFilterDriver(backend: ConfiguredBackend, run: ProcessRunner, netlink?: FilterNetlinkReads): Promise<FilterDriver> {
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

export interface ReportingFilterDeps {
  readiness: Readiness;
  metrics: ComponentMetrics;
  log: FailureLog;
}

/**
 * The driver as the reconcile pass uses it: each apply's outcome becomes the packet-filter readiness
 * condition, a metric and a de-duplicated log line; a failure still throws, so the loop retries it
 * with backoff (the pass programs routing before the filter, so routes are in place meanwhile).
 */
export function reportingFilter(driver: FilterDriver, deps: ReportingFilterDeps): FilterDriver {
  let consecutiveFailures = 0;
  return {
    backend: driver.backend,
    iptablesMode: driver.iptablesMode,
    get writes() { return driver.writes; },
    observe: () => driver.observe(),
    drift: () => driver.drift(),
    cleanup: () => driver.cleanup(),
    notifications: () => driver.notifications(),
    async apply(desired) {
      try {
        const result = await driver.apply(desired);
        consecutiveFailures = 0;
        deps.metrics.failing.set({ component: PACKET_FILTER }, 0);
        deps.log.succeeded();
        deps.readiness.met(PACKET_FILTER);
        return result;
      } catch (error) {
        const err = error instanceof Error ? error : new Error(String(error));
        consecutiveFailures++;
        deps.metrics.failing.set({ component: PACKET_FILTER }, 1);
        deps.metrics.failures.inc({ component: PACKET_FILTER });
        deps.readiness.unmet(PACKET_FILTER, `applying the ${driver.backend} packet filter failed: ${describeError(err)}; retrying`);
        deps.log.failed({ error: err, attempt: consecutiveFailures });
        throw error;
      }
    },
  };
}
