import type { V1Node } from '@kubernetes/client-node';
import type { ApiConnection } from './api-connection.ts';
import { isDeepStrictEqual } from 'node:util';
import { freezeSnapshot, type ClusterObject, type EndpointObject, type Snapshot } from '../model/snapshot.ts';
import { collectionListWatch, submarinerCollection, type ApiRequestSettings } from './client-list-watch.ts';
import { withoutNodeImages } from './node-images.ts';
import type { ListWatch } from './list-watch.ts';
import { createInformer, type Informer, type InformerChange, type InformerDeps } from './informer.ts';
import { ownNodeWatch, type OwnNodeWatch } from './node-ready.ts';
import { nodeProjector, sameMetaAndSpec, toClusterObject, toEndpointObject, type NodeProjection, type SubmarinerObject } from './projections.ts';


export interface SnapshotInformers {
  readonly synced: boolean;
  snapshot(): Snapshot;
  /** A change of something the planner reads (never a Node heartbeat, never an update that changes nothing projected). */
  onChange(listener: () => void): void;
  /** This node's own Node, for the init phase, from the same Nodes informer (one Node watch per agent). */
  ownNode(): OwnNodeWatch;
  start(): void;
  stop(): Promise<void>;
}

/** Where the three informers list and watch: the real client's (clientSnapshotSources), or a test's. */
export interface SnapshotSources {
  endpoints: ListWatch<SubmarinerObject>;
  clusters: ListWatch<SubmarinerObject>;
  nodes: ListWatch<V1Node>;
}

/** The Endpoints and Clusters of `namespace` and all Nodes, from the API server. */
export function clientSnapshotSources(connection: ApiConnection, namespace: string, request: ApiRequestSettings): SnapshotSources {
  const customSource = (plural: string) => submarinerCollection<SubmarinerObject>(connection, namespace, plural, request);
  return {
    endpoints: customSource('endpoints'),
    clusters: customSource('clusters'),
    // Nothing in seaway reads a Node's images: cut before parsing, for every list page and heartbeat.
    nodes: collectionListWatch<V1Node>(connection, '/api/v1/nodes', request, withoutNodeImages),
  };
}

/**
 * Endpoints and Clusters in the configured namespace, and all Nodes (projected), folded into one
 * immutable snapshot that is rebuilt only after a change the planner can see. `nodeKeys`: Node label
 * and annotation keys kept besides Submariner's and seaway's own (the gateway's configured label).
 */
export function createSnapshotInformers(options: { sources: SnapshotSources; nodeName: string; nodeKeys?: readonly string[] }, deps: InformerDeps): SnapshotInformers {
  const { sources } = options;
  const endpoints: Informer<EndpointObject> = createInformer(
    { name: 'endpoints', source: sources.endpoints, project: toEndpointObject, same: sameMetaAndSpec }, deps);
  // The planner reads Clusters too (the owner's creationTimestamp orders overlapping clusters).
  const clusters: Informer<ClusterObject> = createInformer(
    { name: 'clusters', source: sources.clusters, project: toClusterObject, same: sameMetaAndSpec }, deps);
  const nodes: Informer<NodeProjection> = createInformer({ name: 'nodes', source: sources.nodes, project: nodeProjector(options.nodeName, options.nodeKeys) }, deps);
  const all: Array<Informer<unknown>> = [endpoints, clusters, nodes];

  // The last snapshot, and which of its parts changed since: an unchanged part keeps its list (and
  // its identity, which the planner's memos key on), so an Endpoint's change does not list 5,000 Nodes.
  let cached: Snapshot | undefined;
  const stale = new Set<keyof Snapshot>(['endpoints', 'clusters', 'nodes']);
  const listeners: Array<() => void> = [];
  const changed = (part: keyof Snapshot) => {
    stale.add(part);
    for (const listener of listeners) listener();
  };
  endpoints.onChange(() => changed('endpoints'));
  clusters.onChange(() => changed('clusters'));
  // The own Node also keeps its Ready condition's words (for the init phase): a change there alone is no planner input.
  nodes.onChange((changes: readonly InformerChange<NodeProjection>[]) => {
    if (changes.some((c) => !isDeepStrictEqual(c.previous?.node, c.current?.node))) changed('nodes');
  });
  // The first complete list of each informer is news even when it is empty (the pass waits for all three).
  endpoints.onSynced(() => changed('endpoints'));
  clusters.onSynced(() => changed('clusters'));
  nodes.onSynced(() => changed('nodes'));

  return {
    get synced() { return all.every((i) => i.synced); },
    snapshot() {
      if (cached !== undefined && stale.size === 0) return cached;
      cached = freezeSnapshot({
        endpoints: cached === undefined || stale.has('endpoints') ? endpoints.list() : cached.endpoints,
        clusters: cached === undefined || stale.has('clusters') ? clusters.list() : cached.clusters,
        nodes: cached === undefined || stale.has('nodes') ? nodes.list().map((n) => n.node) : cached.nodes,
      });
      stale.clear();
      return cached;
    },
    onChange: (listener) => { listeners.push(listener); },
    ownNode: () => ownNodeWatch(nodes, options.nodeName),
    start() { for (const informer of all) informer.start(); },
    async stop() { await Promise.all(all.map((i) => i.stop())); },
  };
}
