/**
 * The parts of the kernel a pass reads, each with a watch of its own: `routing` (seaway's links,
 * routes, rules and FDB: rtnetlink events), `host-network` (the links, addresses, default routes
 * and rules the node's facts come from: the same events) and `filter` (chains, sets, nft table:
 * the filter's drift watch).
 */
export type KernelPart = 'routing' | 'host-network' | 'filter';

export const KERNEL_PARTS: readonly KernelPart[] = ['routing', 'host-network', 'filter'];

const NONE: ReadonlySet<KernelPart> = new Set();

/**
 * What the kernel watches have said since a pass last read each part. A part is quiet while its
 * watch is live and has reported nothing since: a pass may then trust what it last read and wrote
 * there instead of reading it again (Felix's dirty tracking). A part whose watch is not live (not
 * subscribed yet, or lost) is never quiet, and a watch that lost events (an overrun) reports a
 * change, so silence always means no change.
 */
export class KernelChanges {
  readonly #live = new Set<KernelPart>();
  readonly #changed = new Set<KernelPart>(KERNEL_PARTS);

  /** The watch of `part` is subscribed: from now on its silence means no change (the next pass still reads once). */
  watching(part: KernelPart): void {
    this.#live.add(part);
    this.#changed.add(part);
  }

  /** The watch of `part` ended: the part is read on every pass again. */
  unwatched(part: KernelPart): void {
    this.#live.delete(part);
  }

  changed(part: KernelPart): void {
    this.#changed.add(part);
  }

  /**
   * For a pass about to read the kernel: the parts it need not read, and the marks cleared, so a
   * change from now on (during its reads too) is the next pass's to read.
   */
  take(): ReadonlySet<KernelPart> {
    const quiet = new Set<KernelPart>();
    for (const part of this.#live) if (!this.#changed.has(part)) quiet.add(part);
    this.#changed.clear();
    return quiet.size === 0 ? NONE : quiet;
  }
}
