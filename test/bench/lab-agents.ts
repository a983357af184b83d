/**
 * What the lab benchmarks (footprint, scale) read of the route agents the DaemonSet runs, and the
 * load they put in a cluster's API server: each agent's process (memory, CPU ticks), Pod, /metrics
 * and routes, and 5,000 realistic Nodes with 1,000 remote clusters' Endpoints.
 */
import { readFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { run } from '../../src/kernel/exec.ts';
import { SUBMARINER_NAMESPACE } from '../lab/agents.ts';
import { ROUTE_AGENT_DAEMONSET } from '../lab/deploy.ts';
import { SocketApi, type ApiObject } from '../lab/socket-api.ts';
import type { ClusterStatus, NodeStatus } from '../lab/state.ts';
import { labStatus, labUp } from '../lab/lab.ts';
import { waitFor } from '../helpers/wait.ts';
import { SUBMARINER_API } from '../lab/submariner-sim.ts';
import {
  benchNode, benchNodeName, benchNodePodCidr, boundedAll, checkSubnets, cpuPercent, metricSum, nodeConditions, parseHeapMetrics, parseProcStatTicks, parseProcStatus, remoteEndpoint, type MemorySample, type PhaseFigures,
} from './footprint-support.ts';

export interface PodJson extends ApiObject { spec: { nodeName?: string }; status?: { conditions?: Array<{ type: string; status: string }>; containerStatuses?: Array<{ restartCount: number }> } }

/** The agent's process: its memory and CPU ticks; a read that fails means the process is gone (restarted), which ends the run. */
export function agentProcess(pid: number) {
  const read = async (file: string) => {
    try {
      return await readFile(`/proc/${pid}/${file}`, 'utf8');
    } catch (error) {
      throw new Error(`the route agent (pid ${pid}) is gone: ${(error as Error).message}; did the kubelet restart it?`);
    }
  };
  return {
    memory: async (): Promise<MemorySample> => parseProcStatus(await read('status')),
    ticks: async (): Promise<number> => parseProcStatTicks(await read('stat')),
  };
}

export async function agentPod(api: SocketApi, node: NodeStatus): Promise<PodJson | undefined> {
  const pods = await api.list<PodJson>(`/api/v1/namespaces/${SUBMARINER_NAMESPACE}/pods`);
  return pods.find((pod) => pod.spec.nodeName === node.name && pod.metadata.name.startsWith(`${ROUTE_AGENT_DAEMONSET}-`));
}

export const isReady = (pod: PodJson | undefined) => pod?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

/** The agent's own /metrics (port 9082 on the node's address, in its namespace: the hostNetwork pod's). */
export async function agentMetrics(node: NodeStatus): Promise<string> {
  const script = `fetch('http://${node.ip}:9082/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))`;
  return (await run('ip', ['netns', 'exec', node.namespace, process.execPath, '-e', script], { timeoutMs: 30_000 })).stdout;
}

/** The agent's V8 heap from its /metrics. */
export async function agentHeap(node: NodeStatus): Promise<PhaseFigures['heap']> {
  const heap = parseHeapMetrics(await agentMetrics(node));
  if (heap === null) throw new Error(`the route agent's /metrics on ${node.name} has no nodejs_heap_size_used_bytes / nodejs_heap_size_total_bytes`);
  return heap;
}

/** Reconcile passes the agent has run, whatever their result. */
export const agentPasses = async (node: NodeStatus) => metricSum(await agentMetrics(node), 'seaway_reconcile_passes_total');

/** The destinations of seaway's routes in the node's main table. */
export async function routedDestinations(namespace: string): Promise<string[]> {
  const { stdout } = await run('ip', ['-n', namespace, 'route', 'show', 'proto', '147'], { timeoutMs: 30_000 });
  return stdout.split('\n').filter((line) => line.trim() !== '').map((line) => line.split(' ')[0] as string);
}

/** seaway's routes in the node's main table. */
export const countRoutes = async (namespace: string): Promise<number> => (await routedDestinations(namespace)).length;

const CREATE_CONCURRENCY = 20;

/**
 * `nodes` realistic Nodes and `clusters` remote clusters' Endpoints of `subnets` subnets each, created
 * in the cluster's API server; says how long each took and how big a Node is as served.
 */
export async function loadCluster(api: SocketApi, load: { nodes: number; clusters: number; subnets: number }): Promise<{ nodeNames: string[]; nodesMs: number; endpointsMs: number; endpointsStart: number; statusPatched: number; nodeBytes: number }> {
  const loadStart = performance.now();
  const nodeNames = Array.from({ length: load.nodes }, (_, i) => benchNodeName(i + 1));
  let statusPatched = 0;
  await boundedAll(nodeNames, CREATE_CONCURRENCY, async (name, i) => {
    const node = benchNode(i + 1, new Date());
    const created = await api.create<ApiObject & { status?: { images?: unknown[] } }>('/api/v1/nodes', node);
    // A server that drops the status on create (as some do for Nodes) gets it the kubelet's way, as a status write.
    if (!Array.isArray(created.status?.images)) {
      await api.mergePatch(`/api/v1/nodes/${name}/status`, { status: node.status });
      statusPatched++;
    }
  });
  const nodesMs = performance.now() - loadStart;
  const endpointsStart = performance.now();
  await boundedAll(Array.from({ length: load.clusters }, (_, i) => i + 1), CREATE_CONCURRENCY, async (index) => {
    await api.create(`${SUBMARINER_API}/namespaces/${SUBMARINER_NAMESPACE}/endpoints`, remoteEndpoint(index, load.subnets, SUBMARINER_NAMESPACE));
  });
  const endpointsMs = performance.now() - endpointsStart;
  const nodeBytes = JSON.stringify(await api.get(`/api/v1/nodes/${nodeNames[0]}`)).length;
  return { nodeNames, nodesMs, endpointsMs, endpointsStart, statusPatched, nodeBytes };
}

const HEARTBEAT_CONCURRENCY = 50;

/**
 * Node status heartbeats for `durationMs`: each second the next `perSecond` Nodes in turn, 50 at a
 * time (a second that runs late starts the next at once). Resolves with the patches written.
 */
export async function heartbeats(api: SocketApi, nodeNames: readonly string[], perSecond: number, durationMs: number): Promise<number> {
  let patches = 0;
  let cursor = 0;
  const start = performance.now();
  for (let second = 0; performance.now() - start < durationMs; second++) {
    const wait = start + second * 1000 - performance.now();
    if (wait > 0) await delay(wait);
    const batch = Array.from({ length: Math.min(perSecond, nodeNames.length) }, () => nodeNames[cursor++ % nodeNames.length] as string);
    const now = new Date();
    await boundedAll(batch, HEARTBEAT_CONCURRENCY, async (name) => {
      await api.mergePatch(`/api/v1/nodes/${name}/status`, { status: { conditions: nodeConditions(now, new Date(now.getTime() - 86_400_000)) } });
      patches++;
    });
  }
  return patches;
}

/** Samples memory every `sampleMs` (the first at once) and the CPU ticks over the window, while `during` runs and at least `minMs`. */
export async function samplePhase(agent: ReturnType<typeof agentProcess>, sampleMs: number, minMs: number, during: () => Promise<void> = async () => {}): Promise<{ samples: MemorySample[]; cpuPercent: number; wallMs: number }> {
  const ticksPerSecond = Number((await run('getconf', ['CLK_TCK'], { timeoutMs: 5000 })).stdout.trim());
  const startTicks = await agent.ticks();
  const start = performance.now();
  const samples: MemorySample[] = [];
  let done = false;
  let failure: unknown;
  const work = during().catch((error: unknown) => { failure = error; }).finally(() => { done = true; });
  for (let k = 0; ; k++) {
    const due = start + k * sampleMs;
    const wait = due - performance.now();
    if (wait > 0) await delay(wait);
    if (failure !== undefined) break;
    samples.push(await agent.memory());
    if (done && performance.now() - start >= minMs) break;
  }
  await work;
  if (failure !== undefined) throw failure;
  const wallMs = performance.now() - start;
  return { samples, cpuPercent: cpuPercent((await agent.ticks()) - startTicks, ticksPerSecond, wallMs), wallMs };
}

/**
 * A one-cluster lab (a gateway node and a worker) installed from manifests/, its worker's route agent
 * Ready: the agent's process, and how many times its Pod has restarted (a restart mixes two
 * processes' figures). `subnets` are the remote subnets the benchmark will use, checked against every
 * local range first (the lab's and the `nodes` bench Nodes' pod CIDRs).
 */
export async function workerLab(prefix: string, load: { subnets: readonly string[]; nodes: number }) {
  const lab = await labUp({ prefix, clusters: 1, nodes: 2, gateways: 1, podsPerNode: 0, nodeReadyDelay: 0, cniDelay: 0, endpoints: true, deploy: 'manifests', wait: true });
  const cluster = lab.clusters[0] as ClusterStatus;
  const problem = checkSubnets(load.subnets, [cluster.podCidr, cluster.serviceCidr, ...cluster.nodes.map((n) => n.podCidr), ...Array.from({ length: load.nodes }, (_, i) => benchNodePodCidr(i + 1))]);
  if (problem !== null) throw new Error(`the benchmark's remote subnets are unusable: ${problem}`);
  const api = new SocketApi(cluster.apiserver.socket);
  const worker = cluster.nodes[1] as NodeStatus;
  await waitFor(`the route agent on ${worker.name} Ready`, async () => isReady(await agentPod(api, worker)), { timeoutMs: 120_000, intervalMs: 500 });
  const pid = (await labStatus(prefix)).clusters[0]?.nodes[1]?.agent?.pid;
  if (pid === undefined) throw new Error(`the lab reports no route agent process on ${worker.name}`);
  const restarts = async () => (await agentPod(api, worker))?.status?.containerStatuses?.[0]?.restartCount ?? -1;
  return { lab, cluster, api, worker, pid, agent: agentProcess(pid), restarts };
}
