/**
 * What the gateway role lists, watches and probes besides the route agent's snapshot sources (lists
 * and watches through api-request.ts and watch-request.ts on the gateway's KubeConfig, the probe
 * through @kubernetes/client-node): the Submariner namespace's Gateway objects (a ready standby is
 * one of them), its Leases (who holds the election's), and the broker's answer to this cluster's
 * credentials. Every call has the configured deadline.
 */
import { CustomObjectsApi, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { SUBMARINER_GROUP, SUBMARINER_VERSION } from '../model/submariner-api.ts';
import { GATEWAY_PLURAL } from '../plan/gateway-status.ts';
import { classifyApiError, type ApiProblem } from './api-problem.ts';
import { kubeConfigConnection } from './api-connection.ts';
import { collectionListWatch, submarinerCollection, type ApiRequestSettings } from './client-list-watch.ts';
import type { ListWatch } from './list-watch.ts';
import { callOptions, withDeadline } from './request-options.ts';

export type GatewayObjectItem = { metadata?: { name?: string; resourceVersion?: string } };

export function clientGatewayObjects(kubeConfig: KubeConfig, namespace: string, request: ApiRequestSettings): ListWatch<GatewayObjectItem> {
  return submarinerCollection<GatewayObjectItem>(kubeConfigConnection(kubeConfig), namespace, GATEWAY_PLURAL, request);
}

export function clientLeases(kubeConfig: KubeConfig, namespace: string, request: ApiRequestSettings): ListWatch<V1Lease> {
  return collectionListWatch<V1Lease>(kubeConfigConnection(kubeConfig), `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`, request);
}

/** Who holds a Lease: all that wakes the election (renewals by the same holder are no news). */
export const leaseHolder = (lease: V1Lease): { name: string; holder: string } => ({ name: lease.metadata?.name ?? '', holder: lease.spec?.holderIdentity ?? '' });

/** One small list in the broker namespace with this cluster's broker credentials: null when it answers, else what went wrong. */
export async function probeBroker(kubeConfig: KubeConfig, namespace: string, request: ApiRequestSettings, signal: AbortSignal): Promise<ApiProblem | null> {
  const api = kubeConfig.makeApiClient(CustomObjectsApi);
  try {
    await withDeadline(request.requestTimeoutMs, signal, (deadline) => api.listNamespacedCustomObject(
      { group: SUBMARINER_GROUP, version: SUBMARINER_VERSION, namespace, plural: 'endpoints', limit: 1 },
      callOptions({ userAgent: request.userAgent, signal: deadline }),
    ), 'probing the broker');
    return null;
  } catch (error) {
    return classifyApiError(error, Date.now());
  }
}
