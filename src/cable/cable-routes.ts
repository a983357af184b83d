/**
 * The routes of a cable that routes by device (WireGuard, VXLAN): each remote subnet into the
 * cable's device in seaway's cable table, behind seaway's rule. Only routes stamped with seaway's
 * protocol in that table are changed or removed.
 */
import { OWNERSHIP } from '../model/ownership.ts';
import { applyAll, type KernelWrite, type Rtnetlink } from '../kernel/rtnetlink.ts';

export interface CableRoute {
  dst: string;
  oif: number;
  gateway?: string;
  /** The source for traffic the gateway itself sends (an address inside the local cluster's subnets, which the peer accepts). */
  src?: string;
}

export interface CableRoutes {
  /** Exactly these routes in the cable table (others of seaway's there go), and the rule to it. */
  ensure(routes: readonly CableRoute[]): Promise<void>;
  /** The table's seaway routes and the rule gone (a node that stops being the gateway, an uninstall). */
  removeAll(): Promise<void>;
}

const same = (a: CableRoute, b: { oif?: number; gateway?: string; src?: string }): boolean =>
  a.oif === b.oif && (a.gateway ?? '') === (b.gateway ?? '') && (a.src ?? '') === (b.src ?? '');

export function cableRoutes(rtnl: Rtnetlink): CableRoutes {
  const protocol = OWNERSHIP.routeProtocol;
  const table = OWNERSHIP.cableRoutesTable;
  const priority = OWNERSHIP.cableRoutesRulePriority;
  const routeWrites = async (routes: readonly CableRoute[]): Promise<KernelWrite[]> => {
    const writes: KernelWrite[] = [];
    const wanted = new Map(routes.map((r) => [r.dst, r]));
    const ours = new Set<string>();
    for (const route of await rtnl.listRoutes({ table })) {
      if (route.protocol !== protocol) continue;
      ours.add(route.dst);
      const want = wanted.get(route.dst);
      if (want && same(want, route)) wanted.delete(route.dst);
      else if (!want) writes.push({ kind: 'route', write: 'delete', route: { table, dst: route.dst, protocol } });
    }
    // Replace only what is seaway's; create fails (EEXIST, reported) on a route someone else put there.
    for (const route of wanted.values()) writes.push({ kind: 'route', write: ours.has(route.dst) ? 'replace' : 'create', route: { table, protocol, ...route } });
    return writes;
  };
  return {
    async ensure(routes) {
      const writes = await routeWrites(routes);
      if (!(await rtnl.listRules()).some((r) => r.priority === priority && r.table === table)) writes.unshift({ kind: 'rule', write: 'create', rule: { priority, table, protocol } });
      await applyAll(rtnl, writes);
    },
    async removeAll() {
      const writes = await routeWrites([]);
      for (const rule of await rtnl.listRules()) {
        if (rule.priority === priority && rule.table === table && rule.protocol === protocol) writes.push({ kind: 'rule', write: 'delete', rule: { priority, table, protocol } });
      }
      await applyAll(rtnl, writes);
    },
  };
}
