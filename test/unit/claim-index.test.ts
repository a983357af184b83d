import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClaimIndex, noneOverlap } from '../../src/model/claim-index.ts';
import { formatCidr, overlaps, parseCidr, prefixMask, type Cidr } from '../../src/model/cidr.ts';

const c = (text: string): Cidr => {
  const parsed = parseCidr(text);
  if (!parsed.ok) throw new Error(text);
  return parsed.cidr;
};
const owner = (claim: { owner: string } | undefined) => claim?.owner;

test('containing finds the widest claim that contains the query (or equals it); inside finds a claim strictly within', () => {
  const index = new ClaimIndex<string>();
  index.add(c('10.0.0.0/8'), 'wide');
  index.add(c('10.2.0.0/16'), 'mid');
  index.add(c('192.168.1.10/32'), 'host');
  assert.equal(index.size, 3);
  assert.equal(owner(index.containing(c('10.2.3.0/24'))), 'wide');
  assert.equal(owner(index.containing(c('10.0.0.0/8'))), 'wide');
  assert.equal(owner(index.containing(c('11.0.0.0/8'))), undefined);
  assert.equal(owner(index.containing(c('10.0.0.0/7'))), undefined, 'a wider query is not contained');
  assert.equal(owner(index.inside(c('10.0.0.0/7'))), 'wide');
  assert.equal(owner(index.inside(c('10.0.0.0/8'))), 'mid', 'strictly inside: not the equal claim');
  assert.equal(owner(index.inside(c('192.168.0.0/16'))), 'host');
  assert.equal(owner(index.inside(c('192.168.1.10/32'))), undefined);
  assert.equal(owner(index.overlapping(c('192.168.1.10/32'))), 'host');
  assert.equal(owner(index.overlapping(c('192.168.1.11/32'))), undefined);
  assert.equal(owner(index.overlapping(c('0.0.0.0/1'))), 'wide');
});

test('a CIDR claimed twice keeps its first owner; the first claim added under an ancestor is the one named', () => {
  const index = new ClaimIndex<string>();
  index.add(c('10.1.0.0/16'), 'first');
  index.add(c('10.1.0.0/16'), 'second');
  index.add(c('10.2.0.0/16'), 'third');
  assert.equal(index.size, 2);
  assert.equal(owner(index.containing(c('10.1.1.0/24'))), 'first');
  assert.equal(owner(index.inside(c('10.0.0.0/8'))), 'first');
});

test('/0 and /32 queries and claims', () => {
  const index = new ClaimIndex<string>();
  assert.equal(index.overlapping(c('0.0.0.0/0')), undefined, 'empty');
  index.add(c('255.255.255.255/32'), 'top');
  index.add(c('0.0.0.0/32'), 'bottom');
  assert.equal(owner(index.inside(c('0.0.0.0/0'))), 'top');
  assert.equal(owner(index.containing(c('255.255.255.255/32'))), 'top');
  assert.equal(owner(index.containing(c('0.0.0.0/32'))), 'bottom');
  index.add(c('0.0.0.0/0'), 'all');
  assert.equal(owner(index.containing(c('1.2.3.4/32'))), 'all');
});

test('agrees with a brute-force scan on random CIDRs (seeded)', () => {
  let state = 12345;
  const random = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state;
  };
  // Few distinct high bits so that overlaps are common.
  const randomCidr = (): Cidr => {
    const prefixLength = random() % 33;
    const address = (((random() % 4) << 30) | (random() & 0x3fffffff)) >>> 0;
    return { network: (address & prefixMask(prefixLength)) >>> 0, prefixLength };
  };
  for (let round = 0; round < 20; round++) {
    const index = new ClaimIndex<number>();
    const claims: Cidr[] = [];
    for (let i = 0; i < 200; i++) {
      const cidr = randomCidr();
      index.add(cidr, i);
      claims.push(cidr);
    }
    for (let q = 0; q < 300; q++) {
      const query = randomCidr();
      const expectedOverlap = claims.some((claim) => overlaps(claim, query));
      assert.equal(index.overlapping(query) !== undefined, expectedOverlap, formatCidr(query));
      const containing = index.containing(query);
      const expectedContaining = claims.filter((claim) => claim.prefixLength <= query.prefixLength && overlaps(claim, query));
      assert.equal(containing !== undefined, expectedContaining.length > 0, formatCidr(query));
      if (containing) {
        const widest = Math.min(...expectedContaining.map((x) => x.prefixLength));
        assert.equal(containing.cidr.prefixLength, widest);
        assert.equal(containing.owner, claims.findIndex((x) => x.prefixLength === widest && overlaps(x, query)), 'the first owner of that CIDR');
      }
      const inside = index.inside(query);
      const expectedInside = claims.filter((claim) => claim.prefixLength > query.prefixLength && overlaps(claim, query));
      assert.equal(inside !== undefined, expectedInside.length > 0, formatCidr(query));
      if (inside) assert.ok(inside.cidr.prefixLength > query.prefixLength && overlaps(inside.cidr, query));
    }
  }
});

test('noneOverlap: named cases', () => {
  const none = (...texts: string[]) => noneOverlap(texts.map(c));
  assert.equal(none(), true, 'nothing');
  assert.equal(none('10.0.0.0/24', '10.0.1.0/24', '192.168.1.10/32'), true, 'adjacent and apart');
  assert.equal(none('10.0.1.0/24', '10.0.0.0/24'), true, 'in any order');
  assert.equal(none('10.0.0.0/24', '10.0.0.0/24'), false, 'the same CIDR twice');
  assert.equal(none('10.0.0.0/16', '10.0.0.0/24'), false, 'nested at the same network');
  assert.equal(none('10.0.5.0/24', '10.0.0.0/16'), false, 'nested, the inner one given first');
  assert.equal(none('10.0.0.0/24', '10.0.0.255/32'), false, 'an address at the end of a subnet');
  assert.equal(none('10.0.0.0/24', '10.0.1.0/32'), true, 'an address just past it');
  assert.equal(none('0.0.0.0/0', '255.255.255.255/32'), false, 'everything holds the last address');
  assert.equal(none('255.255.255.0/24', '128.0.0.0/1'), false, 'high addresses');
  assert.equal(none('255.255.255.255/32', '255.255.255.254/32'), true);
});

test('noneOverlap answers as every pair compared (seeded cases)', () => {
  let state = 11;
  const random = (n: number) => { state = (Math.imul(state, 1103515245) + 12345) >>> 0; return state % n; };
  for (let round = 0; round < 500; round++) {
    const cidrs = Array.from({ length: random(30) }, () => {
      const prefixLength = [8, 16, 20, 24, 24, 24, 30, 32][random(8)]!;
      // Few distinct high octets, so that some rounds overlap and some do not.
      const address = ((random(3) * 64 + 10) * 2 ** 24 + random(4) * 2 ** 16 + random(256) * 2 ** 8 + random(256)) >>> 0;
      return { network: (address & prefixMask(prefixLength)) >>> 0, prefixLength };
    });
    let expected = true;
    for (let i = 0; i < cidrs.length && expected; i++) for (let j = i + 1; j < cidrs.length && expected; j++) if (overlaps(cidrs[i]!, cidrs[j]!)) expected = false;
    assert.equal(noneOverlap(cidrs), expected, `round ${round}: ${cidrs.map(formatCidr).join(' ')}`);
  }
});
