/** What the gateway e2e tests and the gateway benchmark share: reading the lab's gateways, and crashing and restoring a node. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { run } from '../../src/kernel/exec.ts';
import { labStatus, startAgent, stopAgent } from '../lab/lab.ts';
import { httpGetUnix } from '../lab/http-unix.ts';
import { labPaths } from '../lab/paths.ts';
import { hasLabMarker } from '../lab/processes.ts';
import type { ClusterStatus, LabStatus, NodeStatus } from '../lab/state.ts';
import { waitFor } from '../helpers/wait.ts';

export const NS = 'submariner-operator';
export const BROKER_NS = 'submariner-k8s-broker';

export interface Listed {
  metadata: { name: string; uid: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: { cluster_id?: string; hostname?: string; backend?: string };
  status?: GatewayStatusBody;
}
export interface GatewayStatusBody {
  haStatus: string;
  statusFailure: string;
  connections: Array<{ status: string; statusMessage: string; endpoint: { cluster_id: string; healthCheckIP?: string }; latencyRTT?: Record<string, string> }>;
}

function kubeConfig(file: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  return kc;
}

export const customApi = (file: string): CustomObjectsApi => kubeConfig(file).makeApiClient(CustomObjectsApi);
export const coreApi = (file: string): CoreV1Api => kubeConfig(file).makeApiClient(CoreV1Api);

export async function list(kubeconfig: string, namespace: string, plural: string): Promise<Listed[]> {
  const answer = await customApi(kubeconfig).listNamespacedCustomObject({ group: 'submariner.io', version: 'v1', namespace, plural });
  return (answer as { items: Listed[] }).items;
}

/** Submariner's tools take a Gateway object whose update-timestamp is older than this for stale (a dead gateway's). */
const FRESH_SECONDS = 15;

const fresh = (g: Listed): boolean => Date.now() / 1000 - Number(g.metadata.annotations?.['update-timestamp']) < FRESH_SECONDS;

/** The cluster's active gateway node, as its fresh Gateway objects say (exactly one active), or undefined. */
export async function activeGateway(cluster: ClusterStatus): Promise<string | undefined> {
  const active = (await list(cluster.kubeconfig, NS, 'gateways')).filter((g) => fresh(g) && g.status?.haStatus === 'active');
  return active.length === 1 ? active[0]!.metadata.name : undefined;
}

/** Exactly one Endpoint per cluster in each cluster and on the broker; the local one published from `gatewayNode` when given. */
export async function oneEndpointPerCluster(lab: LabStatus, gatewayNode?: { cluster: string; node: string }): Promise<boolean> {
  const views = await Promise.all([
    ...lab.clusters.map((c) => list(c.kubeconfig, NS, 'endpoints')),
    list(lab.broker.kubeconfig, BROKER_NS, 'endpoints'),
  ]);
  const clusters = lab.clusters.length;
  const ok = views.every((items) => items.length === clusters && new Set(items.map((e) => e.spec?.cluster_id)).size === clusters);
  if (!ok || gatewayNode === undefined) return ok;
  return views.every((items) => items.some((e) => e.spec?.cluster_id === gatewayNode.cluster && e.spec.hostname === gatewayNode.node));
}

export async function gatewayLog(node: NodeStatus | undefined): Promise<Array<Record<string, unknown>>> {
  if (!node?.gateway) throw new Error(`${node?.name ?? 'the node'} runs no gateway`);
  return (await readFile(node.gateway.log, 'utf8')).split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

export async function gatewayHttp(node: NodeStatus, path: string): Promise<{ status: number; body: string }> {
  if (!node.gateway) throw new Error(`${node.name} runs no gateway`);
  return httpGetUnix(node.gateway.socket, path);
}

/** The node's status as the lab has it now (its processes change as tests stop and start them). */
export async function nodeNow(prefix: string, name: string): Promise<NodeStatus> {
  const node = (await labStatus(prefix)).clusters.flatMap((c) => c.nodes).find((n) => n.name === name);
  if (!node) throw new Error(`no node ${name}`);
  return node;
}

/**
 * A node dies: its gateway and route agent are killed (SIGKILL, their charon too, as a container
 * runtime kills a pod's every process) and its links go down, so nothing of it answers any more.
 */
export async function crashNode(prefix: string, node: NodeStatus): Promise<void> {
  const paths = labPaths(prefix);
  const charonPidFile = join(paths.node(node.name).gatewayStateDir, 'charon', 'charon.pid');
  const charonPid = Number((await readFile(charonPidFile, 'utf8').catch(() => '')).trim());
  await stopAgent(prefix, node.name, { role: 'gateway', signal: 'SIGKILL' });
  // The file may name a charon that died and whose pid is another process's by now: only the lab's charon is killed.
  if (Number.isInteger(charonPid) && charonPid > 0 && (await hasLabMarker(charonPid, paths.dir))) {
    try { process.kill(charonPid, 'SIGKILL'); } catch { /* gone with its parent */ }
  }
  await stopAgent(prefix, node.name, { role: 'agent', signal: 'SIGKILL' });
  for (const link of ['eth0', 'eth1']) await run('ip', ['-n', node.namespace, 'link', 'set', link, 'down']);
}

/**
 * The node comes back as a rebooted node does: links up with its network configuration (the routes
 * that went with the link: the default via the control plane, and the lab CNI's routes to the other
 * nodes' pod ranges), its route agent and gateway started again.
 */
export async function restoreNode(prefix: string, cluster: ClusterStatus, node: NodeStatus, gatewayEnv: Record<string, string>): Promise<void> {
  const ip = (...args: string[]) => run('ip', ['-n', node.namespace, ...args]);
  for (const link of ['eth0', 'eth1']) await ip('link', 'set', link, 'up');
  await ip('route', 'replace', 'default', 'via', new URL(cluster.apiserver.url).hostname, 'dev', 'eth0');
  for (const other of cluster.nodes) if (other.name !== node.name) await ip('route', 'replace', other.podCidr, 'via', other.ip, 'dev', 'eth0');
  await startAgent(prefix, node.name, { role: 'agent' });
  await startAgent(prefix, node.name, { role: 'gateway', env: gatewayEnv });
}

/** Waits until the node's gateway publishes a fresh passive Gateway object with no failure (a ready standby). */
export async function waitStandbyReady(cluster: ClusterStatus, nodeName: string, timeoutMs = 60_000): Promise<void> {
  await waitFor(`${nodeName} to be a ready standby`, async () => {
    const mine = (await list(cluster.kubeconfig, NS, 'gateways')).find((g) => g.metadata.name === nodeName);
    const stamp = Number(mine?.metadata.annotations?.['update-timestamp']);
    return mine?.status?.haStatus === 'passive' && mine.status.statusFailure === '' && Date.now() / 1000 - stamp < 10;
  }, { timeoutMs, intervalMs: 250 });
}
