import { Observable, type ConfigurationOptions, type ObservableMiddleware } from '@kubernetes/client-node';
import { ApiTimeoutError } from './api-problem.ts';

/**
 * Per-call options for client-node's generated API clients: our User-Agent (the API server's
 * audit log and APF see `seaway/<version>` instead of the library's name) and an AbortSignal
 * (the client's fetch takes it from the request context).
 */
export function callOptions(options: { userAgent: string; signal?: AbortSignal }): ConfigurationOptions {
  const middleware: ObservableMiddleware = {
    pre: (request) => {
      request.setHeaderParam('User-Agent', options.userAgent);
      if (options.signal) request.setSignal(options.signal);
      return new Observable(Promise.resolve(request));
    },
    post: (response) => new Observable(Promise.resolve(response)),
  };
  // Appended: runs after the client's own User-Agent middleware, so ours wins.
  return { middleware: [middleware], middlewareMergeStrategy: 'append' };
}

/**
 * Runs one call with a deadline: the signal handed to the call aborts at the deadline or when the
 * caller's signal does, and the race settles even if the wait is before the request exists
 * (authentication, such as an exec credential plugin, runs first).
 */
export function withDeadline<T>(timeoutMs: number, outer: AbortSignal, call: (signal: AbortSignal) => Promise<T>, what: string): Promise<T> {
  const controller = new AbortController();
  const signal = AbortSignal.any([outer, controller.signal]);
  const expired = new Promise<never>((_resolve, reject) => {
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
  const timer = setTimeout(() => controller.abort(new ApiTimeoutError(`no answer to ${what} within ${timeoutMs} ms`)), timeoutMs);
  const request = call(signal);
  request.catch(() => undefined); // when the deadline wins the race, the aborted request's rejection is expected
  return Promise.race([request, expired]).finally(() => clearTimeout(timer));
}
