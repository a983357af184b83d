/**
 * What the WireGuard cable asks of a WireGuard device, whichever implementation holds it: the
 * kernel's (generic netlink, family `wireguard`) or wireguard-go's (its UAPI socket). Keys are raw
 * 32-byte buffers here; each implementation encodes them as its wire wants (bytes for netlink, hex
 * for UAPI). A set is a change, not a replacement: peers not named are left alone unless
 * `replacePeers` says otherwise, and a peer is updated in place (never removed and added again, so
 * its session and handshake survive).
 */

export interface WgPeerChange {
  publicKey: Buffer;
  /** Take this peer off the device (nothing else of the change is applied). */
  remove?: boolean;
  /** Only change the peer if it exists; never create it. */
  updateOnly?: boolean;
  presharedKey?: Buffer;
  /** Where to send to: `ip:port`. */
  endpoint?: { ip: string; port: number };
  /** Seconds; 0 turns it off. */
  persistentKeepaliveSeconds?: number;
  /** With allowedIps: the peer's allowed IPs become exactly these (atomically, so no packet is refused in between). */
  replaceAllowedIps?: boolean;
  /** IPv4 CIDRs. */
  allowedIps?: readonly string[];
}

export interface WgDeviceChange {
  privateKey?: Buffer;
  listenPort?: number;
  fwmark?: number;
  /** Every peer not in `peers` is removed. */
  replacePeers?: boolean;
  peers?: readonly WgPeerChange[];
}

export interface WgPeerState {
  publicKey: Buffer;
  /** `ip:port`, or undefined before the peer was reached or configured with one. */
  endpoint?: string;
  /** Unix ms of the last handshake; 0 when there has been none. */
  lastHandshakeMs: number;
  rxBytes: number;
  txBytes: number;
  persistentKeepaliveSeconds: number;
  allowedIps: string[];
  /** Whether a preshared key is set (its value is never read back into seaway's memory). */
  hasPresharedKey: boolean;
}

export interface WgDeviceState {
  /** The device's public key, when it has a private key. */
  publicKey?: Buffer;
  listenPort: number;
  fwmark: number;
  peers: WgPeerState[];
}

/** Control of one named WireGuard device. */
export interface WireguardControl {
  /** Which implementation holds the device: logged and exposed on the metrics. */
  readonly implementation: 'kernel' | 'wireguard-go';
  set(change: WgDeviceChange): Promise<void>;
  get(): Promise<WgDeviceState>;
}
