/**
 * Fail static for remote clusters (pure). Submariner replaces a cluster's Endpoint on every gateway
 * failover by deleting it and creating a new one; in that gap its subnets must not fall through to
 * the default route (masqueraded onto the underlay, in the clear). So a cluster whose Endpoints are
 * all gone keeps its last routed subnets for a grace period, and loses them only when none came
 * back. An Endpoint that is there but rejected is an explicit change of the input: no grace.
 */
import { compareCidrs, parseCidr, type Cidr } from '../model/cidr.ts';
import { ClaimIndex } from '../model/claim-index.ts';
import type { Snapshot } from '../model/snapshot.ts';
import { compareText } from '../model/compare.ts';

export interface RemoteMemory {
  /** Cluster id -> the subnets it had routed, and since when it has had no Endpoint (undefined: it has one). */
  readonly clusters: ReadonlyMap<string, { subnets: readonly string[]; goneSince?: number }>;
}

export const EMPTY_REMOTE_MEMORY: RemoteMemory = { clusters: new Map() };

export interface RetainedCluster { clusterId: string; subnets: string[]; goneSince: number; until: number }

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
 * Before planning: the remembered clusters that have no Endpoint at all (`present` lists those
 * that have one, valid or not) and are within `graceMs` of when they went, sorted by id. A
 * present cluster is never retained: routed, it needs no memory; rejected, it is an explicit change.
 */
export function retainRemotes(memory: RemoteMemory, present: ReadonlySet<string>, now: number, graceMs: number): RetainedCluster[] {
  const retained: RetainedCluster[] = [];
  for (const [clusterId, remembered] of memory.clusters) {
    if (present.has(clusterId)) continue;
    const goneSince = remembered.goneSince ?? now;
    const until = goneSince + graceMs;
    if (now < until) retained.push({ clusterId, subnets: [...remembered.subnets], goneSince, until });
  }
  return retained.sort((a, b) => compareText(a.clusterId, b.clusterId));
}

/** After planning: what the next pass remembers, the clusters routed now and those still in their grace. */
export function rememberRemotes(routedNow: ReadonlyMap<string, readonly string[]>, retained: readonly RetainedCluster[]): RemoteMemory {
  const clusters = new Map<string, { subnets: readonly string[]; goneSince?: number }>();
  routedNow.forEach((subnets, clusterId) => clusters.set(clusterId, { subnets }));
  for (const r of retained) clusters.set(r.clusterId, { subnets: r.subnets, goneSince: r.goneSince });
  return { clusters };
}

/**
 * The routed subnets plus the retained ones that overlap nothing accepted now (a cluster that took
 * over the space wins, also where this node alone refuses its subnet: the decision stays the same
 * on every node), sorted by address as the planner keeps them.
 */
export function withRetained<T extends { cidr: Cidr; text: string }>(
  routed: readonly T[], refusedHere: readonly { subnet: string }[], retained: readonly string[],
): Array<{ cidr: Cidr; text: string }> {
  const taken = new ClaimIndex<true>();
  for (const r of routed) taken.add(r.cidr, true);
  for (const r of refusedHere) { const parsed = parseCidr(r.subnet); if (parsed.ok) taken.add(parsed.cidr, true); }
  const out: Array<{ cidr: Cidr; text: string }> = [...routed];
  for (const text of retained) {
    const parsed = parseCidr(text);
    if (!parsed.ok || taken.overlapping(parsed.cidr)) continue;
    taken.add(parsed.cidr, true);
    out.push({ cidr: parsed.cidr, text: parsed.text });
  }
  return out.sort((a, b) => compareCidrs(a.cidr, b.cidr));
}
