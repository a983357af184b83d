/**
 * The active gateway's health checks: ICMP echo through each cable to the remote gateway's
 * `healthCheckIP`, from this gateway's own health-check address (so the probe takes the tunnel,
 * and the reply comes back through it), over one raw socket for every target (the native addon,
 * kernel receive timestamps). Probes are spread evenly over the interval rather than sent in a
 * burst, and the node's probe budget stretches the interval when there are many remotes. What the
 * answers mean is plan/health-probes.ts; this file sends, matches and keeps the RTT windows.
 */
import { randomInt } from 'node:crypto';
import { errorText } from '../model/error-text.ts';
import { RttWindow } from '../model/rtt-stats.ts';
import type { EchoReply, IcmpSocket } from '../kernel/icmp-socket.ts';
import {
  expireProbes, newTarget, probeIntervalMs, probeSent, replyReceived, type HealthSettings, type TargetHealth, type TargetProbes,
} from '../plan/health-probes.ts';
import type { Logger } from '../telemetry/logger.ts';

export type { TargetHealth };

export interface HealthTarget {
  /** The cable name. */
  key: string;
  /** The remote's healthCheckIP. */
  ip: string;
}


export interface HealthCheckerOptions {
  /** Opens the raw socket bound to the local health-check address (kernel/icmp-socket.ts). */
  open(source: string, onReplies: (batch: EchoReply[]) => void, onError: (error: Error) => void): IcmpSocket;
  /** This gateway's health-check address now (its CNI interface's), if it has one. */
  source(): Promise<string | undefined>;
  settings: HealthSettings;
  log: Logger;
  /** A target's verdict changed: the owner re-renders its status. */
  onChange?(): void;
  /** A fresh ICMP identifier (random by default; tests fix them). */
  newId?: () => number;
  /** A monotonic clock in ms (performance.now by default: a wall clock stepped back would hold every probe behind one stamped in its future). */
  now?: () => number;
}

/** The smallest gap between two probes of the node, whatever the targets (ms). */
const MIN_TICK_MS = 5;

export class HealthChecker {
  readonly #options: HealthCheckerOptions;
  readonly #now: () => number;
  /**
   * Each target's ICMP identifier, a new random one whenever it turns unhealthy: conntrack keys an
   * echo by (source, destination, identifier), so probes that left before the cable's routes existed
   * (out of the default route, masqueraded by the CNI) would keep that NAT entry alive, every later
   * probe leaving with the node's address and its reply lost, for as long as probing goes on (seen
   * in the lab). A new identifier is a new conntrack entry, routed as things are now.
   */
  readonly #ids = new Map<string, number>();
  readonly #newId: () => number;
  #targets = new Map<string, TargetProbes>();
  readonly #windows = new Map<string, RttWindow>();
  /** seq -> target key of the probes outstanding. */
  readonly #bySeq = new Map<number, string>();
  readonly #lastSent = new Map<string, number>();
  #seq = 0;
  #order: string[] = [];
  /** The targets as setTargets was last given them. */
  #given: readonly HealthTarget[] = [];
  #next = 0;
  #socket: { source: string; socket: IcmpSocket } | undefined;
  #problem: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #tickMs = 0;
  #busy = false;
  #closed = false;

  constructor(options: HealthCheckerOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    this.#newId = options.newId ?? (() => randomInt(0, 0x10000));
  }

  #idOf(key: string): number {
    let id = this.#ids.get(key);
    if (id === undefined) {
      id = this.#newId();
      this.#ids.set(key, id);
    }
    return id;
  }

  /** The cables to probe now: a new target starts unknown, one whose IP changed starts over, one gone is forgotten. */
  setTargets(targets: readonly HealthTarget[]): void {
    if (this.#closed) return;
    // The same list as last time (every pass gives it, 1,000 targets on a route agent): nothing to make again.
    const given = this.#given;
    if (targets.length === given.length && targets.every(({ key, ip }, i) => given[i]!.key === key && given[i]!.ip === ip)) return;
    this.#given = targets.map(({ key, ip }) => ({ key, ip }));
    const next = new Map<string, TargetProbes>();
    for (const { key, ip } of targets) {
      const had = this.#targets.get(key);
      if (had && had.ip === ip) {
        next.set(key, had);
      } else {
        next.set(key, newTarget(ip));
        this.#windows.set(key, new RttWindow());
      }
    }
    for (const key of this.#windows.keys()) if (!next.has(key)) { this.#windows.delete(key); this.#lastSent.delete(key); this.#ids.delete(key); }
    for (const [seq, key] of this.#bySeq) if (next.get(key) !== this.#targets.get(key) || !next.has(key)) this.#bySeq.delete(seq);
    this.#targets = next;
    this.#order = [...next.keys()].sort();
    this.#schedule();
  }

  health(key: string): TargetHealth | undefined {
    const target = this.#targets.get(key);
    if (!target) return undefined;
    return {
      ip: target.ip, verdict: target.verdict, lostInARow: target.lostInARow, maxLoss: this.#options.settings.maxLoss,
      rtt: this.#windows.get(key)?.summary() ?? null,
      ...(this.#problem !== undefined ? { problem: this.#problem } : {}),
    };
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#socket?.socket.close();
    this.#socket = undefined;
  }

  /** One tick every interval / targets: each target gets one probe per interval, spread out. */
  #schedule(): void {
    const targets = this.#order.length;
    const tickMs = targets === 0 ? 0 : Math.max(MIN_TICK_MS, Math.floor(probeIntervalMs(targets, this.#options.settings) / targets));
    if (tickMs === this.#tickMs) return;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#tickMs = tickMs;
    if (tickMs === 0) return;
    this.#timer = setInterval(() => { void this.#tick(); }, tickMs);
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    if (this.#busy || this.#closed) return;
    this.#busy = true;
    try {
      const now = this.#now();
      const interval = probeIntervalMs(this.#order.length, this.#options.settings);
      this.#expire(now, interval);
      const socket = await this.#socketNow();
      if (!socket || this.#order.length === 0) return;
      const key = this.#order[this.#next % this.#order.length]!;
      this.#next = (this.#next + 1) % this.#order.length;
      const target = this.#targets.get(key);
      if (!target || now - (this.#lastSent.get(key) ?? -Infinity) < interval - this.#tickMs) return;
      const seq = this.#seq;
      this.#seq = (this.#seq + 1) & 0xffff;
      this.#lastSent.set(key, now);
      // Deleted first so that a sequence number come round again goes to the end: #expire relies on send order.
      this.#bySeq.delete(seq);
      this.#bySeq.set(seq, key);
      this.#targets.set(key, probeSent(target, seq, now));
      try {
        socket.send(target.ip, this.#idOf(key), seq);
      } catch (error) {
        // No route (the cable is down): the probe is lost like any other, and says so once.
        this.#options.log.debug({ target: key, ip: target.ip, err: errorText(error) }, 'health probe not sent');
      }
    } finally {
      this.#busy = false;
    }
  }

  /**
   * Probes older than the interval are lost; a changed verdict wakes the owner. #bySeq holds the
   * probes outstanding in the order they were sent, by a monotonic clock, with one interval for
   * all: those expired are at its front. A tick looks at those and the first that is not, rather
   * than at every target (a route agent's 1,000 at a tick every 500 ms).
   */
  #expire(now: number, interval: number): void {
    let changed = false;
    for (const [seq, key] of this.#bySeq) {
      const target = this.#targets.get(key);
      const sentAt = target?.outstanding.get(seq);
      if (target === undefined || sentAt === undefined) {
        this.#bySeq.delete(seq);
        continue;
      }
      if (now - sentAt <= interval) break;
      const next = expireProbes(target, now, interval, this.#options.settings.maxLoss);
      for (const gone of target.outstanding.keys()) if (!next.outstanding.has(gone)) this.#bySeq.delete(gone);
      if (next.verdict !== target.verdict) {
        changed = true;
        this.#options.log.warn({ target: key, ip: target.ip, lostInARow: next.lostInARow }, 'health check: no reply through the cable');
      }
      // Every maxLoss lost in a row: probe under a new identifier (see #ids).
      if (next.lostInARow > target.lostInARow && Math.floor(next.lostInARow / this.#options.settings.maxLoss) > Math.floor(target.lostInARow / this.#options.settings.maxLoss)) this.#ids.delete(key);
      this.#targets.set(key, next);
    }
    if (changed) this.#options.onChange?.();
  }

  #onReplies(batch: EchoReply[]): void {
    let changed = false;
    for (const reply of batch) {
      const key = this.#bySeq.get(reply.seq);
      const target = key === undefined ? undefined : this.#targets.get(key);
      if (key === undefined || !target || reply.src !== target.ip || reply.id !== this.#ids.get(key)) continue;
      this.#bySeq.delete(reply.seq);
      this.#windows.get(key)?.add(reply.rttNs);
      const next = replyReceived(target, reply.seq, this.#now());
      if (next.verdict !== target.verdict) {
        changed = true;
        if (target.verdict === 'unhealthy') this.#options.log.info({ target: key, ip: target.ip }, 'health check: replies through the cable again');
      }
      this.#targets.set(key, next);
    }
    if (changed) this.#options.onChange?.();
  }

  /** The socket bound to the health-check address now (re-opened when the address changed), or undefined with the problem kept. */
  async #socketNow(): Promise<IcmpSocket | undefined> {
    const source = await this.#options.source().catch(() => undefined);
    if (this.#closed) return undefined;
    if (source === undefined) {
      this.#problem = 'this gateway has no address in the local pod ranges to send health checks from';
      return undefined;
    }
    if (this.#socket?.source === source) return this.#socket.socket;
    this.#socket?.socket.close();
    this.#socket = undefined;
    try {
      const socket = this.#options.open(source, (batch) => this.#onReplies(batch), (error) => this.#options.log.warn({ err: errorText(error) }, 'health check socket error'));
      socket.unref();
      this.#socket = { source, socket };
      this.#problem = undefined;
      return socket;
    } catch (error) {
      this.#problem = `the health-check socket cannot be opened from ${source}: ${errorText(error)}`;
      return undefined;
    }
  }
}
