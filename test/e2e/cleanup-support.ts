/** Shared by the cleanup e2e tests: everything seaway could touch on a lab node, and `seaway cleanup` run as the DaemonSet would. */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../src/kernel/exec.ts';
import { waitFor } from '../helpers/wait.ts';
import { labPaths } from '../lab/paths.ts';
import type { ClusterStatus, NodeStatus } from '../lab/state.ts';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

export const inNode = (node: NodeStatus, file: string, args: string[]) => run('ip', ['netns', 'exec', node.namespace, file, ...args]);

/** The node's state directory, where the agent keeps the sysctl values it replaced. */
export const nodeStateDir = (prefix: string, node: NodeStatus) => join(labPaths(prefix).node(node.name).dir, 'state');

/**
 * Everything seaway could touch on a node, as text. Masked: packet and byte counters, and the MAC
 * addresses a bridge learns and ages by itself (dynamic entries on bridge ports are the kernel's, not
 * anyone's configuration).
 */
export interface NodeState {
  routes: string; rules: string; links: string; fdb: string; iptablesLegacy: string; iptablesNft: string;
  nftRuleset: string; ipsets: string; sysctls: string;
}

export async function nodeState(node: NodeStatus): Promise<NodeState> {
  const [routes, rules, links, fdb, legacy, nftSave, ruleset, ipsets, sysctls] = await Promise.all([
    inNode(node, 'ip', ['route', 'show', 'table', 'all']),
    inNode(node, 'ip', ['rule', 'show']),
    inNode(node, 'ip', ['link', 'show']),
    inNode(node, 'bridge', ['fdb', 'show']),
    inNode(node, 'iptables-legacy-save', []),
    inNode(node, 'iptables-nft-save', []),
    inNode(node, 'nft', ['list', 'ruleset']),
    inNode(node, 'ipset', ['save']),
    inNode(node, 'sysctl', ['-a', '--pattern', '^net\\.ipv4\\.(ip_forward|conf\\.[^.]+\\.(rp_filter|forwarding))$']),
  ]);
  const iptables = (text: string) => text.split('\n').filter((l) => !l.startsWith('#')).join('\n').replace(/\[\d+:\d+\]/g, '[0:0]');
  return {
    routes: routes.stdout,
    rules: rules.stdout,
    links: links.stdout,
    fdb: fdb.stdout.split('\n').filter((l) => !/ master \S+\s*$/.test(l)).join('\n'),
    iptablesLegacy: iptables(legacy.stdout),
    iptablesNft: iptables(nftSave.stdout),
    nftRuleset: ruleset.stdout.replace(/packets \d+ bytes \d+/g, 'packets 0 bytes 0'),
    ipsets: ipsets.stdout,
    sysctls: sysctls.stdout.split('\n').sort().join('\n'),
  };
}

export interface CleanupRun { code: number; ms: number; output: string }

/** `node src/main.ts cleanup` inside the node, configured as the DaemonSet's agent is (its state dir, its kubeconfig). */
export async function runNodeCleanup(prefix: string, node: NodeStatus, cluster: ClusterStatus): Promise<CleanupRun> {
  const env = {
    ...process.env,
    NODE_NAME: node.name,
    SUBMARINER_CLUSTERID: cluster.id,
    KUBECONFIG: labPaths(prefix).server(cluster.id).agentKubeconfig,
    SEAWAY_STATE_DIR: nodeStateDir(prefix, node),
  };
  const start = performance.now();
  const result = await run('ip', ['netns', 'exec', node.namespace, process.execPath, MAIN, 'cleanup'], { env, allowFailure: true });
  return { code: result.code, ms: performance.now() - start, output: `${result.stdout}${result.stderr}` };
}

export function differences(before: NodeState, now: NodeState): Array<keyof NodeState> {
  return (Object.keys(before) as Array<keyof NodeState>).filter((key) => before[key] !== now[key]);
}

/** For an assertion message: each part that differs, before and now. */
export const describeDifferences = (before: NodeState, now: NodeState): string =>
  differences(before, now).map((k) => `\n--- ${k} before:\n${before[k]}\n--- now:\n${now[k]}`).join('');

/** IPv6 link-local addresses finish duplicate address detection a moment after the links come up, adding routes to table local. */
export async function linkLocalSettled(node: NodeStatus): Promise<void> {
  await waitFor(`${node.name}: no tentative IPv6 address`, async () =>
    (await inNode(node, 'ip', ['-6', 'addr', 'show', 'tentative'])).stdout.trim() === '', { timeoutMs: 10_000, intervalMs: 100 });
}
