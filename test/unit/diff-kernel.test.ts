import { test } from 'node:test';
import assert from 'node:assert/strict';
import { changedRoutes, describeForeignRoute, diffFdb, diffRoutes, diffRules, diffSysctls, diffVxlanLink, type ForeignRoute, type ObservedVxlan } from '../../src/plan/diff-kernel.ts';
import type { DesiredVxlanLink } from '../../src/model/desired-state.ts';

const r = (dst: string, extra: Partial<{ table: number; gateway: string; dev: string; src: string; metric: number }> = {}) =>
  ({ table: 100, dst, dev: 'vx-submariner', gateway: '240.0.0.2', ...extra });

test('routes: nothing to do when observed equals desired', () => {
  const routes = [r('10.1.0.0/16'), r('10.2.0.0/16', { table: 150, dev: 'eth0', src: '10.0.0.1' })];
  assert.deepEqual(diffRoutes(routes, routes, [100, 150]), { create: [], replace: [], remove: [], rejected: [], held: [] });
});

test('routes: missing ones are created, stale ones removed, changed ones replaced', () => {
  const diff = diffRoutes([r('10.1.0.0/16'), r('10.2.0.0/16', { gateway: '240.0.0.9' }), r('10.3.0.0/16')],
    [r('10.2.0.0/16'), r('10.4.0.0/16')], [100, 150]);
  assert.deepEqual(diff.create.map((x) => x.dst), ['10.1.0.0/16', '10.3.0.0/16']);
  assert.deepEqual(diff.replace, [r('10.2.0.0/16', { gateway: '240.0.0.9' })]);
  assert.deepEqual(diff.remove.map((x) => x.dst), ['10.4.0.0/16']);
});

test('routes: a change of src, dev or dropping the gateway is a replace', () => {
  for (const change of [{ src: '10.0.0.5' }, { dev: 'eth1' }]) {
    assert.equal(diffRoutes([r('10.1.0.0/16', change)], [r('10.1.0.0/16')], [100]).replace.length, 1, JSON.stringify(change));
  }
  const noGateway = { table: 100, dst: '10.1.0.0/16', dev: 'vx-submariner' };
  assert.equal(diffRoutes([noGateway], [r('10.1.0.0/16')], [100]).replace.length, 1);
});

test('routes: the same destination in another table is another route', () => {
  const diff = diffRoutes([r('10.1.0.0/16', { table: 150 })], [r('10.1.0.0/16')], [100, 150]);
  assert.equal(diff.create.length, 1);
  assert.equal(diff.remove.length, 1);
});

test('routes: desired routes outside seaway tables and duplicates are rejected with a reason', () => {
  const diff = diffRoutes([r('10.1.0.0/16', { table: 254 }), r('10.2.0.0/16'), r('10.2.0.0/16', { gateway: '240.0.0.3' })], [], [100, 150]);
  assert.deepEqual(diff.rejected.map((x) => x.reason), ['table 254 is not one of seaway\'s tables (100, 150)', 'duplicate destination 10.2.0.0/16 in table 100']);
  assert.deepEqual(diff.create.map((x) => x.gateway), ['240.0.0.2']);
});

test('routes: observed duplicates and non-zero metrics are removed, the desired one recreated', () => {
  const diff = diffRoutes([r('10.1.0.0/16')], [r('10.1.0.0/16', { metric: 5 }), r('10.1.0.0/16'), r('10.1.0.0/16', { gateway: '240.0.0.7' })], [100]);
  assert.deepEqual(diff.remove.map((x) => x.metric ?? x.gateway), [5, '240.0.0.7']);
  assert.deepEqual(diff.create, []);
  assert.deepEqual(diff.replace, []);
});

test('routes: empty inputs', () => {
  assert.deepEqual(diffRoutes([], [], [100]), { create: [], replace: [], remove: [], rejected: [], held: [] });
  assert.equal(diffRoutes([], [r('10.9.0.0/16')], [100]).remove.length, 1);
});

const foreign = (dst: string, extra: Partial<ForeignRoute> = {}): ForeignRoute =>
  ({ table: 100, dst, protocol: 3, type: 1, dev: 'eth0', afterOwned: false, ...extra });

test('routes: a foreign route the kernel uses at a wanted destination holds it: no create, no replace, the route is reported with it', () => {
  const diff = diffRoutes([r('10.1.0.0/16'), r('10.2.0.0/16', { gateway: '240.0.0.9' }), r('10.3.0.0/16')],
    [r('10.2.0.0/16')], [100], [foreign('10.1.0.0/16'), foreign('10.2.0.0/16', { gateway: '192.168.1.1', protocol: 4 })]);
  assert.deepEqual(diff.create.map((x) => x.dst), ['10.3.0.0/16'], 'the free destination only');
  assert.deepEqual(diff.replace, [], 'a replace would overwrite the foreign route, the first at that key');
  assert.deepEqual(diff.remove, [], 'seaway\'s own route behind it stays');
  assert.deepEqual(diff.held.map((h) => [h.object.dst, h.reason]), [
    ['10.1.0.0/16', 'the kernel uses 10.1.0.0/16 dev eth0 table 100 proto 3 (boot) for this destination, a route seaway does not own: seaway leaves it alone, and programs its own route once that one is gone'],
    ['10.2.0.0/16', 'the kernel uses 10.2.0.0/16 via 192.168.1.1 dev eth0 table 100 proto 4 (static) for this destination, a route seaway does not own: seaway leaves it alone, and programs its own route once that one is gone'],
  ]);
});

test('routes: a foreign route behind seaway\'s, at another metric, in another table or at an unwanted destination holds nothing', () => {
  const diff = diffRoutes([r('10.1.0.0/16', { gateway: '240.0.0.9' }), r('10.2.0.0/16')], [r('10.1.0.0/16')], [100, 150], [
    foreign('10.1.0.0/16', { afterOwned: true }),
    foreign('10.2.0.0/16', { metric: 100 }),
    foreign('10.2.0.0/16', { table: 150 }),
    foreign('10.9.0.0/16'),
  ]);
  assert.deepEqual(diff.held, []);
  assert.deepEqual(diff.replace.map((x) => x.dst), ['10.1.0.0/16'], 'seaway\'s route is first at its key: replacing it touches only it');
  assert.deepEqual(diff.create.map((x) => x.dst), ['10.2.0.0/16'], 'metric 0 goes in beside the foreign metric 100, and wins');
});

test('routes: the first foreign route at a key is the one named; stale owned routes go even where a foreign route holds the key', () => {
  const diff = diffRoutes([r('10.1.0.0/16')], [r('10.1.0.0/16', { metric: 5 }), r('10.4.0.0/16')], [100],
    [foreign('10.1.0.0/16', { type: 6, dev: undefined }), foreign('10.1.0.0/16', { protocol: 16 })]);
  assert.match(diff.held[0]?.reason ?? '', /^the kernel uses blackhole 10\.1\.0\.0\/16 table 100 proto 3 \(boot\) for/);
  assert.equal(diff.held.length, 1);
  assert.deepEqual(diff.remove.map((x) => x.dst), ['10.1.0.0/16', '10.4.0.0/16'], 'removals name seaway\'s protocol and metric: they cannot hit the foreign route');
  assert.deepEqual(diff.create, []);
});

test('foreign routes are described as ip route shows them, unknown protocols by number', () => {
  assert.equal(describeForeignRoute(foreign('10.1.0.0/16', { protocol: 42, metric: 7, gateway: '10.0.0.1', type: 7, table: 254 })),
    'unreachable 10.1.0.0/16 via 10.0.0.1 dev eth0 table 254 proto 42 metric 7');
});

test('rules and fdb: set differences by identity', () => {
  assert.deepEqual(diffRules([{ priority: 100, table: 100 }], [{ priority: 150, table: 150 }]),
    { create: [{ priority: 100, table: 100 }], remove: [{ priority: 150, table: 150 }] });
  assert.deepEqual(diffRules([{ priority: 100, table: 100 }], [{ priority: 100, table: 100 }]), { create: [], remove: [] });
  const e = (dst: string, mac = '00:00:00:00:00:00') => ({ dev: 'vx-submariner', mac, dst });
  assert.deepEqual(diffFdb([e('10.0.0.1'), e('10.0.0.2')], [e('10.0.0.2', '00:00:00:00:00:00'), e('10.0.0.3')]),
    { create: [e('10.0.0.1')], remove: [e('10.0.0.3')] });
  assert.deepEqual(diffFdb([e('10.0.0.1', 'AA:BB:CC:DD:EE:FF')], [e('10.0.0.1', 'aa:bb:cc:dd:ee:ff')]), { create: [], remove: [] });
});

const want: DesiredVxlanLink = { name: 'vx-submariner', vni: 100, port: 4800, mtu: 1450, local: '10.0.0.1', underlayDevice: 'eth0', address: '240.0.0.1/8' };
const have = (extra: Partial<ObservedVxlan> = {}): ObservedVxlan => ({
  name: 'vx-submariner', kind: 'vxlan', vni: 100, port: 4800, local: '10.0.0.1', underlayDevice: 'eth0', learning: false, mtu: 1450, up: true, addresses: ['240.0.0.1/8'], ...extra,
});

test('vxlan link: absent is created with its address; identical needs nothing', () => {
  assert.deepEqual(diffVxlanLink(want, undefined), { link: { action: 'create' }, addAddresses: ['240.0.0.1/8'], removeAddresses: [] });
  assert.deepEqual(diffVxlanLink(want, have()), { link: { action: 'none' }, addAddresses: [], removeAddresses: [] });
});

test('vxlan link: unchangeable parameters force a recreate naming the difference', () => {
  const cases: [Partial<ObservedVxlan>, RegExp][] = [
    [{ vni: 5 }, /vni 5 != 100/], [{ port: 8472 }, /port/], [{ local: '10.0.0.2' }, /local/], [{ remote: '10.0.0.9' }, /remote 10.0.0.9 != none/],
    [{ underlayDevice: 'eth1' }, /underlay/], [{ learning: true }, /learning/], [{ kind: 'veth' }, /kind is veth/], [{ kind: undefined }, /kind is none/],
  ];
  for (const [change, reason] of cases) {
    const diff = diffVxlanLink(want, have(change));
    assert.equal(diff.link.action, 'recreate', JSON.stringify(change));
    assert.match(diff.link.action === 'recreate' ? diff.link.reason : '', reason);
  }
  assert.equal(diffVxlanLink({ ...want, remote: '10.0.0.9' }, have()).link.action, 'recreate');
});

test('vxlan link: MTU, down state and addresses are fixed in place', () => {
  assert.deepEqual(diffVxlanLink(want, have({ mtu: 1500, up: false, addresses: ['240.0.0.7/8', '10.9.9.9/24'] })),
    { link: { action: 'update', setMtu: 1450, setUp: true }, addAddresses: ['240.0.0.1/8'], removeAddresses: ['240.0.0.7/8', '10.9.9.9/24'] });
});

test('sysctls: only differing values are written; missing keys are reported; whitespace is not a difference', () => {
  const current = new Map<string, string | undefined>([['a', '1'], ['b', '0'], ['c', undefined], ['d', '4096\t87380  6291456']]);
  const diff = diffSysctls([{ key: 'a', value: '1' }, { key: 'b', value: '2' }, { key: 'c', value: '1' }, { key: 'd', value: '4096 87380 6291456' }, { key: 'e', value: '1' }], current);
  assert.deepEqual(diff.write, [{ key: 'b', value: '2', previous: '0' }]);
  assert.deepEqual(diff.missing.map((m) => m.key), ['c', 'e']);
});

test('changedRoutes: by identity, the routes only after and only before; a route equal but not the same object counts as changed, and diffRoutes of the two sorts it out', () => {
  const a = { table: 254, dst: '10.2.0.0/16', gateway: '240.1.1.10', dev: 'vx-submariner' };
  const b = { table: 254, dst: '10.3.0.0/16', gateway: '240.1.1.10', dev: 'vx-submariner' };
  const c = { table: 254, dst: '10.4.0.0/16', gateway: '240.1.1.10', dev: 'vx-submariner' };
  const bAgain = { ...b };
  const aMoved = { ...a, gateway: '240.1.1.11' };
  const { added, removed } = changedRoutes([a, b, c], [aMoved, bAgain, c]);
  assert.deepEqual(added, [aMoved, bAgain]);
  assert.deepEqual(removed, [a, b]);
  assert.deepEqual(changedRoutes([a, b], [a, b]), { added: [], removed: [] });
  const diff = diffRoutes(added, removed, [254]);
  assert.deepEqual(diff.replace, [aMoved], 'the moved route is replaced; the equal one needs nothing');
  assert.deepEqual([diff.create, diff.remove], [[], []]);
  const grown = changedRoutes([a], [a, b]);
  assert.deepEqual(diffRoutes(grown.added, grown.removed, [254]).create, [b]);
  const shrunk = changedRoutes([a, b], [a]);
  assert.deepEqual(diffRoutes(shrunk.added, shrunk.removed, [254]).remove, [b]);
});

test('changedRoutes on long lists in order: blocks gone in one place and come in another, blocks longer than it looks ahead, routes replaced in place (seeded)', () => {
  let state = 7;
  const random = (n: number) => { state = (Math.imul(state, 1103515245) + 12345) >>> 0; return state % n; };
  const route = (i: number) => ({ dst: `10.${(i >> 8) & 255}.${i & 255}.0/24`, i });
  for (let round = 0; round < 120; round++) {
    // Sorted by i, as the planner sorts by address; changes keep that order.
    const before = Array.from({ length: 500 + random(1500) }, (_, k) => route(k * 4));
    let after = [...before];
    for (let blocks = 1 + random(4); blocks > 0; blocks--) {
      const at = random(after.length);
      const length = random(4) === 0 ? 65 + random(40) : 1 + random(12);
      if (random(2) === 0) after.splice(at, length);
      else {
        const base = (after[at]?.i ?? after.length * 4) - 3;
        after.splice(at, 0, ...Array.from({ length: Math.min(length, 3) }, (_, k) => route(base + k)));
      }
    }
    if (random(5) === 0) after = after.map((r) => (random(50) === 0 ? { ...r } : r));
    const expected = { added: after.filter((r) => !before.includes(r)), removed: before.filter((r) => !after.includes(r)) };
    const { added, removed } = changedRoutes(before, after);
    assert.equal(added.length, expected.added.length, `round ${round}: added`);
    assert.equal(removed.length, expected.removed.length, `round ${round}: removed`);
    assert.ok(added.every((r, k) => r === expected.added[k]) && removed.every((r, k) => r === expected.removed[k]), `round ${round}: the same objects in list order`);
  }
});

test('changedRoutes agrees with a whole-list comparison by identity whatever changed where: start, end, middle, several places, reordered, everything (seeded)', () => {
  let state = 99;
  const random = (n: number) => { state = (Math.imul(state, 1103515245) + 12345) >>> 0; return state % n; };
  const route = (i: number) => ({ dst: `10.${i >> 8}.${i & 255}.0/24` });
  for (let round = 0; round < 300; round++) {
    const before = Array.from({ length: random(30) }, (_, i) => route(i));
    const after = before.filter(() => random(5) !== 0).map((r) => (random(6) === 0 ? { ...r } : r));
    for (let k = random(4); k > 0; k--) after.splice(random(after.length + 1), 0, route(1000 + random(1000)));
    // Now and then the kept routes come in another order (a swap, or all reversed).
    if (random(5) === 0 && after.length > 1) { const i = random(after.length); const j = random(after.length); [after[i], after[j]] = [after[j]!, after[i]!]; }
    if (random(10) === 0) after.reverse();
    const expected = { added: after.filter((r) => !before.includes(r)), removed: before.filter((r) => !after.includes(r)) };
    assert.deepEqual(changedRoutes(before, after), expected, `round ${round}`);
    const { added, removed } = changedRoutes(before, after);
    assert.ok(added.every((r, i) => r === expected.added[i]) && removed.every((r, i) => r === expected.removed[i]), 'the same objects');
  }
});
