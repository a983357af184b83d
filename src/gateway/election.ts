/**
 * The gateway election, turning: each round reads seaway's Lease and Submariner's, asks the pure
 * decision (model/gateway-ha.ts) what state the gateway is in and what to do, does the Lease write
 * it asked for, and tells the gateway role when the decision changes. Expiry is timed on this
 * gateway's monotonic clock from when it saw a renewal (as client-go does), never from the renewTime
 * another node wrote, so skewed or jumping wall clocks cannot make a live holder look expired; the
 * wall clock is used only for the times written into the Lease.
 */
import { performance } from 'node:perf_hooks';
import type { LeaseClient, LeaseRecord } from '../k8s/lease.ts';
import { errorText } from '../model/error-text.ts';
import { decideHa, haTransition, type HaDecision, type HaInputs, type HaState, type LeaseView } from '../model/gateway-ha.ts';
import type { Logger } from '../telemetry/logger.ts';

export interface ElectionOptions {
  leases: LeaseClient;
  /** seaway's Lease and Submariner's. */
  leaseName: string;
  submarinerLeaseName: string;
  /** Per node (`<node>-seaway-gateway`): a restarted gateway takes its Lease up again at once, so the DaemonSet must not surge. */
  identity: string;
  leaseDurationSeconds: number;
  /** What the gateway knows of itself, asked each round. */
  facts: () => { refusal: string | null; labelled: boolean; stopping: boolean; standbyReady: boolean };
  /** Called with every decision that differs from the last one (state, cables, fencing token). */
  onDecision: (decision: HaDecision, transition: { from: HaState; to: HaState } | null) => void | Promise<void>;
  log: Logger;
  /** Wall clock (unix ms), for the times written into the Lease. */
  now?: () => number;
  /** Monotonic clock (ms), for expiry. */
  monotonic?: () => number;
}

/** When each Lease's current renewal was first seen here: a new holder, renewTime or resourceVersion restarts it. */
class RenewalClock {
  #key: string | undefined;
  #seenAt = 0;

  view(record: LeaseRecord | null, now: number): LeaseView | null {
    if (record === null) {
      this.#key = undefined;
      return null;
    }
    const key = `${record.holder ?? ''} ${record.renewTimeMs ?? ''} ${record.resourceVersion}`;
    if (key !== this.#key) {
      this.#key = key;
      this.#seenAt = now;
    }
    return { holder: record.holder, renewTimeMs: record.renewTimeMs === null ? null : this.#seenAt, durationSeconds: record.durationSeconds, transitions: record.transitions };
  }
}

export class GatewayElection {
  readonly #options: ElectionOptions;
  readonly #now: () => number;
  readonly #monotonic: () => number;
  readonly #own = new RenewalClock();
  readonly #submariner = new RenewalClock();
  /** The highest transition count seen on our Lease: a Lease created again continues from it. */
  #highestTransitions = -1;
  #last: HaDecision | undefined;
  #record: LeaseRecord | null = null;
  #lastRenewOkMs: number | null = null;
  #failingWrites = 0;
  /** State changes so far, by target state (for the metric). */
  readonly transitions = new Map<HaState, number>();

  constructor(options: ElectionOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#monotonic = options.monotonic ?? (() => performance.now());
  }

  get state(): HaState {
    return this.#last?.state ?? 'starting';
  }

  get decision(): HaDecision | undefined {
    return this.#last;
  }

  /** One round: observe, decide, write, report. Never throws: an unreadable Lease is an input, not an error. */
  async round(): Promise<HaDecision> {
    const { leases, leaseName, submarinerLeaseName, identity, log } = this.#options;
    const now = this.#monotonic();
    let own: HaInputs['own'];
    try {
      this.#record = await leases.observe(leaseName);
      if (this.#record) this.#highestTransitions = Math.max(this.#highestTransitions, this.#record.transitions);
      own = { lease: this.#ownView(now) };
    } catch (error) {
      own = { readError: errorText(error) };
    }
    let submariner: HaInputs['submariner'];
    try {
      submariner = this.#submariner.view(await leases.observe(submarinerLeaseName), now);
    } catch {
      submariner = 'unknown';
    }
    const facts = this.#options.facts();
    const lastFencingToken = this.#last?.fencingToken;
    let decision = decideHa(this.state, { identity, nowMs: now, own, submariner, lastRenewOkMs: this.#lastRenewOkMs, lastFencingToken, ...facts });
    if (await this.#write(decision, now)) {
      // Taken, renewed or released: decided again at once with the Lease as written, so the gateway acts on it this round.
      decision = decideHa(decision.state, { identity, nowMs: now, own: { lease: this.#ownView(now) }, submariner, lastRenewOkMs: this.#lastRenewOkMs, lastFencingToken, ...facts });
    }
    const transition = haTransition(this.state, decision);
    if (transition) {
      this.transitions.set(transition.to, (this.transitions.get(transition.to) ?? 0) + 1);
      log.info({ from: transition.from, to: transition.to, reason: transition.reason }, `gateway election: ${transition.from} -> ${transition.to}`);
    }
    const changed = !this.#last || this.#last.state !== decision.state || this.#last.cables !== decision.cables || this.#last.fencingToken !== decision.fencingToken;
    this.#last = decision;
    if (changed) {
      try {
        await this.#options.onDecision(decision, transition ? { from: transition.from, to: transition.to } : null);
      } catch (error) {
        log.error({ err: errorText(error), state: decision.state }, 'gateway election: acting on the decision failed');
      }
    }
    return decision;
  }

  /** Our own Lease: while we hold it, expiry counts from our last successful renewal. */
  #ownView(now: number): LeaseView | null {
    const view = this.#own.view(this.#record, now);
    if (view && this.#record?.holder === this.#options.identity && this.#lastRenewOkMs !== null) return { ...view, renewTimeMs: this.#lastRenewOkMs };
    return view;
  }

  /** The Lease write the decision asked for; whether it went through. */
  async #write(decision: HaDecision, now: number): Promise<boolean> {
    const { leases, leaseName, identity, leaseDurationSeconds, log } = this.#options;
    if (decision.lease === 'none') return false;
    const expected = this.#record;
    const wall = this.#now();
    // A Lease created again (someone deleted it) continues the count, so no older Endpoint outranks the new holder.
    const floor = expected === null && this.#highestTransitions >= 0 ? this.#highestTransitions + 1 : 0;
    const result = decision.lease === 'acquire'
      ? await leases.acquire(leaseName, identity, leaseDurationSeconds, wall, expected, floor)
      : expected === null
        ? { ok: false as const, reason: 'not-found' as const, message: 'the Lease is gone' }
        : decision.lease === 'renew'
          ? await leases.renew(leaseName, identity, leaseDurationSeconds, wall, expected)
          : await leases.release(leaseName, identity, wall, expected);
    if (result.ok) {
      this.#record = result.record;
      this.#highestTransitions = Math.max(this.#highestTransitions, result.record.transitions);
      this.#lastRenewOkMs = decision.lease === 'release' ? null : now;
      if (this.#failingWrites > 0) log.info({ lease: leaseName, failed: this.#failingWrites }, `gateway election: Lease writes go through again after ${this.#failingWrites} failures`);
      this.#failingWrites = 0;
      return true;
    }
    // Losing a race for a free Lease is the election working; anything else is worth one line per streak, not one per round.
    if (result.reason !== 'conflict' || decision.lease !== 'acquire') {
      this.#failingWrites += 1;
      const fields = { lease: leaseName, action: decision.lease, reason: result.reason, err: result.message };
      if (this.#failingWrites === 1) log.warn(fields, `gateway election: ${decision.lease} failed (logged again when it recovers)`);
      else log.debug(fields, `gateway election: ${decision.lease} failed`);
    }
    return false;
  }
}
