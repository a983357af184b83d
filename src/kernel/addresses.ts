import { NLM_F_CREATE, NLM_F_EXCL, attr, bufferToIpv4, cstring, decodeAttributes, readCstring, ipv4ToBuffer, parseIpv4Prefix, dumpRequest } from './netlink/codec.ts';
import type { NetlinkRequest } from './netlink/connection.ts';

export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_GETADDR = 22;
const AF_INET = 2;
const IFA_ADDRESS = 1, IFA_LOCAL = 2, IFA_LABEL = 3;
const IFADDRMSG_LEN = 8;

/** An IPv4 address on an interface. */
export interface ObservedAddress {
  ifindex: number;
  /** The interface's own address, e.g. 10.1.0.1. */
  address: string;
  prefixLength: number;
  /** "address/prefixLength". */
  cidr: string;
  label?: string;
  scope: number;
}

export const describeAddress = (ifindex: number, cidr: string): string => `address ${cidr} on ifindex ${ifindex}`;

/** `label` (created addresses only): must start with the interface's name, e.g. `lo:seaway`; marks the address as seaway's. */
export function encodeAddressRequest(write: 'create' | 'delete', ifindex: number, cidr: string, label?: string): NetlinkRequest {
  const { address, prefixLength } = parseIpv4Prefix(cidr);
  const header = Buffer.alloc(IFADDRMSG_LEN);
  header[0] = AF_INET;
  header[1] = prefixLength;
  header.writeUInt32LE(ifindex, 4);
  const ip = ipv4ToBuffer(address);
  const body = [header, attr(IFA_LOCAL, ip), attr(IFA_ADDRESS, ip)];
  if (label !== undefined && write === 'create') {
    if (Buffer.byteLength(label) > 15) throw new Error(`address label "${label}" is longer than 15 bytes`);
    body.push(attr(IFA_LABEL, cstring(label)));
  }
  return write === 'create'
    ? { type: RTM_NEWADDR, flags: NLM_F_CREATE | NLM_F_EXCL, body }
    : { type: RTM_DELADDR, flags: 0, body };
}

export const encodeAddressDump = (): Buffer[] => dumpRequest(IFADDRMSG_LEN, AF_INET);

export function decodeAddress(payload: Buffer): ObservedAddress | undefined {
  if (payload.length < IFADDRMSG_LEN || payload[0] !== AF_INET) return undefined;
  const attrs = decodeAttributes(payload, IFADDRMSG_LEN);
  const local = attrs.get(IFA_LOCAL) ?? attrs.get(IFA_ADDRESS);
  if (!local) return undefined;
  const address = bufferToIpv4(local);
  const prefixLength = payload[1]!;
  const label = attrs.get(IFA_LABEL);
  const observed: ObservedAddress = {
    ifindex: payload.readUInt32LE(4), address, prefixLength, cidr: `${address}/${prefixLength}`, scope: payload[3]!,
  };
  if (label) observed.label = readCstring(label);
  return observed;
}
