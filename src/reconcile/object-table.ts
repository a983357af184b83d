import type { DesiredObject, ObjectKind, ObjectRef } from '../plan/desired-objects.ts';
import { backoffDelay, type BackoffPolicy } from '../model/backoff.ts';
import { errorText } from '../model/error-text.ts';

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

/** Why an object is not programmed, in one phrase: its errno first unless the kernel's words already say it. */
export function reasonText(status: { reason?: string; code?: string }): string {
  const reason = status.reason ?? '';
  return status.code && !reason.includes(status.code) ? `${status.code}: ${reason}` : reason;
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

/**
 * An entry as kept: the status plus the pass generation that last saw it wanted or failing. Its
 * description is read from the desired object it was made from, when asked (a route's is made
 * then, not kept: see DescribedOnRead), unless one was set (a removal's, from its failure).
 */
class Entry {
  readonly component: string;
  readonly kind: ObjectKind;
  readonly key: string;
  /** The desired object (or failure) this entry was made from: the same object is the same want. */
  source: { readonly object: string };
  state: ObjectState;
  declare reason?: string;
  declare code?: string;
  since: number;
  attempts: number;
  declare retryAt?: number;
  desired: boolean;
  seen: number;
  #object: string | undefined;

  constructor(component: string, source: ObjectRef & { readonly object: string }, state: ObjectState, since: number, attempts: number, desired: boolean, seen: number) {
    this.component = component;
    this.kind = source.kind;
    this.key = source.key;
    this.source = source;
    this.state = state;
    this.since = since;
    this.attempts = attempts;
    this.desired = desired;
    this.seen = seen;
  }

  get object(): string {
    return this.#object ?? this.source.object;
  }

  set object(text: string) {
    this.#object = text;
  }

  /**
   * Wanted as `want` asks: the same desired object, or one that describes the same, which then
   * becomes the source (the next pass's same object is told at once, without descriptions).
   */
  wants(want: DesiredObject): boolean {
    if (this.source === want) return true;
    if (this.object !== want.object) return false;
    if (this.#object === undefined) this.source = want;
    return true;
  }
}

/** One component's objects: per kind, by key (no per-pass string building), and those not programmed. */
interface ComponentEntries {
  byKind: Map<ObjectKind, Map<string, Entry>>;
  /** Entries not programmed: the gate, readiness and the retry schedule look only here. */
  unsettled: Set<Entry>;
  /** Entries the gate holds back (failed or in progress): with none, the gate looks nothing up. */
  held: Set<Entry>;
  generation: number;
}

function publicCopy(entry: Entry): ObjectStatus {
  const status: ObjectStatus = {
    component: entry.component, kind: entry.kind, key: entry.key, object: entry.object, state: entry.state,
    since: entry.since, attempts: entry.attempts, desired: entry.desired,
  };
  if (entry.reason !== undefined) status.reason = entry.reason;
  if (entry.code !== undefined) status.code = entry.code;
  if (entry.retryAt !== undefined) status.retryAt = entry.retryAt;
  return status;
}

/**
 * Per-object reconcile state, keyed per component. Components ask the gate before writing an
 * object, so a failing object is retried on its own backoff whatever wakes the loop, and every
 * other object is programmed at once. Pure bookkeeping: no I/O, no timers. Built for 10,000s of
 * objects per pass: nothing per object allocates unless its state changes.
 */
export class ObjectTable {
  readonly #components = new Map<string, ComponentEntries>();
  readonly #options: ObjectTableOptions;
  readonly #now: () => number;
  readonly #random: () => number;
  /** Per in-progress object, the start it belongs to: a stale completion must not overwrite a newer state. */
  readonly #tokens = new WeakMap<Entry, symbol>();

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
    const c = this.#entries(component);
    const now = this.#now();
    let kind: ObjectKind | undefined;
    let entries: Map<string, Entry> | undefined;
    for (let i = 0; i < desired.length; i++) {
      const want = desired[i]!;
      // Desired objects come grouped by kind: one map lookup per group, not per object.
      if (want.kind !== kind) { kind = want.kind; entries = c.byKind.get(kind); }
      // A new object needs no entry yet (the gate lets unknown objects through; record files it).
      const have = entries?.get(want.key);
      if (have === undefined || (have.desired && have.wants(want))) continue;
      if (have.state === 'in-progress') continue; // its completion decides; the gate holds it meanwhile
      const entry = new Entry(component, want, 'pending', now, 0, true, c.generation);
      this.#put(c, entry, have);
    }
    return (kind, key) => {
      if (c.held.size === 0) return true;
      const entry = c.byKind.get(kind)?.get(key);
      return entry === undefined || this.#mayAttempt(entry);
    };
  }

  #mayAttempt(entry: Entry): boolean {
    if (entry.state === 'in-progress') return false;
    return entry.state !== 'failed' || entry.retryAt === undefined || entry.retryAt <= this.#now();
  }

  /** After a component applied `desired`: records each object's outcome; objects neither wanted nor failing are forgotten. */
  record(component: string, desired: readonly DesiredObject[], report: ComponentReport): void {
    const c = this.#entries(component);
    const now = this.#now();
    const generation = ++c.generation;
    const failures = report.failures.length === 0 ? null : new Map(report.failures.map((f) => [idOf(f), f]));
    const deferred = report.deferred.length === 0 ? null : new Set(report.deferred.map(idOf));
    const started = report.started === undefined || report.started.length === 0 ? null : new Map(report.started.map((s) => [idOf(s), s]));
    const special = failures !== null || deferred !== null || started !== null;
    let kind: ObjectKind | undefined;
    let entries: Map<string, Entry> | undefined;
    for (let i = 0; i < desired.length; i++) {
      const want = desired[i]!;
      // Desired objects come grouped by kind: one map lookup per group, not per object.
      if (want.kind !== kind) {
        kind = want.kind;
        entries = c.byKind.get(kind);
        if (!entries) c.byKind.set(kind, (entries = new Map()));
      }
      let entry = entries!.get(want.key);
      if (!special) {
        if (entry === undefined) {
          entries!.set(want.key, new Entry(component, want, 'programmed', now, 0, true, generation));
          continue;
        }
        entry.seen = generation;
        if (entry.state === 'pending' || entry.state === 'failed') this.#set(c, entry, 'programmed', now);
        continue;
      }
      if (entry === undefined) {
        entry = new Entry(component, want, 'pending', now, 0, true, generation);
        this.#put(c, entry, undefined);
      }
      entry.seen = generation;
      const id = idOf(want);
      const start = started?.get(id);
      const failure = failures?.get(id);
      if (start) this.#start(c, entry, start.completion, now);
      else if (failure) this.#fail(c, entry, failure, now);
      // An object in progress is settled by its completion only, whatever the component says meanwhile.
      else if (!deferred?.has(id) && entry.state !== 'in-progress' && entry.state !== 'programmed') this.#set(c, entry, 'programmed', now);
    }
    // What is no longer wanted: a removal that failed stays visible (and backs off) until it succeeds.
    for (const failure of failures?.values() ?? []) {
      let entry = c.byKind.get(failure.kind)?.get(failure.key);
      if (entry?.seen === generation) continue;
      if (entry === undefined || entry.desired) {
        const replacing = entry;
        entry = new Entry(component, failure, 'pending', now, entry?.attempts ?? 0, false, generation);
        this.#put(c, entry, replacing);
      }
      entry.seen = generation;
      this.#fail(c, entry, failure, now);
    }
    for (const ref of report.deferred) {
      const entry = c.byKind.get(ref.kind)?.get(ref.key);
      if (entry) entry.seen = generation;
    }
    // forEach, not for-of over entries: the image runs without TurboFan, where each [key, entry] of
    // 10,000 would be an allocation on every pass. (Deleting the current entry in forEach is allowed.)
    c.byKind.forEach((entries, kind) => {
      entries.forEach((entry, key) => {
        // In progress: settles on its own; then it is forgotten on the next record.
        if (entry.seen === generation || entry.state === 'in-progress') return;
        entries.delete(key);
        c.unsettled.delete(entry);
        c.held.delete(entry);
      });
      if (entries.size === 0) c.byKind.delete(kind);
    });
  }

  /** Every object of every component, in insertion order per kind. */
  list(): ObjectStatus[] {
    const out: ObjectStatus[] = [];
    for (const c of this.#components.values()) for (const entries of c.byKind.values()) for (const entry of entries.values()) out.push(publicCopy(entry));
    return out;
  }

  /** Objects that are not (yet) as wanted: pending, in progress or failed. */
  unsettled(): ObjectStatus[] {
    const out: ObjectStatus[] = [];
    for (const c of this.#components.values()) for (const entry of c.unsettled) out.push(publicCopy(entry));
    return out;
  }

  /** How many objects are in each state, per kind. */
  counts(): Map<ObjectKind, Record<ObjectState, number>> {
    const counts = new Map<ObjectKind, Record<ObjectState, number>>();
    for (const c of this.#components.values()) {
      for (const [kind, entries] of c.byKind) {
        const byState = counts.get(kind) ?? { pending: 0, 'in-progress': 0, programmed: 0, failed: 0 };
        counts.set(kind, byState);
        byState.programmed += entries.size;
      }
      for (const entry of c.unsettled) {
        const byState = counts.get(entry.kind)!;
        byState.programmed--;
        byState[entry.state]++;
      }
    }
    return counts;
  }

  /** The earliest time a failed object may be retried, if any is waiting. */
  nextRetryAt(): number | undefined {
    let earliest: number | undefined;
    for (const c of this.#components.values()) {
      for (const entry of c.unsettled) {
        if (entry.state === 'failed' && entry.retryAt !== undefined && (earliest === undefined || entry.retryAt < earliest)) earliest = entry.retryAt;
      }
    }
    return earliest;
  }

  #entries(component: string): ComponentEntries {
    let c = this.#components.get(component);
    if (!c) this.#components.set(component, (c = { byKind: new Map(), unsettled: new Set(), held: new Set(), generation: 0 }));
    return c;
  }

  /** Puts a new entry in place of `replacing` (if any) and files it by state. */
  #put(c: ComponentEntries, entry: Entry, replacing: Entry | undefined): void {
    let entries = c.byKind.get(entry.kind);
    if (!entries) c.byKind.set(entry.kind, (entries = new Map()));
    entries.set(entry.key, entry);
    if (replacing) { c.unsettled.delete(replacing); c.held.delete(replacing); }
    if (entry.state === 'programmed') c.unsettled.delete(entry);
    else c.unsettled.add(entry);
  }

  #set(c: ComponentEntries, entry: Entry, state: 'pending' | 'programmed', now: number, reason?: string): void {
    if (entry.state !== state || entry.reason !== reason) entry.since = now;
    entry.state = state;
    entry.attempts = 0;
    if (entry.retryAt !== undefined) delete entry.retryAt;
    if (entry.code !== undefined) delete entry.code;
    if (reason === undefined) { if (entry.reason !== undefined) delete entry.reason; } else entry.reason = reason;
    if (state === 'programmed') c.unsettled.delete(entry);
    else c.unsettled.add(entry);
    c.held.delete(entry);
  }

  #fail(c: ComponentEntries, entry: Entry, failure: { object: string; reason: string; code?: string; blocked?: boolean }, now: number): void {
    if (failure.blocked) {
      this.#set(c, entry, 'pending', now, failure.reason);
      return;
    }
    c.unsettled.add(entry);
    c.held.add(entry);
    // A wanted object keeps its wanted description (the reason says which write failed): a
    // description that changed would count as new work and skip the backoff.
    if (!entry.desired) entry.object = failure.object;
    entry.reason = failure.reason;
    if (failure.code === undefined) { if (entry.code !== undefined) delete entry.code; } else entry.code = failure.code;
    // Reported again during its backoff (a check that needs no write, such as a missing underlay):
    // not an attempt, so neither the count nor the next retry moves.
    if (entry.state === 'failed' && entry.retryAt !== undefined && entry.retryAt > now) return;
    if (entry.state !== 'failed') entry.since = now;
    entry.state = 'failed';
    entry.attempts += 1;
    entry.retryAt = now + backoffDelay(entry.attempts, this.#options.backoff, this.#random);
  }

  #start(c: ComponentEntries, entry: Entry, completion: Promise<void>, now: number): void {
    const token = Symbol('start');
    this.#tokens.set(entry, token);
    const attempts = entry.attempts;
    this.#set(c, entry, 'pending', now);
    entry.state = 'in-progress';
    entry.attempts = attempts;
    c.held.add(entry);
    completion.then(
      () => this.#settle(c, entry, token, () => this.#set(c, entry, 'programmed', this.#now())),
      (error: unknown) => this.#settle(c, entry, token, () => {
        const code = (error as { code?: unknown } | null)?.code;
        this.#fail(c, entry, { object: entry.object, reason: errorText(error), ...(typeof code === 'string' ? { code } : {}) }, this.#now());
      }),
    );
  }

  #settle(c: ComponentEntries, entry: Entry, token: symbol, apply: () => void): void {
    if (this.#tokens.get(entry) !== token || entry.state !== 'in-progress') return;
    this.#tokens.delete(entry);
    const stillHeld = c.byKind.get(entry.kind)?.get(entry.key) === entry;
    apply();
    if (!stillHeld) {
      c.unsettled.delete(entry);
      c.held.delete(entry);
      return;
    }
    this.#options.onSettled?.(publicCopy(entry));
  }
}

const idOf = (ref: ObjectRef): string => `${ref.kind}\u0000${ref.key}`;
