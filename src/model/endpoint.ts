/**
 * Submariner's Endpoint (submariner.io/v1): the typed spec and its validation at the boundary.
 * One call judges one object; cross-object rules (duplicates, overlaps between clusters) live in endpoint-set.ts.
 */
import {
  clip, describeType, formatCidr, overlaps, parseCidr, parseIpv4, type Cidr,
} from './cidr.ts';

export interface EndpointSpec {
  clusterId: string;
  cableName: string;
  healthCheckIp: string | null;
  hostname: string;
  /** Canonical CIDRs, duplicates removed, in the order given. For the local Endpoint: as given, unchecked. */
  subnets: string[];
  privateIp: string;
  publicIp: string | null;
  natEnabled: boolean;
  backend: string;
  backendConfig: Record<string, string>;
}

export const ENDPOINT_REJECT_REASONS = [
  'malformed', 'invalid-ip', 'invalid-cidr', 'ipv6-unsupported', 'default-route', 'too-broad', 'reserved-range',
  'overlaps-local', 'overlaps-node-network', 'too-many-subnets', 'overlaps-other-endpoint',
] as const;
export type EndpointRejectReason = (typeof ENDPOINT_REJECT_REASONS)[number];

export interface LabelledCidr {
  cidr: Cidr;
  /** What it is, for messages: "local pod CIDR 10.244.0.0/16". */
  label: string;
}

export interface EndpointValidationContext {
  localClusterId: string;
  /** This cluster's pod and service CIDRs. */
  localCidrs: readonly LabelledCidr[];
  /** Networks of this node's own interfaces. */
  nodeNetworks: readonly LabelledCidr[];
  minPrefixLength: number;
  maxSubnets: number;
}

export type EndpointValidation =
  | { ok: true; endpoint: EndpointSpec; subnets: Cidr[]; notes: string[] }
  | { ok: false; reason: EndpointRejectReason; message: string };

/** Ranges no remote cluster may claim: routing them into a tunnel would break the node itself. */
export const RESERVED_RANGES: readonly LabelledCidr[] = [
  ['0.0.0.0/8', '"this network" range 0.0.0.0/8'],
  ['127.0.0.0/8', 'loopback range 127.0.0.0/8'],
  ['169.254.0.0/16', 'link-local range 169.254.0.0/16'],
  ['224.0.0.0/4', 'multicast range 224.0.0.0/4'],
  ['240.0.0.0/4', 'reserved range 240.0.0.0/4 (it holds the vx-submariner VTEP network 240.0.0.0/8)'],
].map(([text, label]) => {
  const parsed = parseCidr(text);
  if (!parsed.ok) throw new Error(`bad reserved range ${text}`);
  return { cidr: parsed.cidr, label: label as string };
});

class Rejection extends Error {
  readonly reason: EndpointRejectReason;
  constructor(reason: EndpointRejectReason, message: string) {
    super(message);
    this.reason = reason;
  }
}

function malformed(path: string, expected: string, value: unknown): Rejection {
  return new Rejection('malformed', `${path}: expected ${expected}, got ${describeType(value)}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function requiredString(spec: Record<string, unknown>, field: string): string {
  const value = spec[field];
  if (typeof value !== 'string') throw value === undefined ? new Rejection('malformed', `spec.${field}: missing`) : malformed(`spec.${field}`, 'a string', value);
  return value;
}

function optionalString(spec: Record<string, unknown>, field: string): string {
  const value = spec[field];
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw malformed(`spec.${field}`, 'a string', value);
  return value;
}

function ipField(path: string, text: string): string {
  const parsed = parseIpv4(text);
  if (parsed.ok) return text;
  if (parsed.family === 'ipv6') throw new Rejection('ipv6-unsupported', `${path}: ${parsed.message}`);
  throw new Rejection('invalid-ip', `${path}: ${parsed.message}`);
}

/** Reads spec.cluster_id without judging the rest, so duplicates can be grouped before full validation. */
export function readClusterId(spec: unknown): { ok: true; clusterId: string } | { ok: false; message: string } {
  if (!isRecord(spec)) return { ok: false, message: `spec: expected an object, got ${describeType(spec)}` };
  const value = spec['cluster_id'];
  if (typeof value !== 'string') return { ok: false, message: value === undefined ? 'spec.cluster_id: missing' : `spec.cluster_id: expected a string, got ${describeType(value)}` };
  if (value === '') return { ok: false, message: 'spec.cluster_id: empty' };
  return { ok: true, clusterId: value };
}

export function validateEndpoint(raw: unknown, ctx: EndpointValidationContext): EndpointValidation {
  try {
    return validateOrThrow(raw, ctx);
  } catch (error) {
    if (error instanceof Rejection) return { ok: false, reason: error.reason, message: error.message };
    throw error;
  }
}

function validateOrThrow(raw: unknown, ctx: EndpointValidationContext): EndpointValidation {
  const clusterIdRead = readClusterId(raw);
  if (!clusterIdRead.ok) throw new Rejection('malformed', clusterIdRead.message);
  const spec = raw as Record<string, unknown>;
  const clusterId = clusterIdRead.clusterId;
  const isLocal = clusterId === ctx.localClusterId;

  // Structure first, so the message points at the first thing a human must fix.
  const hostname = requiredString(spec, 'hostname');
  if (isLocal && hostname === '') throw new Rejection('malformed', 'spec.hostname: empty; the local Endpoint must name its gateway node');
  const privateIpText = requiredString(spec, 'private_ip');
  const cableName = optionalString(spec, 'cable_name');
  const publicIpText = optionalString(spec, 'public_ip');
  const healthCheckIpText = optionalString(spec, 'healthCheckIP');
  const backend = optionalString(spec, 'backend');
  const natEnabled = spec['nat_enabled'] ?? false;
  if (typeof natEnabled !== 'boolean') throw malformed('spec.nat_enabled', 'a boolean', natEnabled);
  const backendConfig = readBackendConfig(spec['backend_config']);
  const rawSubnets = readSubnetList(spec, isLocal ? Number.POSITIVE_INFINITY : ctx.maxSubnets);

  const privateIp = ipField('spec.private_ip', privateIpText);
  const publicIp = publicIpText === '' ? null : ipField('spec.public_ip', publicIpText);
  const healthCheckIp = healthCheckIpText === '' ? null : ipField('spec.healthCheckIP', healthCheckIpText);

  const endpoint: EndpointSpec = {
    clusterId, cableName, healthCheckIp, hostname, subnets: [], privateIp, publicIp, natEnabled, backend, backendConfig,
  };
  // The local Endpoint only tells who the gateway is; its subnets are our own and are never routed.
  if (isLocal) return { ok: true, endpoint: { ...endpoint, subnets: [...new Set(rawSubnets)] }, subnets: [], notes: [] };

  const notes: string[] = [];
  const subnets: Cidr[] = [];
  const texts: string[] = [];
  const seen = new Set<string>();
  rawSubnets.forEach((text, index) => {
    const cidr = checkRemoteSubnet(`spec.subnets[${index}]`, text, ctx, notes);
    const canonical = formatCidr(cidr);
    if (seen.has(canonical)) return;
    seen.add(canonical);
    subnets.push(cidr);
    texts.push(canonical);
  });
  // endpoint.subnets[i] is the canonical text of subnets[i]; the planner relies on that pairing.
  return { ok: true, endpoint: { ...endpoint, subnets: texts }, subnets, notes };
}

function readBackendConfig(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isRecord(value)) throw malformed('spec.backend_config', 'an object of strings', value);
  const result: Record<string, string> = {};
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry !== 'string') throw malformed(`spec.backend_config["${clip(key)}"]`, 'a string', entry);
    result[key] = entry;
  }
  return result;
}

function readSubnetList(spec: Record<string, unknown>, maxSubnets: number): string[] {
  const value = spec['subnets'];
  if (value === undefined) throw new Rejection('malformed', 'spec.subnets: missing');
  // Go encodes an empty slice as null.
  if (value === null) return [];
  if (!Array.isArray(value)) throw malformed('spec.subnets', 'an array of strings', value);
  if (value.length > maxSubnets) {
    throw new Rejection('too-many-subnets', `spec.subnets: ${value.length} subnets, more than the allowed ${maxSubnets} (--max-subnets-per-endpoint)`);
  }
  value.forEach((item, index) => {
    if (typeof item !== 'string') throw malformed(`spec.subnets[${index}]`, 'a string', item);
  });
  return value as string[];
}

function checkRemoteSubnet(path: string, text: string, ctx: EndpointValidationContext, notes: string[]): Cidr {
  const parsed = parseCidr(text);
  if (!parsed.ok) {
    if (parsed.family === 'ipv6') throw new Rejection('ipv6-unsupported', `${path}: ${parsed.message}`);
    throw new Rejection('invalid-cidr', `${path}: ${parsed.message}`);
  }
  const { cidr } = parsed;
  if (cidr.prefixLength === 0) throw new Rejection('default-route', `${path}: "${clip(text)}" is a default route; a remote cluster may not claim every address`);
  if (cidr.prefixLength < ctx.minPrefixLength) {
    throw new Rejection('too-broad', `${path}: ${parsed.text} is broader than the allowed /${ctx.minPrefixLength} (--min-prefix-length)`);
  }
  if (parsed.hostBitsSet) notes.push(`${path}: "${text}" has host bits set; using ${parsed.text}`);
  const reserved = RESERVED_RANGES.find((r) => overlaps(r.cidr, cidr));
  if (reserved) throw new Rejection('reserved-range', `${path}: ${parsed.text} overlaps the ${reserved.label}`);
  const local = ctx.localCidrs.find((l) => overlaps(l.cidr, cidr));
  if (local) throw new Rejection('overlaps-local', `${path}: ${parsed.text} overlaps the ${local.label}`);
  const own = ctx.nodeNetworks.find((n) => overlaps(n.cidr, cidr));
  if (own) throw new Rejection('overlaps-node-network', `${path}: ${parsed.text} overlaps the ${own.label}`);
  return cidr;
}

/** Builds the context from configuration-style CIDR strings; unparseable or IPv6 node networks are ignored (the kernel's, not input). */
export function endpointValidationContext(options: {
  localClusterId: string;
  podCidrs: readonly string[];
  serviceCidrs: readonly string[];
  nodeNetworks: readonly string[];
  minPrefixLength: number;
  maxSubnets: number;
}): EndpointValidationContext {
  const labelled = (texts: readonly string[], what: string): LabelledCidr[] => texts.flatMap((text) => {
    const parsed = parseCidr(text);
    return parsed.ok ? [{ cidr: parsed.cidr, label: `${what} ${parsed.text}` }] : [];
  });
  return {
    localClusterId: options.localClusterId,
    localCidrs: [...labelled(options.podCidrs, 'local pod CIDR'), ...labelled(options.serviceCidrs, 'local service CIDR')],
    nodeNetworks: labelled(options.nodeNetworks, 'node network'),
    minPrefixLength: options.minPrefixLength,
    maxSubnets: options.maxSubnets,
  };
}
