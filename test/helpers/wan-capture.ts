import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { requireTools } from './prereq.ts';
import { within } from './wait.ts';
import { containsAddress, parseCidr, parseIpv4, type Cidr } from '../../src/model/cidr.ts';

/**
 * A packet capture on a WAN link and the check that matters for an encrypted tunnel: no packet
 * crossing it carries a pod address in its (outer) IPv4 header.
 */

export interface WanCapture {
  file: string;
  pid: number;
  /** Ends tcpdump (SIGINT by pid, SIGKILL past a deadline) and waits until it has flushed and exited. */
  stop(): Promise<void>;
}

/** Starts `tcpdump -i <iface> -n -U --immediate-mode -Z root -w <file>` inside the namespace and waits until it is listening. */
export async function startWanCapture(ns: string, iface: string, file: string): Promise<WanCapture> {
  requireTools('ip', 'tcpdump');
  // -Z root: Debian's tcpdump otherwise drops to user tcpdump, which may not write in a private temp dir.
  // --immediate-mode: with the kernel's buffered ring (TPACKET_V3) a SIGINT soon after the traffic
  // ended here with "0 packets captured" although the filter had received them.
  const child = spawn('ip', ['netns', 'exec', ns, 'tcpdump', '-i', iface, '-n', '-U', '--immediate-mode', '-Z', 'root', '-w', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  const exited = new Promise<number | null>((resolve) => {
    child.once('close', (code) => resolve(code));
    child.once('error', (error) => { stderr += error.message; resolve(null); });
  });
  const listening = new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
      if (stderr.includes('listening on')) resolve();
    });
    void exited.then((code) => reject(new Error(`tcpdump in ${ns} exited (${code}) before listening: ${stderr.trim()}`)));
  });
  const pid = child.pid;
  const kill = (signal: NodeJS.Signals) => {
    if (pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try { process.kill(pid, signal); } catch { /* already gone */ }
    }
  };
  try {
    await within(listening, 10_000, () => `tcpdump on ${iface} in ${ns} to report "listening on" (stderr: ${stderr.trim()})`);
  } catch (error) {
    kill('SIGKILL');
    await exited;
    throw error;
  }
  let stopping: Promise<void> | undefined;
  return {
    file,
    pid: pid!,
    stop() {
      stopping ??= (async () => {
        kill('SIGINT');
        try {
          await within(exited, 5000, 'tcpdump to exit after SIGINT');
        } catch {
          kill('SIGKILL');
          await within(exited, 2000, 'tcpdump to exit after SIGKILL');
        }
      })();
      return stopping;
    },
  };
}

/** What a packet on the WAN is, as far as one can tell from outside. */
export type PacketKind = 'ike' | 'esp-in-udp' | 'nat-keepalive' | 'esp' | 'other';

export interface CapturedPacket {
  /** 0-based position in the capture. */
  index: number;
  /** Capture time, epoch seconds. */
  time: number;
  /** Length on the wire. */
  length: number;
  /** Set for IPv4 packets only. */
  src?: string;
  dst?: string;
  /** IPv4 protocol number (1 ICMP, 6 TCP, 17 UDP, 50 ESP). */
  protocol?: number;
  srcPort?: number;
  dstPort?: number;
  kind: PacketKind;
  /**
   * An IPv4 packet carried in the clear inside this UDP packet's payload (VXLAN, GRE-in-UDP, a
   * tunnel that does not encrypt): the first embedded header whose checksum holds. Encrypted
   * payloads never show one (a valid checksum and version by chance is about 1 in 2^24 per offset).
   */
  inner?: { src: string; dst: string };
}

export interface CaptureTotals {
  /** IKE: UDP 500, or UDP 4500 with the non-ESP marker (four zero bytes). */
  ike: number;
  /** ESP in UDP 4500 (RFC 3948). */
  espInUdp: number;
  /** NAT-T keepalives (UDP 4500, the single byte 0xff). */
  natKeepalive: number;
  /** Raw ESP, IP protocol 50. */
  esp: number;
  /** Everything else: plain IPv4 traffic, ARP, IPv6. */
  other: number;
  total: number;
}

export interface CleartextReport {
  /** Packets whose IPv4 source or destination lies in one of the given CIDRs, in their header or in a cleartext packet they carry. */
  hits: CapturedPacket[];
  totals: CaptureTotals;
}

const LINKTYPE_ETHERNET = 1;
const LINKTYPE_RAW = 101;
const LINKTYPE_LINUX_SLL = 113;
const LINKTYPE_IPV4 = 228;
const LINKTYPE_LINUX_SLL2 = 276;

/**
 * Parses a classic pcap file (any byte order, micro- or nanosecond timestamps) with Ethernet,
 * Linux cooked (v1, v2) or raw IP link types. pcapng is not supported: tcpdump -w writes pcap.
 */
export function parsePcap(data: Uint8Array): CapturedPacket[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (data.byteLength < 24) throw new Error(`not a pcap file: ${data.byteLength} bytes, shorter than the 24-byte header`);
  const magicBE = view.getUint32(0, false);
  let little: boolean;
  let nanos: boolean;
  if (magicBE === 0xa1b2c3d4 || magicBE === 0xa1b23c4d) { little = false; nanos = magicBE === 0xa1b23c4d; }
  else if (magicBE === 0xd4c3b2a1 || magicBE === 0x4d3cb2a1) { little = true; nanos = magicBE === 0x4d3cb2a1; }
  else throw new Error(`not a pcap file (magic 0x${magicBE.toString(16)}; pcapng is not supported)`);
  const linkType = view.getUint32(20, little) & 0x0fffffff;
  const packets: CapturedPacket[] = [];
  let offset = 24;
  while (offset + 16 <= data.byteLength) {
    const seconds = view.getUint32(offset, little);
    const fraction = view.getUint32(offset + 4, little);
    const captured = view.getUint32(offset + 8, little);
    const length = view.getUint32(offset + 12, little);
    const start = offset + 16;
    if (start + captured > data.byteLength) break; // truncated last record (capture still being written)
    const frame = data.subarray(start, start + captured);
    offset = start + captured;
    const packet: CapturedPacket = { index: packets.length, time: seconds + fraction / (nanos ? 1e9 : 1e6), length, kind: 'other' };
    const ip = ipv4Payload(frame, linkType);
    if (ip) decodeIpv4(ip, packet);
    packets.push(packet);
  }
  return packets;
}

/** Where the IPv4 header starts in a frame of the given link type, or undefined when it is not IPv4. */
function ipv4Payload(frame: Uint8Array, linkType: number): Uint8Array | undefined {
  const u16 = (at: number) => (frame[at]! << 8) | frame[at + 1]!;
  switch (linkType) {
    case LINKTYPE_ETHERNET: {
      let at = 12;
      if (frame.length < 14) return undefined;
      let etherType = u16(at);
      while ((etherType === 0x8100 || etherType === 0x88a8) && frame.length >= at + 6) { at += 4; etherType = u16(at); }
      return etherType === 0x0800 ? frame.subarray(at + 2) : undefined;
    }
    case LINKTYPE_LINUX_SLL:
      return frame.length >= 16 && u16(14) === 0x0800 ? frame.subarray(16) : undefined;
    case LINKTYPE_LINUX_SLL2:
      return frame.length >= 20 && u16(0) === 0x0800 ? frame.subarray(20) : undefined;
    case LINKTYPE_RAW:
    case LINKTYPE_IPV4:
      return frame.length >= 1 && frame[0]! >> 4 === 4 ? frame : undefined;
    default:
      return undefined;
  }
}

function decodeIpv4(ip: Uint8Array, packet: CapturedPacket): void {
  if (ip.length < 20 || ip[0]! >> 4 !== 4) return;
  const headerLength = (ip[0]! & 0x0f) * 4;
  packet.protocol = ip[9]!;
  packet.src = `${ip[12]}.${ip[13]}.${ip[14]}.${ip[15]}`;
  packet.dst = `${ip[16]}.${ip[17]}.${ip[18]}.${ip[19]}`;
  const fragmentOffset = ((ip[6]! & 0x1f) << 8) | ip[7]!;
  if (packet.protocol === 50) { packet.kind = 'esp'; return; }
  if (packet.protocol !== 17 || fragmentOffset !== 0 || ip.length < headerLength + 8) return;
  const udp = ip.subarray(headerLength);
  packet.srcPort = (udp[0]! << 8) | udp[1]!;
  packet.dstPort = (udp[2]! << 8) | udp[3]!;
  const payload = udp.subarray(8);
  const inner = embeddedIpv4(payload);
  if (inner) packet.inner = inner;
  if (packet.srcPort === 500 || packet.dstPort === 500) { packet.kind = 'ike'; return; }
  if (packet.srcPort === 4500 || packet.dstPort === 4500) {
    if (payload.length === 1 && payload[0] === 0xff) packet.kind = 'nat-keepalive';
    else if (payload.length >= 4 && payload[0] === 0 && payload[1] === 0 && payload[2] === 0 && payload[3] === 0) packet.kind = 'ike';
    else if (payload.length >= 8) packet.kind = 'esp-in-udp';
  }
}

/** The addresses of the first well-formed IPv4 header (version 4, IHL 5, plausible length, valid checksum) inside a payload. */
function embeddedIpv4(payload: Uint8Array): { src: string; dst: string } | undefined {
  for (let at = 0; at + 20 <= payload.length; at++) {
    if (payload[at] !== 0x45) continue;
    const total = (payload[at + 2]! << 8) | payload[at + 3]!;
    if (total < 20 || at + total > payload.length) continue;
    let sum = 0;
    for (let i = 0; i < 20; i += 2) sum += (payload[at + i]! << 8) | payload[at + i + 1]!;
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    if (sum !== 0xffff) continue;
    const address = (from: number) => `${payload[from]}.${payload[from + 1]}.${payload[from + 2]}.${payload[from + 3]}`;
    return { src: address(at + 12), dst: address(at + 16) };
  }
  return undefined;
}

/** The CIDR texts as model/cidr.ts parses them; a text that is none is a mistake in the test, not input to skip. */
function cidrsOf(texts: readonly string[]): Cidr[] {
  return texts.map((text) => {
    const parsed = parseCidr(text);
    if (!parsed.ok) throw new Error(parsed.message);
    return parsed.cidr;
  });
}

const inRanges = (address: string, ranges: readonly Cidr[]): boolean => {
  const parsed = parseIpv4(address);
  if (!parsed.ok) throw new Error(parsed.message);
  return ranges.some((cidr) => containsAddress(cidr, parsed.address));
};

export const ipv4InCidrs = (address: string, cidrs: readonly string[]): boolean => inRanges(address, cidrsOf(cidrs));

/** Classifies packets: those with a pod address in the clear, and totals by kind. */
export function findCleartext(packets: readonly CapturedPacket[], cidrs: readonly string[]): CleartextReport {
  const totals: CaptureTotals = { ike: 0, espInUdp: 0, natKeepalive: 0, esp: 0, other: 0, total: packets.length };
  const hits: CapturedPacket[] = [];
  const ranges = cidrsOf(cidrs);
  for (const packet of packets) {
    if (packet.kind === 'ike') totals.ike++;
    else if (packet.kind === 'esp-in-udp') totals.espInUdp++;
    else if (packet.kind === 'nat-keepalive') totals.natKeepalive++;
    else if (packet.kind === 'esp') totals.esp++;
    else totals.other++;
    const addresses = [packet.src, packet.dst, packet.inner?.src, packet.inner?.dst].filter((a): a is string => a !== undefined);
    if (addresses.some((a) => inRanges(a, ranges))) hits.push(packet);
  }
  return { hits, totals };
}

/** Reads a pcap written by startWanCapture and reports every packet with a source or destination in cidrs. */
export async function cleartextHits(file: string, cidrs: readonly string[]): Promise<CleartextReport> {
  return findCleartext(parsePcap(await readFile(file)), cidrs);
}

/** One line per packet, for assertion messages. */
export function describePackets(packets: readonly CapturedPacket[], limit = 10): string {
  const lines = packets.slice(0, limit).map((p) =>
    `#${p.index} ${p.kind} ${p.src ?? '?'}${p.srcPort !== undefined ? `:${p.srcPort}` : ''} > ${p.dst ?? '?'}${p.dstPort !== undefined ? `:${p.dstPort}` : ''} proto ${p.protocol ?? '-'} len ${p.length}${p.inner ? ` carrying ${p.inner.src} > ${p.inner.dst}` : ''}`);
  if (packets.length > limit) lines.push(`... and ${packets.length - limit} more`);
  return lines.join('\n');
}
