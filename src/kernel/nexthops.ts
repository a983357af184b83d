/**
 * Nexthop objects (`ip nexthop`, Linux 5.3+): routes may name one by id instead of carrying their
 * next hops, and with net.ipv4.nexthop_compat_mode=0 a route dump shows only that id.
 */
import { bufferToIpv4, decodeAttributes, dumpRequest } from './netlink/codec.ts';
import type { DefaultRoutePath } from '../model/host-network.ts';

export const RTM_GETNEXTHOP = 106;
const AF_UNSPEC = 0, AF_INET = 2;
const NHMSG_LEN = 8;
const NHA_ID = 1, NHA_GROUP = 2, NHA_BLACKHOLE = 4, NHA_OIF = 5, NHA_GATEWAY = 6;
/** struct nexthop_grp: id u32, weight u8, weight_high u8, resvd2 u16. */
const NEXTHOP_GRP_LEN = 8;

export interface ObservedNexthop {
  id: number;
  oif?: number;
  /** An IPv4 gateway (an IPv6 one is left out: an IPv4 route may use it, but it names no IPv4 next hop). */
  gateway?: string;
  /** Member ids of a group, in order. */
  group?: number[];
  blackhole: boolean;
}

/** Groups have no family of their own: dump them all. */
export const encodeNexthopDump = (): Buffer[] => dumpRequest(NHMSG_LEN, AF_UNSPEC);

export function decodeNexthop(payload: Buffer): ObservedNexthop | undefined {
  if (payload.length < NHMSG_LEN) return undefined;
  const attrs = decodeAttributes(payload, NHMSG_LEN);
  const id = attrs.get(NHA_ID);
  if (!id || id.length < 4) return undefined;
  const nexthop: ObservedNexthop = { id: id.readUInt32LE(0), blackhole: attrs.has(NHA_BLACKHOLE) };
  const oif = attrs.get(NHA_OIF);
  if (oif && oif.length >= 4) nexthop.oif = oif.readUInt32LE(0);
  const gateway = attrs.get(NHA_GATEWAY);
  if (payload[0] === AF_INET && gateway && gateway.length === 4) nexthop.gateway = bufferToIpv4(gateway);
  const group = attrs.get(NHA_GROUP);
  if (group) {
    nexthop.group = [];
    for (let offset = 0; offset + NEXTHOP_GRP_LEN <= group.length; offset += NEXTHOP_GRP_LEN) nexthop.group.push(group.readUInt32LE(offset));
  }
  return nexthop;
}

/**
 * The paths behind a nexthop id: its own device and gateway, or its group's members' in order
 * (the kernel allows no group inside a group). A blackhole or an unknown id has none.
 */
export function nexthopPaths(id: number, nexthops: ReadonlyMap<number, ObservedNexthop>): DefaultRoutePath[] {
  const nexthop = nexthops.get(id);
  if (nexthop === undefined || nexthop.blackhole) return [];
  if (nexthop.group) return nexthop.group.flatMap((member) => singlePath(nexthops.get(member)));
  return singlePath(nexthop);
}

function singlePath(nexthop: ObservedNexthop | undefined): DefaultRoutePath[] {
  if (nexthop === undefined || nexthop.blackhole || nexthop.oif === undefined || nexthop.group) return [];
  return [{ ifindex: nexthop.oif, ...(nexthop.gateway ? { gateway: nexthop.gateway } : {}) }];
}
