import { readdir } from 'node:fs/promises';
import { run } from '../../src/kernel/exec.ts';
import type { ClusterPlan, LabPlan, NatPlan, NodePlan } from './addressing.ts';
import { planNamespaces, NAT_FORWARDED_UDP_PORTS, NAT_WAN_INTERFACE, POLICY_RULE_PRIORITY, POLICY_TABLE, SECOND_NIC, SECOND_NIC_MTU } from './addressing.ts';

/** `ip` commands to run in one namespace as one `ip -n <namespace> -batch -`. */
export interface IpBatch {
  namespace: string;
  lines: string[];
}

const BRIDGE = 'br0';
const NETNS_DIR = '/run/netns';

/**
 * The lab's wiring, as phases of batches (pure): each phase needs the previous one done, the
 * batches inside a phase are independent. Every veth is created inside a lab namespace with its
 * peer placed straight into another lab namespace, so nothing ever touches the root namespace.
 */
export function topologyPhases(plan: LabPlan): IpBatch[][] {
  const bridges: IpBatch[] = [];
  const leaves: IpBatch[] = [];

  const wan: string[] = ['link set lo up', `link add ${BRIDGE} type bridge`, `link set ${BRIDGE} up`];
  wan.push(...bridgePort(plan.broker.wanPort, 'eth0', plan.broker.namespace));
  leaves.push({ namespace: plan.broker.namespace, lines: ['link set lo up', `addr add ${plan.broker.ip}/${cidrBits(plan.wan.cidr)} dev eth0`, 'link set eth0 up'] });

  for (const cluster of plan.clusters) {
    const lan: string[] = ['link set lo up', `link add ${BRIDGE} type bridge`, `link set ${BRIDGE} up`];
    lan.push(...bridgePort('cp', 'eth0', cluster.controlPlane.namespace));
    leaves.push({
      namespace: cluster.controlPlane.namespace,
      lines: ['link set lo up', `addr add ${cluster.controlPlane.ip}/${cidrBits(cluster.lanCidr)} dev eth0`, 'link set eth0 up'],
    });
    const nat = cluster.nat;
    // Behind NAT the gateways' eth1 hang on the NAT namespace's bridge, and only the NAT is on the WAN.
    const segment: string[] = nat ? ['link set lo up', `link add ${BRIDGE} type bridge`, `link set ${BRIDGE} up`, `addr add ${nat.segmentIp}/${cidrBits(nat.segmentCidr)} dev ${BRIDGE}`] : [];
    for (const node of cluster.nodes) {
      lan.push(...bridgePort(node.lanPort, 'eth0', node.namespace));
      if (node.wanPort) wan.push(...bridgePort(node.wanPort, 'eth1', node.namespace));
      if (node.natPort) segment.push(...bridgePort(node.natPort, 'eth1', node.namespace));
      leaves.push({ namespace: node.namespace, lines: nodeLines(plan, cluster, node) });
      for (const pod of node.pods) leaves.push({ namespace: pod.namespace, lines: ['link set lo up'] });
    }
    bridges.push({ namespace: cluster.lanNamespace, lines: lan });
    if (nat) {
      wan.push(...bridgePort(nat.wanPort, NAT_WAN_INTERFACE, nat.namespace));
      bridges.push({ namespace: nat.namespace, lines: segment });
      leaves.push({ namespace: nat.namespace, lines: natLeafLines(plan, cluster, nat) });
    }
  }
  bridges.push({ namespace: plan.wan.namespace, lines: wan });
  return [bridges, leaves];
}

function bridgePort(port: string, peer: string, peerNamespace: string): string[] {
  return [`link add ${port} type veth peer name ${peer} netns ${peerNamespace}`, `link set ${port} master ${BRIDGE}`, `link set ${port} up`];
}

function nodeLines(plan: LabPlan, cluster: ClusterPlan, node: NodePlan): string[] {
  const lines = ['link set lo up', `addr add ${node.ip}/${cidrBits(cluster.lanCidr)} dev eth0`, 'link set eth0 up', ...underlayLines(cluster, node)];
  if (node.wanIp && cluster.nat && node.natPort) {
    // The WAN (the broker, the other clusters' gateways) only through the NAT; everything else stays on eth0.
    lines.push(`addr add ${node.wanIp}/${cidrBits(cluster.nat.segmentCidr)} dev eth1`, 'link set eth1 up', `route add ${plan.wan.cidr} via ${cluster.nat.segmentIp} dev eth1`);
  } else if (node.wanIp) {
    lines.push(`addr add ${node.wanIp}/${cidrBits(plan.wan.cidr)} dev eth1`, 'link set eth1 up');
  }
  // Only where the lab's Endpoints put the gateway (node 1): the tunnels a gateway would have.
  if (node.wanIp && plan.options.endpoints && node === cluster.nodes[0]) lines.push(...wanRouteLines(plan, cluster));
  return lines;
}

/** The node's default route (and second NIC) in the form its underlay variant names (addressing.ts). */
function underlayLines(cluster: ClusterPlan, node: NodePlan): string[] {
  const controlPlane = cluster.controlPlane.ip;
  const second = node.secondIp === null ? [] : [
    // Its peer stays in the node, up so the NIC has carrier: an uplink to nowhere.
    `link add ${SECOND_NIC} type veth peer name ${SECOND_NIC}p`,
    `link set ${SECOND_NIC}p up`,
    `link set ${SECOND_NIC} mtu ${SECOND_NIC_MTU} up`,
    `addr add ${node.secondIp}/24 dev ${SECOND_NIC}`,
  ];
  const secondHop = node.secondIp === null ? '' : node.secondIp.replace(/\.\d+$/, '.1');
  switch (node.underlay) {
    // The default route makes eth0 the node's "default interface", as on a real host.
    case 'plain': return [`route add default via ${controlPlane} dev eth0`];
    case 'ecmp': return [...second, `route add default nexthop via ${controlPlane} dev eth0 nexthop via ${secondHop} dev ${SECOND_NIC}`];
    case 'nhid': return [`nexthop add id 1 via ${controlPlane} dev eth0`, 'route add default nhid 1'];
    case 'policy': return [`route add default via ${controlPlane} dev eth0 table ${POLICY_TABLE}`, `rule add priority ${POLICY_RULE_PRIORITY} lookup ${POLICY_TABLE}`];
    case 'none': return [];
    case 'multi-nic': return [...second, `route add default via ${secondHop} dev ${SECOND_NIC}`];
  }
}

/**
 * The NAT namespace's WAN side, and a route to each gateway's private IP (its InternalIP, on eth0 of a
 * node whose LAN the NAT is not on) via the gateway's segment address: seaway's IKE binds to the private
 * IP behind NAT, so that is what the NAT forwards to and what the replies to its packets go back to.
 */
function natLeafLines(plan: LabPlan, cluster: ClusterPlan, nat: NatPlan): string[] {
  const lines = ['link set lo up', `addr add ${nat.publicIp}/${cidrBits(plan.wan.cidr)} dev ${NAT_WAN_INTERFACE}`, `link set ${NAT_WAN_INTERFACE} up`];
  for (const node of cluster.nodes) {
    if (node.natPort && node.wanIp) lines.push(`route add ${node.ip}/32 via ${node.wanIp} dev ${BRIDGE}`);
  }
  return lines;
}

/**
 * What each NAT namespace does beyond `ip` (pure), run after the wiring: forwarding on; everything
 * leaving for the WAN SNATed to the public address, whatever its source (the segment address, or the
 * private IP IKE binds to); UDP 4500 and 4490 at the public address DNATed to gateway node 1; from the
 * WAN, only those and replies forwarded (a router that lets anything through would make the gateways'
 * private addresses reachable with a route via the public one, which a NAT in front of a VPC does not).
 */
export function natCommands(plan: LabPlan): Array<{ file: string; args: string[] }> {
  const commands: Array<{ file: string; args: string[] }> = [];
  for (const cluster of plan.clusters) {
    const nat = cluster.nat;
    if (!nat) continue;
    const inNat = (file: string, args: string[]) => ({ file: 'ip', args: ['netns', 'exec', nat.namespace, file, ...args] });
    const iptables = (...args: string[]) => inNat('iptables', ['-w', ...args]);
    commands.push(inNat('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']));
    for (const port of NAT_FORWARDED_UDP_PORTS) {
      commands.push(iptables('-t', 'nat', '-A', 'PREROUTING', '-i', NAT_WAN_INTERFACE, '-d', `${nat.publicIp}/32`, '-p', 'udp', '--dport', String(port), '-j', 'DNAT', '--to-destination', nat.forwardTo));
    }
    commands.push(
      iptables('-t', 'nat', '-A', 'POSTROUTING', '-o', NAT_WAN_INTERFACE, '-j', 'SNAT', '--to-source', nat.publicIp),
      iptables('-t', 'filter', '-A', 'FORWARD', '-i', NAT_WAN_INTERFACE, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED,DNAT', '-j', 'ACCEPT'),
      iptables('-t', 'filter', '-A', 'FORWARD', '-i', NAT_WAN_INTERFACE, '-j', 'DROP'),
    );
  }
  return commands;
}

/**
 * What the underlay variants need beyond `ip` (pure): the `nhid` node's route dump names only the
 * nexthop object, as on hosts that turned nexthop_compat_mode off.
 */
export function underlayCommands(plan: LabPlan): Array<{ file: string; args: string[] }> {
  return plan.clusters.flatMap((cluster) => cluster.nodes.filter((node) => node.underlay === 'nhid'))
    .map((node) => ({ file: 'ip', args: ['netns', 'exec', node.namespace, 'sysctl', '-q', '-w', 'net.ipv4.nexthop_compat_mode=0'] }));
}

/** Priority of the lab's rules sending remote clusters' traffic to its WAN table: ahead of seaway's table 150. */
export const WAN_RULE_PRIORITY = 140;
/** The lab's own table for its tunnel stand-in: apart from the main table, where seaway routes workers. */
export const WAN_TABLE = 140;

/**
 * The lab's stand-in for tunnels, on the node its Endpoints make the gateway (node 1): each other cluster's
 * pod and service CIDRs via that cluster's gateway (node 1) on the WAN, in a table of the lab's own.
 * seaway's table 150 (rule priority 150) sends remote subnets out of the default interface, which suits an
 * IPsec cable (the XFRM policy, not the route, carries the packet) but would drop them onto the LAN here;
 * a rule per remote CIDR at a higher priority makes the WAN route win, as the cable would.
 */
export function wanRouteLines(plan: LabPlan, cluster: ClusterPlan): string[] {
  const lines: string[] = [];
  for (const other of plan.clusters) {
    const gateway = other.nodes[0];
    if (other === cluster || !gateway?.wanIp) continue;
    for (const cidr of [other.podCidr, other.serviceCidr]) {
      lines.push(`route add ${cidr} via ${gateway.wanIp} dev eth1 table ${WAN_TABLE}`, `rule add priority ${WAN_RULE_PRIORITY} to ${cidr} lookup ${WAN_TABLE}`);
    }
  }
  return lines;
}

export function cidrBits(cidr: string): number {
  const bits = Number(cidr.split('/')[1]);
  if (!Number.isInteger(bits) || bits < 0 || bits > 32) throw new Error(`not an IPv4 CIDR: ${cidr}`);
  return bits;
}

export async function runBatch(batch: IpBatch): Promise<void> {
  if (batch.lines.length === 0) return;
  await run('ip', ['-n', batch.namespace, '-batch', '-'], { input: `${batch.lines.join('\n')}\n` });
}

export async function runPhases(phases: IpBatch[][]): Promise<void> {
  for (const phase of phases) await Promise.all(phase.map(runBatch));
}

/** Creates every namespace of the plan and wires them. */
export async function buildTopology(plan: LabPlan): Promise<void> {
  const names = planNamespaces(plan);
  await run('ip', ['-batch', '-'], { input: names.map((name) => `netns add ${name}\n`).join('') });
  await runPhases(topologyPhases(plan));
  for (const command of [...underlayCommands(plan), ...natCommands(plan)]) await run(command.file, command.args);
}

/**
 * Lists the named namespaces on the machine. Read from /run/netns, where `ip netns add` puts them:
 * `ip netns list` also asks the kernel for ids and prints errors for namespaces being deleted.
 */
export async function listNetns(): Promise<string[]> {
  try {
    return await readdir(NETNS_DIR);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

export async function deleteNetns(names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  // -force: one namespace already gone must not stop the deletion of the others.
  await run('ip', ['-force', '-batch', '-'], { input: names.map((name) => `netns delete ${name}\n`).join(''), allowFailure: true });
}
