/**
 * What the WireGuard cable asks of the device (pure): one peer per remote cable, configured as
 * Submariner's WireGuard driver does it (its public key from the Endpoint's
 * `backend_config.publicKey`, the PSK derived from the cluster's, endpoint `<address>:<udp-port>`,
 * a persistent keepalive, AllowedIPs = the remote subnets), so a Submariner WireGuard gateway can
 * be the peer. Changes are in place: a peer that exists is updated (`update_only` semantics are
 * not needed: the device is seaway's), its allowed IPs replaced atomically, never removed and
 * added again, so a changed subnet list costs no handshake. And how a peer's state reads as a
 * cable status.
 */
import type { CableEndpoint } from '../model/cable-endpoint.ts';
import type { WgDeviceState, WgPeerChange, WgPeerState } from '../model/wireguard-device.ts';
import type { CableState } from '../cable/cable.ts';

/** Submariner's keepalive for WireGuard peers. */
export const WIREGUARD_KEEPALIVE_SECONDS = 10;
/**
 * WireGuard's REJECT_AFTER_TIME: a session older than this carries nothing, and an active peer
 * renews it every 2 minutes (REKEY_AFTER_TIME), so a handshake older than this means the path is dead.
 */
export const WIREGUARD_SESSION_SECONDS = 180;

/** A peer as seaway configures it. */
export interface WireguardPeer {
  cableName: string;
  publicKey: Buffer;
  endpoint: { ip: string; port: number };
  allowedIps: readonly string[];
}

export function peerOf(endpoint: CableEndpoint, publicKey: Buffer): WireguardPeer {
  return { cableName: endpoint.cableName, publicKey, endpoint: { ip: endpoint.address, port: endpoint.natTPort }, allowedIps: [...endpoint.subnets].sort() };
}

const sameList = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);

/** Whether the peer as configured before still holds (same key, endpoint and allowed IPs). */
export function samePeer(a: WireguardPeer, b: WireguardPeer): boolean {
  return a.publicKey.equals(b.publicKey) && a.endpoint.ip === b.endpoint.ip && a.endpoint.port === b.endpoint.port && sameList(a.allowedIps, b.allowedIps);
}

/**
 * The change that makes the device carry `peer`: its whole configuration, which updates an existing
 * peer in place. The endpoint is set only when it changed from what was configured (`previous`):
 * WireGuard follows a peer that roams (a NAT rebinding) and setting the old one again would break that.
 * `keepalive: false` leaves the keepalive off for now (see initiatesFirst).
 */
export function peerChange(peer: WireguardPeer, presharedKey: Buffer, previous: WireguardPeer | undefined, { keepalive = true }: { keepalive?: boolean } = {}): WgPeerChange {
  const endpointChanged = !previous || previous.endpoint.ip !== peer.endpoint.ip || previous.endpoint.port !== peer.endpoint.port;
  return {
    publicKey: peer.publicKey,
    presharedKey,
    ...(endpointChanged ? { endpoint: peer.endpoint } : {}),
    ...(keepalive ? { persistentKeepaliveSeconds: WIREGUARD_KEEPALIVE_SECONDS } : {}),
    replaceAllowedIps: true,
    allowedIps: peer.allowedIps,
  };
}

/**
 * Whether this side starts the first handshake with a new peer. Setting a keepalive sends one at
 * once, which starts a handshake; when both gateways add each other within the same moment (they
 * learn of each other through the broker at about the same time), the two initiations cross, each
 * side's state for its own is overwritten by the other's, and neither completes until WireGuard
 * retries 5 s later (measured by the cable benchmark). So only the side with the greater public key
 * sets the keepalive at once; the other sets it a moment later (by when the handshake has happened,
 * or it starts one itself if the other side's came before it knew the peer, or never came).
 */
export function initiatesFirst(localPublicKey: Buffer, remotePublicKey: Buffer): boolean {
  return Buffer.compare(localPublicKey, remotePublicKey) > 0;
}

/** Peers on the device that no wanted peer has: to be removed (the device is seaway's alone). */
export function strayPeers(device: WgDeviceState, wanted: readonly WireguardPeer[]): WgPeerChange[] {
  return device.peers
    .filter((p) => !wanted.some((w) => w.publicKey.equals(p.publicKey)))
    .map((p) => ({ publicKey: p.publicKey, remove: true }));
}

/** Wanted peers the device lacks or holds differently (a restarted daemon, someone's `wg set`): to be configured again. */
export function driftedPeers(device: WgDeviceState, wanted: readonly WireguardPeer[]): WireguardPeer[] {
  return wanted.filter((w) => {
    const held = device.peers.find((p) => p.publicKey.equals(w.publicKey));
    return !held || !held.hasPresharedKey || !sameList(held.allowedIps, w.allowedIps) || held.persistentKeepaliveSeconds !== WIREGUARD_KEEPALIVE_SECONDS;
  });
}

export interface PeerVerdict {
  state: CableState;
  message: string;
}

/** A peer's state on the device as a cable status, from its last handshake (unix ms) and the time now. */
export function peerVerdict(peer: WgPeerState | undefined, nowMs: number): PeerVerdict {
  if (!peer) return { state: 'connecting', message: 'the peer is not on the WireGuard device (yet)' };
  if (peer.lastHandshakeMs === 0) return { state: 'connecting', message: 'no handshake with the peer yet' };
  const ageS = Math.max(0, Math.round((nowMs - peer.lastHandshakeMs) / 1000));
  if (ageS > WIREGUARD_SESSION_SECONDS) return { state: 'error', message: `the last handshake with the peer was ${ageS} s ago: its session has expired` };
  return { state: 'connected', message: '' };
}
