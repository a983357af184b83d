/**
 * Submariner's Cluster (submariner.io/v1) spec. The route agent needs little from it; it is validated so
 * status and diagnostics can report a broken object instead of tripping over it.
 */
import { describeType } from './cidr.ts';

export interface ClusterSpec {
  clusterId: string;
  colorCodes: string[];
  serviceCidr: string[];
  clusterCidr: string[];
  globalCidr: string[];
}

export type ClusterValidation = { ok: true; cluster: ClusterSpec } | { ok: false; reason: 'malformed'; message: string };

export function validateCluster(raw: unknown): ClusterValidation {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, reason: 'malformed', message: `spec: expected an object, got ${describeType(raw)}` };
  }
  const spec = raw as Record<string, unknown>;
  const clusterId = spec['cluster_id'];
  if (typeof clusterId !== 'string' || clusterId === '') {
    return { ok: false, reason: 'malformed', message: clusterId === undefined ? 'spec.cluster_id: missing' : `spec.cluster_id: expected a non-empty string, got ${describeType(clusterId)}` };
  }
  const lists: Record<'color_codes' | 'service_cidr' | 'cluster_cidr' | 'global_cidr', string[]> = {
    color_codes: [], service_cidr: [], cluster_cidr: [], global_cidr: [],
  };
  for (const field of Object.keys(lists) as Array<keyof typeof lists>) {
    const value = spec[field];
    if (value === undefined || value === null) continue;
    if (!Array.isArray(value)) return { ok: false, reason: 'malformed', message: `spec.${field}: expected an array of strings, got ${describeType(value)}` };
    const bad = value.findIndex((item) => typeof item !== 'string');
    if (bad >= 0) return { ok: false, reason: 'malformed', message: `spec.${field}[${bad}]: expected a string, got ${describeType(value[bad])}` };
    lists[field] = [...(value as string[])];
  }
  return {
    ok: true,
    cluster: {
      clusterId, colorCodes: lists.color_codes, serviceCidr: lists.service_cidr, clusterCidr: lists.cluster_cidr, globalCidr: lists.global_cidr,
    },
  };
}
