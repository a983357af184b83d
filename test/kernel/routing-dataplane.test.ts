import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInsideNetns } from '../helpers/in-netns.ts';
import { requireTools } from '../helpers/prereq.ts';
import { run } from '../../src/kernel/exec.ts';
import { openRtnetlink } from '../../src/kernel/rtnetlink.ts';
import { procSysctls } from '../../src/kernel/sysctl.ts';
import { createRoutingDataplane } from '../../src/dataplane/routing-dataplane.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import type { DesiredState } from '../../src/model/desired-state.ts';

await runInsideNetns(import.meta.url, 'ddp');
requireTools('ip', 'bridge');

const json = async (file: string, args: string[]): Promise<unknown> => JSON.parse((await run(file, args)).stdout || '[]');
const snapshot = async () => ({
  routes: await json('ip', ['-j', 'route', 'show', 'table', 'all']),
  rules: await json('ip', ['-j', 'rule', 'show']),
  links: await json('ip', ['-j', 'link', 'show']),
  fdb: await json('bridge', ['-j', 'fdb', 'show']),
  sysctls: await Promise.all(['net/ipv4/conf/under0/rp_filter', 'net/ipv4/ip_forward'].map((k) => readFile(`/proc/sys/${k}`, 'utf8'))),
});
const table = async (t: number) => (await json('ip', ['-j', 'route', 'show', 'table', String(t)])) as any[];

const rtnl = openRtnetlink();
const stateDir = await mkdtemp(join(tmpdir(), 'seaway-ddp-'));
after(async () => { rtnl.close(); await rm(stateDir, { recursive: true, force: true }); });
const sysctlStatePath = join(stateDir, 'sysctls.json');
const logger = createLogger('warn');

// No IPv6 on this namespace's links: the kernel gives each one a link-local address (a local route,
// multicast FDB entries) some time after it comes up, and on a busy machine that landed between the
// snapshot below and the one after cleanup. seaway touches nothing of IPv6.
await writeFile('/proc/sys/net/ipv6/conf/default/disable_ipv6', '1\n');
await run('ip', ['link', 'add', 'under0', 'type', 'veth', 'peer', 'name', 'under1']);
await run('ip', ['link', 'set', 'under0', 'up']);
await run('ip', ['link', 'set', 'under1', 'up']);
await run('ip', ['addr', 'add', '192.168.70.1/24', 'dev', 'under0']);
await run('ip', ['route', 'add', 'default', 'via', '192.168.70.254']);
// Objects seaway did not make: they must survive everything below.
await run('ip', ['route', 'add', '10.99.0.0/16', 'dev', 'under0', 'table', '100']);
await run('ip', ['route', 'add', '10.98.0.0/16', 'dev', 'under0']);
await run('ip', ['rule', 'add', 'priority', '100', 'from', '10.97.0.0/16', 'lookup', '100']);
const before = await snapshot();

const desired = (): DesiredState => ({
  links: [{ name: 'vx-submariner', vni: 100, port: 4800, mtu: 1450, local: '192.168.70.1', underlayDevice: 'under0', address: '240.168.70.1/8' }],
  routes: [
    { table: 100, dst: '10.2.0.0/16', gateway: '240.168.70.2', dev: 'vx-submariner' },
    { table: 100, dst: '10.3.0.0/16', gateway: '240.168.70.2', dev: 'vx-submariner' },
    { table: 150, dst: '10.4.0.0/16', dev: 'under0', src: '192.168.70.1' },
  ],
  rules: [{ priority: 100, table: 100 }, { priority: 150, table: 150 }],
  fdb: [
    { dev: 'vx-submariner', mac: '00:00:00:00:00:00', dst: '192.168.70.2' },
    { dev: 'vx-submariner', mac: '00:00:00:00:00:00', dst: '192.168.70.3' },
  ],
  sysctls: [
    { key: 'net/ipv4/conf/vx-submariner/rp_filter', value: '2' },
    { key: 'net/ipv4/conf/under0/rp_filter', value: '2' },
    { key: 'net/ipv4/ip_forward', value: '1' },
    { key: 'net/ipv4/neigh/vx-submariner/retrans_time_ms', value: '100' },
  ],
  filter: null,
});

const dataplane = createRoutingDataplane({ rtnl, sysctls: procSysctls(), sysctlStatePath, logger });

test('apply programs the link, address, routes, rules, fdb and sysctls; a second pass writes nothing', async () => {
  const first = await dataplane.apply(desired());
  assert.deepEqual(first.failures, []);
  assert.ok(first.writes >= 11, `writes: ${first.writes}`);

  const [link] = (await json('ip', ['-4', '-j', '-d', 'addr', 'show', 'vx-submariner'])) as any[];
  assert.equal(link.linkinfo.info_data.id, 100);
  assert.equal(link.mtu, 1450);
  assert.deepEqual(link.addr_info.map((a: any) => `${a.local}/${a.prefixlen}`), ['240.168.70.1/8']);
  assert.deepEqual((await table(100)).filter((r) => r.protocol === '147').map((r) => `${r.dst} ${r.gateway} ${r.dev}`),
    ['10.2.0.0/16 240.168.70.2 vx-submariner', '10.3.0.0/16 240.168.70.2 vx-submariner']);
  assert.deepEqual((await table(150)).map((r) => `${r.dst} ${r.dev} ${r.prefsrc} ${r.protocol}`), ['10.4.0.0/16 under0 192.168.70.1 147']);
  const rules = (await json('ip', ['-j', 'rule', 'show'])) as any[];
  assert.ok(rules.some((r) => r.priority === 150 && r.table === '150' && r.src === 'all'));
  const fdb = (await json('bridge', ['-j', 'fdb', 'show', 'dev', 'vx-submariner'])) as any[];
  assert.deepEqual(fdb.map((e) => e.dst).sort(), ['192.168.70.2', '192.168.70.3']);
  assert.equal((await readFile('/proc/sys/net/ipv4/conf/vx-submariner/rp_filter', 'utf8')).trim(), '2');
  assert.equal((await readFile('/proc/sys/net/ipv4/neigh/vx-submariner/retrans_time_ms', 'utf8')).trim(), '100');

  const second = await dataplane.apply(desired());
  assert.deepEqual(second.failures, []);
  assert.equal(second.writes, 0);
});

test('drift: a route deleted by someone else, the rule, an FDB entry and the link MTU are repaired with one write each', async () => {
  await run('ip', ['route', 'del', '10.3.0.0/16', 'table', '100']);
  await run('ip', ['rule', 'del', 'priority', '150']);
  await run('bridge', ['fdb', 'del', '00:00:00:00:00:00', 'dst', '192.168.70.3', 'dev', 'vx-submariner']);
  await run('ip', ['link', 'set', 'vx-submariner', 'mtu', '1300']);
  const report = await dataplane.apply(desired());
  assert.deepEqual(report.failures, []);
  assert.equal(report.writes, 4);
  assert.equal((await table(100)).filter((r) => r.protocol === '147').length, 2);
  assert.equal((await dataplane.apply(desired())).writes, 0);
});

test('a changed desired state writes only the difference', async () => {
  const next = desired();
  next.routes = [{ ...next.routes[0]!, gateway: '240.168.70.9' }, next.routes[2]!];
  next.fdb = next.fdb.slice(0, 1);
  const report = await dataplane.apply(next);
  assert.deepEqual(report.failures, []);
  assert.deepEqual(report.writesByKind, { route: { ok: 2, failed: 0 }, fdb: { ok: 1, failed: 0 } });
  assert.deepEqual((await table(100)).filter((r) => r.protocol === '147').map((r) => `${r.dst} ${r.gateway}`), ['10.2.0.0/16 240.168.70.9']);
  await dataplane.apply(desired());
});

test('one bad object is reported and the others are still programmed', async () => {
  const next = desired();
  next.routes.push({ table: 100, dst: '10.5.0.0/16', dev: 'missing0' });
  next.routes.push({ table: 100, dst: '10.6.0.0/16', gateway: '172.16.0.1', dev: 'vx-submariner' });
  next.routes.push({ table: 100, dst: '10.7.0.0/16', gateway: '240.168.70.2', dev: 'vx-submariner' });
  const report = await dataplane.apply(next);
  assert.deepEqual(report.failures.map((f) => [f.object, f.code ?? f.reason, f.blocked ?? false]), [
    // A missing device is something to wait for (pending), not a failure with a backoff of its own.
    ['route 10.5.0.0/16 dev missing0 table 100', 'waiting for device missing0', true],
    ['route 10.6.0.0/16 via 172.16.0.1 dev vx-submariner table 100', 'ENETUNREACH', false],
  ]);
  assert.ok((await table(100)).some((r) => r.dst === '10.7.0.0/16'));
  await dataplane.apply(desired());
});

test('objects the gate holds back are not written and are reported deferred; the others are programmed', async () => {
  const next = desired();
  next.routes.push({ table: 100, dst: '10.8.0.0/16', gateway: '240.168.70.2', dev: 'vx-submariner' });
  next.routes.push({ table: 100, dst: '10.9.0.0/16', gateway: '240.168.70.2', dev: 'vx-submariner' });
  const report = await dataplane.apply(next, (kind, key) => !(kind === 'route' && key === '100 10.8.0.0/16'));
  assert.deepEqual(report.deferred, [{ kind: 'route', key: '100 10.8.0.0/16' }]);
  assert.deepEqual(report.failures, []);
  const dsts = (await table(100)).map((r) => r.dst);
  assert.ok(!dsts.includes('10.8.0.0/16') && dsts.includes('10.9.0.0/16'), `table 100: ${dsts.join(', ')}`);
  await dataplane.apply(desired());
});

test('a link with parameters VXLAN cannot change in place is recreated, and its routes come back', async () => {
  const next = desired();
  next.links = [{ ...next.links[0]!, vni: 101, remote: '192.168.70.2' }];
  next.fdb = [];
  const report = await dataplane.apply(next);
  assert.deepEqual(report.failures, []);
  const [link] = (await json('ip', ['-j', '-d', 'link', 'show', 'vx-submariner'])) as any[];
  assert.equal(link.linkinfo.info_data.id, 101);
  assert.equal(link.linkinfo.info_data.remote, '192.168.70.2');
  assert.equal((await table(100)).filter((r) => r.protocol === '147').length, 2);
  assert.equal((await dataplane.apply(next)).writes, 0, 'the kernel default FDB entry for the remote is not treated as ours');
  assert.equal((await dataplane.apply(desired())).failures.length, 0);
});

test('a rule at seaway priority without seaway protocol is not seaway\'s and is never touched (other than Submariner\'s own rule 150 lookup 150)', async () => {
  // Another table at priority 150, and a rule with a selector: neither is Submariner's route agent's leftover.
  await run('ip', ['rule', 'add', 'priority', '150', 'lookup', '151']);
  await run('ip', ['rule', 'add', 'priority', '150', 'from', '10.97.0.0/16', 'lookup', '150']);
  const foreignAt150 = async () => ((await json('ip', ['-j', 'rule', 'show'])) as any[]).filter((r) => r.priority === 150 && r.protocol !== '147').length;
  try {
    const report = await dataplane.apply(desired());
    assert.deepEqual(report.failures, []);
    assert.equal(report.writes, 0);
    // Removing seaway's own rule at that priority leaves the unmarked ones in place.
    assert.deepEqual((await dataplane.apply({ ...desired(), rules: [{ priority: 100, table: 100 }] })).failures, []);
    assert.equal(await foreignAt150(), 2);
  } finally {
    await run('ip', ['rule', 'del', 'priority', '150', 'lookup', '151']);
    await run('ip', ['rule', 'del', 'priority', '150', 'from', '10.97.0.0/16', 'lookup', '150']);
  }
  assert.equal(await foreignAt150(), 0);
  await dataplane.apply(desired());
});

test('a route of someone else\'s at a wanted destination is never touched and is reported while the kernel uses it; freed, seaway\'s route returns', async () => {
  const routesAt = async (t: number, dst: string) => ((await json('ip', ['-j', 'route', 'show', 'table', String(t), dst])) as any[])
    .map((r) => `${r.gateway ? `via ${r.gateway} ` : ''}dev ${r.dev} proto ${r.protocol ?? 'boot'}`);
  const heldKeys = (report: Awaited<ReturnType<typeof dataplane.apply>>) => report.failures.map((f) => `${f.key}: ${f.reason.slice(0, f.reason.indexOf(' for this destination'))}`);
  assert.equal((await dataplane.apply(desired())).writes, 0);
  try {
    // Replaced by another protocol: the kernel swaps the route in place.
    await run('ip', ['route', 'replace', '10.2.0.0/16', 'dev', 'under0', 'table', '100', 'proto', 'boot']);
    const replaced = await dataplane.apply(desired());
    assert.deepEqual(heldKeys(replaced), ['100 10.2.0.0/16: the kernel uses 10.2.0.0/16 dev under0 table 100 proto 3 (boot)']);
    assert.equal(replaced.writes, 0);
    assert.deepEqual(await routesAt(100, '10.2.0.0/16'), ['dev under0 proto boot']);
    await run('ip', ['route', 'del', '10.2.0.0/16', 'table', '100', 'proto', 'boot']);
    assert.deepEqual((await dataplane.apply(desired())).failures, []);
    assert.deepEqual(await routesAt(100, '10.2.0.0/16'), ['via 240.168.70.2 dev vx-submariner proto 147']);

    // Prepended ahead of seaway's: the kernel uses it. Even a changed gateway writes nothing there
    // (a replace would take the first route at that key, the foreign one).
    await run('ip', ['route', 'prepend', '10.3.0.0/16', 'dev', 'under0', 'table', '100', 'proto', 'boot']);
    const moved = desired();
    moved.routes = moved.routes.map((r) => (r.dst === '10.3.0.0/16' ? { ...r, gateway: '240.168.70.9' } : r));
    assert.deepEqual(heldKeys(await dataplane.apply(moved)), ['100 10.3.0.0/16: the kernel uses 10.3.0.0/16 dev under0 table 100 proto 3 (boot)']);
    assert.deepEqual(await routesAt(100, '10.3.0.0/16'), ['dev under0 proto boot', 'via 240.168.70.2 dev vx-submariner proto 147']);
    assert.match((await run('ip', ['route', 'get', '10.3.1.1'])).stdout, /dev under0 table 100/, 'the foreign route is the one used (rule 100 leads to table 100)');
    await run('ip', ['route', 'del', '10.3.0.0/16', 'table', '100', 'proto', 'boot']);

    // Appended behind seaway's, or at another metric: the kernel uses seaway's; nothing to report.
    await run('ip', ['route', 'append', '10.3.0.0/16', 'dev', 'under0', 'table', '100', 'proto', 'boot']);
    await run('ip', ['route', 'add', '10.2.0.0/16', 'dev', 'under0', 'table', '100', 'metric', '50', 'proto', 'boot']);
    const behind = await dataplane.apply(moved);
    assert.deepEqual(behind.failures, []);
    assert.deepEqual(await routesAt(100, '10.3.0.0/16'), ['via 240.168.70.9 dev vx-submariner proto 147', 'dev under0 proto boot']);
    await run('ip', ['route', 'del', '10.3.0.0/16', 'table', '100', 'proto', 'boot']);
    await run('ip', ['route', 'del', '10.2.0.0/16', 'table', '100', 'metric', '50', 'proto', 'boot']);

    // Replaced by Submariner's own protocol in table 150: a leftover seaway adopts, so it is made seaway's again.
    await run('ip', ['route', 'replace', '10.4.0.0/16', 'dev', 'under0', 'table', '150', 'proto', 'static']);
    assert.deepEqual((await dataplane.apply(desired())).failures, []);
    assert.deepEqual(await routesAt(150, '10.4.0.0/16'), ['dev under0 proto 147']);
  } finally {
    for (const [dst, t] of [['10.2.0.0/16', '100'], ['10.3.0.0/16', '100'], ['10.4.0.0/16', '150']] as const) {
      for (const proto of ['boot', 'static']) await run('ip', ['route', 'del', dst, 'table', t, 'proto', proto], { allowFailure: true });
    }
  }
  assert.deepEqual((await dataplane.apply(desired())).failures, []);
});

test('stale owned objects from an earlier run are removed when no longer desired', async () => {
  const report = await dataplane.apply({ links: [], routes: [], rules: [], fdb: [], sysctls: [], filter: null });
  assert.deepEqual(report.failures, []);
  assert.equal((await json('ip', ['-j', 'link', 'show', 'type', 'vxlan']) as any[]).length, 0);
  assert.deepEqual((await table(100)).map((r) => r.dst), ['10.99.0.0/16']);
  assert.deepEqual(await table(150), []);
  assert.equal((await readFile('/proc/sys/net/ipv4/ip_forward', 'utf8')), '1\n', 'forwarding is never turned back off');
  await dataplane.apply(desired());
});

test('cleanup, also by a fresh instance after a restart, leaves the namespace as it was before (forwarding stays on)', async () => {
  await dataplane.apply(desired());
  const afterRestart = createRoutingDataplane({ rtnl, sysctls: procSysctls(), sysctlStatePath, logger });
  const report = await afterRestart.cleanup();
  assert.deepEqual(report.failures, []);
  assert.deepEqual(await snapshot(), { ...before, sysctls: [before.sysctls[0], '1\n'] });
  await assert.rejects(readFile(sysctlStatePath), { code: 'ENOENT' });
  const again = await afterRestart.cleanup();
  assert.deepEqual(again, { writes: 0, writesByKind: {}, failures: [], deferred: [], written: [] });
});
