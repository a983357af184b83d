/**
 * The MTU of a cable's device from the underlay's (pure): the underlay MTU less what the cable adds
 * to every packet, so inner packets that fit the device never need fragmenting on the WAN (Submariner's
 * VXLAN cable uses the raw underlay MTU, issue #2887). The route agent clamps TCP MSS to the path.
 */

/** What each cable adds to an inner IPv4 packet, worst case. */
export const CABLE_OVERHEAD_BYTES = {
  /** Outer IPv6 header (40) + UDP (8) + WireGuard data header (16) + Poly1305 tag (16): wg-quick's 80, safe on an IPv6 underlay too. */
  wireguard: 80,
  /** Outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14). */
  vxlan: 50,
} as const;

/** The smallest MTU an IPv4 link must carry. */
const MIN_IPV4_MTU = 576;

export function cableMtu(backend: keyof typeof CABLE_OVERHEAD_BYTES, underlayMtu: number): number {
  if (!Number.isInteger(underlayMtu) || underlayMtu <= 0) throw new RangeError(`underlay MTU must be a positive integer, got ${underlayMtu}`);
  const mtu = underlayMtu - CABLE_OVERHEAD_BYTES[backend];
  if (mtu < MIN_IPV4_MTU) throw new RangeError(`the underlay MTU ${underlayMtu} leaves ${mtu} bytes for the ${backend} cable; IPv4 needs at least ${MIN_IPV4_MTU}`);
  return mtu;
}
