import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  attr, bufferToIpv4, decodeAttributes, decodeError, decodeMessages, encodeMessage, getI32, getU16, getU32, ipv4ToBuffer, messageLength, parseIpv4Prefix,
  putU16, putU32, putU32be, u32, writeIpv4, writeMessage,
} from '../../src/kernel/netlink/codec.ts';
import { mutatedCidrs, specAddress } from './cidr-spec.ts';
import { decodeRoute, encodeRouteRequest, routeMatcher, type RouteFilter, type RouteSpec, type RouteWrite } from '../../src/kernel/routes.ts';

test('integers stored and loaded byte by byte are what Buffer\'s own methods store and load, at any offset', () => {
  const edges = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffff, 0x800000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
  let state = 7;
  const random = () => { state = (Math.imul(state, 1103515245) + 12345) >>> 0; return state; };
  const values = [...edges, ...Array.from({ length: 200 }, random)];
  for (const value of values) {
    for (let at = 0; at < 5; at++) {
      const ours = Buffer.alloc(12, 0xa5);
      const theirs = Buffer.alloc(12, 0xa5);
      putU32(ours, at, value);
      theirs.writeUInt32LE(value, at);
      assert.deepEqual(ours, theirs, `u32 ${value} at ${at}`);
      putU32be(ours, at, value);
      theirs.writeUInt32BE(value, at);
      assert.deepEqual(ours, theirs, `u32 big-endian ${value} at ${at}`);
      const short = value & 0xffff;
      putU16(ours, at, short);
      theirs.writeUInt16LE(short, at);
      assert.deepEqual(ours, theirs, `u16 ${short} at ${at}`);
      const bytes = Buffer.alloc(12);
      bytes.writeUInt32LE(value, at);
      assert.equal(getU32(bytes, at), bytes.readUInt32LE(at), `load u32 ${value} at ${at}`);
      assert.equal(getI32(bytes, at), bytes.readInt32LE(at), `load i32 ${value} at ${at}`);
      assert.equal(getU16(bytes, at), bytes.readUInt16LE(at), `load u16 ${value} at ${at}`);
    }
  }
  // Stored values wrap as the kernel's fields do: a negative number is its two's complement.
  const wrapped = Buffer.alloc(4);
  putU32(wrapped, 0, -1);
  assert.equal(wrapped.readUInt32LE(0), 0xffffffff);
});

test('attributes and error replies decode from bytes written field by field', () => {
  const attrs = Buffer.concat([attr(3, Buffer.from([1, 2, 3, 4])), attr(0x8001, Buffer.from([9])), attr(5, Buffer.alloc(0))]);
  const decoded = decodeAttributes(attrs);
  assert.deepEqual([...decoded.keys()], [3, 1, 5], 'types without the nested flag');
  assert.deepEqual([...decoded.get(3)!], [1, 2, 3, 4]);
  assert.deepEqual([...decoded.get(1)!], [9]);
  assert.equal(decoded.get(5)!.length, 0);
  // A length that runs past the buffer ends the decoding there, as does one under the header's 4 bytes.
  assert.deepEqual([...decodeAttributes(Buffer.concat([attr(3, Buffer.from([1, 2, 3, 4])), Buffer.from([200, 0, 7, 0])])).keys()], [3]);
  assert.deepEqual([...decodeAttributes(Buffer.from([2, 0, 7, 0, 8, 0, 1, 0])).keys()], []);
  // The length is 16 bits: the largest attribute is encoded, one byte more is refused, not wrapped.
  assert.equal(attr(1, Buffer.alloc(0xffff - 4)).readUInt16LE(0), 0xffff);
  assert.throws(() => attr(1, Buffer.alloc(0xffff - 3)), RangeError);
  // struct nlmsgerr: a negative errno, then the request's header (length, type, flags, seq, port).
  const error = Buffer.alloc(20);
  error.writeInt32LE(-17, 0);
  error.writeUInt16LE(24, 8);
  error.writeUInt32LE(0xfffffff1, 12);
  assert.deepEqual(decodeError(error), { errno: 17, requestType: 24, requestSeq: 0xfffffff1 });
  assert.deepEqual(decodeError(Buffer.from([0, 0, 0, 0])), { errno: 0, requestType: 0, requestSeq: 0 });
  assert.deepEqual(decodeError(Buffer.alloc(0)), { errno: 0, requestType: 0, requestSeq: 0 });
});

test('writeIpv4 writes the four octets', () => {
  for (const [text, bytes] of [['0.0.0.0', [0, 0, 0, 0]], ['255.255.255.255', [255, 255, 255, 255]], ['10.1.2.3', [10, 1, 2, 3]], ['240.168.1.12', [240, 168, 1, 12]]] as const) {
    assert.deepEqual([...ipv4ToBuffer(text)], bytes, text);
  }
});

test('writeIpv4 rejects anything but a dotted quad', () => {
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '1.2.3.', '.1.2.3', '1..2.3', '256.1.1.1', '1.2.3.1000', '1.2.3.a', ' 1.2.3.4', '1.2.3.4 ', '::1', '1.2.3.4/24', '010.0.0.1', '10.0.0.01', '00.0.0.0']) {
    assert.throws(() => writeIpv4(bad, Buffer.alloc(4), 0), /not an IPv4 address/, JSON.stringify(bad));
  }
});

test('parseIpv4Prefix splits address and length and rejects malformed prefixes', () => {
  assert.deepEqual(parseIpv4Prefix('10.2.0.0/16'), { address: '10.2.0.0', network: 0x0a020000, prefixLength: 16 });
  assert.deepEqual(parseIpv4Prefix('10.2.0.1'), { address: '10.2.0.1', network: 0x0a020001, prefixLength: 32 });
  assert.deepEqual(parseIpv4Prefix('255.255.255.255/32'), { address: '255.255.255.255', network: 0xffffffff, prefixLength: 32 });
  for (const bad of ['10.2.0.0/33', '10.2.0.0/', '10.2.0.0/1/2', '10.2.0/16', 'x/8', '10.2.0.0/-1', '10.2.0.0/016', '10.2.0.0/08', '010.2.0.0/16', '10.2.0.0/16 ']) {
    assert.throws(() => parseIpv4Prefix(bad), /not an IPv4 prefix/, bad);
  }
});

test('the encoder takes exactly the addresses model/cidr accepts, and bytes decode back to the same text', () => {
  for (const text of mutatedCidrs(5_000)) {
    const expected = specAddress(text);
    let written: Buffer | null = null;
    try { written = ipv4ToBuffer(text); } catch { /* refused */ }
    assert.equal(written !== null, expected !== null, JSON.stringify(text));
    if (written) assert.equal(bufferToIpv4(written), text, 'decoding prints the canonical text the encoder accepted');
  }
  for (const bytes of [[0, 0, 0, 0], [10, 0, 0, 1], [255, 255, 255, 255], [1, 20, 100, 200]]) {
    const text = bufferToIpv4(Buffer.from(bytes));
    assert.deepEqual([...ipv4ToBuffer(text)], bytes, `kernel bytes ${bytes.join(',')} -> ${text} -> same bytes`);
  }
});

/** The route encoding the straightforward way, one buffer per attribute, as the reference. */
function referenceBody(write: RouteWrite, route: RouteSpec): Buffer {
  const [address, length] = route.dst.split('/') as [string, string];
  const header = Buffer.alloc(12);
  header[0] = 2; header[1] = Number(length); header[4] = route.table < 256 ? route.table : 252; header[5] = route.protocol;
  const attrs = [attr(15, u32(route.table)), attr(1, ipv4ToBuffer(address))];
  if (route.metric !== undefined) attrs.push(attr(6, u32(route.metric)));
  if (write === 'delete') { header[6] = 255; return Buffer.concat([header, ...attrs]); }
  header[6] = route.gateway ? 0 : 253; header[7] = 1;
  if (route.gateway) attrs.push(attr(5, ipv4ToBuffer(route.gateway)));
  if (route.oif !== undefined) attrs.push(attr(4, u32(route.oif)));
  if (route.src) attrs.push(attr(7, ipv4ToBuffer(route.src)));
  return Buffer.concat([header, ...attrs]);
}

test('route requests encode byte for byte like the attribute-by-attribute reference', () => {
  const routes: RouteSpec[] = [
    { table: 100, dst: '10.2.0.0/16', gateway: '240.168.1.11', oif: 7, protocol: 147 },
    { table: 150, dst: '10.102.0.0/16', oif: 2, src: '10.1.1.1', protocol: 147 },
    { table: 1000, dst: '10.3.0.0/24', oif: 3, protocol: 147, metric: 20, gateway: '192.168.1.1' },
    { table: 100, dst: '255.255.255.0/24', oif: 4, protocol: 147 },
  ];
  for (const route of routes) {
    for (const write of ['create', 'replace', 'delete'] as const) {
      const request = encodeRouteRequest(write, route);
      assert.equal(request.body.length, 1);
      assert.deepEqual(request.body[0], referenceBody(write, route), `${write} ${route.dst}`);
    }
  }
});

test('route requests come from Node\'s shared pool and still hold no byte but their own: 3,000 encoded among pool slices written 0xff', () => {
  // Requests are sliced from the pool the dirty buffers were sliced from, and pools are made anew
  // from memory just freed: a byte the encoder left unwritten would show as 0xff.
  for (let i = 0; i < 3000; i++) {
    Buffer.allocUnsafe(40 + (i % 40)).fill(0xff);
    const route: RouteSpec = { table: 100 + (i % 3) * 450, dst: `10.${i >> 8}.${i & 255}.0/24`, oif: i % 9, protocol: 147, ...(i % 2 ? { gateway: '240.168.1.11' } : {}), ...(i % 5 === 0 ? { metric: i } : {}), ...(i % 7 === 0 ? { src: '10.1.1.1' } : {}) };
    const write = (['create', 'replace', 'delete'] as const)[i % 3]!;
    assert.deepEqual(encodeRouteRequest(write, route).body[0], referenceBody(write, route), `${write} ${route.dst}`);
  }
});

test('a route decodes from an rtmsg and attributes written field by field, malformed attributes included', () => {
  const rtmsg = (dstLength: number, table: number, protocol: number, scope: number, type: number) => Buffer.from([2, dstLength, 0, 0, table, protocol, scope, type, 0, 0, 0, 0]);
  const u32Attr = (type: number, value: number) => { const b = Buffer.alloc(8); b.writeUInt16LE(8, 0); b.writeUInt16LE(type, 2); b.writeUInt32LE(value, 4); return b; };
  const ipAttr = (type: number, ip: string) => { const b = Buffer.alloc(8); b.writeUInt16LE(8, 0); b.writeUInt16LE(type, 2); ip.split('.').forEach((o, i) => { b[4 + i] = Number(o); }); return b; };
  const RTA_DST = 1, RTA_OIF = 4, RTA_GATEWAY = 5, RTA_PRIORITY = 6, RTA_PREFSRC = 7, RTA_TABLE = 15;
  const full = Buffer.concat([rtmsg(16, 252, 147, 0, 1), u32Attr(RTA_TABLE, 1000), ipAttr(RTA_DST, '10.2.0.0'), ipAttr(RTA_GATEWAY, '240.168.1.11'),
    u32Attr(RTA_OIF, 7), ipAttr(RTA_PREFSRC, '10.1.1.1'), u32Attr(RTA_PRIORITY, 0xfffffffe)]);
  assert.deepEqual(decodeRoute(full), { table: 1000, dst: '10.2.0.0/16', gateway: '240.168.1.11', oif: 7, src: '10.1.1.1', metric: 0xfffffffe, protocol: 147, scope: 0, type: 1 });
  // No RTA_TABLE: the header's table; no RTA_DST: the default route; a metric of 0 is still said.
  assert.deepEqual(decodeRoute(Buffer.concat([rtmsg(0, 254, 4, 0, 1), u32Attr(RTA_PRIORITY, 0)])), { table: 254, dst: '0.0.0.0/0', metric: 0, protocol: 4, scope: 0, type: 1 });
  // Unknown and nested-flagged types are skipped or read by type; the last of a repeated type wins.
  const nestedOif = u32Attr(RTA_OIF | 0x8000, 9);
  assert.deepEqual(decodeRoute(Buffer.concat([rtmsg(24, 100, 147, 0, 1), u32Attr(99, 5), u32Attr(RTA_OIF, 3), nestedOif, ipAttr(RTA_DST, '10.3.0.0')])),
    { table: 100, dst: '10.3.0.0/24', oif: 9, protocol: 147, scope: 0, type: 1 });
  // A length past the end stops the decoding there.
  const pastEnd = Buffer.from([40, 0, RTA_GATEWAY, 0, 1, 2, 3, 4]);
  assert.deepEqual(decodeRoute(Buffer.concat([rtmsg(8, 100, 147, 0, 1), ipAttr(RTA_DST, '10.0.0.0'), pastEnd, u32Attr(RTA_TABLE, 7)])),
    { table: 100, dst: '10.0.0.0/8', protocol: 147, scope: 0, type: 1 });
  // One of its fields shorter than 4 bytes makes the route unreadable, not a wrong route; an unknown short one is passed over.
  const short = (type: number) => Buffer.from([6, 0, type, 0, 10, 2, 0, 0]);
  for (const type of [RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_PREFSRC, RTA_TABLE]) {
    assert.equal(decodeRoute(Buffer.concat([rtmsg(16, 100, 147, 0, 1), ipAttr(RTA_DST, '10.2.0.0'), short(type)])), undefined, `short attribute ${type}`);
  }
  assert.deepEqual(decodeRoute(Buffer.concat([rtmsg(16, 100, 147, 0, 1), short(99), ipAttr(RTA_DST, '10.2.0.0')])), { table: 100, dst: '10.2.0.0/16', protocol: 147, scope: 0, type: 1 });
  assert.equal(decodeRoute(Buffer.alloc(11)), undefined, 'shorter than an rtmsg');
  assert.equal(decodeRoute(Buffer.concat([Buffer.from([10]), Buffer.alloc(11)])), undefined, 'not AF_INET');
});

test('a filtered route decode keeps exactly the routes of the table and protocol asked for, tables above 255 included', () => {
  const routes: RouteSpec[] = [
    { table: 254, dst: '0.0.0.0/0', gateway: '192.168.1.1', oif: 2, protocol: 4 },
    { table: 100, dst: '10.2.0.0/16', gateway: '240.168.1.11', oif: 7, protocol: 147 },
    { table: 100, dst: '10.3.0.0/16', oif: 7, protocol: 4 },
    { table: 1000, dst: '10.4.0.0/24', oif: 3, protocol: 147 },
    { table: 252, dst: '10.5.0.0/24', oif: 3, protocol: 147 },
  ];
  const payloads = routes.map((r) => encodeRouteRequest('replace', r).body[0]!);
  const kept = (filter: RouteFilter) =>
    payloads.map(routeMatcher(filter)).filter((r) => r !== undefined).map((r) => `${r.table} ${r.dst} ${r.protocol}`);
  assert.deepEqual(kept({ table: 254 }), ['254 0.0.0.0/0 4']);
  assert.deepEqual(kept({ protocol: 147 }), ['100 10.2.0.0/16 147', '1000 10.4.0.0/24 147', '252 10.5.0.0/24 147']);
  assert.deepEqual(kept({ table: 100, protocol: 147 }), ['100 10.2.0.0/16 147']);
  assert.deepEqual(kept({ table: 1000 }), ['1000 10.4.0.0/24 147']);
  assert.deepEqual(kept({ table: 252 }), ['252 10.5.0.0/24 147']);
  assert.equal(kept({}).length, routes.length);
  assert.equal(routeMatcher({})(Buffer.alloc(4)), undefined, 'a truncated header is no route');
});

test('a filtered route decode also keeps routes of any protocol at the destinations named, and only those', () => {
  const routes: RouteSpec[] = [
    { table: 254, dst: '10.2.0.0/16', oif: 2, protocol: 3 },
    { table: 254, dst: '10.2.0.0/16', gateway: '240.168.1.11', oif: 7, protocol: 147 },
    { table: 254, dst: '10.2.0.0/24', oif: 2, protocol: 3 },
    { table: 254, dst: '10.3.0.0/16', oif: 2, protocol: 3 },
    { table: 150, dst: '10.2.0.0/16', oif: 2, protocol: 4 },
    { table: 1000, dst: '10.4.0.0/24', oif: 3, protocol: 16 },
  ];
  const payloads = routes.map((r) => encodeRouteRequest('replace', r).body[0]!);
  const withTos = Buffer.from(payloads[0]!);
  withTos[3] = 0x10;
  const kept = (filter: RouteFilter) =>
    [...payloads, withTos].map(routeMatcher(filter)).filter((r) => r !== undefined).map((r) => `${r.table} ${r.dst} ${r.protocol}`);
  assert.deepEqual(kept({ protocols: [147], alsoAt: [{ table: 254, dst: '10.2.0.0/16' }, { table: 1000, dst: '10.4.0.0/24' }] }),
    ['254 10.2.0.0/16 3', '254 10.2.0.0/16 147', '1000 10.4.0.0/24 16'],
    'in dump order; not another prefix length, table or destination, nor a route with a TOS');
  assert.deepEqual(kept({ protocols: [147], alsoAt: [] }), ['254 10.2.0.0/16 147']);
  // The caller's keys (routeKey's `table dst`) are the ones matched: here they name only the /24 of table 1000.
  const wanted = [{ table: 254, dst: '10.2.0.0/16' }, { table: 1000, dst: '10.4.0.0/24' }];
  assert.deepEqual(kept({ protocols: [147], alsoAt: wanted, alsoAtKeys: new Set(['1000 10.4.0.0/24']) }), ['254 10.2.0.0/16 147', '1000 10.4.0.0/24 16']);
  assert.deepEqual(kept({ protocols: [147], alsoAt: wanted, alsoAtKeys: new Set(wanted.map((r) => `${r.table} ${r.dst}`)) }), kept({ protocols: [147], alsoAt: wanted }), 'the same keys: the same routes');
});

test('messages written back to back into one buffer are byte for byte the messages encoded one by one, and decode back', () => {
  let state = 11;
  const random = (n: number) => { state = (Math.imul(state, 1103515245) + 12345) >>> 0; return state % n; };
  for (let round = 0; round < 200; round++) {
    // Bodies of one to three parts, of any length (unaligned ones too), as requests carry them.
    const messages = Array.from({ length: 1 + random(20) }, (_, i) => ({
      type: random(0x10000), flags: random(0x10000), seq: 0xfffffff0 + i,
      body: Array.from({ length: 1 + random(3) }, () => Buffer.from(Array.from({ length: random(40) }, () => 1 + random(255)))),
    }));
    const out = Buffer.alloc(messages.reduce((sum, m) => sum + messageLength(m.body), 0));
    let at = 0;
    for (const m of messages) at = writeMessage(out, at, m.type, m.flags, m.seq, m.body);
    assert.equal(at, out.length, `round ${round}: every byte accounted for`);
    // The reference, field by field: length (unpadded), type, flags, seq, port 0, the body, zeros to a 4-byte boundary.
    const reference = (m: typeof messages[number]) => {
      const payload = Buffer.concat(m.body);
      const header = Buffer.alloc(16);
      header.writeUInt32LE(16 + payload.length, 0);
      header.writeUInt16LE(m.type, 4);
      header.writeUInt16LE(m.flags, 6);
      header.writeUInt32LE(m.seq >>> 0, 8);
      return Buffer.concat([header, payload, Buffer.alloc((4 - (payload.length % 4)) % 4)]);
    };
    assert.deepEqual(out, Buffer.concat(messages.map(reference)), `round ${round}`);
    assert.deepEqual(encodeMessage(messages[0]!.type, messages[0]!.flags, messages[0]!.seq, messages[0]!.body), reference(messages[0]!), `round ${round}: one message alone`);
    const decoded = decodeMessages(out, () => assert.fail(`round ${round}: malformed`));
    assert.deepEqual(decoded.map((d) => [d.type, d.flags, d.seq, [...d.payload]]), messages.map((m) => [m.type, m.flags, m.seq >>> 0, [...Buffer.concat(m.body)]]), `round ${round}`);
  }
});
