/**
 * Nodes whose VTEP addresses collide. vx-submariner's address is the node IP with its first octet
 * replaced by 240 (Submariner's convention, kept for compatibility), so nodes that differ only in the
 * first octet (10.1.2.3 and 172.1.2.3) get the same 240.1.2.3: the gateway's replies to one of them
 * reach whichever answers ARP first. seaway cannot renumber them without breaking compatibility, so
 * it reports them, the same way on every node (sorted, from the snapshot alone).
 */
import { formatIpv4, parseIpv4, vtepIp } from './cidr.ts';
import type { NodeObject } from './snapshot.ts';
import { compareText } from './compare.ts';

export interface VtepCollision {
  /** The shared VTEP address, e.g. "240.1.2.3". */
  vtep: string;
  /** Two or more, sorted by name. */
  nodes: Array<{ name: string; ip: string }>;
}

/** Judged by each Node's InternalIP, the address the gateway's FDB entries use too; Nodes without one cannot collide. */
export function vtepCollisions(nodes: readonly NodeObject[]): VtepCollision[] {
  const byVtep = new Map<number, Array<{ name: string; ip: string }>>();
  for (const node of nodes) {
    if (node.internalIP === null) continue;
    const parsed = parseIpv4(node.internalIP);
    if (!parsed.ok) continue;
    const vtep = vtepIp(parsed.address);
    const group = byVtep.get(vtep);
    const entry = { name: node.name, ip: node.internalIP };
    if (group === undefined) byVtep.set(vtep, [entry]);
    else group.push(entry);
  }
  return [...byVtep.entries()]
    .filter(([, group]) => group.length > 1)
    .sort((a, b) => a[0] - b[0])
    .map(([vtep, group]) => ({ vtep: formatIpv4(vtep), nodes: group.sort((a, b) => compareText(a.name, b.name)) }));
}

export function describeVtepCollision(collision: VtepCollision): string {
  const who = collision.nodes.map((n) => `${n.name} (${n.ip})`).join(', ');
  return `Nodes ${who} share the VTEP address ${collision.vtep} (the node IP with its first octet replaced by 240): VXLAN replies between them and the gateway are ambiguous; give them node IPs that differ beyond the first octet`;
}
