/**
 * The worker node the datapath benchmarks program: a lab worker (cluster1-node2, its gateway
 * cluster1-node1) in a fresh network namespace, and the snapshot of `clusters` remote clusters x
 * `subnetsPerCluster` subnets it plans from.
 */
import { run } from '../../src/kernel/exec.ts';
import type { PlanConfig } from '../../src/plan/node-plan.ts';
import { freezeSnapshot, type EndpointObject, type NodeObject, type Snapshot } from '../../src/model/snapshot.ts';

export const NODE_IP = '192.168.1.12';
export const GATEWAY_IP = '192.168.1.11';
export const GATEWAY_VTEP = '240.168.1.11';
export const CNI = { name: 'cni0', address: '10.1.2.1' };

/** `nodes`: the Nodes of the local cluster (at least 3: the gateway and two workers); the rest are other workers. */
export interface WorkerScale { clusters: number; subnetsPerCluster: number; nodes?: number }

export const planConfig = ({ clusters, subnetsPerCluster }: WorkerScale): PlanConfig => ({
  clusterId: 'cluster1', nodeName: 'cluster1-node2', podCidrs: ['10.1.0.0/16'], serviceCidrs: ['10.101.0.0/16'],
  minPrefixLength: 8, maxSubnetsPerEndpoint: 64,
  // Every generated subnet is routed, at any --clusters x --subnets.
  maxRemoteSubnets: clusters * subnetsPerCluster,
});

/** Subnet j of remote cluster i (in its generation): /24s in 100.64.0.0/10, clear of every local and reserved range. */
export const subnet = ({ clusters, subnetsPerCluster }: WorkerScale, i: number, j: number, generation = 0): string => {
  const k = i * subnetsPerCluster + j + generation * clusters * subnetsPerCluster;
  return `100.${64 + (k >> 8)}.${k & 255}.0/24`;
};

function endpoint(name: string, spec: Record<string, unknown>, index: number): EndpointObject {
  return { name, namespace: 'submariner-operator', uid: `uid-${name}`, resourceVersion: String(index + 1), creationTimestamp: '2030-01-01T00:00:00Z', annotations: {}, spec };
}

/** Every remote cluster with its subnets of generation 0, but `changed` (cluster index to generation) with theirs. */
export function workerSnapshot(scale: WorkerScale, changed: ReadonlyMap<number, number> = new Map()): Snapshot {
  const endpoints: EndpointObject[] = [endpoint('cluster1', {
    cluster_id: 'cluster1', cable_name: 'c1', hostname: 'cluster1-node1', subnets: ['10.1.0.0/16', '10.101.0.0/16'],
    private_ip: GATEWAY_IP, public_ip: '198.18.1.1', nat_enabled: false, backend: 'libreswan', backend_config: {},
  }, 0)];
  for (let i = 0; i < scale.clusters; i++) {
    const generation = changed.get(i) ?? 0;
    endpoints.push(endpoint(`remote${i}`, {
      cluster_id: `remote${i}`, cable_name: `r${i}`, hostname: `remote${i}-gw`,
      subnets: Array.from({ length: scale.subnetsPerCluster }, (_, j) => subnet(scale, i, j, generation)),
      private_ip: '172.31.0.1', public_ip: '198.51.100.1', nat_enabled: false, backend: 'libreswan', backend_config: {},
    }, i + 1 + generation * scale.clusters));
  }
  const nodes: NodeObject[] = Array.from({ length: Math.max(3, scale.nodes ?? 3) }, (_, k) => k + 1).map((n) => ({
    // Nodes 1-3 on the lab's node network; the others on 192.168.16.0/20 with pod CIDRs in 10.1.0.0/16.
    name: `cluster1-node${n}`, internalIP: nodeIp(n), addresses: [nodeIp(n)], podCidr: n <= 3 ? `10.1.${n}.0/24` : `10.1.${4 + (n >> 5)}.${(n & 31) * 8}/29`,
    // Node 1 is the gateway: the local Endpoint is trusted only when it names a gateway-labelled Node.
    labels: n === 1 ? { 'submariner.io/gateway': 'true' } : ({} as Record<string, string>), annotations: {}, ready: true,
  }));
  return freezeSnapshot({ endpoints, clusters: [], nodes });
}

const nodeIp = (n: number): string => (n <= 3 ? `192.168.1.${10 + n}` : `192.168.${16 + (n >> 8)}.${n & 255}`);

/** The gateway node of the snapshot (cluster1-node1, at GATEWAY_IP), for benchmarks of the gateway's own pass. */
export const GATEWAY_NODE = 'cluster1-node1';

/**
 * A fresh namespace shaped like a lab worker: eth0 with the node IP and the default route, and the
 * CNI's cni0. `address`: GATEWAY_IP for the gateway node.
 */
export async function prepareWorkerNamespace(ns: string, address = NODE_IP): Promise<void> {
  await run('ip', ['netns', 'add', ns]);
  await run('ip', ['-n', ns, '-batch', '-'], {
    input: [
      'link set lo up',
      'link add eth0 type veth peer name eth0p',
      `addr add ${address}/24 dev eth0`,
      'link set eth0 up', 'link set eth0p up',
      'route add default via 192.168.1.1 dev eth0',
      'link add cni0 type bridge',
      `addr add ${CNI.address}/24 dev cni0`,
      'link set cni0 up',
    ].join('\n') + '\n',
  });
}
