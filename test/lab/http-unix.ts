import { request } from 'node:http';

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface HttpRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs?: number;
}

/** One HTTP request over a unix socket (how the root namespace reaches servers inside the lab). */
export function httpUnix(socketPath: string, path: string, options: HttpRequest = {}): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.body !== undefined) headers['content-length'] = String(Buffer.byteLength(options.body));
    const req = request({ socketPath, path, method: options.method ?? 'GET', headers, timeout: options.timeoutMs ?? 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${options.method ?? 'GET'} ${path} on ${socketPath} timed out`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** GET over a unix socket, e.g. an agent's /readyz through `<labdir>/<node>/agent.sock`. */
export function httpGetUnix(socketPath: string, path: string): Promise<HttpResponse> {
  return httpUnix(socketPath, path);
}
