import { formatCidr, parseCidr } from '../model/cidr.ts';
import type { Rtnetlink } from './rtnetlink.ts';
import { RT_TABLE_MAIN } from './routes.ts';

const RT_SCOPE_HOST = 254;

export interface DefaultRouteFacts {
  /** The interface the IPv4 default route leaves through: the VXLAN underlay. */
  interfaceName: string;
  ifindex: number;
  mtu: number;
  /** The node's IPv4 address on that interface (the route's preferred source, else its primary address). */
  nodeIp: string;
  gateway?: string;
}

/** Facts of the main table's IPv4 default route with the lowest metric; undefined when there is none. */
export async function defaultRouteFacts(rtnl: Rtnetlink): Promise<DefaultRouteFacts | undefined> {
  const defaults = (await rtnl.listRoutes({ table: RT_TABLE_MAIN }))
    .filter((r) => r.dst === '0.0.0.0/0' && r.type === 1 && r.oif !== undefined)
    .sort((a, b) => (a.metric ?? 0) - (b.metric ?? 0));
  const route = defaults[0];
  if (!route || route.oif === undefined) return undefined;
  const link = (await rtnl.listLinks()).find((l) => l.index === route.oif);
  if (!link) return undefined;
  const addresses = await rtnl.listAddresses(link.index);
  const onGatewayNetwork = route.gateway === undefined ? undefined : addresses.find((a) => {
    const net = parseCidr(`${a.address}/${a.prefixLength}`);
    const gw = parseCidr(`${route.gateway}/${a.prefixLength}`);
    return net.ok && gw.ok && net.cidr.network === gw.cidr.network;
  });
  const nodeIp = route.src ?? onGatewayNetwork?.address ?? addresses[0]?.address;
  if (nodeIp === undefined) return undefined;
  const facts: DefaultRouteFacts = { interfaceName: link.name, ifindex: link.index, mtu: link.mtu, nodeIp };
  if (route.gateway) facts.gateway = route.gateway;
  return facts;
}

export interface LocalNetwork {
  /** Network CIDR with host bits cleared, e.g. 192.168.1.0/24. */
  cidr: string;
  interfaceName: string;
  address: string;
}

/** IPv4 networks of the node's interfaces (loopback and host-scope addresses excluded). */
export async function localIpv4Networks(rtnl: Rtnetlink, options: { excludeInterfaces?: readonly string[] } = {}): Promise<LocalNetwork[]> {
  const names = new Map((await rtnl.listLinks()).map((l) => [l.index, l.name]));
  const excluded = new Set(options.excludeInterfaces ?? []);
  const networks: LocalNetwork[] = [];
  for (const a of await rtnl.listAddresses()) {
    const interfaceName = names.get(a.ifindex);
    if (interfaceName === undefined || excluded.has(interfaceName) || a.scope === RT_SCOPE_HOST) continue;
    const parsed = parseCidr(`${a.address}/${a.prefixLength}`);
    if (parsed.ok) networks.push({ cidr: formatCidr(parsed.cidr), interfaceName, address: a.address });
  }
  return networks;
}
