/**
 * One DF-set ICMP echo of a given size, for `seaway diagnose`'s path MTU search: iputils `ping
 * -M do` (the native addon sends fixed-size echoes without DF; a raw socket of our own for this one
 * measurement is not worth its code). The packet leaves from `source` (the gateway's CNI address,
 * so it takes the tunnel); ping's MTU report (a router's "frag needed", or the local device's limit)
 * is passed on as a hint.
 */
import type { ProcessRunner } from './iptables.ts';

/** IPv4 header (20) + ICMP echo header (8): `ping -s` counts the payload only. */
export const ICMP_ECHO_OVERHEAD = 28;

export interface DfPingResult {
  replied: boolean;
  /** The MTU ping reported, if any ("mtu=1400", "mtu = 1400"). */
  mtuHint?: number;
}

/** Reads ping's MTU report out of its output. */
export function pingMtuHint(output: string): number | undefined {
  const m = /mtu\s*=\s*(\d{2,5})/i.exec(output);
  return m ? Number(m[1]) : undefined;
}

/** `size`: the whole IPv4 packet. Rejects only when ping cannot run at all (not installed, a bad source address). */
export async function dfPing(run: ProcessRunner, options: { source: string; target: string; size: number; timeoutMs: number }): Promise<DfPingResult> {
  const waitSeconds = Math.max(0.1, options.timeoutMs / 1000).toFixed(1);
  const result = await run('ping', [
    // Not -q: the per-packet lines carry a router's "Frag needed and DF set (mtu = N)".
    '-n', '-c', '1', '-W', waitSeconds, '-M', 'do', '-s', String(options.size - ICMP_ECHO_OVERHEAD), '-I', options.source, options.target,
  ], { allowFailure: true, timeoutMs: options.timeoutMs + 2000 });
  const output = `${result.stdout}\n${result.stderr}`;
  const hint = pingMtuHint(output);
  // 0: a reply; 1: none (or an ICMP error such as "frag needed"); 2 and more: ping itself failed.
  if (result.code === 0) return { replied: true, ...(hint !== undefined ? { mtuHint: hint } : {}) };
  if (result.code === 1) return { replied: false, ...(hint !== undefined ? { mtuHint: hint } : {}) };
  // "local error: message too long" is the device's limit: a size that does not fit, not a failure of ping.
  if (hint !== undefined) return { replied: false, mtuHint: hint };
  throw new Error(`ping exited ${result.code}: ${output.trim().split('\n').pop()}`);
}
