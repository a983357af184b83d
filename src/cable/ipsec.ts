/**
 * The IPsec cable: strongSwan's charon, driven over VICI. It holds no policy of its own: what to
 * ask charon for comes from plan/ipsec-connections.ts (connections, children) and model/psk.ts
 * (keys and their rotation); this file sequences the calls, keeps what it loaded so a restarted
 * charon gets all of it again, and reads the cable's state from charon's own SAs and counters.
 *
 * Order of a connect: the PSK is read and the connection planned first (bad input fails here and
 * touches nothing); then the fail-closed blackholes for the remote subnets and any source address
 * kernel-libipsec needs; then the keys; then the connection, which both sides initiate.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from '../telemetry/logger.ts';
import { errorText } from '../model/error-text.ts';
import { expectSuccess, type ViciInputSection, type ViciSection } from '../kernel/vici/client.ts';
import { libipsecAddresses, planConnection, type IpsecLocal, type IpsecSettings, type PlannedConnection } from '../plan/ipsec-connections.ts';
import { expire, keyringOf, rotate, sharedKeyLoads, type Keyring } from '../model/psk.ts';
import type { Cable, CableEndpoint, CableStatus } from './cable.ts';
import type { IpsecKernel } from './ipsec-kernel.ts';
import { Serial } from './serial.ts';
import { waitConnected } from './wait-connected.ts';

/** The part of the VICI client the cable uses (injected, so failures can be driven in units). */
export interface ViciPort {
  request(command: string, message?: ViciInputSection, options?: { timeoutMs?: number }): Promise<ViciSection>;
  stream(command: string, event: string, message?: ViciInputSection, options?: { timeoutMs?: number }): Promise<{ events: ViciSection[]; response: ViciSection }>;
  subscribe(event: string, handler: (message: ViciSection) => void): Promise<() => Promise<void>>;
}

export interface IpsecCableOptions {
  vici: ViciPort;
  kernel: IpsecKernel;
  local: Omit<IpsecLocal, 'addresses'>;
  settings: IpsecSettings;
  /** Reads and validates the PSK file (model/psk.ts pskFromFile); throws a PskError that never quotes the key. */
  readPsk: () => Promise<Buffer>;
  /** How long the previous PSK stays accepted after a rotation. */
  rotationWindowMs: number;
  log: Logger;
  now?: () => number;
}

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const section = (value: unknown): ViciSection | undefined => (value !== null && typeof value === 'object' && !Array.isArray(value) ? value as ViciSection : undefined);

/** A command whose answer must be `success: yes` (ViciCommandError with charon's errmsg otherwise). */
async function command(vici: ViciPort, name: string, message?: ViciInputSection): Promise<ViciSection> {
  return expectSuccess(await vici.request(name, message), name);
}

interface SaView {
  established: boolean;
  establishedAt?: number;
  installed: Set<string>;
  /** Children charon has installed or is negotiating (not to be initiated again). */
  children: Set<string>;
  rxBytes: number;
  txBytes: number;
}

/** A cable as this process has it: the endpoint asked for, and the plan charon was given for it. */
interface CableEntry {
  endpoint: CableEndpoint;
  planned: PlannedConnection;
}

/** The connection's `local_addrs`, for the log. */
function localAddrsOf(planned: PlannedConnection): unknown {
  return section(planned.loadConn[planned.name])?.['local_addrs'];
}

export class IpsecCable implements Cable {
  readonly backend = 'ipsec' as const;
  readonly #options: IpsecCableOptions;
  readonly #now: () => number;
  readonly #connections = new Map<string, CableEntry>();
  readonly #lastErrors = new Map<string, string>();
  readonly #waiters = new Set<() => void>();
  #ring: Keyring | undefined;
  /** The keys charon holds from us, as loaded: a key is sent again only when it or its owners change. */
  #loadedKeys = new Map<string, { data: Buffer; owners: string }>();
  #subscribed = false;
  /** charon lost what it had (a restart) and a reload has not gone through yet: the next repair reloads. */
  #needsReload = false;
  /** Every change to charon's configuration goes through here one at a time: they read and write the maps above across awaits. */
  readonly #changes = new Serial();

  constructor(options: IpsecCableOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    return this.#changes.run(work);
  }

  /** Subscribes to charon's SA events once (the client keeps them across reconnects): they wake waiters. */
  async #subscribe(): Promise<void> {
    if (this.#subscribed) return;
    // A down event is not an error by itself: both sides initiate, and the duplicate IKE SA goes down at once.
    const wake = () => { for (const waiter of [...this.#waiters]) waiter(); };
    await this.#options.vici.subscribe('ike-updown', wake);
    await this.#options.vici.subscribe('child-updown', wake);
    this.#subscribed = true;
  }

  /**
   * charon (re)started: it knows nothing; load the keys and every connection again. One cable that
   * fails does not keep the others out; if any failed, the next repair reloads again.
   */
  reload(): Promise<void> {
    return this.#serial(async () => {
      this.#needsReload = true;
      await this.#subscribe();
      this.#loadedKeys = new Map();
      if (this.#connections.size > 0) {
        await this.#loadKeys(this.#ring);
        const addresses = await this.#addressesNow();
        const views = await this.#sas();
        await this.#eachCable('reloading IPsec cables into charon', async (name, entry) => {
          // Planned against the gateway's addresses now: charon has nothing, so this plan is loaded whatever it was before.
          const planned = (addresses && this.#replanned(entry, addresses)) ?? entry.planned;
          await command(this.#options.vici, 'load-conn', planned.loadConn);
          if (planned !== entry.planned) this.#connections.set(name, { endpoint: entry.endpoint, planned });
          await this.#initiateMissing(name, views);
        });
      }
      this.#needsReload = false;
    });
  }

  /**
   * The periodic repair: a reload that did not go through is tried again; every cable is planned
   * again against the gateway's addresses now, and one whose plan changed (the public IP came onto
   * or left the gateway, so IKE's local addresses change; under libipsec a local subnet gained or
   * lost its source address) is loaded into charon again; and every child charon lost and did not
   * restart on its own (a failed rekey, a negotiation that failed) is initiated. One look at the
   * addresses and at charon's SAs serves every cable.
   */
  async repair(): Promise<void> {
    if (this.#needsReload) return this.reload();
    await this.#serial(async () => {
      const addresses = await this.#addressesNow();
      const views = await this.#sas();
      await this.#eachCable('repairing IPsec cables', async (name, entry) => {
        const planned = addresses && this.#replanned(entry, addresses);
        if (planned) await this.#reloadChanged(name, entry, planned);
        await this.#initiateMissing(name, views);
      });
    });
  }

  /** The gateway's addresses, or undefined (logged) when they cannot be read: the plans charon has then stay. */
  async #addressesNow(): Promise<string[] | undefined> {
    try {
      return await this.#options.kernel.addresses();
    } catch (error) {
      this.#options.log.warn({ err: errorText(error) }, 'reading the gateway\'s addresses failed; the IPsec cables are not planned again until they can be read');
      return undefined;
    }
  }

  /** A cable planned again with these addresses: the new plan when it differs from the one it has, else undefined. */
  #replanned(entry: CableEntry, addresses: readonly string[]): PlannedConnection | undefined {
    const planned = planConnection({ ...this.#options.local, addresses }, entry.endpoint, this.#options.settings);
    return isDeepStrictEqual(planned, entry.planned) ? undefined : planned;
  }

  /**
   * Loads a changed plan of a cable charon has (load-conn replaces its configuration; its SAs stay)
   * and terminates children no longer planned. The remote subnets (so the blackholes) and the libipsec
   * source addresses do not depend on the gateway's addresses, so the kernel is not touched. Kept
   * only once charon took it, so a failed load is tried again on the next repair.
   */
  async #reloadChanged(name: string, entry: CableEntry, planned: PlannedConnection): Promise<void> {
    for (const dropped of planned.dropped) {
      this.#options.log.warn({ cable: name, localTs: dropped.localTs, remoteTs: dropped.remoteTs }, `IPsec child left out: ${dropped.reason}`);
    }
    this.#options.log.info({ cable: name, localAddrs: localAddrsOf(planned) }, 'the gateway\'s addresses changed the IPsec connection: loading it again');
    await command(this.#options.vici, 'load-conn', planned.loadConn);
    this.#connections.set(name, { endpoint: entry.endpoint, planned });
    await this.#terminateRemoved(name, entry.planned, planned);
  }

  /** Runs `work` for every cable; one that fails keeps its error and does not stop the others, and the call then fails naming them. */
  async #eachCable(what: string, work: (name: string, entry: CableEntry) => Promise<void>): Promise<void> {
    const failed: string[] = [];
    // A copy: work may replace a cable's entry.
    for (const [name, entry] of [...this.#connections]) {
      try {
        await work(name, entry);
      } catch (error) {
        this.#lastErrors.set(name, errorText(error));
        failed.push(`${name}: ${errorText(error)}`);
      }
    }
    if (failed.length > 0) throw new Error(`${what} failed for ${failed.join('; ')}`);
  }

  /**
   * Initiates every planned child of a cable that charon does not have up or on its way (the first
   * one brings the IKE SA; the rest queue on it). Both sides do this, so either can bring the cable
   * back; a child the peer initiated first is not initiated again.
   */
  async #initiateMissing(cableName: string, views: Map<string, SaView>): Promise<void> {
    const entry = this.#connections.get(cableName);
    if (!entry) return;
    const present = views.get(cableName)?.children ?? new Set<string>();
    for (const child of entry.planned.children) {
      if (!present.has(child.name)) await command(this.#options.vici, 'initiate', { ike: cableName, child: child.name, timeout: '-1' });
    }
  }

  connect(endpoint: CableEndpoint): Promise<void> {
    return this.#serial(() => this.#connect(endpoint));
  }

  async #connect(endpoint: CableEndpoint): Promise<void> {
    const { kernel, settings, vici } = this.#options;
    // Read and plan first: a bad key or a malformed endpoint fails here and touches nothing.
    const key = await this.#options.readPsk();
    const addresses = await kernel.addresses();
    const local: IpsecLocal = { ...this.#options.local, addresses };
    const planned = planConnection(local, endpoint, settings);
    for (const dropped of planned.dropped) {
      this.#options.log.warn({ cable: endpoint.cableName, localTs: dropped.localTs, remoteTs: dropped.remoteTs }, `IPsec child left out: ${dropped.reason}`);
    }
    const previous = this.#connections.get(endpoint.cableName);
    this.#connections.set(endpoint.cableName, { endpoint, planned });
    let loaded = false;
    try {
      await kernel.ensureFailClosed(this.#remoteSubnets());
      await kernel.ensureAddresses(libipsecAddresses(local, settings.espMode));
      // The first key makes the ring; a changed key is refreshKeys' work (it reauthenticates with it).
      const ring = this.#ring ?? keyringOf(key);
      await this.#loadKeys(ring);
      this.#ring = ring;
      // A cable new to us may still have an IKE_SA in charon from an earlier time (an earlier
      // tenure of that peer, its DELETE still being retransmitted to a peer that restarted): children
      // initiated now would join it and hang until the peer initiates afresh. Until load-conn no SA
      // of ours can legitimately carry this name (the peer's were refused for want of a config).
      if (!previous) await vici.request('terminate', { ike: endpoint.cableName, force: 'yes', timeout: '-1' });
      await command(vici, 'load-conn', planned.loadConn);
      loaded = true;
      if (previous) await this.#terminateRemoved(endpoint.cableName, previous.planned, planned);
      await this.#initiateMissing(endpoint.cableName, await this.#sas());
      this.#lastErrors.delete(endpoint.cableName);
    } catch (error) {
      this.#lastErrors.set(endpoint.cableName, errorText(error));
      if (previous) {
        this.#connections.set(endpoint.cableName, previous);
      } else {
        // A new cable that did not make it is taken out again, charon's copy and its blackholes with it.
        this.#connections.delete(endpoint.cableName);
        this.#lastErrors.delete(endpoint.cableName);
        if (loaded) await vici.request('unload-conn', { name: endpoint.cableName }).catch(() => undefined);
        await kernel.ensureFailClosed(this.#remoteSubnets()).catch(() => undefined);
      }
      throw error;
    }
  }

  /** A changed subnet list: the children of subnets that went are terminated; the others keep their SAs. */
  async #terminateRemoved(ike: string, before: PlannedConnection, after: PlannedConnection): Promise<void> {
    const has = new Set(after.children.map((c) => c.name));
    for (const child of before.children) {
      if (!has.has(child.name)) await this.#options.vici.request('terminate', { ike, child: child.name, timeout: '-1' });
    }
  }

  disconnect(cableName: string): Promise<void> {
    return this.#serial(async () => {
      const { vici, kernel } = this.#options;
      // Unload first, so neither close_action nor a repair brings it back; then end its SAs. Both are
      // sent even for a name this process does not know (charon may have it from an earlier attempt).
      await vici.request('unload-conn', { name: cableName });
      await vici.request('terminate', { ike: cableName, timeout: '-1' });
      this.#connections.delete(cableName);
      this.#lastErrors.delete(cableName);
      await kernel.ensureFailClosed(this.#remoteSubnets());
      await this.#loadKeys(this.#ring);
    });
  }

  /**
   * Picks up a changed PSK file: the new key is used from now on, the old one accepted for the
   * rotation window. Each cable then reauthenticates make-before-break, so the new key is proven
   * while the old SA still carries traffic; a peer that has not rotated yet refuses it and the old
   * SA stays (its own rotation brings the new one). The ring is kept only once charon has its keys,
   * so a failed load is tried again on the next call.
   */
  refreshKeys(): Promise<boolean> {
    return this.#serial(async () => {
      const before = this.#ring;
      if (!before) return false;
      const key = await this.#options.readPsk();
      const now = this.#now();
      const rotated = rotate(before, key, now, this.#options.rotationWindowMs);
      const next = expire(rotated, now);
      if (next === before) return false;
      await this.#loadKeys(next);
      this.#ring = next;
      if (rotated !== before) {
        for (const name of this.#connections.keys()) {
          await this.#reauthenticate(name).catch((error: Error) => this.#options.log.warn({ cable: name, err: error.message }, 'IPsec reauthentication with the new PSK failed; the current SA stays'));
        }
      }
      return true;
    });
  }

  /** A new IKE SA (and children) made before the old one is deleted: no packet lost. */
  reauthenticate(cableName: string): Promise<void> {
    return this.#serial(() => this.#reauthenticate(cableName));
  }

  async #reauthenticate(cableName: string): Promise<void> {
    await command(this.#options.vici, 'rekey', { ike: cableName, reauth: 'yes' });
  }

  /** When the previous key's window ends (unix ms), if there is one. */
  get rotationEndsAt(): number | undefined {
    return this.#ring?.previous?.until;
  }

  /** Loads the ring's keys charon does not have as they are (a changed owner list reloads one), and unloads those it no longer needs. */
  async #loadKeys(ring: Keyring | undefined): Promise<void> {
    if (!ring) return;
    const identities = [this.#options.local.privateIp, ...[...this.#connections.values()].map((c) => c.endpoint.privateIp)];
    const loads = sharedKeyLoads(ring, identities);
    const loaded = new Map<string, { data: Buffer; owners: string }>();
    for (const load of loads) {
      const owners = load.owners.join(',');
      const had = this.#loadedKeys.get(load.id);
      if (!had || had.owners !== owners || !had.data.equals(load.data)) {
        await command(this.#options.vici, 'load-shared', { id: load.id, type: load.type, data: load.data, owners: load.owners });
      }
      loaded.set(load.id, { data: load.data, owners });
    }
    for (const id of this.#loadedKeys.keys()) {
      if (!loaded.has(id)) await command(this.#options.vici, 'unload-shared', { id });
    }
    this.#loadedKeys = loaded;
  }

  #remoteSubnets(): string[] {
    return [...new Set([...this.#connections.values()].flatMap((c) => c.planned.children.map((child) => child.remoteTs)
      .concat(c.planned.dropped.map((d) => d.remoteTs))).concat(this.#held))].sort();
  }

  /** Remote subnets the floor drops although no cable carries them (yet): see holdSubnets. */
  #held: string[] = [];

  /**
   * Makes the fail-closed floor cover these subnets too, whether or not a cable to them exists: the
   * route agents send every accepted remote's traffic to the gateway, and a remote this gateway has
   * no cable for (another backend, a malformed backend_config) or none yet (the moments after
   * the Endpoint is published) must be dropped, not sent out of the default route in the clear.
   */
  holdSubnets(subnets: readonly string[]): Promise<void> {
    return this.#serial(async () => {
      const next = [...new Set(subnets)].sort();
      if (next.join() === this.#held.join()) return;
      this.#held = next;
      await this.#options.kernel.ensureFailClosed(this.#remoteSubnets());
    });
  }

  /** charon's SAs per connection: whether the IKE SA is up, which children are installed, their byte counters. */
  async #sas(): Promise<Map<string, SaView>> {
    const { events } = await this.#options.vici.stream('list-sas', 'list-sa', { noblock: 'yes' });
    const views = new Map<string, SaView>();
    for (const event of events) {
      for (const [name, value] of Object.entries(event)) {
        const ike = section(value);
        if (!ike) continue;
        const view = views.get(name) ?? { established: false, installed: new Set<string>(), children: new Set<string>(), rxBytes: 0, txBytes: 0 };
        if (text(ike.state) === 'ESTABLISHED') {
          view.established = true;
          const ago = Number(text(ike.established));
          if (Number.isFinite(ago)) view.establishedAt = Math.min(view.establishedAt ?? Infinity, this.#now() - ago * 1000);
        }
        for (const childValue of Object.values(section(ike['child-sas']) ?? {})) {
          const child = section(childValue);
          if (!child) continue;
          const state = text(child.state) ?? '';
          if (state === 'INSTALLED') view.installed.add(text(child.name) ?? '');
          if (!/^(DELETING|DELETED|DESTROYING|FAILED)$/.test(state)) view.children.add(text(child.name) ?? '');
          view.rxBytes += Number(text(child['bytes-in']) ?? 0) || 0;
          view.txBytes += Number(text(child['bytes-out']) ?? 0) || 0;
        }
        views.set(name, view);
      }
    }
    return views;
  }

  async status(): Promise<CableStatus[]> {
    const views = await this.#sas();
    return [...this.#connections.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([name, { planned }]) => {
      const view = views.get(name);
      const missing = planned.children.filter((c) => !view?.installed.has(c.name)).map((c) => c.name);
      const connected = view?.established === true && missing.length === 0;
      const notes = planned.dropped.map((d) => `${d.localTs} <-> ${d.remoteTs} left out: ${d.reason}`);
      const lastError = this.#lastErrors.get(name);
      const message = connected ? notes.join('; ')
        : [view?.established ? `IKE SA established; waiting for ${missing.join(', ')}` : 'IKE SA not established', ...notes].join('; ');
      return {
        cableName: name,
        state: connected ? 'connected' : 'connecting',
        message,
        rxBytes: view?.rxBytes ?? 0,
        txBytes: view?.txBytes ?? 0,
        ...(view?.establishedAt !== undefined ? { establishedAt: Math.round(view.establishedAt) } : {}),
        ...(lastError !== undefined ? { lastError } : {}),
      };
    });
  }

  /** Resolves once the cable's IKE SA and every child are up (charon's events wake the check); rejects at the deadline with what is missing. */
  waitConnected(cableName: string, timeoutMs: number): Promise<void> {
    return waitConnected({
      what: 'IPsec', cableName, timeoutMs, status: () => this.status(), known: () => this.#connections.has(cableName), now: this.#now,
      pause: (left) => new Promise<void>((resolve) => {
        const wake = () => { clearTimeout(timer); this.#waiters.delete(wake); resolve(); };
        // charon's events wake it at once; the poll covers a missed event (a reconnecting client).
        const timer = setTimeout(wake, Math.min(left, 500));
        this.#waiters.add(wake);
      }),
    });
  }
}
