import type { DesiredFdbEntry, DesiredFilter, DesiredRoute, DesiredState } from '../model/desired-state.ts';
import { routingObjects, type DesiredObject } from '../plan/desired-objects.ts';
import type { ApplyReport } from '../dataplane/report.ts';
import type { RoutingDataplane } from '../dataplane/routing-dataplane.ts';
import type { FilterDriver } from '../dataplane/filter.ts';
import { describeError } from '../startup/failure-log.ts';
import type { Component } from './component.ts';
import type { ComponentReport } from './object-table.ts';

export const ROUTING = 'routing';
export const PACKET_FILTER_COMPONENT = 'packet-filter';

/**
 * Links, addresses, rules, routes, FDB entries and sysctls: each its own object, written in one
 * pipelined batch. `holds` says what the kernel is vouched to hold (see RoutingDataplane.apply).
 */
export function routingComponent(dataplane: RoutingDataplane, holds: () => DesiredState | null = () => null): Component<DesiredState, ApplyReport> {
  const known = new WeakMap<DesiredRoute | DesiredFdbEntry, DesiredObject>();
  return {
    name: ROUTING,
    objects: (desired) => routingObjects(desired, known),
    apply: (desired, gate) => dataplane.apply(desired, gate, holds() ?? undefined),
  };
}

export interface FilterReport extends ComponentReport {
  writes: number;
  /** The foreign rules ahead of seaway's jumps that made this pass's write necessary. */
  rivals?: string[];
  /** What was written, one line per write. */
  changes?: string[];
}

/** The packet filter object's key: which backend (and iptables flavour) programs it. */
export function filterKey(driver: Pick<FilterDriver, 'backend' | 'iptablesMode'>): string {
  return driver.backend === 'iptables' ? `iptables-${driver.iptablesMode}` : 'nftables';
}

/**
 * Until the backend is detected the filter is still wanted: pending, so the node is not ready
 * with routes alone. The detected backend's object replaces it (same component).
 */
const undetectedFilter: Component<DesiredFilter | null, FilterReport> = {
  name: PACKET_FILTER_COMPONENT,
  objects: (desired) => (desired ? [{ kind: 'filter', key: 'undetected', object: 'packet filter' }] : []),
  apply: async (desired) => ({
    failures: desired ? [{ kind: 'filter', key: 'undetected', object: 'packet filter', reason: 'waiting for the packet filter backend (see packet-filter)', blocked: true }] : [],
    deferred: [],
    writes: 0,
  }),
};

/**
 * The packet filter is one object. Its writes are transactions (ipset restore, iptables-restore
 * with one COMMIT per table, nft -f) that each apply all or nothing: when one fails, the filter
 * shows failed with the tool's message and is retried on its own backoff; what earlier
 * transactions of the same attempt wrote stays, and the next attempt reads the kernel again and
 * writes only what still differs. `vouched` says whether the kernel holds the driver's last apply
 * untouched (see FilterDriver.apply).
 */
export function filterComponent(driver: FilterDriver | null, vouched: () => boolean = () => false): Component<DesiredFilter | null, FilterReport> {
  if (driver === null) return undetectedFilter;
  const key = filterKey(driver);
  const describe = (desired: DesiredFilter): string =>
    `packet filter (${key}) for ${desired.localCidrs.length} local and ${desired.remoteCidrs.length} remote CIDRs`;
  return {
    name: PACKET_FILTER_COMPONENT,
    objects: (desired): DesiredObject[] => (desired ? [{ kind: 'filter', key, object: describe(desired) }] : []),
    async apply(desired, gate) {
      if (!gate('filter', key)) return { failures: [], deferred: [{ kind: 'filter', key }], writes: 0 };
      try {
        const { writes, rivals, changes } = await driver.apply(desired, vouched());
        return { failures: [], deferred: [], writes, ...(rivals ? { rivals } : {}), ...(changes ? { changes } : {}) };
      } catch (error) {
        const err = error instanceof Error ? error : new Error(String(error));
        const code = (err as NodeJS.ErrnoException).code;
        const object = desired ? describe(desired) : `removing packet filter (${key})`;
        return { failures: [{ kind: 'filter', key, object, reason: describeError(err), ...(typeof code === 'string' ? { code } : {}) }], deferred: [], writes: 0 };
      }
    },
  };
}
