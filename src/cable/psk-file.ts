/** Reads the IPsec PSK file: a clear error naming the file when it is missing or unreadable, then model/psk.ts's checks. */
import { readFile } from 'node:fs/promises';
import { PskError, pskFromFile } from '../model/psk.ts';

export async function readPskFile(path: string): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new PskError(`cannot read the IPsec PSK file ${path}: ${code === 'ENOENT' ? 'it does not exist' : code}`);
  }
  return pskFromFile(bytes, path);
}
