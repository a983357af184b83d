/**
 * Submariner's Endpoint (submariner.io/v1): the typed spec and its validation at the boundary.
 * One call judges one object against what needs no other object (its own shape, the reserved ranges,
 * this cluster's pod and service CIDRs). Rules across objects (one per cluster, trust in the local
 * Endpoint, Node and API server addresses, overlaps, the budget) live in endpoint-set.ts.
 *
 * Only what seaway uses can reject an Endpoint: cluster_id, subnets and the IPv4 private address (the
 * cable's identity and, for the local Endpoint, where VXLAN goes); the local Endpoint's hostname too.
 * Everything else is read leniently and a bad value becomes a note, because rejecting a whole cluster
 * over a field routing never reads (an IPv6 public_ip, a numeric backend_config value) loses traffic for nothing.
 * backend_config is read by the gateway, though (the cable's `udp-port`): a malformed one is kept as
 * `backendConfigProblem`, so the gateway refuses a cable to it (plan/remote-cables.ts) while the
 * route agent still routes to the cluster.
 */
import {
  clip, describeType, overlaps, parseCidr, parseIpv4, type Cidr,
} from './cidr.ts';
import { isRecord } from './compare.ts';

export interface EndpointSpec {
  clusterId: string;
  cableName: string;
  hostname: string;
  /**
   * Remote: canonical IPv4 CIDRs, duplicates removed, in the order given (IPv6 ones skipped with a note).
   * Local: the strings given, unchecked (they are this cluster's own and never routed).
   */
  subnets: string[];
  /** The IPv4 private address seaway uses: private_ip when it is IPv4, else the IPv4 entry of privateIPs. */
  privateIp: string;
  /** Every IPv4 private address the Endpoint gives (private_ip and privateIPs), privateIp first, no repeats. */
  privateIps: string[];
  /** Every IPv4 public address it gives (public_ip and publicIPs), no repeats. */
  publicIps: string[];
  /** Every IPv4 health check address it gives (healthCheckIP and healthCheckIPs), no repeats. */
  healthCheckIps: string[];
  natEnabled: boolean;
  backend: string;
  /** The string entries of backend_config (entries of another type are left out, see backendConfigProblem). */
  backendConfig: Record<string, string>;
  /**
   * Set when backend_config is malformed (not an object, or entries that are not strings): what is
   * wrong, for the gateway to refuse a cable with. Routing ignores it. Absent when backend_config is fine.
   */
  backendConfigProblem?: string;
}

export const ENDPOINT_REJECT_REASONS = [
  'malformed', 'invalid-ip', 'invalid-cidr', 'ipv6-unsupported', 'default-route', 'too-broad', 'reserved-range',
  'overlaps-local', 'too-many-subnets', 'untrusted-local-endpoint', 'covers-node-address', 'covers-api-server',
  'covers-endpoint-address', 'overlaps-other-endpoint', 'over-subnet-budget',
] as const;
export type EndpointRejectReason = (typeof ENDPOINT_REJECT_REASONS)[number];

/** Accepted but noteworthy input. */
export type EndpointNoteCode = 'subnet-normalised' | 'ipv6-subnet-skipped' | 'field-ignored';
export interface EndpointNote {
  code: EndpointNoteCode;
  message: string;
}

export interface LabelledCidr {
  cidr: Cidr;
  /** What it is, for messages: "local pod CIDR 10.244.0.0/16". */
  label: string;
}

export interface EndpointValidationContext {
  localClusterId: string;
  /** This cluster's pod and service CIDRs. */
  localCidrs: readonly LabelledCidr[];
  minPrefixLength: number;
  maxSubnets: number;
}

export type EndpointValidation =
  | { ok: true; endpoint: EndpointSpec; subnets: Cidr[]; notes: EndpointNote[] }
  | { ok: false; reason: EndpointRejectReason; message: string };

/** The plural address fields are dual-stack pairs: the CRD allows at most one address per family. */
export const MAX_PLURAL_ADDRESSES = 2;
/** How many of backend_config's problems backendConfigProblem names (the rest are counted). */
const MAX_BACKEND_CONFIG_PROBLEMS = 3;
/** Submariner's CRD caps spec.cluster_id at 63 characters (and requires at least one). */
export const MAX_CLUSTER_ID_LENGTH = 63;

function labelled(text: string, label: string): LabelledCidr {
  const parsed = parseCidr(text);
  if (!parsed.ok) throw new Error(`bad built-in range ${text}`);
  return { cidr: parsed.cidr, label };
}

/**
 * Ranges no remote cluster may claim: routing them into a tunnel would break the node itself. Of the
 * old class E (240.0.0.0/4) only 240.0.0.0/8 collides, because it holds the VTEP addresses of
 * vx-submariner; Globalnet hands out 242.0.0.0/8 by default, and Linux routes class E like any unicast.
 */
export const RESERVED_RANGES: readonly LabelledCidr[] = [
  labelled('0.0.0.0/8', '"this network" range 0.0.0.0/8'),
  labelled('127.0.0.0/8', 'loopback range 127.0.0.0/8'),
  labelled('169.254.0.0/16', 'link-local range 169.254.0.0/16'),
  labelled('224.0.0.0/4', 'multicast range 224.0.0.0/4'),
  labelled('240.0.0.0/8', 'vx-submariner VTEP range 240.0.0.0/8'),
  labelled('255.255.255.255/32', 'limited broadcast address 255.255.255.255'),
];

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

/** Reads spec.cluster_id without judging the rest, so duplicates can be grouped before full validation. */
export function readClusterId(spec: unknown): { ok: true; clusterId: string } | { ok: false; message: string } {
  if (!isRecord(spec)) return { ok: false, message: `spec: expected an object, got ${describeType(spec)}` };
  const value = spec['cluster_id'];
  if (typeof value !== 'string') return { ok: false, message: value === undefined ? 'spec.cluster_id: missing' : `spec.cluster_id: expected a string, got ${describeType(value)}` };
  if (value === '') return { ok: false, message: 'spec.cluster_id: empty' };
  // Submariner's CRD caps it at 63 characters: a longer one cannot be a real cluster's and would make any object quoting it invalid.
  if (value.length > MAX_CLUSTER_ID_LENGTH) return { ok: false, message: `spec.cluster_id: ${value.length} characters; at most ${MAX_CLUSTER_ID_LENGTH} (Submariner's CRD)` };
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

/** Collects notes about fields read leniently. */
class Lenient {
  readonly notes: EndpointNote[] = [];

  /** What is wrong with backend_config, in order; the first few are kept for the gateway's refusal. */
  readonly backendConfigProblems: string[] = [];
  backendConfigProblemCount = 0;

  ignored(path: string, why: string): void {
    this.notes.push({ code: 'field-ignored', message: `${path}: ${why}; ignored (seaway does not use it)` });
  }

  /** backend_config is not used for routing, but the gateway needs it whole to build a cable. */
  backendConfigIgnored(path: string, why: string): void {
    this.notes.push({ code: 'field-ignored', message: `${path}: ${why}; ignored for routing (a gateway refuses a cable to this Endpoint)` });
    this.backendConfigProblemCount++;
    if (this.backendConfigProblems.length < MAX_BACKEND_CONFIG_PROBLEMS) this.backendConfigProblems.push(`${path}: ${why}`);
  }

  backendConfigProblem(): string | undefined {
    if (this.backendConfigProblemCount === 0) return undefined;
    const more = this.backendConfigProblemCount - this.backendConfigProblems.length;
    return this.backendConfigProblems.join('; ') + (more > 0 ? `; and ${more} more` : '');
  }

  string(spec: Record<string, unknown>, field: string): string {
    const value = spec[field];
    if (value === undefined || value === null) return '';
    if (typeof value === 'string') return value;
    this.ignored(`spec.${field}`, `expected a string, got ${describeType(value)}`);
    return '';
  }

  boolean(spec: Record<string, unknown>, field: string): boolean {
    const value = spec[field];
    if (value === undefined || value === null) return false;
    if (typeof value === 'boolean') return value;
    this.ignored(`spec.${field}`, `expected a boolean, got ${describeType(value)}`);
    return false;
  }

  backendConfig(value: unknown): Record<string, string> {
    if (value === undefined || value === null) return {};
    if (!isRecord(value)) { this.backendConfigIgnored('spec.backend_config', `expected an object of strings, got ${describeType(value)}`); return {}; }
    const result: Record<string, string> = {};
    for (const [key, entry] of Object.entries(value)) {
      if (typeof entry === 'string') result[key] = entry;
      else this.backendConfigIgnored(`spec.backend_config["${clip(key)}"]`, `expected a string, got ${describeType(entry)}`);
    }
    return result;
  }

  /**
   * IPv4 addresses of a singular and a plural field seaway does not route by. IPv6 entries are the
   * other half of a dual-stack pair and pass silently; anything else is noted.
   */
  addresses(spec: Record<string, unknown>, singular: string, plural: string): string[] {
    const found: string[] = [];
    const take = (path: string, value: unknown) => {
      if (value === undefined || value === null || value === '') return;
      const parsed = parseIpv4(value);
      if (parsed.ok) { if (!found.includes(value as string)) found.push(value as string); return; }
      if (parsed.family !== 'ipv6') this.ignored(path, parsed.message);
    };
    take(`spec.${singular}`, spec[singular]);
    const list = spec[plural];
    if (list === undefined || list === null) return found;
    if (!Array.isArray(list)) { this.ignored(`spec.${plural}`, `expected an array of strings, got ${describeType(list)}`); return found; }
    // Bounded: a list this long is not a dual-stack pair, and nothing here is worth walking a huge one.
    if (list.length > MAX_PLURAL_ADDRESSES) this.ignored(`spec.${plural}`, `${list.length} entries, more than ${MAX_PLURAL_ADDRESSES}; entries after the first ${MAX_PLURAL_ADDRESSES}`);
    list.slice(0, MAX_PLURAL_ADDRESSES).forEach((item, index) => take(`spec.${plural}[${index}]`, item));
    return found;
  }
}

function validateOrThrow(raw: unknown, ctx: EndpointValidationContext): EndpointValidation {
  const clusterIdRead = readClusterId(raw);
  if (!clusterIdRead.ok) throw new Rejection('malformed', clusterIdRead.message);
  const spec = raw as Record<string, unknown>;
  const clusterId = clusterIdRead.clusterId;
  const isLocal = clusterId === ctx.localClusterId;
  const lenient = new Lenient();

  // Structure first, so the message points at the first thing a human must fix.
  let hostname: string;
  if (isLocal) {
    const value = spec['hostname'];
    if (typeof value !== 'string') throw value === undefined ? new Rejection('malformed', 'spec.hostname: missing') : malformed('spec.hostname', 'a string', value);
    if (value === '') throw new Rejection('malformed', 'spec.hostname: empty; the local Endpoint must name its gateway node');
    hostname = value;
  } else {
    hostname = lenient.string(spec, 'hostname');
  }
  const privateIps = readPrivateIps(spec);
  const rawSubnets = isLocal ? readLocalSubnets(spec['subnets'], lenient) : readSubnetList(spec, ctx.maxSubnets);

  const endpoint: EndpointSpec = {
    clusterId,
    cableName: lenient.string(spec, 'cable_name'),
    hostname,
    subnets: [],
    privateIp: privateIps[0] as string,
    privateIps,
    publicIps: lenient.addresses(spec, 'public_ip', 'publicIPs'),
    healthCheckIps: lenient.addresses(spec, 'healthCheckIP', 'healthCheckIPs'),
    natEnabled: lenient.boolean(spec, 'nat_enabled'),
    backend: lenient.string(spec, 'backend'),
    backendConfig: lenient.backendConfig(spec['backend_config']),
  };
  const backendConfigProblem = lenient.backendConfigProblem();
  // Only when there is one, so a well-formed Endpoint's spec has no such key at all.
  if (backendConfigProblem !== undefined) endpoint.backendConfigProblem = backendConfigProblem;
  // The local Endpoint only tells who the gateway is; its subnets are our own and are never routed.
  if (isLocal) return { ok: true, endpoint: { ...endpoint, subnets: [...new Set(rawSubnets)] }, subnets: [], notes: lenient.notes };

  const notes = lenient.notes;
  const subnets: Cidr[] = [];
  const texts: string[] = [];
  const seen = new Set<string>();
  rawSubnets.forEach((text, index) => {
    const checked = checkRemoteSubnet(index, text, ctx, notes);
    if (checked === null) return;
    const { cidr, text: canonical } = checked;
    if (seen.has(canonical)) return;
    seen.add(canonical);
    subnets.push(cidr);
    texts.push(canonical);
  });
  // endpoint.subnets[i] is the canonical text of subnets[i]; the planner relies on that pairing.
  return { ok: true, endpoint: { ...endpoint, subnets: texts }, subnets, notes };
}

/**
 * The IPv4 private addresses, the one seaway uses first. private_ip wins over privateIPs: it is the
 * field every Submariner version writes and reads. private_ip may be absent (or IPv6, on a dual-stack
 * Endpoint) when privateIPs holds an IPv4 address. These fields are used, so bad values reject.
 */
function readPrivateIps(spec: Record<string, unknown>): string[] {
  const v4: string[] = [];
  let sawIpv6 = false;
  const take = (path: string, value: unknown) => {
    if (typeof value !== 'string') throw malformed(path, 'a string', value);
    const parsed = parseIpv4(value);
    if (parsed.ok) { if (!v4.includes(value)) v4.push(value); return; }
    if (parsed.family === 'ipv6') { sawIpv6 = true; return; }
    throw new Rejection('invalid-ip', `${path}: ${parsed.message}`);
  };
  const single = spec['private_ip'];
  if (single !== undefined && single !== null && single !== '') take('spec.private_ip', single);
  const list = spec['privateIPs'];
  if (list !== undefined && list !== null) {
    if (!Array.isArray(list)) throw malformed('spec.privateIPs', 'an array of strings', list);
    if (list.length > MAX_PLURAL_ADDRESSES) throw new Rejection('malformed', `spec.privateIPs: ${list.length} entries, at most ${MAX_PLURAL_ADDRESSES} (one per address family)`);
    list.forEach((item, index) => take(`spec.privateIPs[${index}]`, item));
  }
  if (v4.length > 0) return v4;
  if (sawIpv6) throw new Rejection('ipv6-unsupported', 'spec.private_ip, spec.privateIPs: no IPv4 address, only IPv6; only IPv4 is supported');
  if (single === '') throw new Rejection('malformed', 'spec.private_ip: empty, and spec.privateIPs has no IPv4 address');
  throw new Rejection('malformed', 'spec.private_ip: missing, and spec.privateIPs has no IPv4 address');
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

/** The local Endpoint's subnets are this cluster's own and never routed: kept for display, never a reason to reject. */
function readLocalSubnets(value: unknown, lenient: Lenient): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) { lenient.ignored('spec.subnets', `expected an array of strings, got ${describeType(value)}`); return []; }
  const strings: string[] = [];
  for (const item of value) if (typeof item === 'string') strings.push(item);
  if (strings.length < value.length) lenient.ignored('spec.subnets', `${value.length - strings.length} entries are not strings`);
  return strings;
}

/** A remote subnet, or null for an IPv6 one (the other half of a dual-stack Endpoint: skipped, not rejected). */
function checkRemoteSubnet(index: number, text: string, ctx: EndpointValidationContext, notes: EndpointNote[]): { cidr: Cidr; text: string } | null {
  const parsed = parseCidr(text);
  // Made only for messages: thousands of subnets are checked per plan.
  const path = () => `spec.subnets[${index}]`;
  if (!parsed.ok) {
    if (parsed.family === 'ipv6') {
      notes.push({ code: 'ipv6-subnet-skipped', message: `${path()}: ${clip(text)} is IPv6; only the IPv4 subnets are routed` });
      return null;
    }
    throw new Rejection('invalid-cidr', `${path()}: ${parsed.message}`);
  }
  const { cidr } = parsed;
  if (cidr.prefixLength === 0) throw new Rejection('default-route', `${path()}: "${clip(text)}" is a default route; a remote cluster may not claim every address`);
  if (cidr.prefixLength < ctx.minPrefixLength) {
    throw new Rejection('too-broad', `${path()}: ${parsed.text} is broader than the allowed /${ctx.minPrefixLength} (--min-prefix-length)`);
  }
  if (parsed.hostBitsSet) notes.push({ code: 'subnet-normalised', message: `${path()}: "${text}" has host bits set; using ${parsed.text}` });
  const reserved = RESERVED_RANGES.find((r) => overlaps(r.cidr, cidr));
  if (reserved) throw new Rejection('reserved-range', `${path()}: ${parsed.text} overlaps the ${reserved.label}`);
  const local = ctx.localCidrs.find((l) => overlaps(l.cidr, cidr));
  if (local) throw new Rejection('overlaps-local', `${path()}: ${parsed.text} overlaps the ${local.label}`);
  return { cidr, text: parsed.text };
}

/** Builds the context from configuration-style CIDR strings (already validated by config). */
export function endpointValidationContext(options: {
  localClusterId: string;
  podCidrs: readonly string[];
  serviceCidrs: readonly string[];
  minPrefixLength: number;
  maxSubnets: number;
}): EndpointValidationContext {
  const labelledList = (texts: readonly string[], what: string): LabelledCidr[] => texts.flatMap((text) => {
    const parsed = parseCidr(text);
    return parsed.ok ? [{ cidr: parsed.cidr, label: `${what} ${parsed.text}` }] : [];
  });
  return {
    localClusterId: options.localClusterId,
    localCidrs: [...labelledList(options.podCidrs, 'local pod CIDR'), ...labelledList(options.serviceCidrs, 'local service CIDR')],
    minPrefixLength: options.minPrefixLength,
    maxSubnets: options.maxSubnets,
  };
}
