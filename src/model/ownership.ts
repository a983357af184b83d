/**
 * The markers on everything seaway creates. seaway never edits or deletes an object without one,
 * and cleanup removes exactly the marked set (DESIGN.md section 2).
 */
export const OWNERSHIP = {
  /** rtnetlink route protocol (RTPROT_*) stamped on every route seaway installs. Unassigned in iproute2's rt_protos. */
  routeProtocol: 147,
  /** Non-gateway nodes: remote subnets via the gateway's VTEP (Submariner's inter-cluster table). */
  interClusterTable: 100,
  interClusterRulePriority: 100,
  /** Gateway node: remote subnets out of the cable interface with src = CNI address (Submariner's host-network table). */
  hostNetworkTable: 150,
  hostNetworkRulePriority: 150,
  vxlanDevice: 'vx-submariner',
  vxlanVni: 100,
  vxlanPort: 4800,
  /** The VTEP network: node IP with its first octet replaced by 240, as a /8. */
  vtepFirstOctet: 240,
  vxlanMtuOverhead: 50,
  chains: {
    natPostrouting: 'SUBMARINER-POSTROUTING',
    filterInput: 'SUBMARINER-INPUT',
    filterForward: 'SUBMARINER-FORWARD',
    manglePostrouting: 'SUBMARINER-POSTROUTING',
  },
  ipsets: { localCidrs: 'SUBMARINER-LOCALCIDRS', remoteCidrs: 'SUBMARINER-REMOTECIDRS' },
  nftTable: 'seaway',
} as const;

/** The policy-rule priorities seaway installs, one per role: a rule at any other priority is never seaway's. */
export const OWNED_RULE_PRIORITIES: readonly number[] = [OWNERSHIP.interClusterRulePriority, OWNERSHIP.hostNetworkRulePriority];

/** The routing tables seaway owns: routes in any other table are never seaway's. */
export const OWNED_TABLES: readonly number[] = [OWNERSHIP.interClusterTable, OWNERSHIP.hostNetworkTable];
