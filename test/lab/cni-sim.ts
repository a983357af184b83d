import { run } from '../../src/kernel/exec.ts';
import type { ClusterPlan, LabPlan, NodePlan } from './addressing.ts';
import { cidrBits, runBatch, runPhases, type IpBatch } from './topology.ts';

export interface CniSteps {
  /** The pod veths, the (still address-less) CNI interface, pod addressing and intra-cluster routes. */
  wiring: IpBatch[][];
  /** Run inside the node: forwarding on, the CNI's masquerade for pod traffic leaving the cluster, kube-proxy's Service DNAT. */
  commands: { file: string; args: string[] }[];
  /** Last: the address in the pod CIDR that makes the CNI interface recognisable (what an agent waits for). */
  address: IpBatch;
}

/** What the simulated CNI does on one node, in order (pure). */
export function cniSteps(plan: LabPlan, cluster: ClusterPlan, node: NodePlan): CniSteps {
  const cni = plan.options.cniInterface;
  const podBits = cidrBits(node.podCidr);
  const nodeLines = [`link add ${cni} type bridge`];
  const podBatches: IpBatch[] = [];
  for (const pod of node.pods) {
    nodeLines.push(`link add ${pod.hostVeth} type veth peer name eth0 netns ${pod.namespace}`, `link set ${pod.hostVeth} master ${cni}`, `link set ${pod.hostVeth} up`);
    podBatches.push({
      namespace: pod.namespace,
      lines: [`addr add ${pod.ip}/${podBits} dev eth0`, 'link set eth0 up', `route add default via ${node.cniIp} dev eth0`],
    });
  }
  nodeLines.push(`link set ${cni} up`);
  for (const other of cluster.nodes) {
    if (other !== node) nodeLines.push(`route add ${other.podCidr} via ${other.ip} dev eth0`);
  }
  const inNode = (file: string, args: string[]) => ({ file: 'ip', args: ['netns', 'exec', node.namespace, file, ...args] });
  const nat = (...args: string[]) => inNode('iptables', ['-w', '-t', 'nat', ...args]);
  // kube-proxy's part (iptables mode), on every node: the Service VIP DNATed to its pod, for pods (PREROUTING) and the host (OUTPUT).
  const service = cluster.service;
  const kubeProxy = service === null ? [] : [
    nat('-N', 'KUBE-SERVICES'),
    nat('-A', 'KUBE-SERVICES', '-d', `${service.ip}/32`, '-p', 'tcp', '--dport', String(service.port), '-j', 'DNAT', '--to-destination', `${service.backend}:${service.targetPort}`),
    nat('-I', 'PREROUTING', '-j', 'KUBE-SERVICES'),
    nat('-I', 'OUTPUT', '-j', 'KUBE-SERVICES'),
  ];
  return {
    wiring: [[{ namespace: node.namespace, lines: nodeLines }], podBatches],
    commands: [
      inNode('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']),
      nat('-A', 'POSTROUTING', '-s', cluster.podCidr, '!', '-d', cluster.podCidr, '-j', 'MASQUERADE'),
      ...kubeProxy,
    ],
    address: { namespace: node.namespace, lines: [`addr add ${node.cniIp}/${podBits} dev ${cni}`] },
  };
}

/** Sets up pod networking on one node; resolves once the CNI interface holds its address. */
export async function runCni(steps: CniSteps): Promise<void> {
  await runPhases(steps.wiring);
  for (const command of steps.commands) await run(command.file, command.args);
  await runBatch(steps.address);
}
