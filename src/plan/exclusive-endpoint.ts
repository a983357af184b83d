/**
 * Publishing the active gateway's Endpoint and making it the cluster's only one (pure), fenced.
 * Submariner's ensureExclusiveEndpoint deletes every Endpoint of the local cluster that is not its
 * own (leftovers of an earlier gateway, an interrupted reinstall, a Submariner gateway before
 * seaway). seaway decides everything from one observation, before any write:
 *
 * - An Endpoint of this cluster carrying a higher Lease transition count than ours was published by
 *   a newer leader: this gateway is superseded. It writes nothing and withdraws its own Endpoint (a
 *   paused ex-leader that wakes up must not publish over the new leader, whose Endpoint would then
 *   look older than the stale one).
 * - Otherwise ours is created or replaced first, and only then are the others deleted, each with the
 *   uid and resourceVersion observed, so an object changed since is left alone.
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

export type EndpointDeletion = { name: string } & Precondition;

export type PublishPlan =
  | { superseded: true; by: string; token: number; withdraw: EndpointDeletion | undefined }
  | { superseded: false; existing: EndpointDeletion | undefined; deletions: EndpointDeletion[] };

/** The fencing token an Endpoint carries, or undefined (Submariner's, or malformed). */
export function fencingTokenOf(endpoint: Pick<ObservedEndpoint, 'annotations'>): number | undefined {
  const text = endpoint.annotations[FENCING_ANNOTATION];
  return text !== undefined && /^(0|[1-9]\d{0,14})$/.test(text) ? Number(text) : undefined;
}

const ref = (e: ObservedEndpoint): EndpointDeletion => ({ name: e.name, uid: e.uid, resourceVersion: e.resourceVersion });

/** `ours`: the name our Endpoint has (or will have); `ourToken`: the transition count we hold the Lease at. */
export function publishPlan(endpoints: readonly ObservedEndpoint[], clusterId: string, ours: string, ourToken: number): PublishPlan {
  const mine = endpoints.find((e) => e.name === ours);
  const others = endpoints.filter((e) => e.clusterId === clusterId && e.name !== ours);
  let newest: { by: string; token: number } | undefined;
  for (const endpoint of others) {
    const token = fencingTokenOf(endpoint);
    if (token !== undefined && token > ourToken && (newest === undefined || token > newest.token)) newest = { by: endpoint.name, token };
  }
  if (newest) return { superseded: true, ...newest, withdraw: mine ? ref(mine) : undefined };
  return { superseded: false, existing: mine ? ref(mine) : undefined, deletions: others.map(ref).sort((a, b) => compareText(a.name, b.name)) };
}
