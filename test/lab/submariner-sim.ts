import type { ClusterPlan, LabPlan } from './addressing.ts';
import { SUBMARINER_NAMESPACE } from './agents.ts';
import { httpUnix } from './http-unix.ts';

export const SUBMARINER_API = '/apis/submariner.io/v1';

/** Submariner's cable name: the backend's prefix, the cluster and the public IP with dashes. */
export function cableName(cluster: ClusterPlan): string {
  const gateway = gatewayOf(cluster);
  return `submariner-cable-${cluster.id}-${(gateway.wanIp as string).replaceAll('.', '-')}`;
}

function gatewayOf(cluster: ClusterPlan) {
  const gateway = cluster.nodes[0];
  if (!gateway?.wanIp) throw new Error(`${cluster.id} has no gateway-capable node 1: its Endpoint needs node 1's WAN address`);
  return gateway;
}

/** The cluster's Endpoint as its gateway (node 1) would publish it and the broker would sync it (pure). */
export function endpointObject(cluster: ClusterPlan): Record<string, unknown> {
  const gateway = gatewayOf(cluster);
  const cable = cableName(cluster);
  return {
    apiVersion: 'submariner.io/v1',
    kind: 'Endpoint',
    metadata: { name: `${cluster.id}-${cable}`, namespace: SUBMARINER_NAMESPACE, labels: { 'submariner-io/clusterID': cluster.id } },
    spec: {
      cluster_id: cluster.id,
      cable_name: cable,
      healthCheckIP: gateway.cniIp,
      hostname: gateway.name,
      subnets: [cluster.podCidr, cluster.serviceCidr],
      private_ip: gateway.ip,
      public_ip: gateway.wanIp,
      nat_enabled: false,
      backend: 'libreswan',
      backend_config: {},
    },
  };
}

/** The cluster's Cluster object (pure). */
export function clusterObject(cluster: ClusterPlan): Record<string, unknown> {
  return {
    apiVersion: 'submariner.io/v1',
    kind: 'Cluster',
    metadata: { name: cluster.id, namespace: SUBMARINER_NAMESPACE },
    spec: {
      cluster_id: cluster.id,
      color_codes: ['blue'],
      service_cidr: [cluster.serviceCidr],
      cluster_cidr: [cluster.podCidr],
      global_cidr: [],
    },
  };
}

/** Every cluster's Endpoint and Cluster, for every cluster's API server (pure). */
export function submarinerObjects(plan: LabPlan): Array<{ plural: 'endpoints' | 'clusters'; object: Record<string, unknown> }> {
  return plan.clusters.flatMap((cluster) => [
    { plural: 'endpoints' as const, object: endpointObject(cluster) },
    { plural: 'clusters' as const, object: clusterObject(cluster) },
  ]);
}

/** Creates the objects in every cluster's API server; an object that already exists counts as done. */
export async function publishSubmarinerObjects(plan: LabPlan, socketOf: (clusterId: string) => string): Promise<void> {
  const objects = submarinerObjects(plan);
  await Promise.all(plan.clusters.map(async (cluster) => {
    for (const { plural, object } of objects) {
      const path = `${SUBMARINER_API}/namespaces/${SUBMARINER_NAMESPACE}/${plural}`;
      const response = await httpUnix(socketOf(cluster.id), path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(object),
      });
      if (response.status !== 201 && response.status !== 409) {
        throw new Error(`creating ${plural} ${(object.metadata as { name: string }).name} in ${cluster.id}: HTTP ${response.status} ${response.body.slice(0, 300)}`);
      }
    }
  }));
}
