/**
 * Which cables the active gateway wants (pure): one per remote Endpoint the cluster-wide verdict
 * accepted (model/endpoint-set.ts), when the gateway can build it. The route agent routes to every
 * accepted remote; the gateway additionally needs the remote to run the same cable (backend), a
 * usable backend_config (its `udp-port`), a cable name the IPsec plan takes, and subnets. A remote
 * that fails any of these gets no cable, with a reason the operator can act on (a mismatched cable
 * type is named as such), and never affects the others.
 *
 * The address to reach a remote before NAT discovery answers is discovery's own starting choice
 * (legacySelection): its public IP when either side has NAT enabled (or the remote is behind a load
 * balancer) and it announces one, else its private IP.
 */
import type { CableEndpoint } from '../model/cable-endpoint.ts';
import { clip, parseCidr, parseIpv4 } from '../model/cidr.ts';
import { compareText } from '../model/compare.ts';
import type { AcceptedEndpoint } from '../model/endpoint-set.ts';
import { errorText } from '../model/error-text.ts';
import { parseWireguardKey } from '../model/wireguard-keys.ts';
import { legacySelection, natRemoteFromEndpoint } from './nat-discovery-requester.ts';
import { CABLE_NAME_PATTERN, CABLE_NAME_RULE } from './ipsec-connections.ts';

/** The NAT-T port a remote without `udp-port` in its backend_config listens on (Submariner's default). */
export const DEFAULT_REMOTE_NAT_T_PORT = 4500;

export interface RemoteCablesLocal {
  /** The local cable's Endpoint backend name: `libreswan` for seaway's IPsec cable. */
  backend: string;
  /** Whether the local gateway has NAT enabled (its Endpoint's nat_enabled). */
  natEnabled: boolean;
}

export interface RejectedRemoteCable {
  clusterId: string;
  /** namespace/name of the remote's Endpoint. */
  endpoint: string;
  reason: string;
}

export interface RemoteCables {
  /** Sorted by cluster id. */
  cables: CableEndpoint[];
  /** Sorted by cluster id. */
  rejected: RejectedRemoteCable[];
}

type Judged = { ok: true; cable: CableEndpoint } | { ok: false; reason: string };

/** A value from another cluster, clipped and quoted with its control characters escaped (reasons end up in logs and status). */
const quoted = (text: string): string => JSON.stringify(clip(text));

/** The remote's `udp-port`, or why it cannot be used. */
function natTPort(config: Readonly<Record<string, string>>): { ok: true; port: number } | { ok: false; reason: string } {
  if (!Object.hasOwn(config, 'udp-port')) return { ok: true, port: DEFAULT_REMOTE_NAT_T_PORT };
  const text = config['udp-port'];
  if (typeof text === 'string' && /^[0-9]{1,5}$/.test(text)) {
    const port = Number(text);
    if (port >= 1 && port <= 65535) return { ok: true, port };
  }
  const shown = typeof text === 'string' ? quoted(text) : String(text);
  return { ok: false, reason: `backend_config "udp-port" is ${shown}, not a decimal port from 1 to 65535` };
}

function judge(remote: AcceptedEndpoint, local: RemoteCablesLocal): Judged {
  const { spec } = remote;
  const backend = typeof spec.backend === 'string' ? spec.backend : '';
  if (backend === '') return { ok: false, reason: `announces no cable backend; this gateway runs ${quoted(local.backend)}` };
  if (backend !== local.backend) return { ok: false, reason: `runs the ${quoted(backend)} cable; this gateway runs ${quoted(local.backend)}` };
  if (typeof spec.backendConfigProblem === 'string') return { ok: false, reason: `malformed backend_config: ${spec.backendConfigProblem}` };
  const port = natTPort(spec.backendConfig ?? {});
  if (!port.ok) return port;
  const cableName = typeof spec.cableName === 'string' ? spec.cableName : '';
  if (cableName === '') return { ok: false, reason: 'announces no cable name' };
  if (!CABLE_NAME_PATTERN.test(cableName)) return { ok: false, reason: `cable name ${quoted(cableName)} is not usable: a cable name must be ${CABLE_NAME_RULE}` };
  if (!parseIpv4(spec.privateIp).ok) return { ok: false, reason: `private IP ${quoted(String(spec.privateIp))} is not an IPv4 address` };
  const subnets = Array.isArray(spec.subnets) ? spec.subnets : [];
  if (subnets.length === 0) return { ok: false, reason: 'announces no subnets' };
  for (const subnet of subnets) {
    const parsed = parseCidr(subnet);
    if (!parsed.ok || parsed.hostBitsSet || parsed.text !== subnet) return { ok: false, reason: `subnet ${quoted(String(subnet))} is not a canonical IPv4 CIDR` };
  }
  // WireGuard peers are known by their public key: without a usable one there is no cable.
  let publicKey: string | undefined;
  if (backend === 'wireguard') {
    const key = parseWireguardKey(spec.backendConfig?.publicKey);
    if (!key.ok) return { ok: false, reason: `backend_config "publicKey" ${key.reason}` };
    publicKey = spec.backendConfig!.publicKey;
  }
  // The address before (or without) NAT discovery: the same choice discovery starts from.
  const legacy = legacySelection(natRemoteFromEndpoint(spec), local.natEnabled);
  const address = legacy.ip !== '' && parseIpv4(legacy.ip).ok ? legacy.ip : spec.privateIp;
  return {
    ok: true,
    cable: {
      cableName, clusterId: spec.clusterId, privateIp: spec.privateIp, address, subnets: [...subnets], natTPort: port.port,
      ...(publicKey !== undefined ? { publicKey } : {}),
    },
  };
}

const endpointName = (remote: AcceptedEndpoint): string => `${remote?.object?.namespace ?? '?'}/${remote?.object?.name ?? '?'}`;
const clusterIdOf = (remote: AcceptedEndpoint): string => (typeof remote?.spec?.clusterId === 'string' ? remote.spec.clusterId : '');

/**
 * The cables for the accepted remote Endpoints, and the remotes that get none with why. In cluster
 * id order (then Endpoint name), a cable name already taken by an earlier remote's cable is refused.
 * Never throws: a remote that cannot even be read is refused with what went wrong.
 */
export function remoteCables(remotes: readonly AcceptedEndpoint[], local: RemoteCablesLocal): RemoteCables {
  const ordered = [...remotes].sort((a, b) => compareText(clusterIdOf(a), clusterIdOf(b)) || compareText(endpointName(a), endpointName(b)));
  const cables: CableEndpoint[] = [];
  const rejected: RejectedRemoteCable[] = [];
  const byName = new Map<string, AcceptedEndpoint>();
  // A WireGuard peer is its public key: two remotes with one key would fight over one peer.
  const byKey = new Map<string, AcceptedEndpoint>();
  for (const remote of ordered) {
    let judged: Judged;
    try {
      judged = judge(remote, local);
    } catch (error) {
      judged = { ok: false, reason: `cannot be read: ${errorText(error)}` };
    }
    if (judged.ok) {
      const holder = byName.get(judged.cable.cableName);
      if (holder !== undefined) {
        judged = { ok: false, reason: `cable name ${quoted(judged.cable.cableName)} is already the cable of cluster ${quoted(clusterIdOf(holder))} (Endpoint ${endpointName(holder)})` };
      } else if (judged.cable.publicKey !== undefined && byKey.has(judged.cable.publicKey)) {
        judged = { ok: false, reason: `its WireGuard public key is already the key of cluster ${quoted(clusterIdOf(byKey.get(judged.cable.publicKey)!))} (Endpoint ${endpointName(byKey.get(judged.cable.publicKey)!)})` };
      } else {
        byName.set(judged.cable.cableName, remote);
        if (judged.cable.publicKey !== undefined) byKey.set(judged.cable.publicKey, remote);
      }
    }
    if (judged.ok) cables.push(judged.cable);
    else rejected.push({ clusterId: clusterIdOf(remote), endpoint: endpointName(remote), reason: judged.reason });
  }
  return { cables, rejected };
}
