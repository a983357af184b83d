import { test } from 'node:test';
import assert from 'node:assert/strict';
import { endpointValidationContext, validateEndpoint } from '../../src/model/endpoint.ts';
import type { AcceptedEndpoint } from '../../src/model/endpoint-set.ts';
import { offNodeNetworks, refuseOnThisNode } from '../../src/plan/node-local-refusals.ts';
import { endpoint, spec } from './model-fixtures.ts';

const ctx = endpointValidationContext({ localClusterId: 'east', podCidrs: ['10.244.0.0/16'], serviceCidrs: ['10.96.0.0/12'], minPrefixLength: 8, maxSubnets: 64 });

function accepted(name: string, overrides: Record<string, unknown>): AcceptedEndpoint {
  const object = endpoint(name, spec(overrides));
  const result = validateEndpoint(object.spec, ctx);
  if (!result.ok) throw new Error(result.message);
  return { object, spec: result.endpoint, subnets: result.subnets, notes: result.notes };
}

const remotes = [
  accepted('west', { subnets: ['172.17.5.0/24', '10.2.0.0/16'] }),
  accepted('north', { cluster_id: 'north', subnets: ['192.168.1.128/25', '10.3.0.0/16', '172.16.0.0/12'] }),
];

test('subnets overlapping this node\'s networks (either way) are refused here with the reason; the rest are routed, sorted', () => {
  const { routed, refused } = refuseOnThisNode(remotes, ['192.168.1.21/24', '172.17.0.1/16']);
  assert.deepEqual(routed.map((r) => r.text), ['10.2.0.0/16', '10.3.0.0/16']);
  assert.deepEqual(refused.map((r) => [r.clusterId, r.subnet, r.reason, r.endpoint.name]), [
    ['north', '172.16.0.0/12', 'overlaps-node-network', 'north'],
    ['west', '172.17.5.0/24', 'overlaps-node-network', 'west'],
    ['north', '192.168.1.128/25', 'overlaps-node-network', 'north'],
  ]);
  assert.equal(refused[2]?.message, 'subnet 192.168.1.128/25 of cluster "north" overlaps this node\'s network 192.168.1.0/24; not routed on this node');
});

test('a node without those networks routes everything; IPv6 and unreadable networks are skipped', () => {
  const { routed, refused } = refuseOnThisNode(remotes, ['10.9.0.5/24', 'fe80::1/64', 'garbage', '']);
  assert.deepEqual(refused, []);
  assert.deepEqual(routed.map((r) => r.text), ['10.2.0.0/16', '10.3.0.0/16', '172.16.0.0/12', '172.17.5.0/24', '192.168.1.128/25']);
  assert.deepEqual(refuseOnThisNode([], ['10.0.0.0/8']), { routed: [], refused: [] });
});

test('a /32 network (a GKE-style NIC) refuses only a subnet that covers it', () => {
  const { refused } = refuseOnThisNode([accepted('west', { subnets: ['100.64.0.0/16', '100.65.0.0/16'] })], ['100.64.3.4/32']);
  assert.deepEqual(refused.map((r) => r.subnet), ['100.64.0.0/16']);
});

test('subnets carried over from earlier passes are filtered by the same networks', () => {
  assert.deepEqual(offNodeNetworks(['10.2.0.0/16', '172.17.5.0/24', '172.16.0.0/12', 'garbage', '192.168.2.0/24'], ['172.17.0.1/16', '192.168.1.21/24']), ['10.2.0.0/16', '192.168.2.0/24']);
  assert.deepEqual(offNodeNetworks([], ['10.0.0.0/8']), []);
  assert.deepEqual(offNodeNetworks(['10.2.0.0/16'], []), ['10.2.0.0/16']);
});

test('with a memo: the same answers as without, each remote split once while its subnets and the node\'s networks stay', () => {
  const memo = new WeakMap();
  const networks = ['192.168.1.21/24', '172.17.0.1/16'];
  const first = refuseOnThisNode(remotes, networks, memo);
  assert.deepEqual(first, refuseOnThisNode(remotes, networks));
  const again = refuseOnThisNode(remotes, networks, memo);
  assert.deepEqual(again, first);
  assert.ok(again.routed.every((r, i) => r === first.routed[i]), 'unchanged remotes: their routed subnets are the ones split before');
  const unmemoised = refuseOnThisNode(remotes, networks);
  assert.ok(unmemoised.routed.every((r, i) => r !== first.routed[i]), 'without a memo every pass splits anew');

  // The node's networks change: split again, and a subnet refused before is routed now.
  const moved = refuseOnThisNode(remotes, ['192.168.1.21/24'], memo);
  assert.deepEqual(moved, refuseOnThisNode(remotes, ['192.168.1.21/24']));
  assert.ok(moved.routed.some((r) => r.text === '172.17.5.0/24'));

  // The same subnets under another Endpoint object (created again): its refusals name the new one,
  // not the one the split was first made for.
  const west = remotes[0]!;
  refuseOnThisNode(remotes, networks, memo);
  const recreated: AcceptedEndpoint = { ...west, object: { ...west.object, uid: 'recreated' } };
  const after = refuseOnThisNode([recreated, remotes[1]!], networks, memo);
  assert.equal(after.refused.find((r) => r.clusterId === 'west')?.endpoint.uid, 'recreated');
});
