/**
 * Health checks that prove a cable's data path (pure): an ICMP echo through the tunnel to each
 * remote gateway's `healthCheckIP`, one per interval, and a verdict from the answers. "Security
 * associations up, no reply" is never healthy: only a reply is. Submariner's figures by default
 * (one probe a second, five lost in a row make the connection an error), with one addition: the
 * node's whole probe rate is bounded, so a thousand remote clusters stretch the interval instead of
 * sending a thousand probes a second.
 */

import { containsAddress, parseCidr, parseIpv4 } from '../model/cidr.ts';
import type { RttSummary } from '../model/rtt-stats.ts';

/**
 * A remote's address to health-check: its first healthCheckIP, only when it lies in one of the
 * remote's own subnets (CIDR texts). Anything else would let one Endpoint aim this cluster's probes
 * (or exempt a source from the echo limit) at an address of its choosing.
 */
export function ownHealthCheckIp(healthCheckIps: readonly string[], subnets: readonly string[]): string | undefined {
  const first = healthCheckIps[0];
  const address = first === undefined ? null : parseIpv4(first);
  if (address === null || !address.ok) return undefined;
  const own = subnets.some((text) => {
    const cidr = parseCidr(text);
    return cidr.ok && containsAddress(cidr.cidr, address.address);
  });
  return own ? first : undefined;
}

export interface HealthSettings {
  /** Between two probes to one target, at most (ms). */
  intervalMs: number;
  /** Probes lost in a row that make a target unhealthy. */
  maxLoss: number;
  /** Probes this node sends per second at most, over all targets. */
  maxProbesPerSecond: number;
}

/** Submariner's pinger: one probe a second, five lost make an error; a budget of 100 probes a second. */
export const DEFAULT_HEALTH_SETTINGS: Readonly<HealthSettings> = { intervalMs: 1000, maxLoss: 5, maxProbesPerSecond: 100 };

/** A reason the settings are unusable, or null. */
export function healthSettingsProblem(settings: HealthSettings): string | null {
  if (!Number.isInteger(settings.intervalMs) || settings.intervalMs < 10) return `the health-check interval must be a whole number of ms, at least 10, got ${settings.intervalMs}`;
  if (!Number.isInteger(settings.maxLoss) || settings.maxLoss < 1) return `the health check's lost-probe limit must be a positive whole number, got ${settings.maxLoss}`;
  if (!Number.isFinite(settings.maxProbesPerSecond) || settings.maxProbesPerSecond <= 0) return `the health check's probe budget must be positive, got ${settings.maxProbesPerSecond}`;
  return null;
}

/** The interval between probes to one target with this many targets: the configured one, stretched so the node stays within its budget. */
export function probeIntervalMs(targets: number, settings: HealthSettings): number {
  return Math.max(settings.intervalMs, Math.ceil((Math.max(1, targets) * 1000) / settings.maxProbesPerSecond));
}

export type HealthVerdict = 'unknown' | 'healthy' | 'unhealthy';

/** What the health checks to one target found, as the status objects read it. */
export interface TargetHealth {
  ip: string;
  verdict: HealthVerdict;
  lostInARow: number;
  maxLoss: number;
  rtt: RttSummary | null;
  /** Why probing cannot happen at all (no local address to probe from, the socket refused), if so. */
  problem?: string;
}

/** One target's probing as data. */
export interface TargetProbes {
  ip: string;
  /** Probes sent and not answered yet: seq -> when sent (ms). Lost once older than the interval. */
  outstanding: ReadonlyMap<number, number>;
  lostInARow: number;
  verdict: HealthVerdict;
  /** When the last reply came (ms), if one has. */
  lastReplyAtMs?: number;
}

export const newTarget = (ip: string): TargetProbes => ({ ip, outstanding: new Map(), lostInARow: 0, verdict: 'unknown' });

export function probeSent(target: TargetProbes, seq: number, nowMs: number): TargetProbes {
  return { ...target, outstanding: new Map(target.outstanding).set(seq, nowMs) };
}

/** A reply to one of its probes: healthy again, losses forgotten. A reply to a probe already counted lost still proves the path. */
export function replyReceived(target: TargetProbes, seq: number, nowMs: number): TargetProbes {
  const outstanding = new Map(target.outstanding);
  outstanding.delete(seq);
  return { ...target, outstanding, lostInARow: 0, verdict: 'healthy', lastReplyAtMs: nowMs };
}

/** Probes unanswered for longer than `timeoutMs` count lost; maxLoss of them in a row make the target unhealthy. */
export function expireProbes(target: TargetProbes, nowMs: number, timeoutMs: number, maxLoss: number): TargetProbes {
  // The checker asks only for a target whose oldest probe has expired; a target with nothing
  // expired is returned as it is, with no Map made.
  let lost = 0;
  target.outstanding.forEach((sentAt) => { if (nowMs - sentAt > timeoutMs) lost += 1; });
  if (lost === 0) return target;
  const outstanding = new Map<number, number>();
  for (const [seq, sentAt] of target.outstanding) if (nowMs - sentAt <= timeoutMs) outstanding.set(seq, sentAt);
  const lostInARow = target.lostInARow + lost;
  return { ...target, outstanding, lostInARow, verdict: lostInARow >= maxLoss ? 'unhealthy' : target.verdict };
}
