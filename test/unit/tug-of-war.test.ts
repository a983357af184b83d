import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TugOfWar } from '../../src/reconcile/tug-of-war.ts';

const policy = { repairs: 3, windowMs: 10_000, backoff: { minMs: 2000, maxMs: 8000 } };
const clockAt = (start = 0) => {
  const clock = { now: start, tick: (ms: number) => { clock.now += ms; } };
  return clock;
};

test('repairs spread wider than the window are no fight; N within it start one, held for the first backoff', () => {
  const clock = clockAt();
  const war = new TugOfWar(policy, () => clock.now, () => 1);
  for (let i = 0; i < 10; i++) {
    assert.equal(war.repaired('filter/x', null), 'quiet', `repair ${i} six seconds after the last`);
    clock.tick(6000);
  }
  assert.deepEqual(war.fights(), []);
  clock.tick(policy.windowMs);
  assert.equal(war.repaired('filter/x', 'nat POSTROUTING: -A POSTROUTING -j RIVAL'), 'quiet');
  clock.tick(100);
  assert.equal(war.repaired('filter/x', 'nat POSTROUTING: -A POSTROUTING -j RIVAL'), 'quiet');
  clock.tick(100);
  assert.equal(war.repaired('filter/x', 'nat POSTROUTING: -A POSTROUTING -j RIVAL'), 'started');
  assert.deepEqual(war.fights(), [{ object: 'filter/x', rival: 'nat POSTROUTING: -A POSTROUTING -j RIVAL', since: clock.now, repairs: 1, holdUntil: clock.now + 2000, lastRepairAt: clock.now, probed: false }]);
  assert.equal(war.mayRepair('filter/x'), false);
  assert.equal(war.mayRepair('filter/other'), true, 'other objects are not held');
  assert.equal(war.fights()[0]!.holdUntil, clock.now + 2000);
  assert.equal(war.nextHoldEnd(), clock.now + 2000);
});

test('each repair in a fight doubles the hold up to the maximum; the rival named last is kept', () => {
  const clock = clockAt(1_000_000);
  const war = new TugOfWar(policy, () => clock.now, () => 1);
  for (let i = 0; i < 3; i++) war.repaired('o', 'first rival');
  const holds: number[] = [];
  for (let i = 0; i < 4; i++) {
    clock.tick(war.fights()[0]!.holdUntil - clock.now);
    assert.equal(war.mayRepair('o'), true, 'the hold is over');
    assert.equal(war.repaired('o', i === 3 ? null : `rival ${i}`), 'fighting');
    holds.push(war.fights()[0]!.holdUntil - clock.now);
  }
  assert.deepEqual(holds, [4000, 8000, 8000, 8000]);
  assert.equal(war.fights()[0]!.rival, 'rival 2', 'a repair that names no rival keeps the last one named');
  assert.equal(war.fights()[0]!.repairs, 5);
});

test('a fight ends when the object is found intact once its last repair has stood for the shortest backoff; then repairs count from zero again', () => {
  const clock = clockAt();
  const war = new TugOfWar(policy, () => clock.now, () => 1);
  for (let i = 0; i < 3; i++) war.repaired('o', null);
  clock.tick(1999);
  assert.equal(war.intact('o'), null, 'intact sooner than the rival took to undo a repair proves nothing yet');
  clock.tick(1);
  const ended = war.intact('o');
  assert.equal(ended?.object, 'o');
  assert.deepEqual(war.fights(), []);
  assert.equal(war.intact('o'), null, 'no fight, nothing ends');
  assert.equal(war.repaired('o', null), 'quiet', 'the streak starts over');
  assert.equal(war.nextHoldEnd(), undefined);
});

test('while held, one look once the last repair has stood for the shortest backoff; found changed again, none until the hold ends', () => {
  const clock = clockAt();
  const war = new TugOfWar({ ...policy, backoff: { minMs: 2000, maxMs: 64_000 } }, () => clock.now, () => 1);
  for (let i = 0; i < 3; i++) war.repaired('o', 'rival');
  clock.tick(2000);
  war.repaired('o', 'rival'); // the hold of 2 s is over: repaired again, now held 4 s
  const repairedAt = clock.now;
  assert.equal(war.lookAt('o'), repairedAt + 2000, 'the look is due when the repair has stood 2 s');
  war.changed('o');
  assert.equal(war.lookAt('o'), repairedAt + 2000, 'a change seen sooner than that is not the look');
  clock.tick(2000);
  assert.equal(war.lookAt('o'), undefined, 'the look is due now');
  war.changed('o');
  assert.equal(war.lookAt('o'), repairedAt + 4000, 'the rival undid it again: nothing to look at before the hold ends');
  assert.equal(war.lookAt('other'), undefined, 'no fight, no pause');
});

test('a hold that is over is not a due time: nextHoldEnd only names holds still to come', () => {
  const clock = clockAt();
  const war = new TugOfWar(policy, () => clock.now, () => 0);
  for (let i = 0; i < 3; i++) war.repaired('a', null);
  clock.tick(500);
  for (let i = 0; i < 3; i++) war.repaired('b', null);
  assert.equal(war.nextHoldEnd(), 1000, 'jitter draws the first hold from [min/2, min]');
  clock.tick(600);
  assert.equal(war.nextHoldEnd(), 1500);
  clock.tick(1000);
  assert.equal(war.nextHoldEnd(), undefined);
  assert.equal(war.fights().length, 2, 'the fights last until the objects are seen intact');
});

test('repairs of one object in different ways (an operator trying one thing after another) are no fight; the same way again is', () => {
  const clock = clockAt();
  const war = new TugOfWar(policy, () => clock.now, () => 1);
  for (const how of ['nft -f: delete table', 'ipset restore: add X', 'iptables-nft-restore: *filter', 'ipset restore: add Y']) {
    assert.equal(war.repaired('o', null, how), 'quiet', how);
    clock.tick(100);
  }
  assert.equal(war.repaired('o', null, 'nft -f: delete table'), 'quiet');
  assert.equal(war.repaired('o', null, 'nft -f: delete table'), 'started', 'the third same repair within the window');
  assert.equal(war.repaired('p', 'rival', 'a'), 'quiet');
  assert.equal(war.repaired('p', 'rival', 'b'), 'quiet');
  assert.equal(war.repaired('p', 'rival', 'c'), 'started', 'the same rival is the same fight, whatever was written');
});
