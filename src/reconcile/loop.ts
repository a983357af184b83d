import type { Logger } from '../telemetry/logger.ts';
import { Streaks } from '../telemetry/streaks.ts';
import { backoffDelay } from '../model/backoff.ts';
import { errorText } from '../model/error-text.ts';

/** What a pass asks of the loop: when to run again for objects waiting out their own backoff. */
export interface PassOutcome {
  /** Unix ms (on the loop's clock) of the earliest object retry; the loop wakes then. */
  retryAt?: number;
}

export interface LoopOptions {
  /** One pass. Throwing means the pass itself failed (a dump that failed, a plan that threw): it is retried with the loop's backoff. */
  pass: (reasons: readonly string[]) => Promise<PassOutcome>;
  logger: Logger;
  resyncMs: number;
  /** Throttle: the least time between the starts of two passes, whatever wakes the loop. */
  minIntervalMs?: number;
  /** Backoff after a pass that threw; triggers arriving meanwhile wait for it too. */
  minRetryMs?: number;
  maxRetryMs?: number;
  /** Called after every pass, whatever its result: the loop is turning. */
  onTurn?: () => void;
  random?: () => number;
  now?: () => number;
}

export interface ReconcileLoop {
  /** Wakes the loop; triggers coalesce into one pass, which starts no earlier than the throttle and any backoff allow. */
  trigger(reason: string): void;
  /**
   * Resolves when no pass is running or queued (a queued pass waiting for the throttle or the
   * loop's backoff counts). Object retries scheduled for later do not count.
   */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

export const DEFAULT_MIN_PASS_INTERVAL_MS = 250;

/** The reason of the loop's own periodic pass: a pass given it reads the whole kernel again. */
export const PERIODIC_RESYNC = 'periodic resync';

/**
 * Level-triggered, coalescing and throttled, as Felix's apply throttle and kube-proxy's
 * minSyncPeriod: events only wake the loop, every pass starts from the whole desired state (the
 * pass decides what it must read again: see kernel-changes.ts), two passes never
 * overlap and never start closer than `minIntervalMs`. Objects that failed are retried on their
 * own backoff (the pass reports when the next is due); a pass that throws backs the whole loop
 * off, and triggers never bypass either backoff.
 */
export function startReconcileLoop(options: LoopOptions): ReconcileLoop {
  const minInterval = options.minIntervalMs ?? DEFAULT_MIN_PASS_INTERVAL_MS;
  const policy = { minMs: options.minRetryMs ?? 200, maxMs: options.maxRetryMs ?? 30_000 };
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  const errors = new Streaks();
  let pending = new Set<string>();
  let running: Promise<void> | null = null;
  let startTimer: NodeJS.Timeout | undefined;
  let startTimerAt = Infinity;
  let retryTimer: NodeJS.Timeout | undefined;
  let retryTimerAt = Infinity;
  let lastStart = -Infinity;
  let blockedUntil = -Infinity;
  let failures = 0;
  let stopped = false;
  const idleWaiters: Array<() => void> = [];

  const resync = setInterval(() => trigger(PERIODIC_RESYNC), options.resyncMs);
  resync.unref();

  function trigger(reason: string): void {
    if (stopped) return;
    pending.add(reason);
    schedule();
  }

  /** Starts the queued pass now, or arms one timer for the moment the throttle and backoff allow it. */
  function schedule(): void {
    if (stopped || running || pending.size === 0) return;
    const earliest = Math.max(lastStart + minInterval, blockedUntil);
    const wait = earliest - now();
    if (wait <= 0) {
      clearTimeout(startTimer);
      startTimerAt = Infinity;
      running = runPass();
      return;
    }
    if (earliest >= startTimerAt) return;
    clearTimeout(startTimer);
    startTimerAt = earliest;
    startTimer = setTimeout(() => { startTimerAt = Infinity; schedule(); }, wait);
  }

  function armObjectRetry(at: number | undefined): void {
    // After stop nothing is armed: a pending retry must not keep a stopping process alive.
    if (stopped || at === undefined || at === retryTimerAt) return;
    clearTimeout(retryTimer);
    retryTimerAt = at;
    retryTimer = setTimeout(() => { retryTimerAt = Infinity; trigger('object retry due'); }, Math.max(0, at - now()));
  }

  async function runPass(): Promise<void> {
    const reasons = [...pending];
    pending = new Set();
    lastStart = now();
    try {
      const outcome = await options.pass(reasons);
      if (failures > 0) options.logger.info({ afterFailures: failures }, 'reconcile pass succeeded again');
      failures = 0;
      errors.clear('pass');
      blockedUntil = -Infinity;
      armObjectRetry(outcome.retryAt);
    } catch (error) {
      failures += 1;
      const message = errorText(error);
      const delay = backoffDelay(failures, policy, random);
      blockedUntil = now() + delay;
      // A failure that repeats on every retry is said once; the retries go to debug.
      const level = errors.mark('pass', message) === 'new' ? 'error' : 'debug';
      options.logger[level]({ err: message, stack: error instanceof Error ? error.stack : undefined, consecutiveFailures: failures, retryInMs: delay }, 'reconcile pass failed; retrying with backoff');
      pending.add('retry after failed pass');
    }
    options.onTurn?.();
    running = null;
    schedule();
    if (!running && pending.size === 0) for (const resolve of idleWaiters.splice(0)) resolve();
  }

  return {
    trigger,
    idle: () => (running || pending.size > 0 ? new Promise<void>((resolve) => idleWaiters.push(resolve)) : Promise.resolve()),
    async stop() {
      stopped = true;
      clearInterval(resync);
      clearTimeout(startTimer);
      clearTimeout(retryTimer);
      await running;
      for (const resolve of idleWaiters.splice(0)) resolve();
    },
  };
}
