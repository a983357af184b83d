/**
 * The election turning against an in-memory Lease store with the API server's write semantics
 * (resourceVersion and uid preconditions, conflicts) and an API that can go down: two gateways,
 * outages longer than the lease, a paused leader, a handover, Submariner's Lease, skewed clocks.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { GatewayElection } from '../../src/gateway/election.ts';
import type { LeaseClient, LeaseRecord, LeaseWriteResult } from '../../src/k8s/lease.ts';
import type { HaDecision } from '../../src/model/gateway-ha.ts';

const silent = pino({ level: 'silent' });
const DURATION = 15;

/** Leases as the API server keeps them: each write needs the current resourceVersion. */
class LeaseStore {
  readonly leases = new Map<string, LeaseRecord>();
  down = false;
  #rv = 1;

  client(): LeaseClient {
    const store = this;
    const unavailable = (): LeaseWriteResult => ({ ok: false, reason: 'unavailable', message: 'connect ETIMEDOUT' });
    const write = (name: string, expected: LeaseRecord | null, next: (current: LeaseRecord | null) => Omit<LeaseRecord, 'resourceVersion' | 'uid'>): LeaseWriteResult => {
      if (store.down) return unavailable();
      const current = store.leases.get(name) ?? null;
      if ((current?.resourceVersion ?? null) !== (expected?.resourceVersion ?? null)) return { ok: false, reason: 'conflict', message: 'the object has been modified' };
      const record = { ...next(current), resourceVersion: String(++store.#rv), uid: current?.uid ?? `uid-${name}` };
      store.leases.set(name, record);
      return { ok: true, record };
    };
    return {
      async observe(name) {
        if (store.down) throw new Error('connect ETIMEDOUT');
        return store.leases.get(name) ?? null;
      },
      async acquire(name, identity, durationSeconds, nowMs, expected, floor = 0) {
        return write(name, expected, (current) => ({
          holder: identity, durationSeconds, acquireTimeMs: nowMs, renewTimeMs: nowMs,
          transitions: Math.max(floor, current === null ? 0 : current.holder === identity ? current.transitions : current.transitions + 1),
        }));
      },
      async renew(name, identity, durationSeconds, nowMs, expected) {
        if (expected.holder !== identity) return { ok: false, reason: 'conflict', message: 'not ours' };
        return write(name, expected, (current) => ({ ...current!, durationSeconds, renewTimeMs: nowMs }));
      },
      async release(name, identity, nowMs, expected) {
        if (expected.holder !== identity) return { ok: false, reason: 'conflict', message: 'not ours' };
        return write(name, expected, (current) => ({ ...current!, holder: '', durationSeconds: 1, renewTimeMs: nowMs }));
      },
    };
  }
}

interface Gateway {
  election: GatewayElection;
  decisions: HaDecision[];
  facts: { refusal: string | null; labelled: boolean; stopping: boolean; standbyReady: boolean };
}

/** `clock` drives both the wall clock and the monotonic one unless `wall` skews the former. */
function gateway(store: LeaseStore, identity: string, clock: () => number, wall: () => number = clock): Gateway {
  const decisions: HaDecision[] = [];
  const facts = { refusal: null as string | null, labelled: true, stopping: false, standbyReady: false };
  const election = new GatewayElection({
    leases: store.client(), leaseName: 'seaway-gateway-lock', submarinerLeaseName: 'submariner-gateway-lock', identity,
    leaseDurationSeconds: DURATION, facts: () => facts, onDecision: (d) => { decisions.push(d); }, log: silent, now: wall, monotonic: clock,
  });
  return { election, decisions, facts };
}

test('the first gateway takes the free Lease and is active in the same round; the second stays standby', async () => {
  let now = 0;
  const store = new LeaseStore();
  const a = gateway(store, 'a', () => now);
  const b = gateway(store, 'b', () => now);
  assert.equal((await a.election.round()).state, 'active');
  assert.equal(a.election.decision?.fencingToken, 0);
  assert.equal((await b.election.round()).state, 'standby');
  now += 2000;
  assert.equal((await a.election.round()).state, 'active');
  assert.equal(store.leases.get('seaway-gateway-lock')?.renewTimeMs, 2000, 'renewed');
});

test('an API outage twice the lease long: the active gateway stays active with its cables running, the standby stays standby', async () => {
  let now = 0;
  const store = new LeaseStore();
  const a = gateway(store, 'a', () => now);
  const b = gateway(store, 'b', () => now);
  await a.election.round();
  await b.election.round();
  store.down = true;
  for (let t = 0; t < DURATION * 2 * 1000; t += 2000) {
    now += 2000;
    const da = await a.election.round();
    const db = await b.election.round();
    assert.ok(da.state === 'active' || da.state === 'active-unconfirmed', da.state);
    assert.equal(da.cables, 'run');
    assert.equal(db.state, 'standby');
  }
  assert.ok(!a.decisions.some((d) => d.cables === 'stop'), 'the cables were never stopped');
  store.down = false;
  now += 2000;
  assert.equal((await a.election.round()).state, 'active', 'renewed once the API is back');
  assert.equal((await b.election.round()).state, 'standby');
});

test('a paused leader: the standby takes over once it saw no renewal for a lease; the ex-leader wakes up, sees the holder and stops its cables', async () => {
  let now = 0;
  const store = new LeaseStore();
  const a = gateway(store, 'a', () => now);
  const b = gateway(store, 'b', () => now);
  await a.election.round();
  await b.election.round();
  for (let t = 2000; t <= DURATION * 1000; t += 2000) {
    now = t;
    assert.equal((await b.election.round()).state, 'standby', `at ${t} ms the Lease is not expired on b's clock yet`);
  }
  now = DURATION * 1000 + 2000;
  const taken = await b.election.round();
  assert.equal(taken.state, 'active');
  assert.equal(taken.fencingToken, 1, 'a new holder: one more transition');
  now += 1000;
  const woken = await a.election.round();
  assert.equal(woken.state, 'standby');
  assert.equal(woken.cables, 'stop');
  assert.equal(woken.fencingToken, undefined);
});

test('a standby whose wall clock runs a minute ahead, or jumps, does not take a Lease that is being renewed', async () => {
  let now = 0;
  let jump = 60_000;
  const store = new LeaseStore();
  const a = gateway(store, 'a', () => now);
  const b = gateway(store, 'b', () => now, () => now + jump);
  await a.election.round();
  for (let i = 0; i < 20; i++) {
    now += 2000;
    if (i === 10) jump = 3_600_000;
    await a.election.round();
    assert.equal((await b.election.round()).state, 'standby');
  }
});

test('a Lease deleted and created again continues the transition count, so no older Endpoint outranks the new holder', async () => {
  let now = 0;
  const store = new LeaseStore();
  const a = gateway(store, 'a', () => now);
  await a.election.round();
  store.leases.set('seaway-gateway-lock', { ...store.leases.get('seaway-gateway-lock')!, transitions: 6 });
  now += 2000;
  await a.election.round();
  store.leases.delete('seaway-gateway-lock');
  now += 2000;
  const again = await a.election.round();
  assert.equal(again.state, 'active');
  assert.equal(again.fencingToken, 7);
});

test('a release that fails keeps the tunnels up; once it goes through the cables are released', async () => {
  let now = 0;
  const store = new LeaseStore();
  const a = gateway(store, 'a', () => now);
  await a.election.round();
  a.facts.stopping = true;
  a.facts.standbyReady = true;
  store.down = true;
  now += 100;
  const pending = await a.election.round();
  assert.equal(pending.state, 'handing-over', 'the release is due but the Lease cannot even be read');
  assert.equal(pending.cables, 'run', 'nothing is torn down while the Lease still names us');
  now += 100;
  assert.equal((await a.election.round()).cables, 'run', 'still unreadable: still up');
  store.down = false;
  now += 100;
  const handing = await a.election.round();
  assert.equal(handing.state, 'stopped', 'released and decided again in the same round');
  assert.equal(handing.cables, 'release');
  assert.equal(store.leases.get('seaway-gateway-lock')?.holder, '');
});

test('SIGTERM with a ready standby: the Lease is released and the standby is active on its next round', async () => {
  let now = 0;
  const store = new LeaseStore();
  const a = gateway(store, 'a', () => now);
  const b = gateway(store, 'b', () => now);
  await a.election.round();
  await b.election.round();
  a.facts.stopping = true;
  a.facts.standbyReady = true;
  now += 100;
  const released = await a.election.round();
  assert.equal(released.state, 'stopped', 'released and decided again in the same round');
  assert.equal(released.cables, 'release');
  assert.equal(store.leases.get('seaway-gateway-lock')?.holder, '');
  now += 100;
  const next = await b.election.round();
  assert.equal(next.state, 'active', 'no wait for expiry');
  assert.equal(next.fencingToken, 1);
  now += 100;
  assert.equal((await a.election.round()).state, 'stopped');
});

test('Submariner\'s gateway holds its Lease: neither seaway gateway goes active', async () => {
  let now = 0;
  const store = new LeaseStore();
  store.leases.set('submariner-gateway-lock', { holder: 'node-s-submariner-gateway', durationSeconds: 15, acquireTimeMs: 0, renewTimeMs: 0, transitions: 0, resourceVersion: '1', uid: 'u' });
  for (const name of ['a', 'b']) {
    const d = await gateway(store, name, () => now).election.round();
    assert.equal(d.state, 'standby');
    assert.match(d.reason, /Submariner's gateway is active/);
  }
  assert.equal(store.leases.has('seaway-gateway-lock'), false, 'seaway\'s Lease not even taken');
});

test('transitions are counted by target state, and the gateway role hears only decisions that change something', async () => {
  let now = 0;
  const store = new LeaseStore();
  const a = gateway(store, 'a', () => now);
  await a.election.round();
  now += 2000;
  await a.election.round();
  assert.deepEqual([...a.election.transitions], [['active', 1]]);
  assert.deepEqual(a.decisions.map((d) => d.state), ['active']);
});
