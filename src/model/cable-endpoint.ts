/** The remote end of a cable, from the remote cluster's Endpoint (plain data, shared by the plans and the cable drivers). */
export interface CableEndpoint {
  /** Submariner's `cable_name` (`submariner-cable-<cluster>-<private IP, dots as dashes>`): the cable's identity. */
  cableName: string;
  clusterId: string;
  /** The remote gateway's private IP (its IKE identity). */
  privateIp: string;
  /** The address to reach it at (private or public, as NAT discovery chose). */
  address: string;
  /** The remote cluster's subnets (pods, services). */
  subnets: readonly string[];
  /** The remote's `udp-port` (4500 by default). */
  natTPort: number;
  /** WireGuard only: the remote device's public key (base64), from its `backend_config.publicKey`. */
  publicKey?: string;
}
