/**
 * A plain HTTP GET with a deadline and a size cap, for `seaway diagnose`: the agents' /healthz and
 * /readyz on their TCP port, their local sockets, and another node's /diagnose (`--all`). A failure
 * carries the errno code (ECONNREFUSED, ENOENT, ETIMEDOUT), which says more than its text.
 */
import { request } from 'node:http';

export interface HttpGetOptions {
  /** http://host:port (TCP), or a unix socket path with `socketPath`. */
  url?: string;
  socketPath?: string;
  path: string;
  timeoutMs: number;
  /** Larger answers are cut off and refused (another node's answer must not fill our memory). */
  maxBytes?: number;
  now?: () => number;
}

export interface HttpGetResult { status: number; body: string; rttMs: number }

export class HttpGetError extends Error {
  readonly code: string | undefined;
  constructor(message: string, code: string | undefined) {
    super(message);
    this.name = 'HttpGetError';
    this.code = code;
  }
}

const DEFAULT_MAX_BYTES = 4 * 1024 * 1024;

export function httpGet(options: HttpGetOptions): Promise<HttpGetResult> {
  const now = options.now ?? (() => performance.now());
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const start = now();
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (error: HttpGetError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      reject(error);
    };
    let target: { socketPath: string } | { host: string; port: number };
    if (options.socketPath !== undefined) target = { socketPath: options.socketPath };
    else {
      const url = new URL(options.url ?? '');
      target = { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 80) };
    }
    // No keep-alive agent: one request per connection, so nothing holds the command's event loop open afterwards.
    const req = request({ ...target, path: options.path, method: 'GET', agent: false, headers: { 'user-agent': 'seaway-diagnose' } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) fail(new HttpGetError(`the answer is larger than ${maxBytes} bytes`, 'E2BIG'));
        else chunks.push(chunk);
      });
      res.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), rttMs: now() - start });
      });
      res.on('error', (error: NodeJS.ErrnoException) => fail(new HttpGetError(error.message, error.code)));
    });
    const timer = setTimeout(() => fail(new HttpGetError(`no answer within ${options.timeoutMs} ms`, 'ETIMEDOUT')), options.timeoutMs);
    req.on('error', (error: NodeJS.ErrnoException) => fail(error instanceof HttpGetError ? error : new HttpGetError(error.message, error.code)));
    req.end();
  });
}
