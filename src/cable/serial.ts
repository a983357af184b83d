/**
 * One change at a time: a cable's changes read and write what it keeps (its connections, keys,
 * peers) across awaits, so each runs to its end before the next starts. A failed change does not
 * stop the ones queued after it.
 */
export class Serial {
  #queue: Promise<unknown> = Promise.resolve();

  run<T>(work: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(work);
    this.#queue = result.catch(() => undefined);
    return result;
  }
}
