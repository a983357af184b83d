import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fencingTokenOf, publishPlan, type ObservedEndpoint } from '../../src/plan/exclusive-endpoint.ts';

const ep = (name: string, clusterId: string | undefined, token?: string): ObservedEndpoint => ({
  name, uid: `uid-${name}`, resourceVersion: `rv-${name}`, clusterId, annotations: token === undefined ? {} : { 'seaway.io/lease-transitions': token },
});
const ref = (name: string) => ({ name, uid: `uid-${name}`, resourceVersion: `rv-${name}` });

test('ours is written first (replaced on the observed version when it exists); the cluster\'s others then go with their uid and resourceVersion; other clusters\' stay', () => {
  const plan = publishPlan([ep('east-old', 'east', '2'), ep('east-mine', 'east', '5'), ep('west-x', 'west', '9'), ep('east-submariner', 'east'), ep('odd', undefined)], 'east', 'east-mine', 5);
  assert.deepEqual(plan, { superseded: false, existing: ref('east-mine'), deletions: [ref('east-old'), ref('east-submariner')] });
  assert.deepEqual(publishPlan([ep('east-old', 'east', '2')], 'east', 'east-mine', 5), { superseded: false, existing: undefined, deletions: [ref('east-old')] });
});

test('a newer leader\'s Endpoint (higher transition count) is never deleted: this gateway is superseded, writes nothing and withdraws its own', () => {
  const plan = publishPlan([ep('east-old', 'east', '2'), ep('east-mine', 'east', '5'), ep('east-new-leader', 'east', '6'), ep('east-newer', 'east', '8')], 'east', 'east-mine', 5);
  assert.deepEqual(plan, { superseded: true, by: 'east-newer', token: 8, withdraw: ref('east-mine') });
  assert.deepEqual(publishPlan([ep('east-new-leader', 'east', '6')], 'east', 'east-mine', 5), { superseded: true, by: 'east-new-leader', token: 6, withdraw: undefined });
});

test('an equal token (the same term re-published under a new name) or a malformed one is not a newer leader', () => {
  assert.deepEqual(publishPlan([ep('east-a', 'east', '5'), ep('east-b', 'east', '07'), ep('east-c', 'east', '-1'), ep('east-d', 'east', '1e3')], 'east', 'east-mine', 5),
    { superseded: false, existing: undefined, deletions: ['east-a', 'east-b', 'east-c', 'east-d'].map(ref) });
  assert.equal(fencingTokenOf({ annotations: { 'seaway.io/lease-transitions': '12' } }), 12);
  assert.equal(fencingTokenOf({ annotations: { 'seaway.io/lease-transitions': '1234567890123456' } }), undefined, 'beyond what a count can be');
  assert.equal(fencingTokenOf({ annotations: { 'seaway.io/lease-transitions': '' } }), undefined);
  assert.equal(fencingTokenOf({ annotations: {} }), undefined);
});
