/**
 * The churn benchmark's arithmetic, kept apart from the lab so it can be tested: a series of
 * RssAnon samples taken every `sampleMs`, split into the warm-up and the measured span, and the
 * growth between the measured span's first and last windows.
 */
import { median } from './bench-support.ts';

/** Least-squares slope of y over x. */
export function slope(points: ReadonlyArray<{ x: number; y: number }>): number {
  const n = points.length;
  if (n === 0) return 0;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  return sxx === 0 ? 0 : points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0) / sxx;
}

/** Medians of consecutive `stretchMs` stretches of samples taken every `sampleMs`; a tail shorter than half a stretch joins the stretch before it. */
export function stretchMedians(values: readonly number[], sampleMs: number, stretchMs: number): number[] {
  const size = Math.max(1, Math.round(stretchMs / sampleMs));
  const stretches: number[][] = [];
  for (let i = 0; i < values.length; i += size) stretches.push(values.slice(i, i + size));
  const tail = stretches.length > 1 && stretches.at(-1)!.length < size / 2 ? stretches.pop()! : [];
  if (tail.length > 0) stretches.push([...stretches.pop()!, ...tail]);
  return stretches.map((stretch) => median(stretch));
}

export interface Growth {
  /** Samples that fell in the warm-up and in the measured span. */
  warmupSamples: number;
  measuredSamples: number;
  /** Medians of the measured span's first and last window. */
  first: number;
  last: number;
  /** last - first. */
  growth: number;
  /** Least-squares trend over the whole measured span, per hour. */
  trendPerHour: number;
}

/**
 * Growth of `values` (one sample every `sampleMs`, the first at time 0) after `warmupMs`: the
 * median of the measured span's last `windowMs` against its first. The warm-up is left out because
 * a fresh process grows into its working size (V8's old generation, glibc's heap) before it holds
 * steady; growth is what comes after. Throws when the measured span cannot hold two windows that do
 * not overlap: the figures would compare a window with itself.
 */
export function growthAfterWarmup(values: readonly number[], sampleMs: number, warmupMs: number, windowMs: number): Growth {
  if (!(sampleMs > 0) || !(windowMs >= sampleMs) || !(warmupMs >= 0)) throw new Error(`growthAfterWarmup: sampleMs must be positive (${sampleMs}), windowMs at least sampleMs (${windowMs}), warmupMs not negative (${warmupMs})`);
  const warmupSamples = Math.min(values.length, Math.ceil(warmupMs / sampleMs));
  const measured = values.slice(warmupSamples);
  const perWindow = Math.round(windowMs / sampleMs);
  if (measured.length < 2 * perWindow) {
    throw new Error(`growthAfterWarmup: ${measured.length} samples after the warm-up cannot hold two windows of ${perWindow}`);
  }
  const first = median(measured.slice(0, perWindow));
  const last = median(measured.slice(-perWindow));
  const hours = (i: number) => ((warmupSamples + i) * sampleMs) / 3_600_000;
  return {
    warmupSamples, measuredSamples: measured.length, first, last, growth: last - first,
    trendPerHour: slope(measured.map((y, i) => ({ x: hours(i), y }))),
  };
}
