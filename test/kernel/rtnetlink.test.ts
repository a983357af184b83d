import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { runInsideNetns } from '../helpers/in-netns.ts';
import { requireTools } from '../helpers/prereq.ts';
import { run } from '../../src/kernel/exec.ts';
import { openRtnetlink, NetlinkError } from '../../src/kernel/rtnetlink.ts';
import { OWNERSHIP } from '../../src/model/ownership.ts';
import { applyOne, linkNamed } from '../helpers/rtnetlink.ts';

await runInsideNetns(import.meta.url, 'drtnl');
requireTools('ip', 'bridge');

const ipJson = async (args: string[]): Promise<any[]> => JSON.parse((await run('ip', ['-j', ...args])).stdout || '[]');
const rtnl = openRtnetlink();
after(() => rtnl.close());

await run('ip', ['link', 'add', 'under0', 'type', 'veth', 'peer', 'name', 'under1']);
await run('ip', ['link', 'set', 'under0', 'up']);
await run('ip', ['link', 'set', 'under1', 'up']);
await run('ip', ['addr', 'add', '192.168.50.1/24', 'dev', 'under0']);

test('lists links with the same names, indexes, MTUs and up state as ip -j link', async () => {
  const ours = await rtnl.listLinks();
  const theirs = await ipJson(['link', 'show']);
  assert.deepEqual(
    ours.map((l) => ({ name: l.name, index: l.index, mtu: l.mtu, up: l.up })).sort((a, b) => a.index - b.index),
    theirs.map((l) => ({ name: l.ifname, index: l.ifindex, mtu: l.mtu, up: (l.flags as string[]).includes('UP') })).sort((a, b) => a.index - b.index),
  );
  assert.equal(ours.find((l) => l.name === 'under0')?.kind, 'veth');
});

test('creates a VXLAN link that ip -d reports with the same vni, port, local, remote, underlay, learning and MTU', async () => {
  const under = (await linkNamed(rtnl, 'under0'))!;
  await applyOne(rtnl, { kind: 'link', write: 'create-vxlan', vxlan: { name: 'vx-test', vni: 100, port: 4800, local: '192.168.50.1', remote: '192.168.50.2', underlayIndex: under.index, mtu: 1400 } });
  try {
    const [info] = await ipJson(['-d', 'link', 'show', 'vx-test']);
    const data = info.linkinfo.info_data;
    assert.equal(info.linkinfo.info_kind, 'vxlan');
    assert.equal(data.id, 100);
    assert.equal(data.port, 4800);
    assert.equal(data.local, '192.168.50.1');
    assert.equal(data.remote, '192.168.50.2');
    assert.equal(data.link, 'under0');
    assert.equal(data.learning, false);
    assert.equal(info.mtu, 1400);
    assert.ok(info.flags.includes('UP'));
    const ours = (await linkNamed(rtnl, 'vx-test'))!;
    assert.deepEqual(ours.vxlan, { vni: 100, port: 4800, local: '192.168.50.1', remote: '192.168.50.2', underlayIndex: under.index, learning: false });

    await applyOne(rtnl, { kind: 'link', write: 'set-mtu', index: ours.index, mtu: 1350 });
    await applyOne(rtnl, { kind: 'link', write: 'set-up', index: ours.index, up: false });
    const [changed] = await ipJson(['link', 'show', 'vx-test']);
    assert.equal(changed.mtu, 1350);
    assert.ok(!changed.flags.includes('UP'));
  } finally {
    const link = await linkNamed(rtnl, 'vx-test');
    if (link) await applyOne(rtnl, { kind: 'link', write: 'delete', index: link.index });
  }
  assert.deepEqual(await ipJson(['link', 'show', 'type', 'vxlan']), []);
});

test('creating a link that exists fails with EEXIST naming the object', async () => {
  const under = (await linkNamed(rtnl, 'under0'))!;
  await assert.rejects(
    applyOne(rtnl, { kind: 'link', write: 'create-vxlan', vxlan: { name: 'under1', vni: 7, port: 4800, local: '192.168.50.1', underlayIndex: under.index, mtu: 1400 } }),
    (error: unknown) => error instanceof NetlinkError && error.code === 'EEXIST' && /under1/.test(error.message),
  );
});

test('adds and deletes an IPv4 address as ip -j addr shows it', async () => {
  const under = (await linkNamed(rtnl, 'under1'))!;
  await applyOne(rtnl, { kind: 'address', write: 'create', ifindex: under.index, cidr: '240.168.50.2/8' });
  const [info] = await ipJson(['-4', 'addr', 'show', 'dev', 'under1']);
  assert.deepEqual(info.addr_info.map((a: any) => `${a.local}/${a.prefixlen}`), ['240.168.50.2/8']);
  assert.deepEqual((await rtnl.listAddresses(under.index)).map((a) => a.cidr), ['240.168.50.2/8']);
  await applyOne(rtnl, { kind: 'address', write: 'delete', ifindex: under.index, cidr: '240.168.50.2/8' });
  assert.deepEqual((await rtnl.listAddresses(under.index)), []);
  await assert.rejects(applyOne(rtnl, { kind: 'address', write: 'delete', ifindex: under.index, cidr: '240.168.50.2/8' }), (e: unknown) => e instanceof NetlinkError && e.code === 'EADDRNOTAVAIL');
});

test('creates, replaces and deletes a route in table 100 with seaway protocol, as ip -j route shows it', async () => {
  const under = (await linkNamed(rtnl, 'under0'))!;
  const route = { table: 100, dst: '10.20.0.0/16', gateway: '192.168.50.2', oif: under.index, src: '192.168.50.1', protocol: OWNERSHIP.routeProtocol };
  await applyOne(rtnl, { kind: 'route', write: 'create', route: route });
  let [shown] = await ipJson(['route', 'show', 'table', '100']);
  assert.deepEqual({ dst: shown.dst, gateway: shown.gateway, dev: shown.dev, prefsrc: shown.prefsrc, protocol: shown.protocol },
    { dst: '10.20.0.0/16', gateway: '192.168.50.2', dev: 'under0', prefsrc: '192.168.50.1', protocol: '147' });
  assert.deepEqual(await rtnl.listRoutes({ table: 100, protocol: OWNERSHIP.routeProtocol }),
    [{ table: 100, dst: '10.20.0.0/16', gateway: '192.168.50.2', oif: under.index, src: '192.168.50.1', protocol: 147, scope: 0, type: 1 }]);

  await assert.rejects(applyOne(rtnl, { kind: 'route', write: 'create', route: route }), (e: unknown) => e instanceof NetlinkError && e.code === 'EEXIST');
  await applyOne(rtnl, { kind: 'route', write: 'replace', route: { ...route, gateway: '192.168.50.3' } });
  [shown] = await ipJson(['route', 'show', 'table', '100']);
  assert.equal(shown.gateway, '192.168.50.3');

  await applyOne(rtnl, { kind: 'route', write: 'delete', route: route });
  assert.deepEqual(await ipJson(['route', 'show', 'table', '100']), []);
});

test('a device route without gateway gets link scope, and a table above 255 is kept', async () => {
  const under = (await linkNamed(rtnl, 'under0'))!;
  await applyOne(rtnl, { kind: 'route', write: 'create', route: { table: 1000, dst: '10.30.0.0/24', oif: under.index, protocol: 147 } });
  const [shown] = await ipJson(['route', 'show', 'table', '1000']);
  assert.equal(shown.scope, 'link');
  assert.equal(shown.dev, 'under0');
  await applyOne(rtnl, { kind: 'route', write: 'delete', route: { table: 1000, dst: '10.30.0.0/24', protocol: 147 } });
  assert.deepEqual(await ipJson(['route', 'show', 'table', '1000']), []);
});

test('deleting by seaway protocol never removes an unmarked route with the same destination', async () => {
  await run('ip', ['route', 'add', '10.40.0.0/16', 'dev', 'under0', 'table', '100']);
  try {
    await assert.rejects(applyOne(rtnl, { kind: 'route', write: 'delete', route: { table: 100, dst: '10.40.0.0/16', protocol: 147 } }), (e: unknown) => e instanceof NetlinkError && e.code === 'ESRCH');
    assert.equal((await ipJson(['route', 'show', 'table', '100'])).length, 1);
  } finally {
    await run('ip', ['route', 'del', '10.40.0.0/16', 'table', '100']);
  }
});

test('adds and deletes a policy rule as ip -j rule shows it', async () => {
  await applyOne(rtnl, { kind: 'rule', write: 'create', rule: { priority: 100, table: 100, protocol: 147 } });
  const rules = await ipJson(['rule', 'show']);
  const ours = rules.find((r) => r.priority === 100);
  assert.equal(ours.table, '100');
  assert.equal(ours.protocol, '147');
  assert.ok((await rtnl.listRules()).some((r) => r.priority === 100 && r.table === 100 && r.protocol === 147 && !r.selective));
  await assert.rejects(applyOne(rtnl, { kind: 'rule', write: 'create', rule: { priority: 100, table: 100, protocol: 147 } }), (e: unknown) => e instanceof NetlinkError && e.code === 'EEXIST');
  await applyOne(rtnl, { kind: 'rule', write: 'delete', rule: { priority: 100, table: 100, protocol: 147 } });
  assert.equal((await ipJson(['rule', 'show'])).some((r) => r.priority === 100), false);
});

test('appends and deletes all-zeros FDB entries as bridge -j fdb shows them', async () => {
  const under = (await linkNamed(rtnl, 'under0'))!;
  await applyOne(rtnl, { kind: 'link', write: 'create-vxlan', vxlan: { name: 'vx-fdb', vni: 100, port: 4800, local: '192.168.50.1', underlayIndex: under.index, mtu: 1400 } });
  const vx = (await linkNamed(rtnl, 'vx-fdb'))!;
  try {
    await applyOne(rtnl, { kind: 'fdb', write: 'append', entry: { ifindex: vx.index, mac: '00:00:00:00:00:00', dst: '192.168.50.7' } });
    await applyOne(rtnl, { kind: 'fdb', write: 'append', entry: { ifindex: vx.index, mac: '00:00:00:00:00:00', dst: '192.168.50.8' } });
    const shown = JSON.parse((await run('bridge', ['-j', 'fdb', 'show', 'dev', 'vx-fdb'])).stdout);
    assert.deepEqual(shown.map((e: any) => `${e.mac} ${e.dst} ${e.state}`).sort(),
      ['00:00:00:00:00:00 192.168.50.7 permanent', '00:00:00:00:00:00 192.168.50.8 permanent']);
    assert.deepEqual((await rtnl.listFdb(vx.index)).map((e) => e.dst).sort(), ['192.168.50.7', '192.168.50.8']);
    await applyOne(rtnl, { kind: 'fdb', write: 'delete', entry: { ifindex: vx.index, mac: '00:00:00:00:00:00', dst: '192.168.50.7' } });
    assert.deepEqual((await rtnl.listFdb(vx.index)).map((e) => e.dst), ['192.168.50.8']);
  } finally {
    await applyOne(rtnl, { kind: 'link', write: 'delete', index: vx.index });
  }
});

test('malformed input is reported per write, with the object, and the other writes still happen', async () => {
  const under = (await linkNamed(rtnl, 'under0'))!;
  const results = await rtnl.apply([
    { kind: 'route', write: 'create', route: { table: 100, dst: '10.50.0.0/33', oif: under.index, protocol: 147 } },
    { kind: 'fdb', write: 'append', entry: { ifindex: under.index, mac: 'zz', dst: '1.2.3.4' } },
    { kind: 'route', write: 'create', route: { table: 100, dst: '10.51.0.0/16', oif: under.index, protocol: 147 } },
  ]);
  assert.equal(results[0]!.ok, false);
  assert.match(!results[0]!.ok ? results[0]!.error.message : '', /10\.50\.0\.0\/33/);
  assert.equal(results[1]!.ok, false);
  assert.equal(results[2]!.ok, true);
  await applyOne(rtnl, { kind: 'route', write: 'delete', route: { table: 100, dst: '10.51.0.0/16', protocol: 147 } });
});
