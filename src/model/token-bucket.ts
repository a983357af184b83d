/**
 * A token bucket as plain data and pure functions, for rate limits that must survive a storm without
 * a timer: Kubernetes Events about rejected Endpoints (a thousand bad Endpoints must not become a
 * thousand POSTs at once), and anything else that wants "a burst, then a steady trickle". The caller
 * keeps the bucket between calls and passes the time in (a monotonic clock: performance.now()).
 */

export interface TokenBucketLimits {
  /** Most tokens held: the largest burst. A positive integer. */
  capacity: number;
  /** Tokens added per second, up to the capacity. Positive and finite. */
  refillPerSecond: number;
}

export interface TokenBucket {
  readonly tokens: number;
  /** The time the tokens were counted at, in the caller's milliseconds. */
  readonly atMs: number;
}

/** A reason the limits are unusable, or null. Limits are configuration: check them once where they are built. */
export function checkLimits(limits: TokenBucketLimits): string | null {
  if (!Number.isInteger(limits.capacity) || limits.capacity < 1) return `capacity must be a positive integer, got ${limits.capacity}`;
  if (!Number.isFinite(limits.refillPerSecond) || limits.refillPerSecond <= 0) return `refillPerSecond must be positive and finite, got ${limits.refillPerSecond}`;
  return null;
}

export function fullBucket(limits: TokenBucketLimits, nowMs: number): TokenBucket {
  return { tokens: limits.capacity, atMs: Number.isFinite(nowMs) ? nowMs : 0 };
}

/**
 * The bucket as of `nowMs`. Time that runs backwards (or is not a number) adds nothing and does not
 * move the bucket's clock back, so a clock step can never mint tokens.
 */
export function refill(bucket: TokenBucket, limits: TokenBucketLimits, nowMs: number): TokenBucket {
  if (!Number.isFinite(nowMs) || nowMs <= bucket.atMs) return bucket;
  const tokens = Math.min(limits.capacity, bucket.tokens + ((nowMs - bucket.atMs) / 1000) * limits.refillPerSecond);
  return { tokens, atMs: nowMs };
}

/** Takes one token if there is one. The returned bucket replaces the caller's, allowed or not. */
export function takeToken(bucket: TokenBucket, limits: TokenBucketLimits, nowMs: number): { allowed: boolean; bucket: TokenBucket } {
  const current = refill(bucket, limits, nowMs);
  if (current.tokens >= 1) return { allowed: true, bucket: { tokens: current.tokens - 1, atMs: current.atMs } };
  return { allowed: false, bucket: current };
}

/** Milliseconds from `nowMs` until a token is available (0 when one is). */
export function msUntilToken(bucket: TokenBucket, limits: TokenBucketLimits, nowMs: number): number {
  const current = refill(bucket, limits, nowMs);
  if (current.tokens >= 1) return 0;
  const now = Number.isFinite(nowMs) ? nowMs : current.atMs;
  // Refill starts from the bucket's clock, which is ahead of `now` when time ran backwards.
  return Math.max(0, current.atMs - now) + Math.ceil(((1 - current.tokens) / limits.refillPerSecond) * 1000);
}
