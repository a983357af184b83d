/**
 * Drives wireguard-gateway-child.ts inside a gateway namespace (through cable-child.ts), and reads
 * its device directly over wireguard-go's UAPI socket (a unix socket: reachable from any network
 * namespace), as `wg show` would.
 */
import { fileURLToPath } from 'node:url';
import type { CableEndpoint, CableStatus } from '../../src/cable/cable.ts';
import type { WgDeviceState } from '../../src/model/wireguard-device.ts';
import { uapiWireguardControl } from '../../src/kernel/wireguard/uapi-control.ts';
import { wireguardPublicKey } from '../../src/model/wireguard-keys.ts';
import { startCableChild } from './cable-child.ts';
import type { WireguardGatewayConfig } from './wireguard-gateway-child.ts';

const CHILD = fileURLToPath(new URL('./wireguard-gateway-child.ts', import.meta.url));

export interface WireguardGateway {
  /** The device's public key, base64, as the Endpoint would announce it. */
  publicKey: string;
  implementation: string;
  connect(endpoint: CableEndpoint): Promise<void>;
  disconnect(cableName: string): Promise<void>;
  hold(subnets: string[]): Promise<void>;
  status(): Promise<CableStatus[]>;
  waitConnected(cableName: string, timeoutMs: number): Promise<void>;
  repair(): Promise<void>;
  metrics(): Promise<string>;
  info(): Promise<{ wireguardGoPid: number | undefined; restarts: number; socketPath: string }>;
  /** The device as wireguard-go reports it. */
  device(): Promise<WgDeviceState>;
  stop(): Promise<void>;
  /** SIGKILL of the agent (its wireguard-go stays, as after a crash outside a container). */
  kill(): Promise<void>;
  log(): string;
}

export async function startWireguardGateway(ns: string, config: WireguardGatewayConfig): Promise<WireguardGateway> {
  const child = await startCableChild<{ publicKey: string; implementation: string }>(ns, CHILD, config.stateDir, config);
  const { call } = child;
  const info = () => call<{ wireguardGoPid: number | undefined; restarts: number; socketPath: string }>({ op: 'info' });
  const { socketPath } = await info();
  const device = uapiWireguardControl({ socketPath, publicKeyOf: wireguardPublicKey });
  return {
    publicKey: child.ready.publicKey,
    implementation: child.ready.implementation,
    connect: (endpoint) => call({ op: 'connect', endpoint }),
    disconnect: (cableName) => call({ op: 'disconnect', cableName }),
    hold: (subnets) => call({ op: 'hold', subnets }),
    status: () => call({ op: 'status' }),
    waitConnected: (cableName, timeoutMs) => call({ op: 'wait-connected', cableName, timeoutMs }),
    repair: () => call({ op: 'repair' }),
    metrics: () => call({ op: 'metrics' }),
    info,
    device: () => device.get(),
    stop: () => child.stop(),
    kill: () => child.kill(),
    log: () => child.log(),
  };
}
