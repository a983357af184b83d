import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freezeSnapshot, type Snapshot } from '../../src/model/snapshot.ts';
import { endpoint, node, spec } from './model-fixtures.ts';

test('freezeSnapshot makes lists, objects, labels and annotations immutable without copying specs', () => {
  const endpointSpec = spec();
  const source: Snapshot = { endpoints: [endpoint('west', endpointSpec, undefined, { 'seaway.io/lease-transitions': '3' })], clusters: [], nodes: [node('n1', '192.168.1.1', { a: 'b' })] };
  const frozen = freezeSnapshot(source);
  assert.ok(Object.isFrozen(frozen));
  assert.ok(Object.isFrozen(frozen.endpoints));
  assert.ok(Object.isFrozen(frozen.endpoints[0]));
  assert.ok(Object.isFrozen(frozen.endpoints[0]?.annotations));
  assert.ok(Object.isFrozen(frozen.nodes[0]?.annotations));
  assert.ok(Object.isFrozen(frozen.nodes[0]?.labels));
  assert.ok(Object.isFrozen(frozen.nodes[0]?.addresses));
  assert.throws(() => { (frozen.endpoints as unknown[]).push(1); }, TypeError);
  assert.throws(() => { (frozen.nodes[0] as { ready: boolean }).ready = false; }, TypeError);
  assert.equal(frozen.endpoints[0]?.spec, endpointSpec);
  assert.ok(!Object.isFrozen(endpointSpec), 'the spec is the informer\'s, not frozen');
});

test('freezing is in place, not a copy: the same objects, in new frozen lists (the source lists stay the informer\'s)', () => {
  const source: Snapshot = { endpoints: [endpoint('west', spec(), undefined, { 'seaway.io/lease-transitions': '3' })], clusters: [], nodes: [node('n1', null)] };
  const frozen = freezeSnapshot(source);
  assert.equal(frozen.nodes[0], source.nodes[0]);
  assert.equal(frozen.endpoints[0], source.endpoints[0]);
  assert.ok(Object.isFrozen(source.nodes[0]));
  assert.ok(Object.isFrozen(source.endpoints[0]?.annotations));
  assert.ok(!Object.isFrozen(source.nodes), 'the informer\'s list is not frozen');
  assert.notEqual(frozen.nodes, source.nodes);
  // Frozen twice: the same objects again, nothing copied.
  assert.equal(freezeSnapshot(source).nodes[0], frozen.nodes[0]);
});
