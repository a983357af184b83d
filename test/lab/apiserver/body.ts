import type { IncomingMessage } from 'node:http';
import { ApiError, errors } from './status.ts';

/** Bodies beyond the limit are still read (and discarded) up to this many bytes, so the client sees the 413. */
const drainLimit = 64 * 1024 * 1024;

/** Reads the request body as text, rejecting (413) bodies larger than `maxBytes`. */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = Number.isFinite(declared) && declared > maxBytes;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) tooLarge = true;
    if (tooLarge) {
      if (size > drainLimit) {
        req.destroy();
        break;
      }
      continue;
    }
    chunks.push(chunk);
  }
  if (tooLarge) throw errors.tooLarge(maxBytes);
  return Buffer.concat(chunks).toString('utf8');
}

export function mediaType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ApiError(400, `error decoding the request body as JSON: ${(error as Error).message}`);
  }
}
