/** Bounds of an exponential backoff: the first pause is about minMs, doubling up to maxMs. */
export interface BackoffPolicy {
  minMs: number;
  maxMs: number;
}

/**
 * The pause before retry number `failures` (1 after the first failure): the ceiling doubles from
 * minMs up to maxMs and the pause is drawn from [ceiling/2, ceiling], so retries of many objects
 * (or many nodes) that failed together spread out instead of arriving in step.
 */
export function backoffDelay(failures: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const { lowMs, highMs } = backoffBounds(failures, policy);
  return Math.round(lowMs + random() * (highMs - lowMs));
}

/** The range backoffDelay draws from, for callers (and tests) that must reason about it. */
export function backoffBounds(failures: number, policy: BackoffPolicy): { lowMs: number; highMs: number } {
  const exponent = Math.max(0, failures - 1);
  const ceiling = Math.min(policy.maxMs, policy.minMs * 2 ** Math.min(exponent, 52));
  return { lowMs: ceiling / 2, highMs: ceiling };
}
