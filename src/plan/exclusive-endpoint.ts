/**
 * After the active gateway published its Endpoint, the cluster's other local Endpoints go (pure):
 * leftovers of an earlier gateway, an interrupted reinstall, a Submariner gateway before seaway.
 * Submariner's ensureExclusiveEndpoint deletes every Endpoint of the local cluster that is not its
 * own; seaway fences it: an Endpoint carrying a higher Lease transition count than ours was
 * published by a newer leader, so it is never deleted and this gateway learns it is superseded (a
 * paused ex-leader that wakes up with a stale view deletes nothing of the new leader's). Each
 * deletion names the uid and resourceVersion observed, so an object changed since is left alone.
 */
import { compareText } from '../model/compare.ts';
import type { Precondition } from './broker-sync.ts';
import { FENCING_ANNOTATION } from './local-endpoint-object.ts';

export interface ObservedEndpoint {
  name: string;
  uid: string;
  resourceVersion: string;
  /** spec.cluster_id, as read (objects without one are not this cluster's business here). */
  clusterId: string | undefined;
  annotations: Readonly<Record<string, string>>;
}

/** An Endpoint to delete, with the uid and resourceVersion observed (the delete's preconditions). */
export type EndpointDeletion = { name: string } & Precondition;

export type ExclusivePlan =
  | { superseded: false; deletions: EndpointDeletion[] }
  | { superseded: true; by: string; token: number };

/** The fencing token an Endpoint carries, or undefined (Submariner's, or malformed). */
export function fencingTokenOf(endpoint: Pick<ObservedEndpoint, 'annotations'>): number | undefined {
  const text = endpoint.annotations[FENCING_ANNOTATION];
  return text !== undefined && /^(0|[1-9]\d{0,14})$/.test(text) ? Number(text) : undefined;
}

export function exclusiveEndpointPlan(endpoints: readonly ObservedEndpoint[], clusterId: string, ours: string, ourToken: number): ExclusivePlan {
  const deletions: EndpointDeletion[] = [];
  for (const endpoint of endpoints) {
    if (endpoint.clusterId !== clusterId || endpoint.name === ours) continue;
    const token = fencingTokenOf(endpoint);
    if (token !== undefined && token > ourToken) return { superseded: true, by: endpoint.name, token };
    deletions.push({ name: endpoint.name, uid: endpoint.uid, resourceVersion: endpoint.resourceVersion });
  }
  return { superseded: false, deletions: deletions.sort((a, b) => compareText(a.name, b.name)) };
}
