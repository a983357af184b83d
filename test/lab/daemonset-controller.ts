/**
 * The lab's DaemonSet controller, one per cluster, in the lab controller: a Pod of each DaemonSet on
 * every node its nodeSelector and tolerations admit, none elsewhere; RollingUpdate replaces Pods of an
 * older template within maxUnavailable (unready old Pods first, as Kubernetes does), OnDelete leaves
 * them; a terminating Pod is neither deleted again nor replaced until it is gone; the DaemonSet's status
 * counts what `kubectl rollout status` reads (minReadySeconds included). Pods whose DaemonSet is gone are
 * the API server's garbage collector's. Planning is pure (planDaemonSet); the loop only acts.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ApiObject, SocketApi } from './socket-api.ts';

export interface DaemonSetObject extends ApiObject {
  spec: {
    selector: { matchLabels?: Record<string, string> };
    template: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec: Record<string, unknown> & { nodeSelector?: Record<string, string>; tolerations?: Toleration[] } };
    updateStrategy?: { type?: string; rollingUpdate?: { maxUnavailable?: number | string } };
    /** A new Pod counts as available only once Ready this long (the rollout waits for it). */
    minReadySeconds?: number;
  };
  status?: Record<string, unknown>;
}

export interface NodeObject extends ApiObject {
  spec?: { taints?: Array<{ key: string; value?: string; effect: string }> };
}

export interface PodObjectSummary extends ApiObject {
  spec: { nodeName?: string };
  status?: { conditions?: Array<{ type: string; status: string; lastTransitionTime?: string }> };
}

interface Toleration { key?: string; operator?: string; value?: string; effect?: string }

export const REVISION_LABEL = 'controller-revision-hash';

/** The template's hash, as the revision label carries it (pure). */
export function templateHash(daemonSet: DaemonSetObject): string {
  return createHash('sha256').update(JSON.stringify(daemonSet.spec.template)).digest('hex').slice(0, 10);
}

function tolerates(tolerations: Toleration[], taint: { key: string; value?: string; effect: string }): boolean {
  return tolerations.some((toleration) => {
    if (toleration.effect && toleration.effect !== taint.effect) return false;
    if (toleration.operator === 'Exists') return toleration.key === undefined || toleration.key === '' || toleration.key === taint.key;
    return toleration.key === taint.key && (toleration.value ?? '') === (taint.value ?? '');
  });
}

/** Whether the DaemonSet belongs on the node: its nodeSelector matches and every NoSchedule/NoExecute taint is tolerated (pure). */
export function admits(daemonSet: DaemonSetObject, node: NodeObject): boolean {
  const { nodeSelector = {}, tolerations = [] } = daemonSet.spec.template.spec;
  const labels = node.metadata.labels ?? {};
  if (!Object.entries(nodeSelector).every(([key, value]) => labels[key] === value)) return false;
  return (node.spec?.taints ?? []).every((taint) => taint.effect === 'PreferNoSchedule' || tolerates(tolerations, taint));
}

export const isReady = (pod: PodObjectSummary) => pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

/** Ready for at least minReadySeconds (pure). */
export function isAvailable(pod: PodObjectSummary, minReadySeconds: number, now: number): boolean {
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True');
  if (!ready) return false;
  if (minReadySeconds <= 0) return true;
  const since = Date.parse(ready.lastTransitionTime ?? '');
  return !Number.isNaN(since) && now - since >= minReadySeconds * 1000;
}

/** maxUnavailable of a count: an integer, or a percentage rounded up (at least 1, as Kubernetes requires one of surge/unavailable) (pure). */
export function maxUnavailable(value: number | string | undefined, desired: number): number {
  if (value === undefined) return 1;
  if (typeof value === 'number') return Math.max(1, value);
  const percent = /^(\d+)%$/.exec(value);
  if (!percent) return /^\d+$/.test(value) ? Math.max(1, Number(value)) : 1;
  return Math.max(1, Math.ceil((Number(percent[1]) * desired) / 100));
}

export interface DaemonSetPlan {
  create: string[];
  /** Pod names. */
  delete: string[];
  status: Record<string, unknown>;
}

/** What the controller does next for one DaemonSet, from its nodes and Pods (pure). */
export function planDaemonSet(daemonSet: DaemonSetObject, nodes: NodeObject[], pods: PodObjectSummary[], now: number): DaemonSetPlan {
  const minReady = daemonSet.spec.minReadySeconds ?? 0;
  const hash = templateHash(daemonSet);
  const owned = pods.filter((pod) => pod.metadata.ownerReferences?.some((ref) => ref.uid === daemonSet.metadata.uid));
  const byNode = new Map<string, PodObjectSummary[]>();
  for (const pod of owned) {
    const list = byNode.get(pod.spec.nodeName ?? '') ?? [];
    list.push(pod);
    byNode.set(pod.spec.nodeName ?? '', list);
  }
  const eligible = nodes.filter((node) => admits(daemonSet, node)).map((node) => node.metadata.name);
  const create: string[] = [];
  const remove: string[] = [];
  const oldReady: string[] = [];
  let unavailable = 0;
  let ready = 0;
  let available = 0;
  let updated = 0;
  let scheduled = 0;
  for (const [nodeName, list] of byNode) {
    if (!eligible.includes(nodeName)) remove.push(...list.filter((pod) => !pod.metadata.deletionTimestamp).map((pod) => pod.metadata.name));
  }
  for (const nodeName of eligible) {
    // A terminating Pod is the kubelet's to end: neither deleted again nor replaced until it is gone
    // (its successor would find the node's host ports and state still held).
    const all = byNode.get(nodeName) ?? [];
    const list = all.filter((pod) => !pod.metadata.deletionTimestamp);
    if (list.length === 0) {
      if (all.length === 0) create.push(nodeName);
      unavailable += 1;
      continue;
    }
    scheduled += 1;
    // One Pod per node: extras (a create that raced) go, the current template's kept first.
    const sorted = [...list].sort((a, b) => Number(b.metadata.labels?.[REVISION_LABEL] === hash) - Number(a.metadata.labels?.[REVISION_LABEL] === hash));
    const [pod, ...extras] = sorted as [PodObjectSummary, ...PodObjectSummary[]];
    remove.push(...extras.map((extra) => extra.metadata.name));
    const current = pod.metadata.labels?.[REVISION_LABEL] === hash;
    if (current) updated += 1;
    if (isReady(pod)) ready += 1;
    if (isAvailable(pod, minReady, now)) available += 1;
    else unavailable += 1;
    if (!current && daemonSet.spec.updateStrategy?.type !== 'OnDelete') {
      if (isReady(pod)) oldReady.push(pod.metadata.name);
      else remove.push(pod.metadata.name);
    }
  }
  const budget = maxUnavailable(daemonSet.spec.updateStrategy?.rollingUpdate?.maxUnavailable, eligible.length) - unavailable;
  remove.push(...oldReady.sort().slice(0, Math.max(0, budget)));
  return {
    create,
    delete: remove,
    status: {
      currentNumberScheduled: scheduled,
      desiredNumberScheduled: eligible.length,
      numberMisscheduled: [...byNode.keys()].filter((name) => !eligible.includes(name)).length,
      numberReady: ready,
      numberAvailable: available,
      numberUnavailable: eligible.length - available,
      updatedNumberScheduled: updated,
      observedGeneration: daemonSet.metadata.generation ?? 1,
    },
  };
}

/** The Pod the controller creates on a node (pure but for its random name suffix). */
export function podFor(daemonSet: DaemonSetObject, nodeName: string, suffix = randomBytes(3).toString('hex').slice(0, 5)): Record<string, unknown> {
  const template = daemonSet.spec.template;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `${daemonSet.metadata.name}-${suffix}`,
      namespace: daemonSet.metadata.namespace,
      labels: { ...template.metadata?.labels, [REVISION_LABEL]: templateHash(daemonSet), 'pod-template-generation': String(daemonSet.metadata.generation ?? 1) },
      ...(template.metadata?.annotations ? { annotations: template.metadata.annotations } : {}),
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: daemonSet.metadata.name, uid: daemonSet.metadata.uid, controller: true, blockOwnerDeletion: true }],
    },
    spec: { ...template.spec, nodeName },
  };
}

/** One pass over a cluster: every DaemonSet planned and acted on. */
export async function syncDaemonSets(api: SocketApi, log: (line: string) => void): Promise<void> {
  const [daemonSets, nodes, pods] = await Promise.all([
    api.list<DaemonSetObject>('/apis/apps/v1/daemonsets'),
    api.list<NodeObject>('/api/v1/nodes'),
    api.list<PodObjectSummary>('/api/v1/pods'),
  ]);
  for (const daemonSet of daemonSets) {
    // Being deleted: the garbage collector removes its Pods, the controller makes none.
    if (daemonSet.metadata.deletionTimestamp) continue;
    // One DaemonSet's failing request (a namespace being deleted) does not hold the others.
    try {
      await syncOne(api, daemonSet, nodes, pods, log);
    } catch (error) {
      log(`${daemonSet.metadata.namespace}/${daemonSet.metadata.name}: ${(error as Error).message}`);
    }
  }
}

/** One DaemonSet's plan carried out: Pods deleted and created, its status written when it changed. */
async function syncOne(api: SocketApi, daemonSet: DaemonSetObject, nodes: NodeObject[], pods: PodObjectSummary[], log: (line: string) => void): Promise<void> {
  const namespace = daemonSet.metadata.namespace as string;
  const plan = planDaemonSet(daemonSet, nodes, pods.filter((pod) => pod.metadata.namespace === namespace), Date.now());
  for (const name of plan.delete) {
    log(`deleting ${namespace}/${name} (${daemonSet.metadata.name})`);
    await api.delete(`/api/v1/namespaces/${namespace}/pods/${name}`);
  }
  for (const nodeName of plan.create) {
    const created = await api.create(`/api/v1/namespaces/${namespace}/pods`, podFor(daemonSet, nodeName));
    log(`created ${namespace}/${created.metadata.name} on ${nodeName} (${daemonSet.metadata.name})`);
  }
  const changed = Object.entries(plan.status).some(([key, value]) => daemonSet.status?.[key] !== value);
  if (changed) await api.mergePatch(`/apis/apps/v1/namespaces/${namespace}/daemonsets/${daemonSet.metadata.name}/status`, { status: plan.status });
}
