/**
 * "Say it once per streak": the one mechanism behind every log line (and Event) that would
 * otherwise repeat on each retry. A streak is a key that stays present with the same cause; a
 * key that appears, or whose cause changes, starts a new one; a key that disappears ends it.
 */
export interface StreakChanges {
  /** Keys present now that were absent before. */
  started: string[];
  /** Keys present before and now, with another cause. */
  changed: string[];
  /** Keys present before and now with the same cause. */
  continuing: number;
  /** Keys present before and absent now. */
  ended: string[];
}

export class Streaks {
  #current = new Map<string, string>();

  get size(): number {
    return this.#current.size;
  }

  has(key: string): boolean {
    return this.#current.has(key);
  }

  /** Replaces the whole set of present keys (each with its cause) and says what changed. */
  update(now: ReadonlyMap<string, string>): StreakChanges {
    const changes: StreakChanges = { started: [], changed: [], continuing: 0, ended: [] };
    for (const [key, cause] of now) {
      const before = this.#current.get(key);
      if (before === undefined) changes.started.push(key);
      else if (before !== cause) changes.changed.push(key);
      else changes.continuing++;
    }
    for (const key of this.#current.keys()) if (!now.has(key)) changes.ended.push(key);
    this.#current = new Map(now);
    return changes;
  }

  /** One key's streak: 'new' when it starts or its cause changes, 'same' while it repeats. */
  mark(key: string, cause: string): 'new' | 'same' {
    const before = this.#current.get(key);
    this.#current.set(key, cause);
    return before === cause ? 'same' : 'new';
  }

  /** Ends one key's streak; true when there was one. */
  clear(key: string): boolean {
    return this.#current.delete(key);
  }
}
