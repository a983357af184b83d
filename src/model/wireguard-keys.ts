/**
 * WireGuard's keys as seaway handles them: Curve25519 (X25519) key pairs, base64 on the Endpoint
 * (Submariner's `backend_config.publicKey`), raw bytes towards the device, and the preshared key
 * derived from the cluster's IPsec PSK string exactly as Submariner's WireGuard driver does
 * (SHA-256 of the string), so a Submariner WireGuard gateway and seaway agree on it.
 */
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';

export const WG_KEY_BYTES = 32;

/** PKCS#8 DER for an X25519 private key is this prefix followed by the 32 raw bytes (RFC 8410). */
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

/** A private key clamped as Curve25519 requires (what `wg genkey` stores). */
export function clampPrivateKey(random: Buffer): Buffer {
  if (random.length !== WG_KEY_BYTES) throw new TypeError(`a WireGuard private key is ${WG_KEY_BYTES} bytes, got ${random.length}`);
  const key = Buffer.from(random);
  key[0] = key[0]! & 248;
  key[31] = (key[31]! & 127) | 64;
  return key;
}

export function wireguardPublicKey(privateKey: Buffer): Buffer {
  if (privateKey.length !== WG_KEY_BYTES) throw new TypeError(`a WireGuard private key is ${WG_KEY_BYTES} bytes, got ${privateKey.length}`);
  const key = createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, privateKey]), format: 'der', type: 'pkcs8' });
  const jwk = createPublicKey(key).export({ format: 'jwk' });
  return Buffer.from(String(jwk.x), 'base64url');
}

/** Submariner's WireGuard PSK: SHA-256 of the PSK string (the Secret's text as it is). */
export function wireguardPresharedKey(psk: Buffer): Buffer {
  return createHash('sha256').update(psk).digest();
}

/** A base64 public key from an Endpoint, or why it is not one. */
export function parseWireguardKey(text: unknown): { ok: true; key: Buffer } | { ok: false; reason: string } {
  if (typeof text !== 'string') return { ok: false, reason: 'is missing' };
  if (!/^[A-Za-z0-9+/]{43}=$/.test(text)) return { ok: false, reason: 'is not 32 bytes in base64' };
  return { ok: true, key: Buffer.from(text, 'base64') };
}
