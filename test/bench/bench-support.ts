import { parseArgs } from 'node:util';

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export const median = (values: readonly number[]) => percentile(values, 50);

/** The scale knobs the datapath benchmarks share: `--clusters N --subnets M --trials T`. */
export function scaleArgs(): { clusters: number; subnetsPerCluster: number; trials: number; inside?: string } {
  const { values } = parseArgs({
    options: {
      clusters: { type: 'string', default: '1000' },
      subnets: { type: 'string', default: '10' },
      trials: { type: 'string', default: '5' },
      inside: { type: 'string' },
    },
  });
  const scale = { clusters: Number(values.clusters), subnetsPerCluster: Number(values.subnets), trials: Number(values.trials) };
  for (const [name, value] of Object.entries(scale)) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${name === 'subnetsPerCluster' ? 'subnets' : name} must be a whole number >= 1`);
  }
  return values.inside === undefined ? scale : { ...scale, inside: values.inside };
}
