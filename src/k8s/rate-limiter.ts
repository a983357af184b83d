import type { Clock } from './clock.ts';

export interface RateLimitSettings {
  /** Requests per second, sustained. */
  qps: number;
  /** Requests allowed at once after a quiet period. */
  burst: number;
}

/**
 * client-go's client-side rate limit (QPS and burst) as a token bucket shared by every request an
 * agent sends to the API server: however many informers restart at once, the agent never sends
 * more than `burst` requests at once nor more than `qps` per second for long. A caller that finds
 * the bucket empty reserves the next token and waits for it, so waiters are served in order.
 */
export class TokenBucket {
  readonly #qps: number;
  readonly #burst: number;
  readonly #clock: Clock;
  /** May go below zero: tokens already promised to waiters. */
  #tokens: number;
  #at: number;

  constructor(settings: RateLimitSettings, clock: Clock) {
    if (!(settings.qps > 0) || !(settings.burst >= 1)) throw new Error(`invalid rate limit: qps ${settings.qps}, burst ${settings.burst}`);
    this.#qps = settings.qps;
    this.#burst = settings.burst;
    this.#clock = clock;
    this.#tokens = settings.burst;
    this.#at = clock.now();
  }

  /** Waits for a token; a caller that gives up (the signal aborts) hands its reservation back. */
  async take(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    const now = this.#clock.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#at) / 1000) * this.#qps);
    this.#at = now;
    this.#tokens -= 1;
    if (this.#tokens >= 0) return;
    const waitMs = Math.ceil((-this.#tokens / this.#qps) * 1000);
    try {
      await this.#clock.sleep(waitMs, signal);
    } catch (error) {
      this.#tokens += 1;
      throw error;
    }
  }
}
