import { request } from 'node:http';
import { formatStatus, type StatusDocument } from './server/status.ts';

/** How long `seaway status` waits for the agent before saying it cannot reach it. */
const REQUEST_TIMEOUT_MS = 5000;

/** Exit codes: 0 everything programmed, 1 something is not, 3 the agent could not be asked. */
export const STATUS_NOT_READY = 1;
export const STATUS_UNREACHABLE = 3;

function fetchStatus(socketPath: string): Promise<StatusDocument> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: '/status', method: 'GET', timeout: REQUEST_TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) return reject(new Error(`the agent answered ${res.statusCode}: ${body.trim()}`));
        try {
          resolve(JSON.parse(body) as StatusDocument);
        } catch {
          reject(new Error('the agent answered something that is not a status document'));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** `seaway status`: the running agent's per-object status, read over its local socket. */
export async function status(socketPath: string, json: boolean, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  let doc: StatusDocument;
  try {
    doc = await fetchStatus(socketPath);
  } catch (error) {
    err.write(`seaway: cannot read the agent's status from ${socketPath} (--status-socket): ${(error as Error).message}\n`);
    return STATUS_UNREACHABLE;
  }
  out.write(json ? `${JSON.stringify(doc, null, 2)}\n` : formatStatus(doc));
  return doc.ready ? 0 : STATUS_NOT_READY;
}
