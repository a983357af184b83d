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
  assert.throws(() => { (frozen.endpoints as unknown[]).push(1); }, TypeError);
  assert.throws(() => { (frozen.nodes[0] as { ready: boolean }).ready = false; }, TypeError);
  assert.equal(frozen.endpoints[0]?.spec, endpointSpec);
  assert.deepEqual(frozen, source);
});

test('freezing does not freeze the informer-owned source', () => {
  const source: Snapshot = { endpoints: [], clusters: [], nodes: [node('n1', null)] };
  const withEndpoint: Snapshot = { ...source, endpoints: [endpoint('west', spec(), undefined, { 'seaway.io/lease-transitions': '3' })] };
  freezeSnapshot(source);
  freezeSnapshot(withEndpoint);
  assert.ok(!Object.isFrozen(withEndpoint.endpoints[0]?.annotations));
  assert.ok(!Object.isFrozen(source.nodes));
  assert.ok(!Object.isFrozen(source.nodes[0]));
});
