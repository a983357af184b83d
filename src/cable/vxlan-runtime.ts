/**
 * The VXLAN cable with what it runs on: the cable over the gateway's rtnetlink handle and sysctls,
 * and its repair tick (a deleted device, FDB entry or route comes back). No daemon: the kernel
 * carries VXLAN itself.
 */
import type { Rtnetlink } from '../kernel/rtnetlink.ts';
import { procSysctls } from '../kernel/sysctl.ts';
import { cableSourceAddress } from '../plan/cable-source-address.ts';
import type { Logger } from '../telemetry/logger.ts';
import { cableRoutes } from './cable-routes.ts';
import { ipsecKernel } from './ipsec-kernel.ts';
import { VxlanCable } from './vxlan.ts';
import { startRepairTick } from './repair-tick.ts';

export interface VxlanRuntimeOptions {
  privateIp: string;
  podCidrs: readonly string[];
  port: number;
  tickMs: number;
  log: Logger;
  rtnl: Rtnetlink;
}

export interface VxlanRuntime {
  cable: VxlanCable;
  stop(): Promise<void>;
}

export async function startVxlanRuntime(options: VxlanRuntimeOptions): Promise<VxlanRuntime> {
  const { rtnl, log } = options;
  const cable = new VxlanCable({
    rtnl, sysctls: procSysctls(), routes: cableRoutes(rtnl), floor: ipsecKernel(rtnl), privateIp: options.privateIp, port: options.port,
    sourceAddress: async () => cableSourceAddress(options.podCidrs, (await rtnl.listAddresses()).map((a) => a.address)),
  });
  // The device now, so a broken underlay fails the start (and is retried) rather than the first cable.
  await cable.repair();
  log.warn({ device: 'vxlan-tunnel' }, 'the VXLAN cable is unencrypted: cluster traffic crosses the network between the gateways in the clear');
  const ticks = startRepairTick(() => cable.repair(), options.tickMs, log, 'VXLAN cable');
  return {
    cable,
    async stop() {
      ticks.stop();
      await cable.stop();
    },
  };
}
