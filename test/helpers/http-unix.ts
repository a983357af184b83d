import { request } from 'node:http';

export interface HttpReply {
  status: number;
  body: string;
}

/** GET over a unix socket: how tests in the root namespace reach an agent living in a network namespace. */
export function httpGetUnix(socketPath: string, path: string, timeoutMs = 2000): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: 'GET', timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} on ${socketPath} timed out`)));
    req.on('error', reject);
    req.end();
  });
}
