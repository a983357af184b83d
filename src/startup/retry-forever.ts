import pRetry from 'p-retry';
import { errorText } from '../model/error-text.ts';

export interface AttemptFailure {
  error: Error;
  /** 1 for the first attempt. */
  attempt: number;
  /** The pause before the next attempt, when the retrier decides it. */
  retryInMs?: number;
}

export interface RetryForeverOptions {
  /** Stops retrying: the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Bounds of the exponential backoff (factor 2, each pause drawn from [d, 2d) before the cap). */
  minDelayMs?: number;
  maxDelayMs?: number;
  onFailure?: (failure: AttemptFailure) => void;
}

export const DEFAULT_MIN_DELAY_MS = 500;
export const DEFAULT_MAX_DELAY_MS = 30_000;

/**
 * Runs `attempt` until it succeeds, with exponential backoff and jitter and no limit: a condition
 * of the node (a taken port, a held lock, a missing mount) may last minutes and must not end the
 * process. p-retry gives up on a TypeError, taking it for a bug; here every error is retried,
 * because a crash loop would hide the reason the log and readiness report.
 */
export function retryForever<T>(attempt: (attemptNumber: number) => Promise<T> | T, options: RetryForeverOptions = {}): Promise<T> {
  return pRetry(async (attemptNumber) => {
    try {
      return await attempt(attemptNumber);
    } catch (error) {
      throw retriable(error);
    }
  }, {
    retries: Infinity,
    factor: 2,
    randomize: true,
    minTimeout: options.minDelayMs ?? DEFAULT_MIN_DELAY_MS,
    maxTimeout: options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS,
    signal: options.signal,
    onFailedAttempt: ({ error, attemptNumber, retryDelay }) => {
      options.onFailure?.({ error: unwrap(error), attempt: attemptNumber, retryInMs: retryDelay });
    },
  });
}

class RetriableError extends Error {}

function retriable(error: unknown): Error {
  if (error instanceof Error && !(error instanceof TypeError)) return error;
  const wrapped = new RetriableError(errorText(error), { cause: error });
  wrapped.name = error instanceof Error ? error.name : 'Error';
  return wrapped;
}

function unwrap(error: Error): Error {
  return error instanceof RetriableError && error.cause instanceof Error ? error.cause : error;
}
