import { ApiTimeoutError } from './api-problem.ts';

/**
 * Runs one call with a deadline: the signal handed to the call aborts at the deadline or when the
 * caller's signal does, and the race settles even if the wait is before the request exists
 * (authentication, such as an exec credential plugin, runs first).
 */
export function withDeadline<T>(timeoutMs: number, outer: AbortSignal, call: (signal: AbortSignal) => Promise<T>, what: string): Promise<T> {
  const controller = new AbortController();
  const signal = AbortSignal.any([outer, controller.signal]);
  const expired = new Promise<never>((_resolve, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
  const timer = setTimeout(() => controller.abort(new ApiTimeoutError(`no answer to ${what} within ${timeoutMs} ms`)), timeoutMs);
  const request = call(signal);
  request.catch(() => undefined); // when the deadline wins the race, the aborted request's rejection is expected
  return Promise.race([request, expired]).finally(() => clearTimeout(timer));
}
