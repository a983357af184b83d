import { ApiTimeoutError } from './api-problem.ts';

/**
 * Runs one call with a deadline: the signal handed to the call aborts at the deadline or when the
 * caller's signal does, and the race settles even if the wait is before the request exists
 * (authentication, such as an exec credential plugin, runs first).
 *
 * No AbortSignal.any and nothing left on the caller's signal: Node keeps a composite signal with an
 * abort listener alive until it aborts, and with it everything the listener reaches (the race, and
 * so every answer): with the RouteAgent reporter's long-lived signal that was each 1,000-remote
 * RouteAgent the API server sent back, for the agent's whole life.
 */
export function withDeadline<T>(timeoutMs: number, outer: AbortSignal, call: (signal: AbortSignal) => Promise<T>, what: string): Promise<T> {
  const controller = new AbortController();
  const { signal } = controller;
  let expire!: (reason: unknown) => void;
  const expired = new Promise<never>((_resolve, reject) => { expire = reject; });
  const abort = (reason: unknown) => {
    controller.abort(reason);
    expire(signal.reason);
  };
  const onOuterAbort = () => abort(outer.reason);
  if (outer.aborted) abort(outer.reason);
  else outer.addEventListener('abort', onOuterAbort, { once: true });
  const timer = setTimeout(() => abort(new ApiTimeoutError(`no answer to ${what} within ${timeoutMs} ms`)), timeoutMs);
  const request = call(signal);
  request.catch(() => undefined); // when the deadline wins the race, the aborted request's rejection is expected
  return Promise.race([request, expired]).finally(() => {
    clearTimeout(timer);
    outer.removeEventListener('abort', onOuterAbort);
  });
}
