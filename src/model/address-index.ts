/**
 * Single addresses (the protected ones: every Node's, the API server's, the local Endpoint's) that
 * answer "which of them lies in this CIDR" by binary search over a sorted Uint32Array: 4 bytes an
 * address, where a ClaimIndex of /32 claims keeps a map entry for each address and for its
 * ancestors (1.2 MiB at 5,000 Nodes, kept from pass to pass). Given in the order a message should
 * prefer (by address first), the answer is the first one given that lies in the CIDR: the one
 * ClaimIndex would name for the same claims added in the same order.
 */
import type { Cidr } from './cidr.ts';

export class AddressIndex<T> {
  private readonly addresses: Uint32Array;
  private readonly owners: readonly T[];

  /** `points` sorted by address (ascending); among equal addresses the first is the one named. */
  constructor(points: ReadonlyArray<{ address: number; owner: T }>) {
    this.addresses = new Uint32Array(points.length);
    const owners: T[] = new Array<T>(points.length);
    for (let i = 0; i < points.length; i++) {
      const { address, owner } = points[i]!;
      if (i > 0 && address < this.addresses[i - 1]!) throw new Error('AddressIndex: the points must be sorted by address');
      this.addresses[i] = address;
      owners[i] = owner;
    }
    this.owners = owners;
  }

  get size(): number {
    return this.addresses.length;
  }

  /** The first address given that lies in `cidr`, with its owner, if any. */
  within(cidr: Cidr): { address: number; owner: T } | undefined {
    const first = cidr.network;
    const last = first + 2 ** (32 - cidr.prefixLength) - 1;
    // The first index whose address is at least `first`.
    let lo = 0;
    let hi = this.addresses.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.addresses[mid]! < first) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.addresses.length && this.addresses[lo]! <= last ? { address: this.addresses[lo]!, owner: this.owners[lo]! } : undefined;
  }
}
