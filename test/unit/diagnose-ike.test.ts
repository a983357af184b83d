import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  UNACCEPTABLE_TRANSFORMS, decodeIkeMessage, encodeIkeSaInit, readIkeAnswer, stripNonEspMarker, withNonEspMarker,
} from '../../src/model/ike-message.ts';

const SPI = Buffer.from('0102030405060708', 'hex');
const request = () => encodeIkeSaInit({
  initiatorSpi: SPI, transforms: UNACCEPTABLE_TRANSFORMS, dhGroup: 1024, keyExchange: Buffer.from('aabbccdd', 'hex'), nonce: Buffer.alloc(16, 0x11),
});

/** The same request written out field by field from RFC 7296 sections 3.1-3.4 and 3.9. */
const EXPECTED = [
  // header: initiator SPI, responder SPI 0, next payload SA (33), version 2.0, IKE_SA_INIT (34), flags I, message ID 0, length 104
  '0102030405060708', '0000000000000000', '21', '20', '22', '08', '00000000', '00000068',
  // SA payload: next KE (34), not critical, length 44; one proposal (last), length 40, number 1, protocol IKE, no SPI, 4 transforms
  '22', '00', '002c', '00', '00', '0028', '01', '01', '00', '04',
  // transforms (type, ID 1024 = private use): ENCR, PRF, INTEG (more follow: 3), DH (last: 0)
  '03', '00', '0008', '01', '00', '0400',
  '03', '00', '0008', '02', '00', '0400',
  '03', '00', '0008', '03', '00', '0400',
  '00', '00', '0008', '04', '00', '0400',
  // KE payload: next Nonce (40), length 12, DH group 1024, reserved, data
  '28', '00', '000c', '0400', '0000', 'aabbccdd',
  // Nonce payload: last, length 20, 16 bytes
  '00', '00', '0014', '11'.repeat(16),
].join('');

test('the IKE_SA_INIT request is byte for byte the RFC 7296 layout', () => {
  assert.equal(request().toString('hex'), EXPECTED);
});

test('on UDP 4500 the request follows the four-byte non-ESP marker (RFC 3948)', () => {
  const datagram = withNonEspMarker(request());
  assert.equal(datagram.subarray(0, 4).toString('hex'), '00000000');
  assert.equal(datagram.subarray(4).toString('hex'), EXPECTED);
});

test('the request reads back as IKEv2 IKE_SA_INIT with SA, KE and Nonce', () => {
  const decoded = decodeIkeMessage(request());
  assert.ok(decoded.ok);
  assert.deepEqual(decoded.payloads.map((p) => p.type), [33, 34, 40]);
  assert.equal(decoded.header.exchange, 34);
  assert.equal(decoded.header.flags, 0x08);
  assert.deepEqual(decoded.notifies, []);
});

test('inputs RFC 7296 does not allow are refused', () => {
  const base = { initiatorSpi: SPI, transforms: UNACCEPTABLE_TRANSFORMS, dhGroup: 1024, keyExchange: Buffer.alloc(0), nonce: Buffer.alloc(16) };
  assert.throws(() => encodeIkeSaInit({ ...base, initiatorSpi: Buffer.alloc(8) }), /not all zero/);
  assert.throws(() => encodeIkeSaInit({ ...base, initiatorSpi: Buffer.alloc(4, 1) }), /8 bytes/);
  assert.throws(() => encodeIkeSaInit({ ...base, nonce: Buffer.alloc(15) }), /16 to 256/);
  assert.throws(() => encodeIkeSaInit({ ...base, nonce: Buffer.alloc(257) }), /16 to 256/);
  assert.throws(() => encodeIkeSaInit({ ...base, transforms: [] }), /transforms/);
});

/** A responder's IKE_SA_INIT answer carrying the given notify types, with the marker. */
function response(options: { spi?: Buffer; flags?: number; exchange?: number; notifies?: number[]; extra?: Buffer } = {}): Buffer {
  const notifies = (options.notifies ?? [14]).map((type, i, all) => {
    const b = Buffer.alloc(8);
    b[0] = i === all.length - 1 ? 0 : 41;
    b.writeUInt16BE(8, 2);
    b.writeUInt16BE(type, 6);
    return b;
  });
  const body = Buffer.concat([...notifies, options.extra ?? Buffer.alloc(0)]);
  const header = Buffer.alloc(28);
  (options.spi ?? SPI).copy(header, 0);
  Buffer.from('a1a2a3a4a5a6a7a8', 'hex').copy(header, 8);
  header[16] = notifies.length > 0 ? 41 : 0;
  header[17] = 0x20;
  header[18] = options.exchange ?? 34;
  header[19] = options.flags ?? 0x20;
  header.writeUInt32BE(28 + body.length, 24);
  return withNonEspMarker(Buffer.concat([header, body]));
}

test('an answer to our SPI names its notifies: NO_PROPOSAL_CHOSEN, INVALID_KE_PAYLOAD, COOKIE, unknown ones by number', () => {
  assert.deepEqual(readIkeAnswer(response(), SPI), { kind: 'answer', notifies: ['NO_PROPOSAL_CHOSEN'], proposal: false });
  assert.deepEqual(readIkeAnswer(response({ notifies: [17, 16390, 40000] }), SPI), { kind: 'answer', notifies: ['INVALID_KE_PAYLOAD', 'COOKIE', 'notify 40000'], proposal: false });
});

test('what is not an answer to this probe is told apart, with the reason', () => {
  const other = Buffer.from('ffffffffffffffff', 'hex');
  assert.match((readIkeAnswer(response({ spi: other }), SPI) as { reason: string }).reason, /another SPI/);
  assert.match((readIkeAnswer(response({ flags: 0x08 }), SPI) as { reason: string }).reason, /a request/);
  assert.match((readIkeAnswer(response({ exchange: 35 }), SPI) as { reason: string }).reason, /exchange type 35/);
  assert.match((readIkeAnswer(Buffer.from([0xff]), SPI) as { reason: string }).reason, /keepalive/);
  assert.match((readIkeAnswer(Buffer.from('12345678aabbccdd', 'hex'), SPI) as { reason: string }).reason, /ESP/);
  assert.match((readIkeAnswer(Buffer.from([0, 0]), SPI) as { reason: string }).reason, /too short/);
});

test('malformed IKE is refused, never thrown: short header, lengths that do not add up, bad payload chains', () => {
  const ike = (datagram: Buffer) => stripNonEspMarker(datagram) as { ok: true; ike: Uint8Array };
  const good = Buffer.from(ike(response()).ike);
  const cases: Array<[string, Buffer, RegExp]> = [
    ['truncated header', good.subarray(0, 20), /shorter than an IKE header/],
    ['header length larger than the datagram', good.subarray(0, 32), /header says 36 bytes/],
    ['version 1', Buffer.concat([good.subarray(0, 17), Buffer.from([0x10]), good.subarray(18)]), /major version 1/],
  ];
  const overlong = Buffer.from(good);
  overlong.writeUInt16BE(200, 28 + 2);
  cases.push(['payload longer than the message', overlong, /does not fit/]);
  const tiny = Buffer.from(good);
  tiny.writeUInt16BE(2, 28 + 2);
  cases.push(['payload length below its header', tiny, /length 2/]);
  const shortNotify = Buffer.from(good.subarray(0, 28 + 4));
  shortNotify.writeUInt32BE(32, 24);
  shortNotify.writeUInt16BE(4, 30);
  cases.push(['Notify without its fixed part', shortNotify, /shorter than its fixed part/]);
  const spiTooBig = Buffer.from(good);
  spiTooBig[28 + 5] = 9;
  cases.push(['Notify SPI that does not fit', spiTooBig, /SPI of 9 bytes/]);
  const trailing = Buffer.concat([good, Buffer.alloc(3)]);
  trailing.writeUInt32BE(trailing.length, 24);
  cases.push(['bytes after the last payload', trailing, /3 bytes after the last payload/]);
  for (const [what, bytes, reason] of cases) {
    const decoded = decodeIkeMessage(bytes);
    assert.equal(decoded.ok, false, what);
    assert.match((decoded as { reason: string }).reason, reason, what);
  }
});

test('an encrypted payload ends the readable chain (its contents are not parsed)', () => {
  const header = Buffer.alloc(28);
  SPI.copy(header, 0);
  header[16] = 46;
  header[17] = 0x20;
  header[18] = 35;
  header[19] = 0x20;
  const sk = Buffer.from([41, 0, 0, 12, 1, 2, 3, 4, 5, 6, 7, 8]);
  header.writeUInt32BE(28 + sk.length, 24);
  const decoded = decodeIkeMessage(Buffer.concat([header, sk]));
  assert.ok(decoded.ok);
  assert.deepEqual(decoded.payloads.map((p) => p.type), [46]);
  assert.deepEqual(decoded.notifies, []);
});

test('random bytes never make the reader throw', () => {
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) & 0xff;
  for (let i = 0; i < 2000; i++) {
    const bytes = Buffer.from(Array.from({ length: next() % 80 }, next));
    if (i % 3 === 0 && bytes.length >= 4) bytes.fill(0, 0, 4);
    assert.doesNotThrow(() => readIkeAnswer(bytes, SPI));
  }
});

test('an answer in words: NO_PROPOSAL_CHOSEN is the expected refusal; other answers and non-answers are said as they are', async () => {
  const { describeIkeAnswer } = await import('../../src/model/ike-message.ts');
  assert.match(describeIkeAnswer(readIkeAnswer(response(), SPI)), /refused the probe's private-use proposal with NO_PROPOSAL_CHOSEN, as meant/);
  assert.equal(describeIkeAnswer({ kind: 'answer', notifies: ['COOKIE'], proposal: false }), 'an IKE_SA_INIT response (COOKIE): IKE reaches the daemon on this port');
  assert.equal(describeIkeAnswer({ kind: 'answer', notifies: [], proposal: true }), 'an IKE_SA_INIT response with a proposal: IKE reaches the daemon on this port');
  assert.match(describeIkeAnswer({ kind: 'not-ours', reason: 'an ESP packet' }), /not an answer to the probe \(an ESP packet\)/);
});
