import {
  NLA_TYPE_MASK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, AttributeWriter, align4, getU16, getU32, ipv4At, notAnIpv4Prefix, dumpRequest,
} from './netlink/codec.ts';
import type { NetlinkRequest } from './netlink/connection.ts';
import { networkOf, prefixLengthOf } from '../model/cidr.ts';

export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;
export const RTM_GETROUTE = 26;
const AF_INET = 2;
const RTA_DST = 1, RTA_OIF = 4, RTA_GATEWAY = 5, RTA_PRIORITY = 6, RTA_PREFSRC = 7, RTA_TABLE = 15;
/** The attributes decodeRoute reads, each 4 bytes. */
const ROUTE_FIELDS: ReadonlySet<number> = new Set([RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_PREFSRC, RTA_TABLE]);
const RTN_UNICAST = 1;
/** RTN_BLACKHOLE: packets matching it are dropped silently (a cable's fail-closed floor). */
export const RTN_BLACKHOLE = 6;
const RT_SCOPE_UNIVERSE = 0, RT_SCOPE_LINK = 253, RT_SCOPE_NOWHERE = 255;
/** The main routing table, where the node's default route lives. */
export const RT_TABLE_MAIN = 254;
/** The header's table byte for tables above 255 (the real id goes in RTA_TABLE / FRA_TABLE). */
export const RT_TABLE_COMPAT = 252;
const RTMSG_LEN = 12;

/** An IPv4 route as seaway writes it. */
export interface RouteSpec {
  table: number;
  /** Destination CIDR. */
  dst: string;
  gateway?: string;
  /** Output interface index. */
  oif?: number;
  /** Preferred source address. */
  src?: string;
  protocol: number;
  metric?: number;
  /** A blackhole route (no gateway, no device): what matches it is dropped. */
  blackhole?: boolean;
}

/** An IPv4 route as the kernel reports it. */
export interface ObservedRoute extends RouteSpec {
  scope: number;
  /** RTN_* (1 unicast, 2 local, 3 broadcast, ...). */
  type: number;
}

export type RouteWrite = 'create' | 'replace' | 'delete';

export function describeRoute(route: Pick<RouteSpec, 'table' | 'dst' | 'gateway' | 'oif' | 'src' | 'blackhole'>): string {
  if (route.blackhole) return `route blackhole ${route.dst} table ${route.table}`;
  return `route ${route.dst}${route.gateway ? ` via ${route.gateway}` : ''}${route.oif !== undefined ? ` oif ${route.oif}` : ''}${route.src ? ` src ${route.src}` : ''} table ${route.table}`;
}

/**
 * create fails with EEXIST when any route has the same destination and metric (seaway never
 * overwrites a route it did not make); replace is for routes already observed as seaway's;
 * delete matches destination, table, metric and protocol, so an unmarked route is never removed.
 */
export function encodeRouteRequest(write: RouteWrite, route: RouteSpec): NetlinkRequest {
  const prefixLength = prefixLengthOf(route.dst);
  const network = prefixLength < 0 ? -1 : networkOf(route.dst);
  if (network < 0) throw notAnIpv4Prefix(route.dst);
  const hasMetric = route.metric !== undefined;
  const deleting = write === 'delete';
  if (!deleting && route.blackhole && (route.gateway || route.oif !== undefined || route.src)) throw new Error('a blackhole route has no gateway, device or source');
  const count = deleting
    ? 2 + Number(hasMetric)
    : 2 + Number(hasMetric) + Number(Boolean(route.gateway)) + Number(route.oif !== undefined) + Number(Boolean(route.src));
  const body = new AttributeWriter(RTMSG_LEN, 8 * count);
  const header = body.buffer;
  header[0] = AF_INET;
  header[1] = prefixLength;
  header[4] = route.table < 256 ? route.table : RT_TABLE_COMPAT;
  header[5] = route.protocol;
  body.u32(RTA_TABLE, route.table).ipv4Number(RTA_DST, network);
  if (deleting) {
    header[6] = RT_SCOPE_NOWHERE;
    if (hasMetric) body.u32(RTA_PRIORITY, route.metric!);
    return { type: RTM_DELROUTE, flags: 0, body: [body.buffer] };
  }
  header[6] = route.gateway || route.blackhole ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
  header[7] = route.blackhole ? RTN_BLACKHOLE : RTN_UNICAST;
  if (hasMetric) body.u32(RTA_PRIORITY, route.metric!);
  if (route.gateway) body.ipv4(RTA_GATEWAY, route.gateway);
  if (route.oif !== undefined) body.u32(RTA_OIF, route.oif);
  if (route.src) body.ipv4(RTA_PREFSRC, route.src);
  const flags = NLM_F_CREATE | (write === 'create' ? NLM_F_EXCL : NLM_F_REPLACE);
  return { type: RTM_NEWROUTE, flags, body: [body.buffer] };
}

export const encodeRouteDump = (): Buffer[] => dumpRequest(RTMSG_LEN, AF_INET);

export function decodeRoute(payload: Buffer): ObservedRoute | undefined {
  if (payload.length < RTMSG_LEN || payload[0] !== AF_INET) return undefined;
  const route: ObservedRoute = { table: payload[4]!, dst: '', protocol: payload[5]!, scope: payload[6]!, type: payload[7]! };
  let dst = '0.0.0.0';
  // The attributes read where they lie, without a map or a buffer view each: a dump holds 10,000 of
  // seaway's routes. Of repeated types the last one wins; one of these shorter than its 4 bytes makes
  // the route unreadable (no route rather than a wrong one, such as 0.0.0.0/16 for a cut destination).
  for (let at = RTMSG_LEN; at + 4 <= payload.length;) {
    const length = getU16(payload, at);
    if (length < 4 || at + length > payload.length) break;
    const type = getU16(payload, at + 2) & NLA_TYPE_MASK;
    const value = at + 4;
    if (length < 8 && ROUTE_FIELDS.has(type)) return undefined;
    switch (type) {
      case RTA_DST: dst = ipv4At(payload, value); break;
      case RTA_TABLE: route.table = getU32(payload, value); break;
      case RTA_GATEWAY: route.gateway = ipv4At(payload, value); break;
      case RTA_OIF: route.oif = getU32(payload, value); break;
      case RTA_PREFSRC: route.src = ipv4At(payload, value); break;
      case RTA_PRIORITY: route.metric = getU32(payload, value); break;
    }
    at += align4(length);
  }
  route.dst = `${dst}/${payload[1]}`;
  return route;
}

/** Which routes a dump keeps; the kernel filters dumps only under strict checking, which the socket lacks. */
export interface RouteFilter {
  table?: number;
  protocol?: number;
  protocols?: readonly number[];
  /**
   * Routes of any protocol at these destinations (table and CIDR, TOS 0) are kept as well: whoever
   * else holds a destination seaway wants. The dump lists routes of one destination and metric in
   * the kernel's order of preference, and the kept routes stay in dump order.
   */
  alsoAt?: ReadonlyArray<{ table: number; dst: string }>;
  /** alsoAt's destinations as `table dst` keys, when the caller holds them already: not made again for the dump. */
  alsoAtKeys?: ReadonlySet<string>;
}

/**
 * decodeRoute for the routes the filter keeps, as a function made once per dump. The table,
 * protocol and prefix length are read from the header first, so a dump of thousands of routes
 * decodes only the few it keeps (tables above 255 show RT_TABLE_COMPAT there and are decoded to be sure).
 */
export function routeMatcher(filter: RouteFilter): (payload: Buffer) => ObservedRoute | undefined {
  const alsoAt = filter.alsoAt;
  let at: { keys: ReadonlySet<string> | undefined; prefixLengths: Set<number>; headerTables: Set<number> } | undefined;
  if (alsoAt && alsoAt.length > 0) {
    // Only the numbers (the planner's destinations are canonical; a malformed one would match no
    // route, as its key matches no route's). Indexed, into the sets: no array of 10,000 numbers for each.
    const prefixLengths = new Set<number>();
    const headerTables = new Set<number>();
    for (let i = 0; i < alsoAt.length; i++) {
      const r = alsoAt[i]!;
      prefixLengths.add(prefixLengthOf(r.dst));
      headerTables.add(r.table < 256 ? r.table : RT_TABLE_COMPAT);
    }
    // The keys are made when a route first passes the header's numbers, unless the caller has them.
    at = { keys: filter.alsoAtKeys, prefixLengths, headerTables };
  }
  const byProtocol = (payload: Buffer): boolean => (filter.protocol === undefined || payload[5] === filter.protocol)
    && (filter.protocols === undefined || filter.protocols.includes(payload[5]!))
    && (filter.table === undefined || payload[4] === RT_TABLE_COMPAT || payload[4] === filter.table);
  return (payload) => {
    if (payload.length < RTMSG_LEN) return undefined;
    if (byProtocol(payload)) {
      const route = decodeRoute(payload);
      if (route && (filter.table === undefined || route.table === filter.table)) return route;
    }
    // A route with a TOS is another destination key: the kernel keeps it beside a TOS-0 route.
    if (!at || payload[3] !== 0 || !at.prefixLengths.has(payload[1]!) || !at.headerTables.has(payload[4]!)) return undefined;
    const route = decodeRoute(payload);
    at.keys ??= new Set(alsoAt!.map((r) => `${r.table} ${r.dst}`));
    return route && at.keys.has(`${route.table} ${route.dst}`) ? route : undefined;
  };
}
