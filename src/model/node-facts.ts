/**
 * What the kernel told about this node: plain data read by dataplane/ (through kernel/) and
 * consumed by plan/, so it lives in model/ where both may import it.
 */

export interface NodeFacts {
  /** IPv4 address of the underlay (vx-submariner's local, and its VTEP's last three octets): see plan/underlay.ts. */
  nodeIp: string;
  /** The interface VXLAN leaves through (vx-submariner's underlay device). */
  underlayDevice: string;
  /** Its MTU: vx-submariner's is this less the VXLAN overhead. */
  underlayMtu: number;
  /** The CNI interface once found; null while init still waits for it. */
  cniInterface: { name: string; address: string } | null;
  /** Networks of the node's own interfaces ("192.168.1.5/24" is fine: host bits are ignored). */
  networks: readonly string[];
}

/** The iptables flavour a host's rules live in: xtables (iptables-legacy) or nf_tables (iptables-nft). */
export type IptablesMode = 'legacy' | 'nft';
