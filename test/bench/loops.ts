/**
 * Benchmark: why the pass's hot loops are indexed or forEach, not for-of. The image runs Node with
 * `--max-opt=2` (no TurboFan, for memory: see the Dockerfile), and Maglev does not inline iterators:
 * each step of a for-of allocates its result object, and a Map's entries each a [key, value] array.
 * For each loop style over 10,000 elements (what a pass walks: routes, subnets, set members), in a
 * process with the image's V8 flags (read from the Dockerfile's ENTRYPOINT) and in one without
 * flags: the time per element (median over rounds) and the young-generation collections per 100
 * loops (PerformanceObserver 'gc', minor), a measure of what each loop allocates.
 *
 *   npm run bench -- loops        node test/bench/loops.ts [--rounds 200]
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { run } from '../../src/kernel/exec.ts';
import { imageV8Flags, median, wholeNumber } from './bench-support.ts';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '200' }, inside: { type: 'boolean', default: false } } });
const rounds = wholeNumber('rounds', values.rounds, 10, 100_000);
const SIZE = 10_000;

type Figures = Record<string, { nsPerElement: number; scavengesPer100: number }>;

function inside(): void {
  const items = Array.from({ length: SIZE }, (_, i) => ({ i }));
  const map = new Map(items.map((item, i) => [`key ${i}`, item]));
  const set = new Set(items);
  // Each loop sums into a local (a small integer, never boxed) and returns it: only the loop itself allocates.
  const loops: Record<string, () => number> = {
    'array for-of': () => { let s = 0; for (const item of items) s += item.i; return s; },
    'array indexed': () => { let s = 0; for (let k = 0; k < items.length; k++) s += items[k]!.i; return s; },
    'array forEach': () => { let s = 0; items.forEach((item) => { s += item.i; }); return s; },
    'Map for-of [key, value]': () => { let s = 0; for (const [, item] of map) s += item.i; return s; },
    'Map forEach': () => { let s = 0; map.forEach((item) => { s += item.i; }); return s; },
    'Set for-of': () => { let s = 0; for (const item of set) s += item.i; return s; },
    'Set forEach': () => { let s = 0; set.forEach((item) => { s += item.i; }); return s; },
  };
  let sink = 0;
  let scavenges = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) if (((entry as { detail?: { kind?: number } }).detail)?.kind === constants.NODE_PERFORMANCE_GC_MINOR) scavenges++;
  });
  observer.observe({ entryTypes: ['gc'] });
  const figures: Figures = {};
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  return void (async () => {
    for (const [name, loop] of Object.entries(loops)) {
      for (let w = 0; w < 300; w++) sink ^= loop() & 1; // past every tier-up
      await settle();
      const before = scavenges;
      const times: number[] = [];
      for (let r = 0; r < rounds; r++) {
        const start = process.hrtime.bigint();
        sink ^= loop() & 1;
        times.push(Number(process.hrtime.bigint() - start));
      }
      await settle(); // the observer hears of the collections asynchronously
      figures[name] = { nsPerElement: median(times) / SIZE, scavengesPer100: ((scavenges - before) * 100) / rounds };
    }
    observer.disconnect();
    // The checksum keeps the sums from being optimised away.
    console.log(JSON.stringify({ figures, checksum: sink }));
  })();
}

async function measure(flags: string[]): Promise<Figures> {
  const out = await run(process.execPath, [...flags, fileURLToPath(import.meta.url), '--inside', '--rounds', String(rounds)], { timeoutMs: 600_000 });
  return (JSON.parse(out.stdout.trim().split('\n').pop()!) as { figures: Figures }).figures;
}

async function main(): Promise<void> {
  if (values.inside) return inside();
  const flags = imageV8Flags();
  const [image, plain] = [await measure(flags), await measure([])];
  console.log(`loops benchmark: ${SIZE} elements, medians of ${rounds} rounds; the image's flags: ${flags.join(' ')}`);
  console.log(`  ${'loop'.padEnd(26)} ${'image flags: ns/element'.padStart(24)} ${'scavenges/100'.padStart(14)} ${'no flags: ns/element'.padStart(22)} ${'scavenges/100'.padStart(14)}`);
  for (const name of Object.keys(image)) {
    const a = image[name]!;
    const b = plain[name]!;
    console.log(`  ${name.padEnd(26)} ${a.nsPerElement.toFixed(2).padStart(24)} ${a.scavengesPer100.toFixed(1).padStart(14)} ${b.nsPerElement.toFixed(2).padStart(22)} ${b.scavengesPer100.toFixed(1).padStart(14)}`);
  }
}

await main();
