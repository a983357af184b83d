/**
 * What the operator (or whoever installs seaway) creates on a member cluster and the manifests only
 * refer to: the one list of their names and keys. The manifests may reference nothing else; the README
 * lists these for installers. `example` values are what the settings checks resolve the references to.
 */
export interface OperatorKey {
  /** A reference to an optional key must say `optional: true`; a required one must not. */
  optional: boolean;
  example: string;
}

export interface OperatorObject {
  kind: 'ConfigMap' | 'Secret';
  name: string;
  namespace: string;
  keys: Readonly<Record<string, OperatorKey>>;
}

export const SUBMARINER_NAMESPACE = 'submariner-operator';
export const BROKER_NAMESPACE = 'submariner-k8s-broker';

export const OPERATOR_OBJECTS: readonly OperatorObject[] = [
  {
    kind: 'ConfigMap', name: 'seaway-cluster', namespace: SUBMARINER_NAMESPACE,
    keys: {
      clusterID: { optional: false, example: 'cluster-a' },
      clusterCIDR: { optional: false, example: '10.244.0.0/16' },
      serviceCIDR: { optional: false, example: '10.96.0.0/12' },
      // The gateway's cable (ipsec, wireguard, vxlan); the gateway's own default when absent.
      cable: { optional: true, example: 'wireguard' },
    },
  },
  {
    kind: 'Secret', name: 'seaway-ipsec-psk', namespace: SUBMARINER_NAMESPACE,
    keys: { psk: { optional: false, example: 'c2VjcmV0' } },
  },
  {
    kind: 'Secret', name: 'seaway-broker', namespace: SUBMARINER_NAMESPACE,
    keys: { kubeconfig: { optional: false, example: 'apiVersion: v1\nkind: Config\n' } },
  },
];

export function operatorObject(kind: OperatorObject['kind'], name: string): OperatorObject | undefined {
  return OPERATOR_OBJECTS.find((o) => o.kind === kind && o.name === name);
}
