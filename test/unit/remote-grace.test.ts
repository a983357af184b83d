import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EMPTY_REMOTE_MEMORY, clustersWithEndpoints, retainRemotes, withRetained } from '../../src/plan/remote-grace.ts';
import { parseCidr } from '../../src/model/cidr.ts';
import type { Snapshot } from '../../src/model/snapshot.ts';

const GRACE = 60_000;
const routed = (entries: Record<string, string[]>) => new Map(Object.entries(entries));

test('a remote cluster whose Endpoints are all gone keeps its subnets until its grace ends, and says when to look again', () => {
  let memory = retainRemotes(EMPTY_REMOTE_MEMORY, routed({ west: ['10.2.0.0/16'], north: ['10.3.0.0/16'] }), new Set(['west', 'north']), 0, GRACE).next;
  // west's Endpoint deleted (a gateway failover): nothing of west in the snapshot at 1 s.
  let step = retainRemotes(memory, routed({ north: ['10.3.0.0/16'] }), new Set(['north']), 1000, GRACE);
  assert.deepEqual(step.retained, [{ clusterId: 'west', subnets: ['10.2.0.0/16'], until: 61_000 }]);
  assert.equal(step.wakeAt, 61_000);
  memory = step.next;
  // Still gone at 30 s: the same deadline (counted from when it went, not from each pass).
  step = retainRemotes(memory, routed({ north: ['10.3.0.0/16'] }), new Set(['north']), 30_000, GRACE);
  assert.deepEqual(step.retained.map((r) => r.until), [61_000]);
  memory = step.next;
  // Past the grace: forgotten.
  step = retainRemotes(memory, routed({ north: ['10.3.0.0/16'] }), new Set(['north']), 61_000, GRACE);
  assert.deepEqual(step.retained, []);
  assert.equal(step.wakeAt, undefined);
  assert.equal(step.next.clusters.has('west'), false);
});

test('an Endpoint that comes back ends the grace; a new gap starts a new one', () => {
  let memory = retainRemotes(EMPTY_REMOTE_MEMORY, routed({ west: ['10.2.0.0/16'] }), new Set(['west']), 0, GRACE).next;
  memory = retainRemotes(memory, routed({}), new Set(), 1000, GRACE).next;
  const back = retainRemotes(memory, routed({ west: ['10.2.0.0/16', '10.202.0.0/16'] }), new Set(['west']), 5000, GRACE);
  assert.deepEqual(back.retained, []);
  const again = retainRemotes(back.next, routed({}), new Set(), 100_000, GRACE);
  assert.deepEqual(again.retained, [{ clusterId: 'west', subnets: ['10.2.0.0/16', '10.202.0.0/16'], until: 160_000 }]);
});

test('an Endpoint that is there but rejected is an explicit change: no grace', () => {
  const memory = retainRemotes(EMPTY_REMOTE_MEMORY, routed({ west: ['10.2.0.0/16'] }), new Set(['west']), 0, GRACE).next;
  const rejected = retainRemotes(memory, routed({}), new Set(['west']), 1000, GRACE);
  assert.deepEqual(rejected.retained, []);
  assert.equal(rejected.next.clusters.has('west'), false);
});

test('a zero grace keeps nothing', () => {
  const memory = retainRemotes(EMPTY_REMOTE_MEMORY, routed({ west: ['10.2.0.0/16'] }), new Set(['west']), 0, 0).next;
  assert.deepEqual(retainRemotes(memory, routed({}), new Set(), 0, 0).retained, []);
});

test('clustersWithEndpoints reads every Endpoint\'s cluster_id, valid or not, and ignores garbage', () => {
  const snapshot = {
    endpoints: [
      { spec: { cluster_id: 'west', subnets: 'not a list' } }, { spec: { cluster_id: 7 } }, { spec: null }, { spec: 'x' }, { spec: { cluster_id: 'north' } },
    ],
    clusters: [], nodes: [],
  } as unknown as Snapshot;
  assert.deepEqual([...clustersWithEndpoints(snapshot)].sort(), ['north', 'west']);
});

test('retained subnets join the routed ones, sorted, unless a routed subnet overlaps them (the new owner wins)', () => {
  const r = (text: string) => { const p = parseCidr(text); if (!p.ok) throw new Error(text); return { cidr: p.cidr, text: p.text }; };
  const merged = withRetained([r('10.3.0.0/16'), r('10.9.0.0/16')], ['10.2.0.0/16', '10.9.128.0/17', 'garbage', '10.1.0.0/16']);
  assert.deepEqual(merged.map((m) => m.text), ['10.1.0.0/16', '10.2.0.0/16', '10.3.0.0/16', '10.9.0.0/16']);
});
