import type { Logger } from '../telemetry/logger.ts';

export interface LoopOptions {
  /** One full pass; throws (or resolves false) when it must be retried. */
  pass: (reasons: readonly string[]) => Promise<boolean>;
  logger: Logger;
  resyncMs: number;
  minRetryMs?: number;
  maxRetryMs?: number;
  /** Called after every pass, whatever its result: the loop is turning. */
  onTurn?: () => void;
  random?: () => number;
}

export interface ReconcileLoop {
  /** Wakes the loop; triggers arriving during a pass coalesce into one more pass. */
  trigger(reason: string): void;
  /** Resolves when no pass is running or pending (for tests and shutdown). */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Level-triggered and coalescing: every pass recomputes everything, events only wake it, two
 * passes never overlap, and a failed pass is retried with exponential backoff and jitter while
 * new triggers still run at once.
 */
export function startReconcileLoop(options: LoopOptions): ReconcileLoop {
  const minRetry = options.minRetryMs ?? 200;
  const maxRetry = options.maxRetryMs ?? 30_000;
  const random = options.random ?? Math.random;
  let pending = new Set<string>();
  let running: Promise<void> | null = null;
  let retryTimer: NodeJS.Timeout | undefined;
  let failures = 0;
  let lastError: string | undefined;
  let stopped = false;
  const idleWaiters: Array<() => void> = [];

  const resync = setInterval(() => trigger('periodic resync'), options.resyncMs);
  resync.unref();

  function trigger(reason: string): void {
    if (stopped) return;
    pending.add(reason);
    if (!running) running = drain();
  }

  async function drain(): Promise<void> {
    while (pending.size > 0 && !stopped) {
      clearTimeout(retryTimer);
      const reasons = [...pending];
      pending = new Set();
      let ok = false;
      try {
        ok = await options.pass(reasons);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        // A failure that repeats on every retry is said once; the retries go to debug.
        const level = message === lastError ? 'debug' : 'error';
        lastError = message;
        options.logger[level]({ err: message, stack: error instanceof Error ? error.stack : undefined, consecutiveFailures: failures + 1 }, 'reconcile pass failed');
      }
      options.onTurn?.();
      if (ok) {
        if (failures > 0) options.logger.info({ afterFailures: failures }, 'reconcile pass succeeded again');
        failures = 0;
        lastError = undefined;
      } else if (!stopped) {
        failures += 1;
        const ceiling = Math.min(maxRetry, minRetry * 2 ** (failures - 1));
        const delay = Math.round(ceiling / 2 + (random() * ceiling) / 2);
        options.logger[failures === 1 ? 'warn' : 'debug']({ retryInMs: delay, consecutiveFailures: failures }, 'reconcile pass will be retried');
        retryTimer = setTimeout(() => trigger('retry after failure'), delay);
      }
    }
    running = null;
    for (const resolve of idleWaiters.splice(0)) resolve();
  }

  return {
    trigger,
    idle: () => (running ? new Promise<void>((resolve) => idleWaiters.push(resolve)) : Promise.resolve()),
    async stop() {
      stopped = true;
      clearInterval(resync);
      clearTimeout(retryTimer);
      await running;
    },
  };
}
