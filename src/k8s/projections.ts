import type { V1Node } from '@kubernetes/client-node';
import { isDeepStrictEqual } from 'node:util';
import { isRecord } from '../model/compare.ts';
import { stringEntries } from '../model/object-meta.ts';
import type { ClusterObject, EndpointObject, NodeObject, ObjectMeta } from '../model/snapshot.ts';
import { REFRESHED_AT_ANNOTATION } from '../plan/broker-sync.ts';

/**
 * What seaway keeps of each API object (pure). The informers compare these projections, not the
 * objects: a Node heartbeat, new images or another condition change nothing here, so they cost
 * no reconcile pass.
 */

/** A Submariner custom object as listed and watched (plain JSON). */
export interface SubmarinerObject {
  metadata?: { name?: string; namespace?: string; uid?: string; resourceVersion?: string; creationTimestamp?: unknown; annotations?: unknown };
  spec?: unknown;
}

/** The Ready condition's words, kept for this node's own Node only (its readiness reason quotes them). */
export interface ReadyCondition {
  status: string;
  reason: string;
  message: string;
}

export interface NodeProjection {
  node: NodeObject;
  /** Only on the agent's own Node: message changes elsewhere must not wake anyone. */
  ownReady?: ReadyCondition | null;
}

/** RFC 3339 in one spelling: a typed list gives a Date, a watch the server's string (without milliseconds). */
function timestamp(value: unknown): string {
  if (value === undefined || value === null || value === '') return '';
  const date = value instanceof Date ? value : new Date(String(value));
  return Number.isNaN(date.getTime()) ? String(value) : date.toISOString().replace(/\.000Z$/, 'Z');
}

export function toMeta(object: SubmarinerObject): ObjectMeta {
  const meta = object.metadata ?? {};
  return {
    name: meta.name ?? '',
    namespace: meta.namespace ?? '',
    uid: meta.uid ?? '',
    resourceVersion: meta.resourceVersion ?? '',
    creationTimestamp: timestamp(meta.creationTimestamp),
  };
}

/** The annotations an Endpoint projection keeps: seaway's own. */
export const KEPT_ANNOTATION_PREFIX = 'seaway.io/';

/**
 * The `seaway.io/` annotations with string values, a copy. Not `seaway.io/refreshed-at`: it marks
 * broker copies and ticks every refresh interval (a syncer that copies it in would otherwise cost a
 * pass per tick), and the planner never reads it.
 */
export function keptAnnotations(annotations: unknown): Record<string, string> {
  if (!isRecord(annotations)) return {};
  return Object.fromEntries(Object.entries(stringEntries(annotations)).filter(([key]) => key.startsWith(KEPT_ANNOTATION_PREFIX) && key !== REFRESHED_AT_ANNOTATION));
}

/**
 * An Endpoint as the snapshot holds it: its metadata, its `seaway.io/` annotations (seaway's
 * gateway marks its own Endpoint there) and its spec, as served.
 */
export function toEndpointObject(object: SubmarinerObject): EndpointObject {
  return { ...toMeta(object), annotations: keptAnnotations(object.metadata?.annotations), spec: object.spec };
}

/** A Cluster as the snapshot holds it: its metadata and its spec, as served (no annotations: nothing reads them). */
export function toClusterObject(object: SubmarinerObject): ClusterObject {
  return { ...toMeta(object), spec: object.spec };
}

/**
 * Equal but for resourceVersion, which every write bumps (a label, status or other annotation change
 * touches nothing projected; a kept annotation's change does).
 */
export function sameMetaAndSpec<T extends EndpointObject | ClusterObject>(a: T, b: T): boolean {
  return isDeepStrictEqual({ ...a, resourceVersion: '' }, { ...b, resourceVersion: '' });
}

/**
 * The Node labels and annotations anyone in seaway reads: Submariner's and seaway's own (the gateway
 * label, `gateway.submariner.io/` configuration, the MSS clamp). A real Node carries a dozen or two
 * others (topology, kubeadm, CSI, the CNI's); kept for 5,000 Nodes they would be megabytes nobody reads.
 */
export const KEPT_NODE_KEY_PREFIXES: readonly string[] = ['submariner.io/', 'gateway.submariner.io/', 'seaway.io/'];

/** Whether a Node label or annotation is kept: one of KEPT_NODE_KEY_PREFIXES, or a key named in `extraKeys` (a custom gateway label). */
export function keptNodeKey(key: string, extraKeys: readonly string[] = []): boolean {
  return KEPT_NODE_KEY_PREFIXES.some((prefix) => key.startsWith(prefix)) || extraKeys.includes(key);
}

/** What most Nodes keep of their labels and annotations: one frozen object for all, not 10,000 empty ones. */
const NOTHING_KEPT: Readonly<Record<string, string>> = Object.freeze({});

function keptEntries(map: unknown, extraKeys: readonly string[]): Readonly<Record<string, string>> {
  let kept: Record<string, string> | undefined;
  if (isRecord(map)) for (const [key, value] of Object.entries(map)) if (typeof value === 'string' && keptNodeKey(key, extraKeys)) (kept ??= {})[key] = value;
  return kept === undefined ? NOTHING_KEPT : Object.freeze(kept);
}

/** A Node as the snapshot holds it, frozen (the snapshot hands it out as it is, without a copy). */
export function toNodeObject(node: V1Node, extraKeys: readonly string[] = []): NodeObject {
  const internal = node.status?.addresses?.find((a) => a.type === 'InternalIP' && !a.address.includes(':'));
  return Object.freeze({
    name: node.metadata?.name ?? '',
    internalIP: internal?.address ?? null,
    addresses: Object.freeze((node.status?.addresses ?? []).map((a) => a.address)),
    podCidr: node.spec?.podCIDR ?? null,
    labels: keptEntries(node.metadata?.labels, extraKeys),
    annotations: keptEntries(node.metadata?.annotations, extraKeys),
    ready: node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
  });
}

export function readyCondition(node: V1Node): ReadyCondition | null {
  const condition = node.status?.conditions?.find((c) => c.type === 'Ready');
  return condition ? { status: condition.status, reason: condition.reason ?? '', message: condition.message ?? '' } : null;
}

/** The Nodes informer's projection on the agent of `ownNodeName`; `extraKeys`: labels kept besides KEPT_NODE_KEY_PREFIXES. */
export function nodeProjector(ownNodeName: string, extraKeys: readonly string[] = []): (node: V1Node) => NodeProjection {
  return (node) => (node.metadata?.name === ownNodeName
    ? { node: toNodeObject(node, extraKeys), ownReady: readyCondition(node) }
    : { node: toNodeObject(node, extraKeys) });
}
