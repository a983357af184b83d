/**
 * Which address and interface carry VXLAN between this node and the others (pure).
 *
 * Node IP: --node-ip, else this Node's first IPv4 InternalIP (what every gateway's FDB entry for this
 * node sends to), else the address the default route would use. Device: --underlay-interface, else
 * the interface holding the node IP, else the default route's (when the node IP sits on a loopback or
 * dummy device, as on routed hosts whose NICs are uplinks). MTU: the device's.
 *
 * Contradictory or broken input, decided so:
 * - The node IP must be an address of this node: the kernel sends nothing from a source it does not
 *   hold, and peers would send to an address nobody here answers. Not held: no underlay (retried).
 * - --underlay-interface without the node IP on it is accepted, with a note: the address may live on
 *   lo with the NICs as uplinks, and the kernel sends from any local address out of any device.
 * - The node IP on two real interfaces is ambiguous: no underlay until --underlay-interface says.
 * - A device that is down is still chosen, with a note: following link flaps would recreate
 *   vx-submariner each time; traffic resumes when the link does.
 * - --underlay-interface naming a missing interface: no underlay until it exists; naming a loopback
 *   or dummy device: refused, nothing sent through it leaves the node.
 */
import { clip, containsAddress, formatIpv4, parseCidr, parseIpv4 } from '../model/cidr.ts';
import { nodeIpProblem, RT_SCOPE_HOST, type DefaultRoutePath, type HostAddress, type HostDefaultRoute, type HostLink, type HostNetwork } from '../model/host-network.ts';
import { OWNERSHIP } from '../model/ownership.ts';

/** How the failures name the settings that resolve them (config.ts reads these flags and variables). */
export const NODE_IP_SETTING = '--node-ip (env SEAWAY_NODE_IP)';
export const UNDERLAY_SETTING = '--underlay-interface (env SEAWAY_UNDERLAY_INTERFACE)';

/** Least underlay MTU that leaves vx-submariner the IPv4 minimum of 68. */
export const MIN_UNDERLAY_MTU = 68 + OWNERSHIP.vxlanMtuOverhead;
const MAX_MTU = 65535;

export interface UnderlaySettings {
  nodeIp: string | null;
  underlayInterface: string | null;
}

export interface UnderlayInput {
  settings: UnderlaySettings;
  /** This Node's first IPv4 InternalIP as the API reports it, or null. */
  internalIP: string | null;
  host: HostNetwork;
}

export interface Underlay {
  nodeIp: string;
  nodeIpFrom: 'setting' | 'internal-ip' | 'default-route';
  device: string;
  deviceFrom: 'setting' | 'node-ip' | 'default-route';
  mtu: number;
  /** IPv4 next hops of the default route the node IP's traffic takes (none without one). */
  defaultGateways: string[];
  /** Accepted, but an operator should know (sorted). */
  notes: string[];
}

export type UnderlayChoice = { ok: true; underlay: Underlay } | { ok: false; reason: string };

/** A device through which nothing leaves the node. */
const leadsNowhere = (link: HostLink): string | null =>
  link.loopback ? 'a loopback device' : link.kind === 'dummy' ? 'a dummy device' : null;

export function chooseUnderlay(input: UnderlayInput): UnderlayChoice {
  const { settings, host } = input;
  const notes: string[] = [];
  const byIndex = new Map(host.links.map((l) => [l.index, l]));
  // vx-submariner's 240.x address is seaway's own, never the node's.
  const addresses = host.addresses.filter((a) => byIndex.has(a.ifindex) && byIndex.get(a.ifindex)!.name !== OWNERSHIP.vxlanDevice);
  const holdersOf = (ip: string): HostLink[] => [...new Set(addresses.filter((a) => a.address === ip).map((a) => byIndex.get(a.ifindex)!))];

  const picked = pickNodeIp(input, addresses, byIndex, notes);
  if (!picked.ok) return picked;
  const { nodeIp, from: nodeIpFrom, number: nodeIpNumber } = picked;
  const holders = holdersOf(nodeIp);
  if (holders.length === 0) {
    const peers = nodeIpFrom === 'internal-ip' ? '; the gateway\'s VXLAN sends to a Node\'s InternalIP, so it must lead to this node' : '';
    return fail(`the node IP ${nodeIp} (${describeFrom(nodeIpFrom)}) is not an address of any interface on this node${peers}; give ${NODE_IP_SETTING} with an address this node holds`);
  }
  if (nodeIpFrom === 'setting' && input.internalIP !== null && input.internalIP !== nodeIp) {
    notes.push(`${NODE_IP_SETTING} ${nodeIp} differs from this Node's InternalIP ${input.internalIP}, where the gateway's VXLAN sends: that address must lead to this node too`);
  }

  const route = effectiveDefaultRoute(host, nodeIpNumber);
  let device: HostLink;
  let deviceFrom: Underlay['deviceFrom'];
  if (settings.underlayInterface !== null) {
    const named = host.links.find((l) => l.name === settings.underlayInterface);
    if (named === undefined) return fail(`the interface ${settings.underlayInterface} named by ${UNDERLAY_SETTING} does not exist on this node`);
    const nowhere = leadsNowhere(named);
    if (nowhere !== null) return fail(`the interface ${named.name} named by ${UNDERLAY_SETTING} is ${nowhere}: nothing sent through it leaves the node`);
    if (!holders.includes(named)) notes.push(`the node IP ${nodeIp} is on ${names(holders)}, not on the underlay ${named.name}: VXLAN leaves ${named.name} from ${nodeIp}`);
    device = named;
    deviceFrom = 'setting';
  } else {
    const real = holders.filter((l) => leadsNowhere(l) === null);
    if (real.length > 1) return fail(`the node IP ${nodeIp} is on several interfaces (${names(real)}); give ${UNDERLAY_SETTING} to say which carries VXLAN`);
    if (real.length === 1) {
      device = real[0]!;
      deviceFrom = 'node-ip';
    } else {
      // A routed host: the address on lo or a dummy, the NICs as uplinks. The default route names one.
      const path = route?.paths[0];
      const link = path === undefined ? undefined : byIndex.get(path.ifindex);
      if (link === undefined) {
        return fail(`the node IP ${nodeIp} is only on ${names(holders)}, through which nothing leaves the node, and no IPv4 default route names an interface that does; give ${UNDERLAY_SETTING}`);
      }
      device = link;
      deviceFrom = 'default-route';
    }
  }
  if (!Number.isInteger(device.mtu) || device.mtu < MIN_UNDERLAY_MTU || device.mtu > MAX_MTU) {
    return fail(`the underlay interface ${device.name} has MTU ${device.mtu}, which leaves no valid MTU for ${OWNERSHIP.vxlanDevice} (the underlay needs ${MIN_UNDERLAY_MTU}-${MAX_MTU}); give ${UNDERLAY_SETTING}`);
  }
  if (!device.up) notes.push(`the underlay interface ${device.name} is down`);
  const defaultGateways = [...new Set((route?.paths ?? []).flatMap((p) => (p.gateway === undefined ? [] : [p.gateway])))];
  return { ok: true, underlay: { nodeIp, nodeIpFrom, device: device.name, deviceFrom, mtu: device.mtu, defaultGateways, notes: notes.sort() } };
}

type PickedIp = { ok: true; nodeIp: string; from: Underlay['nodeIpFrom']; number: number } | { ok: false; reason: string };

function pickNodeIp(input: UnderlayInput, addresses: readonly HostAddress[], byIndex: ReadonlyMap<number, HostLink>, notes: string[]): PickedIp {
  if (input.settings.nodeIp !== null) {
    // config.ts validated it; a bad one here is a caller's bug, said as plainly as any other failure.
    const parsed = parseIpv4(input.settings.nodeIp);
    if (!parsed.ok) return fail(`${NODE_IP_SETTING}: ${parsed.message}`);
    return { ok: true, nodeIp: input.settings.nodeIp, from: 'setting', number: parsed.address };
  }
  if (input.internalIP !== null) {
    const parsed = parseIpv4(input.internalIP);
    const problem = parsed.ok ? nodeIpProblem(parsed.address) : parsed.message;
    if (parsed.ok && problem === null) return { ok: true, nodeIp: input.internalIP, from: 'internal-ip', number: parsed.address };
    notes.push(`this Node's InternalIP "${clip(input.internalIP)}" is not usable (${problem}); the default route's address is used`);
  }
  const route = effectiveDefaultRoute(input.host, null);
  const nobody = `no ${NODE_IP_SETTING}, and this Node has no usable IPv4 InternalIP`;
  if (route === undefined) return fail(`cannot tell this node's underlay address: ${nobody} and no IPv4 default route applies; give ${NODE_IP_SETTING}`);
  const address = defaultRouteAddress(route, addresses, byIndex);
  if (address === undefined) {
    return fail(`cannot tell this node's underlay address: ${nobody} and the default route's interfaces (${route.paths.map((p) => byIndex.get(p.ifindex)?.name ?? `ifindex ${p.ifindex}`).join(', ')}) have no usable IPv4 address; give ${NODE_IP_SETTING}`);
  }
  return { ok: true, nodeIp: formatIpv4(address), from: 'default-route', number: address };
}

/**
 * The default route the kernel would use for traffic from `source` (null: from an unspecified
 * source, as a fresh socket's first lookup): tables in the order of the lookup rules that send
 * that traffic there, then by metric. Rules with selectors other than `from` (marks, interfaces,
 * destinations) do not take the node's plain traffic and are left out.
 */
export function effectiveDefaultRoute(host: Pick<HostNetwork, 'defaultRoutes' | 'rules'>, source: number | null): HostDefaultRoute | undefined {
  const reached = new Map<number, number>();
  for (const rule of host.rules) {
    if (rule.narrowed) continue;
    if (rule.from !== undefined) {
      const from = parseCidr(rule.from);
      if (source === null || !from.ok || !containsAddress(from.cidr, source)) continue;
    }
    reached.set(rule.table, Math.min(reached.get(rule.table) ?? Infinity, rule.priority));
  }
  const candidates = host.defaultRoutes.filter((r) => reached.has(r.table) && r.paths.length > 0);
  candidates.sort((a, b) => reached.get(a.table)! - reached.get(b.table)! || a.metric - b.metric || a.table - b.table);
  return candidates[0];
}

/**
 * The address the kernel would send from along a default route: its preferred source, else the
 * first path's device's address on the gateway's network, else that device's first address.
 */
function defaultRouteAddress(route: HostDefaultRoute, addresses: readonly HostAddress[], byIndex: ReadonlyMap<number, HostLink>): number | undefined {
  const usable = (text: string): number | undefined => {
    const parsed = parseIpv4(text);
    return parsed.ok && nodeIpProblem(parsed.address) === null ? parsed.address : undefined;
  };
  if (route.src !== undefined && addresses.some((a) => a.address === route.src)) {
    const src = usable(route.src);
    if (src !== undefined) return src;
  }
  for (const path of route.paths) {
    if (!byIndex.has(path.ifindex)) continue;
    const onDevice = addresses.filter((a) => a.ifindex === path.ifindex && a.scope !== RT_SCOPE_HOST && usable(a.address) !== undefined);
    const chosen = onGatewayNetwork(onDevice, path) ?? onDevice[0];
    if (chosen) return usable(chosen.address);
  }
  return undefined;
}

function onGatewayNetwork(addresses: readonly HostAddress[], path: DefaultRoutePath): HostAddress | undefined {
  const gateway = path.gateway === undefined ? undefined : parseIpv4(path.gateway);
  if (!gateway?.ok) return undefined;
  return addresses.find((a) => {
    const network = parseCidr(`${a.address}/${a.prefixLength}`);
    return network.ok && containsAddress(network.cidr, gateway.address);
  });
}

const names = (links: readonly HostLink[]): string => links.map((l) => l.name).join(', ');
const fail = (reason: string): { ok: false; reason: string } => ({ ok: false, reason });

function describeFrom(from: Underlay['nodeIpFrom']): string {
  switch (from) {
    case 'setting': return `from ${NODE_IP_SETTING}`;
    case 'internal-ip': return 'this Node\'s InternalIP';
    case 'default-route': return 'the default route\'s source';
  }
}
