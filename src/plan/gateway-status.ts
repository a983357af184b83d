/**
 * The `submariner.io/v1` Gateway object Submariner's tools read (`subctl show gateways|connections`,
 * the operator's Submariner status, Lighthouse), built purely; and the decisions around writing it:
 * when a write is due (a budget), and which other Gateway objects are stale (pure).
 *
 * One object per gateway candidate, named after its hostname (Submariner's EnsureValidName), in the
 * Submariner namespace, with the annotation `update-timestamp` (unix seconds) that Submariner's
 * gateways use to call an object stale 15 s after its last refresh. The CRD has no status
 * subresource and requires all five status fields (connections, haStatus, localEndpoint,
 * statusFailure, version), and every Endpoint spec in it needs backend, cable_name, cluster_id
 * (1-63 characters), hostname, nat_enabled and subnets.
 *
 * `connected` is proven by the data path: where the remote Endpoint names a healthCheckIP, only a
 * reply to a health check through the cable makes a connection connected, and the last probes lost
 * in a row make it an error even while the daemon says its SAs are up ("SAs up, no reply" is never
 * connected); the RTT of the replies is `latencyRTT`. A remote without a healthCheckIP (an older
 * peer) falls back to the daemon's word and its byte counters: a cable whose received or sent
 * counter has not grown for longer than a threshold is reported `connecting`, saying so. Neither
 * byte counters nor RTT changes make an observation a change worth an early write (sameGatewayContent
 * ignores latencyRTT): they go out with the periodic refresh. `latencyRTT` is left out until there is
 * a reply (it is optional in the CRD), never filled with zero durations that would read as a measurement.
 */
import type { CableStatus } from '../cable/cable.ts';
import type { EndpointSpec } from '../model/endpoint.ts';
import { compareText, isRecord } from '../model/compare.ts';
import { unixSecondsAnnotationMs } from '../model/object-meta.ts';
import { SUBMARINER_API_VERSION } from '../model/submariner-api.ts';
import {
  clipMessage, dueForWrite, endpointSpecWire, statusObjectName, str, type ConnectionStatus, type EndpointSpecWire, type WriteBudget,
} from './status-object.ts';
import { isDeepStrictEqual } from 'node:util';
import { latencyRtt, type LatencyRtt } from '../model/rtt-stats.ts';
import type { TargetHealth } from './health-probes.ts';

// Shared with the RouteAgent (status-object.ts); still exported from here for the Gateway's callers.
export { endpointSpecWire, MAX_MESSAGE_LENGTH, type ConnectionStatus, type EndpointSpecWire, type WriteBudget } from './status-object.ts';

const GATEWAY_KIND = 'Gateway';
export const GATEWAY_PLURAL = 'gateways';
export const UPDATE_TIMESTAMP_ANNOTATION = 'update-timestamp';
/** Submariner's gateways delete another's Gateway object this long after its update-timestamp. */
export const SUBMARINER_STALE_MS = 15_000;
/**
 * How long a connected cable's counters may stand still before it is reported `connecting`: longer
 * than WireGuard's 10 s keepalive, so an idle but healthy WireGuard cable keeps moving bytes.
 */
export const DEFAULT_STALL_MS = 15_000;

export const CONNECTED_MESSAGE = 'connected: SAs installed, bytes moving (no health check yet)';

export type HaStatus = 'active' | 'passive';

export interface GatewayConnection {
  status: ConnectionStatus;
  statusMessage: string;
  endpoint: EndpointSpecWire;
  /** Left out when empty, false, as Go's omitempty does. */
  usingIP?: string;
  usingNAT?: boolean;
  /** The health checks' RTT (Go duration strings); absent until a probe has been answered. */
  latencyRTT?: LatencyRtt;
}

export interface GatewayStatus {
  version: string;
  haStatus: HaStatus;
  localEndpoint: EndpointSpecWire;
  statusFailure: string;
  connections: GatewayConnection[];
}

export interface GatewayObject {
  apiVersion: typeof SUBMARINER_API_VERSION;
  kind: typeof GATEWAY_KIND;
  metadata: { name: string; namespace: string; annotations: Record<string, string> };
  status: GatewayStatus;
}

/** What one cable's byte counters did, as far as observations tell (see observeTraffic). */
export interface CableTraffic {
  rxBytes: number;
  txBytes: number;
  /** When the counter was last seen to grow (unix ms); absent: not since the cable was first seen connected. */
  rxGrewAtMs?: number;
  txGrewAtMs?: number;
}

/** Cable name -> its traffic; kept by the caller from one observation to the next. */
export type TrafficState = ReadonlyMap<string, CableTraffic>;

export const EMPTY_TRAFFIC: TrafficState = new Map();

export interface RemoteConnectionInput {
  /** The remote cluster's Endpoint, as validated (model/endpoint.ts). */
  endpoint: EndpointSpec;
  /** The daemon's view of the cable to it; absent while the driver has not configured it. */
  cable?: CableStatus;
  /** The address the cable uses to reach the remote (private or public, as NAT discovery chose). */
  usingIP: string;
  usingNAT: boolean;
  /** The health checks through the cable, when the remote names a healthCheckIP. */
  health?: ConnectionHealth;
  /** Why this gateway builds no cable to the remote (another cable kind, a malformed backend_config): an error connection saying so. */
  refused?: string;
}

/** What the health checks to one remote found. */
export type ConnectionHealth = TargetHealth;

export interface GatewayInput {
  /** This node's hostname: the object's name (made valid as Submariner does). */
  hostname: string;
  /** The Submariner namespace (submariner-operator). */
  namespace: string;
  haStatus: HaStatus;
  localEndpoint: EndpointSpec;
  /** seaway's version string. */
  version: string;
  /** Why the gateway cannot work ('' when nothing is wrong). */
  statusFailure: string;
  remotes: readonly RemoteConnectionInput[];
  /** The byte-counter history (observeTraffic). */
  traffic: TrafficState;
  nowMs: number;
  /** How long counters may stand still before a connected cable is reported connecting (default DEFAULT_STALL_MS). */
  stallMs?: number;
}

export type GatewayRender =
  | { ok: true; object: GatewayObject; notes: string[] }
  | { ok: false; message: string };

/** The Gateway object's name for a hostname (Submariner's EnsureValidName), or why there is none. */
export function gatewayObjectName(hostname: string): { ok: true; name: string } | { ok: false; message: string } {
  return statusObjectName(hostname, 'hostname');
}

const counter = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : null);

/**
 * One direction's counter: grown since the last observation, or reset (a new session, a rekeyed SA)
 * to a non-zero value, which also means bytes moved since then. A counter that is not a number is
 * no evidence either way: the last good value is kept.
 */
function grewAt(before: number | undefined, now: number | null, previousGrewAt: number | undefined, nowMs: number): { value: number | undefined; grewAt: number | undefined } {
  if (now === null) return { value: before, grewAt: previousGrewAt };
  if (before === undefined) return { value: now, grewAt: previousGrewAt };
  if (now > before || (now < before && now > 0)) return { value: now, grewAt: nowMs };
  return { value: now, grewAt: previousGrewAt };
}

/**
 * The next traffic state from the daemon's cables (pure). A cable that is not connected forgets
 * its growth, so a cable that comes back must be seen moving bytes again before it is called
 * connected; a cable no longer listed is dropped.
 */
export function observeTraffic(previous: TrafficState, cables: readonly CableStatus[], nowMs: number): TrafficState {
  const next = new Map<string, CableTraffic>();
  for (const cable of cables) {
    if (!isRecord(cable) || typeof cable.cableName !== 'string') continue;
    const before = previous.get(cable.cableName);
    const connected = cable.state === 'connected';
    const rx = grewAt(before?.rxBytes, counter(cable.rxBytes), connected ? before?.rxGrewAtMs : undefined, nowMs);
    const tx = grewAt(before?.txBytes, counter(cable.txBytes), connected ? before?.txGrewAtMs : undefined, nowMs);
    const traffic: CableTraffic = { rxBytes: rx.value ?? 0, txBytes: tx.value ?? 0 };
    // Growth seen while not connected is not this session's evidence.
    if (connected && rx.grewAt !== undefined) traffic.rxGrewAtMs = rx.grewAt;
    if (connected && tx.grewAt !== undefined) traffic.txGrewAtMs = tx.grewAt;
    next.set(cable.cableName, traffic);
  }
  return next;
}

/**
 * A connection's status and message from its cable and traffic. Messages never carry numbers that
 * change between observations (bytes, seconds since), or every observation would be a change.
 */
export function connectionState(
  cable: CableStatus | undefined, traffic: CableTraffic | undefined, nowMs: number, stallMs: number, health?: ConnectionHealth,
): { status: ConnectionStatus; statusMessage: string } {
  if (cable === undefined || !isRecord(cable)) return { status: 'connecting', statusMessage: 'connecting: the cable is not configured yet' };
  const daemonMessage = str(cable.message);
  if (cable.state === 'error') {
    const why = daemonMessage || str(cable.lastError) || 'the cable driver reports an error';
    return { status: 'error', statusMessage: clipMessage(`error: ${why}`) };
  }
  if (cable.state !== 'connected') {
    return { status: 'connecting', statusMessage: clipMessage(`connecting: ${daemonMessage || 'security associations not installed yet'}`) };
  }
  if (health !== undefined && isRecord(health)) return healthState(health, daemonMessage);
  // No counters to watch and no health check: the daemon's word is all there is, and says so.
  if (cable.bytesCounted === false) {
    return { status: 'connected', statusMessage: clipMessage(`connected: configured; the cable counts no bytes and the remote names no health-check address, so the data path is unproven${daemonMessage ? `; ${daemonMessage}` : ''}`) };
  }
  const moving = (at: number | undefined) => at !== undefined && nowMs - at <= stallMs;
  const rx = moving(traffic?.rxGrewAtMs);
  const tx = moving(traffic?.txGrewAtMs);
  const extra = daemonMessage ? `; ${daemonMessage}` : '';
  if (rx && tx) return { status: 'connected', statusMessage: clipMessage(`${CONNECTED_MESSAGE}${extra}`) };
  const seconds = Math.round(stallMs / 1000);
  const what = !rx && !tx ? 'no bytes seen moving in either direction'
    : !rx ? 'no bytes seen moving: nothing received' : 'no bytes seen moving: nothing sent';
  return {
    status: 'connecting',
    statusMessage: clipMessage(`connecting: SAs installed, but ${what} within the last ${seconds} s (no health check yet; an idle cable looks the same)${extra}`),
  };
}

/** A connected cable as its health checks judge it: the data path decides, not the daemon. */
function healthState(health: ConnectionHealth, daemonMessage: string): { status: ConnectionStatus; statusMessage: string } {
  const extra = daemonMessage ? `; ${daemonMessage}` : '';
  const ip = str(health.ip);
  // Probing that cannot happen proves nothing, whatever an earlier verdict said.
  const problem = typeof health.problem === 'string' ? health.problem : '';
  if (problem !== '') return { status: 'connecting', statusMessage: clipMessage(`connecting: tunnel up, ${problem}${extra}`) };
  if (health.verdict === 'healthy') return { status: 'connected', statusMessage: clipMessage(`connected: health checks to ${ip} answered through the cable${extra}`) };
  if (health.verdict === 'unhealthy') {
    return { status: 'error', statusMessage: clipMessage(`error: the tunnel is up but the last ${health.maxLoss} health checks to ${ip} got no reply: traffic does not flow${extra}`) };
  }
  return { status: 'connecting', statusMessage: clipMessage(`connecting: tunnel up, waiting for the first reply to a health check to ${ip}${extra}`) };
}

const compareConnections = (a: GatewayConnection, b: GatewayConnection): number =>
  compareText(a.endpoint.cluster_id, b.endpoint.cluster_id) || compareText(a.endpoint.cable_name, b.endpoint.cable_name);

/**
 * The whole Gateway object (pure). A remote whose Endpoint cannot be written as the CRD requires is
 * left out with a note, so one bad remote never makes the API server refuse the whole object; an
 * unusable hostname or local Endpoint means no object at all (it could not be accepted).
 * Connections are sorted by cluster and cable, so their order never reads as a change.
 */
export function gatewayObject(input: GatewayInput): GatewayRender {
  const name = gatewayObjectName(input.hostname);
  if (!name.ok) return { ok: false, message: name.message };
  if (typeof input.namespace !== 'string' || input.namespace === '') return { ok: false, message: 'the namespace is empty' };
  if (input.haStatus !== 'active' && input.haStatus !== 'passive') return { ok: false, message: `haStatus must be active or passive, not ${String(input.haStatus).slice(0, 40)}` };
  const local = endpointSpecWire(input.localEndpoint);
  if (!local.ok) return { ok: false, message: `the local Endpoint cannot be written: ${local.message}` };
  const stallMs = input.stallMs ?? DEFAULT_STALL_MS;
  const notes: string[] = [];
  const connections: GatewayConnection[] = [];
  const seen = new Set<string>();
  (Array.isArray(input.remotes) ? input.remotes : []).forEach((remote, index) => {
    // Checked `as unknown`: a defensive check of what a JavaScript caller may pass, not a narrowing of the typed value.
    if (!isRecord(remote as unknown)) { notes.push(`remote ${index}: not an object; left out`); return; }
    const endpoint = endpointSpecWire(remote.endpoint);
    if (!endpoint.ok) {
      const cable = isRecord(remote.endpoint) ? str(remote.endpoint.cableName) : '';
      notes.push(`remote ${index}${cable ? ` (${cable.slice(0, 100)})` : ''}: ${endpoint.message}; left out of the Gateway status`);
      return;
    }
    const key = `${endpoint.wire.cluster_id}\0${endpoint.wire.cable_name}`;
    if (seen.has(key)) { notes.push(`remote ${index} (${endpoint.wire.cable_name}): listed twice; the first kept`); return; }
    seen.add(key);
    const cable = isRecord(remote.cable as unknown) ? remote.cable : undefined;
    const traffic = cable !== undefined ? input.traffic.get(cable.cableName) : undefined;
    const health = isRecord(remote.health as unknown) ? remote.health : undefined;
    const refused = str(remote.refused);
    const state = refused !== '' ? { status: 'error' as const, statusMessage: clipMessage(`error: no cable to this cluster: it ${refused}`) } : connectionState(cable, traffic, input.nowMs, stallMs, health);
    const usingIP = str(remote.usingIP);
    const rtt = health?.rtt;
    connections.push({
      status: state.status,
      statusMessage: state.statusMessage,
      endpoint: endpoint.wire,
      ...(usingIP !== '' ? { usingIP } : {}),
      ...(remote.usingNAT === true ? { usingNAT: true } : {}),
      ...(rtt && rtt.samples > 0 ? { latencyRTT: latencyRtt(rtt) } : {}),
    });
  });
  connections.sort(compareConnections);
  return {
    ok: true,
    notes,
    object: {
      apiVersion: SUBMARINER_API_VERSION,
      kind: GATEWAY_KIND,
      metadata: {
        name: name.name,
        namespace: input.namespace,
        annotations: { [UPDATE_TIMESTAMP_ANNOTATION]: String(Math.floor(input.nowMs / 1000)) },
      },
      status: {
        version: str(input.version),
        haStatus: input.haStatus,
        localEndpoint: local.wire,
        statusFailure: clipMessage(str(input.statusFailure)),
        connections,
      },
    },
  };
}

/** The object without its refresh stamp: what a change is judged on. */
function content(object: GatewayObject): unknown {
  const annotations = { ...object.metadata.annotations };
  delete annotations[UPDATE_TIMESTAMP_ANNOTATION];
  const connections = object.status.connections.map(({ latencyRTT: _rtt, ...rest }) => rest);
  return { ...object, metadata: { ...object.metadata, annotations }, status: { ...object.status, connections } };
}

/** Whether two objects say the same, ignoring update-timestamp and the RTT figures (they go out with the refresh). */
export function sameGatewayContent(a: GatewayObject, b: GatewayObject): boolean {
  return isDeepStrictEqual(content(a), content(b));
}

/**
 * Whether to write `next` now (pure): nothing written yet; or its content (update-timestamp aside)
 * differs from the last written object (no sooner than minIntervalMs after the last write); or
 * refreshMs has passed since the last write. A clock that went back writes (and so restarts the count).
 */
export function shouldWrite(previous: GatewayObject | null, next: GatewayObject, lastWriteMs: number, nowMs: number, budget: WriteBudget): boolean {
  return dueForWrite(previous, next, lastWriteMs, nowMs, budget, sameGatewayContent);
}

/** A Gateway object's update-timestamp in unix ms, or null when it is missing or not a count of seconds. */
export function updateTimestampMs(object: unknown): number | null {
  if (!isRecord(object) || !isRecord(object.metadata) || !isRecord(object.metadata.annotations)) return null;
  return unixSecondsAnnotationMs(object.metadata.annotations[UPDATE_TIMESTAMP_ANNOTATION]);
}

/**
 * The names of Gateway objects to delete (pure), sorted: those not belonging to a live candidate
 * (liveHostnames, compared by object name) whose update-timestamp is missing or malformed, at least
 * maxAgeMs old (Submariner: stale when now >= timestamp + 15 s), or more than maxAgeMs in the future
 * (else a bad clock's object would never go). A live candidate's object is never deleted, however
 * old or malformed: its owner rewrites it, and deleting it would only fight the owner. An object
 * without a name cannot be deleted by name and is skipped.
 */
export function staleGateways(objects: readonly unknown[], liveHostnames: Iterable<string>, nowMs: number, maxAgeMs: number): string[] {
  const live = new Set<string>();
  for (const hostname of liveHostnames) {
    const name = gatewayObjectName(hostname);
    if (name.ok) live.add(name.name);
  }
  const stale = new Set<string>();
  for (const object of objects) {
    if (!isRecord(object) || !isRecord(object.metadata)) continue;
    const name = object.metadata.name;
    if (typeof name !== 'string' || name === '' || live.has(name)) continue;
    const stamp = updateTimestampMs(object);
    if (stamp === null || nowMs - stamp >= maxAgeMs || stamp - nowMs > maxAgeMs) stale.add(name);
  }
  return [...stale].sort();
}

/**
 * Whether another candidate can take over at once (a handover's condition): its Gateway object is
 * fresh (update-timestamp within maxAgeMs of now, not from the future), passive, and reports no
 * failure. A refused candidate also publishes a passive object, but with its reason as the failure.
 */
export function standbyReady(objects: readonly unknown[], ownHostname: string, nowMs: number, maxAgeMs: number): boolean {
  const own = gatewayObjectName(ownHostname);
  return objects.some((object) => {
    if (!isRecord(object) || !isRecord(object.metadata) || !isRecord(object.status)) return false;
    if (own.ok && object.metadata.name === own.name) return false;
    const stamp = updateTimestampMs(object);
    const fresh = stamp !== null && nowMs - stamp < maxAgeMs && stamp - nowMs <= maxAgeMs;
    return fresh && object.status.haStatus === 'passive' && object.status.statusFailure === '';
  });
}
