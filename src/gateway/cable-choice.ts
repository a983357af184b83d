/**
 * Which cable the gateway runs (`--cable`), as the role sees it: the Endpoint backend it announces
 * (Submariner's names, so a Submariner gateway of the same kind is a peer and one of another kind
 * is told apart), how to start it for the local Endpoint, and how to remove what any cable of an
 * earlier run left in the kernel.
 */
import { join } from 'node:path';
import type { CableKind, GatewayConfig } from '../config.ts';
import type { Rtnetlink } from '../kernel/rtnetlink.ts';
import type { LocalEndpointObject } from '../plan/local-endpoint-object.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { startIpsecRuntime } from '../cable/ipsec-runtime.ts';
import { wireguardStateDir } from '../cable/rotate-key-command.ts';
import { startWireguardRuntime } from '../cable/wireguard-runtime.ts';
import { startVxlanRuntime } from '../cable/vxlan-runtime.ts';
import { kernelWireguardControl, openGenericNetlink } from '../kernel/wireguard/kernel-control.ts';
import type { CableRuntime } from './gateway-role.ts';

/** The Endpoint `backend` each cable speaks: Submariner's driver names. */
export const CABLE_BACKENDS: Readonly<Record<CableKind, string>> = { ipsec: 'libreswan', wireguard: 'wireguard', vxlan: 'vxlan' };

export interface CableDeps {
  log: Logger;
  metrics: Metrics;
  rtnl: Rtnetlink;
}

type CableSettings = Pick<GatewayConfig, 'cable' | 'stateDir' | 'pskFile' | 'podCidrs' | 'serviceCidrs' | 'natTPort' | 'pskRotationWindowSeconds' | 'ipsecTickMs' | 'forceUdpEncapsulation'>;

/** Starts the configured cable for this local Endpoint. */
export function cableStarter(config: CableSettings, deps: CableDeps): (local: LocalEndpointObject) => Promise<CableRuntime> {
  const { log, metrics, rtnl } = deps;
  return async (local) => {
    const privateIp = String(local.spec.private_ip);
    switch (config.cable) {
      case 'ipsec':
        return startIpsecRuntime({
          stateDir: join(config.stateDir, 'charon'), pskFile: config.pskFile, log, metrics, rtnl,
          local: {
            privateIp,
            ...(typeof local.spec.public_ip === 'string' ? { publicIp: local.spec.public_ip } : {}),
            subnets: [...config.podCidrs.map((cidr) => ({ cidr, kind: 'pods' as const })), ...config.serviceCidrs.map((cidr) => ({ cidr, kind: 'services' as const }))],
            natTPort: config.natTPort,
          },
          settings: { forceEncapsulation: config.forceUdpEncapsulation },
          rotationWindowMs: config.pskRotationWindowSeconds * 1000, tickMs: config.ipsecTickMs,
        });
      case 'wireguard': {
        const runtime = await startWireguardRuntime({
          stateDir: wireguardStateDir(config.stateDir), pskFile: config.pskFile, privateIp, podCidrs: config.podCidrs,
          listenPort: config.natTPort, tickMs: config.ipsecTickMs, log, metrics, rtnl,
          kernelControl: (device) => {
            const genl = openGenericNetlink();
            return { control: kernelWireguardControl({ ifname: device, transport: genl }), close: () => genl.close() };
          },
        });
        return { cable: runtime.cable, stop: () => runtime.stop(), backendConfig: () => runtime.backendConfig() };
      }
      case 'vxlan':
        return startVxlanRuntime({ privateIp, podCidrs: config.podCidrs, port: config.natTPort, tickMs: config.ipsecTickMs, log, rtnl });
    }
  };
}
