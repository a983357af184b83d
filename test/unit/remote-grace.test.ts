import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EMPTY_REMOTE_MEMORY, clustersWithEndpoints, rememberRemotes, retainRemotes, withRetained, type RemoteMemory } from '../../src/plan/remote-grace.ts';
import { parseCidr } from '../../src/model/cidr.ts';
import type { Snapshot } from '../../src/model/snapshot.ts';

const GRACE = 60_000;
const routed = (entries: Record<string, string[]>) => new Map(Object.entries(entries));

/** One pass's memory work, as planning does it: what is retained before planning, what is remembered after. */
function pass(memory: RemoteMemory, routedNow: Record<string, string[]>, present: string[], now: number, graceMs = GRACE) {
  const retained = retainRemotes(memory, new Set(present), now, graceMs);
  return { retained, next: rememberRemotes(routed(routedNow), retained) };
}

test('a remote cluster whose Endpoints are all gone keeps its subnets until its grace ends, counted from when it went', () => {
  let memory = pass(EMPTY_REMOTE_MEMORY, { west: ['10.2.0.0/16'], north: ['10.3.0.0/16'] }, ['west', 'north'], 0).next;
  // west's Endpoint deleted (a gateway failover): nothing of west in the snapshot at 1 s.
  let step = pass(memory, { north: ['10.3.0.0/16'] }, ['north'], 1000);
  assert.deepEqual(step.retained, [{ clusterId: 'west', subnets: ['10.2.0.0/16'], goneSince: 1000, until: 61_000 }]);
  memory = step.next;
  // Still gone at 30 s: the same deadline, not one counted from each pass.
  step = pass(memory, { north: ['10.3.0.0/16'] }, ['north'], 30_000);
  assert.deepEqual(step.retained.map((r) => r.until), [61_000]);
  memory = step.next;
  // Past the grace: forgotten.
  step = pass(memory, { north: ['10.3.0.0/16'] }, ['north'], 61_000);
  assert.deepEqual(step.retained, []);
  assert.equal(step.next.clusters.has('west'), false);
});

test('an Endpoint that comes back ends the grace; a new gap starts a new one', () => {
  let memory = pass(EMPTY_REMOTE_MEMORY, { west: ['10.2.0.0/16'] }, ['west'], 0).next;
  memory = pass(memory, {}, [], 1000).next;
  const back = pass(memory, { west: ['10.2.0.0/16', '10.202.0.0/16'] }, ['west'], 5000);
  assert.deepEqual(back.retained, []);
  const again = pass(back.next, {}, [], 100_000);
  assert.deepEqual(again.retained, [{ clusterId: 'west', subnets: ['10.2.0.0/16', '10.202.0.0/16'], goneSince: 100_000, until: 160_000 }]);
});

test('an Endpoint that is there but rejected is an explicit change: no grace', () => {
  const memory = pass(EMPTY_REMOTE_MEMORY, { west: ['10.2.0.0/16'] }, ['west'], 0).next;
  const rejected = pass(memory, {}, ['west'], 1000);
  assert.deepEqual(rejected.retained, []);
  assert.equal(rejected.next.clusters.has('west'), false);
});

test('a zero grace keeps nothing', () => {
  const memory = pass(EMPTY_REMOTE_MEMORY, { west: ['10.2.0.0/16'] }, ['west'], 0, 0).next;
  assert.deepEqual(pass(memory, {}, [], 0, 0).retained, []);
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
  const merged = withRetained([r('10.3.0.0/16'), r('10.9.0.0/16')], [], ['10.2.0.0/16', '10.9.128.0/17', 'garbage', '10.1.0.0/16']);
  assert.deepEqual(merged.map((m) => m.text), ['10.1.0.0/16', '10.2.0.0/16', '10.3.0.0/16', '10.9.0.0/16']);
  // Accepted cluster-wide but refused on this node: the space is still taken, as on every other node.
  const refusedHere = withRetained([r('10.3.0.0/16')], [{ subnet: '172.16.0.0/12' }], ['172.20.0.0/16', '10.4.0.0/16']);
  assert.deepEqual(refusedHere.map((m) => m.text), ['10.3.0.0/16', '10.4.0.0/16']);
});
