/**
 * Submariner's VXLAN cable as seaway builds it (pure): one `vxlan-tunnel` device with VNI 1000 on
 * the `udp-port`, the gateway's VTEP at its private IP with the first octet 241 (a /8, so every
 * remote gateway's VTEP is on-link), per remote an all-zero FDB entry sending frames to the remote's
 * address, and per remote subnet a route via the remote's VTEP. Wire-compatible with Submariner's
 * driver; the routes live in seaway's cable table (218) rather than table 100, which seaway's route
 * agent once used, so nothing of the two collides.
 */
import type { CableEndpoint } from '../model/cable-endpoint.ts';
import { formatIpv4, parseIpv4 } from '../model/cidr.ts';
import { OWNERSHIP } from '../model/ownership.ts';

/** The MAC of the FDB entries that send every frame to one remote VTEP (flooding to a unicast peer). */
export const ALL_ZERO_MAC = '00:00:00:00:00:00';

/** A gateway's VTEP on the VXLAN cable: its private IP with the first octet 241. */
export function cableVtep(privateIp: string): string {
  const parsed = parseIpv4(privateIp);
  if (!parsed.ok) throw new Error(`private IP ${JSON.stringify(privateIp)} is not an IPv4 address: no VXLAN cable VTEP`);
  return formatIpv4(((OWNERSHIP.vxlanCableVtepFirstOctet << 24) | (parsed.address & 0x00ffffff)) >>> 0);
}

export interface VxlanCablePlan {
  /** Remote address (as NAT discovery or the Endpoint chose) per cable: the FDB entries. */
  fdbDestinations: string[];
  /** Remote subnet -> the remote gateway's VTEP. */
  routes: Array<{ dst: string; gateway: string }>;
}

/** Everything the cables to these remotes need besides the device itself; a subnet two remotes claim goes to the first. */
export function planVxlanCables(endpoints: readonly CableEndpoint[]): VxlanCablePlan {
  const fdb = new Set<string>();
  const routes = new Map<string, string>();
  for (const endpoint of endpoints) {
    fdb.add(endpoint.address);
    const vtep = cableVtep(endpoint.privateIp);
    for (const subnet of endpoint.subnets) if (!routes.has(subnet)) routes.set(subnet, vtep);
  }
  return { fdbDestinations: [...fdb].sort(), routes: [...routes].map(([dst, gateway]) => ({ dst, gateway })).sort((a, b) => a.dst.localeCompare(b.dst)) };
}
