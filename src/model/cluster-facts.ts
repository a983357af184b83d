/**
 * Addresses no remote subnet may cover, from cluster-wide facts only (the snapshot and configuration,
 * never this node's interfaces), so every node reaches the same verdict:
 * - every address of every Node: a remote subnet over a Node address sends the kubelet's, the CNI's
 *   and VXLAN's own traffic to that node into vx-submariner, which cannot carry it (review H2);
 * - the API server's addresses: routing them into a tunnel cuts every node off the control plane;
 * - the trusted local Endpoint's private and public addresses: the tunnels' own endpoints (Submariner
 *   issue #1106: tunnel packets routed with src = CNI IP).
 * Remote Endpoints' own addresses are judged with the overlaps (endpoint-set.ts), by precedence, so a
 * newcomer cannot get an established cluster rejected by naming an address inside its subnets.
 */
import { clip, parseIpv4 } from './cidr.ts';
import type { NodeObject } from './snapshot.ts';
import { compareText } from './compare.ts';

export type ProtectedKind = 'node' | 'api-server' | 'local-endpoint';

export interface ProtectedAddress {
  address: number;
  text: string;
  kind: ProtectedKind;
  /** For messages: "an address of Node east-worker". */
  label: string;
}

/** Every IPv4 address in every Node's status.addresses (Hostname entries and IPv6 are no routing destination here). */
export function nodeAddresses(nodes: readonly NodeObject[]): ProtectedAddress[] {
  const out: ProtectedAddress[] = [];
  for (const node of nodes) {
    for (const text of node.addresses) {
      const parsed = parseIpv4(text);
      if (parsed.ok) out.push({ address: parsed.address, text, kind: 'node', label: `an address of Node ${clip(node.name)}` });
    }
  }
  return out;
}

/** The API server's IPv4 addresses as configured; host names cannot be judged without resolving them and are left out. */
export function apiServerProtected(texts: readonly string[]): ProtectedAddress[] {
  return texts.flatMap((text) => {
    const parsed = parseIpv4(text);
    return parsed.ok ? [{ address: parsed.address, text, kind: 'api-server' as const, label: 'the API server address' }] : [];
  });
}

export function localEndpointAddresses(endpointName: string, privateIps: readonly string[], publicIps: readonly string[]): ProtectedAddress[] {
  const out: ProtectedAddress[] = [];
  const add = (text: string, what: string) => {
    const parsed = parseIpv4(text);
    if (parsed.ok) out.push({ address: parsed.address, text, kind: 'local-endpoint', label: `the ${what} IP of the local Endpoint ${endpointName}` });
  };
  for (const ip of privateIps) add(ip, 'private');
  for (const ip of publicIps) add(ip, 'public');
  return out;
}

// The most telling name first: the API server is usually on a Node too, and the local Endpoint's private IP always is.
const KIND_ORDER: Record<ProtectedKind, number> = { 'api-server': 0, node: 1, 'local-endpoint': 2 };

/**
 * Sorted by address, then kind and label, so the address a message names is the same on every node
 * whatever order the informers listed the Nodes in.
 */
export function sortProtected(addresses: ProtectedAddress[]): ProtectedAddress[] {
  return addresses.sort((a, b) => a.address - b.address || KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || compareText(a.label, b.label));
}
