/**
 * The local Endpoint the active gateway publishes, as Submariner writes it (pure):
 * `cable_name = submariner-cable-<cluster>-<private IP, dots as dashes>`, object name
 * `<cluster>-<cable_name>` made a valid name, hostname = the node's name, subnets = the cluster's
 * service and pod ranges, backend_config from the node's `gateway.submariner.io/` labels and
 * annotations (an annotation overrides a label) plus the ports.
 *
 * The private IP is the node's InternalIP, or the configured node IP (which must be one of the
 * node's addresses). The public IP comes from the node's `gateway.submariner.io/public-ip` (label
 * or annotation) or the configuration, and only as `ipv4:<address>`: seaway never asks an outside
 * "what is my IP" service. A node key seaway does not know refuses candidacy with its reason, as it
 * stops Submariner's gateway, rather than publishing something the operator did not mean.
 *
 * Beyond Submariner: the Endpoint carries the election Lease's transition count (fencing), so the
 * object a paused ex-leader wrote can be told from the current holder's.
 */
import { parseIpv4 } from '../model/cidr.ts';
import type { NodeObject } from '../model/snapshot.ts';
import { SUBMARINER_API_VERSION } from '../model/submariner-api.ts';

const GATEWAY_CONFIG_PREFIX = 'gateway.submariner.io/';
export const FENCING_ANNOTATION = 'seaway.io/lease-transitions';
/** The node keys Submariner accepts under the prefix (ValidGatewayNodeConfig). */
const KNOWN_NODE_KEYS = new Set(['public-ip', 'udp-port', 'natt-discovery-port']);

export interface LocalEndpointInputs {
  clusterId: string;
  namespace: string;
  node: Pick<NodeObject, 'name' | 'internalIP' | 'addresses' | 'labels' | 'annotations'>;
  /** `--node-ip`: overrides the InternalIP; must be one of the node's addresses. */
  nodeIp?: string;
  /** Configured public IP (`ipv4:<address>`), used when the node names none. */
  publicIp?: string;
  /** The cluster's service and pod ranges. */
  subnets: readonly string[];
  backend: string;
  /** Whether peers should reach this gateway at its public IP (Submariner's `--natt`, on by default). */
  natEnabled: boolean;
  natTPort: number;
  nattDiscoveryPort: number;
  /** The CNI interface's address (health checks). */
  healthCheckIp?: string;
  /** The election Lease's transition count while this gateway holds it. */
  fencingToken: number;
}

export interface LocalEndpointObject {
  apiVersion: typeof SUBMARINER_API_VERSION;
  kind: 'Endpoint';
  metadata: { name: string; namespace: string; annotations: Record<string, string> };
  spec: Record<string, unknown>;
}

export type LocalEndpointResult = { ok: true; object: LocalEndpointObject } | { ok: false; reason: string };

/** Submariner's EnsureValidName: lower case, anything outside [a-z0-9.-] becomes '-'. */
export const validObjectName = (text: string): string => text.toLowerCase().replace(/[^a-z0-9.-]/g, '-');

const cableNameFor = (clusterId: string, privateIp: string): string => `submariner-cable-${clusterId}-${privateIp.replaceAll('.', '-')}`;

/** `ipv4:1.2.3.4[,method:value...]`: the first ipv4 entry; other methods are not resolved (no outside services). */
function publicIpFrom(config: string, where: string): { ok: true; ip: string | undefined } | { ok: false; reason: string } {
  for (const entry of config.split(',').map((e) => e.trim()).filter((e) => e !== '')) {
    const colon = entry.indexOf(':');
    const method = colon < 0 ? '' : entry.slice(0, colon);
    const value = entry.slice(colon + 1);
    if (method !== 'ipv4') continue;
    const parsed = parseIpv4(value);
    if (!parsed.ok) return { ok: false, reason: `${where}: ${parsed.message}` };
    return { ok: true, ip: value };
  }
  return { ok: false, reason: `${where} "${config.slice(0, 80)}" has no ipv4:<address> entry; seaway resolves no other method (it asks no outside service)` };
}

export function localEndpointObject(inputs: LocalEndpointInputs): LocalEndpointResult {
  const { node } = inputs;
  let privateIp: string;
  if (inputs.nodeIp !== undefined) {
    if (!node.addresses.includes(inputs.nodeIp)) return { ok: false, reason: `the configured node IP ${inputs.nodeIp} is not one of node ${node.name}'s addresses (${node.addresses.join(', ') || 'none'})` };
    privateIp = inputs.nodeIp;
  } else if (node.internalIP !== null) {
    privateIp = node.internalIP;
  } else {
    return { ok: false, reason: `node ${node.name} has no IPv4 InternalIP and no node IP is configured` };
  }
  if (!parseIpv4(privateIp).ok) return { ok: false, reason: `the private IP ${privateIp} is not an IPv4 address` };

  // Node configuration: labels, then annotations over them.
  const nodeConfig: Record<string, string> = {};
  for (const [source, map] of [['label', node.labels], ['annotation', node.annotations]] as const) {
    for (const [key, value] of Object.entries(map)) {
      if (!key.startsWith(GATEWAY_CONFIG_PREFIX)) continue;
      const name = key.slice(GATEWAY_CONFIG_PREFIX.length);
      if (!KNOWN_NODE_KEYS.has(name)) return { ok: false, reason: `node ${node.name} has the ${source} ${key}, which is not a gateway setting (known: ${[...KNOWN_NODE_KEYS].join(', ')})` };
      nodeConfig[name] = value;
    }
  }
  const publicConfig = nodeConfig['public-ip'] ?? inputs.publicIp;
  let publicIp: string | undefined;
  if (publicConfig !== undefined) {
    const resolved = publicIpFrom(publicConfig, nodeConfig['public-ip'] !== undefined ? `node ${node.name}'s ${GATEWAY_CONFIG_PREFIX}public-ip` : 'the configured public IP');
    if (!resolved.ok) return resolved;
    publicIp = resolved.ip;
  }
  for (const portKey of ['udp-port', 'natt-discovery-port'] as const) {
    const value = nodeConfig[portKey];
    if (value !== undefined && !(/^[1-9]\d{0,4}$/.test(value) && Number(value) <= 65535)) return { ok: false, reason: `node ${node.name}'s ${GATEWAY_CONFIG_PREFIX}${portKey} "${value.slice(0, 20)}" is not a port` };
  }
  const backendConfig: Record<string, string> = {
    ...nodeConfig,
    'udp-port': nodeConfig['udp-port'] ?? String(inputs.natTPort),
    'natt-discovery-port': nodeConfig['natt-discovery-port'] ?? String(inputs.nattDiscoveryPort),
  };
  const cableName = cableNameFor(inputs.clusterId, privateIp);
  const spec: Record<string, unknown> = {
    cluster_id: inputs.clusterId,
    cable_name: cableName,
    hostname: node.name,
    subnets: [...inputs.subnets],
    private_ip: privateIp,
    ...(publicIp !== undefined ? { public_ip: publicIp } : {}),
    ...(inputs.healthCheckIp !== undefined ? { healthCheckIP: inputs.healthCheckIp } : {}),
    nat_enabled: inputs.natEnabled,
    backend: inputs.backend,
    backend_config: backendConfig,
  };
  return {
    ok: true,
    object: {
      apiVersion: SUBMARINER_API_VERSION, kind: 'Endpoint',
      metadata: { name: validObjectName(`${inputs.clusterId}-${cableName}`), namespace: inputs.namespace, annotations: { [FENCING_ANNOTATION]: String(inputs.fencingToken) } },
      spec,
    },
  };
}
