import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exclusiveEndpointPlan, fencingTokenOf, type ObservedEndpoint } from '../../src/plan/exclusive-endpoint.ts';

const ep = (name: string, clusterId: string | undefined, token?: string): ObservedEndpoint => ({
  name, uid: `uid-${name}`, resourceVersion: `rv-${name}`, clusterId, annotations: token === undefined ? {} : { 'seaway.io/lease-transitions': token },
});

test('the cluster\'s other Endpoints are deleted with the uid and resourceVersion observed; ours and other clusters\' stay', () => {
  const plan = exclusiveEndpointPlan([ep('east-old', 'east', '2'), ep('east-mine', 'east', '5'), ep('west-x', 'west', '9'), ep('east-submariner', 'east'), ep('odd', undefined)], 'east', 'east-mine', 5);
  assert.deepEqual(plan, { superseded: false, deletions: [
    { name: 'east-old', uid: 'uid-east-old', resourceVersion: 'rv-east-old' },
    { name: 'east-submariner', uid: 'uid-east-submariner', resourceVersion: 'rv-east-submariner' },
  ] });
});

test('an Endpoint of a newer leader (higher transition count) is never deleted: this gateway is superseded', () => {
  const plan = exclusiveEndpointPlan([ep('east-old', 'east', '2'), ep('east-new-leader', 'east', '6')], 'east', 'east-mine', 5);
  assert.deepEqual(plan, { superseded: true, by: 'east-new-leader', token: 6 });
});

test('an equal token (the same term re-published under a new name) or a malformed one is not a newer leader', () => {
  assert.deepEqual(exclusiveEndpointPlan([ep('east-a', 'east', '5'), ep('east-b', 'east', '07'), ep('east-c', 'east', '-1'), ep('east-d', 'east', '1e3')], 'east', 'east-mine', 5),
    { superseded: false, deletions: ['east-a', 'east-b', 'east-c', 'east-d'].map((n) => ({ name: n, uid: `uid-${n}`, resourceVersion: `rv-${n}` })) });
  assert.equal(fencingTokenOf({ annotations: { 'seaway.io/lease-transitions': '12' } }), 12);
  assert.equal(fencingTokenOf({ annotations: { 'seaway.io/lease-transitions': '' } }), undefined);
  assert.equal(fencingTokenOf({ annotations: {} }), undefined);
});
