import { Observable, type ConfigurationOptions, type ObservableMiddleware } from '@kubernetes/client-node';

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

export { withDeadline } from './deadline.ts';
