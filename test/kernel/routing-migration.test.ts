import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInsideNetns } from '../helpers/in-netns.ts';
import { requireTools } from '../helpers/prereq.ts';
import { run } from '../../src/kernel/exec.ts';
import { openRtnetlink, type KernelWrite } from '../../src/kernel/rtnetlink.ts';
import { procSysctls } from '../../src/kernel/sysctl.ts';
import { createRoutingDataplane } from '../../src/dataplane/routing-dataplane.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import type { DesiredState } from '../../src/model/desired-state.ts';

/**
 * A node moving to seaway's routing layout: from seaway's own earlier one (table 100 behind rule
 * 100), and from Submariner's route agent (main-table routes proto static on vx-submariner; on the
 * gateway, table 150 proto static and a rule 150 without protocol). Each ends exactly as seaway
 * wants it, everything not seaway's or Submariner's route agent's is untouched, and cleanup
 * leaves none of it.
 */
await runInsideNetns(import.meta.url, 'mig');
requireTools('ip');

const ip = (...args: string[]) => run('ip', args);
const rtnl = openRtnetlink();
const stateDir = await mkdtemp(join(tmpdir(), 'seaway-mig-'));
after(async () => { rtnl.close(); await rm(stateDir, { recursive: true, force: true }); });
/** Every write the dataplane sends, to tell a route replaced in place from one deleted and created. */
const sent: KernelWrite[] = [];
const recording = { ...rtnl, apply: async (writes: readonly KernelWrite[]) => { sent.push(...writes); return rtnl.apply(writes); } };
const dataplane = createRoutingDataplane({ rtnl: recording, sysctls: procSysctls(), sysctlStatePath: join(stateDir, 'sysctls.json'), logger: createLogger('silent') });

await ip('link', 'add', 'under0', 'type', 'veth', 'peer', 'name', 'under1');
await ip('link', 'set', 'under0', 'up');
await ip('link', 'set', 'under1', 'up');
await ip('addr', 'add', '192.168.72.21/24', 'dev', 'under0');
await ip('route', 'add', 'default', 'via', '192.168.72.254');

const lines = async (...args: string[]) => (await ip(...args)).stdout.split('\n').map((l) => l.trim()).filter(Boolean).sort();
const VXLAN = { name: 'vx-submariner', vni: 100, port: 4800, mtu: 1450, local: '192.168.72.21', underlayDevice: 'under0', address: '240.168.72.21/8' };

const worker = (): DesiredState => ({
  links: [{ ...VXLAN, remote: '192.168.72.10' }],
  routes: ['10.2.0.0/16', '10.3.0.0/16'].map((dst) => ({ table: 254, dst, gateway: '240.168.72.10', dev: 'vx-submariner' })),
  rules: [], fdb: [], sysctls: [], filter: null,
});
const gateway = (): DesiredState => ({
  links: [VXLAN],
  routes: ['10.2.0.0/16', '10.3.0.0/16'].map((dst) => ({ table: 150, dst, dev: 'under0', src: '192.168.72.21' })),
  rules: [{ priority: 150, table: 150 }], fdb: [], sysctls: [], filter: null,
});

async function reset(): Promise<void> {
  await dataplane.cleanup();
  await ip('link', 'del', 'vx-submariner').catch(() => undefined);
}

test('seaway\'s earlier worker layout (table 100 behind rule 100) becomes main-table routes; the rule and the old routes go, others\' stay', async () => {
  await reset();
  // Someone else's rule and route in table 100 (Submariner's VXLAN cable uses it on gateways): never touched.
  await ip('rule', 'add', 'pref', '100', 'lookup', '100');
  await ip('route', 'add', '10.99.0.0/16', 'dev', 'under0', 'table', '100');
  const earlier = worker();
  earlier.rules = [{ priority: 100, table: 100 }];
  earlier.routes = earlier.routes.map((r) => ({ ...r, table: 100 }));
  assert.deepEqual((await dataplane.apply(earlier)).failures, []);
  assert.deepEqual(await lines('route', 'show', 'table', '100', 'proto', '147'), ['10.2.0.0/16 via 240.168.72.10 dev vx-submariner', '10.3.0.0/16 via 240.168.72.10 dev vx-submariner']);

  const report = await dataplane.apply(worker());
  assert.deepEqual(report.failures, []);
  assert.deepEqual(await lines('route', 'show', 'table', '100'), ['10.99.0.0/16 dev under0 scope link']);
  assert.deepEqual(await lines('route', 'show', 'proto', '147'), ['10.2.0.0/16 via 240.168.72.10 dev vx-submariner', '10.3.0.0/16 via 240.168.72.10 dev vx-submariner']);
  assert.deepEqual((await lines('rule', 'show')).filter((l) => l.startsWith('100:')), ['100:\tfrom all lookup 100'], 'only the rule that was not seaway\'s');
  assert.equal((await dataplane.apply(worker())).writes, 0, 'then nothing left to do');
  await ip('rule', 'del', 'pref', '100', 'lookup', '100');
  await ip('route', 'del', '10.99.0.0/16', 'table', '100');
});

test('a worker where Submariner\'s route agent ran: its main-table routes are taken over in place (no delete), a stale one goes', async () => {
  await reset();
  await ip('link', 'add', 'vx-submariner', 'type', 'vxlan', 'id', '100', 'local', '192.168.72.21', 'remote', '192.168.72.10', 'dstport', '4800', 'dev', 'under0', 'nolearning');
  await ip('link', 'set', 'vx-submariner', 'mtu', '1450', 'up');
  await ip('addr', 'add', '240.168.72.21/8', 'dev', 'vx-submariner');
  for (const dst of ['10.2.0.0/16', '10.3.0.0/16', '10.4.0.0/16']) await ip('route', 'add', dst, 'via', '240.168.72.10', 'dev', 'vx-submariner', 'proto', 'static');
  // Someone's static route elsewhere in main, and one on vx-submariner that is not via a VTEP: not Submariner's route agent's.
  await ip('route', 'add', '10.98.0.0/16', 'via', '192.168.72.1', 'dev', 'under0', 'proto', 'static');
  sent.length = 0;
  const report = await dataplane.apply(worker());
  assert.deepEqual(report.failures, []);
  const routeWrites = sent.flatMap((w) => (w.kind === 'route' ? [`${w.write} ${w.route.dst}`] : []));
  assert.deepEqual(routeWrites.sort(), ['delete 10.4.0.0/16', 'replace 10.2.0.0/16', 'replace 10.3.0.0/16'], 'the wanted ones replaced in place (never without a route), the stale one removed');
  assert.deepEqual(await lines('route', 'show', 'dev', 'vx-submariner'), [
    '10.2.0.0/16 via 240.168.72.10 proto 147', '10.3.0.0/16 via 240.168.72.10 proto 147', '240.0.0.0/8 proto kernel scope link src 240.168.72.21',
  ]);
  assert.ok((await lines('route', 'show', '10.98.0.0/16')).length === 1, 'the other static route is untouched');
  assert.equal((await dataplane.apply(worker())).writes, 0);
  await ip('route', 'del', '10.98.0.0/16');
});

test('a gateway where Submariner\'s route agent ran: table 150 routes taken over, its rule 150 replaced by seaway\'s (one rule left)', async () => {
  await reset();
  await ip('link', 'add', 'vx-submariner', 'type', 'vxlan', 'id', '100', 'local', '192.168.72.21', 'dstport', '4800', 'dev', 'under0', 'nolearning');
  await ip('link', 'set', 'vx-submariner', 'mtu', '1450', 'up');
  await ip('addr', 'add', '240.168.72.21/8', 'dev', 'vx-submariner');
  await ip('rule', 'add', 'pref', '150', 'lookup', '150');
  for (const dst of ['10.2.0.0/16', '10.5.0.0/16']) await ip('route', 'add', dst, 'dev', 'under0', 'src', '192.168.72.21', 'proto', 'static', 'table', '150');

  assert.deepEqual((await dataplane.apply(gateway())).failures, []);
  assert.deepEqual((await lines('rule', 'show')).filter((l) => l.startsWith('150:')), ['150:\tfrom all lookup 150 proto 147']);
  assert.deepEqual(await lines('route', 'show', 'table', '150'), [
    '10.2.0.0/16 dev under0 proto 147 scope link src 192.168.72.21', '10.3.0.0/16 dev under0 proto 147 scope link src 192.168.72.21',
  ]);
  assert.equal((await dataplane.apply(gateway())).writes, 0);

  // And seaway cleanup afterwards leaves none of it: no rule 150, no table 150, no vx-submariner.
  assert.deepEqual((await dataplane.cleanup()).failures, []);
  assert.deepEqual((await lines('rule', 'show')).filter((l) => l.startsWith('150:')), []);
  assert.deepEqual(await lines('route', 'show', 'table', '150'), []);
  assert.deepEqual(await lines('link', 'show', 'vx-submariner').catch(() => []), []);
});

test('cleanup with Submariner\'s rule 150 and seaway\'s side by side removes both, whichever comes first', async () => {
  await reset();
  await ip('rule', 'add', 'pref', '150', 'lookup', '150', 'proto', '147');
  await ip('rule', 'add', 'pref', '150', 'lookup', '150');
  assert.deepEqual((await dataplane.cleanup()).failures, []);
  assert.deepEqual((await lines('rule', 'show')).filter((l) => l.startsWith('150:')), []);
});

test('longest prefix wins: a more specific route the node already has keeps its traffic, the rest of the remote subnet goes to the gateway', async () => {
  await reset();
  await ip('route', 'add', '10.2.5.0/24', 'via', '192.168.72.1', 'dev', 'under0');
  assert.deepEqual((await dataplane.apply(worker())).failures, []);
  assert.match((await ip('route', 'get', '10.2.5.7')).stdout, /via 192\.168\.72\.1 dev under0/);
  assert.match((await ip('route', 'get', '10.2.6.7')).stdout, /via 240\.168\.72\.10 dev vx-submariner/);
  await ip('route', 'del', '10.2.5.0/24');
  await reset();
});
