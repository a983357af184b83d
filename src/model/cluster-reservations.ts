/**
 * Address ranges a remote cluster keeps while it has no Endpoint. Submariner's gateway failover
 * deletes the cluster's Endpoint before it creates the new one; without a reservation, a squatter
 * claiming the same ranges would be accepted in that gap and rejected again a moment later (routes,
 * logs and Events flapping, and on the gateway its tunnel carrying the owner's traffic). The cluster's
 * Cluster object outlives the failover and lists its CIDRs, so it holds them, with its precedence,
 * until an Endpoint comes back or the Cluster object goes.
 */
import { parseCidr, type Cidr } from './cidr.ts';
import type { ClusterObject } from './snapshot.ts';
import { compareText, isRecord } from './compare.ts';

export interface Reservation {
  clusterId: string;
  /** Namespace/name of the Cluster object, for messages. */
  object: string;
  cidrs: Cidr[];
}

const CIDR_FIELDS = ['cluster_cidr', 'service_cidr', 'global_cidr'] as const;

/** The IPv4 CIDRs a Cluster object lists; anything else in those fields is not ours to judge and is skipped. */
export function clusterCidrs(spec: unknown): Cidr[] {
  if (!isRecord(spec)) return [];
  const out: Cidr[] = [];
  for (const field of CIDR_FIELDS) {
    const list = spec[field];
    if (!Array.isArray(list)) continue;
    // A Cluster lists a handful; a huge list is not worth walking.
    for (const item of list.slice(0, 64)) {
      const parsed = parseCidr(item);
      if (parsed.ok && parsed.cidr.prefixLength > 0) out.push(parsed.cidr);
    }
  }
  return out;
}

/**
 * One reservation per remote cluster id that has a Cluster object but no Endpoint at all in the
 * snapshot (an Endpoint that is present, even rejected, speaks for its cluster instead). Sorted by
 * cluster id; several objects for one id are merged.
 */
export function reservations(clusters: readonly ClusterObject[], clusterIdOf: (object: ClusterObject) => string, withEndpoints: ReadonlySet<string>, localClusterId: string): Reservation[] {
  const byId = new Map<string, Reservation>();
  for (const object of clusters) {
    const clusterId = clusterIdOf(object);
    if (clusterId === localClusterId || withEndpoints.has(clusterId)) continue;
    const cidrs = clusterCidrs(object.spec);
    if (cidrs.length === 0) continue;
    const known = byId.get(clusterId);
    if (known) known.cidrs.push(...cidrs);
    else byId.set(clusterId, { clusterId, object: `${object.namespace}/${object.name}`, cidrs });
  }
  return [...byId.values()].sort((a, b) => compareText(a.clusterId, b.clusterId));
}
