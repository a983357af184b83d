import type { Logger } from './telemetry/logger.ts';
import type { FilterBackend } from './config.ts';
import type { ApplyReport } from './dataplane/report.ts';
import { openRtnetlink } from './kernel/rtnetlink.ts';
import { run as runProcess } from './kernel/exec.ts';
import { createFilterDriver } from './dataplane/filter.ts';
import { withXtablesLock } from './kernel/iptables.ts';
import { nodeRoutingDataplane } from './dataplane/routing-dataplane.ts';
import { removeCableLeftovers } from './cable/cable-leftovers.ts';
import { errorText } from './model/error-text.ts';

/** The parts of an uninstall, injected so that a failing part can be tested without a kernel. */
export interface CleanupParts {
  /** Sysctls seaway replaced, then routes, rules, links and FDB. */
  routing(): Promise<ApplyReport>;
  /** Chains, rules, sets and the nft table. */
  filter(): Promise<{ writes: number }>;
}

/**
 * Runs every part whatever happened to the others: an uninstall that stops at the first error leaves
 * the rest of the datapath behind (a corrupt sysctl state file used to keep every route). Each
 * failure is logged on its own line at the end; the exit code is 1 if there was any.
 */
export async function runCleanup(parts: CleanupParts, logger: Logger): Promise<number> {
  const failures: Array<{ part: string; object?: string; kind?: string; code?: string; reason: string }> = [];
  let routingWrites = 0;
  let filterWrites = 0;
  try {
    const routed = await parts.routing();
    routingWrites = routed.writes;
    for (const f of routed.failures) failures.push({ part: 'routing', kind: f.kind, object: f.object, reason: f.reason, ...(f.code ? { code: f.code } : {}) });
  } catch (error) {
    failures.push({ part: 'routing', reason: (error as Error).message });
  }
  try {
    filterWrites = (await parts.filter()).writes;
  } catch (error) {
    failures.push({ part: 'packet filter', reason: (error as Error).message });
  }
  for (const failure of failures) logger.error(failure, `cleanup could not remove ${failure.object ?? `the ${failure.part}`}`);
  logger.info({ routingWrites, filterWrites, failures: failures.length }, failures.length === 0 ? 'cleanup finished' : 'cleanup finished with failures');
  return failures.length === 0 ? 0 : 1;
}

/** Removes everything seaway owns on this node; needs no API server, never waits for one. */
export async function cleanup(backend: 'auto' | FilterBackend, stateDir: string, xtablesLock: string, logger: Logger): Promise<number> {
  return runCleanup({
    async routing() {
      const rtnl = openRtnetlink();
      try {
        const report = await nodeRoutingDataplane(rtnl, stateDir, logger).cleanup();
        // The gateway's cables keep their own: the fail-closed floor (221), the cable table (218), the IPsec source addresses on lo, the cable devices.
        try {
          await removeCableLeftovers(rtnl);
        } catch (error) {
          report.failures.push({ kind: 'route', key: 'cable', object: 'the cables\' kernel state (tables and rules 218 and 221, IPsec source addresses on lo, cable devices)', reason: errorText(error) });
        }
        return report;
      } finally {
        rtnl.close();
      }
    },
    filter: async () => (await createFilterDriver(backend, { run: withXtablesLock(runProcess, xtablesLock) })).cleanup(),
  }, logger);
}
