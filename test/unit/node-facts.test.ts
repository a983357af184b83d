import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readNodeFacts } from '../../src/dataplane/node-facts.ts';
import type { Rtnetlink } from '../../src/kernel/rtnetlink.ts';

/** A kernel with eth0 holding `address/prefix` and a default route via `gateway` (the Rtnetlink seam). */
const kernel = (address: string, prefix: number, gateway: string) => ({
  listRoutes: async () => [{ table: 254, dst: '0.0.0.0/0', gateway, oif: 2, protocol: 4, scope: 0, type: 1 }],
  listLinks: async () => [{ index: 2, name: 'eth0', mtu: 1460, up: true }],
  listAddresses: async () => [{ ifindex: 2, address, prefixLength: prefix, cidr: `${address}/${prefix}`, scope: 0 }],
}) as unknown as Rtnetlink;

test('a default gateway outside every interface network (a /32 NIC) is one of the node\'s networks, so no remote subnet may cover it here', async () => {
  const facts = await readNodeFacts(kernel('10.132.0.10', 32, '10.132.0.1'), null);
  assert.deepEqual(facts?.networks, ['10.132.0.10/32', '10.132.0.1/32']);
});

test('an on-link default gateway adds nothing: its interface network already holds it', async () => {
  const facts = await readNodeFacts(kernel('192.168.1.21', 24, '192.168.1.1'), null);
  assert.deepEqual(facts?.networks, ['192.168.1.0/24']);
});
