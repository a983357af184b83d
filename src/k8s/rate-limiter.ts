import { checkLimits, fullBucket, refill, type TokenBucket, type TokenBucketLimits } from '../model/token-bucket.ts';
import type { Clock } from './clock.ts';

export interface RateLimitSettings {
  /** Requests per second, sustained. */
  qps: number;
  /** Requests allowed at once after a quiet period. */
  burst: number;
}

/**
 * client-go's client-side rate limit (QPS and burst) over the project's token bucket, shared by
 * every request an agent sends to the API server: however many informers restart at once, the
 * agent never sends more than `burst` requests at once nor more than `qps` per second for long.
 * A caller that finds the bucket empty reserves the next token (the count goes below zero) and
 * waits for it, so waiters are served in order; one that gives up hands its reservation back.
 */
export class ApiRateLimiter {
  readonly #limits: TokenBucketLimits;
  readonly #clock: Clock;
  #bucket: TokenBucket;

  constructor(settings: RateLimitSettings, clock: Clock) {
    this.#limits = { capacity: settings.burst, refillPerSecond: settings.qps };
    const problem = checkLimits(this.#limits);
    if (problem !== null) throw new Error(`invalid API rate limit (qps ${settings.qps}, burst ${settings.burst}): ${problem}`);
    this.#clock = clock;
    this.#bucket = fullBucket(this.#limits, clock.now());
  }

  /** Waits for a token; a caller that gives up (the signal aborts) hands its reservation back. */
  async take(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    const current = refill(this.#bucket, this.#limits, this.#clock.now());
    this.#bucket = { tokens: current.tokens - 1, atMs: current.atMs };
    if (this.#bucket.tokens >= 0) return;
    const waitMs = Math.ceil((-this.#bucket.tokens / this.#limits.refillPerSecond) * 1000);
    try {
      await this.#clock.sleep(waitMs, signal);
    } catch (error) {
      this.#bucket = { tokens: this.#bucket.tokens + 1, atMs: this.#bucket.atMs };
      throw error;
    }
  }
}
