/**
 * wireguard-go, the userspace WireGuard, under the daemon supervisor: used where the kernel has no
 * WireGuard. It serves its UAPI socket at the fixed path /var/run/wireguard/<device>.sock, which
 * every agent on a machine that shares /run would fight over (the lab's nodes do; so would two
 * gateways in one host network). So it runs in a mount namespace of its own, with a private /run
 * whose wireguard/ directory is this agent's state directory: the socket is
 * `<uapiDir>/<device>.sock` for the agent and nobody else's business. The device itself is made
 * in the agent's network namespace, like the kernel's would be.
 */
import { join } from 'node:path';
import { DaemonSupervisor, type DaemonSupervisorOptions } from './daemon-supervisor.ts';

export const WIREGUARD_GO_PATH = '/usr/bin/wireguard-go';

/**
 * Run by `sh -c` with the UAPI directory and device name as its arguments ($0, $1): never
 * interpolated into the text. mount/mkdir act in the new mount namespace only (private
 * propagation), then the shell becomes wireguard-go (same pid, so the supervisor watches it).
 */
const PRIVATE_RUN_SCRIPT = 'mount -t tmpfs -o size=1m,mode=0755 seaway-wg /run && mkdir /run/wireguard && mount --bind "$0" /run/wireguard && exec "$2" -f "$1"';

export interface WireguardGoOptions extends Omit<DaemonSupervisorOptions, 'identity' | 'command' | 'env' | 'files'> {
  device: string;
  /** wireguard-go's binary (default /usr/bin/wireguard-go). */
  binary?: string;
}

/** Where the UAPI socket of `device` appears, given the supervisor's state directory. */
export const uapiSocketPath = (stateDir: string, device: string): string => join(stateDir, 'uapi', `${device}.sock`);

export class WireguardGoSupervisor extends DaemonSupervisor {
  readonly socketPath: string;

  constructor(options: WireguardGoOptions) {
    const { device, binary, ...rest } = options;
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(device) || device.startsWith('-')) throw new Error(`WireGuard device name ${JSON.stringify(device)} is not a usable interface name`);
    const socketPath = uapiSocketPath(options.stateDir, device);
    super({
      ...rest,
      identity: {
        name: 'wireguard-go', pidKey: 'wireguardGoPid', comms: new Set(['wireguard-go']),
        markerEnv: 'SEAWAY_WIREGUARD_STATE', markerValue: options.stateDir,
        socketPath, socketName: 'UAPI socket', pidFile: 'wireguard-go.pid',
      },
      command: { file: 'unshare', args: ['--mount', '--propagation', 'private', 'sh', '-c', PRIVATE_RUN_SCRIPT, join(options.stateDir, 'uapi'), device, binary ?? WIREGUARD_GO_PATH] },
      // Foreground (the supervisor watches it); errors only: its info lines are per-packet-ish.
      env: { WG_PROCESS_FOREGROUND: '1', LOG_LEVEL: 'error' },
    });
    this.socketPath = socketPath;
  }
}
