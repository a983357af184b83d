/** Builders for snapshot objects used by the model and planner unit tests. */
import type { ClusterObject, EndpointObject, NodeObject } from '../../src/model/snapshot.ts';
import { GATEWAY_LABEL } from '../../src/model/local-endpoint.ts';

export const NAMESPACE = 'submariner-operator';

export function spec(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    cluster_id: 'west',
    cable_name: 'submariner-cable-west-192-168-1-10',
    healthCheckIP: '10.2.0.1',
    hostname: 'west-gw',
    subnets: ['10.2.0.0/16', '10.202.0.0/16'],
    private_ip: '192.168.1.10',
    public_ip: '203.0.113.10',
    nat_enabled: false,
    backend: 'libreswan',
    backend_config: { 'natt-discovery-port': '4490', 'udp-port': '4500' },
    ...overrides,
  };
}

let uidCounter = 0;

/** An Endpoint as the projection gives it; `annotations` are its `seaway.io/` ones (none: Submariner's gateway publishes it). */
export function endpoint(name: string, specValue: unknown, creationTimestamp = '2024-05-01T10:00:00Z', annotations: Record<string, string> = {}): EndpointObject {
  uidCounter++;
  return {
    name, namespace: NAMESPACE, uid: `uid-${name}`, resourceVersion: String(uidCounter), creationTimestamp, annotations, spec: specValue,
  };
}

/** A Node as the projection gives it; `addresses` defaults to the InternalIP alone. */
export function node(
  name: string, internalIP: string | null, annotations: Record<string, string> = {},
  options: { labels?: Record<string, string>; addresses?: string[] } = {},
): NodeObject {
  const addresses = options.addresses ?? (internalIP === null ? [] : [internalIP]);
  return { name, internalIP, addresses, podCidr: null, labels: options.labels ?? {}, annotations, ready: true };
}

/** A Node carrying submariner.io/gateway=true. */
export function gatewayNode(name: string, internalIP: string, addresses?: string[]): NodeObject {
  return node(name, internalIP, {}, { labels: { [GATEWAY_LABEL]: 'true' }, ...(addresses ? { addresses } : {}) });
}

/** Submariner's Cluster object for `id`, created at `creationTimestamp`. */
export function cluster(id: string, creationTimestamp: string, specValue: unknown = { cluster_id: id }): ClusterObject {
  uidCounter++;
  return { name: id, namespace: NAMESPACE, uid: `uid-cluster-${id}`, resourceVersion: String(uidCounter), creationTimestamp, spec: specValue };
}

/** Deterministic Fisher-Yates shuffle (mulberry32) so determinism tests are reproducible. */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  let state = seed >>> 0;
  const random = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}
