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

test('while the host network is quiet (no link, address, rule or default route changed) the facts are not read again; a change, another CNI address or another InternalIP reads them', async () => {
  const { rtnl, counts } = kernel({ value: null });
  let snapshot = snapshotWith(['10.2.0.0/16']);
  let cniNow = cni;
  const planning = createPlanning({ config, rtnl, snapshot: () => snapshot, cniInterface: () => cniNow });
  const quiet = new Set(['host-network'] as const);
  await planning(quiet);
  assert.equal(counts.reads, 1, 'nothing read before: read once');
  const plan = (await planning(quiet)).plan;
  await planning(quiet);
  assert.equal(counts.reads, 1, 'quiet: the facts last read still hold');
  assert.equal((await planning(quiet)).plan, plan);
  await planning(new Set());
  assert.equal(counts.reads, 2, 'a change reported: read again');
  await planning(quiet);
  assert.equal(counts.reads, 2);
  cniNow = { ...cni, address: '10.244.1.2' };
  await planning(quiet);
  assert.equal(counts.reads, 3, 'another CNI address is another input of the facts');
  snapshot = { ...snapshot, nodes: [gatewayNode('east-gw', '192.168.1.10'), node('east-worker', '192.168.1.22')] };
  await planning(quiet).catch(() => undefined);
  assert.equal(counts.reads, 4, 'another InternalIP is another input of the facts');
});

test('a facts read that fails is not kept: the next pass reads again even when quiet', async () => {
  const { rtnl, counts } = kernel({ value: null });
  const failing = { ...rtnl, listAddresses: async () => { counts.reads++; throw new Error('netlink dump timed out'); } } as unknown as Rtnetlink;
  let kernelNow = failing;
  const planning = createPlanning({ config, rtnl: new Proxy({} as Rtnetlink, { get: (_t, key) => (kernelNow as never)[key] }), snapshot: () => snapshotWith(['10.2.0.0/16']), cniInterface: () => cni });
  const quiet = new Set(['host-network'] as const);
  await assert.rejects(planning(quiet), /timed out/);
  kernelNow = rtnl;
  await planning(quiet);
  assert.equal(counts.reads, 2, 'the failed read left nothing to trust');
});
