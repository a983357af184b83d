import type { V1Node } from '@kubernetes/client-node';
import { isDeepStrictEqual } from 'node:util';
import type { ClusterObject, EndpointObject, NodeObject, ObjectMeta } from '../model/snapshot.ts';

/**
 * What seaway keeps of each API object (pure). The informers compare these projections, not the
 * objects: a Node heartbeat, new images or another condition change nothing here, so they cost
 * no reconcile pass.
 */

/** A Submariner custom object as listed and watched (plain JSON). */
export interface SubmarinerObject {
  metadata?: { name?: string; namespace?: string; uid?: string; resourceVersion?: string; creationTimestamp?: unknown };
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

/** An Endpoint or a Cluster as the snapshot holds it: its metadata and its spec, as served. */
export function toSubmarinerObject(object: SubmarinerObject): EndpointObject & ClusterObject {
  return { ...toMeta(object), spec: object.spec };
}

/** Equal but for resourceVersion, which every write bumps (a label or status change touches nothing projected). */
export function sameMetaAndSpec(a: EndpointObject | ClusterObject, b: EndpointObject | ClusterObject): boolean {
  return isDeepStrictEqual({ ...a, resourceVersion: '' }, { ...b, resourceVersion: '' });
}

export function toNodeObject(node: V1Node): NodeObject {
  const internal = node.status?.addresses?.find((a) => a.type === 'InternalIP' && !a.address.includes(':'));
  return {
    name: node.metadata?.name ?? '',
    internalIP: internal?.address ?? null,
    addresses: (node.status?.addresses ?? []).map((a) => a.address),
    podCidr: node.spec?.podCIDR ?? null,
    labels: { ...node.metadata?.labels },
    annotations: { ...node.metadata?.annotations },
    ready: node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
  };
}

export function readyCondition(node: V1Node): ReadyCondition | null {
  const condition = node.status?.conditions?.find((c) => c.type === 'Ready');
  return condition ? { status: condition.status, reason: condition.reason ?? '', message: condition.message ?? '' } : null;
}

/** The Nodes informer's projection on the agent of `ownNodeName`. */
export function nodeProjector(ownNodeName: string): (node: V1Node) => NodeProjection {
  return (node) => (node.metadata?.name === ownNodeName ? { node: toNodeObject(node), ownReady: readyCondition(node) } : { node: toNodeObject(node) });
}
