/**
 * Rules across Endpoints: one per cluster (newest wins), and no two remote clusters claiming the same addresses.
 */
import { compareCidrs, formatCidr, lastAddress, type Cidr } from './cidr.ts';
import {
  readClusterId, validateEndpoint, type EndpointRejectReason, type EndpointSpec, type EndpointValidationContext,
} from './endpoint.ts';
import type { EndpointObject } from './snapshot.ts';

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

/** An Endpoint that lost to a newer one of the same cluster: a fault to report (e.g. after an interrupted reinstall). */
export interface DuplicateEndpoint {
  endpoint: EndpointRef;
  cluster: string;
  winner: EndpointRef;
}

export interface AcceptedEndpoint {
  object: EndpointObject;
  spec: EndpointSpec;
  /** Parsed remote subnets (empty for the local Endpoint). */
  subnets: Cidr[];
  /** Accepted but noteworthy input, e.g. host bits normalised. */
  notes: string[];
}

export interface EndpointSet {
  local: AcceptedEndpoint | null;
  /** Valid remote Endpoints, sorted by cluster id. */
  remotes: AcceptedEndpoint[];
  /** Sorted by namespace/name. */
  rejected: RejectedEndpoint[];
  /** Sorted by namespace/name. */
  duplicates: DuplicateEndpoint[];
}

export function endpointRef(object: EndpointObject): EndpointRef {
  return { name: object.name, namespace: object.namespace, uid: object.uid, resourceVersion: object.resourceVersion };
}

function creationTime(object: EndpointObject): number {
  const time = Date.parse(object.creationTimestamp);
  // An unreadable timestamp counts as oldest, so it never displaces a well-formed object.
  return Number.isNaN(time) ? Number.NEGATIVE_INFINITY : time;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Total order, oldest first: creation time, then name, namespace and uid. Timestamps have one-second
 * resolution, so ties are real; breaking them by name makes every node pick the same winner.
 */
export function compareAge(a: EndpointObject, b: EndpointObject): number {
  const ta = creationTime(a);
  const tb = creationTime(b);
  if (ta !== tb) return ta < tb ? -1 : 1;
  return compareText(a.name, b.name) || compareText(a.namespace, b.namespace) || compareText(a.uid, b.uid);
}

export interface Selection {
  /** Per cluster id the newest Endpoint, sorted by cluster id. */
  winners: Array<{ clusterId: string; object: EndpointObject }>;
  duplicates: DuplicateEndpoint[];
  /** Endpoints whose cluster id cannot even be read. */
  unreadable: RejectedEndpoint[];
}

/**
 * Newest per cluster id wins. The winner is chosen before full validation on purpose: the newest
 * Endpoint is the cluster's current claim, and falling back to an older one when it is invalid would
 * silently route to superseded subnets.
 */
export function selectEndpoints(endpoints: readonly EndpointObject[]): Selection {
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
  const winners: Selection['winners'] = [];
  const duplicates: DuplicateEndpoint[] = [];
  for (const [clusterId, group] of byCluster) {
    group.sort(compareAge);
    const winner = group[group.length - 1] as EndpointObject;
    winners.push({ clusterId, object: winner });
    for (const loser of group.slice(0, -1)) {
      duplicates.push({ endpoint: endpointRef(loser), cluster: clusterId, winner: endpointRef(winner) });
    }
  }
  winners.sort((a, b) => compareText(a.clusterId, b.clusterId));
  duplicates.sort((a, b) => compareRefs(a.endpoint, b.endpoint));
  unreadable.sort((a, b) => compareRefs(a.endpoint, b.endpoint));
  return { winners, duplicates, unreadable };
}

function compareRefs(a: EndpointRef, b: EndpointRef): number {
  return compareText(a.namespace, b.namespace) || compareText(a.name, b.name) || compareText(a.uid, b.uid);
}

/** Selects, validates each winner, then rejects remote clusters whose subnets overlap an older cluster's. */
export function buildEndpointSet(endpoints: readonly EndpointObject[], ctx: EndpointValidationContext): EndpointSet {
  const selection = selectEndpoints(endpoints);
  const rejected: RejectedEndpoint[] = [...selection.unreadable];
  let local: AcceptedEndpoint | null = null;
  const remotes: AcceptedEndpoint[] = [];
  for (const { clusterId, object } of selection.winners) {
    const result = validateEndpoint(object.spec, ctx);
    if (!result.ok) {
      rejected.push({ endpoint: endpointRef(object), cluster: clusterId, reason: result.reason, message: result.message });
      continue;
    }
    const accepted: AcceptedEndpoint = { object, spec: result.endpoint, subnets: result.subnets, notes: result.notes };
    if (clusterId === ctx.localClusterId) local = accepted;
    else remotes.push(accepted);
  }
  const { kept, overlapping } = resolveOverlaps(remotes);
  rejected.push(...overlapping);
  rejected.sort((a, b) => compareRefs(a.endpoint, b.endpoint));
  return { local, remotes: kept, rejected, duplicates: selection.duplicates };
}

interface Interval {
  start: number;
  end: number;
  cidr: Cidr;
  owner: number;
}

/**
 * Two remote clusters claiming overlapping subnets cannot both be routed; the older claim keeps its
 * routes and the newer is rejected, so an added cluster can never hijack an existing one's traffic.
 * CIDRs nest or are disjoint, so a sweep over them sorted by start (wider first) finds every
 * overlapping pair as (interval, one of its enclosing intervals): O(n log n), fine for 10,000 subnets.
 */
export function resolveOverlaps(remotes: readonly AcceptedEndpoint[]): { kept: AcceptedEndpoint[]; overlapping: RejectedEndpoint[] } {
  const byAge = [...remotes].sort((a, b) => compareAge(a.object, b.object));
  const intervals: Interval[] = [];
  byAge.forEach((remote, owner) => {
    for (const cidr of remote.subnets) intervals.push({ start: cidr.network, end: lastAddress(cidr), cidr, owner });
  });
  intervals.sort((a, b) => compareCidrs(a.cidr, b.cidr) || a.owner - b.owner);

  // conflicts[i] = intervals of older owners that overlap owner i's subnets (and vice versa).
  const conflicts = byAge.map(() => [] as Array<{ other: number; mine: Cidr; theirs: Cidr }>);
  const enclosing: Interval[] = [];
  for (const interval of intervals) {
    while (enclosing.length > 0 && (enclosing[enclosing.length - 1] as Interval).end < interval.start) enclosing.pop();
    for (const outer of enclosing) {
      if (outer.owner === interval.owner) continue;
      conflicts[interval.owner]?.push({ other: outer.owner, mine: interval.cidr, theirs: outer.cidr });
      conflicts[outer.owner]?.push({ other: interval.owner, mine: outer.cidr, theirs: interval.cidr });
    }
    enclosing.push(interval);
  }

  const accepted = new Set<number>();
  const overlapping: RejectedEndpoint[] = [];
  byAge.forEach((remote, index) => {
    const clash = (conflicts[index] ?? [])
      .filter((c) => accepted.has(c.other))
      .sort((a, b) => a.other - b.other || compareCidrs(a.mine, b.mine))[0];
    if (clash === undefined) { accepted.add(index); return; }
    const older = byAge[clash.other] as AcceptedEndpoint;
    overlapping.push({
      endpoint: endpointRef(remote.object),
      cluster: remote.spec.clusterId,
      reason: 'overlaps-other-endpoint',
      message: `subnet ${formatCidr(clash.mine)} overlaps ${formatCidr(clash.theirs)} of cluster "${older.spec.clusterId}" (Endpoint ${older.object.namespace}/${older.object.name}), which is older and keeps its routes`,
    });
  });
  const kept = byAge.filter((_, index) => accepted.has(index))
    .sort((a, b) => compareText(a.spec.clusterId, b.spec.clusterId));
  return { kept, overlapping };
}
