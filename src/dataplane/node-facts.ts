import type { Rtnetlink } from '../kernel/rtnetlink.ts';
import { defaultRouteFacts, localIpv4Networks } from '../kernel/host-network.ts';
import type { NodeFacts } from '../model/node-facts.ts';
import { OWNERSHIP } from '../model/ownership.ts';
import { containsAddress, parseCidr, parseIpv4 } from '../model/cidr.ts';

/**
 * What the planner needs to know about this node, read from the kernel: the underlay from the
 * default route, the node's own networks (seaway's VXLAN excluded: its 240/8 is ours, not the
 * node's) and its default gateway, and the CNI interface found by the init phase. Undefined without a default route.
 */
export async function readNodeFacts(rtnl: Rtnetlink, cni: { name: string; address: string } | null): Promise<NodeFacts | undefined> {
  const route = await defaultRouteFacts(rtnl);
  if (!route) return undefined;
  const networks = (await localIpv4Networks(rtnl, { excludeInterfaces: [OWNERSHIP.vxlanDevice] })).map((n) => n.cidr);
  // The default gateway too, when no interface network holds it (a /32 NIC, as on GKE): a remote
  // subnet covering it would cut this node off from everything behind it.
  const gateway = route.gateway === undefined ? null : parseIpv4(route.gateway);
  if (gateway?.ok && !networks.some((text) => { const n = parseCidr(text); return n.ok && containsAddress(n.cidr, gateway.address); })) {
    networks.push(`${route.gateway}/32`);
  }
  return {
    nodeIp: route.nodeIp,
    underlayDevice: route.interfaceName,
    underlayMtu: route.mtu,
    cniInterface: cni,
    networks,
  };
}
