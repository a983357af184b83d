/**
 * Node-local safety: a remote subnet every node accepted may still collide with something only this
 * node has (a docker0 bridge, a second NIC's network, a VPN). Such a route is refused on this node
 * alone, and the refusal is output for the node's condition and metric, so the difference from the
 * cluster-wide verdict (and its Events) is visible instead of silent. It never rejects the Endpoint:
 * that verdict must not depend on which node judges it.
 */
import { compareCidrs, formatCidr, parseCidr, type Cidr } from '../model/cidr.ts';
import { ClaimIndex } from '../model/claim-index.ts';
import { endpointRef, type AcceptedEndpoint, type EndpointRef, type NodeLocalSplit } from '../model/endpoint-set.ts';
import { compareText } from '../model/compare.ts';

export type RefusalReason = 'overlaps-node-network';

export interface RefusedRoute {
  clusterId: string;
  endpoint: EndpointRef;
  /** Canonical CIDR text. */
  subnet: string;
  reason: RefusalReason;
  message: string;
}

export interface RoutedSubnet {
  cidr: Cidr;
  text: string;
}

/**
 * Splits the accepted remote subnets into those this node routes (sorted by address) and those it
 * refuses (sorted by subnet, then cluster). `networks` are this node's interface networks as
 * NodeFacts gives them (host bits ignored); IPv6 or unreadable entries are the kernel's and are skipped.
 * `memo` keeps each remote's split while its subnets (the validated spec's, so their texts too) and
 * the node's networks stay the same: a pass after one Endpoint's change splits that one, not 10,000
 * subnets again. A refusal's Endpoint and cluster are the remote's of this pass.
 */
export function refuseOnThisNode(remotes: readonly AcceptedEndpoint[], networks: readonly string[], memo?: WeakMap<readonly Cidr[], NodeLocalSplit>): { routed: RoutedSubnet[]; refused: RefusedRoute[] } {
  const networksKey = networks.join(' ');
  let own: ClaimIndex<string> | undefined;
  const routed: RoutedSubnet[] = [];
  const refused: Array<RefusedRoute & { cidr: Cidr }> = [];
  for (const remote of remotes) {
    let split = memo?.get(remote.subnets);
    if (split === undefined || split.networks !== networksKey) {
      own ??= networkIndex(networks);
      split = splitRemote(remote, own, networksKey);
      memo?.set(remote.subnets, split);
    }
    for (let i = 0; i < split.routed.length; i++) routed.push(split.routed[i]!);
    for (let i = 0; i < split.refused.length; i++) {
      const { cidr, text, clash } = split.refused[i]!;
      refused.push({
        cidr,
        clusterId: remote.spec.clusterId,
        endpoint: endpointRef(remote.object),
        subnet: text,
        reason: 'overlaps-node-network',
        message: `subnet ${text} of cluster "${remote.spec.clusterId}" overlaps this node's network ${clash}; not routed on this node`,
      });
    }
  }
  routed.sort((a, b) => compareCidrs(a.cidr, b.cidr));
  refused.sort((a, b) => compareCidrs(a.cidr, b.cidr) || compareText(a.clusterId, b.clusterId));
  return { routed, refused: refused.map(({ cidr: _cidr, ...rest }) => rest) };
}

function splitRemote(remote: AcceptedEndpoint, own: ClaimIndex<string>, networks: string): NodeLocalSplit {
  const routed: RoutedSubnet[] = [];
  const refused: Array<{ cidr: Cidr; text: string; clash: string }> = [];
  remote.subnets.forEach((cidr, i) => {
    const text = remote.spec.subnets[i] ?? formatCidr(cidr);
    const clash = own.overlapping(cidr);
    if (clash === undefined) routed.push({ cidr, text });
    else refused.push({ cidr, text, clash: clash.owner });
  });
  return { networks, routed, refused };
}

/**
 * Of `subnets` (canonical CIDR texts carried over from earlier passes, e.g. a remote cluster's in its
 * fail-static grace), those that overlap none of this node's networks: memory must not bring back a
 * route this node refuses. Unreadable texts are dropped.
 */
export function offNodeNetworks(subnets: readonly string[], networks: readonly string[]): string[] {
  const own = networkIndex(networks);
  return subnets.filter((text) => {
    const parsed = parseCidr(text);
    return parsed.ok && own.overlapping(parsed.cidr) === undefined;
  });
}

/** This node's networks by CIDR, each named by its canonical text; added in address order so a message names the same one every time. */
function networkIndex(networks: readonly string[]): ClaimIndex<string> {
  const own = new ClaimIndex<string>();
  const parsed = networks.flatMap((text) => {
    const result = parseCidr(text);
    return result.ok ? [result] : [];
  }).sort((a, b) => compareCidrs(a.cidr, b.cidr));
  for (const network of parsed) own.add(network.cidr, network.text);
  return own;
}
