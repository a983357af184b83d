/**
 * A cable's periodic repair: run every tick, one at a time (a daemon or netlink that hangs must not
 * pile repairs up behind it), errors logged and tried again on the next tick, never fatal.
 */
import { errorText } from '../model/error-text.ts';
import type { Logger } from '../telemetry/logger.ts';

export function startRepairTick(repair: () => Promise<void>, tickMs: number, log: Logger, what: string): { stop(): void } {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    repair()
      .catch((error: unknown) => log.error({ err: errorText(error) }, `repairing the ${what} failed; tried again on the next tick`))
      .finally(() => { running = false; });
  }, tickMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
