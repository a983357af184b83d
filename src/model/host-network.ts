/**
 * The node's own network as the kernel reports it, in plain data: read by kernel/host-network.ts,
 * judged by plan/underlay.ts, so both may import it.
 */
import { formatCidr, parseCidr } from './cidr.ts';

export interface HostLink {
  index: number;
  name: string;
  /** IFLA_INFO_KIND ("veth", "bridge", "dummy"...), absent for plain devices such as lo or a physical NIC. */
  kind?: string;
  mtu: number;
  /** Administratively up. */
  up: boolean;
  /** IFF_LOOPBACK. */
  loopback?: boolean;
}

export interface HostAddress {
  ifindex: number;
  address: string;
  prefixLength: number;
  /** RT_SCOPE_* (0 universe, 253 link, 254 host). */
  scope: number;
}

/** One next hop of a default route: the device, and the gateway when it has an IPv4 one. */
export interface DefaultRoutePath {
  ifindex: number;
  gateway?: string;
}

/**
 * An IPv4 unicast default route of any table, its next hops resolved whatever form the kernel keeps
 * them in (RTA_OIF, RTA_MULTIPATH or a nexthop object), in the kernel's order.
 */
export interface HostDefaultRoute {
  table: number;
  metric: number;
  /** The preferred source (RTA_PREFSRC), when the route names one. */
  src?: string;
  paths: DefaultRoutePath[];
}

/** A policy rule whose action is "lookup table". */
export interface HostLookupRule {
  priority: number;
  table: number;
  /** The rule's `from` prefix (CIDR text), when it has one. */
  from?: string;
  /** It has selectors besides `from` (to, tos, iif, oif, fwmark, ports, `not`...): it does not take all of a source's traffic. */
  narrowed: boolean;
}

export interface HostNetwork {
  links: HostLink[];
  addresses: HostAddress[];
  defaultRoutes: HostDefaultRoute[];
  rules: HostLookupRule[];
}

/** The scope of an address only the node itself uses (127.0.0.1 on lo). */
export const RT_SCOPE_HOST = 254;

export interface LocalNetwork {
  /** Network CIDR with host bits cleared, e.g. 192.168.1.0/24. */
  cidr: string;
  interfaceName: string;
  address: string;
}

/** IPv4 networks of the node's interfaces (loopback and host-scope addresses excluded). */
export function localIpv4Networks(host: Pick<HostNetwork, 'links' | 'addresses'>, options: { excludeInterfaces?: readonly string[] } = {}): LocalNetwork[] {
  const names = new Map(host.links.map((l) => [l.index, l.name]));
  const excluded = new Set(options.excludeInterfaces ?? []);
  const networks: LocalNetwork[] = [];
  for (const a of host.addresses) {
    const interfaceName = names.get(a.ifindex);
    if (interfaceName === undefined || excluded.has(interfaceName) || a.scope === RT_SCOPE_HOST) continue;
    const parsed = parseCidr(`${a.address}/${a.prefixLength}`);
    if (parsed.ok) networks.push({ cidr: formatCidr(parsed.cidr), interfaceName, address: a.address });
  }
  return networks;
}

/**
 * Why an IPv4 address cannot be a node's underlay address, or null. Other nodes send VXLAN to it and
 * its last three octets make the 240.x VTEP, so it must be a unicast address another host can reach.
 */
export function nodeIpProblem(address: number): string | null {
  const first = address >>> 24;
  if (first === 0) return 'is in 0.0.0.0/8 ("this network"), not a host address';
  if (first === 127) return 'is a loopback address, which no other node can reach';
  if (first >= 224 && first < 240) return 'is a multicast address';
  if (first >= 240) return 'is in 240.0.0.0/4 (reserved; seaway\'s VTEPs live in 240.0.0.0/8)';
  return null;
}
