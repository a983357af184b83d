/**
 * Issue 5's uninstall in the lab, for both packet filter backends: on every node, the state after
 * `seaway cleanup` equals the state before seaway first started (routes in all tables, rules, links,
 * FDB, iptables in both flavours, the nft ruleset, ipsets, the sysctls seaway touches); a second run
 * changes nothing; each run exits 0 while the API servers hang every request (needing them would hang it
 * past its exec deadline). SIGTERM
 * leaves the datapath in place. Cleanup on a node where seaway never ran changes nothing.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { requireTools } from '../helpers/prereq.ts';
import { waitFor } from '../helpers/wait.ts';
import { httpGetUnix } from '../lab/http-unix.ts';
import { AdminClient } from '../lab/apiserver/admin-client.ts';
import { labDown, labUp, startAgent, stopAgent } from '../lab/lab.ts';
import { labPaths } from '../lab/paths.ts';
import type { ClusterStatus, LabStatus, NodeStatus } from '../lab/state.ts';
import { differences, inNode, linkLocalSettled, nodeState, runNodeCleanup, type CleanupRun, type NodeState } from './cleanup-support.ts';

const prefix = `swg${randomBytes(2).toString('hex')}`;
const cleanup = (node: NodeStatus, cluster: ClusterStatus): Promise<CleanupRun> => runNodeCleanup(prefix, node, cluster);

describe('seaway cleanup leaves every node as it was before seaway first started', () => {
  let lab: LabStatus;
  let nodes: Array<{ node: NodeStatus; cluster: ClusterStatus }>;
  const original = new Map<string, NodeState>();
  const originalOf = (node: NodeStatus) => original.get(node.name) as NodeState;

  before(async () => {
    requireTools('ip', 'bridge', 'iptables-legacy-save', 'iptables-nft-save', 'nft', 'ipset', 'sysctl');
    lab = await labUp({ endpoints: true, prefix, clusters: 2, nodes: 2, gateways: 1, podsPerNode: 1, nodeReadyDelay: 0, cniDelay: 0, agents: false, wait: true });
    nodes = lab.clusters.flatMap((cluster) => cluster.nodes.map((node) => ({ node, cluster })));
    for (const { node } of nodes) {
      // A host that drops forwarded traffic (so the nftables backend needs its iptables shim) and whose
      // CNI interface has strict reverse-path filtering (so seaway changes a sysctl it must give back).
      await inNode(node, 'iptables', ['-P', 'FORWARD', 'DROP']);
      await inNode(node, 'sysctl', ['-q', '-w', `net.ipv4.conf.${node.cniInterface}.rp_filter=1`]);
      await linkLocalSettled(node);
      original.set(node.name, await nodeState(node));
    }
  });

  after(async () => {
    await labDown(prefix);
  });

  it('on a node where seaway never ran, cleanup exits 0 and changes nothing', async () => {
    const { node, cluster } = nodes[1] as { node: NodeStatus; cluster: ClusterStatus };
    const result = await cleanup(node, cluster);
    assert.equal(result.code, 0, result.output);
    assert.deepEqual(differences(originalOf(node), await nodeState(node)), []);
  });

  for (const backend of ['iptables', 'nftables'] as const) {
    it(`${backend} backend: after SIGTERM the datapath stays; cleanup (twice) restores the original state with the API servers hanging`, async () => {
      for (const { node } of nodes) await startAgent(prefix, node.name, { env: { SEAWAY_FILTER_BACKEND: backend } });
      const admins = lab.clusters.map((c) => new AdminClient({ socketPath: c.apiserver.socket }));
      try {
        await Promise.all(nodes.map(({ node }) => waitFor(`${node.name} agent ready`, async () =>
          (await httpGetUnix(labPaths(prefix).node(node.name).agentSocket, '/readyz')).status === 200, { timeoutMs: 30_000, intervalMs: 50 })));
        for (const { node } of nodes) {
          const programmed = await nodeState(node);
          const changed = differences(originalOf(node), programmed);
          // Workers route in the main table with no rule; only the gateway has rule 150.
          for (const part of [...['routes', 'links', 'sysctls', 'iptablesNft', 'nftRuleset', 'ipsets'] as const, ...(node.name.endsWith('-node1') ? ['rules'] as const : [])]) {
            assert.ok(changed.includes(part), `${node.name}: seaway programmed ${part} (changed: ${changed.join(', ')})`);
          }
          assert.match(programmed.sysctls, new RegExp(`net\\.ipv4\\.conf\\.${node.cniInterface}\\.rp_filter = 2`));
          if (backend === 'nftables') assert.match(programmed.iptablesNft, /-A FORWARD -m comment --comment "seaway:[^"]+" -j SUBMARINER-FORWARD/, `${node.name}: the shim under FORWARD DROP`);
        }

        for (const { node } of nodes) await stopAgent(prefix, node.name);
        for (const { node } of nodes) {
          const left = await nodeState(node);
          assert.match(left.links, /vx-submariner/, `${node.name}: SIGTERM left vx-submariner in place`);
          assert.match(left.ipsets, /SUBMARINER-REMOTECIDRS/, `${node.name}: SIGTERM left the sets in place`);
          assert.notDeepEqual(differences(originalOf(node), left), [], `${node.name}: SIGTERM left the datapath in place`);
        }

        for (const admin of admins) await admin.pause('hold');
        for (const round of [1, 2]) {
          // One node at a time: on a cluster each node uninstalls on its own host, and the 5 s limit is per node.
          const runs = [];
          for (const { node, cluster } of nodes) runs.push(await cleanup(node, cluster));
          for (const [i, result] of runs.entries()) {
            const { node } = nodes[i]!;
            assert.equal(result.code, 0, `${node.name} cleanup #${round}: ${result.output}`);
            const now = await nodeState(node);
            const changed = differences(originalOf(node), now);
            assert.deepEqual(changed, [], `${node.name} after cleanup #${round}: ${changed.map((k) => `\n--- ${k} before:\n${originalOf(node)[k]}\n--- now:\n${now[k]}`).join('')}`);
          }
          console.log(`${backend}: cleanup #${round} per node (ms): ${runs.map((r) => r.ms.toFixed(0)).join(', ')}`);
        }
      } finally {
        for (const admin of admins) await admin.resume().catch(() => 0);
        for (const { node } of nodes) await stopAgent(prefix, node.name).catch(() => {});
      }
    });
  }
});
