/**
 * Just enough IKEv2 (RFC 7296) to ask a remote gateway's UDP 4500 whether an IKE daemon answers:
 * an IKE_SA_INIT request, the non-ESP marker that NAT-T puts before IKE on port 4500 (RFC 3948
 * section 2.2: four zero bytes where ESP has its SPI), and a reader of the answer's header and
 * Notify payloads.
 *
 * The request offers one IKE proposal made only of transform IDs from the private-use ranges
 * (1024-65535, RFC 7296 section 3.3.2), which no daemon configures: charon and libreswan answer it
 * with NO_PROPOSAL_CHOSEN and keep no state, so the probe proves the port and the daemon without
 * starting a negotiation (no half-open IKE SA, no Diffie-Hellman work on the remote).
 *
 * Layouts (all integers big-endian):
 *   header (28)  initiator SPI (8) | responder SPI (8) | next payload (1) | version (1: major 2 << 4)
 *                | exchange type (1) | flags (1: I 0x08, V 0x10, R 0x20) | message ID (4) | length (4)
 *   payload      next payload (1) | critical bit + reserved (1) | payload length (2) | body
 *   SA body      proposals: last (1: 0 or 2) | reserved (1) | length (2) | number (1) | protocol (1)
 *                | SPI size (1) | transform count (1) | SPI | transforms
 *   transform    last (1: 0 or 3) | reserved (1) | length (2) | type (1) | reserved (1) | ID (2) | attributes
 *   KE body      DH group (2) | reserved (2) | key exchange data
 *   Nonce body   nonce data (16 to 256 bytes)
 *   Notify body  protocol ID (1) | SPI size (1) | notify type (2) | SPI | data
 */

export const IKE_HEADER_BYTES = 28;
export const NON_ESP_MARKER = Buffer.alloc(4);
export const IKE_VERSION_2 = 0x20;
export const EXCHANGE_IKE_SA_INIT = 34;
export const FLAG_INITIATOR = 0x08;
export const FLAG_RESPONSE = 0x20;

export const PAYLOAD = { none: 0, sa: 33, ke: 34, nonce: 40, notify: 41 } as const;
export const TRANSFORM_TYPE = { encr: 1, prf: 2, integ: 3, dh: 4 } as const;
export const PROTOCOL_IKE = 1;
/** The first transform ID of the private-use range of every transform type. */
export const PRIVATE_USE_TRANSFORM_ID = 1024;

/** Notify message types a probe may meet (RFC 7296 section 3.10.1), by number. */
export const NOTIFY_NAMES: Readonly<Record<number, string>> = {
  1: 'UNSUPPORTED_CRITICAL_PAYLOAD', 4: 'INVALID_IKE_SPI', 5: 'INVALID_MAJOR_VERSION', 7: 'INVALID_SYNTAX',
  9: 'INVALID_MESSAGE_ID', 11: 'INVALID_SPI', 14: 'NO_PROPOSAL_CHOSEN', 17: 'INVALID_KE_PAYLOAD', 24: 'AUTHENTICATION_FAILED',
  16388: 'NAT_DETECTION_SOURCE_IP', 16389: 'NAT_DETECTION_DESTINATION_IP', 16390: 'COOKIE',
};
export const NOTIFY_NO_PROPOSAL_CHOSEN = 14;

export const notifyName = (type: number): string => NOTIFY_NAMES[type] ?? `notify ${type}`;

export interface IkeTransform { type: number; id: number }

export interface IkeSaInitRequest {
  /** 8 bytes, random and non-zero: how the answer is told from anything else arriving. */
  initiatorSpi: Buffer;
  transforms: readonly IkeTransform[];
  dhGroup: number;
  keyExchange: Buffer;
  /** 16 to 256 bytes. */
  nonce: Buffer;
}

/** The transforms of the probe: one of each type IKE needs, every ID private-use, so nobody accepts it. */
export const UNACCEPTABLE_TRANSFORMS: readonly IkeTransform[] = [
  { type: TRANSFORM_TYPE.encr, id: PRIVATE_USE_TRANSFORM_ID },
  { type: TRANSFORM_TYPE.prf, id: PRIVATE_USE_TRANSFORM_ID },
  { type: TRANSFORM_TYPE.integ, id: PRIVATE_USE_TRANSFORM_ID },
  { type: TRANSFORM_TYPE.dh, id: PRIVATE_USE_TRANSFORM_ID },
];

function payload(next: number, body: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header[0] = next;
  header.writeUInt16BE(4 + body.length, 2);
  return Buffer.concat([header, body]);
}

function transform(t: IkeTransform, last: boolean): Buffer {
  const b = Buffer.alloc(8);
  b[0] = last ? 0 : 3;
  b.writeUInt16BE(8, 2);
  b[4] = t.type;
  b.writeUInt16BE(t.id, 6);
  return b;
}

function proposal(transforms: readonly IkeTransform[]): Buffer {
  const body = Buffer.concat(transforms.map((t, i) => transform(t, i === transforms.length - 1)));
  const head = Buffer.alloc(8);
  head[0] = 0; // the last (only) proposal
  head.writeUInt16BE(8 + body.length, 2);
  head[4] = 1; // proposal number
  head[5] = PROTOCOL_IKE;
  head[6] = 0; // no SPI in an IKE_SA_INIT proposal
  head[7] = transforms.length;
  return Buffer.concat([head, body]);
}

/** The IKE message (without the non-ESP marker). Throws RangeError for inputs RFC 7296 does not allow. */
export function encodeIkeSaInit(request: IkeSaInitRequest): Buffer {
  if (request.initiatorSpi.length !== 8 || request.initiatorSpi.every((b) => b === 0)) throw new RangeError('the initiator SPI must be 8 bytes, not all zero');
  if (request.nonce.length < 16 || request.nonce.length > 256) throw new RangeError(`the nonce must be 16 to 256 bytes, got ${request.nonce.length}`);
  if (request.transforms.length === 0 || request.transforms.length > 255) throw new RangeError('a proposal needs 1 to 255 transforms');
  const ke = Buffer.alloc(4);
  ke.writeUInt16BE(request.dhGroup, 0);
  const payloads = Buffer.concat([
    payload(PAYLOAD.ke, proposal(request.transforms)),
    payload(PAYLOAD.nonce, Buffer.concat([ke, request.keyExchange])),
    payload(PAYLOAD.none, request.nonce),
  ]);
  const header = Buffer.alloc(IKE_HEADER_BYTES);
  request.initiatorSpi.copy(header, 0);
  header[16] = PAYLOAD.sa;
  header[17] = IKE_VERSION_2;
  header[18] = EXCHANGE_IKE_SA_INIT;
  header[19] = FLAG_INITIATOR;
  header.writeUInt32BE(0, 20);
  header.writeUInt32BE(IKE_HEADER_BYTES + payloads.length, 24);
  return Buffer.concat([header, payloads]);
}

/** What is sent to UDP 4500: the non-ESP marker, then the IKE message. */
export const withNonEspMarker = (ike: Buffer): Buffer => Buffer.concat([NON_ESP_MARKER, ike]);

export interface IkeHeader {
  initiatorSpi: Buffer;
  responderSpi: Buffer;
  nextPayload: number;
  version: number;
  exchange: number;
  flags: number;
  messageId: number;
  length: number;
}

export interface IkeNotify { protocol: number; type: number }

export interface IkePayloadSummary { type: number; critical: boolean; length: number }

export type IkeDecode =
  | { ok: true; header: IkeHeader; payloads: IkePayloadSummary[]; notifies: IkeNotify[] }
  | { ok: false; reason: string };

/**
 * Reads an IKE message: the header, and the chain of payloads as far as it is in the clear (an SK
 * payload, 46, ends it: what is inside is encrypted). Never throws; a datagram that is not IKE, or
 * whose lengths do not add up, is refused with the reason.
 */
export function decodeIkeMessage(message: Uint8Array): IkeDecode {
  const buf = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  if (buf.length < IKE_HEADER_BYTES) return { ok: false, reason: `${buf.length} bytes, shorter than an IKE header (${IKE_HEADER_BYTES})` };
  const header: IkeHeader = {
    initiatorSpi: Buffer.from(buf.subarray(0, 8)),
    responderSpi: Buffer.from(buf.subarray(8, 16)),
    nextPayload: buf[16]!,
    version: buf[17]!,
    exchange: buf[18]!,
    flags: buf[19]!,
    messageId: buf.readUInt32BE(20),
    length: buf.readUInt32BE(24),
  };
  if (header.version >> 4 !== 2) return { ok: false, reason: `IKE major version ${header.version >> 4}, not 2` };
  if (header.length !== buf.length) return { ok: false, reason: `the header says ${header.length} bytes, the datagram has ${buf.length}` };
  const payloads: IkePayloadSummary[] = [];
  const notifies: IkeNotify[] = [];
  let next = header.nextPayload;
  let at = IKE_HEADER_BYTES;
  while (next !== PAYLOAD.none) {
    if (at + 4 > buf.length) return { ok: false, reason: `payload ${next} at offset ${at} runs past the end` };
    const length = buf.readUInt16BE(at + 2);
    if (length < 4 || at + length > buf.length) return { ok: false, reason: `payload ${next} at offset ${at} has length ${length}, which does not fit` };
    payloads.push({ type: next, critical: (buf[at + 1]! & 0x80) !== 0, length });
    if (next === PAYLOAD.notify) {
      if (length < 8) return { ok: false, reason: `Notify payload at offset ${at} is ${length} bytes, shorter than its fixed part (8)` };
      const spiSize = buf[at + 5]!;
      if (8 + spiSize > length) return { ok: false, reason: `Notify payload at offset ${at} has an SPI of ${spiSize} bytes that does not fit` };
      notifies.push({ protocol: buf[at + 4]!, type: buf.readUInt16BE(at + 6) });
    }
    // The encrypted payload holds the rest of the chain: nothing after it can be read.
    if (next === 46) break;
    next = buf[at]!;
    at += length;
  }
  if (next === PAYLOAD.none && at !== buf.length) return { ok: false, reason: `${buf.length - at} bytes after the last payload` };
  return { ok: true, header, payloads, notifies };
}

/** On UDP 4500 IKE follows four zero bytes; anything else there is ESP (its SPI is never zero) or a one-byte NAT-T keepalive. */
export function stripNonEspMarker(datagram: Uint8Array): { ok: true; ike: Uint8Array } | { ok: false; reason: string } {
  if (datagram.length === 1 && datagram[0] === 0xff) return { ok: false, reason: 'a NAT-T keepalive (0xff), not IKE' };
  if (datagram.length < 4) return { ok: false, reason: `${datagram.length} bytes, too short for the non-ESP marker` };
  if (datagram[0] !== 0 || datagram[1] !== 0 || datagram[2] !== 0 || datagram[3] !== 0) return { ok: false, reason: 'no non-ESP marker: an ESP packet, not IKE' };
  return { ok: true, ike: datagram.subarray(4) };
}

export type IkeAnswer =
  /** An IKE_SA_INIT response to our SPI: the daemon answered (with these notifies, e.g. NO_PROPOSAL_CHOSEN, or its own proposal). */
  | { kind: 'answer'; notifies: string[]; proposal: boolean }
  /** Not an answer to this probe: someone else's traffic on the port, or garbage. */
  | { kind: 'not-ours'; reason: string };

/** Whether a datagram from the probed address and port answers the IKE_SA_INIT sent with `initiatorSpi`. */
export function readIkeAnswer(datagram: Uint8Array, initiatorSpi: Buffer): IkeAnswer {
  const stripped = stripNonEspMarker(datagram);
  if (!stripped.ok) return { kind: 'not-ours', reason: stripped.reason };
  const decoded = decodeIkeMessage(stripped.ike);
  if (!decoded.ok) return { kind: 'not-ours', reason: decoded.reason };
  const { header } = decoded;
  if (!header.initiatorSpi.equals(initiatorSpi)) return { kind: 'not-ours', reason: 'an IKE message for another SPI' };
  if (header.exchange !== EXCHANGE_IKE_SA_INIT) return { kind: 'not-ours', reason: `exchange type ${header.exchange}, not IKE_SA_INIT` };
  if ((header.flags & FLAG_RESPONSE) === 0) return { kind: 'not-ours', reason: 'a request, not a response' };
  return { kind: 'answer', notifies: decoded.notifies.map((n) => notifyName(n.type)), proposal: decoded.payloads.some((p) => p.type === PAYLOAD.sa) };
}

/** An answer in words, for the finding: NO_PROPOSAL_CHOSEN is the answer the probe's private-use proposal is meant to get. */
export function describeIkeAnswer(answer: IkeAnswer): string {
  if (answer.kind !== 'answer') return `not an answer to the probe (${answer.reason})`;
  if (answer.notifies.includes(notifyName(NOTIFY_NO_PROPOSAL_CHOSEN))) {
    return 'the IKE daemon refused the probe\'s private-use proposal with NO_PROPOSAL_CHOSEN, as meant: IKE reaches it on this port';
  }
  return `an IKE_SA_INIT response${answer.proposal ? ' with a proposal' : ''}${answer.notifies.length > 0 ? ` (${answer.notifies.join(', ')})` : ''}: IKE reaches the daemon on this port`;
}
