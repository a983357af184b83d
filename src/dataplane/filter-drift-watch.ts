import type { FilterDriver } from './filter.ts';

export interface FilterDriftWatchOptions {
  /** Pause between the end of one check and the start of the next. */
  intervalMs: number;
  /** Called with one line per write a pass would make; the caller wakes its reconcile loop. */
  onDrift: (drift: string[]) => void;
  /** A check that could not read the kernel; the next check runs as usual. */
  onError?: (error: Error) => void;
}

export interface FilterDriftWatch {
  /** Resolves once no check is running; no check starts afterwards. */
  close(): Promise<void>;
}

/** The default interval: drift is repaired well within 5 s (the check plus one pass), at about 30-70 ms of tool time per check at 10,000 subnets. */
export const FILTER_DRIFT_INTERVAL_MS = 2000;

/**
 * Compares seaway's chains, jumps, sets and nft table with the last applied desired state every
 * interval. Packet filters send no change events (unlike rtnetlink), so polling is the only way to
 * notice a CNI that re-inserts its masquerade ahead of seaway's jump or a flushed chain before the
 * periodic resync. Checks never overlap; the check only reads, the reconcile loop repairs.
 */
export function watchFilterDrift(filter: Pick<FilterDriver, 'drift'>, options: FilterDriftWatchOptions): FilterDriftWatch {
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | null = null;

  const check = async () => {
    try {
      const drift = await filter.drift();
      if (drift.length > 0 && !closed) options.onDrift(drift);
    } catch (error) {
      if (!closed) options.onError?.(error instanceof Error ? error : new Error(String(error)));
    }
  };
  const schedule = () => {
    if (closed) return;
    timer = setTimeout(() => {
      running = check().finally(() => { running = null; schedule(); });
    }, options.intervalMs);
    timer.unref();
  };
  schedule();

  return {
    async close() {
      closed = true;
      clearTimeout(timer);
      await running;
    },
  };
}
