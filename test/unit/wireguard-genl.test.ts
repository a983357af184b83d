/**
 * Kernel WireGuard over generic netlink, proven against byte fixtures. Every fixture below is
 * written by hand from the specification, field by field: the netlink header (struct nlmsghdr:
 * u32 length, u16 type, u16 flags, u32 sequence, u32 port id, all little-endian on these hosts),
 * struct genlmsghdr (u8 cmd, u8 version, u16 reserved), attributes (u16 length counting its
 * 4-byte header, u16 type with NLA_F_NESTED = 0x8000, value padded to 4 bytes), and the numbers
 * of uapi linux/genetlink.h and linux/wireguard.h; attribute order follows the kernel's
 * drivers/net/wireguard/netlink.c for replies and wireguard-tools for requests. None comes from
 * the encoder under test. No kernel here has WireGuard, so these fixtures are the proof.
 *
 * In the fixtures, `#` starts a comment; spaces and line breaks are ignored.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NLMSG_DONE, decodeMessages, encodeMessage, type NetlinkMessage } from '../../src/kernel/netlink/codec.ts';
import { NetlinkConnection } from '../../src/kernel/netlink/connection.ts';
import { NetlinkError } from '../../src/kernel/netlink/errors.ts';
import type { NetlinkSocket } from '../../src/kernel/netlink/socket.ts';
import type { WgDeviceChange, WgDeviceState } from '../../src/model/wireguard-device.ts';
import {
  DEFAULT_SET_MESSAGE_BYTES, decodeDeviceDump, decodeFamilyId, encodeDeviceDump, encodeFamilyDump, encodeSetDevice,
} from '../../src/kernel/wireguard/genl-messages.ts';
import { WireguardFamilyMissingError, kernelWireguardControl } from '../../src/kernel/wireguard/kernel-control.ts';
import { FakeNetlinkSocket, errorReply } from '../helpers/fake-netlink-socket.ts';

/** Hex with `#` comments and free spacing; a typo (odd length, a non-hex character) fails loudly. */
function hex(text: string): Buffer {
  const digits = text.replace(/#.*$/gm, '').replace(/\s+/g, '');
  if (!/^([0-9a-f]{2})*$/.test(digits)) throw new Error(`bad fixture hex: ${digits.length} digits or a non-hex character`);
  return Buffer.from(digits, 'hex');
}

/** Keys as 32 repeated bytes, so they read at a glance in the hex. */
const K = { a1: 'a1'.repeat(32), b2: 'b2'.repeat(32), c3: 'c3'.repeat(32), d4: 'd4'.repeat(32), e5: 'e5'.repeat(32), zero: '00'.repeat(32) };
const key = (byte: keyof typeof K): Buffer => Buffer.from(K[byte], 'hex');
const PRIVATE_KEY = key('a1');
const PEER1 = key('b2');
const PSK = key('c3');
const PEER2 = key('d4');
const DEVICE_PUBLIC_KEY = key('e5');

/** The wireguard family's id in these fixtures (the kernel assigns it at registration; any free id). */
const FAMILY = 30; // 0x1e
const IFNAME = 'submariner';
/** WGDEVICE_A_IFNAME "submariner": length 15 (4 + 10 characters + NUL), type 2, then one byte of padding. */
const IFNAME_ATTR = '0f00 0200  7375626d6172696e657200  00';

/** What NetlinkConnection puts in the flags: a dump, or one request asking for its acknowledgement. */
const DUMP_FLAGS = NLM_F_REQUEST | NLM_F_DUMP; // 0x0301
const SET_FLAGS = NLM_F_REQUEST | NLM_F_ACK; // 0x0005

/** Writes `seq` into every message of a datagram (replies must answer the sequence number the connection chose). */
function withSeq(datagram: Buffer, seq: number): Buffer {
  const out = Buffer.from(datagram);
  for (let offset = 0; offset < out.length; offset += (out.readUInt32LE(offset) + 3) & ~3) out.writeUInt32LE(seq, offset + 8);
  return out;
}

/** A dump reply as NetlinkConnection.dump returns it: the messages before NLMSG_DONE. */
const dumpMessages = (datagram: Buffer): NetlinkMessage[] => decodeMessages(datagram).filter((m) => m.type !== NLMSG_DONE);

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

const FAMILY_LOOKUP_REQUEST = hex(`
  14000000   # nlmsg_len 20
  1000       # nlmsg_type GENL_ID_CTRL (0x10)
  0103       # nlmsg_flags NLM_F_REQUEST (0x1) | NLM_F_DUMP (0x300)
  01000000   # nlmsg_seq 1
  00000000   # nlmsg_pid 0 (to the kernel)
  03 01 0000 # genlmsghdr: cmd CTRL_CMD_GETFAMILY (3), version 1, reserved
`);

/** A controller dump as the kernel's ctrl_fill_info writes it: nlctrl first, then wireguard, then DONE. */
const FAMILY_LOOKUP_REPLY = hex(`
  30000000 1000 0200 01000000 00000000  # nlmsghdr: length 48, type GENL_ID_CTRL, NLM_F_MULTI, seq 1, pid 0
  01 02 0000                            # CTRL_CMD_NEWFAMILY (1), the controller's version 2
  0b00 0200 6e6c6374726c00 00           # CTRL_ATTR_FAMILY_NAME (2), length 11: "nlctrl" NUL, 1 byte padding
  0600 0100 1000 0000                   # CTRL_ATTR_FAMILY_ID (1), u16 0x10, 2 bytes padding
  0800 0300 02000000                    # CTRL_ATTR_VERSION (3), u32 2

  70000000 1000 0200 01000000 00000000  # nlmsghdr: length 112, type GENL_ID_CTRL, NLM_F_MULTI, seq 1
  01 02 0000                            # CTRL_CMD_NEWFAMILY
  0e00 0200 77697265677561726400 0000   # CTRL_ATTR_FAMILY_NAME, length 14: "wireguard" NUL, 2 bytes padding
  0600 0100 1e00 0000                   # CTRL_ATTR_FAMILY_ID u16 30
  0800 0300 01000000                    # CTRL_ATTR_VERSION 1 (WG_GENL_VERSION)
  0800 0400 00000000                    # CTRL_ATTR_HDRSIZE 0
  0800 0500 08000000                    # CTRL_ATTR_MAXATTR 8 (WGDEVICE_A_MAX)
  2c00 0600                             # CTRL_ATTR_OPS (6), length 44, no NLA_F_NESTED (nla_nest_start_noflag)
    1400 0100                           #   op entry 1, length 20
      0800 0100 00000000                #     CTRL_ATTR_OP_ID WG_CMD_GET_DEVICE (0)
      0800 0200 1c000000                #     CTRL_ATTR_OP_FLAGS UNS_ADMIN_PERM 0x10 | CAP_DUMP 0x04 | HASPOL 0x08
    1400 0200                           #   op entry 2, length 20
      0800 0100 01000000                #     CTRL_ATTR_OP_ID WG_CMD_SET_DEVICE (1)
      0800 0200 1a000000                #     UNS_ADMIN_PERM 0x10 | CAP_DO 0x02 | HASPOL 0x08

  14000000 0300 0200 01000000 00000000  # NLMSG_DONE (3), length 20, NLM_F_MULTI
  00000000                              # its error code: 0
`);

/** The first lookup reply without wireguard: a kernel without the module. */
const FAMILY_LOOKUP_REPLY_WITHOUT_WIREGUARD = hex(`
  30000000 1000 0200 01000000 00000000  # nlmsghdr: length 48, GENL_ID_CTRL, NLM_F_MULTI
  01 02 0000                            # CTRL_CMD_NEWFAMILY
  0b00 0200 6e6c6374726c00 00           # CTRL_ATTR_FAMILY_NAME "nlctrl"
  0600 0100 1000 0000                   # CTRL_ATTR_FAMILY_ID 0x10
  0800 0300 02000000                    # CTRL_ATTR_VERSION 2
  14000000 0300 0200 01000000 00000000 00000000  # NLMSG_DONE, error 0
`);

/** Private key, listen port 4500 and one peer with PSK, endpoint, keepalive and two allowed IPs that replace its old ones. */
const SET_FULL_CHANGE: WgDeviceChange = {
  privateKey: PRIVATE_KEY,
  listenPort: 4500,
  peers: [{
    publicKey: PEER1, presharedKey: PSK, endpoint: { ip: '198.18.0.2', port: 4500 }, persistentKeepaliveSeconds: 10,
    replaceAllowedIps: true, allowedIps: ['10.2.0.0/16', '100.66.0.0/16'],
  }],
};
const SET_FULL = hex(`
  00010000   # nlmsg_len 256
  1e00       # nlmsg_type: the wireguard family, 30
  0500       # NLM_F_REQUEST | NLM_F_ACK
  02000000   # seq 2
  00000000   # pid 0
  01 01 0000 # WG_CMD_SET_DEVICE (1), WG_GENL_VERSION 1
  ${IFNAME_ATTR}                   # WGDEVICE_A_IFNAME (2) "submariner"
  2400 0300 ${K.a1}                # WGDEVICE_A_PRIVATE_KEY (3), length 36
  0600 0600 9411 0000              # WGDEVICE_A_LISTEN_PORT (6), u16 4500 host order (0x1194), 2 bytes padding
  b000 0880                        # WGDEVICE_A_PEERS (8 | NLA_F_NESTED), length 176
    ac00 0080                      #   peer entry: type 0 | NLA_F_NESTED, length 172
      2400 0100 ${K.b2}            #     WGPEER_A_PUBLIC_KEY (1)
      2400 0200 ${K.c3}            #     WGPEER_A_PRESHARED_KEY (2)
      1400 0400                    #     WGPEER_A_ENDPOINT (4), length 20: struct sockaddr_in
        0200                       #       sin_family AF_INET (2), host order
        1194                       #       sin_port 4500, network order
        c6120002                   #       sin_addr 198.18.0.2
        0000000000000000           #       sin_zero
      0600 0500 0a00 0000          #     WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL (5), u16 10, padding
      0800 0300 02000000           #     WGPEER_A_FLAGS (3), u32 WGPEER_F_REPLACE_ALLOWEDIPS (2)
      3c00 0980                    #     WGPEER_A_ALLOWEDIPS (9 | NLA_F_NESTED), length 60
        1c00 0080                  #       allowed IP entry, type 0 | NLA_F_NESTED, length 28
          0600 0100 0200 0000      #         WGALLOWEDIP_A_FAMILY (1), u16 AF_INET, padding
          0800 0200 0a020000       #         WGALLOWEDIP_A_IPADDR (2), 10.2.0.0
          0500 0300 10 000000      #         WGALLOWEDIP_A_CIDR_MASK (3), u8 16, 3 bytes padding
        1c00 0080                  #       allowed IP entry, length 28
          0600 0100 0200 0000      #         FAMILY AF_INET
          0800 0200 64420000       #         IPADDR 100.66.0.0
          0500 0300 10 000000      #         CIDR_MASK 16
`);

/** Only if the peer exists: a new endpoint; nothing else. */
const SET_UPDATE_ONLY_CHANGE: WgDeviceChange = { peers: [{ publicKey: PEER1, updateOnly: true, endpoint: { ip: '198.18.0.3', port: 4501 } }] };
const SET_UPDATE_ONLY = hex(`
  6c000000 1e00 0500 03000000 00000000  # nlmsghdr: length 108, wireguard, REQUEST|ACK, seq 3
  01 01 0000                            # WG_CMD_SET_DEVICE, version 1
  ${IFNAME_ATTR}                        # WGDEVICE_A_IFNAME
  4800 0880                             # WGDEVICE_A_PEERS | NESTED, length 72
    4400 0080                           #   peer entry, length 68
      2400 0100 ${K.b2}                 #     WGPEER_A_PUBLIC_KEY
      1400 0400 0200 1195 c6120003 0000000000000000  # WGPEER_A_ENDPOINT: AF_INET, port 4501 (0x1195) network order, 198.18.0.3
      0800 0300 04000000                #     WGPEER_A_FLAGS WGPEER_F_UPDATE_ONLY (4)
`);

/** Removal: only the key and REMOVE_ME go out, whatever else the change says. */
const SET_REMOVE_CHANGE: WgDeviceChange = { peers: [{ publicKey: PEER2, remove: true, endpoint: { ip: '198.18.0.9', port: 4500 }, allowedIps: ['10.9.0.0/16'] }] };
const SET_REMOVE = hex(`
  58000000 1e00 0500 04000000 00000000  # nlmsghdr: length 88, wireguard, REQUEST|ACK, seq 4
  01 01 0000                            # WG_CMD_SET_DEVICE, version 1
  ${IFNAME_ATTR}                        # WGDEVICE_A_IFNAME
  3400 0880                             # WGDEVICE_A_PEERS | NESTED, length 52
    3000 0080                           #   peer entry, length 48
      2400 0100 ${K.d4}                 #     WGPEER_A_PUBLIC_KEY
      0800 0300 01000000                #     WGPEER_A_FLAGS WGPEER_F_REMOVE_ME (1)
`);

/** Every peer removed: REPLACE_PEERS and no PEERS attribute at all (as wireguard-tools sends it). */
const SET_REPLACE_WITH_NONE = hex(`
  2c000000 1e00 0500 05000000 00000000  # nlmsghdr: length 44, wireguard, REQUEST|ACK, seq 5
  01 01 0000                            # WG_CMD_SET_DEVICE, version 1
  ${IFNAME_ATTR}                        # WGDEVICE_A_IFNAME
  0800 0500 01000000                    # WGDEVICE_A_FLAGS (5), u32 WGDEVICE_F_REPLACE_PEERS (1)
`);

const GET_REQUEST = hex(`
  24000000   # nlmsg_len 36
  1e00       # the wireguard family
  0103       # NLM_F_REQUEST | NLM_F_DUMP: GET_DEVICE is only answered as a dump
  05000000   # seq 5
  00000000   # pid 0
  00 01 0000 # WG_CMD_GET_DEVICE (0), version 1
  ${IFNAME_ATTR} # WGDEVICE_A_IFNAME, the device to dump
`);

/** One page with the device and two peers, in wg_get_device_dump's attribute order, then DONE. */
const GET_REPLY_TWO_PEERS = hex(`
  e8010000 1e00 0200 05000000 00000000  # nlmsghdr: length 488, wireguard, NLM_F_MULTI, seq 5
  00 01 0000                            # WG_CMD_GET_DEVICE, version 1
  0600 0600 9411 0000                   # WGDEVICE_A_LISTEN_PORT 4500
  0800 0700 00000000                    # WGDEVICE_A_FWMARK 0
  0800 0100 07000000                    # WGDEVICE_A_IFINDEX 7
  ${IFNAME_ATTR}                        # WGDEVICE_A_IFNAME "submariner"
  2400 0300 ${K.a1}                     # WGDEVICE_A_PRIVATE_KEY
  2400 0400 ${K.e5}                     # WGDEVICE_A_PUBLIC_KEY
  6401 0880                             # WGDEVICE_A_PEERS | NESTED, length 356
    d800 0080                           #   peer entry 1, length 216
      2400 0100 ${K.b2}                 #     WGPEER_A_PUBLIC_KEY
      2400 0200 ${K.c3}                 #     WGPEER_A_PRESHARED_KEY (set)
      1400 0600                         #     WGPEER_A_LAST_HANDSHAKE_TIME (6), struct __kernel_timespec
        00b9556900000000                #       tv_sec 1767225600 (2026-01-01T00:00:00Z), s64
        80b2e60e00000000                #       tv_nsec 250000000, s64
      0600 0500 0a00 0000               #     WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL 10
      0c00 0800 ea16b04c02000000        #     WGPEER_A_TX_BYTES (8), u64 9876543210
      0c00 0700 141a99be1c000000        #     WGPEER_A_RX_BYTES (7), u64 123456789012
      0800 0a00 01000000                #     WGPEER_A_PROTOCOL_VERSION (10), u32 1
      1400 0400 0200 1194 c6120002 0000000000000000  # WGPEER_A_ENDPOINT 198.18.0.2:4500
      3c00 0980                         #     WGPEER_A_ALLOWEDIPS | NESTED, length 60
        1c00 0080                       #       entry; the kernel writes mask, family, address
          0500 0300 10 000000           #         WGALLOWEDIP_A_CIDR_MASK 16
          0600 0100 0200 0000           #         WGALLOWEDIP_A_FAMILY AF_INET
          0800 0200 0a020000            #         WGALLOWEDIP_A_IPADDR 10.2.0.0
        1c00 0080                       #       entry
          0500 0300 18 000000           #         CIDR_MASK 24
          0600 0100 0200 0000           #         FAMILY AF_INET
          0800 0200 64420100            #         IPADDR 100.66.1.0
    8800 0080                           #   peer entry 2, length 136: no endpoint, no allowed IPs
      2400 0100 ${K.d4}                 #     WGPEER_A_PUBLIC_KEY
      2400 0200 ${K.zero}               #     WGPEER_A_PRESHARED_KEY all zeros: none
      1400 0600 0000000000000000 0000000000000000  # LAST_HANDSHAKE_TIME 0: never
      0600 0500 0000 0000               #     KEEPALIVE 0
      0c00 0800 0000000000000000        #     TX_BYTES 0
      0c00 0700 0000000000000000        #     RX_BYTES 0
      0800 0a00 01000000                #     PROTOCOL_VERSION 1
  14000000 0300 0200 05000000 00000000 00000000  # NLMSG_DONE, error 0
`);
const TWO_PEERS_STATE: WgDeviceState = {
  publicKey: DEVICE_PUBLIC_KEY,
  listenPort: 4500,
  fwmark: 0,
  peers: [
    {
      publicKey: PEER1, endpoint: '198.18.0.2:4500', lastHandshakeMs: 1_767_225_600_250, rxBytes: 123_456_789_012, txBytes: 9_876_543_210,
      persistentKeepaliveSeconds: 10, allowedIps: ['10.2.0.0/16', '100.66.1.0/24'], hasPresharedKey: true,
    },
    { publicKey: PEER2, lastHandshakeMs: 0, rxBytes: 0, txBytes: 0, persistentKeepaliveSeconds: 0, allowedIps: [], hasPresharedKey: false },
  ],
};

/**
 * Two pages: peer b2's allowed IPs did not fit, so the second page starts with b2 again (key and
 * the rest of its allowed IPs only), then peer d4. Later pages carry only WGDEVICE_A_PEERS. The
 * device has no private key, so no key attributes.
 */
const GET_REPLY_CONTINUED_PEER = hex(`
  e8000000 1e00 0200 06000000 00000000  # page 1: length 232, NLM_F_MULTI, seq 6
  00 01 0000                            # WG_CMD_GET_DEVICE
  0600 0600 9411 0000                   # LISTEN_PORT 4500
  0800 0700 2a000000                    # FWMARK 42
  0800 0100 07000000                    # IFINDEX 7
  ${IFNAME_ATTR}                        # IFNAME
  ac00 0880                             # PEERS | NESTED, length 172
    a800 0080                           #   peer entry, length 168: b2's first part
      2400 0100 ${K.b2}                 #     PUBLIC_KEY
      2400 0200 ${K.zero}               #     PRESHARED_KEY none
      1400 0600 0000000000000000 0000000000000000  # LAST_HANDSHAKE_TIME never
      0600 0500 1900 0000               #     KEEPALIVE 25
      0c00 0800 d007000000000000        #     TX_BYTES 2000
      0c00 0700 e803000000000000        #     RX_BYTES 1000
      0800 0a00 01000000                #     PROTOCOL_VERSION 1
      2000 0980                         #     ALLOWEDIPS | NESTED, length 32
        1c00 0080                       #       entry
          0500 0300 10 000000           #         CIDR_MASK 16
          0600 0100 0200 0000           #         FAMILY AF_INET
          0800 0200 0a020000            #         IPADDR 10.2.0.0

  e8000000 1e00 0200 06000000 00000000  # page 2: length 232, NLM_F_MULTI, seq 6
  00 01 0000                            # WG_CMD_GET_DEVICE
  d400 0880                             # PEERS | NESTED, length 212
    4800 0080                           #   peer entry, length 72: b2 continued
      2400 0100 ${K.b2}                 #     PUBLIC_KEY only
      2000 0980                         #     ALLOWEDIPS | NESTED, length 32
        1c00 0080                       #       entry
          0500 0300 10 000000           #         CIDR_MASK 16
          0600 0100 0200 0000           #         FAMILY AF_INET
          0800 0200 0a030000            #         IPADDR 10.3.0.0
    8800 0080                           #   peer entry, length 136: d4, complete, no allowed IPs
      2400 0100 ${K.d4}                 #     PUBLIC_KEY
      2400 0200 ${K.c3}                 #     PRESHARED_KEY set
      1400 0600 0000000000000000 0000000000000000  # LAST_HANDSHAKE_TIME never
      0600 0500 0000 0000               #     KEEPALIVE 0
      0c00 0800 0000000000000000        #     TX_BYTES 0
      0c00 0700 0000000000000000        #     RX_BYTES 0
      0800 0a00 01000000                #     PROTOCOL_VERSION 1
  14000000 0300 0200 06000000 00000000 00000000  # NLMSG_DONE
`);

// Payload fragments (after the netlink header) for the malformed cases.
const GENL_GET = '00 01 0000'; // WG_CMD_GET_DEVICE, version 1
const DEVICE_BASE = `${GENL_GET}  0600 0600 9411 0000  0800 0700 00000000`; // LISTEN_PORT 4500, FWMARK 0
/** What only a peer's first part carries: handshake time (20), keepalive (8), tx (12), rx (12): 52 bytes, all zero. */
const PEER_STATS = `1400 0600 ${'00'.repeat(16)}  0600 0500 0000 0000  0c00 0800 ${'00'.repeat(8)}  0c00 0700 ${'00'.repeat(8)}`;
/** A complete peer entry with no allowed IPs: 4 + 36 + 52 = 92 bytes (0x5c). */
const peerEntry = (k: keyof typeof K): string => `5c00 0080  2400 0100 ${K[k]}  ${PEER_STATS}`;
const payload = (text: string): NetlinkMessage => ({ type: FAMILY, flags: 2, seq: 1, payload: hex(text) });

// ---------------------------------------------------------------------------------------------
// A walker of the encoder's output for the big cases, independent of the decoder under test
// ---------------------------------------------------------------------------------------------

interface Tlv { type: number; nested: boolean; value: Buffer }

function tlvs(buf: Buffer): Tlv[] {
  const out: Tlv[] = [];
  for (let offset = 0; offset < buf.length;) {
    const length = buf.readUInt16LE(offset);
    const type = buf.readUInt16LE(offset + 2);
    assert.ok(length >= 4 && offset + length <= buf.length, `attribute at ${offset} fits its container`);
    out.push({ type: type & 0x3fff, nested: (type & 0x8000) !== 0, value: buf.subarray(offset + 4, offset + length) });
    offset += (length + 3) & ~3;
  }
  return out;
}

interface WalkedPeer { key: string; attributeTypes: number[]; flags?: number; allowedIps: string[] }

/** A SET_DEVICE body as plain data: device attribute types, flags, and the peer entries. */
function walkSet(body: Buffer): { deviceTypes: number[]; deviceFlags?: number; peers: WalkedPeer[] } {
  assert.deepEqual([...body.subarray(0, 4)], [1, 1, 0, 0], 'genlmsghdr: WG_CMD_SET_DEVICE, version 1');
  const device = tlvs(body.subarray(4));
  const peersAttribute = device.find((a) => a.type === 8);
  const flags = device.find((a) => a.type === 5);
  const peers = (peersAttribute ? tlvs(peersAttribute.value) : []).map((entry): WalkedPeer => {
    assert.equal(entry.nested, true, 'a peer entry carries NLA_F_NESTED');
    assert.equal(entry.type, 0, 'peer entries are all type 0');
    const attributes = tlvs(entry.value);
    const ips = attributes.find((a) => a.type === 9);
    if (ips) assert.equal(ips.nested, true, 'WGPEER_A_ALLOWEDIPS carries NLA_F_NESTED');
    const peerFlags = attributes.find((a) => a.type === 3);
    const walked: WalkedPeer = {
      key: attributes.find((a) => a.type === 1)!.value.toString('hex').slice(0, 2),
      attributeTypes: attributes.map((a) => a.type),
      allowedIps: (ips ? tlvs(ips.value) : []).map((ip) => {
        const [family, address, mask] = tlvs(ip.value);
        assert.equal(family!.value.readUInt16LE(0), 2);
        return `${[...address!.value].join('.')}/${mask!.value[0]}`;
      }),
    };
    if (peerFlags) walked.flags = peerFlags.value.readUInt32LE(0);
    return walked;
  });
  if (peersAttribute) assert.equal(peersAttribute.nested, true, 'WGDEVICE_A_PEERS carries NLA_F_NESTED');
  const walked: { deviceTypes: number[]; deviceFlags?: number; peers: WalkedPeer[] } = { deviceTypes: device.map((a) => a.type), peers };
  if (flags) walked.deviceFlags = flags.value.readUInt32LE(0);
  return walked;
}

const wire = (request: { type: number; body: readonly Buffer[] }, seq: number): Buffer => encodeMessage(request.type, SET_FLAGS, seq, request.body);

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

describe('generic netlink family lookup', () => {
  it('asks the controller for its family dump', () => {
    const request = encodeFamilyDump();
    assert.deepEqual(encodeMessage(request.type, DUMP_FLAGS, 1, request.body), FAMILY_LOOKUP_REQUEST);
  });

  it('finds the family id by name among the families the controller lists', () => {
    const messages = dumpMessages(FAMILY_LOOKUP_REPLY);
    assert.equal(messages.length, 2);
    assert.equal(decodeFamilyId(messages, 'wireguard'), 30);
    assert.equal(decodeFamilyId(messages, 'nlctrl'), 0x10);
    assert.equal(decodeFamilyId(messages, 'ovpn'), undefined, 'an unregistered family is not found');
  });

  it('refuses a reply that is not the controller\'s, or names the family without an id of two bytes', () => {
    assert.throws(() => decodeFamilyId([{ type: FAMILY, payload: hex('01 02 0000') }], 'wireguard'), /has type 30, expected the controller's 16/);
    assert.throws(() => decodeFamilyId([{ type: 0x10, payload: hex('01') }], 'wireguard'), /shorter than the generic netlink header/);
    assert.throws(
      () => decodeFamilyId([{ type: 0x10, payload: hex('01 02 0000  0e00 0200 77697265677561726400 0000') }], 'wireguard'),
      /names family "wireguard" without CTRL_ATTR_FAMILY_ID/,
    );
    assert.throws(
      () => decodeFamilyId([{ type: 0x10, payload: hex('01 02 0000  0e00 0200 77697265677561726400 0000  0800 0100 1e000000') }], 'wireguard'),
      /CTRL_ATTR_FAMILY_ID is 4 bytes, expected 2/,
    );
  });
});

describe('SET_DEVICE encoding', () => {
  it('private key, listen port and one peer with PSK, endpoint, keepalive and two replacing allowed IPs', () => {
    const requests = encodeSetDevice(FAMILY, IFNAME, SET_FULL_CHANGE);
    assert.equal(requests.length, 1);
    assert.deepEqual(wire(requests[0]!, 2), SET_FULL);
  });

  it('an update-only peer change', () => {
    const requests = encodeSetDevice(FAMILY, IFNAME, SET_UPDATE_ONLY_CHANGE);
    assert.equal(requests.length, 1);
    assert.deepEqual(wire(requests[0]!, 3), SET_UPDATE_ONLY);
  });

  it('a peer removal sends only its key and REMOVE_ME', () => {
    const requests = encodeSetDevice(FAMILY, IFNAME, SET_REMOVE_CHANGE);
    assert.equal(requests.length, 1);
    assert.deepEqual(wire(requests[0]!, 4), SET_REMOVE);
  });

  it('replacing the peers with none sends REPLACE_PEERS and no PEERS attribute', () => {
    const requests = encodeSetDevice(FAMILY, IFNAME, { replacePeers: true, peers: [] });
    assert.equal(requests.length, 1);
    assert.deepEqual(wire(requests[0]!, 5), SET_REPLACE_WITH_NONE);
  });

  it('3000 allowed IPs are split into messages within the budget, REPLACE flags only in the first of each', () => {
    const ips = Array.from({ length: 3000 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
    const change: WgDeviceChange = {
      privateKey: PRIVATE_KEY, listenPort: 4500, replacePeers: true,
      peers: [
        { publicKey: PEER1, presharedKey: PSK, endpoint: { ip: '198.18.0.2', port: 4500 }, persistentKeepaliveSeconds: 10, replaceAllowedIps: true, allowedIps: ips },
        { publicKey: PEER2, allowedIps: ['192.168.7.0/24'] },
      ],
    };
    const requests = encodeSetDevice(FAMILY, IFNAME, change);
    // Sizes from the wire format: netlink header 16, genlmsghdr 4, IFNAME 16, PEERS header 4, peer entry
    // header 4, PUBLIC_KEY 36, an allowed IP 28 (4 + FAMILY 8 + IPADDR 8 + CIDR_MASK 8). The first message
    // adds PRIVATE_KEY 36, LISTEN_PORT 8, FLAGS 8, and b2's PSK 36, ENDPOINT 20, KEEPALIVE 8, FLAGS 8,
    // ALLOWEDIPS header 4: 208 bytes before its first allowed IP, so (8192 - 208) / 28 = 285 of them. Each
    // later message spends 16 + 4 + 16 + 4 + 4 + 36 + 4 = 84, leaving room for (8192 - 84) / 28 = 289.
    // 3000 = 285 + 9 * 289 + 114: eleven messages, and d4 fits after the last 114.
    assert.equal(DEFAULT_SET_MESSAGE_BYTES, 8192);
    assert.equal(requests.length, 11);
    const walked = requests.map((r) => walkSet(r.body[0]!));
    requests.forEach((r, i) => {
      assert.equal(r.type, FAMILY);
      assert.ok(wire(r, i).length <= 8192, `message ${i + 1} is ${wire(r, i).length} bytes`);
    });
    assert.deepEqual(walked[0]!.deviceTypes, [2, 3, 6, 5, 8], 'the first message: IFNAME, PRIVATE_KEY, LISTEN_PORT, FLAGS, PEERS');
    assert.equal(walked[0]!.deviceFlags, 1, 'REPLACE_PEERS in the first message');
    for (const later of walked.slice(1)) assert.deepEqual(later.deviceTypes, [2, 8], 'later messages: IFNAME and PEERS only');
    assert.deepEqual(walked[0]!.peers.map((p) => ({ key: p.key, types: p.attributeTypes, flags: p.flags, ips: p.allowedIps.length })), [
      { key: 'b2', types: [1, 2, 4, 5, 3, 9], flags: 2, ips: 285 },
    ], 'b2 starts with everything and REPLACE_ALLOWEDIPS');
    for (const [i, later] of walked.slice(1, 10).entries()) {
      assert.deepEqual(later.peers.map((p) => ({ key: p.key, types: p.attributeTypes, flags: p.flags, ips: p.allowedIps.length })), [
        { key: 'b2', types: [1, 9], flags: undefined, ips: 289 },
      ], `message ${i + 2} continues b2 with its key and allowed IPs only`);
    }
    assert.deepEqual(walked[10]!.peers.map((p) => ({ key: p.key, types: p.attributeTypes, flags: p.flags, ips: p.allowedIps })), [
      { key: 'b2', types: [1, 9], flags: undefined, ips: ips.slice(2886) },
      { key: 'd4', types: [1, 9], flags: undefined, ips: ['192.168.7.0/24'] },
    ]);
    const b2 = walked.flatMap((w) => w.peers.filter((p) => p.key === 'b2').flatMap((p) => p.allowedIps));
    assert.deepEqual(b2, ips, 'every allowed IP once, in order');
  });

  it('a smaller budget splits many peers at peer boundaries, each peer whole', () => {
    const peers = Array.from({ length: 400 }, (_, i) => {
      const publicKey = Buffer.alloc(32, 0x11);
      publicKey.writeUInt16BE(i, 0);
      return { publicKey, allowedIps: [`10.${i >> 8}.${i & 255}.0/24`] };
    });
    const requests = encodeSetDevice(FAMILY, IFNAME, { replacePeers: true, peers }, 1024);
    // First message: 16 + 4 + 16 + FLAGS 8 + PEERS header 4 = 48; each peer 4 + 36 + 4 + 28 = 72, so
    // (1024 - 48) / 72 = 13. Later ones: 40 before the peers, (1024 - 40) / 72 = 13. 400 = 30 * 13 + 10.
    assert.equal(requests.length, 31);
    const walked = requests.map((r) => walkSet(r.body[0]!));
    assert.equal(walked[0]!.deviceFlags, 1);
    assert.ok(walked.slice(1).every((w) => w.deviceFlags === undefined), 'REPLACE_PEERS only in the first message');
    assert.deepEqual(walked.map((w) => w.peers.length), [...Array(30).fill(13), 10]);
    requests.forEach((r, i) => assert.ok(wire(r, i).length <= 1024));
    const all = requests.flatMap((r) => tlvs(tlvs(r.body[0]!.subarray(4)).find((a) => a.type === 8)!.value));
    assert.deepEqual(all.map((entry) => tlvs(entry.value).find((a) => a.type === 1)!.value.readUInt16BE(0)), peers.map((_, i) => i), 'each peer once, in order');
  });

  it('an update-only peer keeps UPDATE_ONLY on every fragment, so a fragment never creates it', () => {
    const ips = Array.from({ length: 40 }, (_, i) => `10.0.${i}.0/24`);
    const requests = encodeSetDevice(FAMILY, IFNAME, { peers: [{ publicKey: PEER1, updateOnly: true, replaceAllowedIps: true, allowedIps: ips }] }, 512);
    assert.ok(requests.length > 1);
    const fragments = requests.map((r) => walkSet(r.body[0]!).peers[0]!);
    assert.equal(fragments[0]!.flags, 4 | 2, 'first fragment: UPDATE_ONLY | REPLACE_ALLOWEDIPS');
    for (const fragment of fragments.slice(1)) assert.equal(fragment.flags, 4, 'later fragments: UPDATE_ONLY only');
    assert.deepEqual(fragments.flatMap((f) => f.allowedIps), ips);
  });

  it('refuses bad input before anything is encoded', () => {
    const encode = (change: WgDeviceChange, ifname = IFNAME, budget?: number) => () => encodeSetDevice(FAMILY, ifname, change, budget);
    assert.throws(encode({ privateKey: Buffer.alloc(31) }), /private key is 31 bytes, expected 32/);
    assert.throws(encode({ listenPort: 65536 }), /listen port 65536 is not an integer from 0 to 65535/);
    assert.throws(encode({ fwmark: -1 }), /fwmark -1/);
    assert.throws(encode({ peers: [{ publicKey: PEER1, presharedKey: Buffer.alloc(16) }] }), /preshared key is 16 bytes/);
    assert.throws(encode({ peers: [{ publicKey: PEER1, allowedIps: ['10.2.0.1/16'] }] }), /"10.2.0.1\/16" has host bits set \(the kernel would keep 10.2.0.0\/16\)/);
    assert.throws(encode({ peers: [{ publicKey: PEER1, allowedIps: ['fd00::/64'] }] }), /only IPv4 is supported/);
    assert.throws(encode({ peers: [{ publicKey: PEER1, allowedIps: ['10.2.0.0'] }] }), /not a CIDR/);
    assert.throws(encode({ peers: [{ publicKey: PEER1, endpoint: { ip: '198.18.0.2', port: 0 } }] }), /endpoint port 0/);
    assert.throws(encode({ peers: [{ publicKey: PEER1, endpoint: { ip: '010.0.0.1', port: 4500 } }] }), /not an IPv4 address/);
    assert.throws(encode({ peers: [{ publicKey: PEER1, persistentKeepaliveSeconds: 1.5 }] }), /keepalive 1.5/);
    assert.throws(encode({ peers: [{ publicKey: PEER1 }, { publicKey: Buffer.from(PEER1) }] }), /is listed twice/);
    assert.throws(encode({}, 'a-very-long-name0'), /not a valid interface name/);
    assert.throws(encode({}, 'wg/0'), /not a valid interface name/);
    assert.throws(encode({}, ''), /not a valid interface name/);
    assert.throws(encode({}, IFNAME, 511), /outside 512..65535/);
    assert.throws(encode({}, IFNAME, 65536), /outside 512..65535/);
  });
});

describe('GET_DEVICE', () => {
  it('asks for a dump of the device by name', () => {
    const request = encodeDeviceDump(FAMILY, IFNAME);
    assert.deepEqual(encodeMessage(request.type, DUMP_FLAGS, 5, request.body), GET_REQUEST);
  });

  it('decodes a reply with two peers to the exact state', () => {
    assert.deepEqual(decodeDeviceDump(dumpMessages(GET_REPLY_TWO_PEERS), { familyId: FAMILY, ifname: IFNAME }), TWO_PEERS_STATE);
  });

  it('joins a peer continued on the next page, and the peers after it', () => {
    const state = decodeDeviceDump(dumpMessages(GET_REPLY_CONTINUED_PEER), { familyId: FAMILY, ifname: IFNAME });
    assert.deepEqual(state, {
      listenPort: 4500,
      fwmark: 42,
      peers: [
        { publicKey: PEER1, lastHandshakeMs: 0, rxBytes: 1000, txBytes: 2000, persistentKeepaliveSeconds: 25, allowedIps: ['10.2.0.0/16', '10.3.0.0/16'], hasPresharedKey: false },
        { publicKey: PEER2, lastHandshakeMs: 0, rxBytes: 0, txBytes: 0, persistentKeepaliveSeconds: 0, allowedIps: [], hasPresharedKey: true },
      ],
    });
  });

  it('accepts the device attributes again on a later page (when the first peer overflowed the first page)', () => {
    const state = decodeDeviceDump([
      payload(`${DEVICE_BASE}  ${IFNAME_ATTR}  6000 0880  ${peerEntry('b2')}`),
      payload(`${DEVICE_BASE}  ${IFNAME_ATTR}  2c00 0880  2800 0080  2400 0100 ${K.b2}`), // b2 continued, no allowed IPs left
    ], { ifname: IFNAME });
    assert.equal(state.peers.length, 1);
    assert.throws(
      () => decodeDeviceDump([payload(DEVICE_BASE), payload(`${GENL_GET}  0600 0600 9511 0000`)]),
      /says the device's listenPort is 4501, an earlier message said 4500/,
    );
  });

  it('the minimal reply the malformed cases start from decodes', () => {
    assert.deepEqual(decodeDeviceDump([payload(DEVICE_BASE)]), { listenPort: 4500, fwmark: 0, peers: [] });
  });

  it('skips unknown attributes and UNSPEC padding at every level', () => {
    const state = decodeDeviceDump([payload(`
      ${DEVICE_BASE}
      0800 7f00 deadbeef                 # device attribute type 127: unknown, skipped
      9000 0880                          # PEERS, length 144
        8c00 0080                        #   peer entry, length 140
          2400 0100 ${K.b2}              #     PUBLIC_KEY
          0800 3300 01020304             #     peer attribute type 51: unknown, skipped
          0400 0000                      #     UNSPEC padding (as nla_put_u64_64bit adds on some architectures)
          0c00 0700 0500000000000000     #     RX_BYTES 5
          1400 0600 ${'00'.repeat(16)}   #     LAST_HANDSHAKE_TIME never
          0600 0500 0000 0000            #     KEEPALIVE 0
          0c00 0800 0600000000000000     #     TX_BYTES 6
          2400 0980                      #     ALLOWEDIPS, length 36
            2000 0080                    #       entry, length 32
              0500 0300 20 000000        #         CIDR_MASK 32
              0600 0100 0200 0000        #         FAMILY AF_INET
              0800 0200 c0a80101         #         IPADDR 192.168.1.1
              0400 0400                  #         type 4 (WGALLOWEDIP_A_FLAGS on newer kernels), empty: skipped
    `)]);
    assert.deepEqual(state.peers, [{ publicKey: PEER1, lastHandshakeMs: 0, rxBytes: 5, txBytes: 6, persistentKeepaliveSeconds: 0, allowedIps: ['192.168.1.1/32'], hasPresharedKey: false }]);
  });

  it('decodes IPv6 endpoints and allowed IPs another tool configured', () => {
    const state = decodeDeviceDump([payload(`
      ${DEVICE_BASE}
      ac00 0880                          # PEERS, length 172
        a800 0080                        #   peer entry, length 168
          2400 0100 ${K.b2}              #     PUBLIC_KEY
          ${PEER_STATS}
          2000 0400                      #     ENDPOINT, length 32: struct sockaddr_in6
            0a00 1194 00000000           #       AF_INET6 (10), port 4500 network order, flowinfo
            20010db8000000000000000000000001  # sin6_addr 2001:db8::1
            00000000                     #       scope id
          2c00 0980                      #     ALLOWEDIPS, length 44
            2800 0080                    #       entry, length 40
              0500 0300 40 000000        #         CIDR_MASK 64
              0600 0100 0a00 0000        #         FAMILY AF_INET6
              1400 0200 fd000000000000010000000000000000  # IPADDR fd00:0:0:1::
    `)]);
    assert.equal(state.peers[0]!.endpoint, '[2001:db8::1]:4500');
    assert.deepEqual(state.peers[0]!.allowedIps, ['fd00:0:0:1::/64']);
  });

  const refusals: [string, NetlinkMessage[], RegExp][] = [
    ['a truncated attribute', [payload(`${GENL_GET}  0600 0600 9411 0000  0800 0700 0000`)], /\(type 7\) of 8 bytes at byte 8 that overruns its container \(6 bytes left\)/],
    ['a u16 of the wrong length', [payload(`${GENL_GET}  0800 0600 94110000  0800 0700 00000000`)], /WGDEVICE_A_LISTEN_PORT is 4 bytes, expected 2/],
    ['a u64 of the wrong length', [payload(`${DEVICE_BASE}  3c00 0880  3800 0080  2400 0100 ${K.b2}  0800 0700 05000000  0800 0800 06000000`)], /peer entry 1: WGPEER_A_RX_BYTES is 4 bytes, expected 8/],
    ['a nested attribute overrunning its parent', [payload(`${DEVICE_BASE}  3000 0880  4000 0080  2400 0100 ${K.b2}  0800 0300`)], /WGDEVICE_A_PEERS: .*of 64 bytes at byte 0 that overruns its container \(44 bytes left\)/],
    ['an attribute overrunning the message', [payload(`${DEVICE_BASE}  6000 0880  ${peerEntry('b2').slice(0, 20)}`)], /overruns its container/],
    ['an attribute shorter than its header', [payload(`${DEVICE_BASE}  0200 0100`)], /length 2 at byte 16, shorter than its own header/],
    ['stray bytes after the last attribute', [payload(`${DEVICE_BASE}  0000`)], /ends with 2 stray byte\(s\)/],
    ['a peer without a public key', [payload(`${DEVICE_BASE}  3c00 0880  3800 0080  ${PEER_STATS}`)], /peer entry 1: has no WGPEER_A_PUBLIC_KEY/],
    ['a short public key', [payload(`${DEVICE_BASE}  1c00 0880  1800 0080  1400 0100 ${'b2'.repeat(16)}`)], /WGPEER_A_PUBLIC_KEY is 16 bytes, expected 32/],
    ['a peer repeated, not adjacently', [payload(`${DEVICE_BASE}  1801 0880  ${peerEntry('b2')}  ${peerEntry('d4')}  ${peerEntry('b2')}`)], /peer entry 3: repeats peer srKy/],
    ['a peer whose first part is missing', [payload(`${DEVICE_BASE}  2c00 0880  2800 0080  2400 0100 ${K.b2}`)], /without its handshake time, counters and keepalive/],
    ['an allowed IP with a 16-byte IPv4 address', [payload(`${DEVICE_BASE}  8c00 0880  8800 0080  2400 0100 ${K.b2}  ${PEER_STATS}  2c00 0980  2800 0080  0500 0300 18 000000  0600 0100 0200 0000  1400 0200 ${'0a'.repeat(16)}`)], /family 2 with a 16-byte address/],
    ['an allowed IP without its mask', [payload(`${DEVICE_BASE}  7800 0880  7400 0080  2400 0100 ${K.b2}  ${PEER_STATS}  1800 0980  1400 0080  0600 0100 0200 0000  0800 0200 0a000000`)], /allowed IP 1: lacks one of/],
    ['an IPv4 prefix longer than 32', [payload(`${DEVICE_BASE}  8000 0880  7c00 0080  2400 0100 ${K.b2}  ${PEER_STATS}  2000 0980  1c00 0080  0500 0300 21 000000  0600 0100 0200 0000  0800 0200 0a000000`)], /prefix length 33, not a valid/],
    ['an endpoint of an unknown family', [payload(`${DEVICE_BASE}  7400 0880  7000 0080  2400 0100 ${K.b2}  ${PEER_STATS}  1400 0400 0100 1194 c6120002 0000000000000000`)], /address family 1 in 16 bytes/],
    ['a sockaddr_in of the wrong length', [payload(`${DEVICE_BASE}  6c00 0880  6800 0080  2400 0100 ${K.b2}  ${PEER_STATS}  0c00 0400 0200 1194 c6120002`)], /address family 2 in 8 bytes/],
    ['nanoseconds of a second or more', [payload(`${DEVICE_BASE}  6000 0880  5c00 0080  2400 0100 ${K.b2}  1400 0600 0100000000000000 00ca9a3b00000000  0600 0500 0000 0000  0c00 0800 ${'00'.repeat(8)}  0c00 0700 ${'00'.repeat(8)}`)], /LAST_HANDSHAKE_TIME is 1 s 1000000000 ns/],
    ['a byte counter beyond 2^53', [payload(`${DEVICE_BASE}  6000 0880  5c00 0080  2400 0100 ${K.b2}  1400 0600 ${'00'.repeat(16)}  0600 0500 0000 0000  0c00 0800 0000000000002000  0c00 0700 ${'00'.repeat(8)}`)], /WGPEER_A_TX_BYTES 9007199254740992 is beyond 2\^53/],
    ['an interface name without NUL', [payload(`${DEVICE_BASE}  0800 0200 776730ff`)], /WGDEVICE_A_IFNAME is not NUL-terminated/],
    ['another device', [payload(`${DEVICE_BASE}  0800 0200 77673000`)], /is about device "wg0", asked for "submariner"/],
    ['no listen port', [payload(`${GENL_GET}  0800 0700 00000000`)], /has no WGDEVICE_A_LISTEN_PORT/],
    ['no fwmark', [payload(`${GENL_GET}  0600 0600 9411 0000`)], /has no WGDEVICE_A_FWMARK/],
    ['no message at all', [], /has no message/],
    ['another command', [payload(`01 01 0000  0600 0600 9411 0000  0800 0700 00000000`)], /has command 1, expected WG_CMD_GET_DEVICE/],
    ['a header cut short', [payload('00 01')], /shorter than the generic netlink header/],
    ['another family', [{ type: 31, flags: 2, seq: 1, payload: hex(DEVICE_BASE) }], /has type 31, expected the wireguard family 30/],
  ];
  for (const [name, messages, error] of refusals) {
    it(`refuses ${name} with a clear error`, () => {
      assert.throws(() => decodeDeviceDump(messages, { familyId: FAMILY, ifname: IFNAME }), (e: unknown) => {
        assert.ok(e instanceof Error);
        assert.match(e.message, /^malformed WireGuard GET_DEVICE reply/);
        assert.match(e.message, error);
        return true;
      });
    });
  }
});

// ---------------------------------------------------------------------------------------------
// kernel-control over the real request connection and a scripted socket
// ---------------------------------------------------------------------------------------------

const EINVAL = 22;
const ENODEV = 19;

/** The kernel's answer to a refused request: struct nlmsgerr with -EINVAL, echoing the request (SET_REMOVE, seq 2). */
const EINVAL_FOR_SET_REMOVE = hex(`
  6c000000   # nlmsg_len 108 = 16 + 4 + the 88-byte request echoed
  0200       # NLMSG_ERROR
  0000       # flags: none (the request is echoed whole, not capped)
  02000000   # seq 2: the request's
  34120000   # the port id of the socket it answers
  eaffffff   # error -22 (-EINVAL), s32
  58000000 1e00 0500 02000000 00000000     # the request's nlmsghdr as sent: length 88, wireguard, REQUEST|ACK, seq 2
  ${SET_REMOVE.subarray(16).toString('hex')}  # and its payload (the removal fixture's)
`);

interface Scripted {
  control: ReturnType<typeof kernelWireguardControl>;
  /** Every datagram sent, as the bytes that went to the socket. */
  sent: Buffer[];
  connection: NetlinkConnection;
}

/**
 * A control on a NetlinkConnection whose socket answers each datagram with `answer` (given the
 * request's first message); the answers are written with the request's sequence number.
 */
function scripted(answer: (request: NetlinkMessage, index: number) => Buffer | undefined, setMessageBytes?: number): Scripted {
  const sent: Buffer[] = [];
  const socketFactory = (): NetlinkSocket => {
    const socket = new FakeNetlinkSocket();
    const send = socket.send.bind(socket);
    socket.send = (data, options, callback) => {
      sent.push(Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data));
      send(data, options, callback);
    };
    socket.onSend = (messages, s) => {
      const reply = answer(messages[0]!, sent.length - 1);
      if (reply) s.reply(withSeq(reply, messages[0]!.seq));
    };
    return socket;
  };
  const connection = new NetlinkConnection({ socketFactory, timeoutMs: 2000, warn: () => {} });
  const options = setMessageBytes === undefined ? {} : { setMessageBytes };
  return { control: kernelWireguardControl({ ifname: IFNAME, transport: connection, ...options }), sent, connection };
}

const isLookup = (m: NetlinkMessage): boolean => m.type === 0x10;
const ack = (seq = 0): Buffer => errorReply(seq, 0);

describe('kernelWireguardControl', () => {
  it('says it is the kernel implementation and refuses a bad interface name at once', () => {
    const { control, connection } = scripted(() => undefined);
    assert.equal(control.implementation, 'kernel');
    assert.throws(() => kernelWireguardControl({ ifname: 'not/valid', transport: connection }), /not a valid interface name/);
    connection.close();
  });

  it('set() looks the family up, then sends exactly the SET_DEVICE message', async () => {
    const { control, sent, connection } = scripted((m) => (isLookup(m) ? FAMILY_LOOKUP_REPLY : ack()));
    await control.set(SET_FULL_CHANGE);
    assert.deepEqual(sent, [FAMILY_LOOKUP_REQUEST, SET_FULL]);
    connection.close();
  });

  it('get() dumps the device and returns its state; the family id is looked up once', async () => {
    const { control, sent, connection } = scripted((m) => (isLookup(m) ? FAMILY_LOOKUP_REPLY : GET_REPLY_TWO_PEERS));
    assert.deepEqual(await control.get(), TWO_PEERS_STATE);
    assert.deepEqual(await control.get(), TWO_PEERS_STATE);
    assert.deepEqual(sent, [FAMILY_LOOKUP_REQUEST, withSeq(GET_REQUEST, 2), withSeq(GET_REQUEST, 3)]);
    connection.close();
  });

  it('a netlink error reply (nlmsgerr -EINVAL) rejects naming the errno and the device', async () => {
    const { control, sent, connection } = scripted((m) => (isLookup(m) ? FAMILY_LOOKUP_REPLY : EINVAL_FOR_SET_REMOVE));
    const error = await control.set(SET_REMOVE_CHANGE).then(() => assert.fail('resolved'), (e: unknown) => e);
    assert.ok(error instanceof NetlinkError, String(error));
    assert.equal(error.errno, EINVAL);
    assert.equal(error.code, 'EINVAL');
    assert.equal(error.message, 'set wireguard device submariner: EINVAL');
    assert.deepEqual(sent, [FAMILY_LOOKUP_REQUEST, withSeq(SET_REMOVE, 2)]);
    connection.close();
  });

  it('a split change stops at the first refused message and says which', async () => {
    const ips = Array.from({ length: 40 }, (_, i) => `10.0.${i}.0/24`);
    const { control, sent, connection } = scripted((m, index) => {
      if (isLookup(m)) return FAMILY_LOOKUP_REPLY;
      return index === 2 ? errorReply(0, ENODEV) : ack(); // the second SET_DEVICE message is refused
    }, 512);
    const requests = encodeSetDevice(FAMILY, IFNAME, { peers: [{ publicKey: PEER1, allowedIps: ips }] }, 512);
    assert.ok(requests.length >= 3, 'the change needs at least three messages');
    const error = await control.set({ peers: [{ publicKey: PEER1, allowedIps: ips }] }).then(() => assert.fail('resolved'), (e: unknown) => e);
    assert.ok(error instanceof NetlinkError);
    assert.equal(error.code, 'ENODEV');
    assert.match(error.message, new RegExp(`\\(message 2 of ${requests.length}; the ones before it were applied\\): ENODEV$`));
    assert.equal(sent.length, 3, 'the lookup and two SET_DEVICE messages; nothing after the refusal');
    connection.close();
  });

  it('a kernel without the wireguard family: a clear error, and the lookup is tried again next time', async () => {
    let registered = false;
    const { control, sent, connection } = scripted((m) => {
      if (isLookup(m)) return registered ? FAMILY_LOOKUP_REPLY : FAMILY_LOOKUP_REPLY_WITHOUT_WIREGUARD;
      return GET_REPLY_TWO_PEERS;
    });
    const error = await control.get().then(() => assert.fail('resolved'), (e: unknown) => e);
    assert.ok(error instanceof WireguardFamilyMissingError);
    assert.match(error.message, /no generic netlink family "wireguard": the WireGuard module is not loaded/);
    registered = true;
    assert.deepEqual(await control.get(), TWO_PEERS_STATE);
    assert.equal(sent.filter((d) => d.readUInt16LE(4) === 0x10).length, 2, 'looked up again after the failure');
    connection.close();
  });

  it('get() of a missing device rejects naming ENODEV; a malformed reply rejects as malformed', async () => {
    let malformedReply = false;
    const { control, connection } = scripted((m) => {
      if (isLookup(m)) return FAMILY_LOOKUP_REPLY;
      if (!malformedReply) return errorReply(0, ENODEV);
      return Buffer.concat([encodeMessage(FAMILY, 2, 0, [hex(`${GENL_GET}  0800 0700 0000`)]), hex('14000000 0300 0200 00000000 00000000 00000000')]);
    });
    await assert.rejects(control.get(), /^Error: get wireguard device submariner: .*ENODEV$/);
    malformedReply = true;
    await assert.rejects(control.get(), /malformed WireGuard GET_DEVICE reply, message 1 of 1: has an attribute \(type 7\) of 8 bytes at byte 0 that overruns its container \(6 bytes left\)/);
    connection.close();
  });
});
