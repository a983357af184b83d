/**
 * The source address for traffic the gateway itself sends into a cable that routes by device
 * (WireGuard, VXLAN): its address inside one of the local pod ranges (the CNI interface's), which
 * the remote side accepts as the local cluster's. Pure: the addresses are passed in.
 */
import { containsAddress, parseCidr, parseIpv4 } from '../model/cidr.ts';

export function cableSourceAddress(podCidrs: readonly string[], addresses: readonly string[]): string | undefined {
  const ranges = podCidrs.map((c) => parseCidr(c)).flatMap((p) => (p.ok ? [p.cidr] : []));
  return addresses.find((text) => {
    const address = parseIpv4(text);
    return address.ok && ranges.some((range) => containsAddress(range, address.address));
  });
}
