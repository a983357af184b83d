/**
 * The markers on everything seaway creates. seaway never edits or deletes an object without one,
 * and cleanup removes exactly the marked set (DESIGN.md section 2).
 */
export const OWNERSHIP = {
  /** rtnetlink route protocol (RTPROT_*) stamped on every route seaway installs. Unassigned in iproute2's rt_protos. */
  routeProtocol: 147,
  /**
   * Non-gateway nodes: remote subnets via the gateway's VTEP in the main table, as Submariner does,
   * so the longest prefix wins: a more specific route the node already has keeps its traffic.
   */
  workerTable: 254,
  /** seaway's earlier worker layout (table 100 behind rule 100, consulted before main): removed on start. */
  legacyWorkerTable: 100,
  legacyWorkerRulePriority: 100,
  /**
   * Gateway node: remote subnets out of the cable interface with src = CNI address (Submariner's
   * host-network table). Behind seaway's own cable (a seaway-published local Endpoint) the rule
   * stays and the table stays empty: charon's table routes them.
   */
  hostNetworkTable: 150,
  hostNetworkRulePriority: 150,
  /**
   * Gateway node, IPsec cable: blackhole routes for the remote subnets, consulted right after the
   * table charon's kernel-libipsec routes into its TUN device (220), so a cable that is down drops
   * traffic instead of sending it in the clear by the main table's default route.
   */
  /** Where charon (kernel-libipsec and XFRM alike) routes into its cables: its own default table and rule, stated so the floor can sit after it. */
  charonTable: 220,
  charonRulePriority: 220,
  cableFailClosedTable: 221,
  // (Not among the routing driver's owned tables and priorities below: the cable keeps them, and the route agent must not take them for stale.)
  cableFailClosedRulePriority: 221,
  /**
   * Gateway node, WireGuard and VXLAN cables: the remote subnets into the cable's device, in a
   * table of seaway's consulted before charon's (which is empty then) and before the fail-closed
   * floor, so a cable whose device is gone drops its traffic on the floor.
   */
  cableRoutesTable: 218,
  cableRoutesRulePriority: 218,
  /** Submariner's VXLAN cable between gateways (unencrypted): its device, VNI and VTEP network (private IP with first octet 241, /8). */
  vxlanCableDevice: 'vxlan-tunnel',
  /** Submariner's WireGuard cable device: its route agent and tools know the cable by this name. */
  wireguardDevice: 'submariner',
  vxlanCableVni: 1000,
  vxlanCableVtepFirstOctet: 241,
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
    /** seaway's own (Submariner has none): the gateway's limit on echo requests to its CNI address from remote clusters. */
    filterEchoLimit: 'SEAWAY-ECHO-LIMIT',
  },
  /**
   * Submariner's two sets, adopted as they are; the node addresses that may send VXLAN and the
   * senders the gateway's echo limit exempts (the remote gateways' health-check addresses; empty
   * on other nodes) are seaway's own.
   */
  ipsets: { localCidrs: 'SUBMARINER-LOCALCIDRS', remoteCidrs: 'SUBMARINER-REMOTECIDRS', nodeAddresses: 'SEAWAY-NODEADDRS', echoExempt: 'SEAWAY-ECHO-EXEMPT' },
  nftTable: 'seaway',
} as const;

/** The policy-rule priorities seaway's rules (protocol 147) may have: any other is never seaway's. */
export const OWNED_RULE_PRIORITIES: readonly number[] = [OWNERSHIP.legacyWorkerRulePriority, OWNERSHIP.hostNetworkRulePriority];

/** The routing tables seaway's routes (protocol 147) may be in: routes in any other table are never seaway's. */
export const OWNED_TABLES: readonly number[] = [OWNERSHIP.workerTable, OWNERSHIP.legacyWorkerTable, OWNERSHIP.hostNetworkTable];

/**
 * What Submariner's route agent leaves on a node, which seaway adopts when it replaces it (and
 * removes on cleanup): on workers, main-table routes `via 240.x dev vx-submariner proto static`;
 * on the gateway, `proto static` routes in table 150 and the rule `pref 150 lookup 150` without a
 * protocol. Nothing else with these protocols is ever touched.
 */
export const SUBMARINER_LEFTOVERS = {
  routeProtocol: 4,
  ruleProtocol: 0,
} as const;
