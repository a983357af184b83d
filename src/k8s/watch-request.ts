import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { ApiTimeoutError, statusError, statusErrorFromAnswer, type StatusBody } from './api-problem.ts';
import type { ApiConnection } from './api-connection.ts';
import { callUrl } from './api-request.ts';

export interface WatchStreamOptions {
  /** Query parameters besides watch=true (resourceVersion, timeoutSeconds, allowWatchBookmarks, selectors). */
  params: Record<string, string>;
  /** Deadline for the response headers, authentication included. */
  connectTimeoutMs: number;
  /** A stream silent this long fails with ApiTimeoutError. */
  silenceMs: number;
  userAgent: string;
  signal: AbortSignal;
  onOpen(): void;
  /** One parsed watch event line ({type, object}). Throwing fails the watch. */
  onEvent(type: string, object: unknown): void;
  /** Cuts what no reader needs from an event line before it is parsed (Nodes' image lists). */
  trim?: (line: string) => string;
}

/** Largest error body read: a Status is small; anything bigger is cut. */
const MAX_ERROR_BODY = 64 * 1024;

/**
 * One watch request through an ApiConnection (its credentials, TLS settings and keep-alive agent),
 * on node:http(s). client-node's Watch is not used because it hides what an informer must decide
 * on: the Retry-After of a 429 and the Status of an error, and it aborts a quiet watch after 30 s. Resolves when the server ends the stream;
 * rejects with ApiStatusError (HTTP error or ERROR event), ApiTimeoutError (no headers in time,
 * or silence), or the socket's error. Settles only after the socket is closed.
 */
export function watchStream(connection: ApiConnection, path: string, options: WatchStreamOptions): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let outcome: { error?: unknown } | undefined;
    let request: http.ClientRequest | undefined;
    let timer: NodeJS.Timeout | undefined;
    let closed = false;
    const arm = (ms: number, error: () => Error) => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(error()), ms);
    };
    const settle = () => {
      if (!outcome || !closed) return;
      clearTimeout(timer);
      options.signal.removeEventListener('abort', onAbort);
      if (outcome.error === undefined) resolve();
      else reject(outcome.error);
    };
    /** First outcome wins; the request is torn down and the promise settles once its socket is closed. */
    const finish = (error?: unknown) => {
      if (outcome) return;
      outcome = error === undefined ? {} : { error };
      clearTimeout(timer);
      if (request) request.destroy();
      else closed = true;
      settle();
    };
    const onAbort = () => finish(options.signal.reason ?? new Error('aborted'));
    if (options.signal.aborted) {
      onAbort();
      return;
    }
    options.signal.addEventListener('abort', onAbort, { once: true });
    arm(options.connectTimeoutMs, () => new ApiTimeoutError(`no answer to the watch within ${options.connectTimeoutMs} ms`));

    const start = async () => {
      const url = callUrl(connection.server, { path, query: { watch: 'true', ...options.params } });
      // Credentials (tokens, client certificates), CA and agent, as every other request of this connection gets them.
      const base = await connection.requestOptions();
      const requestOptions: https.RequestOptions = { ...base, method: 'GET', headers: { ...(base.headers as Record<string, string> | undefined), Accept: 'application/json', 'User-Agent': options.userAgent } };
      if (outcome) return;
      const req = (url.protocol === 'https:' ? https : http).request(url, requestOptions);
      request = req;
      req.on('close', () => { closed = true; settle(); });
      req.on('error', (error) => finish(error));
      req.on('response', (res) => onResponse(res));
      req.end();
    };

    const onResponse = (res: IncomingMessage) => {
      const code = res.statusCode ?? 0;
      res.setEncoding('utf8');
      if (code !== 200) {
        let body = '';
        res.on('data', (chunk: string) => { if (body.length < MAX_ERROR_BODY) body += chunk; });
        res.on('end', () => finish(statusErrorFromAnswer(code, body, res.headers['retry-after'], Date.now())));
        res.on('error', (error) => finish(error));
        return;
      }
      const silent = () => new ApiTimeoutError(`the watch stream was silent for ${options.silenceMs} ms`);
      arm(options.silenceMs, silent);
      options.onOpen();
      let buffered = '';
      res.on('data', (chunk: string) => {
        // The same deadline again: refreshed in place, not a timer cleared and made anew for each of
        // the hundreds of chunks a second that 5,000 Nodes' heartbeats bring.
        timer?.refresh();
        buffered += chunk;
        let newline: number;
        while (!outcome && (newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          if (line === '') continue;
          try {
            const event = JSON.parse(options.trim ? options.trim(line) : line) as { type?: unknown; object?: unknown };
            if (event.type === 'ERROR') {
              const status = (event.object ?? {}) as StatusBody;
              finish(statusError(typeof status.code === 'number' ? status.code : 500, status, undefined, Date.now()));
              return;
            }
            options.onEvent(String(event.type), event.object);
          } catch (error) {
            finish(error);
            return;
          }
        }
      });
      res.on('end', () => finish());
      res.on('aborted', () => finish(Object.assign(new Error('the watch stream was cut'), { code: 'ECONNRESET' })));
      res.on('error', (error) => finish(error));
    };

    start().catch((error: unknown) => finish(error));
  });
}
