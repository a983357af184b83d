/**
 * The decisions of `seaway uninstall` (pure): which DaemonSets it stops, when a node's pod may finish the
 * cluster's part (every node clean, or the deadline passed), and which broker objects are this cluster's.
 */
import type { DaemonSetView } from '../k8s/uninstall-api.ts';

/** The agents' DaemonSets (manifests/10-route-agent.yaml, 11-gateway.yaml), stopped before the node is cleaned. */
export const AGENT_DAEMONSETS = ['seaway-route-agent', 'seaway-gateway'] as const;
/** The uninstall workload's own names (manifests/uninstall/uninstall.yaml): its DaemonSet, ServiceAccount, Role and RoleBinding. */
export const UNINSTALL_NAME = 'seaway-uninstall';
/** seaway's gateway election Lease (the gateway's default --lease-name). */
export const GATEWAY_LEASE = 'seaway-gateway-lock';

export type FinishDecision =
  | { finish: false; why: 'finishing-elsewhere' | 'waiting' }
  | { finish: true; why: 'every-node-clean' | 'deadline' };

/**
 * Whether this node's pod deletes the cluster's objects and the uninstall workload now: once the
 * DaemonSet's status counts every node Ready (each pod's readiness says its node is clean), or at the
 * deadline (a node that is down never will be). Another pod already did when the DaemonSet is gone or
 * being deleted. A pod does not count itself in: it cannot tell whether the status already does, and
 * deleting the DaemonSet early would stop the last node's pod in the middle of its cleanup.
 */
export function finishDecision(own: DaemonSetView | null, now: number, deadline: number): FinishDecision {
  if (own === null || own.deleting) return { finish: false, why: 'finishing-elsewhere' };
  if (own.desired > 0 && own.ready >= own.desired) return { finish: true, why: 'every-node-clean' };
  if (now >= deadline) return { finish: true, why: 'deadline' };
  return { finish: false, why: 'waiting' };
}

/** The broker's Endpoints of this cluster: the ones its gateways published (other clusters' are theirs). */
export function brokerEndpointsOf(endpoints: ReadonlyArray<{ name: string; clusterId: string | undefined }>, clusterId: string): string[] {
  return endpoints.filter((endpoint) => endpoint.clusterId === clusterId).map((endpoint) => endpoint.name).sort();
}
