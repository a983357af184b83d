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

/**
 * Freezes the snapshot, its lists and its objects in place (not the specs, which the informer owns)
 * so no consumer can edit them. In place, not copied: the informers make a new object for every
 * change and never edit one, and a copy of 5,000 Nodes per rebuilt snapshot is memory and time for nothing.
 */
export function freezeSnapshot(snapshot: Snapshot): Snapshot {
  const frozen = <T extends object>(object: T): T => (Object.isFrozen(object) ? object : Object.freeze(object));
  if (!Object.isFrozen(snapshot.endpoints)) for (const e of snapshot.endpoints) frozen(e.annotations);
  if (!Object.isFrozen(snapshot.nodes)) for (const n of snapshot.nodes) {
    frozen(n.labels);
    frozen(n.annotations);
    frozen(n.addresses);
  }
  // A list frozen already (the part of an earlier snapshot that did not change) is kept as it is, so
  // its identity tells consumers that nothing in it changed.
  const list = <T extends object>(objects: readonly T[]): readonly T[] => (Object.isFrozen(objects) ? objects : Object.freeze(objects.map(frozen)));
  return Object.freeze({ endpoints: list(snapshot.endpoints), clusters: list(snapshot.clusters), nodes: list(snapshot.nodes) });
}
