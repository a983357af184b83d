/**
 * The gateway election's decisions (pure): from what the gateway last saw of its Lease, of
 * Submariner's Lease and of itself, which state it is in, what to do with the Lease, and what
 * to do with the cables. The driver (k8s/) observes and writes; this decides.
 *
 * Fail static: a renewal that fails keeps the gateway active and its cables up until another
 * holder is actually observed. An API outage longer than the lease never tears tunnels down: not
 * seeing the Lease is not seeing someone else hold it. Going active needs positive knowledge: the
 * Lease free or expired as read just now, and Submariner's own `submariner-gateway-lock` known to
 * have no live holder (two implementations must not fight over a cluster).
 */

export type HaState =
  /** Not a candidate: its configuration (PSK, broker credentials) is bad. Routing goes on. */
  | 'refused'
  /** A candidate; someone else holds the Lease (or it cannot safely try). */
  | 'standby'
  /** A candidate trying to take a free or expired Lease. */
  | 'acquiring'
  /** Holds the Lease, renewed in time. */
  | 'active'
  /** Holds the Lease as last seen, but renewals fail (API outage): stays active, cables up. */
  | 'active-unconfirmed'
  /** Giving the Lease up for a ready standby (SIGTERM, label removed). */
  | 'handing-over'
  /** Stopping without a ready standby: exits leaving the kernel state for a restarted gateway to adopt. */
  | 'stopped';

export const ACTIVE_STATES: ReadonlySet<HaState> = new Set(['active', 'active-unconfirmed']);

/** A Lease as the gateway last read it. */
export interface LeaseView {
  holder: string | null;
  /**
   * When the holder last renewed, on this gateway's clock: the driver passes the local time at which
   * it first saw the current renewal (as client-go times expiry from its own observation), so clock
   * skew between gateway nodes cannot make a live holder look expired.
   */
  renewTimeMs: number | null;
  durationSeconds: number;
  transitions: number;
}

export interface HaInputs {
  identity: string;
  nowMs: number;
  /** Why this node may not be a candidate (a bad PSK, bad broker credentials), or null. */
  refusal: string | null;
  /** The node carries the gateway label. */
  labelled: boolean;
  /** SIGTERM received. */
  stopping: boolean;
  /** The last read of our Lease: null when it does not exist; `readError` when the last read failed. */
  own: { lease: LeaseView | null } | { readError: string };
  /** When our last acquire or renew went through (unix ms), or null. */
  lastRenewOkMs: number | null;
  /** Submariner's Lease: null when absent, `unknown` when it could not be read. */
  submariner: LeaseView | null | 'unknown';
  /** Another candidate's Gateway object is fresh and passive: it can take over at once. */
  standbyReady: boolean;
}

/**
 * What to do with the cables: `run` (connect and keep them), `stop` (someone else is active:
 * disconnect them), `release` (hand over: stop them gracefully, DELETE sent to the peers),
 * `abandon` (exit leaving the kernel state in place), `keep` (change nothing).
 */
export type CableAction = 'run' | 'stop' | 'release' | 'abandon' | 'keep';

export interface HaDecision {
  state: HaState;
  reason: string;
  lease: 'none' | 'acquire' | 'renew' | 'release';
  cables: CableAction;
  /** While active: the Lease's transition count, carried on the local Endpoint so a paused ex-leader's writes can be told apart. */
  fencingToken?: number;
}

const live = (lease: LeaseView, nowMs: number): boolean =>
  lease.holder !== null && lease.holder !== '' && lease.renewTimeMs !== null && lease.renewTimeMs + lease.durationSeconds * 1000 > nowMs;

/** Stepping down (SIGTERM, label removed, configuration gone bad): hand over to a ready standby, else keep what runs. */
function stepDown(previous: HaState, inputs: HaInputs, why: string, exiting: boolean): HaDecision {
  const passive = (reason: string): HaDecision => ({ state: exiting ? 'stopped' : 'refused', reason, lease: 'none', cables: 'keep' });
  if (previous === 'handing-over') {
    // Released once the Lease no longer names us; until then the release is tried again.
    const stillOurs = 'lease' in inputs.own && inputs.own.lease?.holder === inputs.identity;
    return stillOurs ? { state: 'handing-over', reason: `${why}; releasing the Lease`, lease: 'release', cables: 'release' } : passive(`${why}; handed over`);
  }
  if (!ACTIVE_STATES.has(previous)) return passive(why);
  if (inputs.standbyReady) return { state: 'handing-over', reason: `${why}; a standby is ready: releasing the Lease`, lease: 'release', cables: 'release' };
  if (exiting) return { state: 'stopped', reason: `${why}; no standby is ready: the kernel state stays for a restarted gateway to adopt`, lease: 'none', cables: 'abandon' };
  const token = fencingOf(inputs);
  return { state: previous, reason: `${why}; no standby is ready: staying active until one is`, lease: 'renew', cables: 'run', ...(token === undefined ? {} : { fencingToken: token }) };
}

function fencingOf(inputs: HaInputs): number | undefined {
  return 'lease' in inputs.own && inputs.own.lease ? inputs.own.lease.transitions : undefined;
}

export function decideHa(previous: HaState, inputs: HaInputs): HaDecision {
  const { identity, nowMs } = inputs;
  if (inputs.stopping) return stepDown(previous, inputs, 'stopping (SIGTERM)', true);
  if (!inputs.labelled) return stepDown(previous, inputs, 'the node lost its gateway label', false);
  if (inputs.refusal !== null) return stepDown(previous, inputs, `not a candidate: ${inputs.refusal}`, false);

  const wasActive = ACTIVE_STATES.has(previous);
  if ('readError' in inputs.own) {
    if (wasActive) {
      return { state: 'active-unconfirmed', reason: `the Lease cannot be read (${inputs.own.readError}); no other holder seen: staying active`, lease: 'renew', cables: 'run' };
    }
    return { state: 'standby', reason: `the Lease cannot be read (${inputs.own.readError}): not going active blind`, lease: 'none', cables: 'keep' };
  }

  const lease = inputs.own.lease;
  if (lease && lease.holder === identity) {
    const token = lease.transitions;
    const renewedInTime = inputs.lastRenewOkMs !== null && inputs.lastRenewOkMs + lease.durationSeconds * 1000 > nowMs;
    if (renewedInTime) return { state: 'active', reason: 'holds the Lease', lease: 'renew', cables: 'run', fencingToken: token };
    if (wasActive) {
      return { state: 'active-unconfirmed', reason: 'renewals fail; no other holder seen: staying active', lease: 'renew', cables: 'run', fencingToken: token };
    }
    // Ours by name but not renewed by this process (a restart): take it up again like a free Lease, below.
  }

  if (lease && lease.holder !== identity && live(lease, nowMs)) {
    if (wasActive) return { state: 'standby', reason: `another gateway (${lease.holder}) holds the Lease: stepping down`, lease: 'none', cables: 'stop' };
    return { state: 'standby', reason: `${lease.holder} holds the Lease`, lease: 'none', cables: 'keep' };
  }

  // The Lease is free, expired, or ours from before a restart: go for it, unless Submariner's gateway may be active.
  if (inputs.submariner === 'unknown') {
    return wasActive
      ? { state: 'active-unconfirmed', reason: 'Submariner\'s Lease cannot be read; staying active', lease: 'renew', cables: 'run', ...(lease ? { fencingToken: lease.transitions } : {}) }
      : { state: 'standby', reason: 'Submariner\'s submariner-gateway-lock cannot be read: not going active while its gateway may be', lease: 'none', cables: 'keep' };
  }
  if (inputs.submariner && live(inputs.submariner, nowMs) && !wasActive) {
    return { state: 'standby', reason: `Submariner's gateway is active (${inputs.submariner.holder} holds submariner-gateway-lock): seaway stays passive`, lease: 'none', cables: 'keep' };
  }
  return { state: 'acquiring', reason: lease?.holder ? `the Lease of ${lease.holder} expired` : 'the Lease is free', lease: 'acquire', cables: wasActive ? 'run' : 'keep' };
}

/** A state change worth logging and counting, or null. */
export function haTransition(previous: HaState, next: HaDecision): { from: HaState; to: HaState; reason: string } | null {
  return previous === next.state ? null : { from: previous, to: next.state, reason: next.reason };
}
