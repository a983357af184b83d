/**
 * One JSON request to the API server on node:http(s), through an ApiConnection: what the route agent
 * asks (list pages, its RouteAgent, Events) without @kubernetes/client-node's generated client. Every
 * request has a deadline that covers the credentials, the headers and the body; a non-2xx answer
 * becomes an ApiStatusError with the server's Status and Retry-After (api-problem.ts), exactly as a
 * watch's does. Answers come gzip-compressed when the server compresses them (kube-apiserver does for
 * large lists: a page of 500 Nodes is about 6 MB of JSON, a tenth of it compressed). A response
 * larger than MAX_RESPONSE_BYTES once decompressed is refused rather than buffered; an error's
 * body is read up to MAX_ERROR_BYTES (a Status is small).
 */
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { statusErrorFromAnswer } from './api-problem.ts';
import { withDeadline } from './deadline.ts';
import type { ApiConnection } from './api-connection.ts';

/** A list page of 500 large Nodes is about 6 MB: far below this, and far below the agent's memory. */
export const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
const MAX_ERROR_BYTES = 64 * 1024;

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
  /** Cuts what no reader needs from a successful answer's text before it is parsed (Nodes' image lists). */
  trim?: (text: string) => string;
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
  return withDeadline(options.timeoutMs, options.signal ?? new AbortController().signal, (signal) => send(connection, call, options, signal), options.what);
}

async function send(connection: ApiConnection, call: ApiCall, options: ApiCallOptions, signal: AbortSignal): Promise<unknown> {
  const base = await connection.requestOptions();
  signal.throwIfAborted();
  const url = callUrl(connection.server, call);
  const body = call.body === undefined ? undefined : Buffer.from(JSON.stringify(call.body));
  const headers: Record<string, string | number> = {
    ...(base.headers as Record<string, string> | undefined),
    Accept: 'application/json',
    'Accept-Encoding': 'gzip',
    'User-Agent': options.userAgent,
    ...(body ? { 'Content-Type': call.contentType ?? 'application/json', 'Content-Length': body.length } : {}),
  };
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<unknown>((resolve, reject) => {
    const attempt = (again: boolean) => exchange(client.request(url, { ...base, method: call.method, headers, signal }), body, options, signal,
      { resolve, reject, ...(again ? { staleSocket: () => attempt(false) } : {}) });
    // A GET is sent once more when the pooled socket it went out on turned out closed (see exchange).
    attempt(call.method === 'GET');
  });
}

/**
 * A keep-alive socket the server closed while it sat in the pool (its idle timeout, a restart, a
 * proxy's) resets the next request sent on it before any answer: the server never saw that request.
 * Node marks such a request `reusedSocket`, and its documentation asks callers to send it again.
 * Only a GET is sent again, and only once: a write might have reached the server, and a reset on a
 * fresh socket, or a second one, is the server's trouble and is reported as such.
 */
function closedWhilePooled(request: http.ClientRequest, error: unknown, answered: boolean): boolean {
  return !answered && request.reusedSocket && (error as NodeJS.ErrnoException).code === 'ECONNRESET';
}

/**
 * Sends the body and reads the answer. Its listeners outlive the call: Node's keep-alive TLS agent
 * keeps the request that made a socket reachable for as long as the socket is pooled (through the
 * socket's 'session' listener), and with the request every listener here. So they reach the caller
 * only through `pending`, emptied when the call settles, and drop the chunks they gathered: a pooled
 * socket holds no answer (before, each held the first answer it carried, a RouteAgent of 1,000 remotes
 * among them). A top-level function, so the body is not in any listener's scope either.
 */
function exchange(request: http.ClientRequest, body: Buffer | undefined, { what, trim }: Pick<ApiCallOptions, 'what' | 'trim'>, signal: AbortSignal,
  settle: { resolve: (value: unknown) => void; reject: (error: unknown) => void; staleSocket?: () => void }): void {
  let pending: typeof settle | null = settle;
  let answered = false;
  const finish = (outcome: { value: unknown } | { error: unknown }) => {
    const to = pending;
    pending = null;
    if (to === null) return;
    if ('error' in outcome) to.reject(outcome.error);
    else to.resolve(outcome.value);
  };
  request.on('error', (error) => {
    const again = pending?.staleSocket;
    if (again && !signal.aborted && closedWhilePooled(request, error, answered)) {
      pending = null;
      again();
      return;
    }
    finish({ error: signal.aborted ? signal.reason : error });
  });
  request.on('response', (response) => {
    answered = true;
    const code = response.statusCode ?? 0;
    const ok = code >= 200 && code < 300;
    const limit = ok ? MAX_RESPONSE_BYTES : MAX_ERROR_BYTES;
    const gzipped = /^\s*gzip\s*$/i.test(String(response.headers['content-encoding'] ?? ''));
    const stream: Readable = gzipped ? response.pipe(createGunzip()) : response;
    let chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      if (size >= limit) return;
      size += chunk.length;
      if (size > limit && ok) {
        request.destroy(new Error(`the answer to ${what} is larger than ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    const fail = (error: Error) => { chunks = []; finish({ error: signal.aborted ? signal.reason : error }); };
    response.on('error', fail);
    if (gzipped) stream.on('error', (error) => fail(new Error(`the answer to ${what} is not valid gzip: ${error.message}`)));
    stream.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      chunks = [];
      if (!ok) {
        finish({ error: statusErrorFromAnswer(code, text, response.headers['retry-after'], Date.now()) });
        return;
      }
      try {
        finish({ value: text.trim() === '' ? undefined : JSON.parse(trim ? trim(text) : text) });
      } catch (error) {
        finish({ error: new Error(`the answer to ${what} is not JSON: ${(error as Error).message}`) });
      }
    });
  });
  request.end(body);
}
