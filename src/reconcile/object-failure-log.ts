import type { Logger } from '../telemetry/logger.ts';
import { Streaks } from '../telemetry/streaks.ts';

/** New failures logged one by one per pass; the rest of a large batch is counted in one line. */
const DEFAULT_LINES_PER_PASS = 20;

/** What the log needs of a failed object (an ObjectStatus or a driver's ObjectFailure). */
export interface FailedObject {
  kind: string;
  key: string;
  object: string;
  reason?: string;
  code?: string;
}

export interface ObjectFailureLog {
  /** The objects failing now (all of them: what is missing here has recovered). */
  record(failures: readonly FailedObject[]): void;
}

/**
 * Logs a kernel object that could not be programmed when it starts failing (or fails for another
 * reason), at debug while it keeps failing, and once when it is programmed again. A conflict that
 * lasts (a leftover route of someone else's at a destination seaway wants) would otherwise repeat
 * thousands of lines on every retry.
 */
export function createObjectFailureLog(logger: Logger, linesPerPass = DEFAULT_LINES_PER_PASS): ObjectFailureLog {
  const streaks = new Streaks();
  return {
    record(failures) {
      const byId = new Map(failures.map((f) => [`${f.kind} ${f.key}`, f]));
      const changes = streaks.update(new Map([...byId].map(([id, f]) => [id, `${f.code ?? ''} ${f.reason ?? ''}`])));
      const isFresh = new Set([...changes.started, ...changes.changed]);
      const fresh = [...byId].filter(([id]) => isFresh.has(id)).map(([, f]) => f);
      for (const failure of fresh.slice(0, linesPerPass)) {
        logger.warn({ kind: failure.kind, object: failure.object, code: failure.code, reason: failure.reason }, 'kernel object not programmed');
      }
      if (fresh.length > linesPerPass) logger.warn({ more: fresh.length - linesPerPass, failing: streaks.size }, 'more kernel objects not programmed');
      if (changes.continuing > 0) logger.debug({ stillFailing: changes.continuing }, 'kernel objects still not programmed');
      if (changes.ended.length > 0) logger.info({ recovered: changes.ended.length, stillFailing: streaks.size }, 'kernel objects programmed after failing');
    },
  };
}
