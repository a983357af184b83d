import { spawn } from 'node:child_process';
import { run, type ExecOptions, type ExecResult } from '../../src/kernel/exec.ts';
import { createNetns, type TestNetns } from './netns.ts';
import { requireTools } from './prereq.ts';
import { within } from './wait.ts';

/**
 * Two clusters joined by a WAN, built from throwaway network namespaces:
 *
 *   pod1 (10.1.1.2) ── gw1 (10.1.1.1 | 198.18.0.1) ══ WAN ══ gw2 (198.18.0.2 | 10.2.1.1) ── pod2 (10.2.1.2)
 *
 * Every link is made inside the namespaces (never in the root one). The gateways forward, but
 * nothing routes one cluster's addresses to the other: a tunnel under test has to provide that.
 */

/** Interface names, the same in both halves. */
export const WAN_IFACE = 'wan0';
/** The gateway's side of the veth towards its pod. */
export const LAN_IFACE = 'lan0';
/** The pod's side of that veth. */
export const POD_IFACE = 'eth0';
/** Holds a gateway's extra "service" addresses (loopback: this kernel may lack the dummy link type). */
export const SERVICE_IFACE = 'lo';
export const WAN_CIDR = '198.18.0.0/24';

export interface ClusterSide {
  /** Name of the gateway's network namespace. */
  gateway: string;
  /** Name of the pod's network namespace. */
  pod: string;
  /** The gateway's WAN address (198.18.0.1 / 198.18.0.2); also its "private IP" as Submariner says. */
  wanAddress: string;
  /** The gateway's address towards its pod (10.1.1.1 / 10.2.1.1). */
  lanAddress: string;
  podAddress: string;
  /** The cluster's whole range (10.1.0.0/16 / 10.2.0.0/16): what a tunnel carries. */
  clusterCidr: string;
  /** Extra addresses on the gateway's loopback, without prefix length. */
  serviceAddresses: string[];
}

export interface GatewayPairOptions {
  /** Extra "service" addresses (with prefix length, e.g. '10.1.128.1/32') put on gw1's loopback. */
  gw1ServiceAddresses?: string[];
  /** Same for gw2 (e.g. '10.2.128.1/32'). */
  gw2ServiceAddresses?: string[];
}

export interface GatewayPair {
  gw1: ClusterSide;
  gw2: ClusterSide;
  /** All four namespace names. */
  names: { gw1: string; gw2: string; pod1: string; pod2: string };
  /** Runs a program inside one of the pair's namespaces (by name). */
  exec(ns: string, file: string, args: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  /** Kills every process in the four namespaces and deletes them; safe to call twice. */
  destroy(): Promise<void>;
}

function bare(cidr: string): string {
  return cidr.split('/')[0]!;
}

export async function createGatewayPair(options: GatewayPairOptions = {}): Promise<GatewayPair> {
  requireTools('ip', 'sysctl');
  const created: TestNetns[] = [];
  const destroyAll = async () => {
    // Pods first: nothing in a gateway should outlive what it serves, but order does not matter for correctness.
    for (const ns of [...created].reverse()) await ns.destroy();
  };
  try {
    for (const label of ['gw1', 'gw2', 'pod1', 'pod2']) created.push(await createNetns(label));
    const [gw1, gw2, pod1, pod2] = created as [TestNetns, TestNetns, TestNetns, TestNetns];
    const ip = (ns: TestNetns, args: string[]) => run('ip', ['-n', ns.name, ...args]);

    // WAN: the veth is created in gw1 with its peer created directly in gw2.
    await ip(gw1, ['link', 'add', WAN_IFACE, 'type', 'veth', 'peer', 'name', WAN_IFACE, 'netns', gw2.name]);
    await ip(gw1, ['addr', 'add', '198.18.0.1/24', 'dev', WAN_IFACE]);
    await ip(gw2, ['addr', 'add', '198.18.0.2/24', 'dev', WAN_IFACE]);

    const sides: Array<[TestNetns, TestNetns, string, string, string[] | undefined]> = [
      [gw1, pod1, '10.1.1.1', '10.1.1.2', options.gw1ServiceAddresses],
      [gw2, pod2, '10.2.1.1', '10.2.1.2', options.gw2ServiceAddresses],
    ];
    for (const [gw, pod, gwLan, podAddress, services] of sides) {
      await ip(gw, ['link', 'add', LAN_IFACE, 'type', 'veth', 'peer', 'name', POD_IFACE, 'netns', pod.name]);
      await ip(gw, ['addr', 'add', `${gwLan}/24`, 'dev', LAN_IFACE]);
      await ip(pod, ['addr', 'add', `${podAddress}/24`, 'dev', POD_IFACE]);
      await ip(gw, ['link', 'set', WAN_IFACE, 'up']);
      await ip(gw, ['link', 'set', LAN_IFACE, 'up']);
      await ip(pod, ['link', 'set', POD_IFACE, 'up']);
      await ip(pod, ['route', 'add', 'default', 'via', gwLan, 'dev', POD_IFACE]);
      for (const address of services ?? []) await ip(gw, ['addr', 'add', address, 'dev', SERVICE_IFACE]);
      // sysctl inside the namespace: net.* is per network namespace, the root one is untouched.
      await gw.exec('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
    }

    let destroyed = false;
    return {
      gw1: {
        gateway: gw1.name, pod: pod1.name, wanAddress: '198.18.0.1', lanAddress: '10.1.1.1', podAddress: '10.1.1.2',
        clusterCidr: '10.1.0.0/16', serviceAddresses: (options.gw1ServiceAddresses ?? []).map(bare),
      },
      gw2: {
        gateway: gw2.name, pod: pod2.name, wanAddress: '198.18.0.2', lanAddress: '10.2.1.1', podAddress: '10.2.1.2',
        clusterCidr: '10.2.0.0/16', serviceAddresses: (options.gw2ServiceAddresses ?? []).map(bare),
      },
      names: { gw1: gw1.name, gw2: gw2.name, pod1: pod1.name, pod2: pod2.name },
      exec(ns, file, args, execOptions) {
        if (!created.some((n) => n.name === ns)) return Promise.reject(new Error(`${ns} is not one of this gateway pair's namespaces`));
        return run('ip', ['netns', 'exec', ns, file, ...args], execOptions);
      },
      async destroy() {
        if (destroyed) return;
        destroyed = true;
        await destroyAll();
      },
    };
  } catch (error) {
    await destroyAll();
    throw error;
  }
}

export interface PingResult {
  transmitted: number;
  received: number;
  /** ICMP errors reported (e.g. "Destination Net Unreachable" from a gateway without a route). */
  errors: number;
  /** ping's exit code: 0 some replies, 1 none, 2 other error (then the counts may be 0 without a summary). */
  code: number;
  output: string;
}

/** Parses iputils' summary "N packets transmitted, M received, +E errors, ...". */
export function parsePingSummary(output: string): { transmitted: number; received: number; errors: number } | undefined {
  const match = /(\d+) packets transmitted, (\d+) (?:packets )?received(?:, \+(\d+) errors)?/.exec(output);
  if (!match) return undefined;
  return { transmitted: Number(match[1]), received: Number(match[2]), errors: Number(match[3] ?? 0) };
}

/** Pings from inside a namespace; resolves with the counts (never rejects because replies are missing). */
export async function ping(
  fromNs: string,
  to: string,
  { count = 3, intervalS = 0.2, timeoutS = 1 }: { count?: number; intervalS?: number; timeoutS?: number } = {},
): Promise<PingResult> {
  const args = ['netns', 'exec', fromNs, 'ping', '-n', '-c', String(count), '-i', String(intervalS), '-W', String(timeoutS), to];
  const result = await run('ip', args, { allowFailure: true, timeoutMs: (count * intervalS + timeoutS) * 1000 + 10_000 });
  const output = result.stdout + result.stderr;
  const summary = parsePingSummary(output);
  return { transmitted: summary?.transmitted ?? 0, received: summary?.received ?? 0, errors: summary?.errors ?? 0, code: result.code, output };
}

export interface ContinuousPingReport {
  transmitted: number;
  received: number;
  /** ICMP errors (e.g. "Destination Net Unreachable" while a gateway had no route). */
  errors: number;
  /** Largest interval between two consecutive replies, in seconds (0 with fewer than two replies). */
  maxGapS: number;
  /** Time from the start of the ping to its first reply, and from its last reply to the stop, in seconds. */
  leadingGapS: number;
  trailingGapS: number;
  /** Reply timestamps (epoch seconds, from `ping -D`). */
  replyTimes: number[];
  /** Sequence numbers ping reported as unanswered before sending the next (`ping -O`): a reply slower than the interval is one. */
  unanswered: number[];
  /** Of those, the ones whose reply never came before the stop: lost, not late. */
  lost: number[];
  output: string;
}

export interface ContinuousPing {
  /** Replies seen so far (live, from the output). */
  readonly replies: number;
  /** Sequences reported unanswered so far. */
  readonly unanswered: number;
  /** Interrupts ping (SIGINT, by pid), waits for its summary and reports. */
  stop(): Promise<ContinuousPingReport>;
}

const REPLY_LINE = /^\[(\d+\.\d+)\] \d+ bytes from [^:]+: icmp_seq=(\d+)/;
const NO_ANSWER_LINE = /^\[(\d+\.\d+)\] no answer yet for icmp_seq=(\d+)/;

/** Parses `ping -D -O` output into reply times and unanswered sequence numbers. */
export function parseTimestampedPing(output: string): { replyTimes: number[]; unanswered: number[]; lost: number[] } {
  const replyTimes: number[] = [];
  const unanswered: number[] = [];
  const replied = new Set<number>();
  for (const line of output.split('\n')) {
    const reply = REPLY_LINE.exec(line);
    if (reply) { replyTimes.push(Number(reply[1])); replied.add(Number(reply[2])); continue; }
    const missing = NO_ANSWER_LINE.exec(line);
    if (missing) unanswered.push(Number(missing[2]));
  }
  return { replyTimes, unanswered, lost: unanswered.filter((seq) => !replied.has(seq)) };
}

/**
 * Pings in the background at a short interval (default 50 ms) to measure an outage: on stop,
 * reports the counts and the largest gap between replies.
 */
export function continuousPing(fromNs: string, to: string, { intervalS = 0.05, timeoutS = 1 }: { intervalS?: number; timeoutS?: number } = {}): ContinuousPing {
  const startedAt = Date.now() / 1000;
  // `ip netns exec` execs ping in place, so the child's pid is ping's.
  const child = spawn('ip', ['netns', 'exec', fromNs, 'ping', '-n', '-D', '-O', '-i', String(intervalS), '-W', String(timeoutS), to], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let replies = 0;
  let unanswered = 0;
  let partial = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    output += chunk;
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (REPLY_LINE.test(line)) replies++;
      else if (NO_ANSWER_LINE.test(line)) unanswered++;
    }
  });
  child.stderr.on('data', (chunk: string) => { output += chunk; });
  const exited = new Promise<void>((resolve) => {
    child.once('close', () => resolve());
    child.once('error', (error) => { output += `\n${error.message}`; resolve(); });
  });
  let report: Promise<ContinuousPingReport> | undefined;
  return {
    get replies() { return replies; },
    get unanswered() { return unanswered; },
    stop() {
      report ??= (async () => {
        const stoppedAt = Date.now() / 1000;
        if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
          try { process.kill(child.pid, 'SIGINT'); } catch { /* already gone */ }
        }
        try {
          await within(exited, 5000, 'ping to print its summary after SIGINT');
        } catch (error) {
          if (child.pid !== undefined) try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
          throw error;
        }
        const summary = parsePingSummary(output);
        const parsed = parseTimestampedPing(output);
        const times = parsed.replyTimes;
        let maxGapS = 0;
        for (let i = 1; i < times.length; i++) maxGapS = Math.max(maxGapS, times[i]! - times[i - 1]!);
        return {
          transmitted: summary?.transmitted ?? 0,
          received: summary?.received ?? times.length,
          errors: summary?.errors ?? 0,
          maxGapS,
          leadingGapS: times.length > 0 ? Math.max(0, times[0]! - startedAt) : stoppedAt - startedAt,
          trailingGapS: times.length > 0 ? Math.max(0, stoppedAt - times[times.length - 1]!) : stoppedAt - startedAt,
          replyTimes: times,
          unanswered: parsed.unanswered,
          lost: parsed.lost,
          output,
        };
      })();
      return report;
    },
  };
}
