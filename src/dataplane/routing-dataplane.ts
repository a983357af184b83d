import { isDeepStrictEqual } from 'node:util';
import type { DesiredState, DesiredSysctl } from '../model/desired-state.ts';
import type { Rtnetlink } from '../kernel/rtnetlink.ts';
import { join } from 'node:path';
import { procSysctls, type Sysctls } from '../kernel/sysctl.ts';
import type { Logger } from '../telemetry/logger.ts';
import { emptyReport, mergeReports, type ApplyReport, type AttemptGate, type ObjectKind } from './report.ts';
import { createRoutingDriver, type OwnedRouting, type RoutingDriver } from './routing-driver.ts';
import { createSysctlDriver, type SysctlDriver } from './sysctl-driver.ts';

export interface RoutingDataplaneOptions {
  rtnl: Rtnetlink;
  sysctls: Sysctls;
  /** File that keeps the sysctl values seaway replaced, for cleanup after a restart. */
  sysctlStatePath: string;
  logger: Logger;
}

/** The routing half of the node datapath: links, addresses, routes, rules, FDB and sysctls. */
export interface RoutingDataplane {
  observe(): Promise<OwnedRouting>;
  /**
   * Programs what the gate allows (see AttemptGate); objects held back are reported deferred. With
   * `holds`, the caller vouches that the kernel holds that state, programmed and untouched since:
   * only the difference is written, and nothing is read that the difference does not need.
   */
  apply(desired: DesiredState, gate?: AttemptGate, holds?: DesiredState): Promise<ApplyReport>;
  /** Restores the sysctls and removes the routing objects; never throws: a part that fails as a whole is one failure in the report. */
  cleanup(): Promise<ApplyReport>;
  /** See RoutingDriver.routeDestinations. */
  routeDestinations(): ReadonlySet<string>;
}

export function createRoutingDataplane(options: RoutingDataplaneOptions): RoutingDataplane {
  const routing: RoutingDriver = createRoutingDriver(options.rtnl);
  const sysctls: SysctlDriver = createSysctlDriver({ sysctls: options.sysctls, statePath: options.sysctlStatePath, logger: options.logger });
  return {
    observe: () => routing.observe(),
    routeDestinations: () => routing.routeDestinations(),
    async apply(desired, gate, holds) {
      // Links first: per-interface sysctls of vx-submariner exist only once the link does. A link just
      // made gets its own before its routes: the kernel arms a neighbour's first retry with the
      // retrans_time it has then, so one set after the routes would come too late for the first ARP
      // (the gateway-move gap). Their failures are reported once, by the full step after the routes.
      let early = emptyReport();
      const linkSysctls = desired.sysctls.filter((s) => desired.links.some((link) => s.key.split('/').includes(link.name)));
      const routed = await routing.apply(desired, gate, async () => {
        const made = await sysctls.apply(linkSysctls, gate, 'some').catch(() => emptyReport());
        // Only what it wrote: a write that failed is tried again, and counted, by the full step.
        const ok = made.writesByKind.sysctl?.ok ?? 0;
        early = { ...emptyReport(), writes: ok, written: made.written, writesByKind: ok > 0 ? { sysctl: { ok, failed: 0 } } : {} };
      }, holds);
      // The same links and sysctls on a node vouched for: no sysctl to read or write either.
      if (holds !== undefined && isDeepStrictEqual(holds.links, desired.links) && isDeepStrictEqual(holds.sysctls, desired.sysctls)) return mergeReports(routed, early);
      // The sysctls' own trouble (a state file that cannot be written) fails the sysctls, not the routes already programmed.
      const tuned = await sysctls.apply(desired.sysctls, gate).catch((error: unknown) => sysctlsFailed(desired.sysctls, error));
      return mergeReports(routed, early, tuned);
    },
    async cleanup() {
      // Sysctls first, while the interfaces they belong to still exist; but a sysctl step that cannot
      // run (state file unwritable) must not leave the routes and links behind, nor the reverse.
      const restored = await sysctls.cleanup().catch((error: unknown) => failedPart('sysctl', 'sysctls seaway replaced', error));
      const removed = await routing.cleanup().catch((error: unknown) => failedPart('route', 'seaway routes, rules and links', error));
      return mergeReports(restored, removed);
    },
  };
}

function failedPart(kind: ObjectKind, object: string, error: unknown): ApplyReport {
  const report = emptyReport();
  const code = (error as NodeJS.ErrnoException | null)?.code;
  // The part as a whole is the object that failed (a named variable, so it fits ObjectFailure whether or not it has a key).
  const failure = { kind, key: object, object, reason: `not cleaned up: ${(error as Error | null)?.message ?? String(error)}`, ...(typeof code === 'string' ? { code } : {}) };
  report.failures.push(failure);
  return report;
}

/** Every desired sysctl fails with the error that stopped the sysctl step as a whole. */
function sysctlsFailed(desired: readonly DesiredSysctl[], error: unknown): ApplyReport {
  const report = emptyReport();
  const code = (error as NodeJS.ErrnoException | null)?.code;
  const reason = (error as Error | null)?.message ?? String(error);
  for (const { key, value } of desired) report.failures.push({ kind: 'sysctl', key, object: `sysctl ${key}=${value}`, reason, ...(typeof code === 'string' ? { code } : {}) });
  return report;
}

/** The agent's and cleanup's dataplane: the sysctl values seaway replaced are kept in the state directory, so a later cleanup can give them back. */
export function nodeRoutingDataplane(rtnl: Rtnetlink, stateDir: string, logger: Logger): RoutingDataplane {
  return createRoutingDataplane({ rtnl, sysctls: procSysctls(), sysctlStatePath: join(stateDir, 'sysctl-originals.json'), logger });
}
