/**
 * The `submariner.io/v1` RouteAgent object of this node, built purely from the planner's result,
 * the kernel objects' status (reconcile/object-table.ts) and the node's health checks
 * (route-agent-health.ts): one object per node, named after the node (made valid as Submariner's
 * EnsureValidName does), in the Submariner namespace, listing every remote Endpoint the
 * cluster-wide verdict accepted with the state of this node's path to it.
 *
 * The CRD has no status subresource and requires `status` with remoteEndpoints, statusFailure and
 * version; each remoteEndpoints item needs spec (an Endpoint spec: backend, cable_name, cluster_id of
 * 1-63 characters, hostname, nat_enabled, subnets), status and statusMessage. `latencyRTT` is
 * optional: it is the RTT of this node's health checks to that remote, left out until one has been
 * answered (zero durations would read as a measurement).
 *
 * A remote's state says first what this node did about it:
 * - `error` when this node refuses some of its subnets (they overlap one of its own networks:
 *   node-local-refusals.ts), when a kernel object its traffic needs failed (one of its routes, or the
 *   VXLAN link, its address, a rule, a sysctl, the packet filter), or when the pass failed as a whole;
 * - `connecting` while a route is not planned or an object it needs is not programmed yet;
 * - otherwise its routes are programmed (ROUTES_PROGRAMMED_MESSAGE), or, on a gateway whose remote
 *   subnets seaway's own cable routes, the route agent's objects are.
 * Then, when the node's health checks are given, the data path decides what "programmed" is worth:
 * `connected` only with a reply to this node's last health checks to the remote's healthCheckIP,
 * `error` once the lost-probe limit is reached ("no reply to health checks to <ip>: ..."), and
 * `connecting` while the first reply is awaited or the node cannot send probes. A remote not probed
 * (the gateway node, checks disabled, no usable healthCheckIP) stays `connected`, saying why there is
 * no health check. Messages never carry numbers that change between passes (attempts, times, lost
 * probes so far, RTTs), so an unchanged state is never a change worth a write; the RTT figures are
 * left out of what a change is judged on (sameRouteAgentContent) and go out with the refresh.
 */
import type { DesiredState } from '../model/desired-state.ts';
import { compareText, isRecord } from '../model/compare.ts';
import { SUBMARINER_API_VERSION } from '../model/submariner-api.ts';
import { routeKey, type ObjectKind } from './desired-objects.ts';
import type { Plan } from './node-plan.ts';
import {
  clipMessage, endpointSpecWire, statusObjectName, str, type ConnectionStatus, type EndpointSpecWire, type WriteBudget,
} from './status-object.ts';
import { latencyRtt, type LatencyRtt } from '../model/rtt-stats.ts';
import type { ConnectionHealth } from './gateway-status.ts';
import { probeKey } from './route-agent-health.ts';
import { isDeepStrictEqual } from 'node:util';

const ROUTE_AGENT_KIND = 'RouteAgent';
export const ROUTE_AGENT_PLURAL = 'routeagents';

/** Written on change at most every 10 s, and refreshed at most (and, unchanged, exactly) once a minute. */
export const ROUTE_AGENT_WRITE_BUDGET: Required<WriteBudget> = { minIntervalMs: 10_000, refreshMs: 60_000 };

/** What this node did for a remote whose path is programmed (routes of its own, or the gateway's cable). */
export const ROUTES_PROGRAMMED = 'routes programmed on this node';
export const CABLE_ROUTES = 'this node is the gateway: seaway\'s cable routes the remote subnets, and the route agent\'s objects are programmed';
/** The same, when no health checks are given at all (a caller that does not probe). */
export const ROUTES_PROGRAMMED_MESSAGE = `${ROUTES_PROGRAMMED} (no health check yet)`;
export const CABLE_ROUTES_MESSAGE = `${CABLE_ROUTES} (no health check yet)`;

/** How many reasons one message names; the rest are counted. */
const NAMED_REASONS = 3;

/** Kernel objects every remote's traffic through this node needs (besides its own routes). FDB entries reach other nodes, not a remote. */
const SHARED_KINDS: ReadonlySet<ObjectKind> = new Set<ObjectKind>(['link', 'address', 'rule', 'sysctl', 'filter']);

export interface RouteAgentRemoteEndpoint {
  spec: EndpointSpecWire;
  status: ConnectionStatus;
  statusMessage: string;
  /** This node's health checks' RTT to the remote (Go duration strings); absent until a probe has been answered. */
  latencyRTT?: LatencyRtt;
}

export interface RouteAgentStatus {
  version: string;
  statusFailure: string;
  remoteEndpoints: RouteAgentRemoteEndpoint[];
}

export interface RouteAgentObject {
  apiVersion: typeof SUBMARINER_API_VERSION;
  kind: typeof ROUTE_AGENT_KIND;
  metadata: { name: string; namespace: string };
  status: RouteAgentStatus;
}

/** An object that is not programmed, as the object table reports it (ObjectStatus fits). */
export interface UnsettledObject {
  kind: ObjectKind;
  key: string;
  /** What seaway wants it to be ("route 10.2.0.0/16 via 240.1.0.3 dev vx-submariner table 254"). */
  object: string;
  state: 'pending' | 'in-progress' | 'programmed' | 'failed';
  reason?: string;
  code?: string;
  /** False for an object being removed: no remote's path needs it. */
  desired: boolean;
}

/** What of the planner's result the object is built from. */
export type RouteAgentPlan = Pick<Plan, 'remoteClusters' | 'refusedHere' | 'isGateway' | 'localEndpoint' | 'notes'> & {
  desired: Pick<DesiredState, 'routes'>;
};

/**
 * What this node's health checks found (reconcile/node-health-checks.ts gathers it from
 * route-agent-health.ts's plan and the health checker), keyed by probeKey(cluster, cable).
 */
export interface RouteAgentHealth {
  /** Why this node probes no remote at all (the gateway node, disabled); absent when it probes. */
  off?: string;
  /** Remotes not probed, with the reason (no healthCheckIP, one outside its subnets). */
  skipped: ReadonlyMap<string, string>;
  /** What the probes of each probed remote found; a probed remote without an entry has no result yet. */
  probes: ReadonlyMap<string, ConnectionHealth>;
}

export interface RouteAgentInput {
  /** This node's name: the object's name. */
  nodeName: string;
  /** The Submariner namespace (submariner-operator). */
  namespace: string;
  /** seaway's version string. */
  version: string;
  plan: RouteAgentPlan;
  /** The object table's unsettled objects after the pass (every desired object not listed is programmed). */
  unsettled: readonly UnsettledObject[];
  /** Why the pass failed as a whole (what was programmed cannot be vouched for); absent when it did not. */
  failure?: string;
  /** The node's health checks; absent: none are made, and a programmed remote is connected on its routes alone. */
  health?: RouteAgentHealth;
}

export type RouteAgentRender =
  | { ok: true; object: RouteAgentObject; notes: string[] }
  | { ok: false; message: string };

/** The RouteAgent object's name for a node (Submariner's EnsureValidName), or why there is none. */
export function routeAgentObjectName(nodeName: string): { ok: true; name: string } | { ok: false; message: string } {
  return statusObjectName(nodeName, 'node name');
}

/** Why an object is not programmed, in one phrase: its errno first unless its words already say it. */
function why(object: UnsettledObject): string {
  const reason = str(object.reason);
  const code = str(object.code);
  return code && !reason.includes(code) ? `${code}: ${reason}` : reason;
}

function describeFailed(object: UnsettledObject): string {
  const reason = why(object);
  return `${str(object.object) || `${object.kind} ${object.key}`} failed${reason ? `: ${reason}` : ''}`;
}

function describeWaiting(object: UnsettledObject): string {
  const reason = why(object);
  const what = str(object.object) || `${object.kind} ${object.key}`;
  return `${what} ${object.state === 'in-progress' ? 'in progress' : 'not programmed yet'}${reason ? `: ${reason}` : ''}`;
}

/** At most NAMED_REASONS reasons, then how many more. */
function joined(reasons: readonly string[]): string {
  const named = reasons.slice(0, NAMED_REASONS);
  const more = reasons.length > named.length ? `; and ${reasons.length - named.length} more` : '';
  return clipMessage(`${named.join('; ')}${more}`);
}

type NodeRouting =
  | { kind: 'routes'; byDst: ReadonlyMap<string, string> }
  | { kind: 'cable' }
  | { kind: 'none'; reason: string };

/** How this node carries remote subnets: its own routes (key per destination), seaway's cable, or not at all (why). */
function nodeRouting(plan: RouteAgentPlan): NodeRouting {
  const notes = Array.isArray(plan.notes) ? plan.notes : [];
  if (plan.localEndpoint === null || plan.localEndpoint === undefined) {
    return { kind: 'none', reason: 'the local cluster\'s gateway is not known (no trusted local Endpoint): no remote subnet is routed on this node' };
  }
  if (plan.isGateway && notes.some((n) => n.code === 'cable-routes')) return { kind: 'cable' };
  if (plan.isGateway && notes.some((n) => n.code === 'cni-interface-unknown')) {
    return { kind: 'none', reason: 'the CNI interface is not known yet: this gateway routes no remote subnet until it is' };
  }
  const byDst = new Map<string, string>();
  for (const route of Array.isArray(plan.desired?.routes) ? plan.desired.routes : []) byDst.set(route.dst, routeKey(route));
  return { kind: 'routes', byDst };
}

/**
 * One remote's state. Errors first (refusals, failed objects, a failed pass), then what it waits
 * for; connected only with nothing of either.
 */
function remoteState(
  subnets: readonly string[], refusals: readonly string[], routing: NodeRouting,
  routeProblems: ReadonlyMap<string, UnsettledObject>, shared: readonly UnsettledObject[], failure: string,
): { status: ConnectionStatus; statusMessage: string } {
  const errors = [...refusals];
  const waiting: string[] = [];
  if (failure !== '') errors.push(`the reconcile pass failed: ${failure}`);
  if (routing.kind === 'none') waiting.push(routing.reason);
  const needed: UnsettledObject[] = [];
  if (routing.kind === 'routes') {
    for (const subnet of subnets) {
      const key = routing.byDst.get(subnet);
      if (key === undefined) { waiting.push(`no route for subnet ${subnet} is planned on this node yet`); continue; }
      const problem = routeProblems.get(key);
      if (problem !== undefined) needed.push(problem);
    }
  }
  needed.push(...shared);
  for (const object of needed) {
    if (object.state === 'failed') errors.push(describeFailed(object));
    else if (object.state !== 'programmed') waiting.push(describeWaiting(object));
  }
  if (errors.length > 0) return { status: 'error', statusMessage: joined(errors) };
  if (waiting.length > 0) return { status: 'connecting', statusMessage: joined(waiting) };
  if (routing.kind === 'cable') return { status: 'connected', statusMessage: CABLE_ROUTES_MESSAGE };
  return { status: 'connected', statusMessage: ROUTES_PROGRAMMED_MESSAGE };
}

/**
 * A programmed remote as this node's health checks judge it: the data path decides, not the
 * routes. `programmed` says what this node did (ROUTES_PROGRAMMED or CABLE_ROUTES).
 */
function probedState(
  programmed: string, key: string, healthCheckIp: string, health: RouteAgentHealth,
): { status: ConnectionStatus; statusMessage: string } {
  const off = str(health.off);
  if (off !== '') return { status: 'connected', statusMessage: clipMessage(`${programmed} (no health check: ${off})`) };
  const skipped = health.skipped instanceof Map ? health.skipped.get(key) : undefined;
  if (skipped !== undefined) return { status: 'connected', statusMessage: clipMessage(`${programmed} (no health check: ${str(skipped)})`) };
  const probe = health.probes instanceof Map ? health.probes.get(key) : undefined;
  if (probe === undefined || !isRecord(probe)) {
    return { status: 'connecting', statusMessage: clipMessage(`${programmed}; waiting for the first reply to a health check to ${healthCheckIp}`) };
  }
  const ip = str(probe.ip) || healthCheckIp;
  // A node that cannot send probes has no recent reply, whatever its last verdict was.
  const problem = str(probe.problem);
  if (problem !== '') return { status: 'connecting', statusMessage: clipMessage(`${programmed}, but this node cannot send health checks to ${ip}: ${problem}`) };
  if (probe.verdict === 'healthy') return { status: 'connected', statusMessage: clipMessage(`${programmed}; health checks to ${ip} answered`) };
  if (probe.verdict === 'unhealthy') {
    return {
      status: 'error',
      statusMessage: clipMessage(`no reply to health checks to ${ip}: the last ${probe.maxLoss} sent from this node got no answer, though ${programmed === CABLE_ROUTES ? 'the route agent\'s objects are programmed' : 'its routes are programmed on this node'}: traffic from this node does not get through`),
    };
  }
  return { status: 'connecting', statusMessage: clipMessage(`${programmed}; waiting for the first reply to a health check to ${ip}`) };
}

/** The RTT of a probed remote's health checks, when one has been answered. */
function probedRtt(key: string, health: RouteAgentHealth | undefined): LatencyRtt | undefined {
  if (health === undefined || !isRecord(health as unknown) || str(health.off) !== '' || !(health.probes instanceof Map)) return undefined;
  const probe = health.probes.get(key);
  const rtt = isRecord(probe as unknown) && isRecord(probe!.rtt as unknown) ? probe!.rtt! : undefined;
  if (rtt === undefined || !(rtt.samples > 0)) return undefined;
  // Figures that are not durations (a JavaScript caller's) are no measurement.
  const figures = [rtt.lastNs, rtt.minNs, rtt.averageNs, rtt.maxNs, rtt.stdDevNs];
  return figures.every((ns) => typeof ns === 'number' && Number.isFinite(ns) && Math.abs(ns) < 9e18) ? latencyRtt(rtt) : undefined;
}

const compareRemotes = (a: RouteAgentRemoteEndpoint, b: RouteAgentRemoteEndpoint): number =>
  compareText(a.spec.cluster_id, b.spec.cluster_id) || compareText(a.spec.cable_name, b.spec.cable_name);

/**
 * The whole RouteAgent object (pure). A remote whose Endpoint cannot be written as the CRD requires
 * is left out with a note, so one bad remote never makes the API server refuse the whole object; an
 * unusable node name or namespace means no object at all. Remotes are sorted by cluster and cable,
 * so their order never reads as a change.
 */
export function routeAgentObject(input: RouteAgentInput): RouteAgentRender {
  const name = routeAgentObjectName(input.nodeName);
  if (!name.ok) return { ok: false, message: name.message };
  if (typeof input.namespace !== 'string' || input.namespace === '') return { ok: false, message: 'the namespace is empty' };
  if (!isRecord(input.plan as unknown)) return { ok: false, message: 'there is no plan to report' };
  const { plan } = input;
  const failure = str(input.failure);
  const routing = nodeRouting(plan);
  const health = isRecord(input.health as unknown) ? input.health : undefined;

  const routeProblems = new Map<string, UnsettledObject>();
  const shared: UnsettledObject[] = [];
  for (const object of Array.isArray(input.unsettled) ? input.unsettled : []) {
    if (!isRecord(object as unknown) || object.desired !== true || object.state === 'programmed') continue;
    if (object.kind === 'route') routeProblems.set(object.key, object);
    else if (SHARED_KINDS.has(object.kind)) shared.push(object);
  }
  // The same order whatever order the table lists them in.
  shared.sort((a, b) => compareText(a.kind, b.kind) || compareText(a.key, b.key));

  const refusedByCluster = new Map<string, string[]>();
  for (const refusal of Array.isArray(plan.refusedHere) ? plan.refusedHere : []) {
    if (!isRecord(refusal as unknown)) continue;
    const list = refusedByCluster.get(refusal.clusterId) ?? [];
    list.push(str(refusal.message) || `subnet ${str(refusal.subnet)} is not routed on this node`);
    refusedByCluster.set(refusal.clusterId, list);
  }

  const notes: string[] = [];
  const remoteEndpoints: RouteAgentRemoteEndpoint[] = [];
  const seen = new Set<string>();
  (Array.isArray(plan.remoteClusters) ? plan.remoteClusters : []).forEach((remote, index) => {
    if (!isRecord(remote as unknown)) { notes.push(`remote ${index}: not an object; left out`); return; }
    const wire = endpointSpecWire(remote.spec);
    if (!wire.ok) {
      const cable = isRecord(remote.spec) ? str(remote.spec.cableName) : '';
      notes.push(`remote ${index}${cable ? ` (${cable.slice(0, 100)})` : ''}: ${wire.message}; left out of the RouteAgent status`);
      return;
    }
    const key = `${wire.wire.cluster_id}\0${wire.wire.cable_name}`;
    if (seen.has(key)) { notes.push(`remote ${index} (${wire.wire.cable_name}): listed twice; the first kept`); return; }
    seen.add(key);
    const refusals = refusedByCluster.get(wire.wire.cluster_id) ?? [];
    const subnets = wire.wire.subnets;
    const routed = subnets.length === 0 && refusals.length === 0 && failure === ''
      ? { status: 'connecting' as const, statusMessage: 'the Endpoint lists no IPv4 subnet: nothing is routed to it on this node' }
      : remoteState(subnets, refusals, routing, routeProblems, shared, failure);
    const probe = probeKey(wire.wire.cluster_id, wire.wire.cable_name);
    const state = routed.status === 'connected' && health !== undefined
      ? probedState(routing.kind === 'cable' ? CABLE_ROUTES : ROUTES_PROGRAMMED, probe, wire.wire.healthCheckIP ?? '', health)
      : routed;
    const rtt = probedRtt(probe, health);
    remoteEndpoints.push({ spec: wire.wire, status: state.status, statusMessage: state.statusMessage, ...(rtt ? { latencyRTT: rtt } : {}) });
  });
  remoteEndpoints.sort(compareRemotes);

  return {
    ok: true,
    notes,
    object: {
      apiVersion: SUBMARINER_API_VERSION,
      kind: ROUTE_AGENT_KIND,
      metadata: { name: name.name, namespace: input.namespace },
      status: {
        version: str(input.version),
        statusFailure: failure === '' ? '' : clipMessage(`reconcile pass failed: ${failure}`),
        remoteEndpoints,
      },
    },
  };
}

/** The object without its RTT figures: what a change is judged on (they go out with the refresh). */
function content(object: RouteAgentObject): unknown {
  const remoteEndpoints = object.status.remoteEndpoints.map(({ latencyRTT: _rtt, ...rest }) => rest);
  return { ...object, status: { ...object.status, remoteEndpoints } };
}

/** Whether two objects say the same, ignoring the RTT figures: an RTT that moved is no reason for an early write. */
export function sameRouteAgentContent(a: RouteAgentObject, b: RouteAgentObject): boolean {
  return isDeepStrictEqual(content(a), content(b));
}
