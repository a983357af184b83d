/**
 * Submariner's NAT discovery message (UDP 4490), as plain types and a hand-written protobuf3 codec.
 *
 * The schema is Submariner's `pkg/natdiscovery/proto/natdiscovery.proto` (test/fixtures/natdiscovery.proto
 * restates it); field numbers:
 *
 *   SubmarinerNATDiscoveryMessage  { int32 version = 1; oneof message { Request request = 2; Response response = 3; } }
 *   SubmarinerNATDiscoveryRequest  { uint64 request_number = 1; EndpointDetails sender = 2; EndpointDetails receiver = 3;
 *                                    IPPortPair using_src = 4; IPPortPair using_dst = 5; }
 *   SubmarinerNATDiscoveryResponse { uint64 request_number = 1; ResponseType response = 2; EndpointDetails sender = 3;
 *                                    EndpointDetails receiver = 4; bool src_ip_nat_detected = 5; bool src_port_nat_detected = 6;
 *                                    bool dst_ip_nat_detected = 7; IPPortPair received_src = 8; }
 *   IPPortPair                     { string IP = 1; int32 port = 2; }   (uint32 in older releases: the same bytes for a port)
 *   EndpointDetails                { string cluster_id = 1; string endpoint_id = 2; }
 *   enum ResponseType              { OK = 0; NAT_DETECTED = 1; UNKNOWN_DST_CLUSTER = 2; UNKNOWN_DST_ENDPOINT = 3; MALFORMED = 4; }
 *
 * Why by hand: the message is five small types, it arrives unauthenticated on a public address, and a
 * decoder this size can be read in full and made to refuse hostile input (see decodeNatDiscoveryMessage)
 * instead of trusting a generic library's limits. The encoder writes what Go's proto.Marshal writes
 * (fields in number order, proto3 defaults left out, present sub-messages always written), so the
 * bytes are Submariner's own.
 */

/** Protocol version Submariner's requests carry (its responses leave it 0, and nobody checks it). */
export const NAT_DISCOVERY_VERSION = 1;
export const NAT_DISCOVERY_DEFAULT_PORT = 4490;
/** Submariner reads datagrams into a 2048-byte buffer: anything longer never parsed there, so it is refused here. */
export const NAT_DISCOVERY_MAX_DATAGRAM_BYTES = 2048;

/** ResponseType's values. An open enum (proto3): a decoded value outside these is kept as its number. */
export const ResponseType = {
  OK: 0,
  NAT_DETECTED: 1,
  UNKNOWN_DST_CLUSTER: 2,
  UNKNOWN_DST_ENDPOINT: 3,
  MALFORMED: 4,
} as const;

/** The enum's name for a value, or the number as text (for logs and status messages). */
export function responseTypeName(value: number): string {
  for (const [name, number] of Object.entries(ResponseType)) if (number === value) return name;
  return String(value);
}

export interface EndpointDetails {
  clusterId: string;
  /** The Endpoint's cable name. */
  endpointId: string;
}

export interface IpPortPair {
  ip: string;
  /** int32 on the wire. */
  port: number;
}

/** Sub-messages are optional: "absent" and "present but empty" differ (the responder answers MALFORMED to absent ones). */
export interface NatDiscoveryRequest {
  /** uint64. */
  requestNumber: bigint;
  sender?: EndpointDetails;
  receiver?: EndpointDetails;
  usingSrc?: IpPortPair;
  usingDst?: IpPortPair;
}

export interface NatDiscoveryResponse {
  requestNumber: bigint;
  /** A ResponseType value (int32). */
  response: number;
  sender?: EndpointDetails;
  receiver?: EndpointDetails;
  srcIpNatDetected: boolean;
  srcPortNatDetected: boolean;
  dstIpNatDetected: boolean;
  receivedSrc?: IpPortPair;
}

/** The oneof: a request, a response, or (valid on the wire, useless to both sides) neither. */
export type NatDiscoveryMessage =
  | { version: number; request: NatDiscoveryRequest; response?: undefined }
  | { version: number; response: NatDiscoveryResponse; request?: undefined }
  | { version: number; request?: undefined; response?: undefined };

export type NatDiscoveryDecodeResult =
  | { ok: true; message: NatDiscoveryMessage }
  | { ok: false; problem: 'oversized' | 'malformed'; reason: string };

// ---------------------------------------------------------------------------------------------
// Encoding

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_SGROUP = 3;
const WIRE_EGROUP = 4;
const WIRE_I32 = 5;

function varint(value: bigint): number[] {
  let rest = BigInt.asUintN(64, value);
  const out: number[] = [];
  while (rest >= 0x80n) {
    out.push(Number(rest & 0x7fn) | 0x80);
    rest >>= 7n;
  }
  out.push(Number(rest));
  return out;
}

/** Collects one message's fields; each put* leaves proto3 defaults out, as Go does. */
class FieldWriter {
  readonly #parts: Buffer[] = [];

  #tag(field: number, wire: number): number[] {
    return varint(BigInt((field << 3) | wire));
  }

  /** uint64 and (sign-extended to 64 bits, ten bytes when negative) int32 and enums. */
  varint(field: number, value: bigint): this {
    if (value !== 0n) this.#parts.push(Buffer.from([...this.#tag(field, WIRE_VARINT), ...varint(value)]));
    return this;
  }

  int32(field: number, value: number): this {
    return this.varint(field, BigInt(value | 0));
  }

  bool(field: number, value: boolean): this {
    return this.varint(field, value ? 1n : 0n);
  }

  string(field: number, value: string): this {
    return value === '' ? this : this.bytes(field, Buffer.from(value, 'utf8'));
  }

  /** A sub-message: written whenever present, even empty (presence is what the responder checks). */
  message(field: number, body: Buffer | undefined): this {
    return body === undefined ? this : this.bytes(field, body);
  }

  bytes(field: number, value: Buffer): this {
    this.#parts.push(Buffer.from([...this.#tag(field, WIRE_LEN), ...varint(BigInt(value.length))]), value);
    return this;
  }

  done(): Buffer {
    return Buffer.concat(this.#parts);
  }
}

const encodeDetails = (d: EndpointDetails | undefined): Buffer | undefined =>
  d && new FieldWriter().string(1, d.clusterId).string(2, d.endpointId).done();

const encodePair = (p: IpPortPair | undefined): Buffer | undefined =>
  p && new FieldWriter().string(1, p.ip).int32(2, p.port).done();

function encodeRequest(r: NatDiscoveryRequest): Buffer {
  return new FieldWriter()
    .varint(1, r.requestNumber)
    .message(2, encodeDetails(r.sender))
    .message(3, encodeDetails(r.receiver))
    .message(4, encodePair(r.usingSrc))
    .message(5, encodePair(r.usingDst))
    .done();
}

function encodeResponse(r: NatDiscoveryResponse): Buffer {
  return new FieldWriter()
    .varint(1, r.requestNumber)
    .int32(2, r.response)
    .message(3, encodeDetails(r.sender))
    .message(4, encodeDetails(r.receiver))
    .bool(5, r.srcIpNatDetected)
    .bool(6, r.srcPortNatDetected)
    .bool(7, r.dstIpNatDetected)
    .message(8, encodePair(r.receivedSrc))
    .done();
}

/**
 * The message's bytes. Out-of-range numbers are cut to their wire type as Go's conversions would
 * (request numbers modulo 2^64, ports and enums to int32), so this never throws.
 */
export function encodeNatDiscoveryMessage(message: NatDiscoveryMessage): Buffer {
  const writer = new FieldWriter().int32(1, message.version);
  if (message.request) writer.message(2, encodeRequest(message.request));
  else if (message.response) writer.message(3, encodeResponse(message.response));
  return writer.done();
}

// ---------------------------------------------------------------------------------------------
// Decoding

class Malformed extends Error {}

/**
 * How deep anything may nest: the message (1), its request or response (2), their EndpointDetails and
 * IPPortPair (3). Known fields cannot go deeper by construction; only unknown groups could, and a
 * group deeper than the schema is refused rather than followed (no recursion an attacker controls).
 */
const SCHEMA_DEPTH = 3;
const MAX_FIELD_NUMBER = 2 ** 29 - 1;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A window [pos, end) of the datagram being read. */
interface Cursor {
  readonly buf: Uint8Array;
  pos: number;
  readonly end: number;
}

function readVarint(c: Cursor): bigint {
  const start = c.pos;
  let value = 0n;
  for (let i = 0; i < 10; i++) {
    if (c.pos >= c.end) throw new Malformed(`truncated varint at offset ${start}`);
    const byte = c.buf[c.pos++]!;
    // The tenth byte may carry only the 64th bit (Go refuses the rest as an overflow, so do we).
    if (i === 9 && byte > 1) throw new Malformed(`varint at offset ${start} overflows 64 bits`);
    value |= BigInt(byte & 0x7f) << BigInt(7 * i);
    if ((byte & 0x80) === 0) return value;
  }
  throw new Malformed(`varint at offset ${start} overflows 64 bits`);
}

function readTag(c: Cursor): { field: number; wire: number; at: number } {
  const at = c.pos;
  const tag = readVarint(c);
  const field = tag >> 3n;
  if (field === 0n || field > BigInt(MAX_FIELD_NUMBER)) throw new Malformed(`invalid field number ${field} at offset ${at}`);
  return { field: Number(field), wire: Number(tag & 7n), at };
}

/** Steps over a length-delimited value; returns its window. */
function readLen(c: Cursor): Cursor {
  const at = c.pos;
  const length = readVarint(c);
  if (length > BigInt(c.end - c.pos)) throw new Malformed(`length ${length} at offset ${at} runs past the end of its message (${c.end - c.pos} bytes left)`);
  const window = { buf: c.buf, pos: c.pos, end: c.pos + Number(length) };
  c.pos = window.end;
  return window;
}

function skip(c: Cursor, bytes: number, what: string): void {
  if (c.end - c.pos < bytes) throw new Malformed(`truncated ${what} at offset ${c.pos}`);
  c.pos += bytes;
}

/** Skips an unknown field's value, per protobuf's rules for each wire type. */
function skipField(c: Cursor, field: number, wire: number, at: number, depth: number): void {
  switch (wire) {
    case WIRE_VARINT: readVarint(c); return;
    case WIRE_I64: skip(c, 8, 'fixed64'); return;
    case WIRE_LEN: readLen(c); return;
    case WIRE_I32: skip(c, 4, 'fixed32'); return;
    case WIRE_SGROUP: {
      if (depth + 1 > SCHEMA_DEPTH) throw new Malformed(`group at offset ${at} nests deeper than the schema`);
      for (;;) {
        if (c.pos >= c.end) throw new Malformed(`group ${field} at offset ${at} is not closed`);
        const inner = readTag(c);
        if (inner.wire === WIRE_EGROUP) {
          if (inner.field !== field) throw new Malformed(`group ${field} at offset ${at} closed by end-group ${inner.field}`);
          return;
        }
        skipField(c, inner.field, inner.wire, inner.at, depth + 1);
      }
    }
    case WIRE_EGROUP: throw new Malformed(`end-group ${field} at offset ${at} without its start`);
    default: throw new Malformed(`invalid wire type ${wire} at offset ${at}`);
  }
}

/**
 * Reads every field of one message: `known` takes the fields the schema has (returning false for
 * any other), the rest are skipped. A known field with the wrong wire type is refused. (Go's
 * decoder would skip it as unknown; nothing Submariner sends has one, so here it is a sign of a
 * forged or corrupt datagram.)
 */
function readFields(c: Cursor, depth: number, known: (field: number, wire: number, at: number) => boolean): void {
  while (c.pos < c.end) {
    const { field, wire, at } = readTag(c);
    if (!known(field, wire, at)) skipField(c, field, wire, at, depth);
  }
}

function expectWire(wire: number, expected: number, name: string, at: number): void {
  if (wire !== expected) throw new Malformed(`${name} at offset ${at} has wire type ${wire}, expected ${expected}`);
}

function readString(c: Cursor, wire: number, name: string, at: number): string {
  expectWire(wire, WIRE_LEN, name, at);
  const window = readLen(c);
  try {
    return utf8.decode(window.buf.subarray(window.pos, window.end));
  } catch {
    // proto3 strings must be UTF-8; Go refuses the message otherwise.
    throw new Malformed(`${name} at offset ${at} is not valid UTF-8`);
  }
}

function readNumber(c: Cursor, wire: number, name: string, at: number): bigint {
  expectWire(wire, WIRE_VARINT, name, at);
  return readVarint(c);
}

const int32 = (value: bigint): number => Number(BigInt.asIntN(32, value));

/** A sub-message field: its window, to be read into the existing value (a repeated occurrence merges, as protobuf says). */
function readMessage(c: Cursor, wire: number, name: string, at: number): Cursor {
  expectWire(wire, WIRE_LEN, name, at);
  return readLen(c);
}

function readDetails(c: Cursor, into: EndpointDetails, depth: number, name: string): EndpointDetails {
  readFields(c, depth, (field, wire, at) => {
    if (field === 1) into.clusterId = readString(c, wire, `${name}.cluster_id`, at);
    else if (field === 2) into.endpointId = readString(c, wire, `${name}.endpoint_id`, at);
    else return false;
    return true;
  });
  return into;
}

function readPair(c: Cursor, into: IpPortPair, depth: number, name: string): IpPortPair {
  readFields(c, depth, (field, wire, at) => {
    if (field === 1) into.ip = readString(c, wire, `${name}.IP`, at);
    else if (field === 2) into.port = int32(readNumber(c, wire, `${name}.port`, at));
    else return false;
    return true;
  });
  return into;
}

const noDetails = (): EndpointDetails => ({ clusterId: '', endpointId: '' });
const noPair = (): IpPortPair => ({ ip: '', port: 0 });

function readRequest(c: Cursor, into: NatDiscoveryRequest, depth: number): void {
  const sub = depth + 1;
  readFields(c, depth, (field, wire, at) => {
    switch (field) {
      case 1: into.requestNumber = readNumber(c, wire, 'request.request_number', at); break;
      case 2: into.sender = readDetails(readMessage(c, wire, 'request.sender', at), into.sender ?? noDetails(), sub, 'request.sender'); break;
      case 3: into.receiver = readDetails(readMessage(c, wire, 'request.receiver', at), into.receiver ?? noDetails(), sub, 'request.receiver'); break;
      case 4: into.usingSrc = readPair(readMessage(c, wire, 'request.using_src', at), into.usingSrc ?? noPair(), sub, 'request.using_src'); break;
      case 5: into.usingDst = readPair(readMessage(c, wire, 'request.using_dst', at), into.usingDst ?? noPair(), sub, 'request.using_dst'); break;
      default: return false;
    }
    return true;
  });
}

function readResponse(c: Cursor, into: NatDiscoveryResponse, depth: number): void {
  const sub = depth + 1;
  readFields(c, depth, (field, wire, at) => {
    switch (field) {
      case 1: into.requestNumber = readNumber(c, wire, 'response.request_number', at); break;
      case 2: into.response = int32(readNumber(c, wire, 'response.response', at)); break;
      case 3: into.sender = readDetails(readMessage(c, wire, 'response.sender', at), into.sender ?? noDetails(), sub, 'response.sender'); break;
      case 4: into.receiver = readDetails(readMessage(c, wire, 'response.receiver', at), into.receiver ?? noDetails(), sub, 'response.receiver'); break;
      case 5: into.srcIpNatDetected = readNumber(c, wire, 'response.src_ip_nat_detected', at) !== 0n; break;
      case 6: into.srcPortNatDetected = readNumber(c, wire, 'response.src_port_nat_detected', at) !== 0n; break;
      case 7: into.dstIpNatDetected = readNumber(c, wire, 'response.dst_ip_nat_detected', at) !== 0n; break;
      case 8: into.receivedSrc = readPair(readMessage(c, wire, 'response.received_src', at), into.receivedSrc ?? noPair(), sub, 'response.received_src'); break;
      default: return false;
    }
    return true;
  });
}

const noResponse = (): NatDiscoveryResponse => ({
  requestNumber: 0n, response: ResponseType.OK, srcIpNatDetected: false, srcPortNatDetected: false, dstIpNatDetected: false,
});

/**
 * Decodes one datagram. Never throws: hostile input (truncated varints, lengths past the end, wrong
 * wire types for known fields, invalid UTF-8, groups deeper than the schema, more than
 * NAT_DISCOVERY_MAX_DATAGRAM_BYTES) gives `{ ok: false }` with the reason. Unknown fields are
 * skipped; a field given twice keeps the last scalar and merges sub-messages; of the oneof, the
 * last member given wins.
 */
export function decodeNatDiscoveryMessage(datagram: Uint8Array): NatDiscoveryDecodeResult {
  if (datagram.length > NAT_DISCOVERY_MAX_DATAGRAM_BYTES) {
    return { ok: false, problem: 'oversized', reason: `datagram of ${datagram.length} bytes exceeds ${NAT_DISCOVERY_MAX_DATAGRAM_BYTES}` };
  }
  const c: Cursor = { buf: datagram, pos: 0, end: datagram.length };
  let version = 0;
  let request: NatDiscoveryRequest | undefined;
  let response: NatDiscoveryResponse | undefined;
  try {
    readFields(c, 1, (field, wire, at) => {
      if (field === 1) {
        version = int32(readNumber(c, wire, 'version', at));
      } else if (field === 2) {
        const window = readMessage(c, wire, 'request', at);
        response = undefined;
        request ??= { requestNumber: 0n };
        readRequest(window, request, 2);
      } else if (field === 3) {
        const window = readMessage(c, wire, 'response', at);
        request = undefined;
        response ??= noResponse();
        readResponse(window, response, 2);
      } else {
        return false;
      }
      return true;
    });
  } catch (error) {
    if (error instanceof Malformed) return { ok: false, problem: 'malformed', reason: error.message };
    throw error;
  }
  if (request) return { ok: true, message: { version, request } };
  if (response) return { ok: true, message: { version, response } };
  return { ok: true, message: { version } };
}
