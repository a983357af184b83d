/** The gateway election's decisions: fail static under API outages, fencing, Submariner's Lease, graceful handover. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideHa, haTransition, type HaInputs, type HaState, type LeaseView } from '../../src/model/gateway-ha.ts';

const NOW = 1_000_000;
const ME = 'node-a-seaway-gateway';
const lease = (holder: string | null, renewAgoMs: number, transitions = 3, durationSeconds = 15): LeaseView =>
  ({ holder, renewTimeMs: holder === null ? null : NOW - renewAgoMs, durationSeconds, transitions });

const inputs = (over: Partial<HaInputs> = {}): HaInputs => ({
  identity: ME, nowMs: NOW, refusal: null, labelled: true, stopping: false,
  own: { lease: null }, lastRenewOkMs: null, lastFencingToken: undefined, submariner: null, standbyReady: false, ...over,
});

test('a free or absent Lease is acquired; an expired one too, naming its last holder', () => {
  assert.deepEqual(decideHa('standby', inputs()), { state: 'acquiring', reason: 'the Lease is free', lease: 'acquire', cables: 'keep' });
  assert.equal(decideHa('standby', inputs({ own: { lease: lease('', 0) } })).lease, 'acquire');
  const expired = decideHa('standby', inputs({ own: { lease: lease('node-b', 16_000) } }));
  assert.equal(expired.state, 'acquiring');
  assert.match(expired.reason, /the Lease of node-b expired/);
});

test('holding the Lease, renewed in time: active, renewing, cables running, fenced by the transition count', () => {
  const d = decideHa('acquiring', inputs({ own: { lease: lease(ME, 1000, 7) }, lastRenewOkMs: NOW - 1000 }));
  assert.deepEqual(d, { state: 'active', reason: 'holds the Lease', lease: 'renew', cables: 'run', fencingToken: 7 });
});

test('fail static: renewals failing or the Lease unreadable for longer than the lease keep the cables up until another holder is seen', () => {
  // Renewals failed for a minute (4x the lease): the Lease as last read still names us.
  const stale = decideHa('active', inputs({ own: { lease: lease(ME, 60_000) }, lastRenewOkMs: NOW - 60_000 }));
  assert.equal(stale.state, 'active-unconfirmed');
  assert.equal(stale.cables, 'run');
  assert.equal(stale.lease, 'renew');
  assert.equal(stale.fencingToken, 3);
  // The API does not answer at all: the token of the last active decision stays on.
  const blind = decideHa('active-unconfirmed', inputs({ own: { readError: 'connect ETIMEDOUT' }, lastRenewOkMs: NOW - 120_000, lastFencingToken: 3 }));
  assert.equal(blind.state, 'active-unconfirmed');
  assert.equal(blind.cables, 'run');
  assert.equal(blind.fencingToken, 3);
  assert.match(blind.reason, /cannot be read \(connect ETIMEDOUT\); no other holder seen: staying active/);
  // Only another holder, actually observed, makes it step down.
  const taken = decideHa('active-unconfirmed', inputs({ own: { lease: lease('node-b', 500, 4) }, lastRenewOkMs: NOW - 120_000 }));
  assert.deepEqual(taken, { state: 'standby', reason: 'another gateway (node-b) holds the Lease: stepping down', lease: 'none', cables: 'stop' });
});

test('a standby never goes active blind: an unreadable Lease or an unreadable Submariner Lease keeps it standby', () => {
  assert.deepEqual(decideHa('standby', inputs({ own: { readError: 'HTTP 503' } })).state, 'standby');
  const unknown = decideHa('standby', inputs({ submariner: 'unknown' }));
  assert.equal(unknown.state, 'standby');
  assert.equal(unknown.lease, 'none');
  assert.match(unknown.reason, /submariner-gateway-lock cannot be read/);
});

test('Submariner\'s gateway-lock with a live holder keeps seaway passive and says why; an expired one does not', () => {
  const blocked = decideHa('standby', inputs({ submariner: lease('node-s-submariner-gateway', 2000) }));
  assert.equal(blocked.state, 'standby');
  assert.equal(blocked.lease, 'none');
  assert.match(blocked.reason, /Submariner's gateway is active \(node-s-submariner-gateway holds submariner-gateway-lock\): seaway stays passive/);
  assert.equal(decideHa('standby', inputs({ submariner: lease('node-s', 60_000) })).state, 'acquiring', 'a dead Submariner gateway does not block');
  assert.equal(decideHa('standby', inputs({ submariner: lease('', 0) })).state, 'acquiring', 'released');
  // Already active: Submariner's gateway taking its Lease is another holder observed: seaway steps down.
  const stepped = decideHa('active', inputs({ own: { lease: lease(ME, 1000) }, lastRenewOkMs: NOW - 1000, submariner: lease('node-s', 1000) }));
  assert.equal(stepped.state, 'standby');
  assert.equal(stepped.cables, 'stop');
  assert.equal(stepped.fencingToken, undefined);
});

test('a fresh start clears leftovers once another holder is seen, and keeps them while nothing is known', () => {
  assert.equal(decideHa('starting', inputs({ own: { lease: lease('node-b', 1000) } })).cables, 'stop');
  assert.equal(decideHa('starting', inputs({ submariner: lease('node-s', 1000) })).cables, 'stop');
  assert.equal(decideHa('starting', inputs({ own: { readError: 'HTTP 503' } })).cables, 'keep', 'an unreadable Lease is no reason to tear down what an earlier run left');
  assert.equal(decideHa('standby', inputs({ own: { lease: lease('node-b', 1000) } })).cables, 'keep', 'a standby has nothing to stop');
});

test('another live holder: standby without touching the cables', () => {
  assert.deepEqual(decideHa('standby', inputs({ own: { lease: lease('node-b', 3000) } })), { state: 'standby', reason: 'another gateway (node-b) holds the Lease: seaway stays passive', lease: 'none', cables: 'keep' });
});

test('a restarted gateway finds the Lease still naming it and takes it up again at once (no wait for expiry)', () => {
  const d = decideHa('starting', inputs({ own: { lease: lease(ME, 5000) }, lastRenewOkMs: null }));
  assert.equal(d.state, 'acquiring');
  assert.equal(d.lease, 'acquire');
});

test('SIGTERM with a ready standby: release the Lease, cables up until it went through; without one: exit leaving the kernel state', () => {
  const active = inputs({ own: { lease: lease(ME, 1000) }, lastRenewOkMs: NOW - 1000, stopping: true });
  const handover = decideHa('active', { ...active, standbyReady: true });
  assert.equal(handover.state, 'handing-over');
  assert.equal(handover.lease, 'release');
  assert.equal(handover.cables, 'run');
  const alone = decideHa('active', active);
  assert.equal(alone.state, 'stopped');
  assert.equal(alone.lease, 'none');
  assert.equal(alone.cables, 'abandon');
  assert.match(alone.reason, /the kernel state stays for a restarted gateway to adopt/);
  assert.deepEqual(decideHa('standby', { ...active, own: { lease: lease('node-b', 1000) } }), { state: 'stopped', reason: 'stopping (SIGTERM)', lease: 'none', cables: 'keep' });
});

test('SIGTERM without a ready standby on a node that lost its label: the cables are taken down (no gateway will come back there to adopt them)', () => {
  const leaving = inputs({ own: { lease: lease(ME, 1000) }, lastRenewOkMs: NOW - 1000, stopping: true, labelled: false });
  const d = decideHa('active', leaving);
  assert.equal(d.state, 'stopped');
  assert.equal(d.cables, 'stop');
  assert.match(d.reason, /no longer a gateway candidate: its cables are taken down/);
  assert.equal(decideHa('active', { ...leaving, labelled: true }).cables, 'abandon', 'still labelled: the state stays for a restarted gateway');
});

test('the release is tried again, tunnels up, until the Lease no longer names us; then the cables are released', () => {
  const stopping = inputs({ stopping: true, standbyReady: true });
  const again = decideHa('handing-over', { ...stopping, own: { lease: lease(ME, 1000) } });
  assert.equal(again.lease, 'release', 'the first release did not go through');
  assert.equal(again.cables, 'run');
  const unread = decideHa('handing-over', { ...stopping, own: { readError: 'connect ETIMEDOUT' } });
  assert.equal(unread.lease, 'release', 'an unreadable Lease is not a released one');
  assert.equal(unread.cables, 'run');
  const done = decideHa('handing-over', { ...stopping, own: { lease: lease('', 100, 3) }, standbyReady: false });
  assert.equal(done.state, 'stopped');
  assert.equal(done.lease, 'none');
  assert.equal(done.cables, 'release');
});

test('the gateway label removed from the active node hands over like a graceful stop, and it does not come back active', () => {
  const base = inputs({ own: { lease: lease(ME, 1000) }, lastRenewOkMs: NOW - 1000, labelled: false });
  const handover = decideHa('active', { ...base, standbyReady: true });
  assert.equal(handover.state, 'handing-over');
  assert.equal(handover.lease, 'release');
  const after = decideHa('handing-over', { ...base, own: { lease: lease('node-b', 100, 4) } });
  assert.equal(after.state, 'refused');
  assert.equal(after.lease, 'none');
  assert.equal(after.cables, 'release');
  assert.match(after.reason, /lost its gateway label; handed over/);
  // Another holder already (a partition): the unlabelled ex-leader steps down at once, never active beside it.
  const partitioned = decideHa('active', { ...base, own: { lease: lease('node-b', 500, 4) } });
  assert.equal(partitioned.state, 'refused');
  assert.equal(partitioned.cables, 'stop');
  assert.equal(partitioned.fencingToken, undefined);
  // No standby yet: it stays active rather than leaving the cluster without a gateway.
  const alone = decideHa('active', base);
  assert.equal(alone.state, 'active');
  assert.equal(alone.cables, 'run');
  assert.match(alone.reason, /no standby is ready: staying active until one is/);
});

test('a bad configuration refuses candidacy with its reason; while active it hands over only to a ready standby', () => {
  const refused = decideHa('standby', inputs({ refusal: 'the IPsec PSK in /psk is 5 bytes; at least 32 are needed' }));
  assert.deepEqual(refused, { state: 'refused', reason: 'not a candidate: the IPsec PSK in /psk is 5 bytes; at least 32 are needed', lease: 'none', cables: 'keep' });
  const active = inputs({ own: { lease: lease(ME, 1000) }, lastRenewOkMs: NOW - 1000, refusal: 'broker token rejected (401)' });
  assert.equal(decideHa('active', active).state, 'active');
  assert.equal(decideHa('active', { ...active, standbyReady: true }).state, 'handing-over');
});

test('transitions are reported once, with their reason', () => {
  const d = decideHa('standby', inputs());
  assert.deepEqual(haTransition('standby', d), { from: 'standby', to: 'acquiring', reason: 'the Lease is free' });
  assert.equal(haTransition('acquiring', d), null);
});

test('every state and input combination: never cables running beside an observed holder, never stopped without one (but an unlabelled node exiting), never a release without a handover, never acquiring when stopping', () => {
  const states: HaState[] = ['starting', 'refused', 'standby', 'acquiring', 'active', 'active-unconfirmed', 'handing-over', 'stopped'];
  const owns: HaInputs['own'][] = [{ lease: null }, { readError: 'x' }, { lease: lease(ME, 1000) }, { lease: lease(ME, 60_000) }, { lease: lease('node-b', 1000) }, { lease: lease('node-b', 60_000) }, { lease: lease('', 0) }];
  const submariners: HaInputs['submariner'][] = [null, 'unknown', lease('node-s', 1000), lease('node-s', 60_000)];
  let count = 0;
  for (const previous of states) {
    for (const own of owns) {
      for (const submariner of submariners) {
        for (const refusal of [null, 'bad PSK']) {
          for (let flags = 0; flags < 8; flags++) {
            const i = inputs({ own, submariner, refusal, stopping: (flags & 1) !== 0, labelled: (flags & 2) === 0, standbyReady: (flags & 4) !== 0, lastRenewOkMs: NOW - 2000, lastFencingToken: 3 });
            const d = decideHa(previous, i);
            const observedHolder = ('lease' in own && own.lease?.holder === 'node-b' && own.lease.renewTimeMs === NOW - 1000) || (submariner !== null && submariner !== 'unknown' && submariner.renewTimeMs === NOW - 1000);
            const label = `${previous} ${JSON.stringify(i)} -> ${JSON.stringify(d)}`;
            if (observedHolder) assert.notEqual(d.cables, 'run', `cables running beside an observed holder: ${label}`);
            if (observedHolder) assert.notEqual(d.lease, 'acquire', label);
            if (d.cables === 'release') assert.equal(previous, 'handing-over', `released without a handover: ${label}`);
            // Acquiring: a candidate in good standing, or an active gateway staying on for want of a standby.
            if (d.lease === 'acquire') assert.ok(!i.stopping && i.submariner !== 'unknown' && ((i.labelled && i.refusal === null) || ['active', 'active-unconfirmed'].includes(previous)), label);
            // Cables stop only when another holder is seen, or when an unlabelled node exits (nothing would adopt them).
            if (d.cables === 'stop') assert.ok(observedHolder || (i.stopping && !i.labelled), `stopped without an observed holder: ${label}`);
            if (d.fencingToken !== undefined) assert.ok(['active', 'active-unconfirmed', 'handing-over', 'refused'].includes(d.state) && (d.state !== 'refused' || previous !== 'handing-over'), label);
            count++;
          }
        }
      }
    }
  }
  assert.equal(count, 8 * 7 * 4 * 2 * 8);
});
