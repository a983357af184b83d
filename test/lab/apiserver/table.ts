/**
 * Server-side printing (meta.k8s.io/v1 Table), as `kubectl get` asks for it: the columns Kubernetes'
 * printers give Pods, DaemonSets and Nodes (the `-o wide` ones at priority 1), Name and Age for the
 * rest. Rows carry the object's metadata (includeObject=Metadata, kubectl's default), from which
 * kubectl adds the NAMESPACE column of `-A` itself.
 */
import type { KubeObject } from './store.ts';

interface Column { name: string; type: string; format?: string; description: string; priority: number }

/** Whether the request's Accept header asks for a Table (kubectl: `application/json;as=Table;v=v1;g=meta.k8s.io,...`). */
export function wantsTable(accept: string | undefined): boolean {
  return (accept ?? '').split(',').some((part) => {
    const params = part.split(';').map((p) => p.trim());
    return params.includes('as=Table') && params.includes('g=meta.k8s.io') && (params.includes('v=v1') || params.includes('v=v1beta1'));
  });
}

/** Kubernetes' HumanDuration, as its printers show an age. */
export function humanDuration(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (days < 8) return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
  return days < 365 * 2 ? `${days}d` : `${Math.floor(days / 365)}y`;
}

const column = (name: string, description: string, priority = 0, type = 'string', format?: string): Column =>
  ({ name, type, ...(format ? { format } : {}), description, priority });

type Any = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function podStatus(pod: Any): string {
  if (pod.metadata?.deletionTimestamp) return 'Terminating';
  const statuses: Any[] = pod.status?.containerStatuses ?? [];
  for (const status of statuses) {
    const reason = status.state?.waiting?.reason ?? status.state?.terminated?.reason;
    if (reason) return reason;
  }
  return pod.status?.phase ?? 'Pending';
}

const printers: Record<string, { columns: Column[]; cells(object: Any, age: string): unknown[] }> = {
  Pod: {
    columns: [
      column('Name', 'Name of the pod', 0, 'string', 'name'), column('Ready', 'ready containers / containers'), column('Status', 'the pod\'s status'),
      column('Restarts', 'restarts of its containers', 0, 'string'), column('Age', 'time since creation'),
      column('IP', 'the pod\'s IP address', 1), column('Node', 'the node it is bound to', 1),
      column('Nominated Node', 'the node preemption nominated', 1), column('Readiness Gates', 'readiness gates', 1),
    ],
    cells(pod, age) {
      const statuses: Any[] = pod.status?.containerStatuses ?? [];
      const containers = (pod.spec?.containers ?? []).length;
      return [
        pod.metadata.name, `${statuses.filter((s) => s.ready).length}/${containers}`, podStatus(pod),
        String(statuses.reduce((sum, s) => sum + (s.restartCount ?? 0), 0)), age,
        pod.status?.podIP ?? '<none>', pod.spec?.nodeName ?? '<none>', pod.status?.nominatedNodeName ?? '<none>', '<none>',
      ];
    },
  },
  DaemonSet: {
    columns: [
      column('Name', 'Name', 0, 'string', 'name'), column('Desired', 'desired', 0, 'integer'), column('Current', 'current', 0, 'integer'),
      column('Ready', 'ready', 0, 'integer'), column('Up-to-date', 'updated', 0, 'integer'), column('Available', 'available', 0, 'integer'),
      column('Node Selector', 'node selector'), column('Age', 'age'),
      column('Containers', 'containers', 1), column('Images', 'images', 1), column('Selector', 'selector', 1),
    ],
    cells(ds, age) {
      const status = ds.status ?? {};
      const template = ds.spec?.template?.spec ?? {};
      const selector = Object.entries(template.nodeSelector ?? {}).map(([k, v]) => `${k}=${v}`).join(',') || '<none>';
      return [
        ds.metadata.name, status.desiredNumberScheduled ?? 0, status.currentNumberScheduled ?? 0, status.numberReady ?? 0,
        status.updatedNumberScheduled ?? 0, status.numberAvailable ?? 0, selector, age,
        (template.containers ?? []).map((c: Any) => c.name).join(','), (template.containers ?? []).map((c: Any) => c.image).join(','),
        Object.entries(ds.spec?.selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(','),
      ];
    },
  },
  Node: {
    columns: [
      column('Name', 'Name', 0, 'string', 'name'), column('Status', 'status'), column('Roles', 'roles'), column('Age', 'age'), column('Version', 'kubelet version'),
      column('Internal-IP', 'internal IP', 1),
    ],
    cells(node, age) {
      const ready = (node.status?.conditions ?? []).find((c: Any) => c.type === 'Ready');
      const roles = Object.keys(node.metadata.labels ?? {}).filter((l) => l.startsWith('node-role.kubernetes.io/')).map((l) => l.slice(24)).join(',') || '<none>';
      const internal = (node.status?.addresses ?? []).find((a: Any) => a.type === 'InternalIP')?.address ?? '<none>';
      return [node.metadata.name, ready?.status === 'True' ? 'Ready' : 'NotReady', roles, age, node.status?.nodeInfo?.kubeletVersion ?? '', internal];
    },
  },
};

const fallback = {
  columns: [column('Name', 'Name', 0, 'string', 'name'), column('Created At', 'creation time', 0, 'date')],
  cells: (object: Any) => [object.metadata.name, object.metadata.creationTimestamp],
};

/** The objects as a Table (pure but for the clock it is given). */
export function toTable(kind: string, objects: KubeObject[], listMetadata: Record<string, unknown>, now: number): Record<string, unknown> {
  const printer = printers[kind] ?? fallback;
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: listMetadata,
    columnDefinitions: printer.columns,
    rows: objects.map((object) => {
      const created = Date.parse(String(object.metadata.creationTimestamp ?? ''));
      const age = Number.isNaN(created) ? '<unknown>' : humanDuration(now - created);
      return {
        cells: printer.cells(object as Any, age),
        object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: object.metadata },
      };
    }),
  };
}
