/**
 * The immutable picture of the API objects the planner needs, filled by the informers (src/k8s).
 * Specs stay `unknown` here: they are validated per object by the planner, so one bad object
 * never stops the snapshot from being built.
 */

export interface ObjectMeta {
  name: string;
  namespace: string;
  uid: string;
  resourceVersion: string;
  /** RFC 3339, as the API server reports metadata.creationTimestamp. */
  creationTimestamp: string;
}

export interface EndpointObject extends ObjectMeta {
  /**
   * Only the `seaway.io/` annotations (src/k8s/projections.ts): seaway's gateway marks the Endpoint it
   * publishes with its fencing token, which tells the planner whose cable the gateway runs. Others
   * are not kept, so their churn costs no reconcile pass.
   */
  annotations: Readonly<Record<string, string>>;
  spec: unknown;
}

export interface ClusterObject extends ObjectMeta {
  spec: unknown;
}

export interface NodeObject {
  name: string;
  /** The first IPv4 InternalIP in status.addresses, or null if none. */
  internalIP: string | null;
  /** Every address in status.addresses (any type, IPv4 and IPv6), in the Node's order. */
  addresses: readonly string[];
  /** spec.podCIDR, or null. */
  podCidr: string | null;
  labels: Readonly<Record<string, string>>;
  annotations: Readonly<Record<string, string>>;
  /** status.conditions Ready == True. */
  ready: boolean;
}

export interface Snapshot {
  readonly endpoints: readonly EndpointObject[];
  readonly clusters: readonly ClusterObject[];
  readonly nodes: readonly NodeObject[];
}

/** Freezes the snapshot and its object lists (not the specs, which the informer owns) so no consumer can edit it. */
export function freezeSnapshot(snapshot: Snapshot): Snapshot {
  return Object.freeze({
    endpoints: Object.freeze(snapshot.endpoints.map((e) => Object.freeze({ ...e, annotations: Object.freeze({ ...e.annotations }) }))),
    clusters: Object.freeze(snapshot.clusters.map((c) => Object.freeze({ ...c }))),
    nodes: Object.freeze(snapshot.nodes.map((n) => Object.freeze({
      ...n, labels: Object.freeze({ ...n.labels }), annotations: Object.freeze({ ...n.annotations }),
    }))),
  });
}
