import type { Rtnetlink } from '../kernel/rtnetlink.ts';
import { readHostNetwork } from '../kernel/host-network.ts';
import { localIpv4Networks } from '../model/host-network.ts';
import type { NodeFacts } from '../model/node-facts.ts';
import { OWNERSHIP } from '../model/ownership.ts';
import { containsAddress, parseCidr, parseIpv4 } from '../model/cidr.ts';
import { chooseUnderlay, type Underlay, type UnderlaySettings } from '../plan/underlay.ts';

export type CniFacts = { name: string; address: string } | null;

export type NodeFactsRead = { ok: true; facts: NodeFacts; underlay: Underlay } | { ok: false; reason: string };

/**
 * What the planner needs to know about this node, read from the kernel: the VXLAN underlay (chosen
 * by plan/underlay.ts from the settings, this Node's InternalIP and the host's network), the node's
 * own networks (seaway's VXLAN excluded: its 240/8 is ours, not the node's) and default gateways,
 * and the CNI interface found by the init phase. Not ok when the underlay cannot be told, with why.
 */
export async function readNodeFacts(rtnl: Rtnetlink, cni: CniFacts, underlay: { settings: UnderlaySettings; internalIP: string | null }): Promise<NodeFactsRead> {
  const host = await readHostNetwork(rtnl);
  const choice = chooseUnderlay({ ...underlay, host });
  if (!choice.ok) return choice;
  const networks = localIpv4Networks(host, { excludeInterfaces: [OWNERSHIP.vxlanDevice] }).map((n) => n.cidr);
  // The default gateways too, when no interface network holds them (a /32 NIC, as on GKE): a remote
  // subnet covering one would cut this node off from everything behind it.
  for (const text of choice.underlay.defaultGateways) {
    const gateway = parseIpv4(text);
    if (gateway.ok && !networks.some((n) => { const network = parseCidr(n); return network.ok && containsAddress(network.cidr, gateway.address); })) {
      networks.push(`${text}/32`);
    }
  }
  const { nodeIp, device, mtu } = choice.underlay;
  return { ok: true, underlay: choice.underlay, facts: { nodeIp, underlayDevice: device, underlayMtu: mtu, cniInterface: cni, networks } };
}

/** readNodeFacts with the settings bound, remembering the underlay it chose. */
export interface NodeFactsReader {
  read(cni: CniFacts, internalIP: string | null): Promise<NodeFactsRead>;
  /**
   * The interface whose link events matter to the plan (an MTU change must reach vx-submariner): the
   * underlay last chosen, else the one --underlay-interface names (its appearance ends a wait), else null.
   */
  underlayDevice(): string | null;
}

/** `onChosen` hears each underlay that differs from the last one chosen (the first included), for the log. */
export function createNodeFactsReader(rtnl: Rtnetlink, settings: UnderlaySettings, onChosen?: (underlay: Underlay) => void): NodeFactsReader {
  let chosen: Underlay | null = null;
  let chosenText = '';
  return {
    async read(cni, internalIP) {
      const read = await readNodeFacts(rtnl, cni, { settings, internalIP });
      if (read.ok) {
        chosen = read.underlay;
        const text = JSON.stringify(chosen);
        if (text !== chosenText) {
          chosenText = text;
          onChosen?.(chosen);
        }
      }
      return read;
    },
    underlayDevice: () => chosen?.device ?? settings.underlayInterface,
  };
}
