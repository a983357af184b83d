/**
 * What Submariner's two status kinds written by seaway (the gateway's `Gateway`, the route agent's
 * `RouteAgent`) have in common, built purely: an Endpoint spec as the CRDs require it, the object's
 * name made valid as Submariner does, messages clipped, and the write budget (when an object is
 * due to be written again).
 *
 * Neither CRD has a status subresource: both objects are written whole, so a write is a full
 * object and the budget is what keeps the API server's load and the objects' churn small.
 */
import { MAX_CLUSTER_ID_LENGTH, MAX_PLURAL_ADDRESSES, type EndpointSpec } from '../model/endpoint.ts';
import { isRecord } from '../model/compare.ts';
import { stringEntries } from '../model/object-meta.ts';
import { dns1123Subdomain } from '../model/names.ts';
import { validObjectName } from './local-endpoint-object.ts';
import { isDeepStrictEqual } from 'node:util';

/** Messages are clipped to this (the object must stay small; Events are held to the same 1 KiB). */
export const MAX_MESSAGE_LENGTH = 1024;

/** A connection's (Gateway) or remote Endpoint's (RouteAgent) state, as Submariner's types name it. */
export type ConnectionStatus = 'connected' | 'connecting' | 'error';

/** An Endpoint spec on the wire, as Submariner writes it (JSON names; empty optional fields left out). */
export interface EndpointSpecWire {
  cluster_id: string;
  cable_name: string;
  hostname: string;
  subnets: string[];
  private_ip: string;
  public_ip?: string;
  healthCheckIP?: string;
  nat_enabled: boolean;
  backend: string;
  backend_config?: Record<string, string>;
  privateIPs?: string[];
  publicIPs?: string[];
  healthCheckIPs?: string[];
}

export function clipMessage(text: string): string {
  return text.length > MAX_MESSAGE_LENGTH ? `${text.slice(0, MAX_MESSAGE_LENGTH - 3)}...` : text;
}

/** A string as given, anything else as ''. */
export const str = (value: unknown): string => (typeof value === 'string' ? value : '');
const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);

/** Why a cluster id cannot be written (the CRD's minLength 1, maxLength 63), or null. */
function clusterIdProblem(value: unknown): string | null {
  if (typeof value !== 'string') return 'cluster_id is not a string';
  if (value === '') return 'cluster_id is empty';
  if (value.length > MAX_CLUSTER_ID_LENGTH) return `cluster_id is ${value.length} characters long, more than the CRD's ${MAX_CLUSTER_ID_LENGTH}`;
  return null;
}

/**
 * An Endpoint spec as the wire has it, or why not. Read defensively (the values come from other
 * clusters through the broker, and a JavaScript caller may pass anything): a field of the wrong type
 * becomes empty, lists keep their strings, the dual-stack lists at most two entries. Only a
 * cluster_id the CRD refuses makes it unwritable.
 */
export function endpointSpecWire(spec: EndpointSpec): { ok: true; wire: EndpointSpecWire } | { ok: false; message: string } {
  if (!isRecord(spec)) return { ok: false, message: 'the Endpoint spec is not an object' };
  const problem = clusterIdProblem(spec.clusterId);
  if (problem !== null) return { ok: false, message: problem };
  const privateIps = strings(spec.privateIps);
  const publicIps = strings(spec.publicIps);
  const healthCheckIps = strings(spec.healthCheckIps);
  const backendConfig = isRecord(spec.backendConfig) ? stringEntries(spec.backendConfig) : {};
  const privateIp = str(spec.privateIp) || (privateIps[0] ?? '');
  const wire: EndpointSpecWire = {
    cluster_id: spec.clusterId,
    cable_name: str(spec.cableName),
    hostname: str(spec.hostname),
    subnets: strings(spec.subnets),
    private_ip: privateIp,
    ...(publicIps[0] !== undefined ? { public_ip: publicIps[0] } : {}),
    ...(healthCheckIps[0] !== undefined ? { healthCheckIP: healthCheckIps[0] } : {}),
    nat_enabled: spec.natEnabled === true,
    backend: str(spec.backend),
    ...(Object.keys(backendConfig).length > 0 ? { backend_config: backendConfig } : {}),
    ...(privateIps.length > 0 ? { privateIPs: privateIps.slice(0, MAX_PLURAL_ADDRESSES) } : {}),
    ...(publicIps.length > 0 ? { publicIPs: publicIps.slice(0, MAX_PLURAL_ADDRESSES) } : {}),
    ...(healthCheckIps.length > 0 ? { healthCheckIPs: healthCheckIps.slice(0, MAX_PLURAL_ADDRESSES) } : {}),
  };
  return { ok: true, wire };
}

/**
 * A status object's name for a host or node name (Submariner's EnsureValidName: lower case,
 * anything outside [a-z0-9.-] becomes '-'), or why there is none; `what` names the input in the message.
 */
export function statusObjectName(text: string, what: string): { ok: true; name: string } | { ok: false; message: string } {
  if (typeof text !== 'string' || text === '') return { ok: false, message: `the ${what} is empty` };
  const name = validObjectName(text);
  const problem = dns1123Subdomain(name);
  if (problem !== null) return { ok: false, message: `the ${what} "${text.slice(0, 80)}" gives the object name "${name.slice(0, 80)}", which ${problem}` };
  return { ok: true, name };
}

export interface WriteBudget {
  /** An unchanged object is rewritten (refreshed) this long after the last write. */
  refreshMs: number;
  /** A changed object waits at least this long after the last write (default 0: at once). */
  minIntervalMs?: number;
}

/**
 * When `next` is due to be written (pure; unix ms, at most `nowMs` when due now): at once when nothing
 * was written yet or the clock went back since the last write (the count restarts); `minIntervalMs`
 * after the last write when its content differs from the last written object (`same` judges that);
 * otherwise `refreshMs` after the last write. Never later than the refresh.
 */
export function writeDueAt<T>(
  previous: T | null, next: T, lastWriteMs: number, nowMs: number, budget: WriteBudget, same: (a: T, b: T) => boolean = isDeepStrictEqual,
): number {
  if (previous !== null && nowMs >= lastWriteMs && same(previous, next)) return lastWriteMs + budget.refreshMs;
  return changeDueAt(previous, lastWriteMs, nowMs, budget);
}

/** When an object that differs from `previous` (the last written) may be written (unix ms; at most nowMs: now). */
export function changeDueAt(previous: unknown, lastWriteMs: number, nowMs: number, budget: WriteBudget): number {
  if (previous === null || nowMs < lastWriteMs) return nowMs;
  return Math.min(lastWriteMs + budget.refreshMs, lastWriteMs + (budget.minIntervalMs ?? 0));
}

/** Whether `next` is due now (writeDueAt at or before nowMs). */
export function dueForWrite<T>(
  previous: T | null, next: T, lastWriteMs: number, nowMs: number, budget: WriteBudget, same: (a: T, b: T) => boolean = isDeepStrictEqual,
): boolean {
  return writeDueAt(previous, next, lastWriteMs, nowMs, budget, same) <= nowMs;
}
