import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInsideNetns } from '../helpers/in-netns.ts';
import { requireTools } from '../helpers/prereq.ts';
import { waitFor } from '../helpers/wait.ts';
import { run } from '../../src/kernel/exec.ts';
import { openRtnetlink, type KernelWrite, type Rtnetlink } from '../../src/kernel/rtnetlink.ts';
import { procSysctls } from '../../src/kernel/sysctl.ts';
import { createRoutingDataplane } from '../../src/dataplane/routing-dataplane.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import { ObjectTable } from '../../src/reconcile/object-table.ts';
import { reconcileComponent } from '../../src/reconcile/component.ts';
import { routingComponent } from '../../src/reconcile/components.ts';
import { startReconcileLoop } from '../../src/reconcile/loop.ts';
import { backoffBounds } from '../../src/model/backoff.ts';
import type { DesiredState } from '../../src/model/desired-state.ts';

await runInsideNetns(import.meta.url, 'eng');
requireTools('ip');

const rtnl = openRtnetlink();
const stateDir = await mkdtemp(join(tmpdir(), 'seaway-eng-'));
after(async () => { rtnl.close(); await rm(stateDir, { recursive: true, force: true }); });
const logger = createLogger('silent');

await run('ip', ['link', 'add', 'under0', 'type', 'veth', 'peer', 'name', 'under1']);
await run('ip', ['link', 'set', 'under0', 'up']);
await run('ip', ['link', 'set', 'under1', 'up']);
await run('ip', ['addr', 'add', '192.168.71.1/24', 'dev', 'under0']);
// Someone else's route where seaway wants one: the kernel refuses seaway's with EEXIST for as long as it stays.
await run('ip', ['route', 'add', '10.2.0.0/16', 'dev', 'under0', 'table', '100']);

const desired: DesiredState = {
  links: [{ name: 'vx-submariner', vni: 100, port: 4800, mtu: 1450, local: '192.168.71.1', underlayDevice: 'under0', address: '240.168.71.1/8' }],
  routes: ['10.2.0.0/16', '10.3.0.0/16', '10.4.0.0/16', '10.5.0.0/16'].map((dst) => ({ table: 100, dst, gateway: '240.168.71.2', dev: 'vx-submariner' })),
  rules: [{ priority: 100, table: 100 }],
  fdb: [],
  sysctls: [],
  filter: null,
};

/** The kernel layer, recording when each write for the contested destination is sent. */
function recording(inner: Rtnetlink, attempts: number[]): Rtnetlink {
  const contested = (w: KernelWrite) => w.kind === 'route' && w.route.dst === '10.2.0.0/16' && w.write !== 'delete';
  return { ...inner, apply: async (writes) => { if (writes.some(contested)) attempts.push(Date.now()); return inner.apply(writes); } };
}

const seawayRoutes = async () => (JSON.parse((await run('ip', ['-j', 'route', 'show', 'table', '100', 'proto', '147'])).stdout || '[]') as Array<{ dst: string }>).map((r) => r.dst);

test('a permanently failing route and a trigger every 20 ms for 5 s: its retries follow its backoff, the rest is programmed at once, passes respect the throttle', async () => {
  const attempts: number[] = [];
  const passStarts: number[] = [];
  const policy = { minMs: 100, maxMs: 1600 };
  const minIntervalMs = 100;
  let loopRef: ReturnType<typeof startReconcileLoop> | null = null;
  const table = new ObjectTable({ backoff: policy, onSettled: () => loopRef?.trigger('settled') });
  const dataplane = createRoutingDataplane({ rtnl: recording(rtnl, attempts), sysctls: procSysctls(), sysctlStatePath: join(stateDir, 'sysctls.json'), logger });
  const component = routingComponent(dataplane);
  let firstPassDone!: () => void;
  const firstPass = new Promise<void>((resolve) => { firstPassDone = resolve; });
  const loop = startReconcileLoop({
    logger, resyncMs: 3_600_000, minIntervalMs, minRetryMs: policy.minMs, maxRetryMs: policy.maxMs,
    pass: async () => {
      passStarts.push(Date.now());
      await reconcileComponent(table, component, desired);
      firstPassDone();
      const retryAt = table.nextRetryAt();
      return retryAt === undefined ? {} : { retryAt };
    },
  });
  loopRef = loop;
  try {
    loop.trigger('start');
    await firstPass;
    // Everything but the contested route is in the kernel after the first pass.
    assert.deepEqual((await seawayRoutes()).sort(), ['10.3.0.0/16', '10.4.0.0/16', '10.5.0.0/16']);
    const streamStart = Date.now();
    const stream = setInterval(() => loop.trigger('event'), 20);
    await waitFor('5 s of triggers', () => Date.now() - streamStart >= 5000, { timeoutMs: 10_000, intervalMs: 50 });
    clearInterval(stream);
    await loop.idle();

    const contested = table.list().find((s) => s.key === '100 10.2.0.0/16')!;
    assert.equal(contested.state, 'failed');
    assert.equal(contested.code, 'EEXIST');
    assert.match(contested.reason!, /EEXIST/);
    assert.equal(contested.attempts, attempts.length);
    assert.ok(table.list().filter((s) => s.key !== contested.key).every((s) => s.state === 'programmed'));

    // Each retry waits at least the low end of its backoff range (no trigger made it come sooner);
    // that retries keep coming at all is the attempt count below.
    const delays = attempts.slice(1).map((a, i) => a - attempts[i]!);
    delays.forEach((delay, i) => {
      const { lowMs } = backoffBounds(i + 1, policy);
      assert.ok(delay >= lowMs - 1, `retry ${i + 1} came after ${delay} ms, before its backoff's ${lowMs} ms: ${delays.join(', ')}`);
    });
    assert.ok(attempts.length >= 4 && attempts.length <= 10, `${attempts.length} attempts in about 5.5 s with backoff 100-1600 ms: ${delays.join(', ')}`);

    const gaps = passStarts.slice(1).map((s, i) => s - passStarts[i]!);
    assert.ok(gaps.every((g) => g >= minIntervalMs - 1), `passes closer than the throttle: ${gaps.filter((g) => g < minIntervalMs - 1).join(', ')}`);
    assert.ok(passStarts.length > attempts.length * 3, `${passStarts.length} passes ran; the failing route was attempted in ${attempts.length} of them`);

    // The leftover goes away: the next retry programs seaway's route, with no trigger needed.
    await run('ip', ['route', 'del', '10.2.0.0/16', 'table', '100']);
    await waitFor('the contested route to be programmed on its next retry', async () => (await seawayRoutes()).includes('10.2.0.0/16'), { timeoutMs: 10_000 });
    await waitFor('its status to say programmed', () => table.list().find((s) => s.key === '100 10.2.0.0/16')?.state === 'programmed', { timeoutMs: 5000 });
  } finally {
    await loop.stop();
  }
});
