/**
 * The WireGuard cable: one peer per remote cluster on the gateway's WireGuard device (the kernel's
 * or wireguard-go's, behind WireguardControl), and routes of the remote subnets into the device.
 * It holds no policy: what each peer looks like and how a peer's state reads come from
 * plan/wireguard-peers.ts; this file sequences the calls and keeps what it configured, so a
 * restarted daemon gets all of it again.
 *
 * Fail closed as the IPsec cable does: every remote subnet (of a cable, or held for a remote
 * without one) has a blackhole on the floor behind the cable table, so when the device or a peer is
 * gone its traffic is dropped, never sent out of the default route in the clear.
 */
import { isDeepStrictEqual } from 'node:util';
import { errorText } from '../model/error-text.ts';
import { parseWireguardKey, wireguardPresharedKey } from '../model/wireguard-keys.ts';
import type { WgPeerChange, WireguardControl } from '../model/wireguard-device.ts';
import {
  driftedPeers, initiatesFirst, peerChange, peerOf, peerVerdict, samePeer, strayPeers, WIREGUARD_KEEPALIVE_SECONDS, type WireguardPeer,
} from '../plan/wireguard-peers.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Cable, CableEndpoint, CableStatus } from './cable.ts';
import type { CableRoute, CableRoutes } from './cable-routes.ts';
import type { IpsecKernel } from './ipsec-kernel.ts';
import type { WireguardIdentity } from './wireguard-key-file.ts';
import { Serial } from './serial.ts';
import { waitConnected } from './wait-connected.ts';

export interface WireguardCableOptions {
  control: WireguardControl;
  routes: CableRoutes;
  floor: Pick<IpsecKernel, 'ensureFailClosed'>;
  /** The device's interface index now (undefined while it does not exist: a daemon restarting). */
  deviceIndex(): Promise<number | undefined>;
  /** The source for traffic the gateway itself sends into the cable (an address inside the local subnets), if it has one. */
  sourceAddress(): Promise<string | undefined>;
  /** The private key in use now (the key file's; read again on every repair, so a rotated key is taken up). */
  identity(): Promise<WireguardIdentity>;
  listenPort: number;
  /** The cluster's PSK (the IPsec PSK file's text); the peers' preshared key is its SHA-256, as Submariner's. */
  readPsk(): Promise<Buffer>;
  log: Logger;
  now?: () => number;
}

/** How long after its peer is configured the side that does not initiate first sets its keepalive. */
const RESPONDER_KEEPALIVE_DELAY_MS = 250;

/** How often waitConnected looks at the device (WireGuard sends no events). */
const WAIT_POLL_MS = 100;

export class WireguardCable implements Cable {
  readonly backend = 'wireguard' as const;
  readonly #options: WireguardCableOptions;
  readonly #now: () => number;
  /** The peers as configured, by cable name. */
  readonly #peers = new Map<string, WireguardPeer>();
  readonly #lastErrors = new Map<string, string>();
  /** When each cable was first seen connected in its current run of being connected (unix ms). */
  readonly #connectedSince = new Map<string, number>();
  #held: string[] = [];
  #psk: Buffer | undefined;
  #privateKey: Buffer | undefined;
  /** The daemon lost what it had (a restart) and a reload has not gone through yet: the next repair reloads. */
  #needsReload = true;
  readonly #changes = new Serial();

  constructor(options: WireguardCableOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    return this.#changes.run(work);
  }

  /**
   * The device is new (the daemon started or restarted): its key, its port and every peer, replacing
   * whatever it had; then the routes (the old device's went with it) and the floor.
   */
  reload(): Promise<void> {
    return this.#serial(async () => {
      this.#needsReload = true;
      const psk = wireguardPresharedKey(await this.#options.readPsk());
      const { privateKey } = await this.#options.identity();
      await this.#options.control.set({
        privateKey, listenPort: this.#options.listenPort, replacePeers: true,
        peers: [...this.#peers.values()].map((peer) => peerChange(peer, psk, undefined)),
      });
      this.#psk = psk;
      this.#privateKey = privateKey;
      await this.#kernel();
      this.#needsReload = false;
    });
  }

  /**
   * The periodic repair: a reload that did not go through is tried again; a changed PSK or private
   * key is put on the device; peers someone removed or changed are configured again and peers that
   * are not seaway's removed; the routes and the floor made whole.
   */
  repair(): Promise<void> {
    if (this.#needsReload) return this.reload();
    return this.#serial(async () => {
      const psk = wireguardPresharedKey(await this.#options.readPsk());
      const { privateKey } = await this.#options.identity();
      const device = await this.#options.control.get();
      const wanted = [...this.#peers.values()];
      const pskChanged = !this.#psk?.equals(psk);
      const again = pskChanged ? wanted : driftedPeers(device, wanted);
      // A peer the device lost gets its endpoint again; one it holds keeps the endpoint it roamed to.
      const held = (peer: WireguardPeer) => device.peers.some((p) => p.publicKey.equals(peer.publicKey));
      const changes: WgPeerChange[] = [...strayPeers(device, wanted), ...again.map((peer) => peerChange(peer, psk, held(peer) ? peer : undefined))];
      const keyChanged = !this.#privateKey?.equals(privateKey);
      if (changes.length > 0 || keyChanged) {
        if (keyChanged) this.#options.log.info('the WireGuard private key changed: the device takes the new one, and the Endpoint announces its public key');
        if (pskChanged) this.#options.log.info('the PSK changed: every WireGuard peer takes the new preshared key');
        await this.#options.control.set({ ...(keyChanged ? { privateKey } : {}), peers: changes });
        this.#psk = psk;
        this.#privateKey = privateKey;
      }
      await this.#kernel();
    });
  }

  connect(endpoint: CableEndpoint): Promise<void> {
    return this.#serial(async () => {
      // Read and plan first: a bad key or PSK fails here and touches nothing.
      const key = parseWireguardKey(endpoint.publicKey);
      if (!key.ok) throw new Error(`the remote's WireGuard public key ${key.reason}`);
      const psk = wireguardPresharedKey(await this.#options.readPsk());
      const peer = peerOf(endpoint, key.key);
      const previous = this.#peers.get(endpoint.cableName);
      if (previous && samePeer(previous, peer) && this.#psk?.equals(psk)) return;
      try {
        const changes: WgPeerChange[] = [];
        // The remote has a new key (its gateway made a new one): the old peer cannot be updated into it.
        if (previous && !previous.publicKey.equals(peer.publicKey)) changes.push({ publicKey: previous.publicKey, remove: true });
        const sameKey = previous?.publicKey.equals(peer.publicKey) ? previous : undefined;
        const keepalive = sameKey !== undefined || initiatesFirst((await this.#options.identity()).publicKey, peer.publicKey);
        changes.push(peerChange(peer, psk, sameKey, { keepalive }));
        this.#peers.set(endpoint.cableName, peer);
        await this.#options.control.set({ peers: changes });
        this.#psk ??= psk;
        await this.#kernel();
        this.#lastErrors.delete(endpoint.cableName);
        if (!keepalive) this.#keepaliveSoon(peer.publicKey);
      } catch (error) {
        this.#lastErrors.set(endpoint.cableName, errorText(error));
        if (previous) this.#peers.set(endpoint.cableName, previous);
        else this.#peers.delete(endpoint.cableName);
        throw error;
      }
    });
  }

  /**
   * The side that does not initiate first sets its keepalive shortly after (see initiatesFirst):
   * late enough that two initiations do not cross, soon enough that a first initiation the other
   * side sent before it knew this peer (and so dropped) costs a fraction of a second, not WireGuard's
   * 5 s retry or the next repair. update_only: a peer removed meanwhile is not brought back.
   */
  #keepaliveSoon(publicKey: Buffer): void {
    const timer = setTimeout(() => {
      void this.#serial(() => this.#options.control.set({ peers: [{ publicKey, updateOnly: true, persistentKeepaliveSeconds: WIREGUARD_KEEPALIVE_SECONDS }] }))
        .catch((error: unknown) => this.#options.log.debug({ err: errorText(error) }, 'setting a WireGuard keepalive failed; the next repair sets it'));
    }, RESPONDER_KEEPALIVE_DELAY_MS);
    timer.unref();
  }

  disconnect(cableName: string): Promise<void> {
    return this.#serial(async () => {
      const peer = this.#peers.get(cableName);
      if (peer) await this.#options.control.set({ peers: [{ publicKey: peer.publicKey, remove: true }] });
      this.#peers.delete(cableName);
      this.#lastErrors.delete(cableName);
      this.#connectedSince.delete(cableName);
      await this.#kernel();
    });
  }

  /** See IpsecCable.holdSubnets: the floor covers these too, whether or not a cable carries them. */
  holdSubnets(subnets: readonly string[]): Promise<void> {
    return this.#serial(async () => {
      const next = [...new Set(subnets)].sort();
      if (isDeepStrictEqual(next, this.#held)) return;
      this.#held = next;
      await this.#options.floor.ensureFailClosed(this.#remoteSubnets());
    });
  }

  #remoteSubnets(): string[] {
    return [...new Set([...[...this.#peers.values()].flatMap((p) => p.allowedIps), ...this.#held])].sort();
  }

  /** The floor first (nothing leaks while routes change), then the routes into the device, when it exists. */
  async #kernel(): Promise<void> {
    await this.#options.floor.ensureFailClosed(this.#remoteSubnets());
    const oif = await this.#options.deviceIndex();
    if (oif === undefined) throw new Error('the WireGuard device does not exist');
    const src = await this.#options.sourceAddress();
    const routes: CableRoute[] = [...this.#peers.values()].flatMap((peer) => peer.allowedIps.map((dst) => ({ dst, oif, ...(src ? { src } : {}) })));
    await this.#options.routes.ensure(routes);
  }

  async status(): Promise<CableStatus[]> {
    const device = await this.#options.control.get();
    const now = this.#now();
    return [...this.#peers.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([name, peer]) => {
      const held = device.peers.find((p) => p.publicKey.equals(peer.publicKey));
      const verdict = peerVerdict(held, now);
      if (verdict.state === 'connected') this.#connectedSince.set(name, this.#connectedSince.get(name) ?? held?.lastHandshakeMs ?? now);
      else this.#connectedSince.delete(name);
      const lastError = this.#lastErrors.get(name);
      const establishedAt = this.#connectedSince.get(name);
      return {
        cableName: name, state: verdict.state, message: verdict.message,
        rxBytes: held?.rxBytes ?? 0, txBytes: held?.txBytes ?? 0,
        ...(establishedAt !== undefined ? { establishedAt } : {}),
        ...(lastError !== undefined ? { lastError } : {}),
      };
    });
  }

  /** Resolves once the peer has had a handshake; rejects at the deadline with what the device says. */
  waitConnected(cableName: string, timeoutMs: number): Promise<void> {
    return waitConnected({
      what: 'WireGuard', cableName, timeoutMs, status: () => this.status(), known: () => this.#peers.has(cableName), now: this.#now,
      pause: (left) => new Promise((resolve) => setTimeout(resolve, Math.min(left, WAIT_POLL_MS))),
    });
  }
}
