/**
 * The gateway election's decisions (pure): from what the gateway last saw of its Lease, of
 * Submariner's Lease and of itself, which state it is in, what to do with the Lease, and what
 * to do with the cables. The driver (gateway/election.ts) observes and writes; this decides.
 *
 * Fail static: a renewal that fails keeps the gateway active and its cables up until another
 * holder is actually observed. An API outage longer than the lease never tears tunnels down: not
 * seeing the Lease is not seeing someone else hold it. Going active needs positive knowledge: the
 * Lease free or expired as read just now, and Submariner's own `submariner-gateway-lock` known to
 * have no live holder (two implementations must not fight over a cluster). A live holder of either
 * Lease, observed, makes an active gateway step down.
 *
 * All times are on the gateway's own monotonic clock: the driver passes, as a Lease's renewTime,
 * the moment it saw that renewal, so skewed or jumping wall clocks cannot expire a live holder.
 */

export type HaState =
  /** Just started: leftovers of an earlier run (abandoned kernel state) go once another holder is seen. */
  | 'starting'
  /** Not a candidate: no gateway label, or its configuration (PSK, broker credentials) is bad. Routing goes on. */
  | 'refused'
  /** A candidate; someone else holds the Lease (or it cannot safely try). */
  | 'standby'
  /** A candidate trying to take a free or expired Lease. */
  | 'acquiring'
  /** Holds the Lease, renewed in time. */
  | 'active'
  /** Holds the Lease as last seen, but renewals fail (API outage): stays active, cables up. */
  | 'active-unconfirmed'
  /** Giving the Lease up for a ready standby (SIGTERM, label removed): cables up until the release went through. */
  | 'handing-over'
  /** Stopping: handed over, or without a ready standby exiting with the kernel state left for a restarted gateway to adopt. */
  | 'stopped';

const ACTIVE_STATES: ReadonlySet<HaState> = new Set(['active', 'active-unconfirmed']);

/** A Lease as the gateway last read it, its renewal timed on the gateway's own clock. */
export interface LeaseView {
  holder: string | null;
  /** When this gateway saw the current renewal (its monotonic clock), or null when the Lease names none. */
  renewTimeMs: number | null;
  durationSeconds: number;
  transitions: number;
}

export interface HaInputs {
  /** Per node: the gateway DaemonSet must not surge (two processes on one node would share it). */
  identity: string;
  /** The gateway's monotonic clock. */
  nowMs: number;
  /** Why this node may not be a candidate (a bad PSK, bad broker credentials), or null. */
  refusal: string | null;
  /** The node carries the gateway label. */
  labelled: boolean;
  /** SIGTERM received. */
  stopping: boolean;
  /** The last read of our Lease: null when it does not exist; `readError` when the last read failed. */
  own: { lease: LeaseView | null } | { readError: string };
  /** When our last acquire or renew went through (monotonic), or null. */
  lastRenewOkMs: number | null;
  /** The fencing token of our last active decision: kept while the Lease cannot be read. */
  lastFencingToken: number | undefined;
  /** Submariner's Lease: null when absent, `unknown` when it could not be read. */
  submariner: LeaseView | null | 'unknown';
  /** Another candidate's Gateway object is fresh, passive and without a failure: it can take over at once. */
  standbyReady: boolean;
}

/**
 * What to do with the cables: `run` (connect and keep them), `stop` (someone else is active, or
 * leftovers of an earlier run: disconnect them), `release` (handed over: stop them gracefully,
 * DELETE sent to the peers), `abandon` (exit leaving the kernel state in place), `keep` (change nothing).
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

/** Another gateway, or Submariner's, observed holding its Lease right now: the only thing that makes an active gateway let go. */
function otherHolder(inputs: HaInputs): string | undefined {
  const own = 'lease' in inputs.own ? inputs.own.lease : null;
  if (own && own.holder !== inputs.identity && live(own, inputs.nowMs)) return `another gateway (${own.holder}) holds the Lease`;
  const submariner = inputs.submariner;
  if (submariner && submariner !== 'unknown' && live(submariner, inputs.nowMs)) return `Submariner's gateway is active (${submariner.holder} holds submariner-gateway-lock)`;
  return undefined;
}

const withToken = (decision: HaDecision, token: number | undefined): HaDecision => (token === undefined ? decision : { ...decision, fencingToken: token });

/** The decision for a candidate in good standing. */
function asCandidate(previous: HaState, inputs: HaInputs): HaDecision {
  const { identity, nowMs } = inputs;
  const wasActive = ACTIVE_STATES.has(previous);
  const other = otherHolder(inputs);
  if (other !== undefined) {
    // Seen, not presumed: the active gateway steps down, a fresh start clears what an earlier run left.
    const cables = wasActive || previous === 'starting' ? 'stop' : 'keep';
    return { state: 'standby', reason: wasActive ? `${other}: stepping down` : `${other}: seaway stays passive`, lease: 'none', cables };
  }
  if ('readError' in inputs.own) {
    if (wasActive) return withToken({ state: 'active-unconfirmed', reason: `the Lease cannot be read (${inputs.own.readError}); no other holder seen: staying active`, lease: 'renew', cables: 'run' }, inputs.lastFencingToken);
    return { state: 'standby', reason: `the Lease cannot be read (${inputs.own.readError}): not going active blind`, lease: 'none', cables: 'keep' };
  }
  const lease = inputs.own.lease;
  if (lease && lease.holder === identity) {
    const renewedInTime = inputs.lastRenewOkMs !== null && inputs.lastRenewOkMs + lease.durationSeconds * 1000 > nowMs;
    if (renewedInTime) return { state: 'active', reason: 'holds the Lease', lease: 'renew', cables: 'run', fencingToken: lease.transitions };
    if (wasActive) return { state: 'active-unconfirmed', reason: 'renewals fail; no other holder seen: staying active', lease: 'renew', cables: 'run', fencingToken: lease.transitions };
    // Ours by name but not renewed by this process (a restart): taken up again like a free Lease, below.
  }
  if (inputs.submariner === 'unknown') {
    return wasActive
      ? withToken({ state: 'active-unconfirmed', reason: 'Submariner\'s Lease cannot be read; no other holder seen: staying active', lease: 'renew', cables: 'run' }, inputs.lastFencingToken)
      : { state: 'standby', reason: 'Submariner\'s submariner-gateway-lock cannot be read: not going active while its gateway may be', lease: 'none', cables: 'keep' };
  }
  const expired = lease?.holder ? (lease.holder === identity ? 'our Lease from before a restart is taken up again' : `the Lease of ${lease.holder} expired`) : 'the Lease is free';
  return { state: 'acquiring', reason: expired, lease: 'acquire', cables: wasActive ? 'run' : 'keep' };
}

/** Stepping down (SIGTERM, label removed, configuration gone bad): hand over to a ready standby; else keep what runs. */
function stepDown(previous: HaState, inputs: HaInputs, why: string, exiting: boolean): HaDecision {
  const passive = (reason: string, cables: CableAction): HaDecision => ({ state: exiting ? 'stopped' : 'refused', reason, lease: 'none', cables });
  // Unread is not released: until the Lease is seen without us, the release is tried again.
  const ours = 'readError' in inputs.own || inputs.own.lease?.holder === inputs.identity;
  const other = otherHolder(inputs);
  if (previous === 'handing-over') {
    // Tunnels stay up until the Lease no longer names us: a failed release must not leave the cluster with no gateway.
    if (!ours) return passive(`${why}; handed over`, 'release');
    if (other !== undefined) return passive(`${why}; ${other}`, 'stop');
    return withToken({ state: 'handing-over', reason: `${why}; releasing the Lease`, lease: 'release', cables: 'run' }, inputs.lastFencingToken);
  }
  if (!ACTIVE_STATES.has(previous)) return passive(why, previous === 'starting' && other !== undefined ? 'stop' : 'keep');
  if (other !== undefined) return passive(`${why}; ${other}`, 'stop');
  if (inputs.standbyReady) return withToken({ state: 'handing-over', reason: `${why}; a standby is ready: releasing the Lease`, lease: 'release', cables: 'run' }, inputs.lastFencingToken);
  // A node that is no longer a gateway gets no restarted gateway to adopt its state: its floor would drop its pods' traffic for good.
  if (exiting && !inputs.labelled) return passive(`${why}; no standby is ready, but this node is no longer a gateway candidate: its cables are taken down`, 'stop');
  if (exiting) return passive(`${why}; no standby is ready: the kernel state stays for a restarted gateway to adopt`, 'abandon');
  const staying = asCandidate(previous, inputs);
  return { ...staying, reason: `${why}; no standby is ready: staying active until one is (${staying.reason})` };
}

export function decideHa(previous: HaState, inputs: HaInputs): HaDecision {
  if (inputs.stopping) return stepDown(previous, inputs, 'stopping (SIGTERM)', true);
  if (!inputs.labelled) return stepDown(previous, inputs, 'the node lost its gateway label', false);
  if (inputs.refusal !== null) return stepDown(previous, inputs, `not a candidate: ${inputs.refusal}`, false);
  return asCandidate(previous, inputs);
}

/** A state change worth logging and counting, or null. */
export function haTransition(previous: HaState, next: HaDecision): { from: HaState; to: HaState; reason: string } | null {
  return previous === next.state ? null : { from: previous, to: next.state, reason: next.reason };
}
