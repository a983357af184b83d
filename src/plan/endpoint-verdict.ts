/**
 * The planner's one call for everything it must decide about Endpoints (pure):
 * - the cluster-wide verdict (model/endpoint-set.ts), from the snapshot and configuration only, so it
 *   is the same on every node and matches the Events one node posts;
 * - the local gateway in use: the trusted local Endpoint of the snapshot, else the last trusted one
 *   the caller carried over from the previous pass (`lastGoodLocal`), so a spoof or a gap during a
 *   gateway takeover never moves or drops VXLAN; with who published it (seaway's gateway or
 *   Submariner's), which decides whether the gateway's table 150 yields to seaway's cable;
 * - what this node refuses on its own (node-local-refusals.ts), kept apart from the verdict;
 * - notes: per-Endpoint input notes, the held gateway, VTEP collisions.
 */
import { DEFAULTS, type RunConfig } from '../config.ts';
import { parseIpv4 } from '../model/cidr.ts';
import { endpointValidationContext, type EndpointNoteCode } from '../model/endpoint.ts';
import {
  buildEndpointSet, endpointRef, type AcceptedEndpoint, type DuplicateEndpoint, type EndpointRef, type PlanMemo, type RejectedEndpoint, type TrustedLocal,
} from '../model/endpoint-set.ts';
import type { NodeFacts } from '../model/node-facts.ts';
import type { EndpointObject, Snapshot } from '../model/snapshot.ts';
import { describeVtepCollision, vtepCollisions } from '../model/vtep-collisions.ts';
import { FENCING_ANNOTATION } from './local-endpoint-object.ts';
import { refuseOnThisNode, type RefusedRoute, type RoutedSubnet } from './node-local-refusals.ts';

export type VerdictConfig = Pick<RunConfig, 'clusterId' | 'podCidrs' | 'serviceCidrs' | 'minPrefixLength' | 'maxSubnetsPerEndpoint'>
  & Partial<Pick<RunConfig, 'maxRemoteSubnets' | 'apiServerAddresses'>>;

/**
 * The local gateway as the planner uses it: plain data, so the caller can keep it between passes
 * (plan.lastGoodLocal in, the next pass's lastGoodLocal out).
 */
export interface LocalGateway {
  endpoint: EndpointRef;
  /** Name of the gateway's Node. */
  node: string;
  /** Where the other nodes send VXLAN: the Endpoint's IPv4 private IP, an address of that Node. */
  privateIp: string;
  /**
   * Whose gateway published the Endpoint: 'seaway' when it carries seaway's fencing annotation
   * (`seaway.io/lease-transitions`), which only seaway's gateway writes; else 'submariner'. With
   * seaway's cable (charon's routes in table 220) the gateway plans no table 150 routes.
   */
  publisher: GatewayPublisher;
}

export type GatewayPublisher = 'seaway' | 'submariner';

/** The annotation's presence, whatever its value: Submariner never writes a `seaway.io/` key. */
export function publisherOf(object: Pick<EndpointObject, 'annotations'>): GatewayPublisher {
  return Object.hasOwn(object.annotations, FENCING_ANNOTATION) ? 'seaway' : 'submariner';
}

export type VerdictNoteCode = EndpointNoteCode | 'local-endpoint-held' | 'vtep-collision';

export interface VerdictNote {
  code: VerdictNoteCode;
  message: string;
}

export interface EndpointVerdict {
  /** The gateway in use: trusted now, or held from `lastGoodLocal`; null when there is neither. */
  local: LocalGateway | null;
  /** True when `local` is the held one (the snapshot has no trusted local Endpoint). */
  localHeld: boolean;
  /** Remote Endpoints accepted cluster-wide, sorted by cluster id. */
  remotes: AcceptedEndpoint[];
  /** Accepted subnets this node routes, sorted by address. */
  routed: RoutedSubnet[];
  /** Accepted subnets this node alone refuses, with the reason. */
  refusedHere: RefusedRoute[];
  rejected: RejectedEndpoint[];
  duplicates: DuplicateEndpoint[];
  notes: VerdictNote[];
}

function localGatewayOf(local: TrustedLocal): LocalGateway {
  return { endpoint: endpointRef(local.object), node: local.node, privateIp: local.spec.privateIp, publisher: publisherOf(local.object) };
}

/**
 * A carried-over gateway is the caller's memory, kept as it was (its publisher too); one that does
 * not even hold an IPv4 address, or names no known publisher, is dropped, not trusted.
 */
function usableHeld(held: LocalGateway | null): LocalGateway | null {
  return held !== null && parseIpv4(held.privateIp).ok && held.node !== '' && (held.publisher === 'seaway' || held.publisher === 'submariner') ? held : null;
}

export function judgeEndpoints(
  snapshot: Snapshot, self: Pick<NodeFacts, 'networks'>, config: VerdictConfig, lastGoodLocal: LocalGateway | null,
  memo?: PlanMemo,
): EndpointVerdict {
  const set = buildEndpointSet(snapshot, {
    ...endpointValidationContext({
      localClusterId: config.clusterId,
      podCidrs: config.podCidrs,
      serviceCidrs: config.serviceCidrs,
      minPrefixLength: config.minPrefixLength,
      maxSubnets: config.maxSubnetsPerEndpoint,
    }),
    apiServerAddresses: config.apiServerAddresses ?? [],
    maxRemoteSubnets: config.maxRemoteSubnets ?? DEFAULTS.maxRemoteSubnets,
    ...(memo ? { memo } : {}),
  });
  const notes: VerdictNote[] = [];
  for (const accepted of [...(set.local ? [set.local] : []), ...set.remotes]) {
    const name = `${accepted.object.namespace}/${accepted.object.name}`;
    for (const note of accepted.notes) notes.push({ code: note.code, message: `Endpoint ${name}: ${note.message}` });
  }

  let local: LocalGateway | null = set.local ? localGatewayOf(set.local) : null;
  const held = local === null ? usableHeld(lastGoodLocal) : null;
  if (held !== null) {
    local = held;
    notes.push({
      code: 'local-endpoint-held',
      message: `no trusted Endpoint of the local cluster "${config.clusterId}" now; keeping the last trusted one, ${held.endpoint.namespace}/${held.endpoint.name} (gateway Node ${held.node}, ${held.privateIp})`,
    });
  }

  let collisions = memo?.vtepCollisions.get(snapshot.nodes);
  if (collisions === undefined) {
    collisions = vtepCollisions(snapshot.nodes);
    memo?.vtepCollisions.set(snapshot.nodes, collisions);
  }
  for (const collision of collisions) notes.push({ code: 'vtep-collision', message: describeVtepCollision(collision) });
  const { routed, refused } = refuseOnThisNode(set.remotes, self.networks, memo?.nodeLocal);
  return {
    local, localHeld: held !== null, remotes: set.remotes, routed, refusedHere: refused,
    rejected: set.rejected, duplicates: set.duplicates, notes,
  };
}
