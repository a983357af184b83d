import { spawn, type ChildProcess } from 'node:child_process';
import type { GatewayPair } from '../helpers/gateway-pair.ts';
import { waitFor, within } from '../helpers/wait.ts';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export const median = (values: readonly number[]) => percentile(values, 50);

/** A `--name` option's text as a whole number from min to max, or an error naming the option. */
export function wholeNumber(name: string, text: string | undefined, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`--${name} must be a whole number from ${min} to ${max}`);
  return value;
}

/** The scale knobs the datapath benchmarks share: `--clusters N --subnets M --trials T --nodes K` (Nodes in the local cluster). */
export function scaleArgs(): { clusters: number; subnetsPerCluster: number; trials: number; nodes: number; inside?: string } {
  const { values } = parseArgs({
    options: {
      clusters: { type: 'string', default: '1000' },
      subnets: { type: 'string', default: '10' },
      trials: { type: 'string', default: '5' },
      nodes: { type: 'string', default: '3' },
      inside: { type: 'string' },
    },
  });
  const scale = { clusters: Number(values.clusters), subnetsPerCluster: Number(values.subnets), trials: Number(values.trials), nodes: Number(values.nodes) };
  for (const [name, value] of Object.entries(scale)) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${name === 'subnetsPerCluster' ? 'subnets' : name} must be a whole number >= 1`);
  }
  return values.inside === undefined ? scale : { ...scale, inside: values.inside };
}

/** iperf3 from pod1 to pod2 (one-off server in pod2); received bits per second. */
export async function pairThroughput(pair: GatewayPair, iperfSeconds: number, servers: Set<ChildProcess>): Promise<number> {
  const server = spawn('ip', ['netns', 'exec', pair.gw2.pod, 'iperf3', '-s', '-1', '--forceflush', '-B', pair.gw2.podAddress], { stdio: ['ignore', 'pipe', 'pipe'] });
  servers.add(server);
  let output = '';
  server.stdout.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
  server.stderr.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
  let running = true;
  const exited = new Promise<void>((resolve) => {
    server.once('close', () => { running = false; resolve(); });
    server.once('error', (error) => { output += `\n${error.message}`; running = false; resolve(); });
  });
  try {
    await waitFor('the iperf3 server in pod2 to listen', () => {
      if (!running) throw new Error(`iperf3 -s exited: ${output.trim()}`);
      return /Server listening/.test(output);
    }, { timeoutMs: 10_000, intervalMs: 10 });
    const client = await pair.exec(pair.gw1.pod, 'iperf3', ['-c', pair.gw2.podAddress, '-t', String(iperfSeconds), '-J'], { allowFailure: true, timeoutMs: (iperfSeconds + 30) * 1000 });
    let result: { error?: string; end?: { sum_received?: { bits_per_second?: number } } };
    try {
      result = JSON.parse(client.stdout) as typeof result;
    } catch {
      throw new Error(`iperf3 -c gave no JSON (exit ${client.code}): ${(client.stdout + client.stderr).trim().slice(0, 500)}`);
    }
    const bps = result.end?.sum_received?.bits_per_second;
    if (client.code !== 0 || result.error !== undefined || typeof bps !== 'number') throw new Error(`iperf3 -c failed (exit ${client.code}): ${result.error ?? 'no end.sum_received.bits_per_second'}`);
    return bps;
  } finally {
    try {
      await within(exited, 5000, 'the one-off iperf3 server to exit');
    } catch {
      if (running && server.pid !== undefined) try { process.kill(server.pid, 'SIGKILL'); } catch { /* gone */ }
      await exited;
    }
    servers.delete(server);
  }
}

/** The V8 flags of the image's entry point: what lies between the node binary and the script. */
export function imageV8Flags(): string[] {
  const dockerfile = readFileSync(fileURLToPath(new URL('../../Dockerfile', import.meta.url)), 'utf8');
  const line = dockerfile.split('\n').find((l) => l.startsWith('ENTRYPOINT '));
  if (line === undefined) throw new Error('the Dockerfile has no ENTRYPOINT line');
  const entrypoint = JSON.parse(line.slice('ENTRYPOINT '.length)) as string[];
  return entrypoint.slice(1, -1);
}
