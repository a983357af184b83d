/**
 * (snapshot, this node, config) -> the node's desired state, with Submariner's datapath (DESIGN.md section 5).
 * Pure and deterministic: every list in the output is sorted, so equal inputs give equal plans in any order.
 */
import type { RunConfig } from '../config.ts';
import {
  compareCidrTexts, formatIpv4, parseIpv4, vtepAddress, vtepIp,
} from '../model/cidr.ts';
import {
  ALL_ZEROS_MAC,
  type DesiredFdbEntry, type DesiredFilter, type EchoLimit, type DesiredRoute, type DesiredRule, type DesiredState, type DesiredSysctl, type DesiredVxlanLink,
} from '../model/desired-state.ts';
import {
  endpointRef, type AcceptedEndpoint, type DuplicateEndpoint, type EndpointRef, type NodeNote, type PlanMemo, type RejectedEndpoint, type RemoteCluster,
} from '../model/endpoint-set.ts';
import type { NodeFacts } from '../model/node-facts.ts';
import { ownHealthCheckIp } from './health-probes.ts';
import { OWNERSHIP } from '../model/ownership.ts';
import type { NodeObject, Snapshot } from '../model/snapshot.ts';
import { mssClampFromAnnotations } from './mss-clamp.ts';
import { judgeEndpoints, type LocalGateway, type VerdictConfig, type VerdictNoteCode } from './endpoint-verdict.ts';
import { offNodeNetworks, type RefusedRoute } from './node-local-refusals.ts';
import { withRetained } from './remote-grace.ts';
import { compareText } from '../model/compare.ts';

export type PlanConfig = Pick<RunConfig, 'clusterId' | 'nodeName' | 'podCidrs' | 'serviceCidrs' | 'minPrefixLength' | 'maxSubnetsPerEndpoint'> & VerdictConfig;

export type PlanNoteCode =
  | 'no-local-endpoint' | 'cni-interface-unknown' | 'invalid-mss-annotation' | 'subnet-normalised'
  | 'node-without-internal-ip' | 'gateway-ip-mismatch' | 'cable-routes' | VerdictNoteCode;

export interface PlanNote {
  code: PlanNoteCode;
  message: string;
}

export type { RemoteCluster };

export interface Plan {
  desired: DesiredState;
  isGateway: boolean;
  /** Node named by the local Endpoint's hostname; null without a valid local Endpoint. */
  gatewayNode: string | null;
  localEndpoint: EndpointRef | null;
  /** Remote clusters whose subnets are routed, sorted by cluster id. */
  remoteClusters: RemoteCluster[];
  rejected: RejectedEndpoint[];
  duplicates: DuplicateEndpoint[];
  /** Accepted remote subnets this node alone refuses to route (its own networks), for its condition and metric. */
  refusedHere: RefusedRoute[];
  /** No trusted local Endpoint now: the last trusted gateway (lastGoodLocal) is held. */
  localHeld: boolean;
  /** The local gateway in use (trusted now, or held): pass it as memory.lastGoodLocal to the next planNode. */
  lastGoodLocal: LocalGateway | null;
  /** Things an operator should know that reject no object, sorted by code then message. */
  notes: PlanNote[];
}

/**
 * The gateway's limit on ICMP echo requests to its CNI address (its Endpoint's healthCheckIP, which
 * every node of every remote cluster probes) from remote clusters' ranges: the gateway answers at
 * most this many a second however many remote nodes there are. A remote route agent probes each
 * remote gateway once every 10 s by default (plan/route-agent-health.ts), so 200 a second carry the
 * probes of about 2,000 remote nodes over all remote clusters; past that, remote route agents see
 * some loss, which is the price of a bound. The remote gateways' own probes (one a second each,
 * cable/health-checker.ts) are exempt, so hundreds of remote clusters never lose their cable's
 * health check to the limit.
 */
export const ECHO_LIMIT_PER_SECOND = 200;
/** Two seconds' worth: probes that arrive together (remote route agents restarted at once) are not dropped. */
export const ECHO_LIMIT_BURST = 400;

/** NodeFacts come from seaway's own kernel code; garbage there is a bug, not input to route around. */
export class PlanInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlanInputError';
  }
}

/**
 * A remote as the plan lists it. With a memo, the same entry while its Endpoint object (and so its
 * validated spec) is the same: a plan lists 1,000 of them, each with a copy of its subnets.
 */
function remoteCluster(r: AcceptedEndpoint, memo: PlanMemo | undefined): RemoteCluster {
  const known = memo?.remoteClusters.get(r.object);
  if (known !== undefined && known.spec === r.spec) return known;
  // Frozen, as the memo's other kept objects: later plans share it.
  const made = Object.freeze({ clusterId: r.spec.clusterId, endpoint: Object.freeze(endpointRef(r.object)), subnets: Object.freeze([...r.spec.subnets]) as string[], spec: r.spec });
  memo?.remoteClusters.set(r.object, made);
  return made;
}

/**
 * What this node should program. `memory.lastGoodLocal` is the previous plan's lastGoodLocal, so the
 * gateway in use survives a spoof or a takeover gap; `memory.retainedSubnets` are subnets of remote
 * clusters in their fail-static grace period (see remote-grace.ts), routed too unless a routed
 * subnet overlaps them.
 */
export function planNode(
  snapshot: Snapshot, self: NodeFacts, config: PlanConfig,
  memory: { lastGoodLocal?: LocalGateway | null; retainedSubnets?: readonly string[]; memo?: PlanMemo } = {},
): Plan {
  const nodeIp = checkFacts(self);
  const verdict = judgeEndpoints(snapshot, self, config, memory.lastGoodLocal ?? null, memory.memo);
  const notes: PlanNote[] = [...verdict.notes];
  const remoteClusters = verdict.remotes.map((r) => remoteCluster(r, memory.memo));
  const common = { rejected: verdict.rejected, duplicates: verdict.duplicates, refusedHere: verdict.refusedHere, localHeld: verdict.localHeld };

  if (verdict.local === null) {
    const rejectedLocal = verdict.rejected.find((r) => r.cluster === config.clusterId);
    notes.push({
      code: 'no-local-endpoint',
      message: rejectedLocal
        ? `the local Endpoint ${rejectedLocal.endpoint.namespace}/${rejectedLocal.endpoint.name} is rejected (${rejectedLocal.reason}), so the gateway is unknown; no remote routes are planned`
        : `no Endpoint for the local cluster "${config.clusterId}" yet, so the gateway is unknown; no remote routes are planned`,
    });
    return {
      desired: { links: [], routes: [], rules: [], fdb: [], sysctls: [], filter: null },
      isGateway: false, gatewayNode: null, localEndpoint: null, remoteClusters, ...common, lastGoodLocal: null, notes: sortNotes(notes),
    };
  }

  const local = verdict.local;
  const gatewayNode = local.node;
  const isGateway = gatewayNode === config.nodeName;
  // Retained subnets pass this node's own refusals too: memory never brings back a route it refuses.
  const remoteSubnets = memory.retainedSubnets?.length ? withRetained(verdict.routed, verdict.refusedHere, offNodeNetworks(memory.retainedSubnets, self.networks)) : verdict.routed;
  const cni = self.cniInterface;
  if (cni === null) notes.push({ code: 'cni-interface-unknown', message: 'the CNI interface is not known yet: no rp_filter on it, no SNAT target for host traffic, and on the gateway no table 150 routes' });

  const gatewayPrivateIp = parseIpv4(local.privateIp);
  if (!gatewayPrivateIp.ok) throw new PlanInputError('accepted local Endpoint has an invalid private_ip');
  if (isGateway && local.privateIp !== self.nodeIp) {
    notes.push({
      code: 'gateway-ip-mismatch',
      message: `this node is the gateway, but the local Endpoint's private_ip ${local.privateIp} differs from its underlay address ${self.nodeIp}; other nodes will send VXLAN to ${local.privateIp}`,
    });
  }

  const link: DesiredVxlanLink = {
    name: OWNERSHIP.vxlanDevice,
    vni: OWNERSHIP.vxlanVni,
    port: OWNERSHIP.vxlanPort,
    mtu: self.underlayMtu - OWNERSHIP.vxlanMtuOverhead,
    local: self.nodeIp,
    ...(isGateway ? {} : { remote: local.privateIp }),
    underlayDevice: self.underlayDevice,
    address: vtepAddress(nodeIp),
  };

  let routes: DesiredRoute[];
  let rules: DesiredRule[];
  let fdb: DesiredFdbEntry[] = [];
  if (isGateway) {
    rules = [{ priority: OWNERSHIP.hostNetworkRulePriority, table: OWNERSHIP.hostNetworkTable }];
    if (local.publisher === 'seaway') {
      // seaway's own cable routes the remote subnets: charon in table 220, behind the fail-closed
      // blackholes of table 221. Rule 150 is consulted first, so routes here would bypass both (and,
      // with kernel-libipsec, send pod traffic out in the clear instead of into ipsec0): the table
      // stays empty, its rule stays.
      routes = [];
      notes.push({
        code: 'cable-routes',
        message: `the local Endpoint ${local.endpoint.namespace}/${local.endpoint.name} is seaway's gateway's: the remote subnets are routed by seaway's cable (charon's table ${OWNERSHIP.charonTable}, fail-closed by table ${OWNERSHIP.cableFailClosedTable}), not by table ${OWNERSHIP.hostNetworkTable}`,
      });
    } else {
      // Submariner's gateway: out of the underlay device with no next hop, src the CNI address, as
      // Submariner's route agent routes them for its IPsec cable (which installs no routes itself).
      routes = cni === null ? [] : plannedRoutes(remoteSubnets, { table: OWNERSHIP.hostNetworkTable, dev: self.underlayDevice, src: cni.address }, memory.memo);
    }
    fdb = fdbEntriesCached(snapshot.nodes, config.nodeName, nodeIp, notes, memory.memo);
  } else {
    // In the main table, as Submariner's route agent does: no rule, and the longest prefix wins.
    rules = [];
    const via = formatIpv4(vtepIp(gatewayPrivateIp.address));
    routes = plannedRoutes(remoteSubnets, { table: OWNERSHIP.workerTable, gateway: via, dev: OWNERSHIP.vxlanDevice }, memory.memo);
  }

  const selfNode = snapshot.nodes.find((n) => n.name === config.nodeName);
  const mss = mssClampFromAnnotations(selfNode?.annotations);
  if (mss.problem !== null) notes.push({ code: 'invalid-mss-annotation', message: `Node ${config.nodeName}: ${mss.problem}` });
  const filter: DesiredFilter = {
    localCidrs: [...config.podCidrs, ...config.serviceCidrs].sort(compareCidrTexts),
    remoteCidrs: remoteSubnets.map(({ text }) => text),
    nodeAddresses: vxlanSourcesCached(snapshot.nodes, local.privateIp, self.nodeIp, memory.memo),
    // A worker sends it all into vx-submariner; the gateway out of its cable, never its CNI interface.
    ...(isGateway ? (cni === null ? {} : { egress: { never: [cni.name] } }) : { egress: { only: [OWNERSHIP.vxlanDevice] } }),
    ...(cni === null ? {} : { cniAddress: cni.address }),
    vxlanDevice: OWNERSHIP.vxlanDevice,
    vxlanPort: OWNERSHIP.vxlanPort,
    mssClamp: mss.clamp,
    // Only the gateway's CNI address is every remote node's probe target.
    ...(isGateway && cni !== null ? { echoLimit: echoLimit(cni.address, remoteClusters) } : {}),
  };

  return {
    desired: { links: [link], routes, rules, fdb, sysctls: sysctls(cni?.name ?? null), filter },
    isGateway,
    gatewayNode,
    localEndpoint: local.endpoint,
    remoteClusters,
    ...common,
    lastGoodLocal: local,
    notes: sortNotes(notes),
  };
}

function echoLimit(address: string, remotes: readonly RemoteCluster[]): EchoLimit {
  return { address, exempt: gatewayHealthAddresses(remotes), perSecond: ECHO_LIMIT_PER_SECOND, burst: ECHO_LIMIT_BURST };
}

/**
 * The remote gateways' health-check addresses, as /32s sorted by address: each accepted remote's
 * first healthCheckIP (its gateway probes from it, and it is what is probed), only when it lies in
 * one of that remote's own subnets, as the route agents' probes require too. Accepted remotes'
 * subnets never overlap, so an Endpoint can exempt only an address of its own cluster's, never one
 * of another cluster's; an address outside every remote range would never be limited anyway.
 */
function gatewayHealthAddresses(remotes: readonly RemoteCluster[]): string[] {
  const addresses = new Map<number, string>();
  for (const remote of remotes) {
    const own = ownHealthCheckIp(remote.spec.healthCheckIps, remote.subnets);
    const ip = own === undefined ? null : parseIpv4(own);
    if (ip?.ok) addresses.set(ip.address, `${formatIpv4(ip.address)}/32`);
  }
  return [...addresses.entries()].sort((a, b) => a[0] - b[0]).map(([, cidr]) => cidr);
}

function checkFacts(self: NodeFacts): number {
  const ip = parseIpv4(self.nodeIp);
  if (!ip.ok) throw new PlanInputError(`NodeFacts.nodeIp: ${ip.message}`);
  if (!Number.isInteger(self.underlayMtu) || self.underlayMtu < 68 + OWNERSHIP.vxlanMtuOverhead || self.underlayMtu > 65535) {
    throw new PlanInputError(`NodeFacts.underlayMtu: ${self.underlayMtu} leaves no valid MTU for ${OWNERSHIP.vxlanDevice}`);
  }
  if (self.underlayDevice === '') throw new PlanInputError('NodeFacts.underlayDevice: empty');
  if (self.cniInterface !== null && !parseIpv4(self.cniInterface.address).ok) {
    throw new PlanInputError(`NodeFacts.cniInterface.address: "${self.cniInterface.address}" is not an IPv4 address`);
  }
  return ip.address;
}

/** fdbEntries, the same list and notes as the last plan's while the Nodes and this node are the same (5,000 Nodes parsed and sorted otherwise). */
function fdbEntriesCached(nodes: readonly NodeObject[], selfName: string, selfIp: number, notes: PlanNote[], memo: PlanMemo | undefined): DesiredFdbEntry[] {
  let known = memo?.fdb.get(nodes);
  if (known === undefined || known.selfName !== selfName || known.selfIp !== selfIp) {
    const made: NodeNote[] = [];
    // Frozen, entries and all: kept across plans and told apart by identity downstream.
    known = { selfName, selfIp, entries: Object.freeze(fdbEntries(nodes, selfName, selfIp, made).map((entry) => Object.freeze(entry))) as DesiredFdbEntry[], notes: made };
    memo?.fdb.set(nodes, known);
  }
  notes.push(...known.notes);
  return known.entries;
}

/** On the gateway: one all-zeros entry per other node, so broadcast-less VXLAN reaches every node. */
function fdbEntries(nodes: readonly NodeObject[], selfName: string, selfIp: number, notes: NodeNote[]): DesiredFdbEntry[] {
  const peers = new Map<number, string>();
  for (const node of nodes) {
    if (node.name === selfName) continue;
    const ip = node.internalIP === null ? null : parseIpv4(node.internalIP);
    if (ip === null || !ip.ok) {
      notes.push({ code: 'node-without-internal-ip', message: `Node ${node.name} has no usable IPv4 InternalIP${node.internalIP === null ? '' : ` ("${node.internalIP}")`}; it gets no FDB entry` });
      continue;
    }
    if (ip.address !== selfIp) peers.set(ip.address, formatIpv4(ip.address));
  }
  return [...peers.entries()].sort((a, b) => a[0] - b[0]).map(([, dst]) => ({ dev: OWNERSHIP.vxlanDevice, mac: ALL_ZEROS_MAC, dst }));
}

/**
 * Who may send this node VXLAN: every Node's InternalIP, the gateway's private IP (other nodes'
 * `remote`) and this node's own underlay address, as /32s sorted by address and deduplicated.
 */
function vxlanSources(nodes: readonly NodeObject[], gatewayIp: string, selfIp: string): string[] {
  const addresses = new Map<number, string>();
  for (const text of [...nodes.map((n) => n.internalIP), gatewayIp, selfIp]) {
    const ip = text === null ? null : parseIpv4(text);
    if (ip?.ok) addresses.set(ip.address, `${formatIpv4(ip.address)}/32`);
  }
  return [...addresses.entries()].sort((a, b) => a[0] - b[0]).map(([, cidr]) => cidr);
}

/** The same list as the last plan's while the Nodes and both addresses are (5,000 Nodes parsed and sorted otherwise). */
function vxlanSourcesCached(nodes: readonly NodeObject[], gatewayIp: string, selfIp: string, memo: PlanMemo | undefined): string[] {
  const known = memo?.vxlanSources.get(nodes);
  if (known !== undefined && known.gatewayIp === gatewayIp && known.selfIp === selfIp) return known.sources;
  // Frozen: kept across plans, and the filter takes an unchanged list by its identity.
  const sources = Object.freeze(vxlanSources(nodes, gatewayIp, selfIp)) as string[];
  memo?.vxlanSources.set(nodes, { gatewayIp, selfIp, sources });
  return sources;
}

/**
 * ip_forward: the node forwards pod traffic into and out of vx-submariner. rp_filter=2 (loose) on the
 * CNI interface and vx-submariner: replies from remote clusters arrive on an interface that is not the
 * reverse path's, which strict mode drops. The effective value is max(all, interface), so 2 per
 * interface suffices without loosening every interface through conf/all. retrans_time_ms=100 on
 * vx-submariner: when the gateway moves, every worker makes its device again towards the new gateway
 * node while that node is still making its own; an ARP for the gateway's VTEP that arrives first is
 * lost, and the default retry waited 1 s, the longest part of the upgrade's handover gap (1.1 s; the
 * VXLAN cable found the same). Its ARP table holds one entry per node, so 100 ms retries cost nothing.
 */
function sysctls(cniName: string | null): DesiredSysctl[] {
  const list: DesiredSysctl[] = [
    { key: 'net/ipv4/ip_forward', value: '1' },
    { key: `net/ipv4/conf/${OWNERSHIP.vxlanDevice}/rp_filter`, value: '2' },
    { key: `net/ipv4/neigh/${OWNERSHIP.vxlanDevice}/retrans_time_ms`, value: '100' },
  ];
  if (cniName !== null && cniName !== OWNERSHIP.vxlanDevice) list.push({ key: `net/ipv4/conf/${cniName}/rp_filter`, value: '2' });
  return list.sort((a, b) => compareText(a.key, b.key));
}

function sortNotes(notes: PlanNote[]): PlanNote[] {
  return notes.sort((a, b) => compareText(a.code, b.code) || compareText(a.message, b.message));
}

/** A route's fields but its destination: the same for every remote subnet a node routes. */
type RouteShape = Omit<DesiredRoute, 'dst'>;

/**
 * Every field of RouteShape, which plannedRoutes compares and copies: a field added to DesiredRoute
 * fails the type check here until it is listed, so a kept route can never differ in an unlisted one.
 */
const ROUTE_SHAPE_FIELDS = Object.keys({ table: true, gateway: true, dev: true, src: true } satisfies Record<keyof RouteShape, true>) as Array<keyof RouteShape>;

function sameShape(a: RouteShape, b: RouteShape): boolean {
  for (let i = 0; i < ROUTE_SHAPE_FIELDS.length; i++) if (a[ROUTE_SHAPE_FIELDS[i]!] !== b[ROUTE_SHAPE_FIELDS[i]!]) return false;
  return true;
}

/**
 * A route to each subnet, the one a plan made before when it is the same (an unchanged remote's 10
 * routes stay the same 10 objects): the memo's routes all have one shape, compared with this plan's
 * once, so a pass builds only the routes to new destinations (and all of them when the shape
 * changed: another gateway, another CNI address). Routes no longer planned stay in the memo up to
 * staleRoutesAllowed, then only the planned are kept: one rebuild per many passes, not a
 * 10,000-entry map per pass.
 */
/**
 * How many routes the memo may hold for `planned` routes before it keeps only those: an eighth more
 * (plus 64), so at 10,000 routes the ones a churning cluster left behind are let go after about 1,300
 * (a 30-minute churn showed them held to the old bound, twice the planned: 10,000 routes with their
 * keys and descriptions), and the map is rebuilt once per about 130 changes of 10 subnets.
 */
export const staleRoutesAllowed = (planned: number): number => planned + Math.floor(planned / 8) + 64;

function plannedRoutes(subnets: readonly { text: string }[], shape: RouteShape, memo: PlanMemo | undefined): DesiredRoute[] {
  if (memo !== undefined && (memo.routeShape === null || !sameShape(memo.routeShape, shape))) {
    memo.routes = new Map();
    memo.routeShape = shape;
  }
  const known = memo?.routes;
  const routes = subnets.map(({ text }) => {
    const before = known?.get(text);
    if (before !== undefined) return before;
    const route = { dst: text } as DesiredRoute;
    for (let i = 0; i < ROUTE_SHAPE_FIELDS.length; i++) {
      const field = ROUTE_SHAPE_FIELDS[i]!;
      if (shape[field] !== undefined) (route as unknown as Record<string, unknown>)[field] = shape[field];
    }
    // Frozen: kept across plans and told apart by identity downstream, so no one may change it in place.
    Object.freeze(route);
    known?.set(text, route);
    return route;
  });
  if (memo !== undefined && memo.routes.size > staleRoutesAllowed(routes.length)) memo.routes = new Map(routes.map((route) => [route.dst, route]));
  return routes;
}
