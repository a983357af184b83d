import { NetlinkConnection, type NetlinkConnectionOptions, type NetlinkRequest } from './netlink/connection.ts';
import { NetlinkError } from './netlink/errors.ts';
import { RTM_GETADDR, decodeAddress, describeAddress, encodeAddressDump, encodeAddressRequest, type ObservedAddress } from './addresses.ts';
import { RTM_GETNEIGH, decodeFdbEntry, describeFdb, encodeFdbDump, encodeFdbRequest, type FdbSpec, type ObservedFdbEntry } from './fdb.ts';
import {
  RTM_GETLINK, decodeLink, encodeCreateVxlan, encodeCreateWireguard, encodeDeleteLink, encodeLinkDump, encodeSetMtu, encodeSetUp,
  type ObservedLink, type VxlanSpec,
} from './links.ts';
import { RTM_GETROUTE, routeMatcher, describeRoute, encodeRouteDump, encodeRouteRequest, type ObservedRoute, type RouteFilter, type RouteSpec, type RouteWrite } from './routes.ts';
import { decodeDefaultRoute, type ObservedDefaultRoute } from './default-routes.ts';
import { RTM_GETNEXTHOP, decodeNexthop, encodeNexthopDump, type ObservedNexthop } from './nexthops.ts';
import { RTM_GETRULE, decodeRule, describeRule, encodeRuleDump, encodeRuleRequest, type ObservedRule, type RuleSpec } from './rules.ts';

export type { ObservedAddress } from './addresses.ts';
export type { FdbSpec, ObservedFdbEntry } from './fdb.ts';
export type { ObservedLink, VxlanInfo, VxlanSpec } from './links.ts';
export type { ObservedRoute, RouteSpec, RouteWrite } from './routes.ts';
export type { ObservedRule, RuleSpec } from './rules.ts';
export type { ObservedDefaultRoute } from './default-routes.ts';
export type { ObservedNexthop } from './nexthops.ts';
export { NetlinkError } from './netlink/errors.ts';

/** One change to the kernel; a batch of these is pipelined and each gets its own outcome. */
export type KernelWrite =
  | { kind: 'route'; write: RouteWrite; route: RouteSpec }
  | { kind: 'rule'; write: 'create' | 'delete'; rule: RuleSpec }
  | { kind: 'address'; write: 'create' | 'delete'; ifindex: number; cidr: string; label?: string }
  | { kind: 'fdb'; write: 'append' | 'delete'; entry: FdbSpec }
  | { kind: 'link'; write: 'create-vxlan'; vxlan: VxlanSpec }
  | { kind: 'link'; write: 'create-wireguard'; name: string; mtu: number }
  | { kind: 'link'; write: 'set-mtu'; index: number; mtu: number }
  | { kind: 'link'; write: 'set-up'; index: number; up: boolean }
  | { kind: 'link'; write: 'delete'; index: number };

export type WriteResult =
  | { write: KernelWrite; ok: true }
  /** error is a NetlinkError (with errno code) when the kernel refused, a plain Error when the input was malformed. */
  | { write: KernelWrite; ok: false; error: Error };


export interface Rtnetlink {
  listLinks(): Promise<ObservedLink[]>;
  listAddresses(ifindex?: number): Promise<ObservedAddress[]>;
  listRoutes(filter?: RouteFilter): Promise<ObservedRoute[]>;
  /** IPv4 unicast default routes of every table, with their next hops as the route names them. */
  listDefaultRoutes(): Promise<ObservedDefaultRoute[]>;
  /** Nexthop objects (Linux 5.3+; the dump fails on older kernels, which have no routes naming one). */
  listNexthops(): Promise<ObservedNexthop[]>;
  listRules(): Promise<ObservedRule[]>;
  listFdb(ifindex: number): Promise<ObservedFdbEntry[]>;
  /** Pipelines all writes and reports each one's outcome in order; never rejects for a refused write. */
  apply(writes: readonly KernelWrite[]): Promise<WriteResult[]>;
  close(): void;
}

/** Applies the writes (pipelined); rejects naming every refused one. For callers that need all of them. */
export async function applyAll(rtnl: Pick<Rtnetlink, 'apply'>, writes: readonly KernelWrite[]): Promise<void> {
  if (writes.length === 0) return;
  const failed = (await rtnl.apply(writes)).filter((r) => !r.ok);
  if (failed.length > 0) throw new Error(failed.map((r) => (r.ok ? '' : r.error.message)).join('; '));
}

export function describeWrite(write: KernelWrite): string {
  switch (write.kind) {
    case 'route': return describeRoute(write.route);
    case 'rule': return describeRule(write.rule);
    case 'address': return describeAddress(write.ifindex, write.cidr);
    case 'fdb': return describeFdb(write.entry);
    case 'link':
      switch (write.write) {
        case 'create-vxlan': return `link ${write.vxlan.name} (vxlan vni ${write.vxlan.vni})`;
        case 'create-wireguard': return `link ${write.name} (wireguard)`;
        case 'set-mtu': return `link ifindex ${write.index} mtu ${write.mtu}`;
        case 'set-up': return `link ifindex ${write.index} ${write.up ? 'up' : 'down'}`;
        case 'delete': return `link ifindex ${write.index}`;
      }
  }
}

function encodeWrite(write: KernelWrite): NetlinkRequest {
  switch (write.kind) {
    case 'route': return encodeRouteRequest(write.write, write.route);
    case 'rule': return encodeRuleRequest(write.write, write.rule);
    case 'address': return encodeAddressRequest(write.write, write.ifindex, write.cidr, write.label);
    case 'fdb': return encodeFdbRequest(write.write, write.entry);
    case 'link':
      switch (write.write) {
        case 'create-vxlan': return encodeCreateVxlan(write.vxlan);
        case 'create-wireguard': return encodeCreateWireguard(write.name, write.mtu);
        case 'set-mtu': return encodeSetMtu(write.index, write.mtu);
        case 'set-up': return encodeSetUp(write.index, write.up);
        case 'delete': return encodeDeleteLink(write.index);
      }
  }
}

const decodeAll = <T>(payloads: { payload: Buffer }[], decode: (p: Buffer) => T | undefined): T[] =>
  payloads.map((m) => decode(m.payload)).filter((x): x is T => x !== undefined);

/** Opens a request socket on the calling process's network namespace. Close it when done. */
export function openRtnetlink(options: Pick<NetlinkConnectionOptions, 'timeoutMs' | 'warn' | 'socketFactory'> = {}): Rtnetlink {
  const connection = new NetlinkConnection(options);

  async function apply(writes: readonly KernelWrite[]): Promise<WriteResult[]> {
    const results: (WriteResult | undefined)[] = new Array(writes.length);
    const requests: NetlinkRequest[] = [];
    const positions: number[] = [];
    writes.forEach((write, i) => {
      try {
        requests.push(encodeWrite(write));
        positions.push(i);
      } catch (error) {
        results[i] = { write, ok: false, error: new Error(`${describeWrite(write)}: ${(error as Error).message}`) };
      }
    });
    const outcomes = await connection.batch(requests);
    outcomes.forEach((errno, j) => {
      const i = positions[j]!;
      const write = writes[i]!;
      results[i] = errno === 0
        ? { write, ok: true }
        : { write, ok: false, error: new NetlinkError(errno, write.write, describeWrite(write)) };
    });
    return results as WriteResult[];
  }

  return {
    listLinks: async () => decodeAll(await connection.dump(RTM_GETLINK, encodeLinkDump()), decodeLink),
    listAddresses: async (ifindex) => decodeAll(await connection.dump(RTM_GETADDR, encodeAddressDump()), decodeAddress)
      .filter((a) => ifindex === undefined || a.ifindex === ifindex),
    listRoutes: async (filter = {}) => decodeAll(await connection.dump(RTM_GETROUTE, encodeRouteDump()), routeMatcher(filter)),
    listDefaultRoutes: async () => decodeAll(await connection.dump(RTM_GETROUTE, encodeRouteDump()), decodeDefaultRoute),
    listNexthops: async () => decodeAll(await connection.dump(RTM_GETNEXTHOP, encodeNexthopDump()), decodeNexthop),
    listRules: async () => decodeAll(await connection.dump(RTM_GETRULE, encodeRuleDump()), decodeRule),
    listFdb: async (ifindex) => decodeAll(await connection.dump(RTM_GETNEIGH, encodeFdbDump()), decodeFdbEntry)
      .filter((e) => e.ifindex === ifindex),
    apply,
    close: () => connection.close(),
  };
}
