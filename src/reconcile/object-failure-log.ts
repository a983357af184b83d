import type { ObjectFailure } from '../dataplane/report.ts';
import type { Logger } from '../telemetry/logger.ts';

/** New failures logged one by one per pass; the rest of a large batch is counted in one line. */
const DEFAULT_LINES_PER_PASS = 20;

export interface ObjectFailureLog {
  /** The objects that failed in this pass (all of them: what is missing here has recovered). */
  record(failures: readonly ObjectFailure[]): void;
}

/**
 * Logs a kernel object that could not be programmed when it starts failing (or fails for another
 * reason), at debug while it keeps failing on every retry, and once when it is programmed again.
 * A conflict that lasts (a leftover route of someone else's at a destination seaway wants) would
 * otherwise repeat thousands of lines on every retry.
 */
export function createObjectFailureLog(logger: Logger, linesPerPass = DEFAULT_LINES_PER_PASS): ObjectFailureLog {
  let failing = new Map<string, string>();
  return {
    record(failures) {
      const now = new Map<string, string>();
      const fresh: ObjectFailure[] = [];
      for (const failure of failures) {
        const key = `${failure.kind} ${failure.object}`;
        const cause = `${failure.code ?? ''} ${failure.reason}`;
        now.set(key, cause);
        if (failing.get(key) !== cause) fresh.push(failure);
      }
      for (const failure of fresh.slice(0, linesPerPass)) {
        logger.warn({ kind: failure.kind, object: failure.object, code: failure.code, reason: failure.reason }, 'kernel object not programmed');
      }
      if (fresh.length > linesPerPass) logger.warn({ more: fresh.length - linesPerPass, failing: now.size }, 'more kernel objects not programmed');
      if (failures.length > fresh.length) logger.debug({ stillFailing: failures.length - fresh.length }, 'kernel objects still not programmed');
      const recovered = [...failing.keys()].filter((key) => !now.has(key)).length;
      if (recovered > 0) logger.info({ recovered, stillFailing: now.size }, 'kernel objects programmed after failing');
      failing = now;
    },
  };
}
