/**
 * What `seaway uninstall` asks of the API server, through the real client: exactly the requests
 * manifests/uninstall/uninstall.yaml grants (DaemonSets by name, seaway's objects in the Submariner
 * namespace, its Lease, its own ServiceAccount, Role and RoleBinding handed to the garbage collector),
 * and, with the cluster's broker credentials, its copies on the broker. A 404 is success: the object
 * is already gone, which is what an uninstall wants, also when it runs a second time. Every call has a
 * deadline and ends when the pod is stopped: one hung request must not hold the uninstall.
 */
import {
  AppsV1Api, CoordinationV1Api, CoreV1Api, CustomObjectsApi, PatchStrategy, RbacAuthorizationV1Api, setHeaderOptions, type KubeConfig,
} from '@kubernetes/client-node';
import { callOptions, withDeadline } from './request-options.ts';

export type SubmarinerResource = 'routeagents' | 'gateways' | 'endpoints' | 'clusters';
export type OwnedKind = 'ServiceAccount' | 'Role' | 'RoleBinding';

export interface DaemonSetView {
  uid: string;
  deleting: boolean;
  desired: number;
  ready: number;
}

export interface UninstallApi {
  /** Deletes a DaemonSet of the namespace; false when there was none. */
  deleteDaemonSet(name: string, propagation: 'Foreground' | 'Background'): Promise<boolean>;
  /** The DaemonSet, or null once it is gone. */
  readDaemonSet(name: string): Promise<DaemonSetView | null>;
  listNames(resource: SubmarinerResource): Promise<string[]>;
  deleteObject(resource: SubmarinerResource, name: string): Promise<void>;
  deleteLease(name: string): Promise<void>;
  /** Makes the object a dependent of the DaemonSet, so the garbage collector deletes it with the DaemonSet. */
  ownBy(kind: OwnedKind, name: string, owner: { name: string; uid: string }): Promise<void>;
}

export interface BrokerUninstallApi {
  /** The broker's Endpoints, with the cluster each belongs to. */
  listEndpoints(): Promise<Array<{ name: string; clusterId: string | undefined }>>;
  deleteEndpoint(name: string): Promise<void>;
  deleteCluster(name: string): Promise<void>;
}

const GROUP = 'submariner.io';
const VERSION = 'v1';
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

function isNotFound(error: unknown): boolean {
  return (error as { code?: unknown }).code === 404;
}

async function gone(call: () => Promise<unknown>): Promise<boolean> {
  try {
    await call();
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

export interface CallLimits {
  userAgent: string;
  timeoutMs: number;
  /** Aborted when the pod is stopped. */
  signal: AbortSignal;
}

/** Runs a call with the request options it needs (our User-Agent, a signal that fires at the deadline or the stop). */
function limited(limits: CallLimits) {
  return <T>(what: string, call: (options: ReturnType<typeof callOptions>) => Promise<T>): Promise<T> =>
    withDeadline(limits.timeoutMs, limits.signal, (signal) => call(callOptions({ userAgent: limits.userAgent, signal })), what);
}

export function clusterUninstallApi(kubeConfig: KubeConfig, namespace: string, limits: CallLimits): UninstallApi {
  const apps = kubeConfig.makeApiClient(AppsV1Api);
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const coordination = kubeConfig.makeApiClient(CoordinationV1Api);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const rbac = kubeConfig.makeApiClient(RbacAuthorizationV1Api);
  const run = limited(limits);
  const withPatch = (options: ReturnType<typeof callOptions>) => ({ ...options, middleware: [...(mergePatch.middleware ?? []), ...(options.middleware ?? [])] });
  return {
    deleteDaemonSet: (name, propagation) => gone(() => run(`deleting the DaemonSet ${name}`, (options) => apps.deleteNamespacedDaemonSet({ name, namespace, propagationPolicy: propagation }, options))),
    async readDaemonSet(name) {
      try {
        const ds = await run(`reading the DaemonSet ${name}`, (options) => apps.readNamespacedDaemonSet({ name, namespace }, options));
        return {
          uid: ds.metadata?.uid ?? '',
          deleting: ds.metadata?.deletionTimestamp !== undefined,
          desired: ds.status?.desiredNumberScheduled ?? 0,
          ready: ds.status?.numberReady ?? 0,
        };
      } catch (error) {
        if (isNotFound(error)) return null;
        throw error;
      }
    },
    async listNames(resource) {
      const list = await run(`listing ${resource}`, (options) => custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: resource }, options)) as { items?: Array<{ metadata?: { name?: string } }> };
      return (list.items ?? []).map((item) => item.metadata?.name).filter((name): name is string => typeof name === 'string');
    },
    async deleteObject(resource, name) {
      await gone(() => run(`deleting ${resource}/${name}`, (options) => custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: resource, name }, options)));
    },
    async deleteLease(name) {
      await gone(() => run(`deleting the Lease ${name}`, (options) => coordination.deleteNamespacedLease({ name, namespace }, options)));
    },
    async ownBy(kind, name, owner) {
      const body = { metadata: { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: owner.name, uid: owner.uid }] } };
      const call = {
        ServiceAccount: (options: ReturnType<typeof callOptions>) => core.patchNamespacedServiceAccount({ name, namespace, body }, withPatch(options)),
        Role: (options: ReturnType<typeof callOptions>) => rbac.patchNamespacedRole({ name, namespace, body }, withPatch(options)),
        RoleBinding: (options: ReturnType<typeof callOptions>) => rbac.patchNamespacedRoleBinding({ name, namespace, body }, withPatch(options)),
      }[kind];
      await gone(() => run(`patching ${kind} ${name}`, call));
    },
  };
}

export function brokerUninstallApi(kubeConfig: KubeConfig, namespace: string, limits: CallLimits): BrokerUninstallApi {
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const run = limited(limits);
  return {
    async listEndpoints() {
      const list = await run('listing the broker\'s Endpoints', (options) => custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: 'endpoints' }, options)) as {
        items?: Array<{ metadata?: { name?: string }; spec?: { cluster_id?: unknown } }>;
      };
      return (list.items ?? []).flatMap((item) => (typeof item.metadata?.name === 'string'
        ? [{ name: item.metadata.name, clusterId: typeof item.spec?.cluster_id === 'string' ? item.spec.cluster_id : undefined }]
        : []));
    },
    async deleteEndpoint(name) {
      await gone(() => run(`deleting the broker's Endpoint ${name}`, (options) => custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: 'endpoints', name }, options)));
    },
    async deleteCluster(name) {
      await gone(() => run(`deleting the broker's Cluster ${name}`, (options) => custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: 'clusters', name }, options)));
    },
  };
}
