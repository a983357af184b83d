import type { FilterDriver } from './filter.ts';

export interface FilterDriftWatchOptions {
  /** Pause between the end of one check and the start of the next; read before each pause. */
  intervalMs: number | (() => number);
  /** Called with one line per write a pass would make; the caller wakes its reconcile loop. */
  onDrift: (drift: string[]) => void;
  /** Called after every check that could read the kernel, with what it found (empty: intact). */
  onChecked?: (drift: string[]) => void;
  /** A check that could not read the kernel; the next check runs as usual. */
  onError?: (error: Error) => void;
  /**
   * Change notifications for what the filter lives in: each one brings the next check forward
   * (to at least `minGapMs` after the previous one ended). Returns its unsubscribe.
   */
  changes?: (notify: () => void) => () => void;
  minGapMs?: number;
  /**
   * Notifications that keep finding nothing (another agent churning its own rules) widen the gap
   * between checks, doubling up to this; a check that finds drift narrows it to minGapMs again.
   */
  maxQuietGapMs?: number;
  /** While the filter's repairs are held (a tug-of-war), no check runs before this Unix ms: it could change nothing. */
  pausedUntil?: () => number | undefined;
}

export interface FilterDriftWatch {
  /** Resolves once no check is running; no check starts afterwards. */
  close(): Promise<void>;
}

/** Polling: drift is repaired well within 5 s (the check plus one pass), at about 25-60 ms of tool time per check at 10,000 subnets. */
export const FILTER_DRIFT_INTERVAL_MS = 2000;
/** With change notifications covering all of the filter, polling is only a backstop. */
export const FILTER_DRIFT_BACKSTOP_MS = 30_000;
const DEFAULT_MIN_GAP_MS = 250;
const DEFAULT_MAX_QUIET_GAP_MS = FILTER_DRIFT_INTERVAL_MS;

/**
 * Compares seaway's chains, jumps, sets and nft table with the last applied desired state.
 * iptables-legacy and ipset send no change events, so their drift (a CNI re-inserting its
 * masquerade ahead of seaway's jump, a flushed chain) is found by polling; where nf_tables
 * notifications cover the filter, a notification starts the check. Checks never overlap; a
 * check only reads, the reconcile loop repairs.
 */
export function watchFilterDrift(filter: Pick<FilterDriver, 'drift'>, options: FilterDriftWatchOptions): FilterDriftWatch {
  const minGap = options.minGapMs ?? DEFAULT_MIN_GAP_MS;
  const maxQuietGap = Math.max(minGap, options.maxQuietGapMs ?? DEFAULT_MAX_QUIET_GAP_MS);
  let gap = minGap;
  let notified = false;
  const interval = typeof options.intervalMs === 'number' ? () => options.intervalMs as number : options.intervalMs;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | null = null;
  let changedDuringCheck = false;
  let lastEnded = 0;

  const check = async () => {
    const fromNotification = notified;
    notified = false;
    try {
      const drift = await filter.drift();
      if (drift.length > 0) gap = minGap;
      else if (fromNotification) gap = Math.min(gap * 2, maxQuietGap);
      if (closed) return;
      options.onChecked?.(drift);
      if (drift.length > 0) options.onDrift(drift);
    } catch (error) {
      if (!closed) options.onError?.(error instanceof Error ? error : new Error(String(error)));
    }
  };
  const schedule = (delayMs: number) => {
    if (closed) return;
    clearTimeout(timer);
    const paused = options.pausedUntil?.();
    const delay = paused === undefined ? delayMs : Math.max(delayMs, paused - Date.now());
    timer = setTimeout(() => {
      changedDuringCheck = false;
      running = check().finally(() => {
        running = null;
        lastEnded = Date.now();
        schedule(changedDuringCheck ? gap : interval());
      });
    }, delay);
    timer.unref();
  };
  const notify = () => {
    if (closed) return;
    notified = true;
    if (running) changedDuringCheck = true;
    else schedule(Math.max(0, lastEnded + gap - Date.now()));
  };
  schedule(interval());
  const unsubscribe = options.changes?.(notify);

  return {
    async close() {
      closed = true;
      unsubscribe?.();
      clearTimeout(timer);
      await running;
    },
  };
}
