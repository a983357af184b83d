/**
 * The IPsec pre-shared key as the cable holds it (pure): validated, never printed, and rotated with
 * a window in which the old and the new key are both accepted.
 *
 * charon verifies a peer's AUTH against every shared key that matches the two identities, and
 * builds its own with the best match. So the current key is loaded owned by the gateways'
 * identities (an exact match, used to authenticate), a previous one with no owners (any identity,
 * a weaker match: only accepted): a peer that has not rotated yet still gets in, and once every
 * peer has, the old key is unloaded.
 */

/** Submariner's PSK is 48 random bytes, base64 (64 characters); anything under 32 bytes is refused. */
export const MIN_PSK_BYTES = 32;

export class PskError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PskError';
  }
}

/** The key in a file's bytes: one trailing newline dropped (an editor's), nothing else changed. Errors never quote the key. */
export function pskFromFile(bytes: Buffer, path: string): Buffer {
  let end = bytes.length;
  if (end > 0 && bytes[end - 1] === 0x0a) {
    end -= 1;
    if (end > 0 && bytes[end - 1] === 0x0d) end -= 1;
  }
  const key = bytes.subarray(0, end);
  if (key.length === 0) throw new PskError(`the IPsec PSK file ${path} is empty`);
  if (key.length < MIN_PSK_BYTES) throw new PskError(`the IPsec PSK in ${path} is ${key.length} bytes; at least ${MIN_PSK_BYTES} are needed (Submariner's is 48 random bytes, base64)`);
  return Buffer.from(key);
}

export interface KeyGeneration {
  /** The shared key's unique id in charon: a counter, never derived from the key. */
  id: string;
  key: Buffer;
}

export interface Keyring {
  current: KeyGeneration;
  /** The key before the last rotation, accepted until `until` (unix ms). */
  previous?: KeyGeneration & { until: number };
  generation: number;
}

export const keyringOf = (key: Buffer): Keyring => ({ current: { id: 'seaway-psk-1', key }, generation: 1 });

/** A new key read: unchanged keeps the ring; a different one becomes current and the old one previous until `now + windowMs`. */
export function rotate(ring: Keyring, key: Buffer, now: number, windowMs: number): Keyring {
  if (ring.current.key.equals(key)) return ring;
  const generation = ring.generation + 1;
  return { current: { id: `seaway-psk-${generation}`, key }, previous: { ...ring.current, until: now + windowMs }, generation };
}

/** The ring once its window has passed: the previous key is dropped. */
export function expire(ring: Keyring, now: number): Keyring {
  if (!ring.previous || ring.previous.until > now) return ring;
  return { current: ring.current, generation: ring.generation };
}

export interface SharedKeyLoad {
  id: string;
  type: 'IKE';
  data: Buffer;
  owners: string[];
}

/** The load-shared messages for a ring: the current key owned by the identities, the previous one by nobody (any). */
export function sharedKeyLoads(ring: Keyring, identities: readonly string[]): SharedKeyLoad[] {
  const loads: SharedKeyLoad[] = [{ id: ring.current.id, type: 'IKE', data: ring.current.key, owners: [...new Set(identities)].sort() }];
  if (ring.previous) loads.push({ id: ring.previous.id, type: 'IKE', data: ring.previous.key, owners: [] });
  return loads;
}
