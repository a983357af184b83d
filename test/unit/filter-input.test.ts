import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalCidrs, FilterInputError, onlySetMembersDiffer, parseFilterCidr, validateFilter, type FilterCidr } from '../../src/plan/filter-input.ts';
import { mutatedCidrs, specCidr } from './cidr-spec.ts';
import type { DesiredFilter } from '../../src/model/desired-state.ts';

const base: DesiredFilter = {
  localCidrs: ['10.1.0.0/16'], remoteCidrs: ['10.2.0.0/16'], nodeAddresses: ['192.168.1.10/32'], vxlanDevice: 'vx-submariner', vxlanPort: 4800, mssClamp: { mode: 'pmtu' },
};

test('valid input passes through with its CIDR lists sorted, deduplicated and without covered entries', () => {
  const input = validateFilter({ ...base, remoteCidrs: ['10.3.0.0/24', '10.2.0.0/16', '10.2.5.0/24', '10.3.0.0/24', '9.0.0.0/8', '10.3.1.5/32'], cniAddress: '10.1.0.1' });
  assert.deepEqual(input.remoteCidrs, ['9.0.0.0/8', '10.2.0.0/16', '10.3.0.0/24', '10.3.1.5/32']);
  assert.equal(input.cniAddress, '10.1.0.1');
  assert.deepEqual(input.mssClamp, { mode: 'pmtu' });
});

test('canonicalCidrs keeps adjacent networks and drops only nested ones', () => {
  const parse = (s: string) => parseFilterCidr(s) as FilterCidr;
  assert.deepEqual(canonicalCidrs(['10.0.0.128/25', '10.0.0.0/25', '10.0.0.64/26', '255.255.255.255/32'].map(parse)), ['10.0.0.0/25', '10.0.0.128/25', '255.255.255.255/32']);
  assert.deepEqual(canonicalCidrs([]), []);
});

const rejected: [string, unknown, RegExp][] = [
  ['a host address without prefix', { ...base, remoteCidrs: ['10.2.0.1'] }, /remoteCidrs\[0\]: "10.2.0.1" is not a CIDR/],
  ['host bits set', { ...base, localCidrs: ['10.1.2.3/16'] }, /localCidrs\[0\]: "10.1.2.3\/16" has host bits set \(network is 10.1.0.0\/16\)/],
  ['an octet over 255', { ...base, remoteCidrs: ['10.256.0.0/16'] }, /octet 256 is above 255/],
  ['leading zeros', { ...base, remoteCidrs: ['010.2.0.0/16'] }, /octet "010" has a leading zero/],
  ['a leading zero in the prefix length', { ...base, remoteCidrs: ['10.2.0.0/016'] }, /prefix length "016"/],
  ['whitespace', { ...base, remoteCidrs: [' 10.2.0.0/16'] }, /not a decimal number/],
  ['an empty string', { ...base, remoteCidrs: [''] }, /"" is not a CIDR/],
  ['prefix 33', { ...base, remoteCidrs: ['10.2.0.0/33'] }, /prefix length "33" is not a number from 0 to 32/],
  ['the default route', { ...base, remoteCidrs: ['0.0.0.0/0'] }, /prefix \/0 is not allowed/],
  ['IPv6', { ...base, remoteCidrs: ['fd00::/64'] }, /is an IPv6 CIDR/],
  ['a number in the list', { ...base, remoteCidrs: [42] }, /remoteCidrs\[0\]: expected a CIDR string, got number 42/],
  ['a list that is a string', { ...base, localCidrs: '10.1.0.0/16' }, /localCidrs must be an array/],
  ['an interface name with a space', { ...base, vxlanDevice: 'vx sub' }, /vxlanDevice/],
  ['an interface name too long', { ...base, vxlanDevice: 'a-very-long-interface' }, /vxlanDevice/],
  ['an interface name with a quote', { ...base, vxlanDevice: 'vx"' }, /vxlanDevice/],
  ['port 0', { ...base, vxlanPort: 0 }, /vxlanPort must be an integer from 1 to 65535, got 0/],
  ['a fractional port', { ...base, vxlanPort: 4800.5 }, /vxlanPort/],
  ['a port as string', { ...base, vxlanPort: '4800' }, /vxlanPort.*got "4800"/],
  ['an MSS too small', { ...base, mssClamp: { mode: 'fixed', mss: 10 } }, /mssClamp.mss must be an integer from 48 to 65495, got 10/],
  ['an MSS missing', { ...base, mssClamp: { mode: 'fixed' } }, /mssClamp.mss/],
  ['an unknown clamp mode', { ...base, mssClamp: { mode: 'auto' } }, /mssClamp.mode must be 'pmtu' or 'fixed', got "auto"/],
  ['a CNI address with a prefix', { ...base, cniAddress: '10.1.0.1/16' }, /cniAddress must be an IPv4 address/],
  ['a CNI address with a leading zero', { ...base, cniAddress: '10.1.0.01' }, /cniAddress must be an IPv4 address/],
  ['null', null, /expected an object, got null/],
];
for (const [what, value, message] of rejected) {
  test(`rejects ${what} with a clear error`, () => {
    assert.throws(() => validateFilter(value as DesiredFilter), (error: unknown) => error instanceof FilterInputError && message.test(error.message));
  });
}

test('rejects more CIDRs than a set holds', () => {
  const many = Array.from({ length: 262145 }, () => '10.0.0.0/8');
  assert.throws(() => validateFilter({ ...base, remoteCidrs: many }), /more than the 262144/);
});

test('a list already canonical comes back equal, as a copy the caller cannot change afterwards', () => {
  const remoteCidrs = ['10.2.0.0/16', '10.3.0.0/24', '10.3.1.0/24', '10.3.2.5/32', '255.255.255.255/32'];
  const input = validateFilter({ ...base, remoteCidrs });
  assert.deepEqual(input.remoteCidrs, remoteCidrs);
  assert.notEqual(input.remoteCidrs, remoteCidrs);
  remoteCidrs.push('11.0.0.0/8');
  assert.equal(input.remoteCidrs.length, 5);
});

test('a list in order but with a covered entry or a duplicate is still made canonical', () => {
  const check = (remoteCidrs: string[], expected: string[]) => assert.deepEqual(validateFilter({ ...base, remoteCidrs }).remoteCidrs, expected);
  check(['10.0.0.0/8', '10.1.0.0/16', '11.0.0.0/8'], ['10.0.0.0/8', '11.0.0.0/8']);
  check(['10.1.0.0/16', '10.1.0.0/16'], ['10.1.0.0/16']);
  check(['10.1.0.0/16', '10.1.0.0/24'], ['10.1.0.0/16']);
  check(['10.1.0.0/24', '10.1.0.0/16'], ['10.1.0.0/16']);
  check(['10.1.0.0/16', '10.0.0.0/16'], ['10.0.0.0/16', '10.1.0.0/16']);
});

test('validation accepts exactly the canonical CIDRs of the spec (not /0, no host bits), over 20,000 mutated strings', () => {
  // Both of its paths (a list canonical as given, and the general one) against an independent
  // statement of the one parser's grammar.
  let accepted = 0;
  for (const text of mutatedCidrs(20_000)) {
    const spec = specCidr(text);
    const expected = spec !== null && spec.prefixLength > 0 && !spec.hostBitsSet;
    let result: string[] | null;
    try { result = validateFilter({ ...base, remoteCidrs: [text] }).remoteCidrs; } catch (error) {
      assert.ok(error instanceof FilterInputError);
      result = null;
    }
    assert.equal(result !== null, expected, `"${text}"`);
    const general = parseFilterCidr(text);
    assert.equal(typeof general !== 'string', expected, `"${text}" (general path)`);
    if (result) { assert.deepEqual(result, [text]); accepted++; }
  }
  assert.ok(accepted > 100, `the mutations keep some valid CIDRs (${accepted})`);
});

test('egress is {only: [devices]} or {never: [devices]}; anything else is refused naming the field', () => {
  assert.deepEqual(validateFilter({ ...base, egress: { only: ['vx-submariner'] } }).egress, { only: ['vx-submariner'] });
  assert.deepEqual(validateFilter({ ...base, egress: { never: ['tunl0', 'vxlan.calico'] } }).egress, { never: ['tunl0', 'vxlan.calico'] });
  assert.equal(validateFilter(base).egress, undefined);
  for (const bad of [{}, { only: 'vx-submariner' }, { never: ['bad name'] }, { never: ['cali+'] }, { only: [7] }, null, 'eth0']) {
    assert.throws(() => validateFilter({ ...base, egress: bad as never }), (e: unknown) => e instanceof FilterInputError && /egress must be \{only: \[interface names\]\} or \{never: \[interface names\]\}/.test(e.message), JSON.stringify(bad));
  }
});

const limit = { address: '10.1.0.1', exempt: ['10.3.0.1/32', '10.2.0.1/32', '10.3.0.1/32'], perSecond: 200, burst: 400 };

test('an echo limit passes with its exempt list canonical (sorted, deduplicated); absent stays absent', () => {
  assert.deepEqual(validateFilter({ ...base, echoLimit: limit }).echoLimit, { address: '10.1.0.1', exempt: ['10.2.0.1/32', '10.3.0.1/32'], perSecond: 200, burst: 400 });
  assert.deepEqual(validateFilter({ ...base, echoLimit: { ...limit, exempt: [], perSecond: 10000, burst: 1 } }).echoLimit, { address: '10.1.0.1', exempt: [], perSecond: 10000, burst: 1 });
  assert.ok(!('echoLimit' in validateFilter(base)));
});

const badLimits: [string, unknown, RegExp][] = [
  ['null', null, /echoLimit must be \{address, exempt, perSecond, burst\}, got null/],
  ['a list', [limit], /echoLimit must be .*got an array/],
  ['an address with a prefix', { ...limit, address: '10.1.0.1/32' }, /echoLimit.address must be an IPv4 address, got "10.1.0.1\/32"/],
  ['an IPv6 address', { ...limit, address: 'fd00::1' }, /echoLimit.address must be an IPv4 address/],
  ['no address', { ...limit, address: undefined }, /echoLimit.address must be an IPv4 address, got undefined/],
  ['an exempt list that is a string', { ...limit, exempt: '10.2.0.1/32' }, /echoLimit.exempt must be an array/],
  ['an exempt address without a prefix', { ...limit, exempt: ['10.2.0.1'] }, /echoLimit.exempt\[0\]: "10.2.0.1" is not a CIDR/],
  ['an exempt range', { ...limit, exempt: ['10.2.0.1/32', '10.2.0.0/24'] }, /echoLimit.exempt: "10.2.0.0\/24" is not a host address \(\/32\)/],
  ['a rate of 0', { ...limit, perSecond: 0 }, /echoLimit.perSecond must be an integer from 1 to 10000, got 0/],
  ['a rate iptables cannot count', { ...limit, perSecond: 10001 }, /echoLimit.perSecond must be an integer from 1 to 10000, got 10001/],
  ['a fractional rate', { ...limit, perSecond: 2.5 }, /echoLimit.perSecond/],
  ['a rate as a string', { ...limit, perSecond: '200' }, /echoLimit.perSecond must be .*got "200"/],
  ['a burst of 0', { ...limit, burst: 0 }, /echoLimit.burst must be an integer from 1 to 10000, got 0/],
  ['a burst over iptables\' maximum', { ...limit, burst: 10001 }, /echoLimit.burst/],
  ['no burst', { ...limit, burst: undefined }, /echoLimit.burst must be an integer from 1 to 10000, got undefined/],
];
for (const [what, value, message] of badLimits) {
  test(`rejects an echo limit with ${what}`, () => {
    assert.throws(() => validateFilter({ ...base, echoLimit: value as never }), (error: unknown) => error instanceof FilterInputError && message.test(error.message));
  });
}

test('a CIDR list that is the same array as a known filter\'s is taken as validated then; any other array is validated', () => {
  const nodes = Array.from({ length: 50 }, (_, i) => `192.168.1.${i + 1}/32`);
  const first = { ...base, nodeAddresses: nodes };
  const input = validateFilter(first);
  const again = validateFilter({ ...base, nodeAddresses: nodes, remoteCidrs: ['10.3.0.0/16'] }, { filter: first, input });
  assert.equal(again.nodeAddresses, input.nodeAddresses, 'the same array: the same validated list');
  assert.deepEqual(again.remoteCidrs, ['10.3.0.0/16'], 'a changed list is validated anew');
  assert.throws(() => validateFilter({ ...base, nodeAddresses: [...nodes, 'not-a-cidr'] }, { filter: first, input }), FilterInputError, 'another array is read, and a bad entry still refused');
  assert.deepEqual(validateFilter({ ...base, nodeAddresses: ['192.168.1.2/32', '192.168.1.1/32'] }, { filter: first, input }).nodeAddresses, ['192.168.1.1/32', '192.168.1.2/32']);
});

test('a list that shares its start and end with the known result is read between them: the same result as reading it whole, bad entries refused (seeded cases)', () => {
  let state = 5;
  const random = (n: number) => { state = (Math.imul(state, 1103515245) + 12345) >>> 0; return state % n; };
  const subnets = Array.from({ length: 60 }, (_, i) => `10.${i >> 4}.${(i & 15) * 16}.0/20`);
  const first = { ...base, remoteCidrs: subnets };
  const input = validateFilter(first);
  const edits: Array<(list: string[]) => void> = [
    (list) => { list.splice(random(list.length + 1), 0, `10.${random(6)}.${random(256)}.0/24`); }, // may be covered, or out of order
    (list) => { list.splice(random(list.length), 1); },
    (list) => { list[random(list.length)] = `172.16.${random(256)}.0/24`; }, // out of order
    (list) => { list.splice(random(list.length + 1), 0, ['not-a-cidr', '10.0.0.1/24', '10.0.0.0/33', ''][random(4)]!); },
    (list) => { list.push(`10.200.${random(256)}.0/24`); },
    (list) => { list.unshift(`9.${random(256)}.0.0/16`); },
    (list) => { list.splice(0, list.length, ...list.slice().reverse()); },
  ];
  for (let round = 0; round < 300; round++) {
    const list = [...subnets];
    for (let k = 0; k <= random(3); k++) edits[random(edits.length)]!(list);
    const desired = { ...base, remoteCidrs: list };
    let whole: string[] | Error;
    try { whole = validateFilter(desired).remoteCidrs; } catch (error) { whole = error as Error; }
    let between: string[] | Error;
    try { between = validateFilter(desired, { filter: first, input }).remoteCidrs; } catch (error) { between = error as Error; }
    if (whole instanceof Error) {
      assert.ok(between instanceof FilterInputError, `round ${round}: refused whole, so refused between: ${list.join(' ')}`);
      assert.equal(between.message, whole.message, `round ${round}`);
    } else {
      assert.deepEqual(between, whole, `round ${round}: ${list.join(' ')}`);
    }
  }
  const inserted = [...subnets.slice(0, 30), '10.1.0.0/16', ...subnets.slice(30)];
  assert.deepEqual(validateFilter({ ...base, remoteCidrs: inserted }, { filter: first, input }).remoteCidrs, validateFilter({ ...base, remoteCidrs: inserted }).remoteCidrs,
    'an entry covering the known entries on either side of it is seen through its neighbours');
});

test('onlySetMembersDiffer: the sets\' members (CIDR lists and the echo limit\'s exempt senders) may differ; any rule, or the limit coming or going, may not', () => {
  const limit = { address: '10.1.0.1', exempt: ['10.3.0.1/32'], perSecond: 200, burst: 400 };
  const gateway = validateFilter({ ...base, echoLimit: limit });
  assert.equal(onlySetMembersDiffer(gateway, validateFilter({ ...base, remoteCidrs: ['10.9.0.0/16'], nodeAddresses: [], echoLimit: { ...limit, exempt: ['10.4.0.1/32', '10.5.0.1/32'] } })), true);
  assert.equal(onlySetMembersDiffer(gateway, validateFilter({ ...base, echoLimit: { ...limit, perSecond: 100 } })), false, 'another rate');
  assert.equal(onlySetMembersDiffer(gateway, validateFilter({ ...base, echoLimit: { ...limit, address: '10.1.0.2' } })), false, 'another address');
  assert.equal(onlySetMembersDiffer(gateway, validateFilter(base)), false, 'the limit gone');
  assert.equal(onlySetMembersDiffer(validateFilter(base), gateway), false, 'the limit new');
  assert.equal(onlySetMembersDiffer(validateFilter(base), validateFilter({ ...base, vxlanPort: 4801 })), false, 'another port');
});
