/**
 * The host network as the kernel reports it, in a throwaway namespace: default routes in every form
 * (plain, ECMP, nexthop objects with and without nexthop_compat_mode, another table behind a rule),
 * the rules' selectors, and the underlay plan/underlay.ts chooses from that read.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { runInsideNetns } from '../helpers/in-netns.ts';
import { requireTools } from '../helpers/prereq.ts';
import { run } from '../../src/kernel/exec.ts';
import { openRtnetlink } from '../../src/kernel/rtnetlink.ts';
import { readHostNetwork } from '../../src/kernel/host-network.ts';
import { localIpv4Networks } from '../../src/model/host-network.ts';
import { chooseUnderlay, type Underlay } from '../../src/plan/underlay.ts';
import { linkNamed } from '../helpers/rtnetlink.ts';

await runInsideNetns(import.meta.url, 'hnet');
requireTools('ip');

const rtnl = openRtnetlink();
const ip = (...args: string[]) => run('ip', args);
/** Per namespace: this one's only. */
const COMPAT_MODE = '/proc/sys/net/ipv4/nexthop_compat_mode';
let eth0 = 0;
let eth1 = 0;

before(async () => {
  // Peers up too: a nexthop object needs its device's carrier.
  await ip('link', 'add', 'eth0', 'mtu', '1400', 'type', 'veth', 'peer', 'name', 'eth0p');
  await ip('link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'eth1p');
  for (const dev of ['eth0', 'eth0p', 'eth1', 'eth1p']) await ip('link', 'set', dev, 'up');
  await ip('addr', 'add', '10.10.0.5/16', 'dev', 'eth0');
  await ip('addr', 'add', '172.18.0.7/24', 'dev', 'eth0');
  await ip('addr', 'add', '192.168.33.2/24', 'dev', 'eth1');
  eth0 = (await linkNamed(rtnl, 'eth0'))!.index;
  eth1 = (await linkNamed(rtnl, 'eth1'))!.index;
});

after(() => rtnl.close());

async function underlay(internalIP: string | null): Promise<Underlay | string> {
  const choice = chooseUnderlay({ settings: { nodeIp: null, underlayInterface: null }, internalIP, host: await readHostNetwork(rtnl) });
  return choice.ok ? choice.underlay : choice.reason;
}

/** Runs fn, then removes every IPv4 default route, rule and nexthop object it may have left. */
async function scenario(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } finally {
    for (const table of ['main', '200', '201']) await run('ip', ['route', 'flush', 'table', table, '0.0.0.0/0'], { allowFailure: true });
    for (const priority of ['100', '101', '102', '103', '32800']) await run('ip', ['rule', 'del', 'priority', priority], { allowFailure: true });
    await run('ip', ['nexthop', 'flush'], { allowFailure: true });
    await writeFile(COMPAT_MODE, '1\n');
  }
}

test('plain defaults: the lowest metric wins, its device\'s address on the gateway\'s network, then the preferred source; loopback is flagged', () => scenario(async () => {
  assert.deepEqual((await readHostNetwork(rtnl)).defaultRoutes, []);
  assert.match(String(await underlay(null)), /no IPv4 default route applies; give --node-ip/);
  assert.equal((await underlay('192.168.33.2') as Underlay).device, 'eth1', 'air-gapped: the InternalIP\'s interface');
  await ip('route', 'add', 'default', 'via', '172.18.0.1', 'dev', 'eth0', 'metric', '50');
  await ip('route', 'add', 'default', 'via', '192.168.33.1', 'dev', 'eth1', 'metric', '100');
  const u = await underlay(null) as Underlay;
  assert.deepEqual([u.nodeIp, u.device, u.mtu, u.defaultGateways], ['172.18.0.7', 'eth0', 1400, ['172.18.0.1']]);
  await ip('route', 'change', 'default', 'via', '172.18.0.1', 'dev', 'eth0', 'metric', '50', 'src', '10.10.0.5');
  assert.equal((await underlay(null) as Underlay).nodeIp, '10.10.0.5', 'the preferred source wins');
  const host = await readHostNetwork(rtnl);
  assert.deepEqual(host.links.filter((l) => l.loopback).map((l) => l.name), ['lo']);
  assert.deepEqual(localIpv4Networks(host).map((n) => `${n.cidr} ${n.interfaceName}`).sort(), ['10.10.0.0/16 eth0', '172.18.0.0/24 eth0', '192.168.33.0/24 eth1']);
  assert.deepEqual(localIpv4Networks(host, { excludeInterfaces: ['eth1'] }).map((n) => n.cidr).sort(), ['10.10.0.0/16', '172.18.0.0/24']);
}));

test('ECMP: both next hops, in the kernel\'s order, from RTA_MULTIPATH', () => scenario(async () => {
  await ip('route', 'add', 'default', 'nexthop', 'via', '172.18.0.1', 'dev', 'eth0', 'nexthop', 'via', '192.168.33.1', 'dev', 'eth1');
  const [route] = (await readHostNetwork(rtnl)).defaultRoutes;
  assert.deepEqual(route?.paths, [{ ifindex: eth0, gateway: '172.18.0.1' }, { ifindex: eth1, gateway: '192.168.33.1' }]);
  const u = await underlay(null) as Underlay;
  assert.deepEqual([u.nodeIp, u.device, u.defaultGateways], ['172.18.0.7', 'eth0', ['172.18.0.1', '192.168.33.1']]);
  assert.equal((await underlay('192.168.33.2') as Underlay).device, 'eth1');
}));

test('a nexthop-object default: with nexthop_compat_mode=0 the route names only its id, resolved through the objects (a group\'s members in order)', () => scenario(async () => {
  await writeFile(COMPAT_MODE, '0\n');
  await ip('nexthop', 'add', 'id', '1', 'via', '192.168.33.1', 'dev', 'eth1');
  await ip('nexthop', 'add', 'id', '2', 'via', '172.18.0.1', 'dev', 'eth0');
  await ip('nexthop', 'add', 'id', '10', 'group', '1/2');
  await ip('route', 'add', 'default', 'nhid', '10');
  const [raw] = await rtnl.listDefaultRoutes();
  assert.deepEqual([raw?.paths, raw?.nexthopId], [[], 10], 'compat mode 0: the id alone');
  assert.deepEqual((await readHostNetwork(rtnl)).defaultRoutes[0]?.paths, [{ ifindex: eth1, gateway: '192.168.33.1' }, { ifindex: eth0, gateway: '172.18.0.1' }]);
  const u = await underlay(null) as Underlay;
  assert.deepEqual([u.nodeIp, u.device, u.defaultGateways], ['192.168.33.2', 'eth1', ['192.168.33.1', '172.18.0.1']]);

  await ip('route', 'replace', 'default', 'nhid', '2');
  assert.deepEqual((await readHostNetwork(rtnl)).defaultRoutes[0]?.paths, [{ ifindex: eth0, gateway: '172.18.0.1' }], 'a single nexthop object');
  await writeFile(COMPAT_MODE, '1\n');
  const [compat] = await rtnl.listDefaultRoutes();
  assert.deepEqual([compat?.paths, compat?.nexthopId], [[{ ifindex: eth0, gateway: '172.18.0.1' }], 2], 'compat mode 1: the route names its next hop too');
}));

test('policy-routed: a default only in another table behind a rule; a `from` rule counts for its sources; marked and interface rules never', () => scenario(async () => {
  await ip('route', 'add', 'default', 'via', '192.168.33.1', 'dev', 'eth1', 'table', '200');
  await ip('rule', 'add', 'priority', '32800', 'lookup', '200');
  await ip('route', 'add', 'default', 'via', '172.18.0.1', 'dev', 'eth0', 'table', '201');
  await ip('rule', 'add', 'priority', '100', 'from', '172.18.0.0/24', 'lookup', '201');
  await ip('rule', 'add', 'priority', '101', 'fwmark', '0x1', 'lookup', '201');
  await ip('rule', 'add', 'priority', '102', 'iif', 'eth1', 'lookup', '201');
  await ip('rule', 'add', 'priority', '103', 'to', '10.99.0.0/16', 'lookup', '201');
  const rules = (await readHostNetwork(rtnl)).rules.filter((r) => r.table === 200 || r.table === 201);
  assert.deepEqual(rules, [
    { priority: 100, table: 201, narrowed: false, from: '172.18.0.0/24' },
    { priority: 101, table: 201, narrowed: true },
    { priority: 102, table: 201, narrowed: true },
    { priority: 103, table: 201, narrowed: true },
    { priority: 32800, table: 200, narrowed: false },
  ]);
  const unspecified = await underlay(null) as Underlay;
  assert.deepEqual([unspecified.nodeIp, unspecified.device, unspecified.defaultGateways], ['192.168.33.2', 'eth1', ['192.168.33.1']], 'main has none: table 200');
  const fromEth0 = await underlay('172.18.0.7') as Underlay;
  assert.deepEqual([fromEth0.device, fromEth0.defaultGateways], ['eth0', ['172.18.0.1']], 'the `from` rule takes 172.18.0.7\'s traffic to table 201');
}));
