/** AddressIndex (src/model/address-index.ts): which given address lies in a CIDR, as a ClaimIndex of /32 claims would answer. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AddressIndex } from '../../src/model/address-index.ts';
import { ClaimIndex } from '../../src/model/claim-index.ts';
import { formatCidr, parseCidr, prefixMask, type Cidr } from '../../src/model/cidr.ts';

const c = (text: string): Cidr => {
  const parsed = parseCidr(text);
  if (!parsed.ok) throw new Error(text);
  return parsed.cidr;
};
const ip = (text: string) => c(`${text}/32`).network;

test('the first address given within the CIDR, with its owner; none when none lies in it; the ends of the space', () => {
  const index = new AddressIndex([
    { address: ip('0.0.0.0'), owner: 'zero' },
    { address: ip('10.0.0.5'), owner: 'a' },
    { address: ip('10.0.0.5'), owner: 'a-again' },
    { address: ip('10.0.1.1'), owner: 'b' },
    { address: ip('255.255.255.255'), owner: 'top' },
  ]);
  assert.equal(index.size, 5);
  assert.equal(index.within(c('10.0.0.0/16'))?.owner, 'a', 'the lowest address, the first given of equal ones');
  assert.equal(index.within(c('10.0.0.5/32'))?.owner, 'a');
  assert.equal(index.within(c('10.0.1.0/24'))?.owner, 'b');
  assert.equal(index.within(c('10.0.2.0/24')), undefined);
  assert.equal(index.within(c('0.0.0.0/0'))?.owner, 'zero');
  assert.equal(index.within(c('255.255.255.255/32'))?.owner, 'top');
  assert.equal(index.within(c('128.0.0.0/1'))?.owner, 'top');
  assert.equal(new AddressIndex([]).within(c('0.0.0.0/0')), undefined, 'empty');
  assert.throws(() => new AddressIndex([{ address: 2, owner: 'x' }, { address: 1, owner: 'y' }]), /sorted by address/);
});

test('agrees with a ClaimIndex of the same /32 claims added in the same order (seeded)', () => {
  let state = 4242;
  const random = () => { state = (Math.imul(state, 1103515245) + 12345) >>> 0; return state; };
  for (let round = 0; round < 30; round++) {
    // Few distinct high bits so that hits are common.
    const addresses = Array.from({ length: 1 + (random() % 300) }, () => ((((random() % 4) << 30) | (random() & 0x3fff)) >>> 0)).sort((x, y) => x - y);
    const points = addresses.map((address, i) => ({ address, owner: i }));
    const index = new AddressIndex(points);
    const claims = new ClaimIndex<number>();
    for (const p of points) claims.add({ network: p.address, prefixLength: 32 }, p.owner);
    for (let q = 0; q < 300; q++) {
      const prefixLength = 14 + (random() % 19);
      const query = { network: ((((random() % 4) << 30) | (random() & 0x3fff)) & prefixMask(prefixLength)) >>> 0, prefixLength };
      assert.equal(index.within(query)?.owner, claims.overlapping(query)?.owner, formatCidr(query));
    }
  }
});
