/**
 * Trust in the local Endpoint. Every node sends its remote-bound traffic over VXLAN to the address the
 * local Endpoint names, so an Endpoint with the local cluster_id (a reinstall leftover, a broker copy
 * from a misbehaving cluster, a spoof) must not redirect it anywhere. It is trusted only when its
 * hostname names a Node of this cluster that carries the gateway label, and the private IP seaway would
 * use is one of that Node's addresses. Decided from the snapshot alone, so every node agrees.
 */
import { clip } from './cidr.ts';
import type { EndpointSpec } from './endpoint.ts';
import type { NodeObject } from './snapshot.ts';
import { compareText } from './compare.ts';

/** The label Submariner's gateway nodes carry (value "true"). */
export const GATEWAY_LABEL = 'submariner.io/gateway';

export interface NodeIndex {
  byName: ReadonlyMap<string, NodeObject>;
  /** Nodes by each of their status addresses (Hostname-type entries included), for os.Hostname() that is no node name. */
  byAddress: ReadonlyMap<string, readonly NodeObject[]>;
}

export function indexNodes(nodes: readonly NodeObject[]): NodeIndex {
  const byName = new Map<string, NodeObject>();
  const byAddress = new Map<string, NodeObject[]>();
  for (const node of nodes) {
    byName.set(node.name, node);
    for (const address of node.addresses) {
      const list = byAddress.get(address);
      if (list === undefined) byAddress.set(address, [node]);
      else if (!list.includes(node)) list.push(node);
    }
  }
  return { byName, byAddress };
}

export type LocalTrust = { ok: true; node: NodeObject } | { ok: false; message: string };

/**
 * Submariner publishes os.Hostname() as the hostname, which is usually the Node's name; where it is
 * not, the kubelet lists it as the Node's Hostname address. A Node found by name is asked first.
 */
export function trustLocalEndpoint(spec: EndpointSpec, nodes: NodeIndex): LocalTrust {
  const byName = nodes.byName.get(spec.hostname);
  const candidates = [
    ...(byName ? [byName] : []),
    ...[...(nodes.byAddress.get(spec.hostname) ?? [])].filter((n) => n !== byName).sort((a, b) => compareText(a.name, b.name)),
  ];
  if (candidates.length === 0) {
    return { ok: false, message: `hostname "${clip(spec.hostname)}" names no Node of this cluster; the local Endpoint must name its gateway node` };
  }
  for (const node of candidates) {
    if (node.labels[GATEWAY_LABEL] === 'true' && node.addresses.includes(spec.privateIp)) return { ok: true, node };
  }
  const node = candidates[0] as NodeObject;
  const named = node.name === spec.hostname ? `Node ${node.name}` : `Node ${node.name} (hostname "${clip(spec.hostname)}")`;
  if (node.labels[GATEWAY_LABEL] !== 'true') {
    return { ok: false, message: `${named} does not carry the label ${GATEWAY_LABEL}=true, so it is not a gateway node` };
  }
  const shown = node.addresses.slice(0, 4).map((a) => clip(a)).join(', ') + (node.addresses.length > 4 ? ', ...' : '');
  return { ok: false, message: `private IP ${spec.privateIp} is not an address of ${named} (${node.addresses.length === 0 ? 'it lists none' : `its addresses: ${shown}`})` };
}
