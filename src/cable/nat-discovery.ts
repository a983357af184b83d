/**
 * NAT discovery on the wire: one udp4 socket on the discovery port (4490), used for both sides as
 * Submariner uses it, so requests leave from the port the remote answers to and NAT mappings hold.
 *
 * Responder: every request that decodes gets the answer plan/nat-discovery-responder.ts decides,
 * unless the rate limit says no. The port is unauthenticated UDP on a public address, and an answer
 * is larger than the smallest request that earns it, so answers are limited by a global token bucket
 * and one per source IP (kept in a bounded map, oldest source forgotten first; the global bucket
 * caps what spoofed sources could win by cycling the map). Oversized, undecodable, rate-limited and
 * unexpected datagrams are dropped without an answer and counted.
 *
 * Requester: one plan/nat-discovery-requester.ts state per remote cable; probes go out as the plan
 * says, answers are routed by their sender's endpoint_id (the remote's cable name), and every
 * change of a remote's selection is reported through onSelected. A timer ticks the plans every
 * second (unref'd: it never keeps the process alive) until close().
 */
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from '../telemetry/logger.ts';
import { routeSourceIp, type DatagramSocket } from '../kernel/udp.ts';
import { errorText } from '../model/error-text.ts';
import {
  NAT_DISCOVERY_MAX_DATAGRAM_BYTES, decodeNatDiscoveryMessage, encodeNatDiscoveryMessage, responseTypeName,
} from '../model/nat-discovery-message.ts';
import { checkLimits, fullBucket, takeToken, type TokenBucket, type TokenBucketLimits } from '../model/token-bucket.ts';
import { respondToNatDiscoveryRequest, type NatDiscoveryIdentity } from '../plan/nat-discovery-responder.ts';
import {
  DEFAULT_NAT_REQUESTER_SETTINGS, natDiscoveryRequest, natRemoteChanged, natReprobe, natResponse, natTick, natView,
  startNatRequester, type NatProbe, type NatRemote, type NatRequesterSettings, type NatRequesterState, type NatStep, type NatView,
} from '../plan/nat-discovery-requester.ts';

export type NatDropReason = 'malformed' | 'oversized' | 'rate-limited' | 'unexpected';

/** Where the driver counts what it does (metrics in main, plain counts in tests). */
export interface NatDiscoveryCounters {
  /** A datagram was dropped: too long, not a NAT discovery message, over the rate limit, or an answer nobody asked for. */
  dropped(reason: NatDropReason): void;
  /** A datagram arrived (before any check). */
  received?(): void;
  /** An answer went out, with its ResponseType. */
  responded?(response: number): void;
}

export interface NatRateLimits {
  /** Answers from all sources together. */
  global: TokenBucketLimits;
  /** Answers to one source IP. A Submariner gateway sends about one request a second per address it probes. */
  perSource: TokenBucketLimits;
  /** Source IPs remembered; past this the oldest is forgotten. */
  maxSources: number;
}

export const DEFAULT_NAT_RATE_LIMITS: NatRateLimits = {
  global: { capacity: 200, refillPerSecond: 100 },
  perSource: { capacity: 10, refillPerSecond: 2 },
  maxSources: 1024,
};

export interface NatDiscoveryOptions {
  /** The discovery port to bind (Submariner: backend_config natt-discovery-port, 4490). */
  port: number;
  /** The address to bind; all addresses when absent. When given, requests name it as their source. */
  address?: string;
  /** This gateway: cluster, cable name, private IP, and whether its Endpoint says it is behind NAT. */
  local: NatDiscoveryIdentity & { natEnabled: boolean };
  createSocket: () => DatagramSocket;
  /** Seeds the request counter (random in main, so numbers from a restarted gateway do not repeat old ones). */
  requestCounterSeed: bigint;
  counters: NatDiscoveryCounters;
  log: Logger;
  /** Called on every change of a remote's selection, the first (provisional) one included. */
  onSelected?: (cableName: string, view: NatView) => void;
  /** Source address lookup for requests (default routeSourceIp). */
  sourceIpFor?: (targetIp: string, port: number) => Promise<string>;
  /** Monotonic milliseconds (default performance.now). */
  now?: () => number;
  /** Tick period (default 1000 ms). 0: no timer, the caller calls tick(). */
  tickMs?: number;
  settings?: Partial<NatRequesterSettings>;
  limits?: NatRateLimits;
}

export interface NatDiscovery {
  /** Starts (or, when its facts changed, restarts) discovery for a remote; returns what to use now. */
  discover(remote: NatRemote): NatView;
  forget(cableName: string): void;
  /** The tunnel went quiet: probe again, keeping the current selection meanwhile. */
  reprobe(cableName: string): void;
  selection(cableName: string): NatView | undefined;
  /** One step of every remote's plan (the timer's work). */
  tick(): void;
  close(): Promise<void>;
}

export async function openNatDiscovery(options: NatDiscoveryOptions): Promise<NatDiscovery> {
  const { local, counters, log } = options;
  const now = options.now ?? (() => performance.now());
  const settings: NatRequesterSettings = { ...DEFAULT_NAT_REQUESTER_SETTINGS, ...options.settings };
  const limits = options.limits ?? DEFAULT_NAT_RATE_LIMITS;
  for (const [name, l] of [['global', limits.global], ['perSource', limits.perSource]] as const) {
    const problem = checkLimits(l);
    if (problem) throw new Error(`NAT discovery rate limit ${name}: ${problem}`);
  }
  const sourceIpFor = options.sourceIpFor ?? routeSourceIp;

  const remotes = new Map<string, NatRequesterState>();
  let counter = options.requestCounterSeed;
  let globalBucket: TokenBucket = fullBucket(limits.global, now());
  const sourceBuckets = new Map<string, TokenBucket>();
  let closed = false;

  const socket = options.createSocket();
  let bindFailed: ((error: Error) => void) | undefined;
  socket.on('error', (error) => {
    if (bindFailed) bindFailed(error);
    else log.warn({ err: errorText(error) }, 'NAT discovery socket error');
  });
  try {
    await new Promise<void>((resolve, reject) => {
      bindFailed = reject;
      socket.bind(options.port, options.address, () => resolve());
    });
  } catch (error) {
    try { socket.close(() => undefined); } catch { /* never bound: nothing to close */ }
    throw error;
  } finally {
    bindFailed = undefined;
  }

  const send = (message: Buffer, port: number, ip: string, what: string) => {
    if (closed) return;
    socket.send(message, port, ip, (error) => {
      // A private IP without a route from here is normal (that is what discovery finds out): debug, not warn.
      if (error) log.debug({ err: errorText(error), to: `${ip}:${port}` }, `sending NAT discovery ${what} failed`);
    });
  };

  function allowAnswer(ip: string, t: number): boolean {
    const taken = takeToken(sourceBuckets.get(ip) ?? fullBucket(limits.perSource, t), limits.perSource, t);
    sourceBuckets.delete(ip);
    sourceBuckets.set(ip, taken.bucket);
    if (sourceBuckets.size > limits.maxSources) sourceBuckets.delete(sourceBuckets.keys().next().value!);
    if (!taken.allowed) return false;
    const global = takeToken(globalBucket, limits.global, t);
    globalBucket = global.bucket;
    return global.allowed;
  }

  async function sendProbe(remote: NatRemote, probe: NatProbe): Promise<void> {
    const bound = options.address && options.address !== '0.0.0.0' ? options.address : undefined;
    const sourceIp = bound ?? await sourceIpFor(probe.ip, probe.port);
    const request = natDiscoveryRequest(local, options.port, remote, probe, sourceIp);
    send(encodeNatDiscoveryMessage(request), probe.port, probe.ip, 'request');
  }

  /** Keeps a step's state and counter, sends its probes, and reports a changed selection. */
  function apply(cableName: string, before: NatView | undefined, step: NatStep): NatView {
    remotes.set(cableName, step.state);
    counter = step.counter;
    for (const probe of step.probes) {
      sendProbe(step.state.remote, probe).catch((error: unknown) => log.warn({ err: errorText(error), cable: cableName }, 'NAT discovery probe failed'));
    }
    return report(cableName, before, step.state);
  }

  function report(cableName: string, before: NatView | undefined, state: NatRequesterState): NatView {
    const view = natView(state);
    const selectionOf = (v: NatView) => ({ ip: v.ip, useNat: v.useNat, final: v.final, basis: v.basis });
    if (!before || !isDeepStrictEqual(selectionOf(before), selectionOf(view))) {
      log.info({ cable: cableName, ip: view.ip, useNat: view.useNat, final: view.final, basis: view.basis }, 'NAT discovery selection');
      options.onSelected?.(cableName, view);
    }
    return view;
  }

  function onMessage(datagram: Buffer, from: { address: string; port: number }): void {
    counters.received?.();
    if (datagram.length > NAT_DISCOVERY_MAX_DATAGRAM_BYTES) return counters.dropped('oversized');
    const decoded = decodeNatDiscoveryMessage(datagram);
    if (!decoded.ok) {
      log.debug({ from: from.address, reason: decoded.reason }, 'NAT discovery datagram dropped');
      return counters.dropped(decoded.problem);
    }
    const { request, response } = decoded.message;
    const t = now();
    if (request) {
      if (!allowAnswer(from.address, t)) return counters.dropped('rate-limited');
      const answer = respondToNatDiscoveryRequest(request, { ip: from.address, port: from.port }, local);
      send(encodeNatDiscoveryMessage(answer), from.port, from.address, 'response');
      counters.responded?.(answer.response?.response ?? -1);
      return;
    }
    if (!response) return counters.dropped('malformed');
    const cableName = response.sender?.endpointId ?? '';
    const state = remotes.get(cableName);
    if (!state) return counters.dropped('unexpected');
    const { state: next, outcome } = natResponse(state, response, from.address, t, settings);
    if (outcome.kind === 'ignored') {
      log.debug({ cable: cableName, from: from.address, why: outcome.why }, 'NAT discovery answer ignored');
      return counters.dropped(outcome.why === 'malformed' ? 'malformed' : 'unexpected');
    }
    if (outcome.kind === 'error') {
      log.warn({ cable: cableName, from: from.address, target: outcome.error.target, response: responseTypeName(outcome.error.response) }, 'NAT discovery answered with an error; probing goes on');
    }
    const before = natView(state);
    remotes.set(cableName, next);
    report(cableName, before, next);
  }

  socket.on('message', (datagram, from) => {
    // Nothing can be answered to port 0 (a forged source): dropped before any work.
    if (from.port === 0) {
      counters.dropped('malformed');
      return;
    }
    try {
      onMessage(datagram, from);
    } catch (error) {
      // Nothing here should throw; if it does, one datagram is lost, never the listener.
      log.error({ err: errorText(error), from: from.address }, 'NAT discovery datagram handling failed');
      counters.dropped('malformed');
    }
  });

  const tick = () => {
    if (closed) return;
    const t = now();
    for (const [cableName, state] of [...remotes]) apply(cableName, natView(state), natTick(state, t, counter, settings));
  };
  const tickMs = options.tickMs ?? 1_000;
  const timer = tickMs > 0 ? setInterval(tick, tickMs) : undefined;
  timer?.unref();

  return {
    discover(remote) {
      const existing = remotes.get(remote.cableName);
      const t = now();
      const step = existing
        ? natRemoteChanged(existing, remote, t, counter, settings)
        : startNatRequester(remote, local.natEnabled, t, counter, settings);
      return apply(remote.cableName, existing && natView(existing), step);
    },
    forget(cableName) {
      remotes.delete(cableName);
    },
    reprobe(cableName) {
      const state = remotes.get(cableName);
      if (state) apply(cableName, natView(state), natReprobe(state, now(), counter, settings));
    },
    selection(cableName) {
      const state = remotes.get(cableName);
      return state && natView(state);
    },
    tick,
    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearInterval(timer);
      await new Promise<void>((resolve) => { socket.close(() => resolve()); });
    },
  };
}
