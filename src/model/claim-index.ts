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
import { prefixMask, type Cidr } from './cidr.ts';

export interface Claim<T> {
  cidr: Cidr;
  owner: T;
}

/** prefixMask for every length, computed once: the lookups run 10,000s of times per plan. */
const MASKS: readonly number[] = Array.from({ length: 33 }, (_, p) => prefixMask(p));

export class ClaimIndex<T> {
  /** exact[p]: claims of prefix length p, by network. */
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
    if (level.has(cidr.network)) return;
    const claim = { cidr, owner };
    level.set(cidr.network, claim);
    this.count++;
    if (level.size === 1) this.levels = [...this.levels, cidr.prefixLength].sort((a, b) => a - b);
    for (let p = cidr.prefixLength - 1; p >= 0; p--) {
      const ancestors = this.below[p] as Map<number, Claim<T>>;
      const key = (cidr.network & MASKS[p]!) >>> 0;
      // Every wider ancestor already has an entry once this one has: stop climbing.
      if (ancestors.has(key)) break;
      ancestors.set(key, claim);
    }
  }

  /** The widest claim that contains `cidr` (or equals it), if any. */
  containing(cidr: Cidr): Claim<T> | undefined {
    for (const p of this.levels) {
      if (p > cidr.prefixLength) break;
      const claim = this.exact[p]!.get((cidr.network & MASKS[p]!) >>> 0);
      if (claim !== undefined) return claim;
    }
    return undefined;
  }

  /** A claim strictly inside `cidr`, if any. */
  inside(cidr: Cidr): Claim<T> | undefined {
    return this.below[cidr.prefixLength]?.get(cidr.network);
  }

  /** A claim that overlaps `cidr`: one containing it first, else one inside it. */
  overlapping(cidr: Cidr): Claim<T> | undefined {
    return this.containing(cidr) ?? this.inside(cidr);
  }
}
