import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  compareCidrTexts, containsAddress, containsCidr, detectFamily, formatCidr, formatIpv4, lastAddress,
  overlaps, parseCidr, parseCidrs, parseIpv4, scanIpv4, scanPrefixLength, vtepAddress, vtepIp, type Cidr, networkOf, prefixLengthOf,
} from '../../src/model/cidr.ts';
import { mutatedCidrs, specAddress, specCidr } from './cidr-spec.ts';

function cidr(text: string): Cidr {
  const parsed = parseCidr(text);
  assert.ok(parsed.ok, `test fixture ${text} must parse`);
  return parsed.cidr;
}

function ip(text: string): number {
  const parsed = parseIpv4(text);
  assert.ok(parsed.ok, `test fixture ${text} must parse`);
  return parsed.address;
}

test('parseIpv4 accepts canonical dotted quads and round-trips through formatIpv4', () => {
  for (const text of ['0.0.0.0', '255.255.255.255', '10.0.0.1', '192.168.1.254', '1.2.3.4', '100.64.0.0']) {
    const parsed = parseIpv4(text);
    assert.ok(parsed.ok, text);
    assert.equal(formatIpv4(parsed.address), text);
  }
  assert.equal(ip('255.255.255.255'), 0xffffffff);
  assert.equal(ip('10.0.0.1'), 0x0a000001);
});

test('parseIpv4 rejects leading zeros, out-of-range octets and garbage with a reason', () => {
  const cases: Array<[unknown, RegExp]> = [
    ['010.0.0.1', /leading zero/],
    ['10.0.0.01', /leading zero/],
    ['256.0.0.1', /above 255/],
    ['1.2.3.999', /above 255/],
    ['1.2.3', /dotted-quad/],
    ['1.2.3.4.5', /dotted-quad/],
    ['', /dotted-quad/],
    [' 1.2.3.4', /not a decimal/],
    ['1.2.3.4 ', /not a decimal/],
    ['1.2.3.-4', /not a decimal/],
    ['1.2.3.+4', /not a decimal/],
    ['0x1.2.3.4', /not a decimal/],
    ['a.b.c.d', /not a decimal/],
    ['1..3.4', /not a decimal/],
    ['1.2.3.4/32', /not a decimal/],
    ['1e2.0.0.1', /not a decimal/],
    ['00.0.0.1', /leading zero/],
    ['1.2.3.00', /leading zero/],
    ['1.2.3.0255', /leading zero/],
    ['1.2.3.1000', /above 255/],
    ['1.2.3.256', /above 255/],
    ['1.2.3.4\n', /not a decimal/],
    ['1.2.3.4\t', /not a decimal/],
    ['1. 2.3.4', /not a decimal/],
    ['\u0661.2.3.4', /not a decimal/],
    ['1.2.3.', /not a decimal/],
    ['.1.2.3', /not a decimal/],
    [null, /got null/],
    [undefined, /got undefined/],
    [17, /got number 17/],
    [{}, /got an object/],
    [['1.2.3.4'], /got an array/],
  ];
  for (const [input, message] of cases) {
    const parsed = parseIpv4(input);
    assert.equal(parsed.ok, false, String(input));
    if (!parsed.ok) assert.match(parsed.message, message, String(input));
  }
});

test('scanIpv4 reads a dotted quad inside a range of the text, and nothing else', () => {
  assert.equal(scanIpv4('10.1.2.3'), 0x0a010203);
  assert.equal(scanIpv4('x10.1.2.3/24', 1, 9), 0x0a010203);
  assert.equal(scanIpv4('10.1.2.3/24', 0, 8), 0x0a010203);
  assert.equal(scanIpv4('10.1.2.3/24'), -1);
  assert.equal(scanIpv4('255.255.255.255'), 0xffffffff);
  for (const bad of ['', '.', '...', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.04', '1.2.3.256', '1.2.3.4 ', ' 1.2.3.4', '+1.2.3.4', '0x1.2.3.4', '1,2,3,4']) {
    assert.equal(scanIpv4(bad), -1, JSON.stringify(bad));
  }
});

test('scanPrefixLength reads 0 to 32 without leading zeros, and nothing else', () => {
  for (let n = 0; n <= 32; n++) assert.equal(scanPrefixLength(`/${n}`, 1), n);
  assert.equal(scanPrefixLength('1.2.3.4/24', 8), 24);
  for (const bad of ['', '33', '99', '00', '08', '-1', '+8', ' 8', '8 ', '1e1', '100', 'x']) {
    assert.equal(scanPrefixLength(bad, 0), -1, JSON.stringify(bad));
  }
});

test('parseIpv4 and parseCidr accept exactly what the grammar accepts, over 20,000 mutated strings', () => {
  let addresses = 0;
  let cidrs = 0;
  for (const text of mutatedCidrs(20_000)) {
    const address = parseIpv4(text);
    const expectedAddress = specAddress(text);
    assert.deepEqual(address.ok ? address.address : null, expectedAddress, JSON.stringify(text));
    if (expectedAddress !== null) addresses++;
    const parsed = parseCidr(text);
    const expected = specCidr(text);
    assert.equal(parsed.ok, expected !== null, JSON.stringify(text));
    if (parsed.ok && expected) {
      assert.equal(parsed.cidr.prefixLength, expected.prefixLength, text);
      assert.equal(parsed.hostBitsSet, expected.hostBitsSet, text);
      assert.equal(parsed.cidr.network, (expected.address - (expected.address % 2 ** (32 - expected.prefixLength))), text);
      if (!expected.hostBitsSet) assert.equal(parsed.text, text, 'an accepted CIDR without host bits is its own canonical text');
      cidrs++;
    }
  }
  assert.ok(addresses > 50 && cidrs > 1000, `the mutations keep some valid addresses (${addresses}) and CIDRs (${cidrs})`);
});

test('parseIpv4 recognises IPv6 so it can be rejected for the right reason', () => {
  for (const text of ['::1', 'fd00::1', '2001:db8::', '::ffff:10.0.0.1']) {
    const parsed = parseIpv4(text);
    assert.equal(parsed.ok, false);
    if (!parsed.ok) {
      assert.equal(parsed.family, 'ipv6', text);
      assert.match(parsed.message, /IPv6/);
    }
  }
});

test('parseCidr returns the canonical network and its prefix length', () => {
  const parsed = parseCidr('10.244.0.0/16');
  assert.ok(parsed.ok);
  assert.equal(parsed.text, '10.244.0.0/16');
  assert.equal(parsed.hostBitsSet, false);
  assert.equal(parsed.cidr.prefixLength, 16);
  assert.equal(parsed.cidr.network, ip('10.244.0.0'));
  for (const text of ['0.0.0.0/0', '1.2.3.4/32', '172.16.0.0/12', '192.168.128.0/17']) {
    const p = parseCidr(text);
    assert.ok(p.ok, text);
    assert.equal(p.text, text);
  }
});

test('parseCidr normalises host bits but reports them', () => {
  const parsed = parseCidr('10.1.2.3/16');
  assert.ok(parsed.ok);
  assert.equal(parsed.text, '10.1.0.0/16');
  assert.equal(parsed.hostBitsSet, true);
  const zero = parseCidr('8.8.8.8/0');
  assert.ok(zero.ok);
  assert.equal(zero.text, '0.0.0.0/0');
  assert.equal(zero.hostBitsSet, true);
});

test('parseCidr rejects malformed CIDRs with a message naming the problem', () => {
  const cases: Array<[unknown, RegExp]> = [
    ['10.0.0.0', /not a CIDR/],
    ['10.0.0.0/', /prefix length "" is not a number/],
    ['10.0.0.0/33', /prefix length "33"/],
    ['10.0.0.0/-1', /prefix length "-1"/],
    ['10.0.0.0/08', /prefix length "08"/],
    ['10.0.0.0/16/16', /prefix length "16\/16"/],
    ['10.0.0.0/1e1', /prefix length/],
    ['10.0.0.0/ 16', /prefix length/],
    ['300.0.0.0/8', /above 255/],
    ['010.0.0.0/8', /leading zero/],
    ['10.0.0.00/8', /leading zero/],
    ['10.0.0.256/8', /above 255/],
    [' 10.0.0.0/8', /not a decimal/],
    ['10.0.0.0 /8', /not a decimal/],
    ['10.0.0.0/8 ', /prefix length "8 "/],
    ['10.0.0.0/8\n', /prefix length/],
    ['10.0.0.0/+8', /prefix length "\+8"/],
    ['/16', /dotted-quad/],
    ['garbage', /not a CIDR/],
    ['', /not a CIDR/],
    [42, /expected a CIDR string, got number 42/],
    [null, /got null/],
    [['10.0.0.0/8'], /got an array/],
  ];
  for (const [input, message] of cases) {
    const parsed = parseCidr(input);
    assert.equal(parsed.ok, false, String(input));
    if (!parsed.ok) assert.match(parsed.message, message, String(input));
  }
});

test('parseCidr flags IPv6 CIDRs and bare IPv6 addresses as ipv6', () => {
  for (const text of ['fd00::/64', '2001:db8::/32', '::/0', 'fd00::1']) {
    const parsed = parseCidr(text);
    assert.equal(parsed.ok, false);
    if (!parsed.ok) assert.equal(parsed.family, 'ipv6', text);
  }
});

test('parseCidr keeps messages short for huge garbage input', () => {
  const parsed = parseCidr('x'.repeat(1_000_000));
  assert.equal(parsed.ok, false);
  if (!parsed.ok) assert.ok(parsed.message.length < 300, `message length ${parsed.message.length}`);
});

test('detectFamily tells IPv4, IPv6 and neither apart', () => {
  assert.equal(detectFamily('10.0.0.0/8'), 'ipv4');
  assert.equal(detectFamily('10.0.0.1'), 'ipv4');
  assert.equal(detectFamily('fd00::/8'), 'ipv6');
  assert.equal(detectFamily('hello'), 'unknown');
  assert.equal(detectFamily(''), 'unknown');
});

test('containment and overlap follow the prefix hierarchy', () => {
  assert.ok(containsCidr(cidr('10.0.0.0/8'), cidr('10.1.0.0/16')));
  assert.ok(containsCidr(cidr('10.1.0.0/16'), cidr('10.1.0.0/16')));
  assert.ok(!containsCidr(cidr('10.1.0.0/16'), cidr('10.0.0.0/8')));
  assert.ok(containsCidr(cidr('0.0.0.0/0'), cidr('255.255.255.255/32')));
  assert.ok(overlaps(cidr('10.1.0.0/16'), cidr('10.0.0.0/8')));
  assert.ok(overlaps(cidr('10.0.0.0/8'), cidr('10.1.0.0/16')));
  assert.ok(!overlaps(cidr('10.0.0.0/16'), cidr('10.1.0.0/16')));
  assert.ok(!overlaps(cidr('192.168.0.0/24'), cidr('192.168.1.0/24')));
  assert.ok(overlaps(cidr('192.168.1.7/32'), cidr('192.168.1.0/24')));
  assert.ok(containsAddress(cidr('192.168.1.0/24'), ip('192.168.1.255')));
  assert.ok(!containsAddress(cidr('192.168.1.0/24'), ip('192.168.2.0')));
  assert.ok(containsAddress(cidr('128.0.0.0/1'), ip('255.0.0.1')));
  assert.equal(formatIpv4(lastAddress(cidr('10.1.0.0/16'))), '10.1.255.255');
  assert.equal(formatIpv4(lastAddress(cidr('0.0.0.0/0'))), '255.255.255.255');
  assert.equal(formatIpv4(lastAddress(cidr('1.2.3.4/32'))), '1.2.3.4');
});

test('compareCidrTexts orders numerically, not lexically, wider prefixes first', () => {
  const sorted = ['10.10.0.0/16', '10.2.0.0/16', '9.0.0.0/8', '10.2.0.0/24', '10.2.0.0/15', 'junk', '192.168.0.1']
    .sort(compareCidrTexts);
  assert.deepEqual(sorted, ['9.0.0.0/8', '10.2.0.0/15', '10.2.0.0/16', '10.2.0.0/24', '10.10.0.0/16', '192.168.0.1', 'junk']);
});

test('VTEP address replaces the first octet with 240 and carries a /8', () => {
  assert.equal(vtepAddress(ip('10.1.2.3')), '240.1.2.3/8');
  assert.equal(vtepAddress(ip('192.168.0.12')), '240.168.0.12/8');
  assert.equal(formatIpv4(vtepIp(ip('255.255.255.255'))), '240.255.255.255');
  assert.equal(formatCidr({ network: vtepIp(ip('172.18.0.5')), prefixLength: 32 }), '240.18.0.5/32');
});

test('parseCidrs keeps the texts that are CIDRs, in order, and passes over the rest', () => {
  assert.deepEqual(parseCidrs([]), []);
  assert.deepEqual(parseCidrs(['10.0.0.0/8', 'fd00::/64', '', '10.1.0.0/33', 'not-a-cidr', '192.168.1.0/24']).map(formatCidr), ['10.0.0.0/8', '192.168.1.0/24']);
  assert.deepEqual(parseCidrs(new Set(['172.16.0.0/12', '010.0.0.0/8'])).map(formatCidr), ['172.16.0.0/12']);
});

test('prefixLengthOf and networkOf read exactly the CIDRs the grammar accepts (a bare address as /32), and -1 in one of them otherwise', () => {
  for (const text of mutatedCidrs(5_000)) {
    const expected = text.includes('/') ? specCidr(text) : (specAddress(text) === null ? null : { address: specAddress(text)!, prefixLength: 32 });
    const length = prefixLengthOf(text);
    const network = length < 0 ? -1 : networkOf(text);
    if (expected === null) assert.ok(length < 0 || network < 0, `${JSON.stringify(text)} refused`);
    else assert.deepEqual([length, network], [expected.prefixLength, expected.address], JSON.stringify(text));
  }
});
