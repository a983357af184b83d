import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRoutingDriver } from '../../src/dataplane/routing-driver.ts';
import { NetlinkError } from '../../src/kernel/netlink/errors.ts';
import type { KernelWrite, ObservedLink, ObservedRoute, Rtnetlink, WriteResult } from '../../src/kernel/rtnetlink.ts';
import type { DesiredState } from '../../src/model/desired-state.ts';

const EEXIST = 17;

/**
 * An in-memory kernel behind the Rtnetlink seam: links, addresses, routes, rules and FDB entries
 * that the driver's writes change, and destinations where someone else's route makes creates fail.
 */
function fakeKernel(options: { underlay?: boolean; foreignRoutes?: string[] } = {}) {
  const links: ObservedLink[] = options.underlay === false ? [] : [{ index: 2, name: 'eth0', mtu: 1500, up: true }];
  const addresses: Array<{ ifindex: number; cidr: string }> = [];
  const routes: ObservedRoute[] = [];
  const rules: Array<{ priority: number; table: number }> = [];
  const fdb: Array<{ ifindex: number; mac: string; dst: string }> = [];
  const sent: KernelWrite[][] = [];
  const refuse = (write: KernelWrite): WriteResult => ({ write, ok: false, error: new NetlinkError(EEXIST, write.write, 'route') });
  const rtnl = {
    listLinks: async () => links.map((l) => ({ ...l })),
    listAddresses: async () => addresses.map((a) => ({ ifindex: a.ifindex, cidr: a.cidr, address: a.cidr.split('/')[0]!, prefixLength: Number(a.cidr.split('/')[1]), scope: 0 })),
    listRoutes: async () => routes.map((r) => ({ ...r })),
    listRules: async () => rules.map((r) => ({ ...r, protocol: 147, action: 1, selective: false })),
    listFdb: async (ifindex: number) => fdb.filter((e) => e.ifindex === ifindex).map((e) => ({ ...e, state: 0x80, flags: 0 })),
    apply: async (writes: readonly KernelWrite[]): Promise<WriteResult[]> => {
      sent.push([...writes]);
      return writes.map((write): WriteResult => {
        switch (write.kind) {
          case 'link':
            if (write.write === 'create-vxlan') links.push({ index: 10 + links.length, name: write.vxlan.name, kind: 'vxlan', mtu: write.vxlan.mtu, up: true, vxlan: { vni: write.vxlan.vni, port: write.vxlan.port, local: write.vxlan.local, underlayIndex: write.vxlan.underlayIndex, learning: false } });
            return { write, ok: true };
          case 'address': addresses.push({ ifindex: write.ifindex, cidr: write.cidr }); return { write, ok: true };
          case 'rule': rules.push({ priority: write.rule.priority, table: write.rule.table }); return { write, ok: true };
          case 'fdb': fdb.push({ ifindex: write.entry.ifindex, mac: write.entry.mac, dst: write.entry.dst }); return { write, ok: true };
          case 'route':
            if (write.write === 'create' && options.foreignRoutes?.includes(write.route.dst)) return refuse(write);
            routes.push({ ...write.route, protocol: 147, scope: 0, type: 1 });
            return { write, ok: true };
        }
      });
    },
  } as unknown as Rtnetlink;
  return { rtnl, sent, routes };
}

const desired = (): DesiredState => ({
  links: [{ name: 'vx-submariner', vni: 100, port: 4800, mtu: 1450, local: '192.168.1.21', underlayDevice: 'eth0', address: '240.168.1.21/8' }],
  routes: ['10.2.0.0/16', '10.3.0.0/16'].map((dst) => ({ table: 100, dst, gateway: '240.168.1.10', dev: 'vx-submariner' })),
  rules: [{ priority: 100, table: 100 }],
  fdb: [],
  sysctls: [],
  filter: null,
});

test('from an empty node: link, then its address, rule and routes; a second apply writes nothing', async () => {
  const kernel = fakeKernel();
  const driver = createRoutingDriver(kernel.rtnl);
  const first = await driver.apply(desired());
  assert.deepEqual(first.failures, []);
  assert.deepEqual(first.writesByKind, { link: { ok: 1, failed: 0 }, address: { ok: 1, failed: 0 }, rule: { ok: 1, failed: 0 }, route: { ok: 2, failed: 0 } });
  const second = await driver.apply(desired());
  assert.equal(second.writes, 0);
});

test('a route the kernel refuses fails under its own key with the errno; the gate then keeps its write from being sent', async () => {
  const kernel = fakeKernel({ foreignRoutes: ['10.2.0.0/16'] });
  const driver = createRoutingDriver(kernel.rtnl);
  const first = await driver.apply(desired());
  assert.deepEqual(first.failures.map((f) => [f.kind, f.key, f.code]), [['route', '100 10.2.0.0/16', 'EEXIST']]);
  assert.deepEqual(kernel.routes.map((r) => r.dst), ['10.3.0.0/16'], 'the other route is programmed');
  const sentBefore = kernel.sent.length;
  const held = await driver.apply(desired(), (kind, key) => !(kind === 'route' && key === '100 10.2.0.0/16'));
  assert.deepEqual(held.deferred, [{ kind: 'route', key: '100 10.2.0.0/16' }]);
  assert.deepEqual(held.failures, []);
  assert.equal(kernel.sent.length, sentBefore, 'nothing was sent');
});

test('no underlay: the link fails (ENODEV), its address and routes wait on it as blocked, nothing is written', async () => {
  const kernel = fakeKernel({ underlay: false });
  const report = await createRoutingDriver(kernel.rtnl).apply(desired());
  assert.deepEqual(report.failures.map((f) => [f.kind, f.key, f.blocked ?? false, f.code ?? '']), [
    ['link', 'vx-submariner', false, 'ENODEV'],
    ['address', '240.168.1.21/8 vx-submariner', true, ''],
    ['route', '100 10.2.0.0/16', true, ''],
    ['route', '100 10.3.0.0/16', true, ''],
  ]);
  assert.deepEqual(kernel.sent.flat().map((w) => w.kind), ['rule'], 'only the rule, which needs no device');
});

test('a link held back by the gate: deferred, and its address is blocked rather than sent to a link that does not exist', async () => {
  const kernel = fakeKernel();
  const report = await createRoutingDriver(kernel.rtnl).apply(desired(), (kind) => kind !== 'link');
  assert.deepEqual(report.deferred, [{ kind: 'link', key: 'vx-submariner' }]);
  assert.ok(report.failures.some((f) => f.kind === 'address' && f.blocked && f.reason === 'waiting for link vx-submariner'));
  assert.ok(!kernel.sent.flat().some((w) => w.kind === 'link' || w.kind === 'address'));
});

/** Someone else's route as a dump shows it: `ip route ... dev eth0` (boot) unless told otherwise. */
const foreignRoute = (dst: string, extra: Partial<ObservedRoute> = {}): ObservedRoute =>
  ({ table: 100, dst, oif: 2, protocol: 3, scope: 253, type: 1, ...extra });
const routeWrites = (sent: KernelWrite[][]) => sent.flat().filter((w) => w.kind === 'route').map((w) => `${w.write} ${w.kind === 'route' ? w.route.dst : ''}`);

test('a foreign route holding a wanted destination: nothing is written there, the route fails naming it; once it is gone seaway\'s goes in', async () => {
  const kernel = fakeKernel();
  const held = foreignRoute('10.2.0.0/16');
  kernel.routes.push(held);
  const driver = createRoutingDriver(kernel.rtnl);
  const first = await driver.apply(desired());
  assert.deepEqual(first.failures.map((f) => [f.kind, f.key, f.blocked ?? false, f.code ?? '']), [['route', '100 10.2.0.0/16', false, '']]);
  assert.match(first.failures[0]!.reason, /^the kernel uses 10\.2\.0\.0\/16 dev eth0 table 100 proto 3 \(boot\) for this destination, a route seaway does not own/);
  assert.deepEqual(routeWrites(kernel.sent), ['create 10.3.0.0/16'], 'no write at the held destination');
  assert.deepEqual(kernel.routes[0], held, 'the foreign route is untouched');

  // In its backoff the failure is still reported (so the status keeps the reason), and still nothing is sent.
  const gated = await driver.apply(desired(), (kind, key) => !(kind === 'route' && key === '100 10.2.0.0/16'));
  assert.deepEqual(gated.failures.map((f) => f.key), ['100 10.2.0.0/16']);
  assert.equal(gated.writes, 0);

  kernel.routes.splice(kernel.routes.indexOf(held), 1);
  const freed = await driver.apply(desired());
  assert.deepEqual(freed.failures, []);
  assert.deepEqual(routeWrites(kernel.sent).slice(1), ['create 10.2.0.0/16']);
});

test('a foreign route at the same destination and metric: held when the kernel lists it before seaway\'s own, not when after', async () => {
  const moved = desired();
  moved.routes = moved.routes.map((r) => ({ ...r, gateway: '240.168.1.99' }));
  const own = (dst: string): ObservedRoute => ({ table: 100, dst, gateway: '240.168.1.10', oif: 10, protocol: 147, scope: 0, type: 1 });

  const ahead = fakeKernel();
  await createRoutingDriver(ahead.rtnl).apply(desired());
  ahead.routes.splice(0, ahead.routes.length, foreignRoute('10.2.0.0/16'), own('10.2.0.0/16'), own('10.3.0.0/16'));
  ahead.sent.length = 0;
  const prepended = await createRoutingDriver(ahead.rtnl).apply(moved);
  assert.deepEqual(prepended.failures.map((f) => f.key), ['100 10.2.0.0/16']);
  assert.deepEqual(routeWrites(ahead.sent), ['replace 10.3.0.0/16'], 'a replace at 10.2.0.0/16 would overwrite the foreign route, the first there');

  const behind = fakeKernel();
  await createRoutingDriver(behind.rtnl).apply(desired());
  behind.routes.splice(0, behind.routes.length, own('10.2.0.0/16'), foreignRoute('10.2.0.0/16'), own('10.3.0.0/16'), foreignRoute('10.3.0.0/16', { metric: 50 }));
  behind.sent.length = 0;
  const appended = await createRoutingDriver(behind.rtnl).apply(moved);
  assert.deepEqual(appended.failures, [], 'the kernel uses seaway\'s routes; the foreign ones wait behind them');
  assert.deepEqual(routeWrites(behind.sent), ['replace 10.2.0.0/16', 'replace 10.3.0.0/16']);
});

test('routeDestinations: the destinations the last apply wanted, for the kernel event filter', async () => {
  const driver = createRoutingDriver(fakeKernel().rtnl);
  assert.deepEqual([...driver.routeDestinations()], []);
  await driver.apply(desired());
  assert.deepEqual([...driver.routeDestinations()], ['100 10.2.0.0/16', '100 10.3.0.0/16']);
  await driver.apply({ ...desired(), routes: [] });
  assert.deepEqual([...driver.routeDestinations()], []);
});
