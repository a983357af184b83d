/**
 * wireguard-go's UAPI text protocol (the "cross-platform userspace implementation" protocol of
 * wireguard.com/xplatform), as plain functions: a set request from a WgDeviceChange, a get reply
 * into a WgDeviceState. Keys travel as 64 hex characters. A request ends with an empty line; a reply
 * ends with `errno=<n>` and an empty line (0 = done; a set that fails part-way keeps the lines
 * before the failing one, so the cable plans changes that are safe to apply partially).
 */
import type { WgDeviceChange, WgDeviceState, WgPeerState } from '../../model/wireguard-device.ts';

export class UapiError extends Error {
  readonly errno: number;
  constructor(what: string, errno: number) {
    super(`wireguard-go refused the ${what} (errno ${errno})`);
    this.name = 'UapiError';
    this.errno = errno;
  }
}

const hexKey = (key: Buffer, what: string): string => {
  if (key.length !== 32) throw new TypeError(`${what} must be 32 bytes, got ${key.length}`);
  return key.toString('hex');
};

/** A value that must not carry a line break into the protocol (it would start a new key). */
const plain = (value: string, what: string): string => {
  if (/[\n\r=]/.test(value)) throw new TypeError(`${what} ${JSON.stringify(value)} would break the UAPI request`);
  return value;
};

export function encodeUapiSet(change: WgDeviceChange): string {
  const lines = ['set=1'];
  if (change.privateKey) lines.push(`private_key=${hexKey(change.privateKey, 'the private key')}`);
  if (change.listenPort !== undefined) lines.push(`listen_port=${change.listenPort}`);
  if (change.fwmark !== undefined) lines.push(`fwmark=${change.fwmark}`);
  if (change.replacePeers) lines.push('replace_peers=true');
  for (const peer of change.peers ?? []) {
    lines.push(`public_key=${hexKey(peer.publicKey, 'a peer\'s public key')}`);
    if (peer.remove) {
      lines.push('remove=true');
      continue;
    }
    if (peer.updateOnly) lines.push('update_only=true');
    if (peer.presharedKey) lines.push(`preshared_key=${hexKey(peer.presharedKey, 'the preshared key')}`);
    if (peer.endpoint) lines.push(`endpoint=${plain(peer.endpoint.ip, 'endpoint')}:${peer.endpoint.port}`);
    if (peer.persistentKeepaliveSeconds !== undefined) lines.push(`persistent_keepalive_interval=${peer.persistentKeepaliveSeconds}`);
    if (peer.replaceAllowedIps) lines.push('replace_allowed_ips=true');
    for (const cidr of peer.allowedIps ?? []) lines.push(`allowed_ip=${plain(cidr, 'allowed IP')}`);
  }
  return `${lines.join('\n')}\n\n`;
}

export const UAPI_GET = 'get=1\n\n';

/** The errno a complete reply ends with, or undefined while the reply is not complete yet. */
export function uapiReplyErrno(text: string): number | undefined {
  if (!text.endsWith('\n\n')) return undefined;
  const match = /(?:^|\n)errno=(-?[0-9]+)\n\n$/.exec(text);
  // The reply's text is not quoted: a get reply carries private and preshared keys.
  if (!match) throw new Error(`wireguard-go's reply (${text.length} bytes) does not end with errno`);
  return Number(match[1]);
}

const number = (key: string, value: string): number => {
  if (!/^[0-9]+$/.test(value)) throw new Error(`wireguard-go reported ${key}=${JSON.stringify(value.slice(0, 40))}, not a number`);
  return Number(value);
};

const keyOf = (key: string, value: string): Buffer => {
  if (!/^[0-9a-f]{64}$/.test(value)) throw new Error(`wireguard-go reported a ${key} that is not 64 hex characters`);
  return Buffer.from(value, 'hex');
};

/** A complete get reply (errno 0) as the device's state. Unknown keys are skipped (newer versions add some). */
export function parseUapiGet(text: string, publicKeyOf: (privateKey: Buffer) => Buffer): WgDeviceState {
  const state: WgDeviceState = { listenPort: 0, fwmark: 0, peers: [] };
  let peer: (WgPeerState & { handshakeSec: number; handshakeNsec: number }) | undefined;
  const finish = () => {
    if (!peer) return;
    const { handshakeSec, handshakeNsec, ...rest } = peer;
    state.peers.push({ ...rest, lastHandshakeMs: handshakeSec * 1000 + Math.floor(handshakeNsec / 1e6) });
  };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const at = line.indexOf('=');
    if (at <= 0) throw new Error(`wireguard-go's reply has a line without a key: ${JSON.stringify(line.slice(0, 40))}`);
    const key = line.slice(0, at);
    const value = line.slice(at + 1);
    if (key === 'errno') break;
    if (key === 'public_key') {
      finish();
      peer = { publicKey: keyOf(key, value), lastHandshakeMs: 0, handshakeSec: 0, handshakeNsec: 0, rxBytes: 0, txBytes: 0, persistentKeepaliveSeconds: 0, allowedIps: [], hasPresharedKey: false };
      continue;
    }
    if (!peer) {
      if (key === 'private_key') state.publicKey = publicKeyOf(keyOf(key, value));
      else if (key === 'listen_port') state.listenPort = number(key, value);
      else if (key === 'fwmark') state.fwmark = number(key, value);
      continue;
    }
    switch (key) {
      case 'preshared_key': peer.hasPresharedKey = !/^0+$/.test(value); break;
      case 'endpoint': peer.endpoint = value; break;
      case 'last_handshake_time_sec': peer.handshakeSec = number(key, value); break;
      case 'last_handshake_time_nsec': peer.handshakeNsec = number(key, value); break;
      case 'rx_bytes': peer.rxBytes = number(key, value); break;
      case 'tx_bytes': peer.txBytes = number(key, value); break;
      case 'persistent_keepalive_interval': peer.persistentKeepaliveSeconds = number(key, value); break;
      case 'allowed_ip': peer.allowedIps.push(value); break;
      default: break;
    }
  }
  finish();
  return state;
}
