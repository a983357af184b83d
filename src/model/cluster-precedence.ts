/**
 * Which remote cluster keeps an address range two clusters claim, decided the same way on every node
 * and unchanged by a gateway failover.
 *
 * The key is the age of the cluster's Cluster object (submariner.io/v1, one per cluster id, created
 * when the cluster joins the broker). An Endpoint's age would not do: Submariner deletes and recreates
 * the Endpoint, with a new name and cable, on every gateway failover, so the owner of a range would
 * become the newer claim and a squatter would take its traffic after one failover. The Cluster object
 * is untouched by failovers.
 *
 * A cluster with no readable Cluster object ranks after every cluster that has one (a cluster that
 * joined properly has one; a stray Endpoint usually has none), and among those the cluster id decides.
 * Ids are stable and every node compares the same strings; an age taken from the Endpoints is neither
 * (it resets on failover). Ties between equal timestamps (one-second resolution) also go by cluster id.
 */
import type { ClusterObject } from './snapshot.ts';
import { compareText, isRecord } from './compare.ts';

export interface ClusterRank {
  clusterId: string;
  /** Milliseconds since the epoch of the Cluster object's creationTimestamp; null without a readable one. */
  createdAt: number | null;
  /** The Cluster object's creationTimestamp as the API server wrote it, for messages. */
  createdText: string | null;
}

/** The cluster id a Cluster object speaks for: spec.cluster_id, else its name (Submariner names it after the id). */
export function clusterIdOf(object: ClusterObject): string {
  const id = isRecord(object.spec) ? object.spec['cluster_id'] : undefined;
  return typeof id === 'string' && id !== '' ? id : object.name;
}

/**
 * Builds the ranking from the snapshot's Cluster objects. Several objects for one id (a stale copy)
 * count by the oldest readable one, so adding a copy never demotes a cluster.
 */
export function clusterRanks(clusters: readonly ClusterObject[]): (clusterId: string) => ClusterRank {
  const oldest = new Map<string, { at: number; text: string }>();
  for (const object of clusters) {
    const at = Date.parse(object.creationTimestamp);
    if (Number.isNaN(at)) continue;
    const id = clusterIdOf(object);
    const known = oldest.get(id);
    if (known === undefined || at < known.at) oldest.set(id, { at, text: object.creationTimestamp });
  }
  return (clusterId) => {
    const found = oldest.get(clusterId);
    return { clusterId, createdAt: found?.at ?? null, createdText: found?.text ?? null };
  };
}

/** Total order, the cluster with precedence first. */
export function compareRanks(a: ClusterRank, b: ClusterRank): number {
  if (a.createdAt !== null && b.createdAt !== null && a.createdAt !== b.createdAt) return a.createdAt - b.createdAt;
  if (a.createdAt !== null && b.createdAt === null) return -1;
  if (a.createdAt === null && b.createdAt !== null) return 1;
  return compareText(a.clusterId, b.clusterId);
}

/** Why `winner` goes before `loser`, for a rejection message. */
export function explainPrecedence(winner: ClusterRank, loser: ClusterRank): string {
  if (winner.createdAt !== null && loser.createdAt === null) {
    return `cluster "${winner.clusterId}" has a Cluster object (created ${winner.createdText}) and "${loser.clusterId}" has none`;
  }
  if (winner.createdAt !== null && loser.createdAt !== null && winner.createdAt !== loser.createdAt) {
    return `cluster "${winner.clusterId}" joined first (Cluster object created ${winner.createdText}, "${loser.clusterId}" ${loser.createdText})`;
  }
  const why = winner.createdAt === null ? 'neither has a Cluster object' : 'their Cluster objects were created in the same second';
  return `${why}, so the cluster id decides ("${winner.clusterId}" before "${loser.clusterId}")`;
}
