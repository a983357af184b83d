/**
 * Benchmark: what starting one kernel tool costs the agent's thread, with Node's child_process
 * (libuv forks on Linux) and with the addon's posix_spawn (CLONE_VM|CLONE_VFORK), in the same
 * process and run, that process holding about as much memory as the route agent at 10,000 routes
 * (`--ballast-mib`, default 48: the agent's RssAnon is 42-52 MiB).
 *
 * Per spawner, medians over the trials (the spawners alternate, trial by trial):
 *   - the spawn call: this thread blocked until the child has exec'd;
 *   - run('true') from call to resolution;
 *   - writing one byte on each page of the ballast right after: a fork leaves every page
 *     copy-on-write, so each first write after it faults (the cost lands on whatever runs next);
 *   - this process's minor page faults per tool run.
 *
 *   node test/bench/spawn.ts [--trials 41] [--ballast-mib 48]
 */
import { parseArgs } from 'node:util';
import { run } from '../../src/kernel/exec.ts';
import { loadIcmpAddon } from '../../src/kernel/icmp-socket.ts';
import { nodeSpawner, posixSpawner, type Spawner } from '../../src/kernel/spawner.ts';
import { median } from './bench-support.ts';

const { values } = parseArgs({ options: { trials: { type: 'string', default: '41' }, 'ballast-mib': { type: 'string', default: '48' } } });
const trials = Number(values.trials);
const ballastMib = Number(values['ballast-mib']);
if (!(trials >= 3) || !(ballastMib >= 0)) throw new Error('--trials must be at least 3 and --ballast-mib not negative');

const PAGE = 4096;
// Resident, written memory like the agent's: a buffer outside V8's heap touched page by page.
const ballast = Buffer.alloc(ballastMib * 1024 * 1024, 1);
const touchEveryPage = (round: number): void => {
  for (let offset = 0; offset < ballast.length; offset += PAGE) ballast[offset] = round & 0xff;
};

interface Figures { spawnMs: number[]; runMs: number[]; touchMs: number[]; faults: number[] }

async function once(spawner: Spawner, figures: Figures, round: number): Promise<void> {
  let spawnMs = 0;
  const timed: Spawner = (file, args, options) => {
    const start = performance.now();
    try {
      return spawner(file, args, options);
    } finally {
      spawnMs = performance.now() - start;
    }
  };
  const faultsBefore = process.resourceUsage().minorPageFault;
  const start = performance.now();
  await run('true', [], { spawner: timed });
  const runMs = performance.now() - start;
  const touchStart = performance.now();
  touchEveryPage(round);
  const touchMs = performance.now() - touchStart;
  figures.faults.push(process.resourceUsage().minorPageFault - faultsBefore);
  figures.spawnMs.push(spawnMs);
  figures.runMs.push(runMs);
  figures.touchMs.push(touchMs);
}

async function main(): Promise<void> {
  const spawners: [string, Spawner][] = [['child_process', nodeSpawner], ['posix_spawn', posixSpawner(loadIcmpAddon())]];
  const results = new Map(spawners.map(([name]) => [name, { spawnMs: [], runMs: [], touchMs: [], faults: [] } as Figures]));
  // Warm-up: the first spawn of each kind, and the code paths, are not what a running agent pays.
  for (const [, spawner] of spawners) await once(spawner, { spawnMs: [], runMs: [], touchMs: [], faults: [] }, 0);
  for (let t = 0; t < trials; t++) {
    const order = t % 2 ? [...spawners].reverse() : spawners;
    for (const [name, spawner] of order) await once(spawner, results.get(name)!, t + 1);
  }
  // The page-touching loop alone, without a spawn before it.
  const quiet: number[] = [];
  for (let t = 0; t < trials; t++) {
    const start = performance.now();
    touchEveryPage(t + 100);
    quiet.push(performance.now() - start);
  }
  const rss = (process.memoryUsage().rss / 2 ** 20).toFixed(0);
  console.log(`spawn benchmark: \`true\` run ${trials} times per spawner, alternating, in a process of ${rss} MiB resident (${ballastMib} MiB ballast written page by page after each run); medians`);
  const fmt = (ms: number) => `${ms.toFixed(2).padStart(7)} ms`;
  console.log(`  ${''.padEnd(15)} ${'spawn call'.padStart(10)} ${'run(true)'.padStart(10)} ${'pages after'.padStart(11)} ${'faults/run'.padStart(10)}`);
  for (const [name] of spawners) {
    const f = results.get(name)!;
    console.log(`  ${name.padEnd(15)} ${fmt(median(f.spawnMs))} ${fmt(median(f.runMs))} ${fmt(median(f.touchMs)).padStart(11)} ${String(median(f.faults)).padStart(10)}`);
  }
  console.log(`  ${'(no spawn)'.padEnd(15)} ${''.padStart(10)} ${''.padStart(10)} ${fmt(median(quiet)).padStart(11)}`);
  const node = results.get('child_process')!, posix = results.get('posix_spawn')!;
  const ratio = (a: number[], b: number[]) => (median(a) / median(b)).toFixed(2);
  console.log(`  posix_spawn / child_process: spawn call ${ratio(posix.spawnMs, node.spawnMs)}x, run ${ratio(posix.runMs, node.runMs)}x, spawn call + pages after ${((median(posix.spawnMs) + median(posix.touchMs)) / (median(node.spawnMs) + median(node.touchMs))).toFixed(2)}x`);
}

await main();
