import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeVtepCollision, vtepCollisions } from '../../src/model/vtep-collisions.ts';
import { node, shuffled } from './model-fixtures.ts';

test('nodes whose IPs differ only in the first octet share a VTEP: both are reported, sorted', () => {
  const nodes = [node('n-172', '172.1.2.3'), node('n-10', '10.1.2.3'), node('other', '10.1.2.4')];
  for (let seed = 0; seed < 6; seed++) {
    assert.deepEqual(vtepCollisions(shuffled(nodes, seed)), [{ vtep: '240.1.2.3', nodes: [{ name: 'n-10', ip: '10.1.2.3' }, { name: 'n-172', ip: '172.1.2.3' }] }]);
  }
});

test('no collision among distinct low 24 bits; Nodes without a usable InternalIP are skipped', () => {
  assert.deepEqual(vtepCollisions([node('a', '10.1.2.3'), node('b', '10.1.2.4'), node('c', null), node('d', 'fd00::3'), node('e', 'garbage')]), []);
  assert.deepEqual(vtepCollisions([]), []);
});

test('groups of three and several groups, ordered by VTEP address', () => {
  const found = vtepCollisions([
    node('c', '192.9.9.9'), node('a', '10.9.9.9'), node('b', '172.9.9.9'),
    node('y', '11.0.0.1'), node('x', '12.0.0.1'),
  ]);
  assert.deepEqual(found.map((c) => [c.vtep, c.nodes.map((n) => n.name)]), [['240.0.0.1', ['x', 'y']], ['240.9.9.9', ['a', 'b', 'c']]]);
  assert.match(describeVtepCollision(found[1]!), /^Nodes a \(10.9.9.9\), b \(172.9.9.9\), c \(192.9.9.9\) share the VTEP address 240.9.9.9/);
});

test('two Nodes with the same InternalIP also share a VTEP', () => {
  assert.deepEqual(vtepCollisions([node('a', '10.0.0.1'), node('b', '10.0.0.1')]).map((c) => c.vtep), ['240.0.0.1']);
});
