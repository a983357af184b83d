/**
 * Benchmark: installing N routes through seaway's pipelined rtnetlink batch (and through the whole
 * routing dataplane: observe, diff, apply) against `ip -batch` installing the same routes, each in a
 * fresh network namespace, in the same run. Prints medians and ratios (goal: within 1.25x of ip -batch),
 * plus the time and writes of a pass with nothing to change (goal: zero writes).
 *
 *   node test/bench/routes-netlink.ts [--routes 10000] [--trials 3]
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { run } from '../../src/kernel/exec.ts';
import { openRtnetlink, type KernelWrite } from '../../src/kernel/rtnetlink.ts';
import { procSysctls } from '../../src/kernel/sysctl.ts';
import { createRoutingDataplane } from '../../src/dataplane/routing-dataplane.ts';
import type { DesiredRoute } from '../../src/model/desired-state.ts';

const { values } = parseArgs({ options: { routes: { type: 'string', default: '10000' }, trials: { type: 'string', default: '3' }, inside: { type: 'string' } } });
const routeCount = Number(values.routes);
const trials = Number(values.trials);

const dst = (i: number) => `10.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`;
const GATEWAY = '192.168.90.2';

async function prepare(ns: string): Promise<void> {
  await run('ip', ['netns', 'add', ns]);
  await run('ip', ['-n', ns, 'link', 'add', 'b0', 'type', 'veth', 'peer', 'name', 'b1']);
  await run('ip', ['-n', ns, 'addr', 'add', '192.168.90.1/24', 'dev', 'b0']);
  for (const dev of ['lo', 'b0', 'b1']) await run('ip', ['-n', ns, 'link', 'set', dev, 'up']);
}

/** Runs in the namespace: times the work in-process, prints one JSON line. */
async function inside(mode: string): Promise<void> {
  const rtnl = openRtnetlink();
  try {
    if (mode === 'batch') {
      const oif = (await rtnl.linkByName('b0'))!.index;
      const writes: KernelWrite[] = [];
      for (let i = 0; i < routeCount; i++) writes.push({ kind: 'route', write: 'create', route: { table: 100, dst: dst(i), gateway: GATEWAY, oif, protocol: 147 } });
      const start = performance.now();
      const results = await rtnl.apply(writes);
      const ms = performance.now() - start;
      console.log(JSON.stringify({ ms, failed: results.filter((r) => !r.ok).length }));
    } else {
      const stateDir = await mkdtemp(join(tmpdir(), 'seaway-bench-'));
      try {
        const dataplane = createRoutingDataplane({ rtnl, sysctls: procSysctls(), sysctlStatePath: join(stateDir, 'sysctls.json') });
        const routes: DesiredRoute[] = [];
        for (let i = 0; i < routeCount; i++) routes.push({ table: 100, dst: dst(i), gateway: GATEWAY, dev: 'b0' });
        const desired = { links: [], routes, rules: [{ priority: 100, table: 100 }], fdb: [], sysctls: [], filter: null };
        let start = performance.now();
        const full = await dataplane.apply(desired);
        const ms = performance.now() - start;
        start = performance.now();
        const noChange = await dataplane.apply(desired);
        const noChangeMs = performance.now() - start;
        const changed = { ...desired, routes: routes.map((r, i) => (i < 10 ? { ...r, gateway: '192.168.90.3' } : r)) };
        const oneChange = await dataplane.apply(changed);
        console.log(JSON.stringify({ ms, failed: full.failures.length, writes: full.writes, noChangeMs, noChangeWrites: noChange.writes, tenChangedWrites: oneChange.writes, rssMiB: process.memoryUsage().rss / 2 ** 20 }));
      } finally {
        await rm(stateDir, { recursive: true, force: true });
      }
    }
  } finally {
    rtnl.close();
  }
}

async function ipBatch(ns: string, dir: string): Promise<number> {
  const file = join(dir, 'routes.batch');
  const lines: string[] = [];
  for (let i = 0; i < routeCount; i++) lines.push(`route add ${dst(i)} via ${GATEWAY} dev b0 table 100 proto 147`);
  await writeFile(file, `${lines.join('\n')}\n`);
  const start = performance.now();
  await run('ip', ['-n', ns, '-batch', file]);
  return performance.now() - start;
}

async function countRoutes(ns: string): Promise<number> {
  return (await run('ip', ['-n', ns, '-o', 'route', 'show', 'table', '100'])).stdout.split('\n').filter(Boolean).length;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  if (values.inside) return inside(values.inside);
  if (process.getuid?.() !== 0) throw new Error('the routes benchmark needs root (it creates network namespaces)');
  const dir = await mkdtemp(join(tmpdir(), 'seaway-bench-'));
  const ipTimes: number[] = [], batchTimes: number[] = [], dataplaneTimes: number[] = [];
  let last: Record<string, number> = {};
  try {
    for (let t = 0; t < trials; t++) {
      for (const mode of ['ip', 'batch', 'dataplane'] as const) {
        const ns = `swd-bench-${randomBytes(3).toString('hex')}`;
        try {
          await prepare(ns);
          if (mode === 'ip') {
            ipTimes.push(await ipBatch(ns, dir));
          } else {
            const out = await run('ip', ['netns', 'exec', ns, process.execPath, fileURLToPath(import.meta.url), '--inside', mode, '--routes', String(routeCount)]);
            const result = JSON.parse(out.stdout.trim().split('\n').pop()!);
            if (result.failed !== 0) throw new Error(`${mode}: ${result.failed} failures`);
            (mode === 'batch' ? batchTimes : dataplaneTimes).push(result.ms);
            if (mode === 'dataplane') last = result;
          }
          const installed = await countRoutes(ns);
          if (installed !== routeCount) throw new Error(`${mode}: ${installed} routes installed, expected ${routeCount}`);
        } finally {
          await run('ip', ['netns', 'del', ns], { allowFailure: true });
        }
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const ip = median(ipTimes);
  const fmt = (ms: number) => `${ms.toFixed(1)} ms`;
  console.log(`routes benchmark: ${routeCount} routes, ${trials} trials each, medians`);
  console.log(`  ip -batch                         ${fmt(ip)}`);
  console.log(`  seaway rtnetlink batch            ${fmt(median(batchTimes))}  ratio ${(median(batchTimes) / ip).toFixed(2)}x (goal <= 1.25x)`);
  console.log(`  seaway dataplane apply from empty ${fmt(median(dataplaneTimes))}  ratio ${(median(dataplaneTimes) / ip).toFixed(2)}x (goal <= 1.25x)`);
  console.log(`  no-change pass                    ${fmt(last.noChangeMs!)}  writes ${last.noChangeWrites} (goal 0)`);
  console.log(`  10 routes changed                 writes ${last.tenChangedWrites} (goal 10)`);
  console.log(`  resident memory after passes     ${last.rssMiB!.toFixed(0)} MiB`);
}

await main();
