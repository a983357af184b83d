import { join } from 'node:path';
import type { Rtnetlink } from './kernel/rtnetlink.ts';
import { procSysctls } from './kernel/sysctl.ts';
import { createRoutingDataplane, type RoutingDataplane } from './dataplane/routing-dataplane.ts';

/** The sysctl values seaway replaced are kept in the state directory, so a later cleanup can give them back. */
export function routingDataplane(rtnl: Rtnetlink, stateDir: string): RoutingDataplane {
  return createRoutingDataplane({ rtnl, sysctls: procSysctls(), sysctlStatePath: join(stateDir, 'sysctl-originals.json') });
}

