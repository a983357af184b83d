import type { DesiredObject, ObjectKind, ObjectRef } from '../plan/desired-objects.ts';
import { backoffDelay, type BackoffPolicy } from './backoff.ts';

export type ObjectState = 'pending' | 'in-progress' | 'programmed' | 'failed';

/** One object's status: the single source readiness, metrics, `seaway status` and later the status objects read. */
export interface ObjectStatus {
  component: string;
  kind: ObjectKind;
  key: string;
  /** What seaway wants it to be (or, for an object no longer wanted, that it is being removed). */
  object: string;
  state: ObjectState;
  /** Why it is pending or failed: the kernel's or the tool's own words. */
  reason?: string;
  /** errno name or tool error code (EEXIST, ETIMEDOUT, ...). */
  code?: string;
  /** Unix ms at which it entered this state (for failed: when the failure streak began). */
  since: number;
  /** Consecutive failed attempts. */
  attempts: number;
  /** Failed: the earliest Unix ms at which it is attempted again; no pass before then retries it. */
  retryAt?: number;
  /** False for an object that is being removed (a stale route that would not go away). */
  desired: boolean;
}

/** What a component says after applying: everything desired and not mentioned here is programmed. */
export interface ComponentReport {
  failures: ReadonlyArray<ObjectRef & {
    object: string;
    reason: string;
    code?: string;
    /** Waits on another object (its device does not exist yet): pending, not failed, and no backoff of its own. */
    blocked?: boolean;
  }>;
  /** Objects the gate held back (in backoff, or still in progress): their status stays as it was. */
  deferred: readonly ObjectRef[];
  /**
   * Objects whose programming was started and completes later (an IKE negotiation): in progress
   * until the completion settles, without holding up the pass or the other objects. A rejection
   * is a failure with the error's message.
   */
  started?: ReadonlyArray<ObjectRef & { completion: Promise<void> }>;
}

export interface ObjectTableOptions {
  backoff: BackoffPolicy;
  now?: () => number;
  random?: () => number;
  /** An asynchronous object settled: the caller wakes its loop so readiness and dependants follow. */
  onSettled?: (status: ObjectStatus) => void;
}

const idOf = (ref: ObjectRef): string => `${ref.kind}\u0000${ref.key}`;

/**
 * Per-object reconcile state, keyed per component. Components ask `mayAttempt` before writing an
 * object, so a failing object is retried on its own backoff whatever wakes the loop, and every
 * other object is programmed at once. Pure bookkeeping: no I/O, no timers.
 */
export class ObjectTable {
  readonly #components = new Map<string, Map<string, ObjectStatus>>();
  readonly #options: ObjectTableOptions;
  readonly #now: () => number;
  readonly #random: () => number;
  /** Per in-progress object, the start it belongs to: a stale completion must not overwrite a newer state. */
  readonly #tokens = new WeakMap<ObjectStatus, symbol>();

  constructor(options: ObjectTableOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
  }

  /**
   * Before a component applies: objects it wants that are new, or wanted differently than before,
   * become pending (a changed object is new work, not a retry of the old one, so it skips the old
   * backoff). Returns the gate the component consults.
   */
  prepare(component: string, desired: readonly DesiredObject[]): (kind: ObjectKind, key: string) => boolean {
    const entries = this.#entries(component);
    const now = this.#now();
    for (const want of desired) {
      const id = idOf(want);
      const have = entries.get(id);
      if (have === undefined || have.object !== want.object || !have.desired) {
        if (have?.state === 'in-progress') continue; // its completion decides; the gate holds it meanwhile
        entries.set(id, { component, kind: want.kind, key: want.key, object: want.object, state: 'pending', since: now, attempts: 0, desired: true });
      }
    }
    return (kind, key) => this.mayAttempt(component, kind, key);
  }

  /** False while the object is in progress or waiting out its backoff. */
  mayAttempt(component: string, kind: ObjectKind, key: string): boolean {
    const entry = this.#components.get(component)?.get(idOf({ kind, key }));
    if (entry === undefined) return true;
    if (entry.state === 'in-progress') return false;
    return entry.state !== 'failed' || entry.retryAt === undefined || entry.retryAt <= this.#now();
  }

  /** After a component applied `desired`: records each object's outcome; objects neither wanted nor failing are forgotten. */
  record(component: string, desired: readonly DesiredObject[], report: ComponentReport): void {
    const entries = this.#entries(component);
    const now = this.#now();
    const failures = new Map(report.failures.map((f) => [idOf(f), f]));
    const deferred = new Set(report.deferred.map(idOf));
    const started = new Map((report.started ?? []).map((s) => [idOf(s), s]));
    const wanted = new Set<string>();
    for (const want of desired) {
      const id = idOf(want);
      wanted.add(id);
      const entry = entries.get(id) ?? { component, kind: want.kind, key: want.key, object: want.object, state: 'pending' as const, since: now, attempts: 0, desired: true };
      entries.set(id, entry);
      const failure = failures.get(id);
      const start = started.get(id);
      if (start) this.#start(entry, start.completion, now);
      else if (failure) this.#fail(entry, failure, now);
      // An object in progress is settled by its completion only, whatever the component says meanwhile.
      else if (!deferred.has(id) && entry.state !== 'in-progress') this.#set(entry, 'programmed', now);
    }
    // What is no longer wanted: a removal that failed stays visible (and backs off) until it succeeds.
    for (const [id, failure] of failures) {
      if (wanted.has(id)) continue;
      let entry = entries.get(id);
      if (entry === undefined || entry.desired) {
        entry = { component, kind: failure.kind, key: failure.key, object: failure.object, state: 'pending', since: now, attempts: entry?.attempts ?? 0, desired: false };
        entries.set(id, entry);
      }
      this.#fail(entry, failure, now);
    }
    for (const [id, entry] of entries) {
      if (wanted.has(id) || failures.has(id) || deferred.has(id)) continue;
      if (entry.state === 'in-progress') continue; // settles on its own; then it is forgotten on the next record
      entries.delete(id);
    }
  }

  /** Every object of every component, in insertion order. */
  list(): ObjectStatus[] {
    return [...this.#components.values()].flatMap((entries) => [...entries.values()]).map((entry) => ({ ...entry }));
  }

  /** Objects that are not (yet) as wanted: pending, in progress or failed. */
  unsettled(): ObjectStatus[] {
    const out: ObjectStatus[] = [];
    for (const entries of this.#components.values()) for (const entry of entries.values()) if (entry.state !== 'programmed') out.push({ ...entry });
    return out;
  }

  /** How many objects are in each state, per kind (programmed counts only wanted objects). */
  counts(): Map<ObjectKind, Record<ObjectState, number>> {
    const counts = new Map<ObjectKind, Record<ObjectState, number>>();
    for (const entries of this.#components.values()) {
      for (const entry of entries.values()) {
        const byState = counts.get(entry.kind) ?? { pending: 0, 'in-progress': 0, programmed: 0, failed: 0 };
        counts.set(entry.kind, byState);
        byState[entry.state]++;
      }
    }
    return counts;
  }

  /** The earliest time a failed object may be retried, if any is waiting. */
  nextRetryAt(): number | undefined {
    let earliest: number | undefined;
    for (const entries of this.#components.values()) {
      for (const entry of entries.values()) {
        if (entry.state === 'failed' && entry.retryAt !== undefined && (earliest === undefined || entry.retryAt < earliest)) earliest = entry.retryAt;
      }
    }
    return earliest;
  }

  #entries(component: string): Map<string, ObjectStatus> {
    let entries = this.#components.get(component);
    if (!entries) this.#components.set(component, (entries = new Map()));
    return entries;
  }

  #set(entry: ObjectStatus, state: 'pending' | 'programmed', now: number, reason?: string): void {
    if (entry.state !== state || entry.reason !== reason) entry.since = now;
    entry.state = state;
    entry.attempts = 0;
    delete entry.retryAt;
    delete entry.code;
    if (reason === undefined) delete entry.reason;
    else entry.reason = reason;
  }

  #fail(entry: ObjectStatus, failure: { object: string; reason: string; code?: string; blocked?: boolean }, now: number): void {
    if (failure.blocked) {
      this.#set(entry, 'pending', now, failure.reason);
      return;
    }
    // A wanted object keeps its wanted description (the reason says which write failed): a
    // description that changed would count as new work and skip the backoff.
    if (!entry.desired) entry.object = failure.object;
    entry.reason = failure.reason;
    if (failure.code === undefined) delete entry.code;
    else entry.code = failure.code;
    // Reported again during its backoff (a check that needs no write, such as a missing underlay):
    // not an attempt, so neither the count nor the next retry moves.
    if (entry.state === 'failed' && entry.retryAt !== undefined && entry.retryAt > now) return;
    if (entry.state !== 'failed') entry.since = now;
    entry.state = 'failed';
    entry.attempts += 1;
    entry.retryAt = now + backoffDelay(entry.attempts, this.#options.backoff, this.#random);
  }

  #start(entry: ObjectStatus, completion: Promise<void>, now: number): void {
    const token = Symbol('start');
    this.#tokens.set(entry, token);
    const attempts = entry.attempts;
    this.#set(entry, 'pending', now);
    entry.state = 'in-progress';
    entry.attempts = attempts;
    completion.then(
      () => this.#settle(entry, token, () => this.#set(entry, 'programmed', this.#now())),
      (error: unknown) => this.#settle(entry, token, () => {
        const code = (error as { code?: unknown } | null)?.code;
        this.#fail(entry, { object: entry.object, reason: error instanceof Error ? error.message : String(error), ...(typeof code === 'string' ? { code } : {}) }, this.#now());
      }),
    );
  }

  #settle(entry: ObjectStatus, token: symbol, apply: () => void): void {
    if (this.#tokens.get(entry) !== token || entry.state !== 'in-progress') return;
    this.#tokens.delete(entry);
    const stillHeld = this.#components.get(entry.component)?.get(idOf(entry)) === entry;
    apply();
    if (!stillHeld) return;
    this.#options.onSettled?.({ ...entry });
  }
}
