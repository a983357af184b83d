import { CoreV1Api, CustomObjectsApi, type KubeConfig, type KubernetesListObject, type KubernetesObject, type V1Node } from '@kubernetes/client-node';
import { freezeSnapshot, type EndpointObject, type NodeObject, type Snapshot } from '../model/snapshot.ts';
import { createResilientInformer, type ResilientInformer, type ResilientInformerDeps } from './resilient-informer.ts';

const GROUP = 'submariner.io';
const VERSION = 'v1';

interface SubmarinerObject extends KubernetesObject {
  spec?: unknown;
}

export interface SnapshotInformers {
  readonly synced: boolean;
  snapshot(): Snapshot;
  onChange(listener: () => void): void;
  start(): void;
  stop(): Promise<void>;
}

function toMeta(object: KubernetesObject): Omit<EndpointObject, 'spec'> {
  const meta = object.metadata ?? {};
  const created = meta.creationTimestamp as unknown;
  return {
    name: meta.name ?? '',
    namespace: meta.namespace ?? '',
    uid: meta.uid ?? '',
    resourceVersion: meta.resourceVersion ?? '',
    // client-node turns creationTimestamp into a Date for typed kinds and leaves a string for custom ones.
    creationTimestamp: created instanceof Date ? created.toISOString() : String(created ?? ''),
  };
}

export function toNodeObject(node: V1Node): NodeObject {
  const internal = node.status?.addresses?.find((a) => a.type === 'InternalIP' && !a.address.includes(':'));
  return {
    name: node.metadata?.name ?? '',
    internalIP: internal?.address ?? null,
    addresses: (node.status?.addresses ?? []).map((a) => a.address),
    podCidr: node.spec?.podCIDR ?? null,
    labels: node.metadata?.labels ?? {},
    annotations: node.metadata?.annotations ?? {},
    ready: node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
  };
}

/** Endpoints and Clusters in the configured namespace, and all Nodes, folded into one immutable snapshot. */
export function createSnapshotInformers(kubeConfig: KubeConfig, namespace: string, deps: Omit<ResilientInformerDeps, 'kubeConfig'>): SnapshotInformers {
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const listCustom = (plural: string) => async () =>
    (await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural })) as KubernetesListObject<SubmarinerObject>;
  const informerDeps = { ...deps, kubeConfig };
  const endpoints = createResilientInformer<SubmarinerObject>(
    { name: 'endpoints', path: `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/endpoints`, list: listCustom('endpoints') }, informerDeps);
  const clusters = createResilientInformer<SubmarinerObject>(
    { name: 'clusters', path: `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/clusters`, list: listCustom('clusters') }, informerDeps);
  const nodes = createResilientInformer<V1Node>({ name: 'nodes', path: '/api/v1/nodes', list: () => core.listNode() }, informerDeps);
  const all: ResilientInformer<KubernetesObject>[] = [endpoints, clusters, nodes];

  let cached: Snapshot | undefined;
  const listeners: Array<() => void> = [];
  for (const informer of all) {
    informer.onChange(() => {
      cached = undefined;
      for (const listener of listeners) listener();
    });
  }
  return {
    get synced() { return all.every((i) => i.synced); },
    snapshot() {
      cached ??= freezeSnapshot({
        endpoints: endpoints.list().map((e) => ({ ...toMeta(e), spec: e.spec })),
        clusters: clusters.list().map((c) => ({ ...toMeta(c), spec: c.spec })),
        nodes: nodes.list().map(toNodeObject),
      });
      return cached;
    },
    onChange: (listener) => { listeners.push(listener); },
    start() { for (const informer of all) informer.start(); },
    async stop() { await Promise.all(all.map((i) => i.stop())); },
  };
}
