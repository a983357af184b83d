/**
 * The quiet pass against the real kernel (issue 16): the reconcile pass as the agent runs it (real
 * rtnetlink, routing dataplane, nftables filter driver, the agent's own kernel-event watch feeding
 * KernelChanges), every kernel read and write counted at its seam: the rtnetlink calls, the tool
 * runs and the filter's netlink calls. Once programmed, a pass with nothing new reads no table
 * and writes nothing; a route deleted behind its back is read back and repaired from the routing
 * part alone; a changed Endpoint is written as its difference without a route dump.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { runInsideNetns } from '../helpers/in-netns.ts';
import { requireTools } from '../helpers/prereq.ts';
import { waitFor } from '../helpers/wait.ts';
import { run } from '../../src/kernel/exec.ts';
import { openRtnetlink, type Rtnetlink } from '../../src/kernel/rtnetlink.ts';
import { procSysctls } from '../../src/kernel/sysctl.ts';
import { createRoutingDataplane } from '../../src/dataplane/routing-dataplane.ts';
import { createFilterDriver, KERNEL_FILTER_NETLINK } from '../../src/dataplane/filter.ts';
import type { FilterNetlink } from '../../src/dataplane/filter-iptables.ts';
import { watchOwnedObjects } from '../../src/dataplane/owned-object-events.ts';
import { createPass, PROGRAMMED } from '../../src/reconcile/pass.ts';
import { KernelChanges } from '../../src/reconcile/kernel-changes.ts';
import { ObjectTable } from '../../src/reconcile/object-table.ts';
import { TugOfWar } from '../../src/reconcile/tug-of-war.ts';
import { createFightReport } from '../../src/reconcile/fight-report.ts';
import { createMetrics } from '../../src/telemetry/metrics.ts';
import { Readiness } from '../../src/server/readiness.ts';
import { parseConfig, type RunConfig } from '../../src/config.ts';
import type { Snapshot } from '../../src/model/snapshot.ts';
import { endpoint, gatewayNode, node, spec } from '../unit/model-fixtures.ts';
import { recordingRunner } from './filter-support.ts';

await runInsideNetns(import.meta.url, 'quiet');
requireTools('ip', 'nft');

await run('ip', ['link', 'set', 'lo', 'up']);
await run('ip', ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0-peer']);
await run('ip', ['link', 'set', 'eth0', 'up']);
await run('ip', ['link', 'set', 'eth0-peer', 'up']);
await run('ip', ['addr', 'add', '192.168.1.21/24', 'dev', 'eth0']);
await run('ip', ['route', 'add', 'default', 'via', '192.168.1.1']);
await run('ip', ['link', 'add', 'cni0', 'type', 'veth', 'peer', 'name', 'cni0-peer']);
await run('ip', ['link', 'set', 'cni0', 'up']);
await run('ip', ['link', 'set', 'cni0-peer', 'up']);
await run('ip', ['addr', 'add', '10.244.1.1/24', 'dev', 'cni0']);

const config = parseConfig(['run', '--cluster-id', 'east', '--node-name', 'east-worker', '--pod-cidrs', '10.244.0.0/16', '--service-cidrs', '10.96.0.0/12'], {}) as RunConfig;
const remote = (i: number, subnets: string[]) => endpoint(`ep-${i}`, spec({ cluster_id: `remote${i}`, hostname: `gw-${i}`, private_ip: `192.168.${100 + i}.10`, cable_name: `cable-${i}`, subnets }));
const remotes = Array.from({ length: 20 }, (_, i) => remote(i, [`10.${150 + i}.0.0/16`, `10.${200 + i}.0.0/24`].slice(0, 1 + (i % 2))));
let snapshot: Snapshot = {
  endpoints: [endpoint('east-ep', spec({ cluster_id: 'east', hostname: 'east-gw', private_ip: '192.168.1.10', subnets: ['10.244.0.0/16', '10.96.0.0/12'] })), ...remotes],
  clusters: [],
  nodes: [gatewayNode('east-gw', '192.168.1.10'), node('east-worker', '192.168.1.21')],
};

const base = openRtnetlink();
const stateDir = await mkdtemp(join(tmpdir(), 'seaway-quiet-'));
const rtnlCalls: string[] = [];
/** The rtnetlink handle with every call counted by name. */
const rtnl = new Proxy(base, {
  get(target, key) {
    const value = (target as unknown as Record<string | symbol, unknown>)[key];
    if (typeof value !== 'function') return value;
    return (...args: unknown[]) => { rtnlCalls.push(String(key)); return (value as (...a: unknown[]) => unknown).apply(target, args); };
  },
}) as Rtnetlink;
const tools = recordingRunner();
const netlinkCalls: string[] = [];
const netlink: FilterNetlink = {
  iptablesTableNames: (mode) => { netlinkCalls.push('iptablesTableNames'); return KERNEL_FILTER_NETLINK.iptablesTableNames(mode); },
  nftTableState: (...args: Parameters<FilterNetlink['nftTableState']>) => { netlinkCalls.push('nftTableState'); return KERNEL_FILTER_NETLINK.nftTableState(...args); },
  ipsetList: (...args: Parameters<FilterNetlink['ipsetList']>) => { netlinkCalls.push('ipsetList'); return KERNEL_FILTER_NETLINK.ipsetList(...args); },
  ipsetCreate: (...args: Parameters<FilterNetlink['ipsetCreate']>) => { netlinkCalls.push('ipsetCreate'); return KERNEL_FILTER_NETLINK.ipsetCreate(...args); },
  nftChangeElements: (...args: Parameters<FilterNetlink['nftChangeElements']>) => { netlinkCalls.push('nftChangeElements'); return KERNEL_FILTER_NETLINK.nftChangeElements(...args); },
  ipsetChangeMembers: (...args: Parameters<FilterNetlink['ipsetChangeMembers']>) => { netlinkCalls.push('ipsetChangeMembers'); return KERNEL_FILTER_NETLINK.ipsetChangeMembers(...args); },
  nftFillAndWake: (...args: Parameters<FilterNetlink['nftFillAndWake']>) => { netlinkCalls.push('nftFillAndWake'); return KERNEL_FILTER_NETLINK.nftFillAndWake(...args); },
};
const driver = await createFilterDriver('nftables', { run: tools.run, netlink });
const kernelChanges = new KernelChanges();
const routing = createRoutingDataplane({ rtnl, sysctls: procSysctls(), sysctlStatePath: join(stateDir, 'sysctls.json'), logger: pino({ level: 'silent' }) });
const readiness = new Readiness({ [PROGRAMMED]: 'no pass yet' });
const metrics = createMetrics({ defaultMetrics: false });
const logger = pino({ level: 'silent' });
const pass = createPass({
  config, logger, metrics, readiness, rtnl, routing, filter: driver, kernelChanges,
  table: new ObjectTable({ backoff: { minMs: 100, maxMs: 1000 } }),
  fights: createFightReport({ war: new TugOfWar({ repairs: 3, windowMs: 60_000, backoff: { minMs: 4000, maxMs: 16_000 } }), readiness, metrics, logger }),
  informersSynced: () => true, snapshot: () => snapshot, nodeReady: () => true,
  cniInterface: () => ({ name: 'cni0', address: '10.244.1.1', index: 0, prefixLength: 24 }),
});
const reasons: string[] = [];
const watch = watchOwnedObjects(
  (reason) => { reasons.push(reason); kernelChanges.changed('routing'); }, () => routing.routeDestinations(), undefined, () => 'eth0',
  () => kernelChanges.changed('host-network'),
);
kernelChanges.watching('routing');
kernelChanges.watching('host-network');
kernelChanges.watching('filter');
after(async () => { watch.close(); base.close(); await rm(stateDir, { recursive: true, force: true }); });

/** Everything the pass asked of the kernel: rtnetlink calls, tool runs, the filter's netlink calls. */
const touched = () => [...rtnlCalls, ...tools.calls.map((c) => `${c.file} ${c.args.join(' ')}`), ...netlinkCalls];
const forget = () => { rtnlCalls.length = 0; tools.reset(); netlinkCalls.length = 0; };
const ownedRoutes = async () => (JSON.parse((await run('ip', ['-j', 'route', 'show', 'table', 'main', 'proto', '147'])).stdout || '[]') as Array<{ dst: string }>).map((r) => r.dst).sort();

/** Passes until one touches nothing: the events of the pass's own writes (vx-submariner made) come back once. */
async function settle(): Promise<void> {
  await waitFor('a pass that touches nothing', async () => { forget(); await pass(['API objects changed']); return touched().length === 0; }, { timeoutMs: 15_000, intervalMs: 20 });
}

test('once programmed, a pass with nothing new reads no table (routes, rules, links, addresses, chains, sets) and writes nothing, pass after pass', async () => {
  await pass(['start']);
  assert.equal(readiness.ready, true, readiness.reasons.join('; '));
  assert.equal((await ownedRoutes()).length, 30);
  await settle();
  for (let i = 0; i < 5; i++) await pass(['API objects changed']);
  assert.deepEqual(touched(), []);
  assert.equal(readiness.ready, true);
});

test('a route of seaway\'s deleted behind its back: its event marks routing alone, which is read back and repaired; the filter and the node\'s facts are not read', async () => {
  await settle();
  await run('ip', ['route', 'del', '10.150.0.0/16', 'table', 'main']);
  await waitFor('the deletion\'s event', () => reasons.some((r) => r.includes('10.150.0.0/16')), { timeoutMs: 5000, intervalMs: 10 });
  forget();
  await pass(['owned route deleted']);
  assert.ok((await ownedRoutes()).includes('10.150.0.0/16'), 'repaired');
  assert.ok(rtnlCalls.includes('listRoutes'), 'routing read back');
  assert.ok(!rtnlCalls.includes('listDefaultRoutes'), `the node's facts not read again: ${rtnlCalls.join(', ')}`);
  assert.deepEqual([...tools.calls, ...netlinkCalls], [], 'packet filter not read');
});

test('a changed Endpoint on a quiet kernel is written as its difference: no route, rule or FDB dump; the filter is written too', async () => {
  await settle();
  snapshot = { ...snapshot, endpoints: snapshot.endpoints.map((e) => (e.name === 'ep-3' ? remote(3, ['10.240.0.0/16']) : e)) };
  forget();
  reasons.length = 0;
  await pass(['API objects changed']);
  assert.equal(readiness.ready, true, readiness.reasons.join('; '));
  const routes = await ownedRoutes();
  assert.ok(routes.includes('10.240.0.0/16') && !routes.includes('10.153.0.0/16') && !routes.includes('10.203.0.0/24'), routes.join(' '));
  assert.deepEqual(rtnlCalls.filter((c) => c !== 'apply' && c !== 'listLinks'), [], 'only the writes (and the link indexes)');
  assert.deepEqual(tools.writes(), [], 'no filter process');
  assert.ok(netlinkCalls.includes('nftChangeElements'), 'the filter\'s remote CIDRs changed, as nft set elements over netlink');

  // The destinations the event watch guards moved with the difference: the old routes' removal
  // (seaway's own) is not drift; the new route deleted behind seaway's back is.
  assert.deepEqual([...routing.routeDestinations()].sort(), routes.map((dst) => `254 ${dst}`).sort());
  await settle();
  assert.deepEqual(reasons.filter((r) => r.includes('10.153.0.0/16') || r.includes('10.203.0.0/24')), [], 'the removals seaway made woke nothing');
  reasons.length = 0;
  await run('ip', ['route', 'del', '10.240.0.0/16', 'table', 'main']);
  await waitFor('the new route\'s deletion noticed', () => reasons.some((r) => r.includes('10.240.0.0/16')), { timeoutMs: 5000, intervalMs: 10 });
  await pass(['owned route deleted']);
  assert.ok((await ownedRoutes()).includes('10.240.0.0/16'), 'repaired');
});

test('a destination newly wanted where someone else\'s route already sits (no event told of it): the vouched write meets EEXIST, the kernel is read after all, and the route is held and named as without vouching', async () => {
  await settle();
  await run('ip', ['route', 'add', 'blackhole', '10.242.0.0/16', 'proto', 'boot']);
  try {
    snapshot = { ...snapshot, endpoints: snapshot.endpoints.map((e) => (e.name === 'ep-6' ? remote(6, ['10.242.0.0/16']) : e)) };
    forget();
    await pass(['API objects changed']);
    assert.equal(readiness.ready, false);
    assert.match(readiness.reasons.join('; '), /route 10\.242\.0\.0\/16 .*the kernel uses blackhole 10\.242\.0\.0\/16 table 254 proto 3 \(boot\) for this destination, a route seaway does not own/);
    assert.ok(rtnlCalls.includes('listRoutes'), 'read after the refused create');
    assert.ok(!(await ownedRoutes()).includes('10.242.0.0/16'), 'the foreign route stays, seaway writes nothing over it');
  } finally {
    await run('ip', ['route', 'del', 'blackhole', '10.242.0.0/16', 'proto', 'boot'], { allowFailure: true });
  }
});
