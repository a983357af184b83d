import type { InterfaceEvent } from '../model/interface-events.ts';

export type { InterfaceEvent };

export interface CniInterface {
  name: string;
  index: number;
  address: string;
  prefixLength: number;
}

export interface CniMatch {
  /** The interface named by configuration, if any: it wins whatever its address. */
  interfaceName?: string;
  /** Whether an IPv4 address lies inside the local pod CIDR(s). */
  inPodCidr: (address: string) => boolean;
}

interface Seen {
  name?: string;
  addresses: Array<{ address: string; prefixLength: number }>;
}

/**
 * Folds link and address events (a dump and the live stream, in any order and with repeats)
 * into the set of interfaces, and answers which one is the CNI interface now. Pure state.
 */
export class CniTracker {
  #interfaces = new Map<number, Seen>();
  #match: CniMatch;

  constructor(match: CniMatch) {
    this.#match = match;
  }

  apply(event: InterfaceEvent): void {
    if (event.type === 'snapshot') {
      this.#interfaces.clear();
      for (const change of event.changes) this.apply(change);
      return;
    }
    const seen = this.#interfaces.get(event.index) ?? { addresses: [] };
    if (event.type === 'link') {
      if (event.op === 'del') { this.#interfaces.delete(event.index); return; }
      // A new link at a reused index is a different interface: its old addresses are gone.
      if (seen.name !== undefined && seen.name !== event.name) seen.addresses = [];
      seen.name = event.name;
    } else {
      seen.addresses = seen.addresses.filter((a) => a.address !== event.address || a.prefixLength !== event.prefixLength);
      if (event.op === 'new') seen.addresses.push({ address: event.address, prefixLength: event.prefixLength });
    }
    this.#interfaces.set(event.index, seen);
  }

  current(): CniInterface | null {
    const candidates: CniInterface[] = [];
    for (const [index, seen] of [...this.#interfaces.entries()].sort(([a], [b]) => a - b)) {
      if (seen.name === undefined) continue;
      const named = this.#match.interfaceName !== undefined;
      if (named && seen.name !== this.#match.interfaceName) continue;
      const inCidr = seen.addresses.find((a) => this.#match.inPodCidr(a.address));
      const chosen = inCidr ?? (named ? seen.addresses[0] : undefined);
      if (chosen) candidates.push({ name: seen.name, index, ...chosen });
    }
    return candidates[0] ?? null;
  }

  /** For the periodic "still waiting" log: every interface with its addresses. */
  describe(): string[] {
    return [...this.#interfaces.values()]
      .filter((s) => s.name !== undefined)
      .map((s) => `${s.name}${s.addresses.length ? ` ${s.addresses.map((a) => `${a.address}/${a.prefixLength}`).join(',')}` : ''}`);
  }
}
