/**
 * IPv4 default routes as the node's own traffic meets them, in any of the forms the kernel keeps a
 * next hop in: RTA_OIF/RTA_GATEWAY, RTA_MULTIPATH (ECMP), or a nexthop object (RTA_NH_ID).
 */
import type { DefaultRoutePath } from '../model/host-network.ts';
import { align4, bufferToIpv4, decodeAttributes } from './netlink/codec.ts';
import { decodeRoute } from './routes.ts';

const AF_INET = 2;
const RTN_UNICAST = 1;
const RTA_GATEWAY = 5, RTA_MULTIPATH = 9, RTA_VIA = 18, RTA_NH_ID = 30;
/** struct rtnexthop: len u16, flags u8, hops u8, ifindex s32; its attributes follow. */
const RTNEXTHOP_LEN = 8;

export interface ObservedDefaultRoute {
  table: number;
  metric: number;
  src?: string;
  /** The next hops the route itself names (RTA_OIF or RTA_MULTIPATH), in the kernel's order. */
  paths: DefaultRoutePath[];
  /**
   * The nexthop object it uses (`ip route add default nhid N`). With net.ipv4.nexthop_compat_mode=1
   * (the default) the kernel names its next hops in the route too; with 0, only this id.
   */
  nexthopId?: number;
}

/**
 * An IPv4 unicast default route of any table, or undefined for every other route: the header is
 * read first, so a dump of a large table decodes only its default routes.
 */
export function decodeDefaultRoute(payload: Buffer): ObservedDefaultRoute | undefined {
  // rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags (u32).
  if (payload.length < 12 || payload[0] !== AF_INET || payload[1] !== 0 || payload[7] !== RTN_UNICAST) return undefined;
  const route = decodeRoute(payload);
  if (!route) return undefined;
  const attrs = decodeAttributes(payload, 12);
  const multipath = attrs.get(RTA_MULTIPATH);
  const nexthopId = attrs.get(RTA_NH_ID);
  const paths: DefaultRoutePath[] = multipath ? decodeMultipath(multipath) : route.oif === undefined ? [] : [{ ifindex: route.oif, ...(route.gateway ? { gateway: route.gateway } : {}) }];
  const observed: ObservedDefaultRoute = { table: route.table, metric: route.metric ?? 0, paths };
  if (route.src) observed.src = route.src;
  if (nexthopId && nexthopId.length >= 4) observed.nexthopId = nexthopId.readUInt32LE(0);
  return observed;
}

/** The rtnexthop entries of RTA_MULTIPATH, in order; a truncated entry ends the list. */
function decodeMultipath(buf: Buffer): DefaultRoutePath[] {
  const paths: DefaultRoutePath[] = [];
  for (let offset = 0; offset + RTNEXTHOP_LEN <= buf.length;) {
    const len = buf.readUInt16LE(offset);
    if (len < RTNEXTHOP_LEN || offset + len > buf.length) break;
    const path: DefaultRoutePath = { ifindex: buf.readInt32LE(offset + 4) };
    const attrs = decodeAttributes(buf.subarray(offset, offset + len), RTNEXTHOP_LEN);
    const gateway = attrs.get(RTA_GATEWAY) ?? ipv4Via(attrs.get(RTA_VIA));
    if (gateway && gateway.length === 4) path.gateway = bufferToIpv4(gateway);
    paths.push(path);
    offset += align4(len);
  }
  return paths;
}

/** struct rtvia (family u16, address): an IPv4 one is a gateway; an IPv6 one (RFC 5549) leaves the path without one. */
function ipv4Via(via: Buffer | undefined): Buffer | undefined {
  return via && via.length >= 6 && via.readUInt16LE(0) === AF_INET ? via.subarray(2, 6) : undefined;
}
