/**
 * Issue 8 (review M2) in the lab: a corrupt or an empty sysctl state file does not stop the agent
 * from becoming ready, it is moved aside and reported once, and `seaway cleanup` still removes
 * everything seaway programmed, even when it meets a corrupt file itself.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { requireTools } from '../helpers/prereq.ts';
import { waitFor } from '../helpers/wait.ts';
import { httpGetUnix } from '../lab/http-unix.ts';
import { labDown, labUp, startAgent, stopAgent } from '../lab/lab.ts';
import { labPaths } from '../lab/paths.ts';
import type { ClusterStatus, NodeStatus } from '../lab/state.ts';
import {
  describeDifferences, differences, inNode, linkLocalSettled, nodeState, nodeStateDir, runNodeCleanup, type NodeState,
} from './cleanup-support.ts';

const prefix = `sws${randomBytes(2).toString('hex')}`;
const STATE_FILE = 'sysctl-originals.json';
const CORRUPT = '{"version":1,"originals":{"net/ipv4/conf/';
const QUARANTINE_MESSAGE = 'sysctl state file unreadable: moved aside, continuing with no remembered sysctl originals';

const logLines = async (node: NodeStatus) => (await readFile(labPaths(prefix).node(node.name).agentLog, 'utf8'))
  .split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);

describe('a corrupt or empty sysctl state file', () => {
  let cluster: ClusterStatus;
  /** One node starts with a corrupt file, the other with an empty one. */
  let nodes: Array<{ node: NodeStatus; content: string }>;
  const original = new Map<string, NodeState>();

  before(async () => {
    requireTools('ip', 'bridge', 'iptables-legacy-save', 'iptables-nft-save', 'nft', 'ipset', 'sysctl');
    const lab = await labUp({ endpoints: true, prefix, clusters: 1, nodes: 2, gateways: 1, podsPerNode: 0, nodeReadyDelay: 0, cniDelay: 0, agents: false, wait: true });
    cluster = lab.clusters[0] as ClusterStatus;
    const [first, second] = cluster.nodes as [NodeStatus, NodeStatus];
    nodes = [{ node: first, content: CORRUPT }, { node: second, content: '' }];
    for (const { node, content } of nodes) {
      // Strict reverse-path filtering on the CNI interface, so seaway replaces a sysctl it must give back.
      await inNode(node, 'sysctl', ['-q', '-w', `net.ipv4.conf.${node.cniInterface}.rp_filter=1`]);
      await linkLocalSettled(node);
      original.set(node.name, await nodeState(node));
      await mkdir(nodeStateDir(prefix, node), { recursive: true });
      await writeFile(join(nodeStateDir(prefix, node), STATE_FILE), content);
    }
  });

  after(async () => {
    await labDown(prefix);
  });

  it('the agent becomes ready and reports the file moved aside; cleanup removes everything, also past a corrupt file of its own', async () => {
    try {
      for (const { node } of nodes) await startAgent(prefix, node.name);
      await Promise.all(nodes.map(({ node }) => waitFor(`${node.name} agent ready`, async () =>
        (await httpGetUnix(labPaths(prefix).node(node.name).agentSocket, '/readyz')).status === 200, { timeoutMs: 30_000, intervalMs: 50 })));

      for (const { node, content } of nodes) {
        const stateDir = nodeStateDir(prefix, node);
        const aside = (await readdir(stateDir)).filter((name) => name.startsWith(`${STATE_FILE}.corrupt-`));
        assert.equal(aside.length, 1, `${node.name}: ${(await readdir(stateDir)).join(', ')}`);
        assert.equal(await readFile(join(stateDir, aside[0]!), 'utf8'), content, `${node.name}: the unreadable file kept as it was`);
        const warnings = (await logLines(node)).filter((l) => l.msg === QUARANTINE_MESSAGE);
        assert.equal(warnings.length, 1, `${node.name}: one warning`);
        assert.equal(warnings[0]?.path, join(stateDir, STATE_FILE));
        assert.equal(warnings[0]?.movedTo, join(stateDir, aside[0]!));
        // The agent carried on and remembers what it replaced from then on.
        const fresh = JSON.parse(await readFile(join(stateDir, STATE_FILE), 'utf8')) as { version: number; originals: Record<string, string> };
        assert.equal(fresh.version, 1);
        assert.equal(fresh.originals[`net/ipv4/conf/${node.cniInterface}/rp_filter`], '1');
        const changed = differences(original.get(node.name)!, await nodeState(node));
        // Workers route in the main table with no rule; only the gateway has rule 150.
          for (const part of [...['routes', 'links', 'sysctls', 'iptablesNft', 'ipsets'] as const, ...(node.name.endsWith('-node1') ? ['rules'] as const : [])]) {
          assert.ok(changed.includes(part), `${node.name}: seaway programmed ${part} (changed: ${changed.join(', ')})`);
        }
      }
      for (const { node } of nodes) await stopAgent(prefix, node.name);

      // First node: cleanup with the agent's fresh file gives everything back, sysctls included.
      const [first, second] = nodes as [(typeof nodes)[number], (typeof nodes)[number]];
      const restored = await runNodeCleanup(prefix, first.node, cluster);
      assert.equal(restored.code, 0, restored.output);
      const now = await nodeState(first.node);
      assert.deepEqual(differences(original.get(first.node.name)!, now), [], describeDifferences(original.get(first.node.name)!, now));
      assert.ok(!(await readdir(nodeStateDir(prefix, first.node))).includes(STATE_FILE), 'nothing left to remember');

      // Second node: the file is corrupt again when cleanup runs. It cannot know the sysctl originals,
      // says so, and still removes every route, rule, link, chain and set.
      await writeFile(join(nodeStateDir(prefix, second.node), STATE_FILE), CORRUPT);
      const past = await runNodeCleanup(prefix, second.node, cluster);
      assert.equal(past.code, 0, past.output);
      assert.match(past.output, new RegExp(QUARANTINE_MESSAGE));
      const left = await nodeState(second.node);
      assert.deepEqual(differences(original.get(second.node.name)!, left).filter((part) => part !== 'sysctls'), [],
        describeDifferences(original.get(second.node.name)!, left));
      console.log(`cleanup (ms): ${restored.ms.toFixed(0)} with the agent's file, ${past.ms.toFixed(0)} past a corrupt one`);
    } finally {
      for (const { node } of nodes) await stopAgent(prefix, node.name).catch(() => {});
    }
  });
});
