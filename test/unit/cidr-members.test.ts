import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CidrKeySet } from '../../src/model/cidr-members.ts';
import { formatIpv4, networkOf, prefixLengthOf } from '../../src/model/cidr.ts';
import { MAX_CIDRS_PER_SET } from '../../src/plan/filter-input.ts';
import { planIpsetWrite, type IpsetsObserved } from '../../src/plan/filter-ipset.ts';

/** As the kernel decoder builds it: a number per member. */
const keySet = (texts: readonly string[]) => new CidrKeySet(Float64Array.from(texts.map((t) => CidrKeySet.key(networkOf(t), prefixLengthOf(t)))));

test('CidrKeySet holds exactly the texts its members are written as', () => {
  const set = keySet(['10.2.0.0/16', '10.3.1.5/32', '0.0.0.0/0', '255.255.255.255/32', '10.2.0.0/24', '10.2.0.5/16']);
  assert.equal(set.size, 6);
  for (const member of ['10.2.0.0/16', '10.3.1.5/32', '0.0.0.0/0', '255.255.255.255/32', '10.2.0.0/24', '10.2.0.5/16']) assert.ok(set.has(member), member);
  const absent: Array<[string, string]> = [
    ['10.2.0.0/17', 'the same network with another prefix length'],
    ['10.2.0.1/16', 'other host bits'],
    ['10.3.1.5', 'a host without its /32: not the text it is written as'],
    ['010.2.0.0/16', 'a leading zero in an octet'],
    ['10.2.0.0/016', 'a leading zero in the prefix length'],
    ['10.2.0.0/33', 'a prefix length above 32'],
    ['10.2.0.0/', 'no prefix length'],
    ['10.2.0.0/16 ', 'a trailing space'],
    [' 10.2.0.0/16', 'a leading space'],
    ['10.2.0/16', 'three octets'],
    ['10.2.0.256/16', 'an octet above 255'],
    ['fd00::/64', 'IPv6'],
    ['', 'empty'],
    ['/', 'a slash alone'],
    ['10.2.0.0/16/16', 'two slashes'],
    ['1.2.3.4/-1', 'a negative prefix length'],
  ];
  for (const [text, why] of absent) assert.equal(set.has(text), false, `${JSON.stringify(text)}: ${why}`);
});

test('CidrKeySet lists its members once each, in address order, as the texts they are written as', () => {
  const set = keySet(['10.3.1.5/32', '10.2.0.0/24', '10.2.0.0/16', '10.3.1.5/32', '192.168.0.0/16', '10.2.0.0/16']);
  assert.equal(set.size, 4, 'repeats are one member');
  assert.deepEqual([...set], ['10.2.0.0/16', '10.2.0.0/24', '10.3.1.5/32', '192.168.0.0/16']);
  const seen: string[] = [];
  set.forEach((cidr) => seen.push(cidr));
  assert.deepEqual(seen, [...set]);
  assert.equal(keySet([]).size, 0);
  assert.deepEqual([...keySet([])], []);
  assert.equal(keySet([]).has('10.0.0.0/8'), false);
});

test('CidrKeySet answers as a Set of the member texts does (seeded cases)', () => {
  let state = 11;
  const random = (n: number) => { state = (Math.imul(state, 1103515245) + 12345) >>> 0; return state % n; };
  const cidr = () => {
    const prefix = random(33);
    const network = prefix === 0 ? 0 : ((random(0x10000) * 0x10000 + random(0x10000)) & (0xffffffff << (32 - prefix))) >>> 0;
    return `${formatIpv4(network)}/${prefix}`;
  };
  for (let round = 0; round < 300; round++) {
    const members = Array.from({ length: random(60) }, cidr);
    const set = keySet(members);
    const texts = new Set(members);
    assert.equal(set.size, texts.size, `round ${round}`);
    assert.deepEqual([...set].sort(), [...texts].sort(), `round ${round}`);
    const probes = [...members, ...Array.from({ length: 40 }, cidr), ...members.map((m) => m.replace('/', '/0')), ...members.map((m) => m.split('/')[0]!)];
    for (const probe of probes) assert.equal(set.has(probe), texts.has(probe), `round ${round}: ${probe}`);
  }
});

test('planIpsetWrite plans the same against sets read as numbers as against sets of texts (seeded cases)', () => {
  let state = 5;
  const random = (n: number) => { state = (Math.imul(state, 1103515245) + 12345) >>> 0; return state % n; };
  const list = () => [...new Set(Array.from({ length: random(30) }, () => `10.${random(3)}.${random(6)}.0/${random(4) === 0 ? 25 : 24}`))];
  // Wanted texts also as the kernel never prints them (host bits set, a host without its /32); what
  // is seen is only ever as the kernel prints it.
  const ODD = ['10.1.2.5/24', '10.0.0.1'];
  const wantedList = () => [...list(), ...(random(3) === 0 ? ODD : [])];
  for (let round = 0; round < 300; round++) {
    const wanted = new Map([['SUBMARINER-LOCALCIDRS', wantedList()], ['SUBMARINER-REMOTECIDRS', list()]]);
    const seen = new Map([...wanted].filter(() => random(5) !== 0).map(([name, members]) => [name, random(3) === 0 ? members.filter((m) => !ODD.includes(m)) : list()] as const));
    const maxelem = random(4) === 0 ? 65536 : MAX_CIDRS_PER_SET;
    const asTexts: IpsetsObserved = new Map([...seen].map(([name, members]) => [name, { type: 'hash:net', members: new Set(members), maxelem }]));
    const asNumbers: IpsetsObserved = new Map([...seen].map(([name, members]) => [name, { type: 'hash:net', members: keySet(members), maxelem }]));
    assert.deepEqual(planIpsetWrite(wanted, asNumbers), planIpsetWrite(wanted, asTexts), `round ${round}`);
    assert.deepEqual(planIpsetWrite(null, asNumbers), planIpsetWrite(null, asTexts), `round ${round}, removing`);
  }
});
