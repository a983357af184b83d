/**
 * Which device the kernel sends a packet from `source` to `target` out of, with its policy rules
 * applied (`ip -j route get TARGET from SOURCE`): for `seaway diagnose`, the cable device traffic to
 * a remote health-check address takes, whose MTU the MSS clamp goes by. iproute2 does the
 * RTM_GETROUTE request with a source address for us.
 */
import type { ProcessRunner } from './iptables.ts';

export interface RouteLookup {
  dev: string;
  /** A cached path MTU for the target, when the kernel holds one. */
  mtu?: number;
}

/** Parses `ip -j route get` output; null when it names no device. */
export function parseRouteGet(text: string): RouteLookup | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  const first = Array.isArray(parsed) ? parsed[0] : undefined;
  if (typeof first !== 'object' || first === null) return null;
  const route = first as Record<string, unknown>;
  if (typeof route.dev !== 'string' || route.dev === '') return null;
  const metrics = Array.isArray(route.metrics) ? route.metrics : [];
  const mtu = metrics.map((m) => (typeof m === 'object' && m !== null ? (m as Record<string, unknown>).mtu : undefined)).find((v) => typeof v === 'number');
  return { dev: route.dev, ...(typeof mtu === 'number' ? { mtu } : {}) };
}

export async function routeLookup(run: ProcessRunner, target: string, source: string, timeoutMs: number): Promise<RouteLookup | null> {
  const result = await run('ip', ['-j', 'route', 'get', target, 'from', source], { allowFailure: true, timeoutMs });
  return result.code === 0 ? parseRouteGet(result.stdout) : null;
}
