/**
 * Publishes the active gateway's Endpoint as plan/exclusive-endpoint.ts decides: ours created or
 * replaced first (only when it differs from what is stored), then every other Endpoint of the
 * cluster deleted with the uid and resourceVersion observed; superseded by a newer leader's
 * Endpoint, ours withdrawn and nothing else written. One failed write stops the rest of the plan
 * (the next pass plans again from a fresh observation); a deletion answered 404 or 409 (gone, or
 * changed since observed) is the precondition working, not a failure.
 */
import { isDeepStrictEqual } from 'node:util';
import type { SyncAction } from '../plan/broker-sync.ts';
import { publishPlan, type EndpointDeletion, type ObservedEndpoint } from '../plan/exclusive-endpoint.ts';
import type { LocalEndpointObject } from '../plan/local-endpoint-object.ts';
import { classifyApiError } from '../k8s/api-problem.ts';

export interface StoredEndpoint extends ObservedEndpoint {
  spec: unknown;
}

export type PublishOutcome =
  | { kind: 'superseded'; by: string; token: number; withdrew: boolean }
  | { kind: 'published'; wrote: 'created' | 'replaced' | 'unchanged'; deleted: string[] };

export type EndpointWrite = (action: SyncAction, signal: AbortSignal) => Promise<void>;

const tolerated = (error: unknown): boolean => {
  const status = classifyApiError(error, Date.now()).statusCode;
  return status === 404 || status === 409;
};

function deletion(target: EndpointDeletion, why: string): SyncAction {
  return { side: 'local', op: 'delete', kind: 'Endpoint', name: target.name, precondition: { uid: target.uid, resourceVersion: target.resourceVersion }, why };
}

export async function publishLocalEndpoint(
  stored: readonly StoredEndpoint[], desired: LocalEndpointObject, clusterId: string, token: number, write: EndpointWrite, signal: AbortSignal,
): Promise<PublishOutcome> {
  const plan = publishPlan(stored, clusterId, desired.metadata.name, token);
  if (plan.superseded) {
    if (plan.withdraw) {
      try {
        await write(deletion(plan.withdraw, `superseded by ${plan.by} (Lease transitions ${plan.token} > ${token})`), signal);
      } catch (error) {
        if (!tolerated(error)) throw error;
      }
    }
    return { kind: 'superseded', by: plan.by, token: plan.token, withdrew: plan.withdraw !== undefined };
  }
  const object = { ...desired, metadata: { ...desired.metadata, labels: {} } };
  let wrote: 'created' | 'replaced' | 'unchanged' = 'unchanged';
  if (plan.existing === undefined) {
    await write({ side: 'local', op: 'create', kind: 'Endpoint', name: desired.metadata.name, object, why: 'the active gateway publishes its Endpoint' }, signal);
    wrote = 'created';
  } else {
    const current = stored.find((e) => e.name === desired.metadata.name);
    const sameAnnotations = Object.entries(desired.metadata.annotations).every(([key, value]) => current?.annotations[key] === value);
    if (!current || !sameAnnotations || !isDeepStrictEqual(current.spec, desired.spec)) {
      // Others' annotations on it are kept; ours win.
      const annotations = { ...current?.annotations, ...desired.metadata.annotations };
      await write({
        side: 'local', op: 'update', kind: 'Endpoint', name: desired.metadata.name,
        object: { ...object, metadata: { ...object.metadata, annotations, uid: plan.existing.uid, resourceVersion: plan.existing.resourceVersion } },
        precondition: { uid: plan.existing.uid, resourceVersion: plan.existing.resourceVersion },
        why: 'the local Endpoint changed',
      }, signal);
      wrote = 'replaced';
    }
  }
  // Only once ours is in place: the cluster is never left without an Endpoint.
  const deleted: string[] = [];
  for (const target of plan.deletions) {
    try {
      await write(deletion(target, 'the cluster has one Endpoint: the active gateway\'s'), signal);
      deleted.push(target.name);
    } catch (error) {
      if (!tolerated(error)) throw error;
    }
  }
  return { kind: 'published', wrote, deleted };
}

/** The local Cluster object as Submariner's gateway writes it (pure): named by the cluster id, its ranges, no globalnet. */
export function localClusterObject(clusterId: string, namespace: string, podCidrs: readonly string[], serviceCidrs: readonly string[]) {
  return {
    apiVersion: 'submariner.io/v1', kind: 'Cluster' as const,
    metadata: { name: clusterId, namespace, labels: {}, annotations: {} },
    spec: { cluster_id: clusterId, color_codes: ['blue'], service_cidr: [...serviceCidrs], cluster_cidr: [...podCidrs], global_cidr: [] as string[] },
  };
}

/** Creates the local Cluster object, or replaces its spec when it differs (others' metadata kept); 'unchanged' otherwise. */
export async function publishLocalCluster(
  stored: { uid: string; resourceVersion: string; spec: unknown } | undefined, desired: ReturnType<typeof localClusterObject>, write: EndpointWrite, signal: AbortSignal,
): Promise<'created' | 'replaced' | 'unchanged'> {
  if (stored === undefined) {
    await write({ side: 'local', op: 'create', kind: 'Cluster', name: desired.metadata.name, object: desired, why: 'the active gateway publishes its Cluster' }, signal);
    return 'created';
  }
  if (isDeepStrictEqual(stored.spec, desired.spec)) return 'unchanged';
  const precondition = { uid: stored.uid, resourceVersion: stored.resourceVersion };
  await write({
    side: 'local', op: 'update', kind: 'Cluster', name: desired.metadata.name,
    object: { ...desired, metadata: { ...desired.metadata, ...precondition } }, precondition, why: 'the local Cluster changed',
  }, signal);
  return 'replaced';
}
