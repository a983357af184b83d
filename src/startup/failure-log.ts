import { Streaks } from '../telemetry/streaks.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { AttemptFailure } from './retry-forever.ts';

export interface FailureLogOptions {
  logger: Logger;
  /** The log's `step` field, e.g. "state-dir". */
  name: string;
  /** What is being retried, for the message, e.g. "creating state directory /var/lib/seaway". */
  what: string;
  /** While the same error repeats, one reminder at most this often. */
  remindEveryMs?: number;
  now?: () => number;
}

export interface FailureLog {
  failed(failure: AttemptFailure): void;
  /** Logs the recovery when there were failures; forgets them. */
  succeeded(): void;
}

export const DEFAULT_REMIND_EVERY_MS = 60_000;

/**
 * One warning when a step starts failing or fails differently, then a reminder at most every
 * minute while it keeps failing the same way, and one line when it recovers: on a fleet, a node
 * retrying every 30 s for a day must not bury its other logs.
 */
export function createFailureLog(options: FailureLogOptions): FailureLog {
  const now = options.now ?? Date.now;
  const remindEveryMs = options.remindEveryMs ?? DEFAULT_REMIND_EVERY_MS;
  const log = options.logger.child({ step: options.name });
  let failingSince: number | null = null;
  let failures = 0;
  const streak = new Streaks();
  let lastLoggedAt = 0;
  let failuresSinceLog = 0;

  return {
    failed({ error, attempt, retryInMs }) {
      const at = now();
      failingSince ??= at;
      failures++;
      failuresSinceLog++;
      const message = describeError(error);
      const first = !streak.has(options.name);
      const changed = streak.mark(options.name, message) === 'new';
      if (!changed && at - lastLoggedAt < remindEveryMs) return;
      const fields = { err: message, attempt, retryInMs, failingSeconds: Math.round((at - failingSince) / 1000) };
      if (first) log.warn(fields, `${options.what} failed; retrying with backoff`);
      else if (changed) log.warn(fields, `${options.what} still failing, now with a different error; retrying with backoff`);
      else log.warn({ ...fields, failuresSinceLastLog: failuresSinceLog }, `${options.what} still failing; retrying with backoff`);
      lastLoggedAt = at;
      failuresSinceLog = 0;
    },
    succeeded() {
      if (failingSince === null) return;
      log.info({ failedAttempts: failures, failingSeconds: Math.round((now() - failingSince) / 1000) }, `${options.what} recovered`);
      failingSince = null;
      failures = 0;
      streak.clear(options.name);
      failuresSinceLog = 0;
    },
  };
}

/** The error's message with its errno code when the message does not already say it. */
export function describeError(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  const message = error.message || error.name;
  return typeof code === 'string' && !message.includes(code) ? `${message} (${code})` : message;
}
