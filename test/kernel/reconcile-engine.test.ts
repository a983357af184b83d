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
// A route whose gateway is on no network of the device: the kernel refuses it (ENETUNREACH) until
// the device gets an address there. (A foreign route at the destination is never written against at
// all: see the routing-input e2e.)
const UNREACHABLE_GATEWAY = '10.99.0.1';

const desired: DesiredState = {
  links: [{ name: 'vx-submariner', vni: 100, port: 4800, mtu: 1450, local: '192.168.71.1', underlayDevice: 'under0', address: '240.168.71.1/8' }],
  routes: [
    { table: 100, dst: '10.2.0.0/16', gateway: UNREACHABLE_GATEWAY, dev: 'under0' },
    ...['10.3.0.0/16', '10.4.0.0/16', '10.5.0.0/16'].map((dst) => ({ table: 100, dst, gateway: '240.168.71.2', dev: 'vx-submariner' })),
  ],
  rules: [{ priority: 100, table: 100 }],
  fdb: [],
  sysctls: [],
  filter: null,
};

/** The kernel layer, counting the writes of the contested destination. */
function recording(inner: Rtnetlink, attempts: { count: number }): Rtnetlink {
  const contested = (w: KernelWrite) => w.kind === 'route' && w.route.dst === '10.2.0.0/16' && w.write !== 'delete';
  return { ...inner, apply: async (writes) => { if (writes.some(contested)) attempts.count += 1; return inner.apply(writes); } };
}

const seawayRoutes = async () => (JSON.parse((await run('ip', ['-j', 'route', 'show', 'table', '100', 'proto', '147'])).stdout || '[]') as Array<{ dst: string }>).map((r) => r.dst);

test('a route the kernel refuses (ENETUNREACH) under a trigger every 20 ms: it alone fails and is retried on its backoff, not on every pass; the rest is programmed at once; freed, it is programmed', async () => {
  const attempts = { count: 0 };
  let passes = 0;
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
      passes += 1;
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
    // Backoff timing and the throttle are unit-tested in virtual time (object-table, reconcile-loop);
    // here the real kernel's refusal drives them: the stream of triggers runs for 40 passes.
    const stream = setInterval(() => loop.trigger('event'), 20);
    await waitFor('40 passes', () => passes >= 40, { timeoutMs: 30_000, intervalMs: 50 });
    clearInterval(stream);
    await loop.idle();

    const contested = table.list().find((s) => s.key === '100 10.2.0.0/16')!;
    assert.equal(contested.state, 'failed');
    assert.equal(contested.code, 'ENETUNREACH');
    assert.equal(contested.attempts, attempts.count);
    assert.ok(table.list().filter((s) => s.key !== contested.key).every((s) => s.state === 'programmed'));
    // Passes kept coming for the triggers; the failing route was written only when its backoff was due.
    assert.ok(attempts.count >= 3 && passes > attempts.count * 3, `${passes} passes ran; the failing route was attempted in ${attempts.count} of them`);

    // The gateway becomes reachable: the next retry programs seaway's route, with no trigger needed.
    await run('ip', ['addr', 'add', '10.99.0.2/24', 'dev', 'under0']);
    await waitFor('the contested route to be programmed on its next retry', async () => (await seawayRoutes()).includes('10.2.0.0/16'), { timeoutMs: 10_000 });
    await waitFor('its status to say programmed', () => table.list().find((s) => s.key === '100 10.2.0.0/16')?.state === 'programmed', { timeoutMs: 5000 });
  } finally {
    await loop.stop();
  }
});
