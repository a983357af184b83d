import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { createPlanReport } from '../../src/reconcile/plan-report.ts';
import { createMetrics } from '../../src/telemetry/metrics.ts';
import type { Plan } from '../../src/plan/node-plan.ts';
import type { Snapshot } from '../../src/model/snapshot.ts';
import { node } from './model-fixtures.ts';

const snapshot: Snapshot = { endpoints: [], clusters: [], nodes: [node('gw', '192.168.1.10')] };
const rejected = (i: number) => ({
  endpoint: { name: `bad-${i}`, namespace: 'submariner-operator', uid: `uid-${i}`, resourceVersion: '1' },
  cluster: `c${i}`, reason: 'too-broad', message: 'subnet 0.0.0.0/1 is broader than /8',
}) as Plan['rejected'][number];
const plan = (count: number, extra: Partial<Plan> = {}): Plan => ({
  desired: { links: [], routes: [], rules: [], fdb: [], sysctls: [], filter: null },
  isGateway: true, gatewayNode: 'gw', localEndpoint: null, remoteClusters: [], duplicates: [], refusedHere: [], localHeld: false, lastGoodLocal: null, notes: [],
  rejected: Array.from({ length: count }, (_, i) => rejected(i)), ...extra,
});

function fixture() {
  let now = 0;
  const posted: string[] = [];
  const lines: Array<{ msg: string }> = [];
  const metrics = createMetrics({ defaultMetrics: false });
  const report = createPlanReport({
    config: { nodeName: 'gw', eventBurst: 10, eventIntervalSeconds: 10 }, metrics, now: () => now,
    logger: pino({ level: 'info' }, { write: (l: string) => { lines.push(JSON.parse(l)); } }),
    events: { warning: (object) => { posted.push(object.name); } },
  });
  return { report, posted, lines, metrics, advance: (ms: number) => { now += ms; }, at: () => now };
}

test('a thousand bad Endpoints: a burst of 10 Events, the rest held back and posted on later passes as tokens come; each logged once', async () => {
  const f = fixture();
  f.report(plan(15), snapshot);
  assert.equal(f.posted.length, 10);
  assert.equal(f.lines.filter((l) => l.msg === 'Endpoint rejected').length, 15, 'every rejection is logged at once');
  assert.equal(f.report.nextEventAt(), 10_000, 'the next token, at one per 10 s');
  assert.equal((await f.metrics.eventsHeldBack.get()).values[0]?.value, 5);
  f.advance(9_999);
  f.report(plan(15), snapshot);
  assert.equal(f.posted.length, 10);
  f.advance(1);
  f.report(plan(15), snapshot);
  assert.equal(f.posted.length, 11);
  f.advance(60_000);
  f.report(plan(15), snapshot);
  assert.deepEqual(f.posted.slice().sort(), Array.from({ length: 15 }, (_, i) => `bad-${i}`).sort(), 'every Event posted once in the end, none twice');
  assert.equal(f.report.nextEventAt(), undefined, 'nothing waits');
  f.report(plan(15), snapshot);
  assert.equal(f.posted.length, 15);
  assert.equal(f.lines.filter((l) => l.msg === 'Endpoint rejected').length, 15, 'logged once, not per pass');
});

test('routes this node alone refuses are logged once each and counted by reason', async () => {
  const f = fixture();
  const refused = [{ clusterId: 'west', endpoint: rejected(1).endpoint, subnet: '172.17.0.0/16', reason: 'overlaps-node-network', message: 'subnet 172.17.0.0/16 of cluster "west" overlaps this node\'s network 172.17.0.0/16; not routed on this node' }] as Plan['refusedHere'];
  f.report(plan(0, { refusedHere: refused }), snapshot);
  f.report(plan(0, { refusedHere: refused }), snapshot);
  assert.equal(f.lines.filter((l) => /not routed on this node/.test(l.msg)).length, 1);
  assert.deepEqual((await f.metrics.refusedRoutes.get()).values.map((v) => [v.labels.reason, v.value]), [['overlaps-node-network', 1]]);
  f.report(plan(0), snapshot);
  assert.deepEqual((await f.metrics.refusedRoutes.get()).values, []);
});
