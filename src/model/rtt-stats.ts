/**
 * RTT statistics of one health-check target over its last N samples, and their rendering as
 * Submariner's `latencyRTT` (last, min, average, max, stdDev as Go `time.Duration` strings), which
 * the Gateway and RouteAgent status objects carry and `subctl show connections` prints.
 *
 * Submariner (pkg/pinger/statistics.go) keeps 1000 samples, but restarts its window from the last
 * two samples when it fills and keeps min and max for the pinger's whole life, computing mean and
 * standard deviation incrementally in truncating integer arithmetic. Here the window really slides
 * (the last N samples, min and max included) and the figures are computed exactly from it when
 * asked, which costs O(N) per summary (a status write every few seconds) and nothing per sample
 * beyond a ring write. Like Submariner: the population standard deviation, and whole nanoseconds
 * in the strings (fractions truncated, as Go's integer division does).
 */

/** Samples Submariner's pinger keeps. */
export const SUBMARINER_RTT_WINDOW = 1000;

export interface RttSummary {
  /** Samples the figures are over (at most the window). */
  samples: number;
  lastNs: number;
  minNs: number;
  averageNs: number;
  maxNs: number;
  /** Population standard deviation. */
  stdDevNs: number;
}

/** Submariner's LatencyRTTSpec. */
export interface LatencyRtt {
  last: string;
  min: string;
  average: string;
  max: string;
  stdDev: string;
}

/** The last `capacity` RTT samples of one target. */
export class RttWindow {
  readonly capacity: number;
  /**
   * Grows (doubling from 8) as samples come, up to capacity: a route agent has a window per remote
   * cluster, and a full one of 1,000 from the start would be 8 KB each for targets that never answer.
   */
  #ring = new Float64Array(0);
  #next = 0;
  #count = 0;

  constructor(capacity: number = SUBMARINER_RTT_WINDOW) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`an RTT window holds a positive whole number of samples, got ${capacity}`);
    this.capacity = capacity;
  }

  /** Samples held. */
  get size(): number {
    return this.#count;
  }

  /** Samples there is room for now (at most capacity). */
  get allocated(): number {
    return this.#ring.length;
  }

  /**
   * Adds one RTT in nanoseconds, replacing the oldest once full. Refuses (returns false, keeps
   * nothing) a value that is not a positive finite number: a realtime clock step between send and
   * receive yields a negative RTT, and one bad sample would poison min and the deviation for N probes.
   */
  add(rttNs: number): boolean {
    if (typeof rttNs !== 'number' || !Number.isFinite(rttNs) || rttNs <= 0) return false;
    // Until the ring first wraps the samples are at [0, count): growing copies them as they are.
    if (this.#next === this.#ring.length && this.#ring.length < this.capacity) {
      const grown = new Float64Array(Math.min(this.capacity, Math.max(8, this.#ring.length * 2)));
      grown.set(this.#ring);
      this.#ring = grown;
    }
    this.#ring[this.#next] = rttNs;
    this.#next = (this.#next + 1) % this.capacity;
    if (this.#count < this.capacity) this.#count++;
    return true;
  }

  /** Forgets every sample (a target whose address changed is a new target). */
  clear(): void {
    this.#next = 0;
    this.#count = 0;
  }

  /** The figures over the samples held, or null when there are none. */
  summary(): RttSummary | null {
    const n = this.#count;
    if (n === 0) return null;
    // The oldest sample sits at #next once the ring has wrapped, at 0 before.
    const start = n < this.capacity ? 0 : this.#next;
    let min = Number.POSITIVE_INFINITY;
    let max = 0;
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const x = this.#ring[(start + i) % this.capacity]!;
      if (x < min) min = x;
      if (x > max) max = x;
      sum += x;
    }
    const mean = sum / n;
    // Two passes: the one-pass sum of squares loses the deviation in rounding when it is small
    // next to the mean (tens of µs of jitter on a 100 ms path).
    let squares = 0;
    for (let i = 0; i < n; i++) {
      const d = this.#ring[(start + i) % this.capacity]! - mean;
      squares += d * d;
    }
    return {
      samples: n,
      lastNs: this.#ring[(this.#next + this.capacity - 1) % this.capacity]!,
      minNs: min,
      averageNs: mean,
      maxNs: max,
      stdDevNs: Math.sqrt(squares / n),
    };
  }
}

/** The summary as Submariner writes it: whole nanoseconds (truncated) as Go duration strings. */
export function latencyRtt(summary: RttSummary): LatencyRtt {
  return {
    last: goDuration(summary.lastNs),
    min: goDuration(summary.minNs),
    average: goDuration(summary.averageNs),
    max: goDuration(summary.maxNs),
    stdDev: goDuration(summary.stdDevNs),
  };
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const NS_PER_SECOND = 1_000_000_000n;

/**
 * A duration in nanoseconds exactly as Go's `time.Duration.String()` writes it: "0s", "1ns",
 * "1.1µs" (U+00B5 micro sign), "2.2ms", "3.3s", "4m5s", "5h6m7.001s", "-1.5s"; below one second
 * the largest unit that keeps the integer part non-zero, from one second on h/m/s with the hours
 * and minutes left out while zero; fractions without trailing zeros. A fractional number is
 * truncated toward zero as Go's conversion to Duration does; Duration is an int64, so anything
 * outside it (or not a finite number) is a RangeError.
 */
export function goDuration(ns: number | bigint): string {
  let d: bigint;
  if (typeof ns === 'bigint') d = ns;
  else if (typeof ns === 'number' && Number.isFinite(ns)) d = BigInt(Math.trunc(ns));
  else throw new RangeError(`a duration must be a finite number of nanoseconds, got ${String(ns)}`);
  if (d < INT64_MIN || d > INT64_MAX) throw new RangeError(`${d} ns is outside Go's time.Duration (int64 nanoseconds)`);
  if (d === 0n) return '0s';
  const negative = d < 0n;
  const u = negative ? -d : d;
  let text: string;
  if (u < NS_PER_SECOND) {
    // Go: prec 0 for ns, 3 for µs, 6 for ms: the integer part is the unit, the rest the fraction.
    const [unit, digits] = u < 1_000n ? ['ns', 0] as const : u < 1_000_000n ? ['µs', 3] as const : ['ms', 6] as const;
    const scale = 10n ** BigInt(digits);
    text = `${u / scale}${fraction(u % scale, digits)}${unit}`;
  } else {
    const seconds = u / NS_PER_SECOND;
    text = `${seconds % 60n}${fraction(u % NS_PER_SECOND, 9)}s`;
    const minutes = seconds / 60n;
    if (minutes > 0n) {
      text = `${minutes % 60n}m${text}`;
      const hours = minutes / 60n;
      if (hours > 0n) text = `${hours}h${text}`;
    }
  }
  return negative ? `-${text}` : text;
}

/** ".0012" for (12, 4): the fraction value/10^digits with trailing zeros dropped, "" when it is 0. */
function fraction(value: bigint, digits: number): string {
  if (value === 0n || digits === 0) return '';
  return `.${value.toString().padStart(digits, '0').replace(/0+$/, '')}`;
}
