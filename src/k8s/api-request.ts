/**
 * One JSON request to the API server on node:http(s), through an ApiConnection: what the route agent
 * asks (list pages, its RouteAgent, Events) without @kubernetes/client-node's generated client. Every
 * request has a deadline that covers the credentials, the headers and the body; a non-2xx answer
 * becomes an ApiStatusError with the server's Status and Retry-After (api-problem.ts), exactly as a
 * watch's does. A response larger than MAX_RESPONSE_BYTES is refused rather than buffered.
 */
import http from 'node:http';
import https from 'node:https';
import { ApiTimeoutError, statusError, type StatusBody } from './api-problem.ts';
import type { ApiConnection } from './api-connection.ts';

/** A list page of 500 large Nodes is about 6 MB: far below this. */
export const MAX_RESPONSE_BYTES = 256 * 1024 * 1024;

export interface ApiCall {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** From the server's root, e.g. /api/v1/nodes. */
  path: string;
  query?: Record<string, string | undefined>;
  /** Sent as JSON. */
  body?: unknown;
  /** Default application/json; a PATCH names its kind (application/merge-patch+json ...). */
  contentType?: string;
}

export interface ApiCallOptions {
  userAgent: string;
  timeoutMs: number;
  /** The caller's own end (shutdown); the deadline is added to it. */
  signal?: AbortSignal;
  /** For the timeout's message: "listing /api/v1/nodes". */
  what: string;
}

/** How writers send a call: apiRequest over a connection in the agent (`sender`), a fake in unit tests. */
export type ApiSend = (call: ApiCall, options: ApiCallOptions) => Promise<unknown>;

export const sender = (connection: ApiConnection): ApiSend => (call, options) => apiRequest(connection, call, options);

/** The URL of a call (pure). */
export function callUrl(server: string, call: Pick<ApiCall, 'path' | 'query'>): URL {
  const url = new URL(server + call.path);
  for (const [key, value] of Object.entries(call.query ?? {})) if (value !== undefined) url.searchParams.set(key, value);
  return url;
}

/**
 * Sends `call` and resolves with the parsed body (undefined when empty); rejects with ApiStatusError,
 * ApiTimeoutError, the signal's reason or the socket's error. The deadline settles the call even
 * while the credentials are still being fetched (an exec plugin that hangs).
 */
export async function apiRequest(connection: ApiConnection, call: ApiCall, options: ApiCallOptions): Promise<unknown> {
  const controller = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, controller.signal]) : controller.signal;
  const timer = setTimeout(() => controller.abort(new ApiTimeoutError(`no answer to ${options.what} within ${options.timeoutMs} ms`)), options.timeoutMs);
  const expired = new Promise<never>((_resolve, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
  const work = send(connection, call, options, signal);
  work.catch(() => undefined); // when the deadline wins the race, the aborted request's rejection is expected
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

async function send(connection: ApiConnection, call: ApiCall, options: ApiCallOptions, signal: AbortSignal): Promise<unknown> {
  const base = await connection.requestOptions();
  signal.throwIfAborted();
  const url = callUrl(connection.server, call);
  const body = call.body === undefined ? undefined : Buffer.from(JSON.stringify(call.body));
  const headers: Record<string, string | number> = {
    ...(base.headers as Record<string, string> | undefined),
    Accept: 'application/json',
    'User-Agent': options.userAgent,
    ...(body ? { 'Content-Type': call.contentType ?? 'application/json', 'Content-Length': body.length } : {}),
  };
  return new Promise<unknown>((resolve, reject) => {
    const request = (url.protocol === 'https:' ? https : http).request(url, { ...base, method: call.method, headers, signal });
    request.on('error', (error) => reject(signal.aborted ? signal.reason : error));
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_RESPONSE_BYTES) {
          request.destroy(new Error(`the answer to ${options.what} is larger than ${MAX_RESPONSE_BYTES} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      response.on('error', (error) => reject(signal.aborted ? signal.reason : error));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const code = response.statusCode ?? 0;
        if (code >= 200 && code < 300) {
          try {
            resolve(text.trim() === '' ? undefined : JSON.parse(text));
          } catch (error) {
            reject(new Error(`the answer to ${options.what} is not JSON: ${(error as Error).message}`));
          }
          return;
        }
        let status: StatusBody = {};
        try { status = JSON.parse(text) as StatusBody; } catch { /* not a Status: the code alone tells */ }
        const header = response.headers['retry-after'];
        reject(statusError(code, status, Array.isArray(header) ? header[0] : header, Date.now()));
      });
    });
    request.end(body);
  });
}
