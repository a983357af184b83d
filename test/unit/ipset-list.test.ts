import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attr, cstring, u8 } from '../../src/kernel/netlink/codec.ts';
import { decodeIpsetList, IpsetListError } from '../../src/kernel/ipset.ts';

const LIST = (6 << 8) | 7;
const NET_BYTEORDER = 0x4000;
const ipv4 = (ip: string) => attr(1, Buffer.concat([attr(1 | NET_BYTEORDER, Buffer.from(ip.split('.').map(Number)))]), true);
const member = (ip: string, cidr?: number) => attr(7, Buffer.concat([ipv4(ip), ...(cidr === undefined ? [] : [attr(3, u8(cidr))])]), true);
const message = (attributes: Buffer[], type = LIST) => ({ type, flags: 0, seq: 1, payload: Buffer.concat([Buffer.from([2, 0, 0, 0]), ...attributes]) });
const setName = (name: string) => attr(2, cstring(name));
const typeName = (name: string) => attr(3, cstring(name));
const adt = (...members: Buffer[]) => attr(8, Buffer.concat(members), true);

test('a set whose members continue over several messages is one set; a member without CIDR is a host', () => {
  const sets = decodeIpsetList([
    message([attr(1, u8(6)), setName('R'), typeName('hash:net'), attr(7, Buffer.alloc(0), true), adt(member('10.2.0.0', 16), member('10.3.1.5'))]),
    message([attr(1, u8(6)), setName('R'), adt(member('10.4.0.0', 24))]),
    message([setName('L'), typeName('hash:net')]),
    message([setName('ignored')], (1 << 8) | 7),
  ]);
  assert.deepEqual([...sets.keys()], ['R', 'L']);
  assert.equal(sets.get('R')?.type, 'hash:net');
  assert.deepEqual([...sets.get('R')!.members], ['10.2.0.0/16', '10.3.1.5/32', '10.4.0.0/24']);
  assert.deepEqual([...sets.get('L')!.members], [], 'a set without members');
});

test('answers it does not understand are errors, so the caller reads with ipset save instead', () => {
  const cases: Array<[string, Buffer[]]> = [
    ['no set name', [typeName('hash:net')]],
    ['no type with the first message of a set', [setName('R'), adt(member('10.2.0.0', 16))]],
    ['an IPv6 member', [setName('R'), typeName('hash:net'), adt(attr(7, attr(1, attr(2 | NET_BYTEORDER, Buffer.alloc(16)), true), true))]],
    ['a list entry that is not a member', [setName('R'), typeName('hash:net'), adt(attr(9, u8(1)))]],
    ['a member without an address', [setName('R'), typeName('hash:net'), adt(attr(7, attr(3, u8(24)), true))]],
  ];
  for (const [what, attributes] of cases) {
    assert.throws(() => decodeIpsetList([message(attributes)]), IpsetListError, what);
  }
});

test('truncated input ends the walk without reading past the buffer', () => {
  const whole = adt(member('10.2.0.0', 16), member('10.3.0.0', 16));
  const cut = whole.subarray(0, whole.length - 6);
  cut.writeUInt16LE(cut.length, 0);
  const sets = decodeIpsetList([message([setName('R'), typeName('hash:net'), cut]), { type: LIST, flags: 0, seq: 1, payload: Buffer.from([2, 0]) }]);
  assert.deepEqual([...sets.get('R')!.members], ['10.2.0.0/16']);
});

test('members are decoded as the texts they are written as: high first octets, once however often repeated, and a prefix length above 32 refused', () => {
  const sets = decodeIpsetList([
    message([setName('R'), typeName('hash:net'), adt(member('200.1.2.0', 24), member('255.255.255.255'), member('128.0.0.0', 1), member('10.2.0.0', 16))]),
    message([setName('R'), adt(member('200.1.2.0', 24), member('0.0.0.0', 0))]),
  ]);
  const members = sets.get('R')!.members;
  assert.deepEqual([...members], ['0.0.0.0/0', '10.2.0.0/16', '128.0.0.0/1', '200.1.2.0/24', '255.255.255.255/32'], 'in address order, the repeat once');
  assert.equal(members.size, 5);
  for (const text of ['200.1.2.0/24', '255.255.255.255/32', '128.0.0.0/1', '0.0.0.0/0']) assert.ok(members.has(text), text);
  assert.equal(members.has('72.1.2.0/24'), false, 'not read as a signed shift of the first octet');
  assert.throws(() => decodeIpsetList([message([setName('R'), typeName('hash:net'), adt(member('10.2.0.0', 33))])]), /prefix length 33/);
});
