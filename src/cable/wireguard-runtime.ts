/**
 * The WireGuard cable with everything it runs on, in start order: the private key from the state
 * directory (made on the first start), the device (the kernel's where it has WireGuard, else
 * wireguard-go under supervision: detected, logged and on the metrics), the cable, and its ticks
 * (PSK and key re-read, drift repaired). The gateway role's main builds its logger, metrics and
 * rtnetlink handle and calls this.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { OWNERSHIP } from '../model/ownership.ts';
import { wireguardPublicKey } from '../model/wireguard-keys.ts';
import { applyAll, type Rtnetlink } from '../kernel/rtnetlink.ts';
import type { WireguardControl } from '../model/wireguard-device.ts';
import { uapiWireguardControl } from '../kernel/wireguard/uapi-control.ts';
import { WireguardGoSupervisor } from '../kernel/wireguard-go.ts';
import { cableMtu } from '../plan/cable-mtu.ts';
import { cableSourceAddress } from '../plan/cable-source-address.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { cableRoutes } from './cable-routes.ts';
import { ipsecKernel } from './ipsec-kernel.ts';
import { readPskFile } from './psk-file.ts';
import { WireguardCable } from './wireguard.ts';
import { startRepairTick } from './repair-tick.ts';
import { loadOrCreateKey, WIREGUARD_KEY_FILE } from './wireguard-key-file.ts';

const WIREGUARD_DEVICE = OWNERSHIP.wireguardDevice;

export interface WireguardRuntimeOptions {
  /** The key file and wireguard-go's state live here (created 0700). */
  stateDir: string;
  pskFile: string;
  privateIp: string;
  /** The local cluster's pod ranges: the gateway's own traffic into the cable leaves from its address in one. */
  podCidrs: readonly string[];
  /** The `udp-port` the Endpoint announces: WireGuard listens on it. */
  listenPort: number;
  /** How often the PSK and the key are read again and the device repaired. */
  tickMs: number;
  log: Logger;
  metrics: Pick<Metrics, 'wireguardImplementation' | 'wireguardGoRestarts'>;
  rtnl: Rtnetlink;
  /** Opens the kernel's WireGuard control for a device (generic netlink), used where the kernel has WireGuard. Absent: always wireguard-go. */
  kernelControl?: (device: string) => { control: WireguardControl; close(): void };
  /** wireguard-go's binary (tests); default /usr/bin/wireguard-go. */
  wireguardGoBinary?: string;
}

export interface WireguardRuntime {
  cable: WireguardCable;
  implementation: WireguardControl['implementation'];
  /** The device's public key, base64, as last read from the key file. */
  publicKey(): string;
  /** What the local Endpoint's backend_config carries for this cable: the public key, as Submariner's driver announces it. */
  backendConfig(): Record<string, string>;
  supervisor: WireguardGoSupervisor | undefined;
  /** Stops the ticks and the device (wireguard-go exits, or the kernel device is deleted: its routes go with it; the floor stays). */
  stop(): Promise<void>;
}

export async function startWireguardRuntime(options: WireguardRuntimeOptions): Promise<WireguardRuntime> {
  const { log, metrics, rtnl } = options;
  const keyFile = join(options.stateDir, WIREGUARD_KEY_FILE);
  await mkdir(options.stateDir, { recursive: true, mode: 0o700 });
  const loaded = await loadOrCreateKey(keyFile);
  log.info({ keyFile, created: loaded.created, publicKey: loaded.identity.publicKey.toString('base64') }, loaded.created ? 'WireGuard key made and kept for later starts' : 'WireGuard key loaded');
  const deviceMtu = async () => cableMtu('wireguard', await underlayMtuOf(rtnl, options.privateIp));
  const mtu = await deviceMtu();
  const deviceIndex = async () => (await rtnl.listLinks()).find((l) => l.name === WIREGUARD_DEVICE)?.index;
  // A kernel device left by an earlier run (it survives its agent) is made afresh; a `submariner`
  // of another kind is not seaway's to delete (a wireguard-go TUN goes with its process).
  const stale = (await rtnl.listLinks()).find((l) => l.name === WIREGUARD_DEVICE && l.kind === 'wireguard');
  if (stale !== undefined) await applyAll(rtnl, [{ kind: 'link', write: 'delete', index: stale.index }]);

  let control: WireguardControl;
  let supervisor: WireguardGoSupervisor | undefined;
  let closeKernel = () => {};
  const kernelRefusal = options.kernelControl ? await createKernelDevice(rtnl, mtu) : 'no kernel WireGuard control is built in';
  const implementation = kernelRefusal === null ? 'kernel' : 'wireguard-go';
  metrics.wireguardImplementation.set({ implementation }, 1);
  if (kernelRefusal === null) {
    log.info({ device: WIREGUARD_DEVICE, mtu }, 'WireGuard: the kernel\'s');
    const kernel = options.kernelControl!(WIREGUARD_DEVICE);
    control = kernel.control;
    closeKernel = () => kernel.close();
  } else {
    log.info({ device: WIREGUARD_DEVICE, mtu, why: kernelRefusal }, 'WireGuard: the kernel has none; using wireguard-go (userspace)');
    const daemonDir = join(options.stateDir, 'wireguard-go');
    await mkdir(join(daemonDir, 'uapi'), { recursive: true, mode: 0o700 });
    supervisor = new WireguardGoSupervisor({
      stateDir: daemonDir, device: WIREGUARD_DEVICE, logger: log,
      ...(options.wireguardGoBinary ? { binary: options.wireguardGoBinary } : {}),
      onStart: async () => {
        // wireguard-go makes its TUN down with its own MTU; it carries nothing until it is up.
        const index = await deviceIndex();
        if (index === undefined) throw new Error(`wireguard-go is ready but the device ${WIREGUARD_DEVICE} is not there`);
        await applyAll(rtnl, [{ kind: 'link', write: 'set-mtu', index, mtu: await deviceMtu() }, { kind: 'link', write: 'set-up', index, up: true }]);
        await cable.reload();
        log.info({ device: WIREGUARD_DEVICE }, 'wireguard-go ready: key, port and peers loaded');
      },
      onRestart: () => metrics.wireguardGoRestarts.inc(),
    });
    control = uapiWireguardControl({ socketPath: supervisor.socketPath, publicKeyOf: wireguardPublicKey });
  }

  let identity = loaded.identity;
  const cable = new WireguardCable({
    control, log,
    routes: cableRoutes(rtnl),
    floor: ipsecKernel(rtnl),
    deviceIndex,
    sourceAddress: async () => cableSourceAddress(options.podCidrs, (await rtnl.listAddresses()).map((a) => a.address)),
    // Read on every repair: a key rotated by `seaway gateway-rotate-key` is taken up without a restart.
    identity: async () => {
      identity = (await loadOrCreateKey(keyFile)).identity;
      return identity;
    },
    listenPort: options.listenPort,
    readPsk: () => readPskFile(options.pskFile),
  });

  try {
    if (supervisor) {
      await supervisor.start();
    } else {
      await cable.reload();
    }
  } catch (error) {
    // A start that failed leaves nothing behind to be opened again on the retry: the generic-netlink
    // socket closed, the kernel device gone (wireguard-go's own start failure stopped its child).
    closeKernel();
    const index = supervisor ? undefined : await deviceIndex().catch(() => undefined);
    if (index !== undefined) await applyAll(rtnl, [{ kind: 'link', write: 'delete', index }]).catch(() => undefined);
    throw error;
  }
  /** The device's MTU follows the underlay's (an operator lowered the WAN MTU): packets that fit it never need fragmenting outside. */
  const syncMtu = async () => {
    const link = (await rtnl.listLinks()).find((l) => l.name === WIREGUARD_DEVICE);
    const wanted = await deviceMtu();
    if (link && link.mtu !== wanted) {
      await applyAll(rtnl, [{ kind: 'link', write: 'set-mtu', index: link.index, mtu: wanted }]);
      log.info({ device: WIREGUARD_DEVICE, from: link.mtu, to: wanted }, 'the underlay\'s MTU changed: the WireGuard device follows it');
    }
  };
  const ticks = startRepairTick(async () => { await syncMtu(); await cable.repair(); }, options.tickMs, log, 'WireGuard cable');
  return {
    cable, implementation, supervisor,
    publicKey: () => identity.publicKey.toString('base64'),
    backendConfig: () => ({ publicKey: identity.publicKey.toString('base64') }),
    async stop() {
      ticks.stop();
      if (supervisor) {
        await supervisor.stop();
        return;
      }
      closeKernel();
      const index = await deviceIndex();
      if (index !== undefined) await applyAll(rtnl, [{ kind: 'link', write: 'delete', index }]);
    },
  };
}

/** null when the kernel made the device, else why not (a kernel without WireGuard refuses the link kind). */
async function createKernelDevice(rtnl: Rtnetlink, mtu: number): Promise<string | null> {
  const [result] = await rtnl.apply([{ kind: 'link', write: 'create-wireguard', name: WIREGUARD_DEVICE, mtu }]);
  return result?.ok ? null : `the kernel refused a wireguard link: ${result?.ok === false ? result.error.message : 'no answer'}`;
}

/** The MTU of the interface holding the private IP (the tunnel's underlay). */
async function underlayMtuOf(rtnl: Rtnetlink, privateIp: string): Promise<number> {
  const address = (await rtnl.listAddresses()).find((a) => a.address === privateIp);
  const link = address && (await rtnl.listLinks()).find((l) => l.index === address.ifindex);
  if (!link) throw new Error(`no interface holds the gateway's private IP ${privateIp}: the WireGuard cable has no underlay`);
  return link.mtu;
}
