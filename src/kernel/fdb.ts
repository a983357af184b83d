import { NLM_F_APPEND, NLM_F_CREATE, attr, bufferToIpv4, bufferToMac, decodeAttributes, ipv4ToBuffer, macToBuffer, dumpRequest } from './netlink/codec.ts';
import type { NetlinkRequest } from './netlink/connection.ts';

export const RTM_NEWNEIGH = 28;
export const RTM_DELNEIGH = 29;
export const RTM_GETNEIGH = 30;
const AF_BRIDGE = 7;
const NDA_DST = 1, NDA_LLADDR = 2;
const NUD_NOARP = 0x40, NUD_PERMANENT = 0x80;
const NTF_SELF = 0x02;
const NDMSG_LEN = 12;

/** A bridge forwarding entry of a VXLAN device: frames for `mac` go to the VTEP at `dst`. */
export interface FdbSpec {
  ifindex: number;
  mac: string;
  dst: string;
}

export interface ObservedFdbEntry {
  ifindex: number;
  mac: string;
  dst?: string;
  /** NUD_* state bits (0x80 permanent). */
  state: number;
  flags: number;
}

export const describeFdb = (entry: FdbSpec): string => `fdb ${entry.mac} dst ${entry.dst} ifindex ${entry.ifindex}`;

/** Like `bridge fdb append <mac> dst <dst> dev <dev> self permanent`. */
export function encodeFdbRequest(write: 'append' | 'delete', entry: FdbSpec): NetlinkRequest {
  const header = Buffer.alloc(NDMSG_LEN);
  header[0] = AF_BRIDGE;
  header.writeInt32LE(entry.ifindex, 4);
  header.writeUInt16LE(NUD_PERMANENT | NUD_NOARP, 8);
  header[10] = NTF_SELF;
  const body = [header, attr(NDA_LLADDR, macToBuffer(entry.mac)), attr(NDA_DST, ipv4ToBuffer(entry.dst))];
  return write === 'append'
    ? { type: RTM_NEWNEIGH, flags: NLM_F_CREATE | NLM_F_APPEND, body }
    : { type: RTM_DELNEIGH, flags: 0, body };
}

export const encodeFdbDump = (): Buffer[] => dumpRequest(NDMSG_LEN, AF_BRIDGE);

export function decodeFdbEntry(payload: Buffer): ObservedFdbEntry | undefined {
  if (payload.length < NDMSG_LEN || payload[0] !== AF_BRIDGE) return undefined;
  const attrs = decodeAttributes(payload, NDMSG_LEN);
  const mac = attrs.get(NDA_LLADDR);
  if (!mac || mac.length !== 6) return undefined;
  const dst = attrs.get(NDA_DST);
  const entry: ObservedFdbEntry = {
    ifindex: payload.readInt32LE(4), mac: bufferToMac(mac), state: payload.readUInt16LE(8), flags: payload[10]!,
  };
  if (dst && dst.length === 4) entry.dst = bufferToIpv4(dst);
  return entry;
}
