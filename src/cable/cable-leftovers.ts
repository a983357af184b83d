/**
 * Everything a cable of any kind keeps in the kernel besides its daemon's own, removed where no
 * cable should be (a gateway that starts or steps down without one, `seaway cleanup`): the
 * fail-closed floor (table and rule 221), seaway's cable table and rule (218), the IPsec source
 * addresses on lo, and the devices a cable leaves when its process is gone: a kernel WireGuard
 * `submariner` and the VXLAN cable's `vxlan-tunnel` (Submariner's cables leave the same devices, so
 * an uninstall of either leaves none). A wireguard-go TUN goes with its process and is not touched.
 */
import { applyAll, type KernelWrite, type Rtnetlink } from '../kernel/rtnetlink.ts';
import { OWNERSHIP } from '../model/ownership.ts';
import { cableRoutes } from './cable-routes.ts';
import { ipsecKernel } from './ipsec-kernel.ts';

/** The cable devices by name and the kind they must have to be taken for a cable's. */
const CABLE_DEVICES: ReadonlyArray<{ name: string; kind: string }> = [
  { name: OWNERSHIP.wireguardDevice, kind: 'wireguard' },
  { name: OWNERSHIP.vxlanCableDevice, kind: 'vxlan' },
];

export async function removeCableLeftovers(rtnl: Rtnetlink): Promise<void> {
  const failures: string[] = [];
  const attempt = async (what: string, work: () => Promise<void>) => {
    try {
      await work();
    } catch (error) {
      failures.push(`${what}: ${(error as Error).message}`);
    }
  };
  await attempt('cable table 218', () => cableRoutes(rtnl).removeAll());
  await attempt('fail-closed floor 221 and IPsec source addresses', () => ipsecKernel(rtnl).removeAll());
  await attempt('cable devices', async () => {
    const links = await rtnl.listLinks();
    const writes: KernelWrite[] = links
      .filter((l) => CABLE_DEVICES.some((d) => d.name === l.name && d.kind === l.kind))
      .map((l) => ({ kind: 'link', write: 'delete', index: l.index }));
    await applyAll(rtnl, writes);
  });
  if (failures.length > 0) throw new Error(failures.join('; '));
}
