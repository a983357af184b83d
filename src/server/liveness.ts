/**
 * Liveness: each long-running loop beats; /healthz fails when a loop has not beaten within its
 * allowance (it is stuck), not when the node is merely waiting for something.
 */
export class Liveness {
  #loops = new Map<string, { allowanceMs: number; lastBeat: number }>();
  #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  register(name: string, allowanceMs: number): () => void {
    this.#loops.set(name, { allowanceMs, lastBeat: this.#now() });
    return () => this.beat(name);
  }

  beat(name: string): void {
    const loop = this.#loops.get(name);
    if (loop) loop.lastBeat = this.#now();
  }

  /** Names of loops that missed their allowance. */
  stalled(): string[] {
    const now = this.#now();
    return [...this.#loops.entries()].filter(([, l]) => now - l.lastBeat > l.allowanceMs).map(([name]) => name);
  }
}
