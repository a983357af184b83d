/**
 * Planning (src/reconcile/planning.ts): the same inputs (the snapshot object, the node's facts, what
 * is held in grace) give the same plan without planning or validating again; any change plans anew.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig, type RunConfig } from '../../src/config.ts';
import type { Rtnetlink } from '../../src/kernel/rtnetlink.ts';
import type { Snapshot } from '../../src/model/snapshot.ts';
import { createPlanning } from '../../src/reconcile/planning.ts';
import { endpoint, gatewayNode, node, spec } from './model-fixtures.ts';

const config = parseConfig(['run', '--cluster-id', 'east', '--node-name', 'east-worker', '--pod-cidrs', '10.244.0.0/16', '--service-cidrs', '10.96.0.0/12'], {}) as RunConfig;

/** The node's facts: eth0 with 192.168.1.21 (and `extra` when set) and the default route; `reads` counts the address dumps. */
function kernel(extra: { value: string | null }) {
  const counts = { reads: 0 };
  const rtnl = {
    listDefaultRoutes: async () => [{ table: 254, metric: 0, paths: [{ ifindex: 2, gateway: '192.168.1.1' }] }],
    listRules: async () => [{ priority: 32766, table: 254, protocol: 2, action: 1, selective: false, narrowed: false }],
    listLinks: async () => [{ index: 2, name: 'eth0', mtu: 1500, up: true }],
    listAddresses: async () => {
      counts.reads++;
      return ['192.168.1.21', ...(extra.value ? [extra.value] : [])].map((address) => ({ ifindex: 2, address, prefixLength: 24, cidr: `${address}/24`, scope: 0 }));
    },
  } as unknown as Rtnetlink;
  return { rtnl, counts };
}

const cni = { name: 'cni0', address: '10.244.1.1', index: 3, prefixLength: 24 };

const snapshotWith = (subnets: string[]): Snapshot => ({
  endpoints: [
    endpoint('east-ep', spec({ cluster_id: 'east', hostname: 'east-gw', private_ip: '192.168.1.10', subnets: ['10.244.0.0/16', '10.96.0.0/12'] })),
    endpoint('west-ep', spec({ cluster_id: 'west', subnets })),
  ],
  clusters: [],
  nodes: [gatewayNode('east-gw', '192.168.1.10'), node('east-worker', '192.168.1.21')],
});

test('the same snapshot and node facts: the same plan object, not planned (nor validated) again; the facts are still read', async () => {
  const { rtnl, counts } = kernel({ value: null });
  const snapshot = snapshotWith(['10.2.0.0/16']);
  const planning = createPlanning({ config, rtnl, snapshot: () => snapshot, cniInterface: () => cni });
  // The first pass trusts the local gateway, which the next pass takes in as the one last trusted:
  // an input of planNode, so the second plans once more (to the same content); from then on nothing does.
  const first = await planning();
  const second = await planning();
  assert.deepEqual(second.plan, first.plan);
  const third = await planning();
  assert.equal(third.plan, second.plan, 'the plan of the last pass, as it was');
  assert.equal((await planning()).plan, second.plan);
  assert.ok(third.plan.desired.routes.some((r) => r.dst === '10.2.0.0/16'));
  assert.equal(counts.reads, 4, 'the facts are read every pass: a changed address must be seen');
  third.accept(true);
  assert.equal((await planning()).steady, true);
});

test('a new snapshot or changed node facts plan anew', async () => {
  const extra: { value: string | null } = { value: null };
  const { rtnl } = kernel(extra);
  let snapshot = snapshotWith(['10.2.0.0/16']);
  const planning = createPlanning({ config, rtnl, snapshot: () => snapshot, cniInterface: () => cni });
  const first = await planning();
  snapshot = snapshotWith(['10.3.0.0/16']);
  const second = await planning();
  assert.notEqual(second.plan, first.plan);
  assert.ok(second.plan.desired.routes.some((r) => r.dst === '10.3.0.0/16'));
  const settled = await planning();
  extra.value = '192.168.7.5';
  const third = await planning();
  assert.notEqual(third.plan, settled.plan, 'the node has another network: planned again');
  assert.equal((await planning()).plan, third.plan);
});
