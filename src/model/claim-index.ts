/**
 * A set of claimed CIDRs that answers "does this CIDR overlap a claim, and which one" in at most 33
 * map lookups, whatever the number of claims: the cluster-wide checks ask it once per remote subnet,
 * for budgets of up to 262,144 subnets, so a scan per question (quadratic) is not an option.
 *
 * Two CIDRs overlap exactly when one contains the other. A claim that contains the query is one of
 * the query's 33 possible ancestors (or itself), looked up by prefix length; a claim inside the query
 * is found through `below`, which maps every strict ancestor of a claim to the first claim added under
 * it. Callers add in a deterministic order, so the claim named in a message is the same on every node.
 */
import { CidrKeySet } from './cidr-members.ts';
import type { Cidr } from './cidr.ts';

export interface Claim<T> {
  cidr: Cidr;
  owner: T;
}

/**
 * The key of the /p network holding `address`: its top p bits, shifted down. Below /31 it is a small
 * integer, which V8 keeps unboxed; the masked 32-bit network (`address & mask >>> 0`) is a boxed number
 * from 1.0.0.0 up, one allocation per lookup, hundreds of thousands per plan. (`>>> 32` shifts by 0.)
 */
const slot = (address: number, p: number): number => (p === 0 ? 0 : address >>> (32 - p));

export class ClaimIndex<T> {
  /** exact[p]: claims of prefix length p, by slot. */
  private readonly exact: Array<Map<number, Claim<T>>> = Array.from({ length: 33 }, () => new Map());
  /** below[p]: for each /p network that strictly contains a claim, the first such claim added. */
  private readonly below: Array<Map<number, Claim<T>>> = Array.from({ length: 33 }, () => new Map());
  private count = 0;
  /** The prefix lengths that hold a claim, ascending: `containing` looks only there (often 1 or 2 levels, not 33). */
  private levels: number[] = [];

  get size(): number {
    return this.count;
  }

  /** Adds a claim; a CIDR claimed already keeps its first owner. */
  add(cidr: Cidr, owner: T): void {
    const level = this.exact[cidr.prefixLength] as Map<number, Claim<T>>;
    const at = slot(cidr.network, cidr.prefixLength);
    if (level.has(at)) return;
    const claim = { cidr, owner };
    level.set(at, claim);
    this.count++;
    if (level.size === 1) this.levels = [...this.levels, cidr.prefixLength].sort((a, b) => a - b);
    for (let p = cidr.prefixLength - 1; p >= 0; p--) {
      const ancestors = this.below[p] as Map<number, Claim<T>>;
      const key = slot(cidr.network, p);
      // Every wider ancestor already has an entry once this one has: stop climbing.
      if (ancestors.has(key)) break;
      ancestors.set(key, claim);
    }
  }

  /** The widest claim that contains `cidr` (or equals it), if any. */
  containing(cidr: Cidr): Claim<T> | undefined {
    // Indexed, not for-of: without TurboFan (the image's --max-opt=2) each step of an iterator is an allocation.
    const levels = this.levels;
    for (let i = 0; i < levels.length; i++) {
      const p = levels[i]!;
      if (p > cidr.prefixLength) break;
      const claim = this.exact[p]!.get(slot(cidr.network, p));
      if (claim !== undefined) return claim;
    }
    return undefined;
  }

  /** A claim strictly inside `cidr`, if any. */
  inside(cidr: Cidr): Claim<T> | undefined {
    return this.below[cidr.prefixLength]?.get(slot(cidr.network, cidr.prefixLength));
  }

  /** A claim that overlaps `cidr`: one containing it first, else one inside it. */
  overlapping(cidr: Cidr): Claim<T> | undefined {
    return this.containing(cidr) ?? this.inside(cidr);
  }
}

/**
 * True when no two of the CIDRs overlap (a CIDR twice overlaps itself). Two CIDRs overlap only when
 * one holds the other, so sorted by network, the wider first at one network, each must start past
 * the end of the one before it. One native sort of numbers and no map: asking a ClaimIndex the same
 * of 10,000 CIDRs builds maps of them.
 */
export function noneOverlap(cidrs: readonly Cidr[]): boolean {
  // CidrKeySet's numbers (network x 64 + prefix length): sorted by network, then wider first.
  const keys = new Float64Array(cidrs.length);
  for (let i = 0; i < cidrs.length; i++) keys[i] = CidrKeySet.key(cidrs[i]!.network, cidrs[i]!.prefixLength);
  keys.sort();
  let coveredUpTo = -1;
  for (let i = 0; i < keys.length; i++) {
    const prefixLength = keys[i]! % 64;
    const network = (keys[i]! - prefixLength) / 64;
    if (network <= coveredUpTo) return false;
    coveredUpTo = network + 2 ** (32 - prefixLength) - 1;
  }
  return true;
}
