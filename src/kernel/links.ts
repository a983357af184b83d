import type { HostLink } from '../model/host-network.ts';
import {
  NLM_F_CREATE, NLM_F_EXCL, attr, bufferToIpv4, bufferToMac, cstring, decodeAttributes, ipv4ToBuffer, readCstring, u16be, u32, u8,
} from './netlink/codec.ts';
import type { NetlinkRequest } from './netlink/connection.ts';

export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
const IFLA_ADDRESS = 1, IFLA_IFNAME = 3, IFLA_MTU = 4, IFLA_MASTER = 10, IFLA_LINKINFO = 18;
const IFLA_INFO_KIND = 1, IFLA_INFO_DATA = 2;
const IFLA_VXLAN_ID = 1, IFLA_VXLAN_GROUP = 2, IFLA_VXLAN_LINK = 3, IFLA_VXLAN_LOCAL = 4, IFLA_VXLAN_LEARNING = 7, IFLA_VXLAN_PORT = 15;
const IFF_UP = 0x1, IFF_LOOPBACK = 0x8;
const IFINFOMSG_LEN = 16;

export interface VxlanInfo {
  vni: number;
  port: number;
  local?: string;
  /** Unicast remote (or multicast group) VTEP. */
  remote?: string;
  /** Underlay interface index. */
  underlayIndex?: number;
  learning: boolean;
}

/** A link as the kernel reports it: what the underlay choice reads (HostLink), and more. */
export interface ObservedLink extends HostLink {
  mac?: string;
  masterIndex?: number;
  vxlan?: VxlanInfo;
}

export interface VxlanSpec {
  name: string;
  vni: number;
  port: number;
  local: string;
  remote?: string;
  underlayIndex: number;
  mtu: number;
}

function ifinfo(index: number, flags = 0, change = 0): Buffer {
  const header = Buffer.alloc(IFINFOMSG_LEN);
  header.writeInt32LE(index, 4);
  header.writeUInt32LE(flags, 8);
  header.writeUInt32LE(change, 12);
  return header;
}

/** Creates the device administratively up, with learning off, like `ip link add ... type vxlan ... nolearning`. */
export function encodeCreateVxlan(spec: VxlanSpec): NetlinkRequest {
  const data = [
    attr(IFLA_VXLAN_ID, u32(spec.vni)),
    attr(IFLA_VXLAN_LOCAL, ipv4ToBuffer(spec.local)),
    attr(IFLA_VXLAN_LINK, u32(spec.underlayIndex)),
    attr(IFLA_VXLAN_PORT, u16be(spec.port)),
    attr(IFLA_VXLAN_LEARNING, u8(0)),
  ];
  if (spec.remote) data.push(attr(IFLA_VXLAN_GROUP, ipv4ToBuffer(spec.remote)));
  const linkinfo = Buffer.concat([attr(IFLA_INFO_KIND, cstring('vxlan')), attr(IFLA_INFO_DATA, Buffer.concat(data), true)]);
  return {
    type: RTM_NEWLINK,
    flags: NLM_F_CREATE | NLM_F_EXCL,
    body: [ifinfo(0, IFF_UP, IFF_UP), attr(IFLA_IFNAME, cstring(spec.name)), attr(IFLA_MTU, u32(spec.mtu)), attr(IFLA_LINKINFO, linkinfo, true)],
  };
}

/**
 * A kernel WireGuard device (`ip link add <name> type wireguard`), up. A kernel without WireGuard
 * refuses the kind (EOPNOTSUPP): that is how the userspace fallback is chosen.
 */
export function encodeCreateWireguard(name: string, mtu: number): NetlinkRequest {
  return {
    type: RTM_NEWLINK,
    flags: NLM_F_CREATE | NLM_F_EXCL,
    body: [ifinfo(0, IFF_UP, IFF_UP), attr(IFLA_IFNAME, cstring(name)), attr(IFLA_MTU, u32(mtu)), attr(IFLA_LINKINFO, attr(IFLA_INFO_KIND, cstring('wireguard')), true)],
  };
}

export const encodeSetMtu = (index: number, mtu: number): NetlinkRequest =>
  ({ type: RTM_NEWLINK, flags: 0, body: [ifinfo(index), attr(IFLA_MTU, u32(mtu))] });

export const encodeSetUp = (index: number, up: boolean): NetlinkRequest =>
  ({ type: RTM_NEWLINK, flags: 0, body: [ifinfo(index, up ? IFF_UP : 0, IFF_UP)] });

export const encodeDeleteLink = (index: number): NetlinkRequest =>
  ({ type: RTM_DELLINK, flags: 0, body: [ifinfo(index)] });

export const encodeLinkDump = (): Buffer[] => [ifinfo(0)];

function decodeVxlan(data: Buffer): VxlanInfo {
  const attrs = decodeAttributes(data);
  const vxlan: VxlanInfo = {
    vni: attrs.get(IFLA_VXLAN_ID)?.readUInt32LE(0) ?? 0,
    port: attrs.get(IFLA_VXLAN_PORT)?.readUInt16BE(0) ?? 0,
    learning: (attrs.get(IFLA_VXLAN_LEARNING)?.[0] ?? 1) !== 0,
  };
  const local = attrs.get(IFLA_VXLAN_LOCAL);
  const remote = attrs.get(IFLA_VXLAN_GROUP);
  const link = attrs.get(IFLA_VXLAN_LINK);
  if (local && local.length === 4) vxlan.local = bufferToIpv4(local);
  if (remote && remote.length === 4) vxlan.remote = bufferToIpv4(remote);
  if (link) vxlan.underlayIndex = link.readUInt32LE(0);
  return vxlan;
}


export function decodeLink(payload: Buffer): ObservedLink | undefined {
  if (payload.length < IFINFOMSG_LEN) return undefined;
  const attrs = decodeAttributes(payload, IFINFOMSG_LEN);
  const name = attrs.get(IFLA_IFNAME);
  if (!name) return undefined;
  const link: ObservedLink = {
    index: payload.readInt32LE(4),
    name: readCstring(name),
    mtu: attrs.get(IFLA_MTU)?.readUInt32LE(0) ?? 0,
    up: (payload.readUInt32LE(8) & IFF_UP) !== 0,
  };
  if (payload.readUInt32LE(8) & IFF_LOOPBACK) link.loopback = true;
  const mac = attrs.get(IFLA_ADDRESS);
  if (mac && mac.length === 6) link.mac = bufferToMac(mac);
  const master = attrs.get(IFLA_MASTER);
  if (master) link.masterIndex = master.readUInt32LE(0);
  const linkinfo = attrs.get(IFLA_LINKINFO);
  if (linkinfo) {
    const info = decodeAttributes(linkinfo);
    const kind = info.get(IFLA_INFO_KIND);
    if (kind) link.kind = readCstring(kind);
    const data = info.get(IFLA_INFO_DATA);
    if (link.kind === 'vxlan' && data) link.vxlan = decodeVxlan(data);
  }
  return link;
}
