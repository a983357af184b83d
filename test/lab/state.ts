import { readFile, rename, writeFile } from 'node:fs/promises';
import type { ClusterPlan, LabPlan } from './addressing.ts';
import type { LabPaths } from './paths.ts';

export interface AgentInfo {
  pid: number;
  healthUrl: string;
  socket: string;
  log: string;
}

export interface ProcessInfo {
  pid: number;
  log: string;
}

/** Written by `up` only. */
export interface LabState {
  prefix: string;
  dir: string;
  createdAt: string;
  plan: LabPlan;
  controller: ProcessInfo;
  /** By cluster id, and `broker`. */
  apiservers: Record<string, ProcessInfo & { socket: string }>;
  agents: Record<string, AgentInfo>;
  /** `seaway gateway` by node name, on gateway-capable nodes (absent in labs with simulated Endpoints). */
  gateways?: Record<string, AgentInfo>;
  /** How seaway was started: by hand as processes (absent in older state files), or from manifests/ by the lab's kubelets. */
  deploy?: 'manifests' | 'processes';
}

export interface NodeProgress {
  registeredAt?: string;
  readyAt?: string;
  cniAt?: string;
}

/** Written by the lab controller only. */
export interface LabProgress {
  pid: number;
  /** By cluster id, and `broker`: the loopback forwarder's URL. */
  localUrls: Record<string, string>;
  nodes: Record<string, NodeProgress>;
  /** The controller's latest failures, newest last: retried, but for a node's CNI. */
  errors: string[];
}

export interface ApiServerStatus {
  namespace: string;
  url: string;
  localUrl: string | null;
  socket: string;
  pid: number | null;
  log: string | null;
}

export interface NodeStatus {
  name: string;
  namespace: string;
  ip: string;
  /** The address on eth1: on the WAN, or behind NAT on the NAT segment. */
  wanIp: string | null;
  /** Where the WAN reaches the node (its WAN address, or its NAT's public address). */
  publicIp: string | null;
  podCidr: string;
  gatewayCapable: boolean;
  cniInterface: string;
  cniIp: string;
  readyAt: string | null;
  cniAt: string | null;
  agent?: AgentInfo;
  /** `seaway gateway`, on gateway-capable nodes of a lab that runs gateways. */
  gateway?: AgentInfo;
}

export interface PodStatus {
  name: string;
  namespace: string;
  ip: string;
  node: string;
}

export interface ClusterStatus {
  id: string;
  podCidr: string;
  serviceCidr: string;
  /** The lab's Service (a VIP DNATed to the first pod), or null without pods. */
  service: ClusterPlan['service'];
  lanCidr: string;
  /** The NAT namespace the gateway-capable nodes sit behind (option nat), or null. */
  nat: ClusterPlan['nat'];
  apiserver: ApiServerStatus;
  kubeconfig: string;
  agentKubeconfig: string;
  gatewayKubeconfig: string;
  brokerKubeconfig: string;
  nodes: NodeStatus[];
  pods: PodStatus[];
}

export interface LabStatus {
  prefix: string;
  dir: string;
  createdAt: string;
  options: LabPlan['options'];
  controller: ProcessInfo;
  /** Whether the controller (kubelet, CNI, forwarders) is still running; filled in when read from disk. */
  controllerRunning: boolean | null;
  controllerErrors: string[];
  wan: LabPlan['wan'];
  /** The lab CA's certificate (PEM file) the API servers' certificates are signed by. */
  caCert: string;
  broker: ApiServerStatus & { kubeconfig: string };
  clusters: ClusterStatus[];
}

/** The one status document, from what `up` wrote and what the controller has recorded since (pure). */
export function buildStatus(state: LabState, progress: LabProgress | null, paths: LabPaths): LabStatus {
  const server = (id: string, namespace: string, url: string): ApiServerStatus => ({
    namespace,
    url,
    localUrl: progress?.localUrls[id] ?? null,
    socket: paths.server(id).socket,
    pid: state.apiservers[id]?.pid ?? null,
    log: state.apiservers[id]?.log ?? null,
  });
  const { plan } = state;
  return {
    prefix: state.prefix,
    dir: state.dir,
    createdAt: state.createdAt,
    options: plan.options,
    controller: state.controller,
    controllerRunning: null,
    controllerErrors: progress?.errors ?? [],
    wan: plan.wan,
    caCert: paths.caCert,
    broker: {
      ...server('broker', plan.broker.namespace, plan.broker.url),
      kubeconfig: paths.server('broker').kubeconfig,
    },
    clusters: plan.clusters.map((cluster) => ({
      id: cluster.id,
      podCidr: cluster.podCidr,
      serviceCidr: cluster.serviceCidr,
      service: cluster.service,
      lanCidr: cluster.lanCidr,
      // Older plans (a lab brought up before the option) have no nat.
      nat: cluster.nat ?? null,
      apiserver: server(cluster.id, cluster.controlPlane.namespace, cluster.controlPlane.url),
      kubeconfig: paths.server(cluster.id).kubeconfig,
      agentKubeconfig: paths.server(cluster.id).agentKubeconfig,
      gatewayKubeconfig: paths.server(cluster.id).gatewayKubeconfig,
      brokerKubeconfig: paths.server(cluster.id).brokerKubeconfig,
      nodes: cluster.nodes.map((node) => {
        const seen = progress?.nodes[node.name] ?? {};
        const agent = state.agents[node.name];
        const gateway = state.gateways?.[node.name];
        return {
          name: node.name,
          namespace: node.namespace,
          ip: node.ip,
          wanIp: node.wanIp,
          publicIp: node.publicIp ?? node.wanIp,
          podCidr: node.podCidr,
          gatewayCapable: node.gatewayCapable,
          cniInterface: plan.options.cniInterface,
          cniIp: node.cniIp,
          readyAt: seen.readyAt ?? null,
          cniAt: seen.cniAt ?? null,
          ...(agent ? { agent } : {}),
          ...(gateway ? { gateway } : {}),
        };
      }),
      pods: cluster.nodes.flatMap((node) => node.pods.map((pod) => ({ name: pod.name, namespace: pod.namespace, ip: pod.ip, node: pod.node }))),
    })),
  };
}

/** Readers never see a half-written file. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`);
  await rename(tmp, path);
}

export async function readJsonIfExists<T>(path: string): Promise<T | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  return JSON.parse(text) as T;
}
