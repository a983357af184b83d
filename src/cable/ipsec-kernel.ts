/**
 * The kernel objects the IPsec cable keeps itself (charon keeps the rest: its TUN device, its
 * routes in table 220): the fail-closed floor (a rule to a table of blackhole routes for every
 * remote subnet, looked up right after charon's table) and, under kernel-libipsec, the /32 source
 * addresses on lo that a local traffic selector needs. Only routes and rules stamped with seaway's
 * protocol are ever changed or removed.
 */
import { OWNERSHIP } from '../model/ownership.ts';
import { applyAll, type KernelWrite, type Rtnetlink } from '../kernel/rtnetlink.ts';
import { RTN_BLACKHOLE } from '../kernel/routes.ts';

export interface IpsecKernel {
  /** The IPv4 addresses on the gateway now. */
  addresses(): Promise<string[]>;
  /**
   * Exactly these addresses as seaway's /32s on lo (label `lo:seaway`): each is added unless some
   * interface has it already, and seaway's that are no longer wanted (a changed service range) go.
   */
  ensureAddresses(addresses: readonly string[]): Promise<void>;
  /** The rule to the fail-closed table, and blackholes for exactly these subnets (others of seaway's in that table go). */
  ensureFailClosed(subnets: readonly string[]): Promise<void>;
  /** Everything above gone: seaway's routes in the fail-closed table, its rule, its source addresses (a node that is no longer a gateway, an uninstall). */
  removeAll(): Promise<void>;
}

/** The label on the /32s seaway adds to lo (a label must start with its interface's name). */
const SOURCE_LABEL = 'lo:seaway';

export function ipsecKernel(rtnl: Rtnetlink): IpsecKernel {
  const protocol = OWNERSHIP.routeProtocol;
  const table = OWNERSHIP.cableFailClosedTable;
  const priority = OWNERSHIP.cableFailClosedRulePriority;
  return {
    addresses: async () => (await rtnl.listAddresses()).map((a) => a.address),
    async ensureAddresses(addresses) {
      const observed = await rtnl.listAddresses();
      const wanted = new Set(addresses);
      const writes: KernelWrite[] = observed
        .filter((a) => a.label === SOURCE_LABEL && !wanted.has(a.address))
        .map((a) => ({ kind: 'address', write: 'delete', ifindex: a.ifindex, cidr: a.cidr }));
      const present = new Set(observed.map((a) => a.address));
      const missing = addresses.filter((a) => !present.has(a));
      if (missing.length > 0) {
        const lo = (await rtnl.listLinks()).find((l) => l.name === 'lo');
        if (!lo) throw new Error('no loopback interface to hold the IPsec source addresses');
        for (const a of missing) writes.push({ kind: 'address', write: 'create', ifindex: lo.index, cidr: `${a}/32`, label: SOURCE_LABEL });
      }
      await applyAll(rtnl, writes);
    },
    async ensureFailClosed(subnets) {
      const writes: KernelWrite[] = [];
      const rules = await rtnl.listRules();
      if (!rules.some((r) => r.priority === priority && r.table === table)) writes.push({ kind: 'rule', write: 'create', rule: { priority, table, protocol } });
      const routes = await rtnl.listRoutes({ table });
      const wanted = new Set(subnets);
      for (const route of routes) {
        if (route.type === RTN_BLACKHOLE && wanted.has(route.dst)) wanted.delete(route.dst);
        else if (route.protocol === protocol) writes.push({ kind: 'route', write: 'delete', route: { table, dst: route.dst, protocol } });
      }
      for (const dst of wanted) writes.push({ kind: 'route', write: 'create', route: { table, dst, protocol, blackhole: true } });
      await applyAll(rtnl, writes);
    },
    async removeAll() {
      await this.ensureFailClosed([]);
      await this.ensureAddresses([]);
      const rules = await rtnl.listRules();
      await applyAll(rtnl, rules.filter((r) => r.priority === priority && r.table === table && r.protocol === protocol)
        .map((): KernelWrite => ({ kind: 'rule', write: 'delete', rule: { priority, table, protocol } })));
    },
  };
}
