import { backoffDelay, type BackoffPolicy } from '../model/backoff.ts';

/**
 * When repairing the same object keeps being undone by someone else (Calico Felix re-inserting its
 * jump first, every 100 ms), repairing at notification speed is a tug-of-war both agents lose:
 * after `repairs` repairs of one object the same way (the same rival, or the same writes) within
 * `windowMs` the object is held, and repaired again only after an exponential backoff (`backoff`),
 * for as long as the rival keeps at it. Different repairs of one object (an operator trying one
 * thing after another) are no fight.
 */
export interface TugOfWarPolicy {
  repairs: number;
  windowMs: number;
  backoff: BackoffPolicy;
}

/** One object being fought over. */
export interface Fight {
  /** The object's id (kind/key), as its metric label. */
  object: string;
  /** The foreign rule that kept undoing seaway's repair, as last seen; null when nothing names it. */
  rival: string | null;
  /** Unix ms the fight was detected. */
  since: number;
  /** Repairs made since the fight was detected, the one that revealed it included. */
  repairs: number;
  /** No repair of the object before this Unix ms. */
  holdUntil: number;
  /** Unix ms of the last repair. */
  lastRepairAt: number;
  /** Whether the object was looked at (and found changed again) since the last repair. */
  probed: boolean;
}

export type RepairOutcome = 'quiet' | 'started' | 'fighting';

/** Pure bookkeeping of recent repairs and of fights: no I/O, no timers; the caller asks and schedules. */
export class TugOfWar {
  readonly #policy: TugOfWarPolicy;
  readonly #now: () => number;
  readonly #random: () => number;
  /** Recent repair times per object not (yet) fought over and way it was repaired, oldest first, within the window. */
  readonly #recent = new Map<string, number[]>();
  readonly #fights = new Map<string, Fight>();

  constructor(policy: TugOfWarPolicy, now: () => number = Date.now, random: () => number = Math.random) {
    this.#policy = policy;
    this.#now = now;
    this.#random = random;
  }

  /**
   * seaway wrote `object` back after someone changed it; `rival`: the foreign rule that did, if
   * known; `how`: what was written, so repeats of the same repair can be told from other ones.
   */
  repaired(object: string, rival: string | null, how = ''): RepairOutcome {
    const now = this.#now();
    const fight = this.#fights.get(object);
    if (fight) {
      fight.repairs += 1;
      if (rival !== null) fight.rival = rival;
      fight.holdUntil = now + backoffDelay(fight.repairs, this.#policy.backoff, this.#random);
      fight.lastRepairAt = now;
      fight.probed = false;
      return 'fighting';
    }
    const streak = `${object}\u0000${rival ?? how}`;
    const times = (this.#recent.get(streak) ?? []).filter((t) => t > now - this.#policy.windowMs);
    times.push(now);
    // Streaks of other objects or ways age out here too, so the map stays as small as the window.
    for (const [key, seen] of this.#recent) if (seen.at(-1)! <= now - this.#policy.windowMs) this.#recent.delete(key);
    if (times.length < this.#policy.repairs) {
      this.#recent.set(streak, times);
      return 'quiet';
    }
    for (const key of [...this.#recent.keys()]) if (key.startsWith(`${object}\u0000`)) this.#recent.delete(key);
    this.#fights.set(object, {
      object, rival, since: now, repairs: 1, holdUntil: now + backoffDelay(1, this.#policy.backoff, this.#random), lastRepairAt: now, probed: false,
    });
    return 'started';
  }

  /**
   * `object` was found as seaway wants it. A fight ends here once its last repair has stayed in
   * place for the shortest backoff (longer than the rival took to undo it while it fought): the
   * rival has stopped. Returns the fight that ended.
   */
  intact(object: string): Fight | null {
    const fight = this.#fights.get(object);
    if (!fight || this.#now() - fight.lastRepairAt < this.#policy.backoff.minMs) return null;
    this.#fights.delete(object);
    return fight;
  }

  /** `object` was found changed again during its hold: no need to look before the hold ends. */
  changed(object: string): void {
    const fight = this.#fights.get(object);
    if (fight && this.#now() - fight.lastRepairAt >= this.#policy.backoff.minMs) fight.probed = true;
  }

  /**
   * When to look at a fought-over object next (a read, not a repair): once its last repair has
   * stood for the shortest backoff, to see whether the rival stopped; after that look found it
   * changed again, when the hold ends. undefined: no fight, or the look is due now.
   */
  lookAt(object: string): number | undefined {
    const fight = this.#fights.get(object);
    if (!fight) return undefined;
    const at = fight.probed ? fight.holdUntil : fight.lastRepairAt + this.#policy.backoff.minMs;
    return at > this.#now() ? at : undefined;
  }

  /** Whether `object` may be repaired now (it is not held in a fight). */
  mayRepair(object: string): boolean {
    const fight = this.#fights.get(object);
    return fight === undefined || fight.holdUntil <= this.#now();
  }

  /** The earliest end of a hold still to come, so the caller can look again then. */
  nextHoldEnd(): number | undefined {
    const now = this.#now();
    let earliest: number | undefined;
    for (const { holdUntil } of this.#fights.values()) if (holdUntil > now && (earliest === undefined || holdUntil < earliest)) earliest = holdUntil;
    return earliest;
  }

  get policy(): TugOfWarPolicy {
    return this.#policy;
  }

  fights(): Fight[] {
    return [...this.#fights.values()].map((f) => ({ ...f }));
  }
}
