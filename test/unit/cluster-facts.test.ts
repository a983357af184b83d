import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apiServerProtected, localEndpointAddresses, nodeAddresses, sortProtected } from '../../src/model/cluster-facts.ts';
import { node, shuffled } from './model-fixtures.ts';

test('Node addresses: every IPv4 status address of every Node; Hostname entries, IPv6 and garbage are skipped', () => {
  const found = nodeAddresses([
    node('a', '192.168.1.10', {}, { addresses: ['192.168.1.10', 'a.example', 'fd00::10', '100.64.0.10', '192.168.001.010', ''] }),
    node('b', null),
  ]);
  assert.deepEqual(found.map((p) => [p.text, p.kind, p.label]), [
    ['192.168.1.10', 'node', 'an address of Node a'],
    ['100.64.0.10', 'node', 'an address of Node a'],
  ]);
});

test('API server addresses: IPv4 only; the local Endpoint\'s private and public ones labelled', () => {
  assert.deepEqual(apiServerProtected(['10.0.0.1', 'api.example', 'fd00::1', '']).map((p) => [p.text, p.kind]), [['10.0.0.1', 'api-server']]);
  assert.deepEqual(localEndpointAddresses('ns/east', ['192.168.1.10'], ['203.0.113.1', 'bad']).map((p) => p.label), [
    'the private IP of the local Endpoint ns/east', 'the public IP of the local Endpoint ns/east',
  ]);
});

test('sorted by address, then API server before Node before local Endpoint, then label: the same list in any input order', () => {
  const all = [
    ...nodeAddresses([node('z', '10.0.0.5'), node('a', '10.0.0.5'), node('m', '10.0.0.1')]),
    ...apiServerProtected(['10.0.0.5']),
    ...localEndpointAddresses('ns/east', ['10.0.0.5'], []),
  ];
  const expected = ['10.0.0.1 node', '10.0.0.5 api-server', '10.0.0.5 node', '10.0.0.5 node', '10.0.0.5 local-endpoint'];
  for (let seed = 0; seed < 8; seed++) {
    const sorted = sortProtected(shuffled(all, seed));
    assert.deepEqual(sorted.map((p) => `${p.text} ${p.kind}`), expected);
    assert.deepEqual(sorted.filter((p) => p.kind === 'node' && p.text === '10.0.0.5').map((p) => p.label), ['an address of Node a', 'an address of Node z']);
  }
});
