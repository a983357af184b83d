/**
 * Benchmark (issue 16): the reconcile pass as the agent runs it (createPass: node facts, planning,
 * routing dataplane and packet filter through the object table, the agent's kernel-event watch
 * feeding KernelChanges) at 1,000 remote clusters x 10 subnets, on a worker node and on the gateway
 * node (Submariner's gateway there: table 150 routes and an FDB entry per Node), for each filter
 * backend, each trial in a fresh network namespace. Every kernel read and write is counted at its
 * seam (rtnetlink calls, tool runs, the filter's netlink reads and member writes). Medians of:
 *   - the first pass, from empty;
 *   - a pass with nothing new (a trigger that changes nothing: the kernel quiet, the same snapshot);
 *   - a pass after an unrelated change (a new snapshot object with the same content: planned again);
 *   - one Endpoint's subnets replaced (a quiet kernel: written as the difference);
 *   - the periodic resync (reads every owned part of the kernel, writes nothing).
 * No rival writes in the namespace, so the filter's drift watch (which marks the filter changed
 * when it finds drift) would find nothing and is not run.
 *
 *   npm run bench -- pass            node test/bench/pass.ts [--clusters 1000] [--subnets 10] [--nodes 5000] [--trials 3]
 *   PASS_BENCH_IMAGE_FLAGS=1 ...     the measured process with the image's V8 flags (the Dockerfile's ENTRYPOINT)
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { run, type ExecOptions } from '../../src/kernel/exec.ts';
import { loadIcmpAddon } from '../../src/kernel/icmp-socket.ts';
import { posixSpawner } from '../../src/kernel/spawner.ts';
import { openRtnetlink, type KernelWrite, type Rtnetlink } from '../../src/kernel/rtnetlink.ts';
import { procSysctls } from '../../src/kernel/sysctl.ts';
import type { ProcessRunner } from '../../src/kernel/iptables.ts';
import { createRoutingDataplane } from '../../src/dataplane/routing-dataplane.ts';
import { createFilterDriver, KERNEL_FILTER_NETLINK, type FilterBackend } from '../../src/dataplane/filter.ts';
import type { FilterNetlink } from '../../src/dataplane/filter-iptables.ts';
import { watchOwnedObjects } from '../../src/dataplane/owned-object-events.ts';
import { createPass, PROGRAMMED } from '../../src/reconcile/pass.ts';
import { KERNEL_PARTS, KernelChanges } from '../../src/reconcile/kernel-changes.ts';
import { PERIODIC_RESYNC } from '../../src/reconcile/loop.ts';
import { ObjectTable } from '../../src/reconcile/object-table.ts';
import { TugOfWar } from '../../src/reconcile/tug-of-war.ts';
import { createFightReport } from '../../src/reconcile/fight-report.ts';
import { createMetrics } from '../../src/telemetry/metrics.ts';
import { Readiness } from '../../src/server/readiness.ts';
import { parseConfig, type RunConfig } from '../../src/config.ts';
import { freezeSnapshot, type Snapshot } from '../../src/model/snapshot.ts';
import { imageV8Flags, median, scaleArgs } from './bench-support.ts';
import { CNI, GATEWAY_IP, GATEWAY_NODE, NODE_IP, prepareWorkerNamespace, workerSnapshot } from './worker-node-support.ts';

const scale = scaleArgs();
const { clusters, subnetsPerCluster } = scale;
const trials = process.argv.includes('--trials') ? scale.trials : 3;
// The issue's scale: 5,000 Nodes in the local cluster (their addresses are a set of the filter's).
const nodes = process.argv.includes('--nodes') ? scale.nodes : 5000;
const routeCount = clusters * subnetsPerCluster;
/** V8 flags for the measured process: the image's with PASS_BENCH_IMAGE_FLAGS=1, else none. */
const v8Flags = process.env.PASS_BENCH_IMAGE_FLAGS === '1' ? imageV8Flags() : [];
const QUIET_PASSES = 21;
const REPLANNED_PASSES = 11;
const CHANGED_PASSES = 11;
const RESYNC_PASSES = 5;

type Variant = { name: string; backend: FilterBackend; mode: 'nft' | 'legacy' };
type Role = 'worker' | 'gateway';
const ROLES: readonly Role[] = ['worker', 'gateway'];
const ROLE_NODES: Record<Role, { name: string; address: string }> = { worker: { name: 'cluster1-node2', address: NODE_IP }, gateway: { name: GATEWAY_NODE, address: GATEWAY_IP } };
const VARIANTS: Variant[] = [
  { name: 'iptables-nft', backend: 'iptables', mode: 'nft' },
  { name: 'iptables-legacy', backend: 'iptables', mode: 'legacy' },
  { name: 'nftables', backend: 'nftables', mode: 'nft' },
];

interface PassFigures { ms: number; reads: number; writes: number }
interface TrialResult {
  cold: PassFigures;
  quiet: PassFigures[];
  replanned: PassFigures[];
  changed: PassFigures[];
  resync: PassFigures[];
  /** The filter's drift check (read-only), which its watch runs on a notification or a poll. */
  drift: PassFigures[];
  failures: string[];
}

/** Counts every kernel call by kind: rtnetlink dumps and writes, tool runs, the filter's netlink reads. */
function counters() {
  const counts = { reads: 0, writes: 0 };
  const countRtnl = (rtnl: Rtnetlink): Rtnetlink => new Proxy(rtnl, {
    get(target, key) {
      const value = (target as unknown as Record<string | symbol, unknown>)[key];
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (key === 'apply') counts.writes += (args[0] as KernelWrite[]).length;
        else if (String(key).startsWith('list')) counts.reads += 1;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  const countRun = (inner: ProcessRunner): ProcessRunner => (file: string, args: readonly string[], options?: ExecOptions) => {
    const writes = /-restore$/.test(file) || (file === 'nft' && args.includes('-f')) || (file === 'ipset' && args.includes('restore'));
    if (writes) counts.writes += 1;
    else counts.reads += 1;
    return inner(file, args, options);
  };
  const netlink: FilterNetlink = {
    iptablesTableNames: (mode) => { counts.reads += 1; return KERNEL_FILTER_NETLINK.iptablesTableNames(mode); },
    nftTableState: (...args: Parameters<FilterNetlink['nftTableState']>) => { counts.reads += 1; return KERNEL_FILTER_NETLINK.nftTableState(...args); },
    ipsetList: (...args: Parameters<FilterNetlink['ipsetList']>) => { counts.reads += 1; return KERNEL_FILTER_NETLINK.ipsetList(...args); },
    ipsetCreate: (...args: Parameters<FilterNetlink['ipsetCreate']>) => { counts.writes += 1; return KERNEL_FILTER_NETLINK.ipsetCreate(...args); },
    nftChangeElements: (...args: Parameters<FilterNetlink['nftChangeElements']>) => { counts.writes += 1; return KERNEL_FILTER_NETLINK.nftChangeElements(...args); },
    ipsetChangeMembers: (...args: Parameters<FilterNetlink['ipsetChangeMembers']>) => { counts.writes += 1; return KERNEL_FILTER_NETLINK.ipsetChangeMembers(...args); },
    nftFillAndWake: (...args: Parameters<FilterNetlink['nftFillAndWake']>) => { counts.writes += 1; return KERNEL_FILTER_NETLINK.nftFillAndWake(...args); },
  };
  return { counts, countRtnl, countRun, netlink };
}

/** `which`: the variant's name and the role, as "iptables-nft/gateway". */
async function inside(which: string): Promise<void> {
  const [variantName, role] = which.split('/') as [string, Role];
  const variant = VARIANTS.find((v) => v.name === variantName)!;
  const { counts, countRtnl, countRun, netlink } = counters();
  const base = openRtnetlink();
  const stateDir = await mkdtemp(join(tmpdir(), 'seaway-bench-pass-'));
  const kernelChanges = new KernelChanges();
  const logger = pino({ level: 'silent' });
  const routing = createRoutingDataplane({ rtnl: countRtnl(base), sysctls: procSysctls(), sysctlStatePath: join(stateDir, 'sysctls.json'), logger });
  const watch = watchOwnedObjects(() => kernelChanges.changed('routing'), () => routing.routeDestinations(), undefined, () => 'eth0', () => kernelChanges.changed('host-network'));
  try {
    for (const part of KERNEL_PARTS) kernelChanges.watching(part);
    // The tools start as the agent starts them: the addon's posix_spawn.
    const spawner = posixSpawner(loadIcmpAddon());
    const driver = await createFilterDriver(variant.backend, { run: countRun((file, args, options) => run(file, args, { spawner, ...options })), iptablesMode: variant.mode, netlink });
    const config = parseConfig(['run', '--cluster-id', 'cluster1', '--node-name', ROLE_NODES[role].name, '--pod-cidrs', '10.1.0.0/16', '--service-cidrs', '10.101.0.0/16',
      '--max-remote-subnets', String(routeCount)], {}) as RunConfig;
    // Two generations of every Endpoint, built once: a change swaps one Endpoint object, as the informer does.
    const generations = [workerSnapshot({ ...scale, nodes }), workerSnapshot({ ...scale, nodes }, new Map(Array.from({ length: clusters }, (_, i) => [i, 1])))];
    let snapshot: Snapshot = generations[0]!;
    const readiness = new Readiness({ [PROGRAMMED]: 'no pass yet' });
    const metrics = createMetrics({ defaultMetrics: false });
    const pass = createPass({
      config, logger, metrics, readiness, rtnl: countRtnl(base), routing, filter: driver, kernelChanges,
      table: new ObjectTable({ backoff: { minMs: 200, maxMs: 30_000 } }),
      fights: createFightReport({ war: new TugOfWar({ repairs: 3, windowMs: 60_000, backoff: { minMs: 4000, maxMs: 16_000 } }), readiness, metrics, logger }),
      informersSynced: () => true, snapshot: () => snapshot, nodeReady: () => true,
      cniInterface: () => ({ name: CNI.name, address: CNI.address, index: 0, prefixLength: 24 }),
    });
    const failures: string[] = [];
    const timed = async (reason: string): Promise<PassFigures> => {
      counts.reads = 0;
      counts.writes = 0;
      const start = performance.now();
      await pass([reason]);
      const ms = performance.now() - start;
      if (!readiness.ready) failures.push(`${reason}: ${readiness.reasons.join('; ')}`);
      return { ms, reads: counts.reads, writes: counts.writes };
    };
    const cold = await timed('start');
    // The events of the first pass's own writes (vx-submariner made, its address) come back once.
    for (let i = 0; i < 20 && (await timed('settling')).reads > 0; i++);
    const quiet: PassFigures[] = [];
    for (let i = 0; i < QUIET_PASSES; i++) quiet.push(await timed('API objects changed'));
    const replanned: PassFigures[] = [];
    for (let i = 0; i < REPLANNED_PASSES; i++) {
      snapshot = freezeSnapshot({ ...snapshot, endpoints: [...snapshot.endpoints] });
      replanned.push(await timed('API objects changed'));
    }
    const changed: PassFigures[] = [];
    const generationOf = new Array<number>(clusters).fill(0);
    for (let i = 0; i < CHANGED_PASSES; i++) {
      const cluster = (i * 97) % clusters;
      generationOf[cluster] = 1 - generationOf[cluster]!;
      const endpoints = [...snapshot.endpoints];
      endpoints[cluster + 1] = generations[generationOf[cluster]!]!.endpoints[cluster + 1]!;
      snapshot = freezeSnapshot({ ...snapshot, endpoints });
      changed.push(await timed('API objects changed'));
    }
    const resync: PassFigures[] = [];
    for (let i = 0; i < RESYNC_PASSES; i++) resync.push(await timed(PERIODIC_RESYNC));
    const drift: PassFigures[] = [];
    for (let i = 0; i < RESYNC_PASSES; i++) {
      counts.reads = 0;
      const start = performance.now();
      const found = await driver.drift();
      drift.push({ ms: performance.now() - start, reads: counts.reads, writes: found.length });
    }
    const result: TrialResult = { cold, quiet, replanned, changed, resync, drift, failures };
    console.log(JSON.stringify(result));
  } finally {
    watch.close();
    base.close();
    await rm(stateDir, { recursive: true, force: true });
  }
}

async function trial(variant: Variant, role: Role): Promise<TrialResult> {
  const ns = `swf-pass-${randomBytes(3).toString('hex')}`;
  try {
    await prepareWorkerNamespace(ns, ROLE_NODES[role].address);
    const out = await run('ip', ['netns', 'exec', ns, process.execPath, ...v8Flags, fileURLToPath(import.meta.url), '--inside', `${variant.name}/${role}`,
      '--clusters', String(clusters), '--subnets', String(subnetsPerCluster), '--nodes', String(nodes)], { timeoutMs: 600_000 });
    const result = JSON.parse(out.stdout.trim().split('\n').pop()!) as TrialResult;
    if (result.failures.length > 0) throw new Error(`${variant.name} on the ${role}: passes left objects not programmed: ${result.failures.slice(0, 3).join(' | ')}`);
    return result;
  } finally {
    await run('ip', ['netns', 'del', ns], { allowFailure: true });
  }
}

async function main(): Promise<void> {
  if (scale.inside) return inside(scale.inside);
  if (process.getuid?.() !== 0) throw new Error('the pass benchmark needs root (it creates network namespaces)');
  console.log(`pass benchmark: ${clusters} remote clusters x ${subnetsPerCluster} subnets = ${routeCount} routes, ${nodes} Nodes, on a worker and on the gateway node${v8Flags.length > 0 ? `, V8 flags ${v8Flags.join(' ')}` : ''}; medians over ${trials} trials `
    + `(${QUIET_PASSES} quiet, ${REPLANNED_PASSES} re-planned, ${CHANGED_PASSES} changed and ${RESYNC_PASSES} resync passes each), each trial in a fresh namespace`);
  const ms = (x: number) => `${x.toFixed(1).padStart(7)} ms`;
  let quietGoal = true;
  for (const role of ROLES) for (const variant of VARIANTS) {
    const results: TrialResult[] = [];
    for (let t = 0; t < trials; t++) results.push(await trial(variant, role));
    const all = (pick: (r: TrialResult) => PassFigures[]) => results.flatMap(pick);
    const line = (label: string, figures: PassFigures[]) =>
      `    ${label.padEnd(44)} ${ms(median(figures.map((f) => f.ms)))}  reads ${median(figures.map((f) => f.reads))}, writes ${median(figures.map((f) => f.writes))} (median)`;
    const quiet = all((r) => r.quiet);
    quietGoal &&= median(quiet.map((f) => f.ms)) <= 20 && quiet.every((f) => f.reads === 0 && f.writes === 0);
    console.log(`  ${variant.name}, ${role}${role === 'gateway' ? ` (FDB entries for ${nodes - 1} Nodes, table 150)` : ''}`);
    console.log(line('first pass, from empty', results.map((r) => r.cold)));
    console.log(line('nothing new (quiet kernel, same snapshot)', quiet));
    console.log(line('unrelated change (new snapshot, same plan)', all((r) => r.replanned)));
    console.log(line(`one Endpoint's ${subnetsPerCluster} subnets replaced`, all((r) => r.changed)));
    console.log(line('periodic resync (reads all it owns)', all((r) => r.resync)));
    console.log(line('filter drift check (no pass; writes: drift)', all((r) => r.drift)));
  }
  console.log(`  goal ${quietGoal ? 'met    ' : 'NOT met'}  a pass with nothing new: at most 20 ms median, no read, no write, on every backend and node`);
}

await main();
