/** What the planner wants the node to look like; drivers make the kernel match it. Plain data only. */

export interface DesiredVxlanLink {
  name: string;
  vni: number;
  /** UDP destination port. */
  port: number;
  mtu: number;
  /** Underlay address the VTEP sends from (the node's IP). */
  local: string;
  /** Underlay peer (the gateway's private IP) on non-gateway nodes; absent on the gateway. */
  remote?: string;
  /** Underlay interface name. */
  underlayDevice: string;
  /** The VTEP address with prefix, e.g. 240.1.0.12/8. */
  address: string;
}

export interface DesiredRoute {
  table: number;
  /** Destination CIDR, e.g. 10.2.0.0/16. */
  dst: string;
  gateway?: string;
  dev: string;
  /** Preferred source address. */
  src?: string;
}

export interface DesiredRule {
  priority: number;
  table: number;
}

/**
 * The MAC of seaway's FDB entries: on a VXLAN device the all-zeros entry is the default destination
 * (used for broadcast and unknown unicast), so one per peer floods to every peer VTEP.
 */
export const ALL_ZEROS_MAC = '00:00:00:00:00:00';

/** A VXLAN forwarding database entry: all-zeros MAC towards one peer VTEP underlay address. */
export interface DesiredFdbEntry {
  dev: string;
  mac: string;
  dst: string;
}

export interface DesiredSysctl {
  /** Path below /proc/sys, e.g. net/ipv4/conf/vx-submariner/rp_filter. */
  key: string;
  value: string;
}

export type MssClamp = { mode: 'pmtu' } | { mode: 'fixed'; mss: number };

/**
 * A global limit on ICMP echo requests to one address of this node from the remote clusters'
 * ranges: the gateway's CNI address, which every remote cluster's route agents and gateways probe.
 * Sources in `exempt` (the remote gateways' own health-check addresses, as /32s) are never
 * limited; sources outside the remote ranges (this cluster's own) are not either.
 */
export interface EchoLimit {
  /** The IPv4 address the echo requests are sent to (no prefix). */
  address: string;
  /** Host CIDRs (/32) whose echo requests pass unlimited. */
  exempt: string[];
  /** Sustained echo requests per second passed over all limited sources; the rest are dropped. */
  perSecond: number;
  /** How many may pass at once above the sustained rate (the token bucket's depth). */
  burst: number;
}

/** Backend-neutral packet filter intent; rendered to iptables-restore or nft text by plan/filter-*. */
export interface DesiredFilter {
  localCidrs: string[];
  remoteCidrs: string[];
  /** The cluster's node addresses (as /32 CIDRs): the only sources VXLAN (UDP 4800) is accepted from. */
  nodeAddresses: string[];
  /**
   * Where pod traffic to remote clusters leaves, for judging foreign NAT rules by their -o: through
   * exactly these devices (a worker: vx-submariner), or never through these (the gateway, whose
   * cable's egress is not known here: never the CNI interface). Absent: anywhere.
   */
  egress?: { only: string[] } | { never: string[] };
  /** SNAT target for 240.0.0.0/8 leaving vx-submariner; absent until the CNI interface is known. */
  cniAddress?: string;
  vxlanDevice: string;
  vxlanPort: number;
  mssClamp: MssClamp;
  /** On the gateway node with a known CNI address: the echo-request limit on that address; absent elsewhere. */
  echoLimit?: EchoLimit;
}

export interface DesiredState {
  links: DesiredVxlanLink[];
  routes: DesiredRoute[];
  rules: DesiredRule[];
  fdb: DesiredFdbEntry[];
  sysctls: DesiredSysctl[];
  filter: DesiredFilter | null;
}
