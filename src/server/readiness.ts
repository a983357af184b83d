/**
 * Readiness is the conjunction of named conditions; each not-yet-met one carries the reason
 * /readyz reports. Listeners learn of every change (metrics, logs, tests waiting for it).
 */
export class Readiness {
  #pending = new Map<string, string>();
  #listeners = new Set<(ready: boolean) => void>();

  constructor(initial: Record<string, string>) {
    for (const [name, reason] of Object.entries(initial)) this.#pending.set(name, reason);
  }

  get ready(): boolean {
    return this.#pending.size === 0;
  }

  /** Human-readable reasons of the conditions not met, in the order they were declared. */
  get reasons(): string[] {
    return [...this.#pending.entries()].map(([name, reason]) => `${name}: ${reason}`);
  }

  met(name: string): void {
    this.#update(() => this.#pending.delete(name));
  }

  unmet(name: string, reason: string): void {
    this.#update(() => this.#pending.set(name, reason));
  }

  onChange(listener: (ready: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #update(change: () => void): void {
    const before = this.ready;
    change();
    if (before !== this.ready) for (const listener of this.#listeners) listener(this.ready);
  }
}
