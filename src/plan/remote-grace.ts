/**
 * Fail static for remote clusters (pure). Submariner replaces a cluster's Endpoint on every gateway
 * failover by deleting it and creating a new one; in that gap its subnets must not fall through to
 * the default route (masqueraded onto the underlay, in the clear). So a cluster whose Endpoints are
 * all gone keeps its last routed subnets for a grace period, and loses them only when none came
 * back. An Endpoint that is there but rejected is an explicit change of the input: no grace.
 */
import { compareCidrs, overlaps, parseCidr, type Cidr } from '../model/cidr.ts';
import type { Snapshot } from '../model/snapshot.ts';

export interface RemoteMemory {
  /** Cluster id -> the subnets it had routed, and since when it has had no Endpoint (undefined: it has one). */
  readonly clusters: ReadonlyMap<string, { subnets: readonly string[]; goneSince?: number }>;
}

export const EMPTY_REMOTE_MEMORY: RemoteMemory = { clusters: new Map() };

export interface Retention {
  /** Subnets of clusters in their grace period, to keep routing. */
  retained: Array<{ clusterId: string; subnets: string[]; until: number }>;
  /** Remember this for the next pass. */
  next: RemoteMemory;
  /** When the earliest grace ends (the caller plans again then), if any. */
  wakeAt?: number;
}

/** Cluster ids that have at least one Endpoint object in the snapshot, valid or not. */
export function clustersWithEndpoints(snapshot: Snapshot): Set<string> {
  const ids = new Set<string>();
  for (const endpoint of snapshot.endpoints) {
    const id = (endpoint.spec as { cluster_id?: unknown } | null)?.cluster_id;
    if (typeof id === 'string') ids.add(id);
  }
  return ids;
}

/**
 * `routedNow`: cluster id -> subnets routed by this pass's plan. `present`: clusters with any Endpoint.
 * A cluster routed now is remembered; one that is gone (no Endpoint at all) keeps its last subnets
 * until `graceMs` after it went; one present but not routed (rejected) is forgotten at once.
 */
export function retainRemotes(memory: RemoteMemory, routedNow: ReadonlyMap<string, readonly string[]>, present: ReadonlySet<string>, now: number, graceMs: number): Retention {
  const next = new Map<string, { subnets: readonly string[]; goneSince?: number }>();
  const retained: Retention['retained'] = [];
  let wakeAt: number | undefined;
  for (const [clusterId, subnets] of routedNow) next.set(clusterId, { subnets });
  for (const [clusterId, remembered] of memory.clusters) {
    if (routedNow.has(clusterId) || present.has(clusterId)) continue;
    const goneSince = remembered.goneSince ?? now;
    const until = goneSince + graceMs;
    if (now >= until) continue;
    next.set(clusterId, { subnets: remembered.subnets, goneSince });
    retained.push({ clusterId, subnets: [...remembered.subnets], until });
    wakeAt = wakeAt === undefined ? until : Math.min(wakeAt, until);
  }
  retained.sort((a, b) => (a.clusterId < b.clusterId ? -1 : a.clusterId > b.clusterId ? 1 : 0));
  return { retained, next: { clusters: next }, ...(wakeAt !== undefined ? { wakeAt } : {}) };
}

/**
 * The routed subnets plus the retained ones that overlap none of them (a cluster that took over
 * the space wins), sorted by address as the planner keeps them.
 */
export function withRetained<T extends { cidr: Cidr; text: string }>(routed: readonly T[], retained: readonly string[]): Array<{ cidr: Cidr; text: string }> {
  const out: Array<{ cidr: Cidr; text: string }> = [...routed];
  for (const text of retained) {
    const parsed = parseCidr(text);
    if (!parsed.ok || out.some((r) => overlaps(r.cidr, parsed.cidr))) continue;
    out.push({ cidr: parsed.cidr, text: parsed.text });
  }
  return out.sort((a, b) => compareCidrs(a.cidr, b.cidr));
}
