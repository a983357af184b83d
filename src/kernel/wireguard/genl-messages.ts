/**
 * Kernel WireGuard's generic netlink messages, and the controller lookup that finds the family's
 * id. Pure: plain data in, buffers out, and back. The wire format is the kernel's uapi
 * `linux/wireguard.h` (family "wireguard", version 1) as `drivers/net/wireguard/netlink.c`
 * implements it:
 *
 * - GET_DEVICE (0) is only answered as a dump, naming the device by IFNAME. The reply comes in
 *   pages: the first carries the device attributes, later ones only PEERS; a peer whose allowed
 *   IPs do not fit is repeated at the start of the next page with only its public key and the
 *   rest of its allowed IPs, and the reader joins adjacent entries with the same key. The device
 *   attributes come again when the very first peer overflowed the first page.
 * - SET_DEVICE (1) applies one message at a time. A change too big for one message is split the
 *   way wireguard-tools does: device attributes and REPLACE_PEERS only in the first, a peer's
 *   endpoint, keepalive, preshared key and REPLACE_ALLOWEDIPS only in its first fragment.
 * - Nested attributes (PEERS, each peer, ALLOWEDIPS, each allowed IP) carry NLA_F_NESTED, which
 *   the kernel's strict parser requires; array entries are all type 0, as the kernel sends them
 *   and wireguard-tools writes them (the kernel ignores the entry type).
 * - Integers are host order (little-endian here), but a sockaddr's port is network order.
 *
 * Decoding is strict where a wrong value would go unnoticed (lengths of fixed-size attributes,
 * attributes overrunning their container, a peer appearing twice) and lenient where the format
 * may grow (unknown attribute types, including the UNSPEC padding some architectures put before
 * 64-bit values, are skipped; NLA_F_NESTED is accepted with or without, as older kernels omit it).
 */
import { parseCidr } from '../../model/cidr.ts';
import { NLA_TYPE_MASK, NLMSG_HDRLEN, align4, attr, cstring, u32, writeIpv4, type NetlinkMessage } from '../netlink/codec.ts';
import type { NetlinkRequest } from '../netlink/connection.ts';
import type { WgDeviceChange, WgDeviceState, WgPeerChange, WgPeerState } from '../../model/wireguard-device.ts';

/** The generic netlink controller: a fixed id, unlike every other family. */
export const GENL_ID_CTRL = 0x10;
const CTRL_CMD_NEWFAMILY = 1;
const CTRL_CMD_GETFAMILY = 3;
/** The controller's own version is 2, but it ignores the field; wireguard-tools and libnl send 1. */
const CTRL_REQUEST_VERSION = 1;
const CTRL_ATTR_FAMILY_ID = 1;
const CTRL_ATTR_FAMILY_NAME = 2;

export const WG_GENL_NAME = 'wireguard';
export const WG_GENL_VERSION = 1;
export const WG_CMD_GET_DEVICE = 0;
export const WG_CMD_SET_DEVICE = 1;

const WGDEVICE_A_IFINDEX = 1;
const WGDEVICE_A_IFNAME = 2;
const WGDEVICE_A_PRIVATE_KEY = 3;
const WGDEVICE_A_PUBLIC_KEY = 4;
const WGDEVICE_A_FLAGS = 5;
const WGDEVICE_A_LISTEN_PORT = 6;
const WGDEVICE_A_FWMARK = 7;
const WGDEVICE_A_PEERS = 8;
const WGDEVICE_F_REPLACE_PEERS = 1;

const WGPEER_A_PUBLIC_KEY = 1;
const WGPEER_A_PRESHARED_KEY = 2;
const WGPEER_A_FLAGS = 3;
const WGPEER_A_ENDPOINT = 4;
const WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL = 5;
const WGPEER_A_LAST_HANDSHAKE_TIME = 6;
const WGPEER_A_RX_BYTES = 7;
const WGPEER_A_TX_BYTES = 8;
const WGPEER_A_ALLOWEDIPS = 9;
const WGPEER_A_PROTOCOL_VERSION = 10;
const WGPEER_F_REMOVE_ME = 1;
const WGPEER_F_REPLACE_ALLOWEDIPS = 2;
const WGPEER_F_UPDATE_ONLY = 4;

const WGALLOWEDIP_A_FAMILY = 1;
const WGALLOWEDIP_A_IPADDR = 2;
const WGALLOWEDIP_A_CIDR_MASK = 3;

const AF_INET = 2;
const AF_INET6 = 10;
const WG_KEY_LEN = 32;
const GENL_HDRLEN = 4;
const NLA_HDRLEN = 4;
const IFNAMSIZ = 16;
const SOCKADDR_IN_LEN = 16;
const SOCKADDR_IN6_LEN = 28;
const KERNEL_TIMESPEC_LEN = 16;
/** One IPv4 allowed IP on the wire: its nest header, FAMILY (u16), IPADDR (4 bytes), CIDR_MASK (u8), each padded to 8. */
const ALLOWED_IP_V4_BYTES = NLA_HDRLEN + 8 + 8 + 8;

/**
 * Bytes per SET_DEVICE message (netlink header included) before a change is split. libmnl's
 * ideal buffer is at most 8 KiB, and wireguard-tools splits at it; the kernel takes larger ones,
 * but nothing is gained: each extra message costs one round trip of microseconds.
 */
export const DEFAULT_SET_MESSAGE_BYTES = 8192;
/** Every fragment of one peer with one allowed IP fits in far less, with the longest device name. */
export const MIN_SET_MESSAGE_BYTES = 512;
/** The PEERS attribute spans nearly the whole message, and an attribute's length is 16 bits. */
export const MAX_SET_MESSAGE_BYTES = 0xffff;

const genlHeader = (cmd: number, version: number): Buffer => Buffer.from([cmd, version, 0, 0]);
const nest = (type: number, parts: readonly Buffer[]): Buffer => attr(type, Buffer.concat(parts), true);
const byteLength = (parts: readonly Buffer[]): number => parts.reduce((sum, part) => sum + part.length, 0);
const u16 = (value: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16LE(value); return b; };
const keyText = (key: Buffer): string => key.toString('base64');

// ---------------------------------------------------------------------------------------------
// The family lookup
// ---------------------------------------------------------------------------------------------

/** A dump request as NetlinkConnection.dump takes it. */
export interface GenlDump {
  type: number;
  body: Buffer[];
}

/**
 * CTRL_CMD_GETFAMILY as a dump: every family registered in this network namespace, one message
 * each, matched by name afterwards. A dump because the request connection collects dumps and
 * acknowledgements but not a single reply; it also never asks the kernel to load a module (the
 * non-dump lookup by name does): creating the `wireguard` link is what loads it.
 */
export function encodeFamilyDump(): GenlDump {
  return { type: GENL_ID_CTRL, body: [genlHeader(CTRL_CMD_GETFAMILY, CTRL_REQUEST_VERSION)] };
}

/** The id of the family called `name` in a family dump's messages; undefined when it is not registered. */
export function decodeFamilyId(messages: readonly Pick<NetlinkMessage, 'type' | 'payload'>[], name: string): number | undefined {
  for (const [index, message] of messages.entries()) {
    const where = `generic netlink family dump, message ${index + 1} of ${messages.length}`;
    if (message.type !== GENL_ID_CTRL) throw malformed(where, `has type ${message.type}, expected the controller's ${GENL_ID_CTRL}`);
    if (message.payload.length < GENL_HDRLEN) throw malformed(where, `is ${message.payload.length} bytes, shorter than the generic netlink header`);
    if (message.payload[0] !== CTRL_CMD_NEWFAMILY) throw malformed(where, `has command ${message.payload[0]}, expected CTRL_CMD_NEWFAMILY (${CTRL_CMD_NEWFAMILY})`);
    let familyName: string | undefined;
    let familyId: Buffer | undefined;
    for (const a of attributes(message.payload.subarray(GENL_HDRLEN), where)) {
      if (a.type === CTRL_ATTR_FAMILY_NAME) familyName = nulString(a.value, 'CTRL_ATTR_FAMILY_NAME', where);
      else if (a.type === CTRL_ATTR_FAMILY_ID) familyId = a.value;
    }
    if (familyName !== name) continue;
    if (!familyId) throw malformed(where, `names family ${JSON.stringify(name)} without CTRL_ATTR_FAMILY_ID`);
    exactLength(familyId, 2, 'CTRL_ATTR_FAMILY_ID', where);
    return familyId.readUInt16LE(0);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// GET_DEVICE
// ---------------------------------------------------------------------------------------------

/** The dump of one device, named as the kernel's lookup_interface wants it (IFNAME, not both). */
export function encodeDeviceDump(familyId: number, ifname: string): GenlDump {
  return { type: familyId, body: [genlHeader(WG_CMD_GET_DEVICE, WG_GENL_VERSION), ifnameAttribute(ifname)] };
}

export interface DeviceDumpExpectations {
  /** The wireguard family's id: every message must carry it. */
  familyId?: number;
  /** The device asked for: a reply naming another one is refused. */
  ifname?: string;
}

/**
 * Joins the pages of a GET_DEVICE dump (NLMSG_DONE excluded, as NetlinkConnection.dump returns
 * them) into the device's state. Throws on anything malformed rather than return a state that
 * could be wrong.
 */
export function decodeDeviceDump(messages: readonly Pick<NetlinkMessage, 'type' | 'payload'>[], expect: DeviceDumpExpectations = {}): WgDeviceState {
  if (messages.length === 0) throw malformed('WireGuard GET_DEVICE reply', 'has no message (the dump ended at once)');
  const device = new DeviceAccumulator();
  const peers: WgPeerState[] = [];
  const seen = new Set<string>();
  for (const [index, message] of messages.entries()) {
    const where = `WireGuard GET_DEVICE reply, message ${index + 1} of ${messages.length}`;
    if (expect.familyId !== undefined && message.type !== expect.familyId) {
      throw malformed(where, `has type ${message.type}, expected the wireguard family ${expect.familyId}`);
    }
    if (message.payload.length < GENL_HDRLEN) throw malformed(where, `is ${message.payload.length} bytes, shorter than the generic netlink header`);
    if (message.payload[0] !== WG_CMD_GET_DEVICE) throw malformed(where, `has command ${message.payload[0]}, expected WG_CMD_GET_DEVICE (${WG_CMD_GET_DEVICE})`);
    for (const a of attributes(message.payload.subarray(GENL_HDRLEN), where)) {
      switch (a.type) {
        case WGDEVICE_A_IFINDEX: device.set('ifindex', readU32(a.value, 'WGDEVICE_A_IFINDEX', where), where); break;
        case WGDEVICE_A_IFNAME: {
          const name = nulString(a.value, 'WGDEVICE_A_IFNAME', where);
          if (expect.ifname !== undefined && name !== expect.ifname) throw malformed(where, `is about device ${JSON.stringify(name)}, asked for ${JSON.stringify(expect.ifname)}`);
          device.set('ifname', name, where);
          break;
        }
        case WGDEVICE_A_PRIVATE_KEY: exactLength(a.value, WG_KEY_LEN, 'WGDEVICE_A_PRIVATE_KEY', where); break; // seaway already holds it
        case WGDEVICE_A_PUBLIC_KEY:
          exactLength(a.value, WG_KEY_LEN, 'WGDEVICE_A_PUBLIC_KEY', where);
          device.set('publicKey', keyText(a.value), where);
          break;
        case WGDEVICE_A_LISTEN_PORT: device.set('listenPort', readU16(a.value, 'WGDEVICE_A_LISTEN_PORT', where), where); break;
        case WGDEVICE_A_FWMARK: device.set('fwmark', readU32(a.value, 'WGDEVICE_A_FWMARK', where), where); break;
        case WGDEVICE_A_PEERS: {
          let entry = 0;
          for (const peerAttribute of attributes(a.value, `${where}, WGDEVICE_A_PEERS`)) {
            entry++;
            const fragment = decodePeer(peerAttribute.value, `${where}, peer entry ${entry}`);
            const key = keyText(fragment.publicKey);
            const previous = peers.at(-1);
            if (previous && previous.publicKey.equals(fragment.publicKey)) {
              // The kernel continues a peer whose allowed IPs did not fit with only its key and the rest.
              previous.allowedIps.push(...fragment.allowedIps);
              continue;
            }
            if (seen.has(key)) throw malformed(`${where}, peer entry ${entry}`, `repeats peer ${key}, which is not the peer just before it`);
            if (!fragment.complete) {
              throw malformed(`${where}, peer entry ${entry}`, `starts peer ${key} without its handshake time, counters and keepalive: the peer's first part is missing`);
            }
            seen.add(key);
            peers.push(fragment.state);
          }
          break;
        }
        default: break; // UNSPEC padding, FLAGS (set only) and attributes newer than this code
      }
    }
  }
  const where = 'WireGuard GET_DEVICE reply';
  const listenPort = device.values.get('listenPort');
  const fwmark = device.values.get('fwmark');
  if (typeof listenPort !== 'number') throw malformed(where, 'has no WGDEVICE_A_LISTEN_PORT (the kernel always sends it first)');
  if (typeof fwmark !== 'number') throw malformed(where, 'has no WGDEVICE_A_FWMARK (the kernel always sends it first)');
  const state: WgDeviceState = { listenPort, fwmark, peers };
  const publicKey = device.values.get('publicKey');
  if (typeof publicKey === 'string') state.publicKey = Buffer.from(publicKey, 'base64');
  return state;
}

/** Device attributes may come again on a later page; they must then say the same. */
class DeviceAccumulator {
  readonly values = new Map<string, string | number>();
  set(name: string, value: string | number, where: string): void {
    const previous = this.values.get(name);
    if (previous !== undefined && previous !== value) throw malformed(where, `says the device's ${name} is ${value}, an earlier message said ${previous}`);
    this.values.set(name, value);
  }
}

interface PeerFragment {
  publicKey: Buffer;
  allowedIps: string[];
  /** Whether it carries what only a peer's first fragment has (handshake time, counters, keepalive). */
  complete: boolean;
  state: WgPeerState;
}

function decodePeer(value: Buffer, where: string): PeerFragment {
  let publicKey: Buffer | undefined;
  let lastHandshakeMs: number | undefined;
  let rxBytes: number | undefined;
  let txBytes: number | undefined;
  let keepalive: number | undefined;
  let endpoint: string | undefined;
  let hasPresharedKey = false;
  const allowedIps: string[] = [];
  for (const a of attributes(value, where)) {
    switch (a.type) {
      case WGPEER_A_PUBLIC_KEY:
        exactLength(a.value, WG_KEY_LEN, 'WGPEER_A_PUBLIC_KEY', where);
        publicKey = Buffer.from(a.value); // a copy: the state must not keep the whole datagram alive
        break;
      case WGPEER_A_PRESHARED_KEY:
        exactLength(a.value, WG_KEY_LEN, 'WGPEER_A_PRESHARED_KEY', where);
        hasPresharedKey = a.value.some((byte) => byte !== 0); // the kernel sends zeros for "none"
        break;
      case WGPEER_A_ENDPOINT: endpoint = decodeSockaddr(a.value, where); break;
      case WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL: keepalive = readU16(a.value, 'WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL', where); break;
      case WGPEER_A_LAST_HANDSHAKE_TIME: lastHandshakeMs = decodeTimespecMs(a.value, where); break;
      case WGPEER_A_RX_BYTES: rxBytes = readU64(a.value, 'WGPEER_A_RX_BYTES', where); break;
      case WGPEER_A_TX_BYTES: txBytes = readU64(a.value, 'WGPEER_A_TX_BYTES', where); break;
      case WGPEER_A_PROTOCOL_VERSION: readU32(a.value, 'WGPEER_A_PROTOCOL_VERSION', where); break;
      case WGPEER_A_ALLOWEDIPS: {
        let entry = 0;
        for (const ip of attributes(a.value, `${where}, WGPEER_A_ALLOWEDIPS`)) allowedIps.push(decodeAllowedIp(ip.value, `${where}, allowed IP ${++entry}`));
        break;
      }
      default: break; // UNSPEC padding before a u64, FLAGS (set only), newer attributes
    }
  }
  if (!publicKey) throw malformed(where, 'has no WGPEER_A_PUBLIC_KEY');
  const complete = lastHandshakeMs !== undefined && rxBytes !== undefined && txBytes !== undefined && keepalive !== undefined;
  const state: WgPeerState = {
    publicKey,
    lastHandshakeMs: lastHandshakeMs ?? 0,
    rxBytes: rxBytes ?? 0,
    txBytes: txBytes ?? 0,
    persistentKeepaliveSeconds: keepalive ?? 0,
    allowedIps,
    hasPresharedKey,
  };
  if (endpoint !== undefined) state.endpoint = endpoint;
  return { publicKey, allowedIps, complete, state };
}

function decodeAllowedIp(value: Buffer, where: string): string {
  let family: number | undefined;
  let address: Buffer | undefined;
  let prefixLength: number | undefined;
  for (const a of attributes(value, where)) {
    if (a.type === WGALLOWEDIP_A_FAMILY) family = readU16(a.value, 'WGALLOWEDIP_A_FAMILY', where);
    else if (a.type === WGALLOWEDIP_A_IPADDR) address = a.value;
    else if (a.type === WGALLOWEDIP_A_CIDR_MASK) prefixLength = readU8(a.value, 'WGALLOWEDIP_A_CIDR_MASK', where);
  }
  if (family === undefined || address === undefined || prefixLength === undefined) {
    throw malformed(where, 'lacks one of WGALLOWEDIP_A_FAMILY, WGALLOWEDIP_A_IPADDR, WGALLOWEDIP_A_CIDR_MASK');
  }
  if (family === AF_INET && address.length === 4 && prefixLength <= 32) return `${formatV4(address)}/${prefixLength}`;
  if (family === AF_INET6 && address.length === 16 && prefixLength <= 128) return `${formatV6(address)}/${prefixLength}`;
  throw malformed(where, `is family ${family} with a ${address.length}-byte address and prefix length ${prefixLength}, not a valid IPv4 or IPv6 prefix`);
}

/** struct sockaddr_in or sockaddr_in6: family in host order, then the port in network order. */
function decodeSockaddr(value: Buffer, where: string): string {
  if (value.length < 2) throw malformed(where, `WGPEER_A_ENDPOINT is ${value.length} bytes, too short for a socket address`);
  const family = value.readUInt16LE(0);
  if (family === AF_INET && value.length === SOCKADDR_IN_LEN) return `${formatV4(value.subarray(4, 8))}:${value.readUInt16BE(2)}`;
  if (family === AF_INET6 && value.length === SOCKADDR_IN6_LEN) {
    const scope = value.readUInt32LE(24);
    return `[${formatV6(value.subarray(8, 24))}${scope ? `%${scope}` : ''}]:${value.readUInt16BE(2)}`;
  }
  throw malformed(where, `WGPEER_A_ENDPOINT is address family ${family} in ${value.length} bytes, expected sockaddr_in (${AF_INET}, ${SOCKADDR_IN_LEN} bytes) or sockaddr_in6 (${AF_INET6}, ${SOCKADDR_IN6_LEN} bytes)`);
}

/** struct __kernel_timespec (s64 seconds, s64 nanoseconds) as Unix milliseconds; 0 when there was no handshake. */
function decodeTimespecMs(value: Buffer, where: string): number {
  exactLength(value, KERNEL_TIMESPEC_LEN, 'WGPEER_A_LAST_HANDSHAKE_TIME', where);
  const seconds = value.readBigInt64LE(0);
  const nanoseconds = value.readBigInt64LE(8);
  if (seconds < 0n || nanoseconds < 0n || nanoseconds >= 1_000_000_000n) {
    throw malformed(where, `WGPEER_A_LAST_HANDSHAKE_TIME is ${seconds} s ${nanoseconds} ns, not a valid time`);
  }
  const ms = seconds * 1000n + nanoseconds / 1_000_000n;
  if (ms > BigInt(Number.MAX_SAFE_INTEGER)) throw malformed(where, `WGPEER_A_LAST_HANDSHAKE_TIME ${seconds} s is beyond any plausible date`);
  return Number(ms);
}

// ---------------------------------------------------------------------------------------------
// SET_DEVICE
// ---------------------------------------------------------------------------------------------

/** A peer's attributes, prepared and checked before anything is sent. */
interface PeerParts {
  /** What its first fragment carries besides allowed IPs. */
  first: Buffer[];
  /** What every later fragment carries besides allowed IPs: the key, and UPDATE_ONLY so a fragment never creates the peer. */
  rest: Buffer[];
  allowedIps: Buffer[];
}

/**
 * The SET_DEVICE messages (bodies after the netlink header) that apply `change` to `ifname`, in
 * order, each at most `messageBytes` long with its netlink header. Input is validated first, so a
 * bad value throws before anything could be sent.
 */
export function encodeSetDevice(familyId: number, ifname: string, change: WgDeviceChange, messageBytes = DEFAULT_SET_MESSAGE_BYTES): NetlinkRequest[] {
  if (!Number.isInteger(messageBytes) || messageBytes < MIN_SET_MESSAGE_BYTES || messageBytes > MAX_SET_MESSAGE_BYTES) {
    throw new Error(`SET_DEVICE message size ${messageBytes} is outside ${MIN_SET_MESSAGE_BYTES}..${MAX_SET_MESSAGE_BYTES} bytes`);
  }
  const name = ifnameAttribute(ifname);
  const what = `WireGuard change for ${ifname}`;
  const device = deviceAttributes(change, what);
  const peers = preparePeers(change.peers ?? [], what);

  const bodies: Buffer[] = [];
  let head: Buffer[] = [genlHeader(WG_CMD_SET_DEVICE, WG_GENL_VERSION), name, ...device];
  let entries: Buffer[] = [];
  let size = NLMSG_HDRLEN + byteLength(head);
  const flush = (): void => {
    bodies.push(Buffer.concat(entries.length > 0 ? [...head, nest(WGDEVICE_A_PEERS, entries)] : head));
    head = [genlHeader(WG_CMD_SET_DEVICE, WG_GENL_VERSION), name];
    entries = [];
    size = NLMSG_HDRLEN + byteLength(head);
  };
  // Bytes left for the next peer entry, the PEERS header counted while the message has none yet.
  const room = (): number => messageBytes - size - (entries.length === 0 ? NLA_HDRLEN : 0);

  for (const peer of peers) {
    let next = 0;
    let first = true;
    for (;;) {
      const fixed = first ? peer.first : peer.rest;
      const fixedBytes = NLA_HDRLEN + byteLength(fixed);
      const remaining = peer.allowedIps.length - next;
      // A fragment is worth sending with its fixed part and at least one allowed IP (or none, when the peer has none).
      const needed = fixedBytes + (remaining > 0 ? NLA_HDRLEN + ALLOWED_IP_V4_BYTES : 0);
      if (needed > room()) {
        // Unreachable above MIN_SET_MESSAGE_BYTES; kept so a wrong bound can never loop forever.
        if (entries.length === 0 && bodies.length > 0) throw new Error(`${what}: a peer does not fit in a ${messageBytes}-byte message`);
        flush();
        continue;
      }
      const count = remaining > 0 ? Math.min(remaining, Math.floor((room() - fixedBytes - NLA_HDRLEN) / ALLOWED_IP_V4_BYTES)) : 0;
      const parts = count > 0 ? [...fixed, nest(WGPEER_A_ALLOWEDIPS, peer.allowedIps.slice(next, next + count))] : fixed;
      const entry = nest(0, parts);
      size += entry.length + (entries.length === 0 ? NLA_HDRLEN : 0);
      entries.push(entry);
      next += count;
      first = false;
      if (next >= peer.allowedIps.length) break;
      flush();
    }
  }
  flush();
  return bodies.map((body) => ({ type: familyId, flags: 0, body: [body] }));
}

function deviceAttributes(change: WgDeviceChange, what: string): Buffer[] {
  const out: Buffer[] = [];
  if (change.privateKey !== undefined) out.push(attr(WGDEVICE_A_PRIVATE_KEY, key(change.privateKey, 'private key', what)));
  if (change.listenPort !== undefined) out.push(attr(WGDEVICE_A_LISTEN_PORT, u16(integer(change.listenPort, 0, 0xffff, 'listen port', what))));
  if (change.fwmark !== undefined) out.push(attr(WGDEVICE_A_FWMARK, u32(integer(change.fwmark, 0, 0xffffffff, 'fwmark', what))));
  if (change.replacePeers) out.push(attr(WGDEVICE_A_FLAGS, u32(WGDEVICE_F_REPLACE_PEERS)));
  return out;
}

function preparePeers(peers: readonly WgPeerChange[], what: string): PeerParts[] {
  const keys = new Set<string>();
  return peers.map((peer, index) => {
    const publicKey = key(peer.publicKey, `peer ${index + 1}'s public key`, what);
    const name = `peer ${keyText(publicKey)}`;
    if (keys.has(name)) throw new Error(`${what}: ${name} is listed twice`);
    keys.add(name);
    const keyAttribute = attr(WGPEER_A_PUBLIC_KEY, publicKey);
    // Removal applies nothing else of the change, so nothing else is sent.
    if (peer.remove) return { first: [keyAttribute, attr(WGPEER_A_FLAGS, u32(WGPEER_F_REMOVE_ME))], rest: [keyAttribute], allowedIps: [] };
    const first = [keyAttribute];
    if (peer.presharedKey !== undefined) first.push(attr(WGPEER_A_PRESHARED_KEY, key(peer.presharedKey, `${name}'s preshared key`, what)));
    if (peer.endpoint !== undefined) first.push(attr(WGPEER_A_ENDPOINT, sockaddrIn(peer.endpoint, `${what}: ${name}`)));
    if (peer.persistentKeepaliveSeconds !== undefined) {
      first.push(attr(WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, u16(integer(peer.persistentKeepaliveSeconds, 0, 0xffff, `${name}'s keepalive`, what))));
    }
    const updateOnly = peer.updateOnly ? WGPEER_F_UPDATE_ONLY : 0;
    const firstFlags = updateOnly | (peer.replaceAllowedIps ? WGPEER_F_REPLACE_ALLOWEDIPS : 0);
    if (firstFlags) first.push(attr(WGPEER_A_FLAGS, u32(firstFlags)));
    const rest = updateOnly ? [keyAttribute, attr(WGPEER_A_FLAGS, u32(updateOnly))] : [keyAttribute];
    const allowedIps = (peer.allowedIps ?? []).map((cidr) => allowedIpV4(cidr, `${what}: ${name}`));
    return { first, rest, allowedIps };
  });
}

function allowedIpV4(cidr: string, what: string): Buffer {
  const parsed = parseCidr(cidr);
  if (!parsed.ok) throw new Error(`${what}: allowed IP ${parsed.message}`);
  if (parsed.hostBitsSet) {
    // The kernel clears host bits and reports the network, so the state would never match the change.
    throw new Error(`${what}: allowed IP ${JSON.stringify(cidr)} has host bits set (the kernel would keep ${parsed.text})`);
  }
  const address = Buffer.alloc(4);
  address.writeUInt32BE(parsed.cidr.network);
  return nest(0, [attr(WGALLOWEDIP_A_FAMILY, u16(AF_INET)), attr(WGALLOWEDIP_A_IPADDR, address), attr(WGALLOWEDIP_A_CIDR_MASK, Buffer.from([parsed.cidr.prefixLength]))]);
}

/** struct sockaddr_in: family (host order), port (network order), address, 8 bytes of zero. */
function sockaddrIn(endpoint: { ip: string; port: number }, what: string): Buffer {
  const out = Buffer.alloc(SOCKADDR_IN_LEN);
  out.writeUInt16LE(AF_INET, 0);
  out.writeUInt16BE(integer(endpoint.port, 1, 0xffff, 'endpoint port', what), 2);
  try {
    writeIpv4(endpoint.ip, out, 4);
  } catch (error) {
    throw new Error(`${what}: endpoint ${(error as Error).message}`);
  }
  return out;
}

function key(value: Buffer, name: string, what: string): Buffer {
  if (!Buffer.isBuffer(value) || value.length !== WG_KEY_LEN) {
    throw new Error(`${what}: ${name} is ${Buffer.isBuffer(value) ? `${value.length} bytes` : typeof value}, expected ${WG_KEY_LEN} bytes`);
  }
  return value;
}

function integer(value: number, min: number, max: number, name: string, what: string): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${what}: ${name} ${value} is not an integer from ${min} to ${max}`);
  return value;
}

/** IFNAME as the kernel's dev_valid_name accepts it, NUL-terminated (NLA_NUL_STRING, at most IFNAMSIZ - 1 characters). */
function ifnameAttribute(ifname: string): Buffer {
  const bytes = Buffer.byteLength(ifname);
  if (bytes === 0 || bytes >= IFNAMSIZ || ifname === '.' || ifname === '..' || /[/:\s\0]/.test(ifname)) {
    throw new Error(`${JSON.stringify(ifname)} is not a valid interface name (1 to ${IFNAMSIZ - 1} bytes, no '/', ':', NUL or whitespace)`);
  }
  return attr(WGDEVICE_A_IFNAME, cstring(ifname));
}

// ---------------------------------------------------------------------------------------------
// Strict attribute reading
// ---------------------------------------------------------------------------------------------

interface Attribute {
  /** Without NLA_F_NESTED and NLA_F_NET_BYTEORDER. */
  type: number;
  value: Buffer;
}

/** Every attribute in `buf`, in order; throws when one is cut short or overruns its container. */
function attributes(buf: Buffer, where: string): Attribute[] {
  const out: Attribute[] = [];
  let offset = 0;
  while (offset < buf.length) {
    const left = buf.length - offset;
    if (left < NLA_HDRLEN) throw malformed(where, `ends with ${left} stray byte(s) after its last attribute, at byte ${offset}`);
    const length = buf.readUInt16LE(offset);
    const type = buf.readUInt16LE(offset + 2) & NLA_TYPE_MASK;
    if (length < NLA_HDRLEN) throw malformed(where, `has an attribute (type ${type}) of length ${length} at byte ${offset}, shorter than its own header`);
    if (length > left) throw malformed(where, `has an attribute (type ${type}) of ${length} bytes at byte ${offset} that overruns its container (${left} bytes left)`);
    out.push({ type, value: buf.subarray(offset + NLA_HDRLEN, offset + length) });
    // The last attribute's padding may be left out of its container's length.
    offset += Math.min(align4(length), left);
  }
  return out;
}

function exactLength(value: Buffer, length: number, name: string, where: string): void {
  if (value.length !== length) throw malformed(where, `${name} is ${value.length} bytes, expected ${length}`);
}

function readU8(value: Buffer, name: string, where: string): number {
  exactLength(value, 1, name, where);
  return value[0]!;
}

function readU16(value: Buffer, name: string, where: string): number {
  exactLength(value, 2, name, where);
  return value.readUInt16LE(0);
}

function readU32(value: Buffer, name: string, where: string): number {
  exactLength(value, 4, name, where);
  return value.readUInt32LE(0);
}

/** A byte counter as a number: exact up to 2^53 bytes (8 PiB), which is refused rather than rounded. */
function readU64(value: Buffer, name: string, where: string): number {
  exactLength(value, 8, name, where);
  const n = value.readBigUInt64LE(0);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw malformed(where, `${name} ${n} is beyond 2^53 and cannot be represented exactly`);
  return Number(n);
}

function nulString(value: Buffer, name: string, where: string): string {
  const end = value.indexOf(0);
  if (end < 0) throw malformed(where, `${name} is not NUL-terminated`);
  return value.subarray(0, end).toString('utf8');
}

const formatV4 = (bytes: Buffer): string => `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;

/** RFC 5952 text: lowercase, no leading zeros, the longest run of two or more zero groups as "::". */
function formatV6(bytes: Buffer): string {
  const groups = Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(i * 2));
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) { bestStart = i; bestLength = j - i; }
    i = j;
  }
  const hex = (from: number, to: number): string => groups.slice(from, to).map((g) => g.toString(16)).join(':');
  return bestStart < 0 ? hex(0, 8) : `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}

function malformed(where: string, problem: string): Error {
  return new Error(`malformed ${where}: ${problem}`);
}
