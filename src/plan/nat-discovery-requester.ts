/**
 * NAT discovery, the asking side: per remote Endpoint, which of its addresses to build the cable to
 * (private or public) and whether the path is NATed. Plain data in and out, time passed in; the
 * driver (cable/nat-discovery.ts) sends the probes this returns and feeds the answers back.
 *
 * As Submariner does (`pkg/natdiscovery/remote_endpoint.go`, `request_send.go`, `response_handle.go`):
 * - probes go to the private and the public IP (each if set) at once, and again to both whenever the
 *   last send is at least `recheckMs` (2 s) old; the driver ticks every second;
 * - request numbers come from one counter for all remotes, seeded randomly, +1 per request; only an
 *   answer carrying the number of a request outstanding for this remote counts;
 * - an OK or NAT_DETECTED answer to the private probe, coming from exactly the private IP, selects
 *   the private IP; to the public probe (from wherever: NAT may rewrite it) the public IP; in both
 *   cases useNat = (answer is NAT_DETECTED);
 * - private is preferred: a private answer up to `upgradeWindowMs` (1 s) after a public selection
 *   replaces it;
 * - error answers (UNKNOWN_DST_*, MALFORMED) are recorded for status and probing goes on.
 *
 * Where seaway differs, on purpose (research/gateway.md section 5 item 2, "never block on NAT discovery"):
 * - the fallback comes after `timeoutMs` (6 s by default) of silence, not 60 s;
 * - the fallback ("legacy" choice) takes the public IP with NAT when the remote *or this* gateway is
 *   NATed (or the remote is behind a load balancer) and the remote has a public IP, else the private
 *   IP (Submariner looks at the remote's flag only, and takes the public IP even when there is none);
 * - there is always an address to use: while nothing has answered yet the selection is that legacy
 *   choice, marked provisional (not final), so a caller may build the cable at once and move it if
 *   the answer differs;
 * - a public selection is final only once the private upgrade window has passed (or when no private
 *   probe is outstanding); a private one at once;
 * - a final selection stays until the remote's addresses change or the caller says the tunnel went
 *   quiet (reprobe): probing starts again while the current selection stays in force, not final.
 */
import { ResponseType, type NatDiscoveryMessage, type NatDiscoveryResponse } from '../model/nat-discovery-message.ts';
import type { EndpointSpec } from '../model/endpoint.ts';
import type { NatDiscoveryIdentity } from './nat-discovery-responder.ts';

/** What discovery needs of a remote Endpoint. */
export interface NatRemote {
  /** The remote's cable name: its identity here and the EndpointDetails' endpoint_id. */
  cableName: string;
  clusterId: string;
  privateIp: string;
  /** '' when the Endpoint gives none. */
  publicIp: string;
  natEnabled: boolean;
  /** backend_config `natt-discovery-port`; 0 when absent or invalid: the remote does not answer, use the legacy choice at once. */
  discoveryPort: number;
  /** backend_config `using-loadbalancer` (AWS NLB and the like: the public IP is the way in). */
  usingLoadBalancer: boolean;
}

export interface NatRequesterSettings {
  /** Probes again when the last send is at least this old. */
  recheckMs: number;
  /** With no usable answer after this long, the legacy choice is final. */
  timeoutMs: number;
  /** A private answer this soon after a public selection still replaces it. */
  upgradeWindowMs: number;
  /** How many request numbers are remembered per remote (older ones no longer count). */
  maxOutstanding: number;
}

export const DEFAULT_NAT_REQUESTER_SETTINGS: NatRequesterSettings = {
  recheckMs: 2_000, timeoutMs: 6_000, upgradeWindowMs: 1_000, maxOutstanding: 8,
};

export type NatTarget = 'private' | 'public';

/** Why the selection is what it is. */
export type NatSelectionBasis = 'provisional' | 'private-reply' | 'public-reply' | 'fallback' | 'no-discovery';

export interface NatSelection {
  /** The address to build the cable to now ('' only when the remote gives no address at all). */
  ip: string;
  useNat: boolean;
  /** False while an answer may still change it. */
  final: boolean;
  basis: NatSelectionBasis;
}

/** One request to send: the driver builds it with natDiscoveryRequest. */
export interface NatProbe {
  target: NatTarget;
  ip: string;
  port: number;
  requestNumber: bigint;
}

/** An error answer, kept for status. */
export interface NatProbeError {
  /** The ResponseType value. */
  response: number;
  target: NatTarget;
  from: string;
  atMs: number;
}

interface Outstanding {
  requestNumber: bigint;
  target: NatTarget;
}

export interface NatRequesterState {
  readonly remote: NatRemote;
  readonly localNatEnabled: boolean;
  readonly selection: NatSelection;
  /** Requests go out on ticks until an answer or the timeout. */
  readonly probing: boolean;
  readonly roundStartedMs: number;
  readonly lastSentMs: number | undefined;
  readonly selectedAtMs: number | undefined;
  readonly outstanding: readonly Outstanding[];
  readonly lastError: NatProbeError | undefined;
  readonly errorCount: number;
}

/** A transition's result: the new state, the request counter after it, and the requests to send. */
export interface NatStep {
  state: NatRequesterState;
  counter: bigint;
  probes: NatProbe[];
}

export type NatResponseOutcome =
  | { kind: 'selected'; target: NatTarget }
  | { kind: 'error'; error: NatProbeError }
  | { kind: 'ignored'; why: 'malformed' | 'unknown-request' | 'wrong-source' | 'late' };

/** The choice without an answer (see the header for how it differs from Submariner's). */
export function legacySelection(remote: NatRemote, localNatEnabled: boolean): { ip: string; useNat: boolean } {
  const natted = remote.usingLoadBalancer || remote.natEnabled || localNatEnabled;
  if (natted && remote.publicIp !== '') return { ip: remote.publicIp, useNat: true };
  return { ip: remote.privateIp, useNat: false };
}

const nextNumber = (counter: bigint): bigint => BigInt.asUintN(64, counter + 1n);

function sendProbes(state: NatRequesterState, nowMs: number, counter: bigint, settings: NatRequesterSettings): NatStep {
  const probes: NatProbe[] = [];
  let next = counter;
  for (const [target, ip] of [['private', state.remote.privateIp], ['public', state.remote.publicIp]] as const) {
    if (ip === '') continue;
    next = nextNumber(next);
    probes.push({ target, ip, port: state.remote.discoveryPort, requestNumber: next });
  }
  const outstanding = [...state.outstanding, ...probes.map(({ target, requestNumber }) => ({ target, requestNumber }))].slice(-settings.maxOutstanding);
  return { state: { ...state, outstanding, lastSentMs: nowMs }, counter: next, probes };
}

/**
 * Starts discovery for a remote: the legacy choice (or `carried`, a selection to keep in force) as a
 * provisional selection, and the first probes. A remote without a discovery port gets the legacy
 * choice, final, and no probes.
 */
export function startNatRequester(
  remote: NatRemote, localNatEnabled: boolean, nowMs: number, counter: bigint,
  settings: NatRequesterSettings = DEFAULT_NAT_REQUESTER_SETTINGS, carried?: NatSelection,
): NatStep {
  const base = { remote, localNatEnabled, roundStartedMs: nowMs, lastSentMs: undefined, selectedAtMs: undefined, outstanding: [], lastError: undefined, errorCount: 0 };
  if (remote.discoveryPort <= 0) {
    return { state: { ...base, probing: false, selection: { ...legacySelection(remote, localNatEnabled), final: true, basis: 'no-discovery' } }, counter, probes: [] };
  }
  const selection: NatSelection = carried ? { ...carried, final: false } : { ...legacySelection(remote, localNatEnabled), final: false, basis: 'provisional' };
  return sendProbes({ ...base, probing: true, selection }, nowMs, counter, settings);
}

/** The once-a-second step: probe again, fall back on timeout, or close a public selection's upgrade window. */
export function natTick(state: NatRequesterState, nowMs: number, counter: bigint, settings: NatRequesterSettings = DEFAULT_NAT_REQUESTER_SETTINGS): NatStep {
  if (!state.probing) {
    const windowOver = state.selectedAtMs !== undefined && nowMs - state.selectedAtMs > settings.upgradeWindowMs;
    if (!state.selection.final && state.selection.basis === 'public-reply' && windowOver) {
      return { state: { ...state, selection: { ...state.selection, final: true }, outstanding: [] }, counter, probes: [] };
    }
    return { state, counter, probes: [] };
  }
  if (nowMs - state.roundStartedMs >= settings.timeoutMs) {
    const selection: NatSelection = { ...legacySelection(state.remote, state.localNatEnabled), final: true, basis: 'fallback' };
    return { state: { ...state, probing: false, selection, selectedAtMs: nowMs, outstanding: [] }, counter, probes: [] };
  }
  if (state.lastSentMs === undefined || nowMs - state.lastSentMs >= settings.recheckMs) return sendProbes(state, nowMs, counter, settings);
  return { state, counter, probes: [] };
}

/** An answer routed to this remote (by its sender's endpoint_id), from `fromIp`. */
export function natResponse(
  state: NatRequesterState, response: NatDiscoveryResponse, fromIp: string, nowMs: number,
  settings: NatRequesterSettings = DEFAULT_NAT_REQUESTER_SETTINGS,
): { state: NatRequesterState; outcome: NatResponseOutcome } {
  const ignored = (why: 'malformed' | 'unknown-request' | 'wrong-source' | 'late') => ({ state, outcome: { kind: 'ignored', why } as const });
  // Submariner refuses answers without these too.
  if (!response.sender || !response.receiver || !response.receivedSrc) return ignored('malformed');
  const sent = state.outstanding.find((o) => o.requestNumber === response.requestNumber);
  if (!sent) return ignored('unknown-request');

  if (response.response !== ResponseType.OK && response.response !== ResponseType.NAT_DETECTED) {
    const error: NatProbeError = { response: response.response, target: sent.target, from: fromIp, atMs: nowMs };
    return { state: { ...state, lastError: error, errorCount: state.errorCount + 1 }, outcome: { kind: 'error', error } };
  }
  const useNat = response.response === ResponseType.NAT_DETECTED;
  const select = (selection: NatSelection) => ({
    state: { ...state, probing: false, selection, selectedAtMs: nowMs, outstanding: selection.final ? [] : state.outstanding },
    outcome: { kind: 'selected', target: sent.target } as const,
  });

  if (sent.target === 'private') {
    // NAT between private addresses is unlikely; Submariner filters such answers for safety, so do we.
    if (fromIp !== state.remote.privateIp) return ignored('wrong-source');
    const upgrade = !state.probing && !state.selection.final && state.selection.basis === 'public-reply'
      && state.selectedAtMs !== undefined && nowMs - state.selectedAtMs <= settings.upgradeWindowMs;
    if (!state.probing && !upgrade) return ignored('late');
    return select({ ip: state.remote.privateIp, useNat, final: true, basis: 'private-reply' });
  }
  if (!state.probing) return ignored('late');
  const privateMayAnswer = state.outstanding.some((o) => o.target === 'private');
  return select({ ip: state.remote.publicIp, useNat, final: !privateMayAnswer, basis: 'public-reply' });
}

/**
 * The tunnel went quiet: probe again, keeping the current selection in force (not final) until an
 * answer or the timeout decides. A remote already being probed, or without a discovery port, is left as it is
 * (so repeated calls cannot postpone the fallback).
 */
export function natReprobe(state: NatRequesterState, nowMs: number, counter: bigint, settings: NatRequesterSettings = DEFAULT_NAT_REQUESTER_SETTINGS): NatStep {
  if (state.probing || state.remote.discoveryPort <= 0) return { state, counter, probes: [] };
  const restarted: NatRequesterState = {
    ...state, probing: true, roundStartedMs: nowMs, lastSentMs: undefined, outstanding: [], selection: { ...state.selection, final: false },
  };
  return sendProbes(restarted, nowMs, counter, settings);
}

const sameRemote = (a: NatRemote, b: NatRemote): boolean =>
  a.cableName === b.cableName && a.clusterId === b.clusterId && a.privateIp === b.privateIp && a.publicIp === b.publicIp
  && a.natEnabled === b.natEnabled && a.discoveryPort === b.discoveryPort && a.usingLoadBalancer === b.usingLoadBalancer;

/**
 * The remote's Endpoint changed: unchanged facts change nothing; otherwise discovery starts over,
 * keeping the current address in force meanwhile if the new spec still has it.
 */
export function natRemoteChanged(
  state: NatRequesterState, remote: NatRemote, nowMs: number, counter: bigint, settings: NatRequesterSettings = DEFAULT_NAT_REQUESTER_SETTINGS,
): NatStep {
  if (sameRemote(state.remote, remote)) return { state, counter, probes: [] };
  const current = state.selection;
  const stillThere = current.ip !== '' && (current.ip === remote.privateIp || current.ip === remote.publicIp);
  return startNatRequester(remote, state.localNatEnabled, nowMs, counter, settings, stillThere ? current : undefined);
}

/** What the caller and status see. */
export interface NatView extends NatSelection {
  probing: boolean;
  lastError: NatProbeError | undefined;
  errorCount: number;
}

export function natView(state: NatRequesterState): NatView {
  return { ...state.selection, probing: state.probing, lastError: state.lastError, errorCount: state.errorCount };
}

/** The request for one probe. `sourceIp` is the address the route to the target leaves from ('' if unknown). */
export function natDiscoveryRequest(local: NatDiscoveryIdentity, localPort: number, remote: NatRemote, probe: NatProbe, sourceIp: string): NatDiscoveryMessage {
  return {
    version: 1,
    request: {
      requestNumber: probe.requestNumber,
      sender: { clusterId: local.clusterId, endpointId: local.endpointId },
      receiver: { clusterId: remote.clusterId, endpointId: remote.cableName },
      usingSrc: { ip: sourceIp, port: localPort },
      usingDst: { ip: probe.ip, port: probe.port },
    },
  };
}

/** Go's strconv.ParseBool true values, which Submariner's backend_config booleans go through. */
const TRUE_WORDS = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);

/** The discovery facts of a validated remote Endpoint. */
export function natRemoteFromEndpoint(spec: EndpointSpec): NatRemote {
  const portText = spec.backendConfig['natt-discovery-port'] ?? '';
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : 0;
  return {
    cableName: spec.cableName,
    clusterId: spec.clusterId,
    privateIp: spec.privateIp,
    publicIp: spec.publicIps[0] ?? '',
    natEnabled: spec.natEnabled,
    discoveryPort: port <= 65_535 ? port : 0,
    usingLoadBalancer: TRUE_WORDS.has(spec.backendConfig['using-loadbalancer'] ?? ''),
  };
}
