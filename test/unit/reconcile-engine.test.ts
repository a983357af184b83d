import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as flush } from 'node:timers/promises';
import { pino } from 'pino';
import { startReconcileLoop } from '../../src/reconcile/loop.ts';
import { ObjectTable, type ComponentReport } from '../../src/reconcile/object-table.ts';
import { reconcileComponent, type Component } from '../../src/reconcile/component.ts';
import type { DesiredObject, ObjectRef } from '../../src/plan/desired-objects.ts';
import { waitFor } from '../helpers/wait.ts';

const logger = pino({ level: 'silent' });

/**
 * A test double of a slow component (what the IPsec cable will be): starting a tunnel returns at
 * once with a completion that settles when the test says so, as an IKE negotiation would.
 */
function slowTunnels() {
  const negotiations = new Map<string, { succeed: () => void; fail: (error: Error) => void }>();
  /** Tunnels that are up: like a real cable, the component observes them and leaves them alone. */
  const up = new Set<string>();
  let started = 0;
  const component: Component<string[]> = {
    name: 'tunnels',
    objects: (peers) => peers.map((peer): DesiredObject => ({ kind: 'filter', key: `tunnel ${peer}`, object: `tunnel to ${peer}` })),
    async apply(peers, gate) {
      const deferred: ObjectRef[] = [];
      const negotiating: Array<{ kind: 'filter'; key: string; completion: Promise<void> }> = [];
      const report: ComponentReport = { failures: [], deferred, started: negotiating };
      for (const peer of peers) {
        const key = `tunnel ${peer}`;
        if (up.has(peer)) continue;
        if (!gate('filter', key)) { deferred.push({ kind: 'filter', key }); continue; }
        started++;
        const completion = new Promise<void>((resolve, reject) => negotiations.set(peer, { succeed: () => { up.add(peer); resolve(); }, fail: reject }));
        negotiating.push({ kind: 'filter', key, completion });
      }
      return report;
    },
  };
  return { component, negotiations, started: () => started };
}

function fastRoutes() {
  const written: string[] = [];
  const component: Component<string[]> = {
    name: 'routing',
    objects: (dsts) => dsts.map((dst): DesiredObject => ({ kind: 'route', key: dst, object: `route ${dst}` })),
    async apply(dsts, gate) {
      for (const dst of dsts) if (gate('route', dst) && !written.includes(dst)) written.push(dst);
      return { failures: [], deferred: [] };
    },
  };
  return { component, written };
}

test('slow objects (a tunnel negotiating) never hold up fast ones, are not started twice, and wake the loop when they settle', async () => {
  const reasons: string[][] = [];
  let loopRef: ReturnType<typeof startReconcileLoop> | null = null;
  const table = new ObjectTable({ backoff: { minMs: 50, maxMs: 100 }, onSettled: (s) => loopRef?.trigger(`${s.key} ${s.state}`) });
  const tunnels = slowTunnels();
  const routes = fastRoutes();
  const loop = startReconcileLoop({
    logger, resyncMs: 3_600_000, minIntervalMs: 0,
    pass: async (r) => {
      reasons.push([...r]);
      await reconcileComponent(table, tunnels.component, ['east', 'west']);
      await reconcileComponent(table, routes.component, ['10.2.0.0/16', '10.3.0.0/16']);
      const retryAt = table.nextRetryAt();
      return retryAt === undefined ? {} : { retryAt };
    },
  });
  loopRef = loop;
  const state = (key: string) => table.list().find((s) => s.key === key)?.state;

  loop.trigger('start');
  await loop.idle();
  assert.deepEqual(routes.written, ['10.2.0.0/16', '10.3.0.0/16'], 'routes programmed in the first pass, negotiations still running');
  assert.equal(state('tunnel east'), 'in-progress');
  assert.equal(state('tunnel west'), 'in-progress');

  for (let i = 0; i < 5; i++) { loop.trigger('event'); await loop.idle(); }
  assert.equal(tunnels.started(), 2, 'passes during the negotiation do not start it again');

  tunnels.negotiations.get('east')!.succeed();
  tunnels.negotiations.get('west')!.fail(Object.assign(new Error('no proposal chosen'), { code: 'NO_PROPOSAL_CHOSEN' }));
  await flush();
  await loop.idle();
  assert.equal(state('tunnel east'), 'programmed');
  const west = table.list().find((s) => s.key === 'tunnel west')!;
  assert.deepEqual({ state: west.state, reason: west.reason, code: west.code }, { state: 'failed', reason: 'no proposal chosen', code: 'NO_PROPOSAL_CHOSEN' });
  assert.ok(reasons.some((r) => r.includes('tunnel east programmed')), `a settled negotiation woke the loop: ${JSON.stringify(reasons)}`);
  // The failed one is started again once its backoff (50-100 ms) is over, with no trigger; the bound only catches a hang.
  await waitFor('the failed negotiation to be retried', () => tunnels.started() === 3, { timeoutMs: 5000, intervalMs: 5 });
  assert.equal(state('tunnel west'), 'in-progress');
  assert.ok(reasons.some((r) => r.includes('object retry due')));
  await loop.stop();
});
