import type { DesiredState } from '../model/desired-state.ts';
import type { Rtnetlink } from '../kernel/rtnetlink.ts';
import { join } from 'node:path';
import { procSysctls, type Sysctls } from '../kernel/sysctl.ts';
import { mergeReports, type ApplyReport } from './report.ts';
import { createRoutingDriver, type OwnedRouting, type RoutingDriver } from './routing-driver.ts';
import { createSysctlDriver, type SysctlDriver } from './sysctl-driver.ts';

export interface RoutingDataplaneOptions {
  rtnl: Rtnetlink;
  sysctls: Sysctls;
  /** File that keeps the sysctl values seaway replaced, for cleanup after a restart. */
  sysctlStatePath: string;
}

/** The routing half of the node datapath: links, addresses, routes, rules, FDB and sysctls. */
export interface RoutingDataplane {
  observe(): Promise<OwnedRouting>;
  apply(desired: DesiredState): Promise<ApplyReport>;
  cleanup(): Promise<ApplyReport>;
}

export function createRoutingDataplane(options: RoutingDataplaneOptions): RoutingDataplane {
  const routing: RoutingDriver = createRoutingDriver(options.rtnl);
  const sysctls: SysctlDriver = createSysctlDriver({ sysctls: options.sysctls, statePath: options.sysctlStatePath });
  return {
    observe: () => routing.observe(),
    async apply(desired) {
      // Links first: per-interface sysctls of vx-submariner exist only once the link does.
      const routed = await routing.apply(desired);
      return mergeReports(routed, await sysctls.apply(desired.sysctls));
    },
    async cleanup() {
      // Sysctls first, while the interfaces they belong to still exist.
      const restored = await sysctls.cleanup();
      return mergeReports(restored, await routing.cleanup());
    },
  };
}

/** The agent's and cleanup's dataplane: the sysctl values seaway replaced are kept in the state directory, so a later cleanup can give them back. */
export function nodeRoutingDataplane(rtnl: Rtnetlink, stateDir: string): RoutingDataplane {
  return createRoutingDataplane({ rtnl, sysctls: procSysctls(), sysctlStatePath: join(stateDir, 'sysctl-originals.json') });
}
