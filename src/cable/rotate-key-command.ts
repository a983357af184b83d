/**
 * `seaway rotate-wireguard-key`: replaces the gateway's WireGuard private key in its state
 * directory (run where the gateway runs, e.g. `kubectl exec` into its pod). The running gateway
 * puts the new key on its device on its next tick and announces the public key on its Endpoint;
 * peers take it from there. Prints the new public key, never the private one.
 */
import type { Writable } from 'node:stream';
import { join } from 'node:path';
import { errorText } from '../model/error-text.ts';
import { WIREGUARD_KEY_FILE, rotateKeyFile } from './wireguard-key-file.ts';

/** Where the WireGuard cable keeps its state under the gateway's state directory. */
export const wireguardStateDir = (gatewayStateDir: string): string => join(gatewayStateDir, 'wireguard');

export async function rotateWireguardKey(gatewayStateDir: string, out: Writable, err: Writable): Promise<number> {
  const path = join(wireguardStateDir(gatewayStateDir), WIREGUARD_KEY_FILE);
  try {
    const { publicKey } = await rotateKeyFile(path);
    out.write(`new WireGuard key in ${path}; public key ${publicKey.toString('base64')}\n`);
    return 0;
  } catch (error) {
    err.write(`seaway: cannot rotate the WireGuard key in ${path}: ${errorText(error)}\n`);
    return 1;
  }
}
