import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AGENT_PORT, GATEWAY_PORT, type ClusterPlan, type NodePlan } from './addressing.ts';
import type { LabPaths } from './paths.ts';
import type { AgentInfo } from './state.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const AGENT_ENTRY = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
export const SUBMARINER_NAMESPACE = 'submariner-operator';

export interface AgentLaunch {
  file: string;
  args: string[];
  /** Only the variables the agent is given on top of the inherited environment. */
  env: Record<string, string>;
  cwd: string;
  info: Omit<AgentInfo, 'pid'>;
}

/** What both DaemonSets give every pod through the downward API and Submariner's variables. */
function clusterEnv(cluster: ClusterPlan, node: NodePlan): Record<string, string> {
  return {
    NODE_NAME: node.name,
    SUBMARINER_CLUSTERID: cluster.id,
    SUBMARINER_NAMESPACE,
    SUBMARINER_CLUSTERCIDR: cluster.podCidr,
    SUBMARINER_SERVICECIDR: cluster.serviceCidr,
  };
}

/** How the agent of one node is started: inside the node's namespace, configured as a DaemonSet would (pure). */
export function agentLaunch(cluster: ClusterPlan, node: NodePlan, paths: LabPaths, execPath: string, entry = AGENT_ENTRY): AgentLaunch {
  const nodePaths = paths.node(node.name);
  return {
    file: 'ip',
    args: ['netns', 'exec', node.namespace, execPath, entry, 'run'],
    env: {
      ...clusterEnv(cluster, node),
      KUBECONFIG: paths.server(cluster.id).agentKubeconfig,
      SEAWAY_LISTEN: `${node.ip}:${AGENT_PORT},unix:${nodePaths.agentSocket}`,
      // Per node: the lab's nodes share one filesystem, a real node has its own /var/lib/seaway.
      SEAWAY_STATE_DIR: join(nodePaths.dir, 'state'),
      // With no default route at all, the operator names the underlay (its InternalIP would also do).
      ...(node.underlay === 'none' ? { SEAWAY_UNDERLAY_INTERFACE: 'eth0' } : {}),
    },
    cwd: REPO_ROOT,
    info: { healthUrl: `http://${node.ip}:${AGENT_PORT}`, socket: nodePaths.agentSocket, log: nodePaths.agentLog },
  };
}

/**
 * How the gateway role of a gateway-capable node is started (pure): `seaway gateway` inside the node's
 * namespace, as the gateway DaemonSet would run it, with the gateway's service account, the cluster's
 * broker credentials and the lab's PSK. charon-systemd writes no pid file in /run, so one per node
 * namespace runs on the machine's shared /run (seaway keeps its pid in the gateway's state directory).
 */
export function gatewayLaunch(cluster: ClusterPlan, node: NodePlan, paths: LabPaths, execPath: string, entry = AGENT_ENTRY): AgentLaunch {
  const nodePaths = paths.node(node.name);
  const serverPaths = paths.server(cluster.id);
  return {
    file: 'ip',
    args: ['netns', 'exec', node.namespace, execPath, entry, 'gateway'],
    env: {
      ...clusterEnv(cluster, node),
      KUBECONFIG: serverPaths.gatewayKubeconfig,
      SEAWAY_BROKER_KUBECONFIG: serverPaths.brokerKubeconfig,
      SEAWAY_PSK_FILE: paths.psk,
      SEAWAY_LISTEN: `${node.ip}:${GATEWAY_PORT},unix:${nodePaths.gatewaySocket}`,
      SEAWAY_STATE_DIR: nodePaths.gatewayStateDir,
      SEAWAY_CABLE: cluster.cable,
    },
    cwd: REPO_ROOT,
    info: { healthUrl: `http://${node.ip}:${GATEWAY_PORT}`, socket: nodePaths.gatewaySocket, log: nodePaths.gatewayLog },
  };
}
