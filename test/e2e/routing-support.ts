/** Shared by the routing e2e tests: the lab's clusters through the real client, and seaway's kernel state per node. */
import { CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { readFile } from 'node:fs/promises';
import { run } from '../../src/kernel/exec.ts';
import { httpGetUnix } from '../lab/http-unix.ts';
import { waitFor } from '../helpers/wait.ts';
import { SUBMARINER_NAMESPACE } from '../lab/agents.ts';
import type { ClusterStatus, LabStatus, NodeStatus } from '../lab/state.ts';

export const GROUP = 'submariner.io';
export const VERSION = 'v1';
export const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export interface EndpointBody {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; uid?: string; resourceVersion?: string; creationTimestamp?: string; labels?: Record<string, string> };
  spec: unknown;
}

/** The Submariner objects of one lab cluster, through the real @kubernetes/client-node. */
export function submarinerApi(cluster: ClusterStatus) {
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfig);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const base = { group: GROUP, version: VERSION, namespace: SUBMARINER_NAMESPACE, plural: 'endpoints' };
  return {
    kubeConfig: kc,
    list: async () => ((await custom.listNamespacedCustomObject(base)) as { items: EndpointBody[] }).items,
    create: async (name: string, spec: unknown) =>
      (await custom.createNamespacedCustomObject({ ...base, body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'Endpoint', metadata: { name }, spec } })) as EndpointBody,
    patchSpec: async (name: string, spec: Record<string, unknown>) =>
      (await custom.patchNamespacedCustomObject({ ...base, name, body: { spec } }, mergePatch)) as EndpointBody,
    remove: async (name: string) => { await custom.deleteNamespacedCustomObject({ ...base, name }); },
  };
}

/** A valid remote Endpoint spec. */
export function remoteSpec(clusterId: string, subnets: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    cluster_id: clusterId, cable_name: `submariner-cable-${clusterId}`, hostname: `${clusterId}-gw`, subnets,
    private_ip: '172.31.255.1', public_ip: '198.51.100.1', nat_enabled: false, backend: 'libreswan', backend_config: {}, ...extra,
  };
}

/** What seaway owns on one node, as `ip` (not seaway) reports it, in comparable text. */
export interface NodeRouting {
  rules: string[];
  /** seaway's routes in the main table (workers). */
  main: string[];
  table150: string[];
  vxlan: { remote: string | null; local: string | null } | null;
  fdb: string[];
}

/** `ip -j` output of one namespace, parsed (an empty answer is an empty list). */
export async function ipJson<T>(namespace: string, args: string[]): Promise<T> {
  const { stdout } = await run('ip', ['-n', namespace, '-j', ...args]);
  return (stdout.trim() === '' ? [] : JSON.parse(stdout)) as T;
}

type RouteJson = { dst: string; gateway?: string; dev?: string; prefsrc?: string; table?: string };
const routeText = (r: RouteJson) => [r.dst, r.gateway ? `via ${r.gateway}` : '', r.dev ? `dev ${r.dev}` : '', r.prefsrc ? `src ${r.prefsrc}` : ''].filter(Boolean).join(' ');

export async function ownedRoutes(namespace: string, table: number): Promise<string[]> {
  // `table all`: naming a table that does not exist (yet) is an error; main-table routes carry no table name.
  const name = table === 254 ? 'main' : String(table);
  return (await ipJson<RouteJson[]>(namespace, ['route', 'show', 'table', 'all', 'proto', '147']))
    .filter((r) => (r.table ?? 'main') === name).map(routeText).sort();
}

export async function nodeRouting(namespace: string): Promise<NodeRouting> {
  const [rules, main, table150, links] = await Promise.all([
    ipJson<Array<{ priority: number; table: string; protocol?: string }>>(namespace, ['rule', 'show']),
    ownedRoutes(namespace, 254),
    ownedRoutes(namespace, 150),
    run('ip', ['-n', namespace, '-j', '-d', 'link', 'show', 'vx-submariner'], { allowFailure: true })
      .then(({ stdout }) => (stdout.trim() ? JSON.parse(stdout) : []) as Array<{ linkinfo?: { info_data?: { remote?: string; local?: string } } }>),
  ]);
  const link = links[0];
  let fdb: string[] = [];
  if (link) {
    const { stdout } = await run('bridge', ['-n', namespace, '-j', 'fdb', 'show', 'dev', 'vx-submariner']);
    const remote = link.linkinfo?.info_data?.remote;
    // The all-zeros entry for a unicast remote is the kernel's own, part of the link: not an FDB entry seaway adds.
    fdb = (JSON.parse(stdout || '[]') as Array<{ mac: string; dst?: string }>)
      .filter((e) => e.dst && !(e.mac === '00:00:00:00:00:00' && e.dst === remote)).map((e) => `${e.mac} dst ${e.dst}`).sort();
  }
  return {
    rules: rules.filter((r) => r.protocol === '147').map((r) => `${r.priority} lookup ${r.table}`),
    main,
    table150,
    vxlan: link ? { remote: link.linkinfo?.info_data?.remote ?? null, local: link.linkinfo?.info_data?.local ?? null } : null,
    fdb,
  };
}

/** The VTEP address of a node IP: first octet replaced by 240. */
export const vtep = (ip: string) => `240.${ip.split('.').slice(1).join('.')}`;

/** What seaway must program on `node` when `gateway` is its cluster's gateway and `remoteSubnets` are routed. */
export function expectedRouting(cluster: ClusterStatus, node: NodeStatus, gateway: NodeStatus, remoteSubnets: readonly string[]): NodeRouting {
  const sorted = [...remoteSubnets].sort();
  if (node.name === gateway.name) {
    return {
      rules: ['150 lookup 150'],
      main: [],
      table150: sorted.map((s) => `${s} dev eth0 src ${node.cniIp}`).sort(),
      vxlan: { remote: null, local: node.ip },
      fdb: cluster.nodes.filter((n) => n.name !== node.name).map((n) => `00:00:00:00:00:00 dst ${n.ip}`).sort(),
    };
  }
  return {
    rules: [],
    main: sorted.map((s) => `${s} via ${vtep(gateway.ip)} dev vx-submariner`).sort(),
    table150: [],
    vxlan: { remote: gateway.ip, local: node.ip },
    fdb: [],
  };
}

/** Milliseconds from `start` until the probe holds, polled as fast as `ip` answers; fails after the timeout. */
export async function msUntil(start: number, what: string, probe: () => Promise<boolean>, timeoutMs = 10_000): Promise<number> {
  await waitFor(what, probe, { timeoutMs, intervalMs: 2 });
  return performance.now() - start;
}

export async function readyAgents(lab: LabStatus, timeoutMs = 30_000): Promise<void> {
  await Promise.all(lab.clusters.flatMap((c) => c.nodes).map((node) => waitFor(`${node.name} agent /readyz 200`, async () => {
    if (!node.agent) throw new Error(`${node.name} has no agent`);
    return (await httpGetUnix(node.agent.socket, '/readyz')).status === 200;
  }, { timeoutMs, intervalMs: 50 })));
}

export async function agentLog(node: NodeStatus): Promise<Array<Record<string, unknown>>> {
  if (!node.agent) throw new Error(`${node.name} has no agent`);
  return (await readFile(node.agent.log, 'utf8')).split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

export async function agentMetrics(node: NodeStatus): Promise<string> {
  if (!node.agent) throw new Error(`${node.name} has no agent`);
  return (await httpGetUnix(node.agent.socket, '/metrics')).body;
}

/** The value of one sample line of a Prometheus text exposition, or undefined. */
export function metricValue(text: string, sample: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}
