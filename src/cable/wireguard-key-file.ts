/**
 * The gateway's WireGuard private key, kept in a 0600 file in the node's state directory so it
 * survives restarts: a restarted gateway keeps its public key, and its peers need neither a new
 * Endpoint nor a new handshake key (Submariner makes a new key on every start, so every remote
 * peer has to reconnect). Replaced only on purpose, by `seaway gateway-rotate-key` (rotateKeyFile).
 * The file holds the key in base64 as `wg genkey` writes it; the key never reaches a log.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { clampPrivateKey, parseWireguardKey, wireguardPublicKey } from '../model/wireguard-keys.ts';

export interface WireguardIdentity {
  privateKey: Buffer;
  publicKey: Buffer;
}

export const WIREGUARD_KEY_FILE = 'wireguard.key';

async function writeKey(path: string, privateKey: Buffer): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.tmp`;
  await writeFile(temporary, `${privateKey.toString('base64')}\n`, { mode: 0o600 });
  await chmod(temporary, 0o600);
  // Whole or not at all: a crash never leaves half a key behind.
  await rename(temporary, path);
}

const identityOf = (privateKey: Buffer): WireguardIdentity => ({ privateKey, publicKey: wireguardPublicKey(privateKey) });

/** The key in the file (created when there is none); a file that holds no key is an error naming it, never overwritten. */
export async function loadOrCreateKey(path: string, random: (n: number) => Buffer = randomBytes): Promise<{ identity: WireguardIdentity; created: boolean }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot read the WireGuard key file ${path}: ${(error as Error).message}`);
    const privateKey = clampPrivateKey(random(32));
    await writeKey(path, privateKey);
    return { identity: identityOf(privateKey), created: true };
  }
  const parsed = parseWireguardKey(text.trim());
  if (!parsed.ok) throw new Error(`the WireGuard key file ${path} ${parsed.reason}; remove it (the gateway makes a new key, and its peers take the new public key from its Endpoint) or run seaway gateway-rotate-key`);
  // A file someone made readable is tightened rather than trusted as it is.
  await chmod(path, 0o600);
  return { identity: identityOf(parsed.key), created: false };
}

/** A new key in the file, for an operator who wants one (a leaked key, a policy): the running gateway takes it up on its next tick. */
export async function rotateKeyFile(path: string, random: (n: number) => Buffer = randomBytes): Promise<WireguardIdentity> {
  const privateKey = clampPrivateKey(random(32));
  await writeKey(path, privateKey);
  return identityOf(privateKey);
}
