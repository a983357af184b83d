/**
 * The VICI codec against byte fixtures (one of them captured from charon 5.9.8), round trips, and
 * malformed input: every error names the problem and its offset, and no input crashes or loops.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ViciEncodeError, ViciProtocolError } from '../../src/kernel/vici/errors.ts';
import {
  PacketReader, VICI_MAX_SEGMENT_BYTES, decodeMessage, decodePacket, encodeMessage, encodePacket,
  type ViciPacket, type ViciSection,
} from '../../src/kernel/vici/message.ts';

/** Bytes from numbers (one byte each) and strings (their ASCII bytes), so fixtures read like the spec. */
const bytes = (...parts: (number | string)[]): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'number' ? Buffer.of(p) : Buffer.from(p, 'ascii'))));
/** A segment: the payload behind its 32-bit big-endian length. */
const segment = (payload: Buffer): Buffer => Buffer.concat([Buffer.from([0, 0, (payload.length >> 8) & 0xff, payload.length & 0xff]), payload]);

const VERSION_REQUEST = Buffer.from('00000009000776657273696f6e', 'hex');
/** charon-systemd 5.9.8's answer to `version`, as read from its socket. */
const VERSION_RESPONSE = Buffer.from(
  '000000640103066461656d6f6e000e636861726f6e2d73797374656d64030776657273696f6e0005352e392e3803077379736e616d6500054c696e7578'
  + '030772656c65617365000f362e31382e34342d66632d7635393503076d616368696e6500067838365f3634', 'hex');

// SECTION_START=1 SECTION_END=2 KEY_VALUE=3 LIST_START=4 LIST_ITEM=5 LIST_END=6
const NESTED_MESSAGE = bytes(
  3, 4, 'key1', 0, 2, 'v1',
  1, 3, 'sec',
  /**/ 1, 3, 'sub', 3, 1, 'k', 0, 1, 'x', 2,
  /**/ 1, 5, 'empty', 2,
  /**/ 4, 4, 'list', 5, 0, 1, 'a', 5, 0, 2, 'bc', 6,
  /**/ 4, 4, 'none', 6,
  /**/ 3, 5, 'blank', 0, 0,
  2,
);
const NESTED: ViciSection = { key1: 'v1', sec: { sub: { k: 'x' }, empty: {}, list: ['a', 'bc'], none: [], blank: '' } };

const protocolError = (pattern: RegExp, offset: number) => (error: unknown) => {
  assert.ok(error instanceof ViciProtocolError, `not a ViciProtocolError: ${String(error)}`);
  assert.match(error.message, pattern);
  assert.equal(error.offset, offset, error.message);
  assert.match(error.message, new RegExp(`at offset ${offset}\\b`));
  return true;
};

describe('encoding', () => {
  it('encodes the version request exactly as the spec shows it', () => {
    assert.deepEqual(encodePacket({ type: 'cmd-request', name: 'version', message: {} }), VERSION_REQUEST);
  });

  it('encodes sections, lists, empty ones and key-values in key order', () => {
    assert.deepEqual(encodeMessage(NESTED), NESTED_MESSAGE);
  });

  it('writes Buffers byte for byte (binary secrets), also as list items, and leaves undefined keys out', () => {
    const secret = Buffer.from([0x00, 0xff, 0x80]);
    assert.deepEqual(encodeMessage({ data: secret, skipped: undefined, owners: [Buffer.from('a'), 'b'] }),
      bytes(3, 4, 'data', 0, 3, 0x00, 0xff, 0x80, 4, 6, 'owners', 5, 0, 1, 'a', 5, 0, 1, 'b', 6));
  });

  it('writes strings as UTF-8 and counts their bytes, not characters', () => {
    assert.deepEqual(encodeMessage({ k: 'é' }), bytes(3, 1, 'k', 0, 2, 0xc3, 0xa9));
  });

  it('encodes each packet type with a name only where the type has one', () => {
    assert.deepEqual(encodePacket({ type: 'cmd-response', message: { a: 'b' } }), segment(bytes(1, 3, 1, 'a', 0, 1, 'b')));
    assert.deepEqual(encodePacket({ type: 'cmd-unknown' }), segment(bytes(2)));
    assert.deepEqual(encodePacket({ type: 'event-register', name: 'ike-updown' }), segment(bytes(3, 10, 'ike-updown')));
    assert.deepEqual(encodePacket({ type: 'event-unregister', name: 'ike-updown' }), segment(bytes(4, 10, 'ike-updown')));
    assert.deepEqual(encodePacket({ type: 'event-confirm' }), segment(bytes(5)));
    assert.deepEqual(encodePacket({ type: 'event-unknown' }), segment(bytes(6)));
    assert.deepEqual(encodePacket({ type: 'event', name: 'log', message: {} }), segment(bytes(7, 3, 'log')));
  });

  it('takes names of 255 bytes and values of 65535 bytes, the limits', () => {
    const name = 'k'.repeat(255);
    const encoded = encodeMessage({ [name]: 'v'.repeat(0xffff) });
    assert.equal(encoded.length, 1 + 1 + 255 + 2 + 0xffff);
    assert.deepEqual(decodeMessage(encoded), { [name]: 'v'.repeat(0xffff) });
  });

  it('refuses what does not fit the format instead of truncating it, naming the key but never the value', () => {
    const cases: [unknown, RegExp][] = [
      [{ '': 'v' }, /key ""/],
      [{ ['k'.repeat(256)]: 'v' }, /\(256 bytes\): names must be 1\.\.255 bytes of printable ASCII/],
      [{ 'ké': 'v' }, /key "ké"/],
      [{ 'a\nb': 'v' }, /printable ASCII/],
      [{ psk: 's'.repeat(0x10000) }, /key "psk": a value of 65536 bytes \(at most 65535\)/],
      [{ psk: Buffer.alloc(0x10000) }, /key "psk": a value of 65536 bytes/],
      [{ sec: { deep: 'é'.repeat(0x8000) } }, /key "sec\.deep": a value of 65536 bytes/],
      [{ owners: ['ok', 'x'.repeat(0x10000)] }, /list "owners" item 1: a value of 65536 bytes/],
      [{ owners: ['ok', ['nested']] }, /list "owners" item 1: a object where a string or Buffer belongs/],
      [{ owners: [5] }, /list "owners" item 0: a number/],
      [{ port: 4500 }, /key "port": a number/],
      [{ port: null }, /key "port": a null/],
      [{ flag: true }, /key "flag": a boolean/],
    ];
    for (const [message, pattern] of cases) {
      assert.throws(() => encodeMessage(message as ViciSection), (error: unknown) => {
        assert.ok(error instanceof ViciEncodeError, String(error));
        assert.match(error.message, pattern);
        assert.doesNotMatch(error.message, /sss|xxxx|éé/, 'no value in the message');
        return true;
      }, pattern.source);
    }
  });

  it('refuses a section that contains itself', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = { again: cyclic };
    assert.throws(() => encodeMessage(cyclic as ViciSection), /contains itself/);
  });

  it('refuses bad command and event names and packets over the segment limit', () => {
    assert.throws(() => encodePacket({ type: 'cmd-request', name: '', message: {} }), /cmd-request name ""/);
    assert.throws(() => encodePacket({ type: 'event-register', name: 'x'.repeat(256) }), ViciEncodeError);
    const big = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, Buffer.alloc(0xffff)]));
    assert.throws(() => encodePacket({ type: 'cmd-request', name: 'load-conn', message: big }),
      new RegExp(`cmd-request "load-conn": a packet of \\d+ bytes \\(at most ${VICI_MAX_SEGMENT_BYTES}\\)`));
  });
});

describe('decoding', () => {
  it('decodes charon\'s version answer', () => {
    const packets = [...new PacketReader().feed(VERSION_RESPONSE)];
    assert.deepEqual(packets, [{
      type: 'cmd-response',
      message: { daemon: 'charon-systemd', version: '5.9.8', sysname: 'Linux', release: '6.18.44-fc-v595', machine: 'x86_64' },
    }]);
  });

  it('decodes the version request', () => {
    assert.deepEqual([...new PacketReader().feed(VERSION_REQUEST)], [{ type: 'cmd-request', name: 'version', message: {} }]);
  });

  it('decodes nested and empty sections, lists, empty lists and empty values', () => {
    assert.deepEqual(decodeMessage(NESTED_MESSAGE), NESTED);
    assert.deepEqual(decodeMessage(Buffer.alloc(0)), {});
  });

  it('decodes every packet type', () => {
    const cases: [Buffer, ViciPacket][] = [
      [bytes(1), { type: 'cmd-response', message: {} }],
      [bytes(2), { type: 'cmd-unknown' }],
      [bytes(3, 4, 'name'), { type: 'event-register', name: 'name' }],
      [bytes(4, 4, 'name'), { type: 'event-unregister', name: 'name' }],
      [bytes(5), { type: 'event-confirm' }],
      [bytes(6), { type: 'event-unknown' }],
      [bytes(7, 10, 'ike-updown', 3, 2, 'up', 0, 3, 'yes'), { type: 'event', name: 'ike-updown', message: { up: 'yes' } }],
    ];
    for (const [payload, packet] of cases) assert.deepEqual(decodePacket(payload), packet);
  });

  it('keeps a key named __proto__ as a plain key', () => {
    const decoded = decodeMessage(bytes(3, 9, '__proto__', 0, 1, 'x'));
    assert.equal(Object.getPrototypeOf(decoded), Object.prototype);
    assert.deepEqual(Object.entries(decoded), [['__proto__', 'x']]);
  });

  it('round-trips messages', () => {
    const messages: ViciSection[] = [
      {},
      NESTED,
      { a: { b: { c: { d: { e: 'deep' } } } }, l: ['1', '', 'é'], s: {}, n: [] },
      { conn: { version: '2', local_addrs: ['198.18.0.1'], children: { c: { local_ts: ['10.1.0.0/16'], start_action: 'none' } } } },
    ];
    for (const message of messages) {
      assert.deepEqual(decodeMessage(encodeMessage(message)), message);
      const packet = encodePacket({ type: 'event', name: 'list-sa', message });
      assert.deepEqual([...new PacketReader().feed(packet)], [{ type: 'event', name: 'list-sa', message }]);
    }
  });
});

describe('malformed messages', () => {
  const cases: [string, Buffer, RegExp, number][] = [
    ['unknown element type', bytes(9), /unknown element type 9/, 0],
    ['element type 0', bytes(3, 1, 'k', 0, 0, 0), /unknown element type 0/, 5],
    ['SECTION_END without a section', bytes(3, 1, 'k', 0, 0, 2), /SECTION_END without an open section/, 5],
    ['section never closed', bytes(1, 1, 's', 3, 1, 'k', 0, 0), /section "s" \(opened at offset 0\) never closed/, 8],
    ['inner section never closed', bytes(1, 1, 'a', 1, 1, 'b', 2), /section "a" \(opened at offset 0\) never closed/, 7],
    ['list never closed', bytes(4, 1, 'l', 5, 0, 1, 'x'), /list "l" \(opened at offset 0\) never closed/, 7],
    ['LIST_ITEM outside a list', bytes(5, 0, 1, 'x'), /LIST_ITEM outside a list/, 0],
    ['LIST_END outside a list', bytes(1, 1, 's', 6), /LIST_END outside a list/, 3],
    ['nested list', bytes(4, 1, 'a', 4, 1, 'b', 6, 6), /a nested list inside list "a"/, 3],
    ['key-value inside a list', bytes(4, 1, 'a', 3, 1, 'k', 0, 0, 6), /KEY_VALUE inside list "a"/, 3],
    ['section inside a list', bytes(4, 1, 'a', 1, 1, 's', 2, 6), /SECTION_START inside list "a"/, 3],
    ['SECTION_END inside a list', bytes(1, 1, 's', 4, 1, 'a', 2), /SECTION_END inside list "a"/, 6],
    ['duplicate key', bytes(3, 1, 'k', 0, 0, 3, 1, 'k', 0, 0), /duplicate key "k" in the top level/, 5],
    ['duplicate list and key', bytes(3, 1, 'k', 0, 0, 4, 1, 'k', 6), /duplicate key "k" in the top level/, 5],
    ['duplicate section and key', bytes(1, 1, 's', 3, 1, 'k', 0, 0, 1, 1, 'k', 2, 2), /duplicate key "k" in section "s"/, 8],
    ['name length missing', bytes(3), /key name length missing/, 1],
    ['name past the end', bytes(3, 5, 'ab'), /key name of 5 bytes runs past the end \(2 left\)/, 1],
    ['section name past the end', bytes(1, 200, 's'), /section name of 200 bytes runs past the end/, 1],
    ['value length missing', bytes(3, 1, 'k', 0), /value of key "k": length missing/, 3],
    ['value past the end', bytes(3, 1, 'k', 0, 5, 'ab'), /value of key "k": 5 bytes run past the end \(2 left\)/, 3],
    ['list item past the end', bytes(4, 1, 'l', 5, 1, 0, 'x'), /item of list "l": 256 bytes run past the end/, 4],
  ];
  for (const [title, message, pattern, offset] of cases) {
    it(`${title}: raises at offset ${offset}`, () => {
      assert.throws(() => decodeMessage(message), protocolError(pattern, offset));
    });
  }
});

describe('malformed packets', () => {
  const cases: [string, Buffer, RegExp, number][] = [
    ['empty payload', bytes(), /empty packet/, 0],
    ['unknown packet type 8', bytes(8), /unknown packet type 8/, 0],
    ['unknown packet type 255', bytes(255, 1, 2, 3), /unknown packet type 255/, 0],
    ['named packet without a name length', bytes(0), /cmd-request packet ends before its name length/, 1],
    ['empty name', bytes(7, 0), /event packet with an empty name/, 1],
    ['name past the end', bytes(0, 5, 'ab'), /cmd-request name of 5 bytes runs past the end \(2 left\)/, 1],
    ['trailing garbage after EVENT_CONFIRM', bytes(5, 0), /1 bytes of trailing garbage after a event-confirm packet/, 1],
    ['trailing garbage after CMD_UNKNOWN', bytes(2, 1, 2), /2 bytes of trailing garbage after a cmd-unknown packet/, 1],
    ['trailing garbage after EVENT_REGISTER', bytes(3, 1, 'e', 3, 1, 'k', 0, 0), /5 bytes of trailing garbage after a event-register packet/, 3],
    ['trailing garbage after a message', bytes(1, 3, 1, 'k', 0, 0, 2), /SECTION_END without an open section/, 6],
    ['message offsets count from the payload start', bytes(7, 2, 'ev', 9), /unknown element type 9/, 4],
  ];
  for (const [title, payload, pattern, offset] of cases) {
    it(`${title}: raises at offset ${offset}`, () => {
      assert.throws(() => decodePacket(payload), protocolError(pattern, offset));
    });
  }
});

describe('PacketReader', () => {
  it('yields a packet split at any byte offset once its last byte arrives', () => {
    for (let cut = 0; cut <= VERSION_REQUEST.length; cut++) {
      const reader = new PacketReader();
      const first = [...reader.feed(VERSION_REQUEST.subarray(0, cut))];
      assert.deepEqual(first, cut === VERSION_REQUEST.length ? [{ type: 'cmd-request', name: 'version', message: {} }] : [], `cut at ${cut}`);
      const second = [...reader.feed(VERSION_REQUEST.subarray(cut))];
      assert.equal(first.length + second.length, 1, `cut at ${cut}`);
      assert.equal(reader.pendingBytes, 0);
    }
  });

  it('yields several packets from one chunk and from byte-by-byte feeding, in order', () => {
    const event = segment(bytes(7, 10, 'ike-updown', 3, 2, 'up', 0, 3, 'yes'));
    const stream = Buffer.concat([segment(bytes(5)), event, VERSION_RESPONSE, segment(bytes(2))]);
    const expected = ['event-confirm', 'event', 'cmd-response', 'cmd-unknown'];
    assert.deepEqual([...new PacketReader().feed(stream)].map((p) => p.type), expected);
    const reader = new PacketReader();
    const types: string[] = [];
    for (const byte of stream) for (const packet of reader.feed(Buffer.of(byte))) types.push(packet.type);
    assert.deepEqual(types, expected);
    assert.equal(reader.lastPacketOffset, stream.length - 5);
  });

  it('waits at every truncation of a valid stream, holding the bytes', () => {
    const packet = encodePacket({ type: 'event', name: 'list-sa', message: NESTED });
    for (let cut = 0; cut < packet.length; cut++) {
      const reader = new PacketReader();
      assert.deepEqual([...reader.feed(packet.subarray(0, cut))], [], `cut at ${cut}`);
      assert.equal(reader.pendingBytes, cut);
    }
  });

  it('a segment whose payload was cut short (length fixed up) either decodes or raises a protocol error, never anything else', () => {
    const payload = encodePacket({ type: 'event', name: 'list-sa', message: NESTED }).subarray(4);
    let raised = 0;
    for (let cut = 0; cut < payload.length; cut++) {
      try {
        const packets = [...new PacketReader().feed(segment(payload.subarray(0, cut)))];
        assert.equal(packets.length, 1);
      } catch (error) {
        assert.ok(error instanceof ViciProtocolError, `cut at ${cut}: ${String(error)}`);
        raised++;
      }
    }
    // Only cuts right after the name or after the top-level key-value leave a whole message.
    assert.equal(raised, payload.length - 2);
  });

  it('mutated packets decode or raise a protocol error, never crash', () => {
    const original = encodePacket({ type: 'event', name: 'list-sa', message: NESTED });
    let seed = 1;
    const random = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31; };
    for (let round = 0; round < 2000; round++) {
      const mutated = Buffer.from(original);
      for (let n = 1 + Math.floor(random() * 3); n > 0; n--) mutated[4 + Math.floor(random() * (mutated.length - 4))] = Math.floor(random() * 256);
      try {
        for (const packet of new PacketReader().feed(mutated)) assert.ok(packet.type);
      } catch (error) {
        assert.ok(error instanceof ViciProtocolError, `round ${round}: ${String(error)}`);
      }
    }
  });

  it('refuses a segment over the limit as soon as its length arrives, without waiting for (or allocating) the body', () => {
    const reader = new PacketReader();
    assert.equal([...reader.feed(VERSION_REQUEST)].length, 1);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(VICI_MAX_SEGMENT_BYTES + 1);
    assert.throws(() => [...reader.feed(header)], protocolError(new RegExp(`segment of ${VICI_MAX_SEGMENT_BYTES + 1} bytes exceeds the limit of ${VICI_MAX_SEGMENT_BYTES}`), 13));
    const huge = new PacketReader();
    assert.throws(() => [...huge.feed(Buffer.from([0xff, 0xff, 0xff, 0xff]))], /segment of 4294967295 bytes exceeds/);
  });

  it('takes a segment of exactly the limit, and not one byte more', () => {
    const payload = bytes(7, 3, 'abc', 3, 1, 'k', 0, 3, 'xyz');
    assert.equal(payload.length, 13);
    assert.deepEqual([...new PacketReader(13).feed(segment(payload))], [{ type: 'event', name: 'abc', message: { k: 'xyz' } }]);
    assert.throws(() => [...new PacketReader(12).feed(segment(payload))], /segment of 13 bytes exceeds the limit of 12/);
  });

  it('refuses an empty segment', () => {
    assert.throws(() => [...new PacketReader().feed(Buffer.alloc(4))], protocolError(/empty segment \(length 0\)/, 0));
  });

  it('reports packet errors at their stream offset, after yielding the good packets before them', () => {
    const reader = new PacketReader();
    const seen: string[] = [];
    const stream = Buffer.concat([VERSION_REQUEST, segment(bytes(1, 3, 1, 'k', 0, 0, 3, 1, 'k', 0, 0))]);
    assert.throws(() => { for (const packet of reader.feed(stream)) seen.push(packet.type); },
      protocolError(/duplicate key "k" in the top level at offset 23 of the stream \(offset 6 of the packet starting at 13\)/, 23));
    assert.deepEqual(seen, ['cmd-request']);
  });

  it('stays failed: past a framing error nothing in the stream can be trusted', () => {
    const reader = new PacketReader();
    assert.throws(() => [...reader.feed(segment(bytes(9)))], /unknown packet type 9/);
    assert.throws(() => reader.feed(VERSION_REQUEST), /unknown packet type 9/);
    assert.equal(reader.pendingBytes, 0);
  });
});
