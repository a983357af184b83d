/**
 * Benchmark (issue 4): 1,000 remote clusters x 10 subnets through the real planner and routing dataplane
 * (facts from the kernel, plan, observe, diff, pipelined rtnetlink apply), each trial in a fresh network
 * namespace set up like a lab worker node, next to `ip -batch` installing the same objects (vx-submariner, its
 * address, rule 100 and the 10,000 routes) in another fresh namespace, in the same run. Also: seaway's bare
 * rtnetlink batch of the same routes, a pass with nothing to change (time and kernel writes), the writes when
 * one Endpoint's subnets change, and resident memory. Medians over the trials. seaway's processes run under the
 * image's V8 flags (Dockerfile ENTRYPOINT), as the DaemonSet runs the agent.
 *
 *   npm run bench -- routes            node test/bench/routes.ts [--clusters 1000] [--subnets 10] [--trials 5]
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../src/kernel/exec.ts';
import { loadIcmpAddon } from '../../src/kernel/icmp-socket.ts';
import { posixSpawner } from '../../src/kernel/spawner.ts';
import { openRtnetlink, type KernelWrite } from '../../src/kernel/rtnetlink.ts';
import { procSysctls } from '../../src/kernel/sysctl.ts';
import { createRoutingDataplane } from '../../src/dataplane/routing-dataplane.ts';
import { newPlanMemo } from '../../src/model/endpoint-set.ts';
import { ObjectTable } from '../../src/reconcile/object-table.ts';
import { reconcileComponent } from '../../src/reconcile/component.ts';
import { routingComponent } from '../../src/reconcile/components.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import { readNodeFacts } from '../../src/dataplane/node-facts.ts';
import { planNode } from '../../src/plan/node-plan.ts';
import type { Snapshot } from '../../src/model/snapshot.ts';
import { CNI, GATEWAY_IP, GATEWAY_VTEP, NODE_IP, planConfig, prepareWorkerNamespace, subnet as workerSubnet, workerSnapshot } from './worker-node-support.ts';
import { imageV8Flags, median, scaleArgs } from './bench-support.ts';

const scale = scaleArgs();
const { clusters, subnetsPerCluster, trials } = scale;
const routeCount = clusters * subnetsPerCluster;

const CONFIG = planConfig(scale);
const V8_FLAGS = imageV8Flags();
const subnet = (i: number, j: number) => workerSubnet(scale, i, j);
const snapshot = (changedCluster: number | null): Snapshot => workerSnapshot(scale, changedCluster === null ? new Map() : new Map([[changedCluster, 1]]));
const prepare = prepareWorkerNamespace;

const setupLines = () => [
  `link add vx-submariner type vxlan id 100 local ${NODE_IP} remote ${GATEWAY_IP} dstport 4800 dev eth0 nolearning`,
  'addr add 240.168.1.12/8 dev vx-submariner',
  'link set vx-submariner mtu 1450 up',
];
const routeLines = () => {
  const lines: string[] = [];
  for (let i = 0; i < clusters; i++) {
    for (let j = 0; j < subnetsPerCluster; j++) lines.push(`route add ${subnet(i, j)} via ${GATEWAY_VTEP} dev vx-submariner proto 147`);
  }
  return lines;
};

interface SeawayResult {
  /** Cold process: the first pass, as an agent's first programming pass. */
  fullMs: number;
  planMs: number;
  applyMs: number;
  fullWrites: number;
  /** The same from empty again (after cleanup) in the warmed-up process. */
  warmFullMs: number;
  warmPlanMs: number;
  warmApplyMs: number;
  failures: number;
  noChangeMs: number;
  noChangeWrites: number;
  oneEndpointWrites: number;
  oneEndpointRouteWrites: number;
  rssMiB: number;
}

/** Runs inside the namespace; prints one JSON line. */
async function inside(mode: string): Promise<void> {
  const rtnl = openRtnetlink();
  try {
    if (mode === 'rtnl') {
      const oif = (await rtnl.listLinks()).find((link) => link.name === 'vx-submariner')!.index;
      const writes: KernelWrite[] = [];
      for (let i = 0; i < clusters; i++) {
        for (let j = 0; j < subnetsPerCluster; j++) writes.push({ kind: 'route', write: 'create', route: { table: 254, dst: subnet(i, j), gateway: GATEWAY_VTEP, oif, protocol: 147 } });
      }
      const start = performance.now();
      const results = await rtnl.apply(writes);
      console.log(JSON.stringify({ ms: performance.now() - start, failures: results.filter((r) => !r.ok).length }));
      return;
    }
    const stateDir = await mkdtemp(join(tmpdir(), 'seaway-bench-'));
    try {
      const dataplane = createRoutingDataplane({ rtnl, sysctls: procSysctls(), sysctlStatePath: join(stateDir, 'sysctls.json'), logger: createLogger('warn') });
      // Through the engine as the agent runs it: every object's status is kept and gated.
      const table = new ObjectTable({ backoff: { minMs: 200, maxMs: 30_000 } });
      const routing = routingComponent(dataplane);
      // As the agent's planning keeps it: Endpoints unchanged since the last pass are not validated again.
      const memo = newPlanMemo();
      const steady = snapshot(null);
      const pass = async (snap: Snapshot) => {
        const start = performance.now();
        const read = await readNodeFacts(rtnl, CNI, { settings: { nodeIp: null, underlayInterface: null }, internalIP: null });
        if (!read.ok) throw new Error(`the benchmark namespace's node facts: ${read.reason}`);
        const { facts } = read;
        const planStart = performance.now();
        const plan = planNode(snap, facts, CONFIG, { memo });
        const planMs = performance.now() - planStart;
        if (plan.rejected.length > 0 || plan.desired.routes.length !== routeCount) throw new Error(`plan: ${plan.desired.routes.length} routes, ${plan.rejected.length} rejected`);
        const applyStart = performance.now();
        const report = await reconcileComponent(table, routing, plan.desired);
        const end = performance.now();
        return { ms: end - start, planMs, applyMs: end - applyStart, report };
      };
      const full = await pass(steady);
      const noChange = await pass(steady);
      const changed = await pass(snapshot(Math.floor(clusters / 2)));
      const cleaned = await dataplane.cleanup();
      const warm = await pass(steady);
      const result: SeawayResult = {
        fullMs: full.ms,
        planMs: full.planMs,
        applyMs: full.applyMs,
        fullWrites: full.report.writes,
        warmFullMs: warm.ms,
        warmPlanMs: warm.planMs,
        warmApplyMs: warm.applyMs,
        failures: [full, noChange, changed, warm].reduce((sum, p) => sum + p.report.failures.length, 0) + cleaned.failures.length,
        noChangeMs: noChange.ms,
        noChangeWrites: noChange.report.writes,
        oneEndpointWrites: changed.report.writes,
        oneEndpointRouteWrites: (changed.report.writesByKind.route?.ok ?? 0) + (changed.report.writesByKind.route?.failed ?? 0),
        rssMiB: process.memoryUsage().rss / 2 ** 20,
      };
      console.log(JSON.stringify(result));
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  } finally {
    rtnl.close();
  }
}

async function ownedRouteCount(ns: string): Promise<number> {
  return (await run('ip', ['-n', ns, '-o', 'route', 'show', 'table', 'main', 'proto', '147'])).stdout.split('\n').filter(Boolean).length;
}

async function inNamespace(ns: string, mode: string): Promise<Record<string, number>> {
  // Under the image's V8 flags, as the DaemonSet runs the agent: they trade speed for memory.
  const out = await run('ip', ['netns', 'exec', ns, process.execPath, ...V8_FLAGS, fileURLToPath(import.meta.url), '--inside', mode,
    '--clusters', String(clusters), '--subnets', String(subnetsPerCluster)]);
  const result = JSON.parse(out.stdout.trim().split('\n').pop()!) as Record<string, number>;
  if (result.failures !== 0) throw new Error(`${mode}: ${result.failures} kernel writes failed`);
  return result;
}

async function main(): Promise<void> {
  if (scale.inside) return inside(scale.inside);
  if (process.getuid?.() !== 0) throw new Error('the routes benchmark needs root (it creates network namespaces)');
  const dir = await mkdtemp(join(tmpdir(), 'seaway-bench-'));
  const batchFile = join(dir, 'all.batch');
  const setupFile = join(dir, 'setup.batch');
  await writeFile(batchFile, `${[...setupLines(), ...routeLines()].join('\n')}\n`);
  await writeFile(setupFile, `${setupLines().join('\n')}\n`);
  const spawner = posixSpawner(loadIcmpAddon());
  const ipMs: number[] = [];
  const rtnlMs: number[] = [];
  const seaway: SeawayResult[] = [];
  try {
    for (let t = 0; t < trials; t++) {
      for (const mode of ['ip', 'rtnl', 'seaway'] as const) {
        const ns = `swf-bench-${randomBytes(3).toString('hex')}`;
        try {
          await prepare(ns);
          if (mode === 'ip') {
            const start = performance.now();
            // Started with posix_spawn, as the agent starts its tools: Node's fork would add its few ms to the bare side.
            await run('ip', ['-n', ns, '-batch', batchFile], { spawner });
            ipMs.push(performance.now() - start);
          } else if (mode === 'rtnl') {
            await run('ip', ['-n', ns, '-batch', setupFile]);
            rtnlMs.push((await inNamespace(ns, 'rtnl')).ms!);
          } else {
            seaway.push((await inNamespace(ns, 'seaway')) as unknown as SeawayResult);
          }
          const installed = await ownedRouteCount(ns);
          if (installed !== routeCount) throw new Error(`${mode}: ${installed} routes installed, expected ${routeCount}`);
        } finally {
          await run('ip', ['netns', 'del', ns], { allowFailure: true });
        }
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const ip = median(ipMs);
  const pick = (key: keyof SeawayResult) => median(seaway.map((r) => r[key]));
  const ms = (x: number) => `${x.toFixed(1).padStart(8)} ms`;
  const ratio = (x: number) => `${(x / ip).toFixed(2)}x`;
  const full = pick('fullMs');
  const warmFull = pick('warmFullMs');
  const apply = pick('applyMs');
  const warmApply = pick('warmApplyMs');
  console.log(`routes benchmark: ${clusters} remote clusters x ${subnetsPerCluster} subnets = ${routeCount} routes (worker node, main table), medians of ${trials} trials, each in a fresh namespace`);
  console.log(`  seaway runs under the image's V8 flags: ${V8_FLAGS.join(' ')}`);
  console.log(`  ip -batch: link, address and routes                ${ms(ip)}`);
  console.log(`  seaway pass from empty, cold process               ${ms(full)}  ${ratio(full)}  (${pick('fullWrites')} writes)`);
  console.log(`    planner ${ms(pick('planMs')).trim()}; dataplane apply through the engine (observe, diff, write, object status) ${ms(apply).trim()} = ${ratio(apply)}`);
  console.log(`  seaway pass from empty, warm process (after cleanup) ${ms(warmFull)}  ${ratio(warmFull)}`);
  console.log(`    planner ${ms(pick('warmPlanMs')).trim()}; dataplane apply ${ms(warmApply).trim()} = ${ratio(warmApply)}`);
  console.log(`  seaway rtnetlink batch alone, routes only          ${ms(median(rtnlMs))}  ${ratio(median(rtnlMs))}`);
  console.log(`  no-change pass (facts, plan, observe, diff, status)${ms(pick('noChangeMs'))}  ${pick('noChangeWrites')} kernel writes (goal 0)`);
  console.log(`  one Endpoint's ${subnetsPerCluster} subnets replaced: ${pick('oneEndpointWrites')} kernel writes, ${pick('oneEndpointRouteWrites')} of them routes (goal: only its routes, ${subnetsPerCluster} removed + ${subnetsPerCluster} added = ${2 * subnetsPerCluster})`);
  console.log(`  resident memory after the passes: ${pick('rssMiB').toFixed(0)} MiB (the benchmark process, holding what an agent holds: snapshot, plan, dataplane)`);
  const goals = [
    // Issue 16: at or under 0.8x of ip -batch.
    [`cold pass at or under 0.8x of ip -batch (${ratio(full)})`, full / ip <= 0.8],
    [`warm pass at or under 0.8x of ip -batch (${ratio(warmFull)})`, warmFull / ip <= 0.8],
    ['no-change pass writes nothing', pick('noChangeWrites') === 0],
    ['one Endpoint changed writes only its routes', pick('oneEndpointWrites') === 2 * subnetsPerCluster && pick('oneEndpointRouteWrites') === 2 * subnetsPerCluster],
  ] as const;
  for (const [goal, met] of goals) console.log(`  goal ${met ? 'met    ' : 'NOT met'}  ${goal}`);
}

await main();
