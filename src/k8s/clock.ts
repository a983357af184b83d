import { setTimeout as sleepFor } from 'node:timers/promises';

/**
 * Time as the informers and the API rate limiter see it: injected, so unit tests run minutes of
 * backoff in virtual time and can hold a sleep open to stop during it.
 */
export interface Clock {
  now(): number;
  /** Resolves after `ms`; rejects (an AbortError) as soon as the signal aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: async (ms, signal) => { await sleepFor(Math.max(0, ms), undefined, { signal }); },
};
