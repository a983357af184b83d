import { formatIpv4, scanIpv4, scanPrefixLength } from './cidr.ts';

/**
 * A set's members as CIDR texts ("10.1.0.0/16", a host as "/32"): what the planners ask of a set
 * they read. A `Set<string>` is one; so is a CidrKeySet.
 */
export interface CidrMembers extends Iterable<string> {
  readonly size: number;
  has(cidr: string): boolean;
  forEach(each: (cidr: string) => void): void;
}

/** One member as a number: the network's 32 bits, then 6 for the prefix length (below 2^38, exact in a double). */
const keyOf = (network: number, prefixLength: number) => network * 64 + prefixLength;

/**
 * IPv4 members held as one sorted array of numbers instead of a string each: the filter's drift
 * check reads seaway's sets every 2 s, 10,000 members and more, and compares them with the wanted
 * lists; a text per member and a hash of them made most of the garbage an agent under Endpoint
 * churn produced (README, "Footprint"). Only a member that is to go is ever written out as text.
 * `has` is true exactly when the text is the one this member would be written as: strict dotted
 * quad, a slash, a prefix length without a leading zero.
 */
export class CidrKeySet implements CidrMembers {
  readonly #keys: Float64Array;

  /** Takes `keys` (from `CidrKeySet.key`) as its own: sorts them in place and leaves out repeats. */
  constructor(keys: Float64Array) {
    keys.sort();
    let distinct = 0;
    for (let i = 0; i < keys.length; i++) if (i === 0 || keys[i] !== keys[distinct - 1]) keys[distinct++] = keys[i]!;
    this.#keys = distinct === keys.length ? keys : keys.subarray(0, distinct);
  }

  /** The number a member is held as; network an unsigned 32-bit address, prefixLength 0-32. */
  static key(network: number, prefixLength: number): number {
    return keyOf(network, prefixLength);
  }

  get size(): number {
    return this.#keys.length;
  }

  has(cidr: string): boolean {
    const slash = cidr.indexOf('/');
    if (slash < 0) return false;
    const network = scanIpv4(cidr, 0, slash);
    const prefixLength = scanPrefixLength(cidr, slash + 1);
    if (network < 0 || prefixLength < 0) return false;
    const wanted = keyOf(network, prefixLength);
    const keys = this.#keys;
    let low = 0;
    let high = keys.length - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const at = keys[middle]!;
      if (at === wanted) return true;
      if (at < wanted) low = middle + 1;
      else high = middle - 1;
    }
    return false;
  }

  forEach(each: (cidr: string) => void): void {
    const keys = this.#keys;
    for (let i = 0; i < keys.length; i++) each(textOf(keys[i]!));
  }

  *[Symbol.iterator](): Iterator<string> {
    const keys = this.#keys;
    for (let i = 0; i < keys.length; i++) yield textOf(keys[i]!);
  }
}

function textOf(key: number): string {
  return `${formatIpv4(Math.floor(key / 64))}/${key % 64}`;
}
