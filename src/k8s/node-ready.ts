import { CoreV1Api, type KubeConfig, type V1Node } from '@kubernetes/client-node';
import { createResilientInformer, type ResilientInformer, type ResilientInformerDeps } from './resilient-informer.ts';

export interface NodeReadiness {
  ready: boolean;
  /** Why not, when not: "Node x not found", "Ready=False (KubeletNotReady: ...)". */
  reason: string;
}

export function nodeReadiness(node: V1Node | undefined, nodeName: string): NodeReadiness {
  if (!node) return { ready: false, reason: `Node ${nodeName} not found` };
  const condition = node.status?.conditions?.find((c) => c.type === 'Ready');
  if (!condition) return { ready: false, reason: `Node ${nodeName} has no Ready condition yet` };
  if (condition.status === 'True') return { ready: true, reason: 'Ready=True' };
  const detail = [condition.reason, condition.message].filter(Boolean).join(': ');
  return { ready: false, reason: `Node ${nodeName} Ready=${condition.status}${detail ? ` (${detail})` : ''}` };
}

/** Watches this node's own Node object (a field selector on its name: one object, not all nodes). */
export function watchOwnNode(
  kubeConfig: KubeConfig,
  nodeName: string,
  deps: Omit<ResilientInformerDeps, 'kubeConfig'>,
): ResilientInformer<V1Node> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const fieldSelector = `metadata.name=${nodeName}`;
  return createResilientInformer<V1Node>(
    { name: 'own-node', path: '/api/v1/nodes', fieldSelector, list: () => core.listNode({ fieldSelector }) },
    { ...deps, kubeConfig },
  );
}
