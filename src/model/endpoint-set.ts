/**
 * Rules across Endpoints, decided from the snapshot alone so that every node reaches the same verdict
 * on every Endpoint: one Endpoint per cluster, trust in the local one, addresses no remote subnet may
 * cover, overlaps between remote clusters, and the total budget of remote subnets.
 */
import { compareCidrs, containsAddress, formatCidr, parseIpv4, type Cidr } from './cidr.ts';
import { AddressIndex } from './address-index.ts';
import { ClaimIndex, noneOverlap } from './claim-index.ts';
import { clusterIdOf, clusterRanks, compareRanks, explainPrecedence, type ClusterRank } from './cluster-precedence.ts';
import { reservations, type Reservation } from './cluster-reservations.ts';
import {
  apiServerProtected, localEndpointAddresses, nodeAddresses, sortProtected, type ProtectedAddress,
} from './cluster-facts.ts';
import {
  readClusterId, validateEndpoint, type EndpointNote, type EndpointRejectReason, type EndpointSpec, type EndpointValidation, type EndpointValidationContext,
} from './endpoint.ts';
import { indexNodes, trustLocalEndpoint, type NodeIndex } from './local-endpoint.ts';
import type { ClusterObject, EndpointObject, NodeObject } from './snapshot.ts';
import type { DesiredFdbEntry, DesiredRoute } from './desired-state.ts';
import type { VtepCollision } from './vtep-collisions.ts';
import { compareText } from './compare.ts';

export interface EndpointRef {
  name: string;
  namespace: string;
  uid: string;
  /** Lets reporters log a rejection once per change of the object. */
  resourceVersion: string;
}

export interface RejectedEndpoint {
  endpoint: EndpointRef;
  /** Present when the cluster id could be read. */
  cluster?: string;
  reason: EndpointRejectReason;
  message: string;
}

/** An Endpoint that lost to another one of the same cluster: a fault to report (e.g. after an interrupted reinstall). */
export interface DuplicateEndpoint {
  endpoint: EndpointRef;
  cluster: string;
  winner: EndpointRef;
}

export interface AcceptedEndpoint {
  object: EndpointObject;
  spec: EndpointSpec;
  /** Parsed remote subnets (empty for the local Endpoint); subnets[i] is spec.subnets[i]. */
  subnets: Cidr[];
  /** Accepted but noteworthy input, e.g. host bits normalised, an IPv6 subnet skipped. */
  notes: EndpointNote[];
}

export interface TrustedLocal extends AcceptedEndpoint {
  /** The Node named by the Endpoint's hostname (by name or by its Hostname address). */
  node: string;
}

export interface EndpointSet {
  /** The newest trusted Endpoint of the local cluster; null when the snapshot has none. */
  local: TrustedLocal | null;
  /** Accepted remote Endpoints, sorted by cluster id. */
  remotes: AcceptedEndpoint[];
  /** Sorted by namespace/name. */
  rejected: RejectedEndpoint[];
  /** Sorted by namespace/name. */
  duplicates: DuplicateEndpoint[];
}

/** What the cluster-wide checks need besides the per-object context. */
export interface EndpointSetContext extends EndpointValidationContext {
  /** The API server's addresses (kubeconfig server, KUBERNETES_SERVICE_HOST); non-IPv4 entries are ignored. */
  apiServerAddresses: readonly string[];
  /** Most remote subnets routed in total; Endpoints past it are rejected whole, in precedence order. */
  maxRemoteSubnets: number;
  memo?: PlanMemo;
}

/**
 * What the endpoint set takes from the Nodes alone; `guarded` also holds the few other protected
 * addresses (the API server's, the local Endpoint's) it was built with.
 */
interface NodeDerived { index: NodeIndex; addresses: readonly ProtectedAddress[]; guarded?: { others: string; index: AddressIndex<ProtectedAddress> } }

/** A note on a Node the gateway makes no FDB entry for. */
export interface NodeNote { code: 'node-without-internal-ip'; message: string }

/**
 * What a planner keeps from one pass to the next, by the identity of the inputs it was computed
 * from: an Endpoint the informer did not change keeps its spec object, and a snapshot whose Nodes
 * did not change keeps their list, so 1,000 unchanged Endpoints are not parsed again, nor 5,000
 * Nodes indexed again, on every pass. Valid for one configuration only: one per planner.
 */
export interface PlanMemo {
  readonly validated: WeakMap<object, EndpointValidation>;
  readonly byNodes: WeakMap<readonly NodeObject[], NodeDerived>;
  /**
   * Routes of recent plans by destination: a route that comes out the same is that same object, so
   * everything downstream (its description, the diff against what is programmed) can tell it by identity.
   * All have `routeShape`'s fields (all but the destination): another shape starts the map anew.
   */
  routes: Map<string, DesiredRoute>;
  routeShape: Omit<DesiredRoute, 'dst'> | null;
  /** The Nodes' VTEP collisions, by their list. */
  readonly vtepCollisions: WeakMap<readonly NodeObject[], VtepCollision[]>;
  /** A remote Endpoint's own addresses (private and public IPs), parsed, by its validated spec. */
  readonly ownAddresses: WeakMap<EndpointSpec, OwnAddress[]>;
  /** Who may send this node VXLAN, by the Nodes' list, for the gateway's and this node's address it was made with. */
  readonly vxlanSources: WeakMap<readonly NodeObject[], { gatewayIp: string; selfIp: string; sources: string[] }>;
  /** The gateway's FDB entries (one per other Node) and the notes on Nodes without one, by the Nodes' list, for the node it was made on. */
  readonly fdb: WeakMap<readonly NodeObject[], { selfName: string; selfIp: number; entries: DesiredFdbEntry[]; notes: NodeNote[] }>;
  /** A remote's subnets split against this node's networks (node-local-refusals.ts), by its parsed subnets. */
  readonly nodeLocal: WeakMap<readonly Cidr[], NodeLocalSplit>;
  /**
   * A remote cluster as a plan lists it, by its Endpoint object: the same entry, subnets list and all,
   * while the Endpoint is unchanged, so what is worked out from it (its health-check target) can be
   * kept by it, and a plan makes no copy of 1,000 Endpoints' subnets.
   */
  readonly remoteClusters: WeakMap<EndpointObject, RemoteCluster>;
}

/** A remote cluster whose subnets are routed, as a plan lists it. */
export interface RemoteCluster {
  clusterId: string;
  endpoint: EndpointRef;
  subnets: string[];
  /** The accepted Endpoint's spec as validated (what the RouteAgent status lists for it). */
  spec: EndpointSpec;
}

/** One remote's subnets this node routes and those it refuses, for the node's networks (joined). */
export interface NodeLocalSplit {
  networks: string;
  routed: ReadonlyArray<{ cidr: Cidr; text: string }>;
  refused: ReadonlyArray<{ cidr: Cidr; text: string; clash: string }>;
}

export const newPlanMemo = (): PlanMemo => ({ validated: new WeakMap(), byNodes: new WeakMap(), routes: new Map(), routeShape: null, vtepCollisions: new WeakMap(), vxlanSources: new WeakMap(), fdb: new WeakMap(), ownAddresses: new WeakMap(), nodeLocal: new WeakMap(), remoteClusters: new WeakMap() });

function validateCached(spec: unknown, ctx: EndpointSetContext): EndpointValidation {
  if (ctx.memo === undefined || typeof spec !== 'object' || spec === null) return validateEndpoint(spec, ctx);
  let result = ctx.memo.validated.get(spec);
  if (result === undefined) ctx.memo.validated.set(spec, (result = validateEndpoint(spec, ctx)));
  return result;
}

/**
 * Every protected address in sortProtected's order (so a message names the same one on every node). Kept with the Nodes' derived facts while `others` are the same: 5,000
 * Nodes' addresses are not indexed again on every plan.
 */
function guardedIndex(derived: NodeDerived, others: ProtectedAddress[]): AddressIndex<ProtectedAddress> {
  const key = others.map((p) => `${p.kind} ${p.text} ${p.label}`).join('\n');
  if (derived.guarded?.others === key) return derived.guarded.index;
  const index = new AddressIndex(sortProtected([...derived.addresses, ...others]).map((p) => ({ address: p.address, owner: p })));
  derived.guarded = { others: key, index };
  return index;
}

function fromNodes(nodes: readonly NodeObject[], ctx: EndpointSetContext): NodeDerived {
  const known = ctx.memo?.byNodes.get(nodes);
  if (known !== undefined) return known;
  const derived = { index: indexNodes(nodes), addresses: nodeAddresses(nodes) };
  ctx.memo?.byNodes.set(nodes, derived);
  return derived;
}

export interface EndpointSetInput {
  endpoints: readonly EndpointObject[];
  clusters: readonly ClusterObject[];
  nodes: readonly NodeObject[];
}

export function endpointRef(object: EndpointObject): EndpointRef {
  return { name: object.name, namespace: object.namespace, uid: object.uid, resourceVersion: object.resourceVersion };
}

function creationTime(object: EndpointObject): number {
  const time = Date.parse(object.creationTimestamp);
  // An unreadable timestamp counts as oldest, so it never displaces a well-formed object.
  return Number.isNaN(time) ? Number.NEGATIVE_INFINITY : time;
}

/**
 * Total order, oldest first: creation time, then name, namespace and uid. Timestamps have one-second
 * resolution, so ties are real; breaking them by name makes every node pick the same winner.
 */
function compareAge(a: EndpointObject, b: EndpointObject): number {
  const ta = creationTime(a);
  const tb = creationTime(b);
  if (ta !== tb) return ta < tb ? -1 : 1;
  return compareText(a.name, b.name) || compareText(a.namespace, b.namespace) || compareText(a.uid, b.uid);
}

function compareRefs(a: EndpointRef, b: EndpointRef): number {
  return compareText(a.namespace, b.namespace) || compareText(a.name, b.name) || compareText(a.uid, b.uid);
}

interface Grouping {
  /** Per cluster id its Endpoints, oldest first. */
  byCluster: Map<string, EndpointObject[]>;
  /** Endpoints whose cluster id cannot even be read. */
  unreadable: RejectedEndpoint[];
}

export function groupByCluster(endpoints: readonly EndpointObject[]): Grouping {
  const byCluster = new Map<string, EndpointObject[]>();
  const unreadable: RejectedEndpoint[] = [];
  for (const object of endpoints) {
    const read = readClusterId(object.spec);
    if (!read.ok) {
      unreadable.push({ endpoint: endpointRef(object), reason: 'malformed', message: read.message });
      continue;
    }
    const group = byCluster.get(read.clusterId);
    if (group) group.push(object);
    else byCluster.set(read.clusterId, [object]);
  }
  for (const group of byCluster.values()) group.sort(compareAge);
  return { byCluster, unreadable };
}

function duplicatesOf(losers: readonly EndpointObject[], cluster: string, winner: EndpointObject): DuplicateEndpoint[] {
  return losers.map((loser) => ({ endpoint: endpointRef(loser), cluster, winner: endpointRef(winner) }));
}

/**
 * The local cluster's Endpoint: the newest one that validates and is trusted (local-endpoint.ts).
 * Newer ones that fail are rejected, so a spoof never displaces the real gateway; older ones are
 * duplicates of the one chosen. When none is trusted, each is rejected with its own reason.
 */
function chooseLocal(group: readonly EndpointObject[], ctx: EndpointSetContext, nodes: readonly NodeObject[]) {
  const rejected: RejectedEndpoint[] = [];
  const { index } = fromNodes(nodes, ctx);
  for (let i = group.length - 1; i >= 0; i--) {
    const object = group[i] as EndpointObject;
    const result = validateCached(object.spec, ctx);
    if (!result.ok) {
      rejected.push({ endpoint: endpointRef(object), cluster: ctx.localClusterId, reason: result.reason, message: result.message });
      continue;
    }
    const trust = trustLocalEndpoint(result.endpoint, index);
    if (!trust.ok) {
      rejected.push({ endpoint: endpointRef(object), cluster: ctx.localClusterId, reason: 'untrusted-local-endpoint', message: `${trust.message}; it is ignored and the gateway stays the one last trusted` });
      continue;
    }
    const local: TrustedLocal = { object, spec: result.endpoint, subnets: [], notes: result.notes, node: trust.node.name };
    return { local, rejected, duplicates: duplicatesOf(group.slice(0, i), ctx.localClusterId, object) };
  }
  return { local: null, rejected, duplicates: [] };
}

/**
 * Selects (one per cluster), validates each, and judges the remote ones against each other and the
 * cluster-wide facts. The newest remote Endpoint of a cluster is judged even when invalid: it is the
 * cluster's current claim, and falling back to an older one would silently route superseded subnets.
 */
export function buildEndpointSet(input: EndpointSetInput, ctx: EndpointSetContext): EndpointSet {
  const { byCluster, unreadable } = groupByCluster(input.endpoints);
  const rejected: RejectedEndpoint[] = [...unreadable];
  const duplicates: DuplicateEndpoint[] = [];

  const localGroup = byCluster.get(ctx.localClusterId) ?? [];
  const chosen = chooseLocal(localGroup, ctx, input.nodes);
  rejected.push(...chosen.rejected);
  duplicates.push(...chosen.duplicates);

  const candidates: AcceptedEndpoint[] = [];
  for (const [clusterId, group] of byCluster) {
    if (clusterId === ctx.localClusterId) continue;
    const winner = group[group.length - 1] as EndpointObject;
    duplicates.push(...duplicatesOf(group.slice(0, -1), clusterId, winner));
    const result = validateCached(winner.spec, ctx);
    if (!result.ok) {
      rejected.push({ endpoint: endpointRef(winner), cluster: clusterId, reason: result.reason, message: result.message });
      continue;
    }
    candidates.push({ object: winner, spec: result.endpoint, subnets: result.subnets, notes: result.notes });
  }

  const guarded = guardedIndex(fromNodes(input.nodes, ctx), [
    ...apiServerProtected(ctx.apiServerAddresses),
    ...(chosen.local ? localEndpointAddresses(`${chosen.local.object.namespace}/${chosen.local.object.name}`, chosen.local.spec.privateIps, chosen.local.spec.publicIps) : []),
  ]);
  const judged = judgeRemotes(candidates, {
    guarded,
    ranks: clusterRanks(input.clusters),
    reservations: reservations(input.clusters, clusterIdOf, new Set(byCluster.keys()), ctx.localClusterId),
    maxRemoteSubnets: ctx.maxRemoteSubnets,
    ...(ctx.memo ? { memo: ctx.memo } : {}),
  });
  rejected.push(...judged.rejected);
  rejected.sort((a, b) => compareRefs(a.endpoint, b.endpoint));
  duplicates.sort((a, b) => compareRefs(a.endpoint, b.endpoint));
  return { local: chosen.local, remotes: judged.accepted, rejected, duplicates };
}

interface Owner {
  remote: AcceptedEndpoint;
  rank: ClusterRank;
}

/** A cluster's claim: its Endpoint, or (while it has none) its Cluster object's reservation. */
type Claimant = Owner | { reservation: Reservation; rank: ClusterRank };

type PointOwner = { owner: Owner; what: string };

const PROTECTED_REASON = { node: 'covers-node-address', 'api-server': 'covers-api-server', 'local-endpoint': 'covers-endpoint-address' } as const;

/**
 * Greedy in precedence order (cluster-precedence.ts): a remote Endpoint is accepted unless one of its
 * subnets covers a protected address or its own private or public IP, overlaps a subnet of an Endpoint
 * accepted before it (or a reservation of a cluster before it that has no Endpoint now), or covers such
 * an Endpoint's addresses, or its own addresses lie in such a subnet; or unless its subnets would take
 * the total past the budget. An Endpoint rejected for any of these claims nothing, so a cluster that
 * only clashes with a rejected one is kept. Reservations are never routed and use none of the budget.
 */
function judgeRemotes(candidates: readonly AcceptedEndpoint[], facts: {
  /** The protected addresses. */
  guarded: AddressIndex<ProtectedAddress>;
  ranks: (clusterId: string) => ClusterRank;
  reservations?: readonly Reservation[];
  maxRemoteSubnets: number;
  memo?: PlanMemo;
}): { accepted: AcceptedEndpoint[]; rejected: RejectedEndpoint[] } {
  const { guarded } = facts;
  const ownOf = (remote: AcceptedEndpoint): OwnAddress[] => {
    let own = facts.memo?.ownAddresses.get(remote.spec);
    if (own === undefined) {
      own = ownAddresses(remote);
      facts.memo?.ownAddresses.set(remote.spec, own);
    }
    return own;
  };
  const claimants: Claimant[] = [
    ...candidates.map((remote) => ({ remote, rank: facts.ranks(remote.spec.clusterId) })),
    ...(facts.reservations ?? []).map((reservation) => ({ reservation, rank: facts.ranks(reservation.clusterId) })),
  ].sort((a, b) => compareRanks(a.rank, b.rank));
  // Usually no claim touches another's: then none can clash, whatever the order and whichever are
  // accepted, and the claims are not indexed (two maps of 10,000 claims per plan otherwise).
  const claims: Claims = noneOverlap(everyClaim(claimants, ownOf)) ? { guarded } : { guarded, subnets: new ClaimIndex(), points: new ClaimIndex() };
  const accepted: AcceptedEndpoint[] = [];
  const rejected: RejectedEndpoint[] = [];
  let used = 0;

  for (const owner of claimants) {
    if (!('remote' in owner)) {
      for (const cidr of owner.reservation.cidrs) claims.subnets?.add(cidr, owner);
      continue;
    }
    const { remote } = owner;
    const own = ownOf(remote);
    const problem = judgeOne(owner, own, claims) ?? budgetProblem(remote, used, facts.maxRemoteSubnets);
    if (problem !== null) {
      rejected.push({ endpoint: endpointRef(remote.object), cluster: remote.spec.clusterId, ...problem });
      continue;
    }
    accepted.push(remote);
    used += remote.subnets.length;
    const { subnets, points } = claims;
    if (subnets !== undefined) remote.subnets.forEach((cidr) => subnets.add(cidr, owner));
    if (points !== undefined) for (const { cidr, what } of own) points.add(cidr, { owner, what });
  }
  accepted.sort((a, b) => compareText(a.spec.clusterId, b.spec.clusterId));
  return { accepted, rejected };
}

interface OwnAddress { cidr: Cidr; text: string; what: string }

function ownAddresses(remote: AcceptedEndpoint): OwnAddress[] {
  const list = [
    ...remote.spec.privateIps.map((text) => ({ text, what: 'private IP' })),
    ...remote.spec.publicIps.map((text) => ({ text, what: 'public IP' })),
  ];
  return list.flatMap(({ text, what }) => {
    const parsed = parseIpv4(text);
    return parsed.ok ? [{ cidr: { network: parsed.address, prefixLength: 32 }, text, what }] : [];
  });
}

function describeOwner(owner: Claimant): string {
  if (!('remote' in owner)) return `cluster "${owner.reservation.clusterId}" (no Endpoint now; its Cluster object ${owner.reservation.object} holds its CIDRs)`;
  const { object, spec } = owner.remote;
  return `cluster "${spec.clusterId}" (Endpoint ${object.namespace}/${object.name})`;
}


/** What an Endpoint's claim is judged against; without `subnets` and `points` no claim overlaps another (noneOverlap). */
type Claims = {
  guarded: AddressIndex<ProtectedAddress>;
  subnets?: ClaimIndex<Claimant>;
  points?: ClaimIndex<PointOwner>;
};

/**
 * Every claim: each claimant's subnets (a reservation's CIDRs) and the remotes' own addresses, each
 * address once however many remotes list it: what noneOverlap is asked about. Two remotes' own
 * addresses are never judged against each other (only against subnets), so gateways that share a
 * private IP (clusters made from one template) do not need the index.
 */
function everyClaim(claimants: readonly Claimant[], ownOf: (remote: AcceptedEndpoint) => readonly OwnAddress[]): Cidr[] {
  // Made at its full size at once (at most every subnet and own address), not grown push by push:
  // 11,000 claims a pass copied their array's growing store over and over. (ownOf is the plan
  // memo's, so asking it twice costs a lookup.)
  let most = 0;
  for (let i = 0; i < claimants.length; i++) {
    const claimant = claimants[i]!;
    most += 'remote' in claimant ? claimant.remote.subnets.length + ownOf(claimant.remote).length : claimant.reservation.cidrs.length;
  }
  const all = new Array<Cidr>(most);
  let count = 0;
  const addAll = (list: readonly Cidr[]) => { for (let j = 0; j < list.length; j++) all[count++] = list[j]!; };
  const addresses = new Set<number>();
  for (let i = 0; i < claimants.length; i++) {
    const claimant = claimants[i]!;
    if (!('remote' in claimant)) { addAll(claimant.reservation.cidrs); continue; }
    addAll(claimant.remote.subnets);
    const own = ownOf(claimant.remote);
    for (let j = 0; j < own.length; j++) {
      const { cidr } = own[j]!;
      if (addresses.has(cidr.network)) continue;
      addresses.add(cidr.network);
      all[count++] = cidr;
    }
  }
  all.length = count;
  return all;
}

/**
 * The first problem with an Endpoint's claim, its subnets taken in address order, so the subnet named
 * is the same whatever order the Endpoint lists them in. Most Endpoints have none: they are checked in
 * the order given first, and sorted only to name a problem found (a copy and a sort per Endpoint per
 * plan otherwise, 1,000 of them).
 */
function judgeOne(owner: Owner, own: readonly OwnAddress[], claims: Claims): { reason: EndpointRejectReason; message: string } | null {
  const subnets = owner.remote.subnets;
  if (firstProblem(owner, subnets, own, claims) === null) return null;
  return firstProblem(owner, [...subnets].sort(compareCidrs), own, claims);
}

// Indexed loops: 10,000 subnets per plan, and for-of allocates per step without TurboFan (README, "Hot loops").
function firstProblem(owner: Owner, mine: readonly Cidr[], own: readonly OwnAddress[], claims: Claims): { reason: EndpointRejectReason; message: string } | null {
  for (let i = 0; i < mine.length; i++) {
    const cidr = mine[i]!;
    const hit = claims.guarded.within(cidr);
    if (hit) return { reason: PROTECTED_REASON[hit.owner.kind], message: `subnet ${formatCidr(cidr)} contains ${hit.owner.text}, ${hit.owner.label}` };
  }
  for (let i = 0; i < mine.length; i++) {
    const cidr = mine[i]!;
    let self: OwnAddress | undefined;
    for (let j = 0; j < own.length && self === undefined; j++) if (containsAddress(cidr, own[j]!.cidr.network)) self = own[j];
    if (self) {
      return { reason: 'covers-endpoint-address', message: `subnet ${formatCidr(cidr)} contains the Endpoint's own ${self.what} ${self.text}: its tunnel's packets would be routed into the tunnel` };
    }
  }
  const { subnets, points } = claims;
  if (subnets === undefined || points === undefined) return null;
  for (let i = 0; i < mine.length; i++) {
    const cidr = mine[i]!;
    const clash = subnets.overlapping(cidr);
    if (clash) {
      return { reason: 'overlaps-other-endpoint', message: `subnet ${formatCidr(cidr)} overlaps ${formatCidr(clash.cidr)} of ${describeOwner(clash.owner)}, which keeps its routes: ${explainPrecedence(clash.owner.rank, owner.rank)}` };
    }
    const point = points.overlapping(cidr);
    if (point) {
      return {
        reason: 'covers-endpoint-address',
        message: `subnet ${formatCidr(cidr)} contains ${formatCidr(point.cidr).replace(/\/32$/, '')}, the ${point.owner.what} of ${describeOwner(point.owner.owner)}, which keeps its routes: ${explainPrecedence(point.owner.owner.rank, owner.rank)}`,
      };
    }
  }
  for (const address of own) {
    const clash = subnets.containing(address.cidr);
    if (clash) {
      return { reason: 'overlaps-other-endpoint', message: `its ${address.what} ${address.text} lies in subnet ${formatCidr(clash.cidr)} of ${describeOwner(clash.owner)}, which keeps its routes: ${explainPrecedence(clash.owner.rank, owner.rank)}` };
    }
  }
  return null;
}

function budgetProblem(remote: AcceptedEndpoint, used: number, max: number): { reason: EndpointRejectReason; message: string } | null {
  const count = remote.subnets.length;
  if (used + count <= max) return null;
  return {
    reason: 'over-subnet-budget',
    message: `its ${count} subnets would take the remote subnets past the budget of ${max} (--max-remote-subnets); ${used} are taken by clusters with precedence`,
  };
}
