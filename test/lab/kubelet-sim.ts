import type { NodePlan } from './addressing.ts';
import { SocketApi, SocketApiError } from './socket-api.ts';

export const GATEWAY_LABEL = 'submariner.io/gateway';
export const PUBLIC_IP_ANNOTATION = 'gateway.submariner.io/public-ip';

/** The Node object as a kubelet registers it (pure). */
export function nodeObject(node: NodePlan): Record<string, unknown> {
  const labels: Record<string, string> = {
    'kubernetes.io/hostname': node.name,
    'kubernetes.io/os': 'linux',
  };
  if (node.gatewayCapable) labels[GATEWAY_LABEL] = 'true';
  // As an operator tells Submariner a gateway's public address: the node's own WAN address, or its NAT's.
  const annotations: Record<string, string> = node.publicIp ? { [PUBLIC_IP_ANNOTATION]: `ipv4:${node.publicIp}` } : {};
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: node.name, labels, annotations },
    spec: { podCIDR: node.podCidr, podCIDRs: [node.podCidr] },
    status: nodeStatus(node, false, new Date(0)),
  };
}

/** The Node status with its Ready condition (pure). */
export function nodeStatus(node: NodePlan, ready: boolean, now: Date): Record<string, unknown> {
  const time = now.toISOString().replace(/\.\d+Z$/, 'Z');
  return {
    addresses: [
      { type: 'InternalIP', address: node.ip },
      { type: 'Hostname', address: node.name },
    ],
    conditions: [
      {
        type: 'Ready',
        status: ready ? 'True' : 'False',
        reason: ready ? 'KubeletReady' : 'KubeletNotReady',
        message: ready ? 'kubelet is posting ready status' : 'container runtime network not ready (lab: waiting for --node-ready-delay)',
        lastHeartbeatTime: time,
        lastTransitionTime: time,
      },
    ],
  };
}

/** Creates the Node (an AlreadyExists from a retried create counts as done) and posts its NotReady status. */
export async function registerNode(socket: string, node: NodePlan, now: Date): Promise<void> {
  try {
    await new SocketApi(socket).create('/api/v1/nodes', nodeObject(node));
  } catch (error) {
    if (!(error instanceof SocketApiError && error.status === 409)) throw error;
  }
  await patchStatus(socket, node, false, now);
}

export async function patchStatus(socket: string, node: NodePlan, ready: boolean, now: Date): Promise<void> {
  await new SocketApi(socket).mergePatch(`/api/v1/nodes/${encodeURIComponent(node.name)}/status`, { status: nodeStatus(node, ready, now) });
}
