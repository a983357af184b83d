/**
 * Netlink wire format: message headers, attributes (TLVs) and the address helpers rtnetlink needs.
 * Host byte order is little-endian on every platform seaway targets (x64, arm64); checked at load.
 */
import { endianness } from 'node:os';
import { networkOf, prefixLengthOf, scanIpv4 } from '../../model/cidr.ts';

if (endianness() !== 'LE') throw new Error('seaway netlink codec supports little-endian hosts only');

/** Netlink protocol families (socket(AF_NETLINK, SOCK_RAW, protocol)) seaway opens. */
export const NETLINK_ROUTE = 0;
export const NETLINK_NETFILTER = 12;

export const NLMSG_HDRLEN = 16;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_DUMP = 0x300;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const NLM_F_APPEND = 0x800;

export const NLA_F_NESTED = 0x8000;
export const NLA_TYPE_MASK = 0x3fff;

export interface NetlinkMessage {
  type: number;
  flags: number;
  seq: number;
  /** The message payload after the 16-byte header. */
  payload: Buffer;
}

export const align4 = (n: number): number => (n + 3) & ~3;

/** Encodes one attribute; `value` may itself be encoded attributes (pass nested=true). */
export function attr(type: number, value: Buffer, nested = false): Buffer {
  const len = 4 + value.length;
  // The length is 16 bits on the wire: a bigger value would wrap to a wrong one, not fail.
  if (len > 0xffff) throw new RangeError(`a netlink attribute of ${value.length} bytes is more than its 16-bit length can say`);
  const out = Buffer.alloc(align4(len));
  putU16(out, 0, len);
  putU16(out, 2, nested ? type | NLA_F_NESTED : type);
  value.copy(out, 4);
  return out;
}

/*
 * Integers stored and loaded byte by byte. Buffer's writeUInt32LE and readUInt16LE check their
 * arguments through wrappers that allocate on every call: on a cold pass of 10,000 routes, before
 * V8 optimises them, that was 10 MiB of garbage and 25 ms. The caller keeps offsets in bounds
 * (every encoder sizes its buffer first; every decoder checks the length before it reads).
 */
export function putU16(out: Uint8Array, at: number, value: number): void {
  out[at] = value & 0xff;
  out[at + 1] = (value >>> 8) & 0xff;
}

export function putU32(out: Uint8Array, at: number, value: number): void {
  out[at] = value & 0xff;
  out[at + 1] = (value >>> 8) & 0xff;
  out[at + 2] = (value >>> 16) & 0xff;
  out[at + 3] = (value >>> 24) & 0xff;
}

/** Network byte order, as addresses go on the wire. */
export function putU32be(out: Uint8Array, at: number, value: number): void {
  out[at] = (value >>> 24) & 0xff;
  out[at + 1] = (value >>> 16) & 0xff;
  out[at + 2] = (value >>> 8) & 0xff;
  out[at + 3] = value & 0xff;
}

export const getU16 = (buf: Uint8Array, at: number): number => buf[at]! | (buf[at + 1]! << 8);
export const getU32 = (buf: Uint8Array, at: number): number => getI32(buf, at) >>> 0;
export const getI32 = (buf: Uint8Array, at: number): number => buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16) | (buf[at + 3]! << 24);

export const u8 = (v: number): Buffer => Buffer.from([v & 0xff]);
export function u16be(v: number): Buffer { const b = Buffer.alloc(2); b.writeUInt16BE(v); return b; }
export function u32be(v: number): Buffer { const b = Buffer.alloc(4); putU32be(b, 0, v); return b; }
export function u32(v: number): Buffer { const b = Buffer.alloc(4); putU32(b, 0, v); return b; }
export const cstring = (s: string): Buffer => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.alloc(1)]);
/** A NUL-terminated string attribute's text (all of it when no NUL is there). */
export const readCstring = (buf: Buffer): string => buf.toString('utf8', 0, buf.indexOf(0) === -1 ? buf.length : buf.indexOf(0));

/** The body of a dump request: the kind's fixed header, zero but for its address family. */
export function dumpRequest(headerLength: number, family: number): Buffer[] {
  const header = Buffer.alloc(headerLength);
  header[0] = family;
  return [header];
}

/** Builds a complete message (header + fixed struct + attributes). */
export function encodeMessage(type: number, flags: number, seq: number, body: readonly Buffer[]): Buffer {
  const out = Buffer.alloc(messageLength(body));
  writeMessage(out, 0, type, flags, seq, body);
  return out;
}

/** The bytes a message of this body takes, padding included. */
export function messageLength(body: readonly Buffer[]): number {
  let length = 0;
  for (let i = 0; i < body.length; i++) length += body[i]!.length;
  return NLMSG_HDRLEN + align4(length);
}

/**
 * Writes a message at `at` of `out` (zeroed, messageLength(body) bytes free there) and returns
 * where the next one goes: a batch of thousands is written into one buffer, not one each and a copy.
 */
export function writeMessage(out: Buffer, at: number, type: number, flags: number, seq: number, body: readonly Buffer[]): number {
  let length = NLMSG_HDRLEN;
  for (let i = 0; i < body.length; i++) length += body[i]!.copy(out, at + length);
  putU32(out, at, length);
  putU16(out, at + 4, type);
  putU16(out, at + 6, flags);
  putU32(out, at + 8, seq);
  putU32(out, at + 12, 0);
  return at + align4(length);
}

/**
 * Splits a datagram into messages; stops at a truncated or malformed trailer instead of throwing,
 * and reports it through onMalformed (the offset where decoding stopped): a request connection
 * must treat the replies in it as lost rather than wait for them.
 */
export function decodeMessages(datagram: Buffer, onMalformed?: (offset: number) => void): NetlinkMessage[] {
  const messages: NetlinkMessage[] = [];
  let offset = 0;
  while (offset + NLMSG_HDRLEN <= datagram.length) {
    const len = getU32(datagram, offset);
    if (len < NLMSG_HDRLEN || offset + len > datagram.length) break;
    messages.push({
      type: getU16(datagram, offset + 4),
      flags: getU16(datagram, offset + 6),
      seq: getU32(datagram, offset + 8),
      payload: datagram.subarray(offset + NLMSG_HDRLEN, offset + len),
    });
    offset += align4(len);
  }
  // Kernel messages are 4-byte aligned, so anything shorter than a header left over is padding at most.
  if (offset < datagram.length && datagram.length - offset >= 4) onMalformed?.(offset);
  return messages;
}

/** Attributes by type (the last one wins for repeated types, which rtnetlink does not send). */
export function decodeAttributes(buf: Buffer, offset = 0): Map<number, Buffer> {
  const attrs = new Map<number, Buffer>();
  while (offset + 4 <= buf.length) {
    const len = getU16(buf, offset);
    if (len < 4 || offset + len > buf.length) break;
    attrs.set(getU16(buf, offset + 2) & NLA_TYPE_MASK, buf.subarray(offset + 4, offset + len));
    offset += align4(len);
  }
  return attrs;
}

export interface NetlinkErrorPayload {
  /** 0 for an acknowledgement, otherwise a positive errno. */
  errno: number;
  /** Sequence number of the request this answers. */
  requestSeq: number;
  requestType: number;
}

/** The errno as a positive number (0 - x: an acknowledgement reads 0, not -0). */
export function decodeError(payload: Buffer): NetlinkErrorPayload {
  if (payload.length < 4 + NLMSG_HDRLEN) return { errno: payload.length >= 4 ? 0 - getI32(payload, 0) : 0, requestSeq: 0, requestType: 0 };
  return { errno: 0 - getI32(payload, 0), requestType: getU16(payload, 4 + 4), requestSeq: getU32(payload, 4 + 8) };
}

/**
 * Writes a dotted-quad IPv4 address as 4 bytes at offset, without allocating; throws on anything
 * else. model/cidr's strict parser, as for every address text in seaway: "010.0.0.1" is refused
 * rather than written as 10.0.0.1, which another tool could have read as 8.0.0.1. Decoding never
 * parses text (bufferToIpv4 prints the bytes), and what it prints always passes here.
 */
export function writeIpv4(ip: string, out: Buffer, offset: number): void {
  const address = scanIpv4(ip);
  if (address < 0) throw new Error(`not an IPv4 address: ${JSON.stringify(ip)}`);
  putU32be(out, offset, address);
}

export function ipv4ToBuffer(ip: string): Buffer {
  const out = Buffer.allocUnsafe(4);
  writeIpv4(ip, out, 0);
  return out;
}

export const bufferToIpv4 = (buf: Uint8Array): string => ipv4At(buf, 0);

/** The dotted quad of the 4 bytes at `at`, read in place. */
export const ipv4At = (buf: Uint8Array, at: number): string => `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`;

/** `network` is the address as an unsigned 32-bit number, so the hot path does not scan the text again. */
export interface Ipv4Prefix { address: string; network: number; prefixLength: number }

/** Parses "a.b.c.d/n" (or a bare address as /32), strictly as model/cidr does. */
export function parseIpv4Prefix(cidr: string): Ipv4Prefix {
  const prefixLength = prefixLengthOf(cidr);
  const network = prefixLength < 0 ? -1 : networkOf(cidr);
  if (network < 0) throw notAnIpv4Prefix(cidr);
  const slash = cidr.indexOf('/');
  return { address: slash < 0 ? cidr : cidr.slice(0, slash), network, prefixLength };
}

export const notAnIpv4Prefix = (cidr: string): Error => new Error(`not an IPv4 prefix: ${JSON.stringify(cidr)}`);

/**
 * Builds a fixed struct followed by attributes in one buffer: the hot path (thousands of routes
 * per pass) allocates once per message body instead of once per attribute and value.
 */
export class AttributeWriter {
  readonly buffer: Buffer;
  #offset: number;

  /**
   * The fixed struct's bytes come first, zeroed for the caller to fill in `buffer`; then exactly
   * `attributeBytes` of attributes, each written whole. From Node's shared allocation pool: no
   * ArrayBuffer of its own for each of a first pass's 10,000 route requests.
   */
  constructor(headerLength: number, attributeBytes: number) {
    this.buffer = Buffer.allocUnsafe(headerLength + attributeBytes);
    for (let i = 0; i < headerLength; i++) this.buffer[i] = 0;
    this.#offset = headerLength;
  }

  u32(type: number, value: number): this {
    putU32(this.#header(type, 4), this.#offset + 4, value);
    this.#offset += 8;
    return this;
  }

  /** An IPv4 address already scanned (an unsigned 32-bit number), in network byte order. */
  ipv4Number(type: number, address: number): this {
    putU32be(this.#header(type, 4), this.#offset + 4, address);
    this.#offset += 8;
    return this;
  }

  ipv4(type: number, ip: string): this {
    writeIpv4(ip, this.#header(type, 4), this.#offset + 4);
    this.#offset += 8;
    return this;
  }

  #header(type: number, valueLength: number): Buffer {
    putU16(this.buffer, this.#offset, 4 + valueLength);
    putU16(this.buffer, this.#offset + 2, type);
    return this.buffer;
  }
}

export function macToBuffer(mac: string): Buffer {
  const parts = mac.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) throw new Error(`not a MAC address: ${JSON.stringify(mac)}`);
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

export function bufferToMac(buf: Buffer): string {
  return [...buf].map((b) => b.toString(16).padStart(2, '0')).join(':');
}
