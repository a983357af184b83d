import type { Snapshot } from '../model/snapshot.ts';

/**
 * Which node of the cluster posts Kubernetes Events about shared objects (a rejected or duplicate
 * Endpoint): every node sees the same snapshot, so each can tell on its own whether it is the one,
 * and a cluster of N nodes posts one Event, not N. The gateway when known, else the first Ready
 * node by name (an Endpoint may be rejected precisely because there is no valid local one).
 */
export function eventReporter(snapshot: Snapshot, gatewayNode: string | null): string | null {
  if (gatewayNode !== null && snapshot.nodes.some((n) => n.name === gatewayNode)) return gatewayNode;
  let first: string | null = null;
  for (const node of snapshot.nodes) if (node.ready && (first === null || node.name < first)) first = node.name;
  return first;
}
