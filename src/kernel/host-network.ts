import type { HostNetwork } from '../model/host-network.ts';
import { nexthopPaths, type ObservedNexthop } from './nexthops.ts';
import type { Rtnetlink } from './rtnetlink.ts';
import { FR_ACT_TO_TBL } from './rules.ts';

/**
 * The node's links, IPv4 addresses, IPv4 default routes of every table with their next hops
 * resolved, and lookup rules: what plan/underlay.ts chooses the VXLAN underlay from.
 */
export async function readHostNetwork(rtnl: Rtnetlink): Promise<HostNetwork> {
  const [links, addresses, routes, rules] = await Promise.all([rtnl.listLinks(), rtnl.listAddresses(), rtnl.listDefaultRoutes(), rtnl.listRules()]);
  // A route names only its nexthop object when net.ipv4.nexthop_compat_mode is 0: only then are the objects read.
  const namesObjectOnly = routes.some((r) => r.paths.length === 0 && r.nexthopId !== undefined);
  const nexthops = namesObjectOnly ? new Map((await rtnl.listNexthops()).map((n) => [n.id, n])) : new Map<number, ObservedNexthop>();
  return {
    links,
    addresses,
    defaultRoutes: routes.map((r) => ({
      table: r.table,
      metric: r.metric,
      ...(r.src === undefined ? {} : { src: r.src }),
      paths: r.paths.length === 0 && r.nexthopId !== undefined ? nexthopPaths(r.nexthopId, nexthops) : r.paths,
    })),
    rules: rules.filter((r) => r.action === FR_ACT_TO_TBL).map((r) => ({
      priority: r.priority, table: r.table, narrowed: r.narrowed, ...(r.from === undefined ? {} : { from: r.from }),
    })),
  };
}
