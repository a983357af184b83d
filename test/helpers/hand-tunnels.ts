/**
 * The bare tunnel tools configured by hand between the two gateways of a gateway pair
 * (gateway-pair.ts), the way an operator (or research/tunnels-lab.md) does it without seaway: the
 * baseline seaway's cables are measured against. Each is started in two steps, as seaway's cables
 * are: `start*` brings the daemon or device up on both gateways, not yet pointed at the other side;
 * `connect()` then configures both sides towards each other with the tool's own commands, so the
 * time from `connect()` to the first packet compares with seaway's `connect` calls.
 *
 *   IPsec      charon-systemd (kernel-libipsec: this kernel has no ESP) with a hand-written
 *              strongswan.conf; connect = `swanctl --load-all` of a hand-written swanctl.conf on
 *              both sides, then `swanctl --initiate` on gw1
 *   WireGuard  wireguard-go in a private /run mount namespace, key and port set with `wg set`;
 *              connect = `wg set ... peer ...` and `ip route add` on both sides
 *   VXLAN      `ip link add ... type vxlan ... nolearning` with its VTEP address; connect = `bridge fdb append`
 *              and `ip route add` on both sides
 *
 * Everything lives in the pair's namespaces (the daemons' pids are in them, so the pair's destroy
 * kills whatever a failed stop left) and in the directory given.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { defaultCharonCommand } from '../../src/kernel/charon.ts';
import { run } from '../../src/kernel/exec.ts';
import type { ClusterSide, GatewayPair } from './gateway-pair.ts';
import { WAN_IFACE } from './gateway-pair.ts';
import { waitFor, within } from './wait.ts';

export interface HandTunnel {
  /** Configures both gateways towards each other; resolves when the last command returned. */
  connect(): Promise<void>;
  /** When the step that starts the traffic began (IPsec: `swanctl --initiate`), once connect ran; else undefined. */
  readonly initiatedAt: number | undefined;
  /** The tunnel's algorithms as the tool reports them, for the printout. */
  crypto(): Promise<string>;
  /** Stops the daemons (by pid) or deletes the devices; safe to call twice. */
  stop(): Promise<void>;
  /** The daemons' output, for a failure message. */
  log(): string;
}

type Side = 'gw1' | 'gw2';
const SIDES: readonly Side[] = ['gw1', 'gw2'];
const other = (side: Side): Side => (side === 'gw1' ? 'gw2' : 'gw1');

/** The UDP port every tunnel here talks on: Submariner's `udp-port`, as seaway's cables use it. */
export const HAND_TUNNEL_PORT = 4500;

/** A daemon started in place by `ip netns exec` (which execs, so the child's pid is the daemon's). */
interface Daemon {
  pid: number;
  running(): boolean;
  log(): string;
  /** SIGTERM (the daemon tears its device down), SIGKILL after 5 s. */
  stop(): Promise<void>;
}

function startDaemon(ns: string, file: string, args: readonly string[], env: Record<string, string>, what: string): Daemon {
  const child = spawn('ip', ['netns', 'exec', ns, file, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...env },
  });
  let log = '';
  const keep = (chunk: Buffer) => { log = (log + chunk.toString('utf8')).slice(-16_384); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let running = true;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => { running = false; resolve(); });
    child.once('error', (error) => { log += `\nspawn failed: ${error.message}`; running = false; resolve(); });
  });
  let stopping: Promise<void> | undefined;
  return {
    pid: child.pid ?? -1,
    running: () => running,
    log: () => log,
    stop() {
      stopping ??= (async () => {
        if (!running || child.pid === undefined) return;
        process.kill(child.pid, 'SIGTERM');
        try {
          await within(exited, 5000, `${what} to exit after SIGTERM`);
        } catch {
          if (running) try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
          await within(exited, 2000, `${what} to exit after SIGKILL`);
        }
      })();
      return stopping;
    },
  };
}

async function stopAll(daemons: Partial<Record<Side, Daemon>>): Promise<void> {
  const failures: string[] = [];
  for (const side of SIDES) await daemons[side]?.stop().catch((error: Error) => { failures.push(error.message); });
  if (failures.length > 0) throw new Error(failures.join('; '));
}

const logsOf = (daemons: Partial<Record<Side, Daemon>>, what: string): string =>
  SIDES.map((side) => `${side} ${what}:\n${daemons[side]?.log().split('\n').slice(-30).join('\n') ?? '(not started)'}`).join('\n');

// ---------------------------------------------------------------------------------------------
// IPsec: charon-systemd and swanctl.

/** research/tunnels-lab.md 3.2 (its AES-GCM variant): the plugins in the order that makes libipsec take ESP; the log on stderr. */
function handStrongswanConf(viciSocket: string): string {
  return `charon {
  load = random nonce openssl kdf kernel-libipsec kernel-netlink socket-default vici
  port = 500
  port_nat_t = ${HAND_TUNNEL_PORT}
  filelog {
    stderr {
      default = 1
    }
  }
  plugins {
    vici {
      socket = unix://${viciSocket}
    }
  }
}
swanctl {
  load = pem pkcs1 x509 pubkey
}
`;
}

/**
 * research/tunnels-lab.md 3.3, with what must match seaway's cable for a fair comparison: its first
 * IKE and ESP proposals (AES-GCM-16-256, ECP-256) and IKE on the NAT-T port both ways.
 */
function handSwanctlConf(local: ClusterSide, remote: ClusterSide, psk: string): string {
  return `connections {
  seaway {
    version = 2
    local_addrs = ${local.wanAddress}
    remote_addrs = ${remote.wanAddress}
    local_port = ${HAND_TUNNEL_PORT}
    remote_port = ${HAND_TUNNEL_PORT}
    proposals = aes256gcm16-prfsha256-ecp256
    local {
      auth = psk
      id = ${local.wanAddress}
    }
    remote {
      auth = psk
      id = ${remote.wanAddress}
    }
    children {
      pods {
        local_ts = ${local.clusterCidr}
        remote_ts = ${remote.clusterCidr}
        esp_proposals = aes256gcm16
      }
    }
  }
}
secrets {
  ike-seaway {
    id-1 = ${local.wanAddress}
    id-2 = ${remote.wanAddress}
    secret = "${psk}"
  }
}
`;
}

const connects = (path: string) => new Promise<boolean>((resolve) => {
  const socket = createConnection({ path });
  socket.once('connect', () => { socket.destroy(); resolve(true); });
  socket.once('error', () => { socket.destroy(); resolve(false); });
});

/** charon-systemd on both gateways, configurations written, nothing loaded. `psk`: letters and digits only (it is quoted in swanctl.conf). */
export async function startHandIpsec(pair: GatewayPair, dir: string, psk: string): Promise<HandTunnel> {
  if (!/^[A-Za-z0-9]{16,}$/.test(psk)) throw new Error('the hand-made IPsec PSK must be 16 or more letters and digits');
  const daemons: Partial<Record<Side, Daemon>> = {};
  const paths = {} as Record<Side, { conf: string; swanctl: string; vici: string }>;
  try {
    for (const side of SIDES) {
      const stateDir = join(dir, `hand-ipsec-${side}`);
      await mkdir(stateDir, { recursive: true, mode: 0o700 });
      paths[side] = { conf: join(stateDir, 'strongswan.conf'), swanctl: join(stateDir, 'swanctl.conf'), vici: join(stateDir, 'charon.vici') };
      await writeFile(paths[side].conf, handStrongswanConf(paths[side].vici), { mode: 0o600 });
      await writeFile(paths[side].swanctl, handSwanctlConf(pair[side], pair[other(side)], psk), { mode: 0o600 });
      await rm(paths[side].vici, { force: true });
      // The binary seaway's supervisor runs (charon-systemd where installed).
      const { file, args } = defaultCharonCommand();
      daemons[side] = startDaemon(pair[side].gateway, file, args, { STRONGSWAN_CONF: paths[side].conf }, `charon (by hand, ${side})`);
    }
    for (const side of SIDES) {
      const daemon = daemons[side]!;
      await waitFor(`charon (by hand, ${side}) to take connections on its VICI socket`, async () => {
        if (!daemon.running()) throw new Error(`charon exited: ${daemon.log().slice(-2000)}`);
        return connects(paths[side].vici);
      }, { timeoutMs: 15_000, intervalMs: 10 });
    }
  } catch (error) {
    await stopAll(daemons).catch(() => undefined);
    throw new Error(`${(error as Error).message}\n${logsOf(daemons, 'charon')}`, { cause: error });
  }
  // swanctl only talks to the VICI socket (a file), so it runs where the benchmark runs: no namespace to enter.
  const swanctl = (side: Side, args: readonly string[]) => run('swanctl', [...args, '--uri', `unix://${paths[side].vici}`], {
    env: { ...process.env, STRONGSWAN_CONF: paths[side].conf }, timeoutMs: 30_000,
  });
  let initiatedAt: number | undefined;
  return {
    get initiatedAt() { return initiatedAt; },
    async connect() {
      await Promise.all(SIDES.map(async (side) => {
        const loaded = await swanctl(side, ['--load-all', '--noprompt', '--file', paths[side].swanctl]);
        if (!/loaded connection 'seaway'/.test(loaded.stdout)) throw new Error(`${side}: swanctl --load-all loaded no connection: ${loaded.stdout.trim()}`);
      }));
      initiatedAt = Date.now();
      await swanctl('gw1', ['--initiate', '--ike', 'seaway', '--child', 'pods', '--timeout', '20']);
    },
    async crypto() {
      return ipsecAlgorithms((await swanctl('gw1', ['--list-sas'])).stdout);
    },
    stop: () => stopAll(daemons),
    log: () => logsOf(daemons, 'charon'),
  };
}

/** The IKE and ESP algorithms of the first IKE SA and installed CHILD_SA in `swanctl --list-sas` output. */
export function ipsecAlgorithms(listSas: string): string {
  const ike = /^\s+([A-Z0-9_-]+(?:\/[A-Z0-9_-]+)+)\s*$/m.exec(listSas)?.[1] ?? '?';
  const esp = /INSTALLED, [^,\n]+, ESP:(\S+)/.exec(listSas)?.[1] ?? '(no CHILD_SA installed)';
  return `IKE ${ike}, ESP ${esp}`;
}

// ---------------------------------------------------------------------------------------------
// WireGuard: wireguard-go and wg.

/** Submariner's device name, as seaway's cable uses it. */
const WG_DEVICE = 'submariner';
/** Submariner's keepalive, as seaway's peers have it. */
const WG_KEEPALIVE_S = 10;
/**
 * A tmpfs on /run in a mount namespace of its own (private propagation: the host's /run is not
 * touched), then the shell becomes wireguard-go in the foreground: its UAPI socket,
 * /run/wireguard/<device>.sock, is nobody else's, and its pid is the spawned process's.
 */
const PRIVATE_RUN_SCRIPT = 'mount -t tmpfs -o size=1m,mode=0755 hand-wg /run && mkdir /run/wireguard && exec wireguard-go -f "$0"';

/** wireguard-go on both gateways with a key and the port set (`wg set`) and the device up; no peer yet. */
export async function startHandWireguard(pair: GatewayPair, dir: string): Promise<HandTunnel> {
  const keyDir = join(dir, 'hand-wireguard');
  await mkdir(keyDir, { recursive: true, mode: 0o700 });
  const keys = {} as Record<Side, { privateFile: string; publicKey: string }>;
  for (const side of SIDES) {
    const privateKey = (await run('wg', ['genkey'])).stdout.trim();
    const privateFile = join(keyDir, `${side}.key`);
    await writeFile(privateFile, `${privateKey}\n`, { mode: 0o600 });
    keys[side] = { privateFile, publicKey: (await run('wg', ['pubkey'], { input: `${privateKey}\n` })).stdout.trim() };
  }
  const pskFile = join(keyDir, 'preshared.key');
  await writeFile(pskFile, (await run('wg', ['genpsk'])).stdout, { mode: 0o600 });

  const daemons: Partial<Record<Side, Daemon>> = {};
  // wg finds the device through /run/wireguard of its mount namespace: it runs in wireguard-go's (and its network namespace).
  const wg = (side: Side, args: readonly string[]) => run('nsenter', ['-t', String(daemons[side]!.pid), '-m', '-n', 'wg', ...args], { timeoutMs: 10_000 });
  try {
    for (const side of SIDES) {
      daemons[side] = startDaemon(pair[side].gateway, 'unshare', ['--mount', '--propagation', 'private', 'sh', '-c', PRIVATE_RUN_SCRIPT, WG_DEVICE],
        { LOG_LEVEL: 'error' }, `wireguard-go (by hand, ${side})`);
    }
    for (const side of SIDES) {
      const daemon = daemons[side]!;
      // The socket as wireguard-go's mount namespace sees it.
      await waitFor(`wireguard-go (by hand, ${side}) to serve its UAPI socket`, () => {
        if (!daemon.running()) throw new Error(`wireguard-go exited: ${daemon.log().slice(-2000)}`);
        return existsSync(`/proc/${daemon.pid}/root/run/wireguard/${WG_DEVICE}.sock`);
      }, { timeoutMs: 15_000, intervalMs: 10 });
      await wg(side, ['set', WG_DEVICE, 'private-key', keys[side].privateFile, 'listen-port', String(HAND_TUNNEL_PORT)]);
      await run('ip', ['-n', pair[side].gateway, 'link', 'set', WG_DEVICE, 'up']);
    }
  } catch (error) {
    await stopAll(daemons).catch(() => undefined);
    throw new Error(`${(error as Error).message}\n${logsOf(daemons, 'wireguard-go')}`, { cause: error });
  }
  return {
    initiatedAt: undefined,
    async connect() {
      await Promise.all(SIDES.map(async (side) => {
        const remote = pair[other(side)];
        await wg(side, ['set', WG_DEVICE, 'peer', keys[other(side)].publicKey, 'preshared-key', pskFile,
          'endpoint', `${remote.wanAddress}:${HAND_TUNNEL_PORT}`, 'persistent-keepalive', String(WG_KEEPALIVE_S), 'allowed-ips', remote.clusterCidr]);
        await run('ip', ['-n', pair[side].gateway, 'route', 'add', remote.clusterCidr, 'dev', WG_DEVICE, 'src', pair[side].lanAddress]);
      }));
    },
    async crypto() {
      const psk = (await wg('gw1', ['show', WG_DEVICE, 'preshared-keys'])).stdout;
      return `wireguard-go (ChaCha20-Poly1305), preshared key ${/\t\(none\)/.test(psk) || psk.trim() === '' ? 'none' : 'set'}`;
    },
    stop: () => stopAll(daemons),
    log: () => logsOf(daemons, 'wireguard-go'),
  };
}

// ---------------------------------------------------------------------------------------------
// VXLAN: ip and bridge.

/** Submariner's device, VNI and VTEP rule (the private IP with the first octet 241, a /8), as seaway's cable has them. */
const VXLAN_DEVICE = 'vxlan-tunnel';
const VXLAN_VNI = 1000;
const vtepOf = (side: ClusterSide): string => `241.${side.wanAddress.split('.').slice(1).join('.')}`;

/** The VXLAN device (no learning) with its VTEP address on both gateways, up (its MTU follows the WAN's, less 50); no FDB entry or route yet. */
export async function startHandVxlan(pair: GatewayPair): Promise<HandTunnel> {
  const made: Side[] = [];
  const deleteDevices = async () => {
    for (const side of made.splice(0)) await run('ip', ['-n', pair[side].gateway, 'link', 'del', VXLAN_DEVICE], { allowFailure: true });
  };
  try {
    for (const side of SIDES) {
      const { gateway, wanAddress } = pair[side];
      // nolearning, as seaway's device (src/kernel/links.ts): frames go only where the FDB says.
      await run('ip', ['-n', gateway, 'link', 'add', VXLAN_DEVICE, 'type', 'vxlan', 'id', String(VXLAN_VNI), 'local', wanAddress, 'dev', WAN_IFACE, 'dstport', String(HAND_TUNNEL_PORT), 'nolearning']);
      made.push(side);
      await run('ip', ['-n', gateway, 'addr', 'add', `${vtepOf(pair[side])}/8`, 'dev', VXLAN_DEVICE]);
      // Loose reverse-path filtering on the device, as Submariner's driver sets it (a sysctl of the namespace).
      await run('ip', ['netns', 'exec', gateway, 'sysctl', '-q', '-w', `net.ipv4.conf.${VXLAN_DEVICE}.rp_filter=2`]);
      await run('ip', ['-n', gateway, 'link', 'set', VXLAN_DEVICE, 'up']);
    }
  } catch (error) {
    await deleteDevices();
    throw error;
  }
  return {
    initiatedAt: undefined,
    async connect() {
      await Promise.all(SIDES.map(async (side) => {
        const { gateway, lanAddress } = pair[side];
        const remote = pair[other(side)];
        await run('bridge', ['-n', gateway, 'fdb', 'append', '00:00:00:00:00:00', 'dev', VXLAN_DEVICE, 'dst', remote.wanAddress]);
        await run('ip', ['-n', gateway, 'route', 'add', remote.clusterCidr, 'via', vtepOf(remote), 'dev', VXLAN_DEVICE, 'src', lanAddress]);
      }));
    },
    crypto: async () => 'none (VXLAN is unencrypted)',
    stop: deleteDevices,
    log: () => '',
  };
}
