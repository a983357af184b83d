/**
 * Benchmark (issue 16): the route agent under Endpoint churn, as the DaemonSet runs it (the image,
 * started by the lab's kubelet from manifests/) on a worker node, with 5,000 realistic Nodes and
 * 1,000 remote clusters x 10 subnets in its API server. For --minutes (default 30), --rate
 * operations a second, one after another across the clusters: nine in ten replace an Endpoint's
 * subnets with its other generation (a merge patch), one in ten deletes an Endpoint and creates
 * it again (a new uid). The churn runs --warmup minutes (default 10) before the --minutes measured:
 * a fresh process grows into its working size first (V8's old generation and glibc's heap settled
 * within 10-15 minutes in a 60-minute run), and that is not growth. Memory is sampled every 2 s:
 * RssAnon swings by 8 MiB within seconds with the garbage V8 and glibc hold, so a window's median
 * needs many samples. The question is growth: the measured span's first and last 5 minutes'
 * medians, the max, and the least-squares trend of RssAnon over the measured span; the figures
 * from the start of the churn are printed beside them. At the end every cluster's current subnets
 * must be routed (the agent kept up), and the agent must not have been restarted.
 *
 * The lab controller is stopped during the load, as in the footprint benchmark.
 *
 * With --heap, V8's heap (used and committed, from the agent's /metrics) is sampled every 10 s as
 * well: a scrape the agent renders and a process in the node's namespace, so not by default.
 *
 *   npm run bench -- churn     node test/bench/churn.ts [--warmup 10] [--minutes 30] [--rate 1] [--nodes 5000] [--clusters 1000] [--subnets 10] [--heap]
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { requireTools } from '../helpers/prereq.ts';
import { waitFor } from '../helpers/wait.ts';
import { SUBMARINER_NAMESPACE } from '../lab/agents.ts';
import { loadImage } from '../lab/image.ts';
import { labDown, labStatus } from '../lab/lab.ts';
import { SocketApiError } from '../lab/socket-api.ts';
import { SUBMARINER_API } from '../lab/submariner-sim.ts';
import { wholeNumber } from './bench-support.ts';
import { growthAfterWarmup, stretchMedians } from './churn-figures.ts';
import { remoteEndpoint, remoteSubnet } from './footprint-support.ts';
import { agentHeap, agentPasses, countRoutes, loadCluster, routedDestinations, samplePhase, workerLab } from './lab-agents.ts';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' }, warmup: { type: 'string', default: '10' }, rate: { type: 'string', default: '1' }, heap: { type: 'boolean', default: false },
    nodes: { type: 'string', default: '5000' }, clusters: { type: 'string', default: '1000' }, subnets: { type: 'string', default: '10' },
  },
});
const MINUTES = wholeNumber('minutes', values.minutes, 2, 600);
const WARMUP_MINUTES = wholeNumber('warmup', values.warmup, 0, 120);
const RATE = wholeNumber('rate', values.rate, 1, 50);
const NODES = wholeNumber('nodes', values.nodes, 1, 8191);
const CLUSTERS = wholeNumber('clusters', values.clusters, 1, 8192);
const SUBNETS = wholeNumber('subnets', values.subnets, 1, 16);
const SAMPLE_MS = 2_000;
/** V8's heap is scraped through a process in the node's namespace, so less often than /proc is read. */
const HEAP_SAMPLE_MS = 10_000;
const WARMUP_MS = WARMUP_MINUTES * 60_000;
const WINDOW_MS = Math.min(300_000, (MINUTES * 60_000) / 4);
const PROGRAM_TIMEOUT_MS = 600_000;
/** Growth the run tolerates between the first and the last window's RssAnon medians (allocator noise). */
const GROWTH_TOLERANCE_MIB = 2;

/** Remote cluster `index`'s subnets in generation 0 or 1: generation 1 sits past every cluster's generation 0. */
const subnetsOf = (index: number, generation: number) => Array.from({ length: SUBNETS }, (_, j) => remoteSubnet(index + generation * CLUSTERS, j));

const mib = (kib: number) => kib / 1024;
const byFiveMinutes = (values: readonly number[], sampleMs: number) => stretchMedians(values, sampleMs, 300_000).map((m) => m.toFixed(1)).join(' ');

type Heap = NonNullable<Awaited<ReturnType<typeof agentHeap>>>;

/** V8's heap every HEAP_SAMPLE_MS until `until` settles; a scrape that fails is counted, never fatal (the run's lab must still come down). */
async function sampleHeaps(worker: Parameters<typeof agentHeap>[0], until: Promise<unknown>): Promise<{ heaps: Heap[]; failed: number }> {
  const heaps: Heap[] = [];
  let failed = 0;
  let done = false;
  until.then(() => { done = true; }, () => { done = true; });
  const start = performance.now();
  for (let k = 1; !done; k++) {
    try {
      const heap = await agentHeap(worker);
      if (heap) heaps.push(heap);
    } catch {
      failed++;
    }
    await delay(Math.max(0, start + k * HEAP_SAMPLE_MS - performance.now()));
  }
  return { heaps, failed };
}

async function main(): Promise<void> {
  requireTools('ip', 'iptables', 'kubectl', 'unshare', 'setpriv', 'chroot', 'getconf');
  loadImage();
  const allSubnets = Array.from({ length: CLUSTERS }, (_, i) => [...subnetsOf(i + 1, 0), ...subnetsOf(i + 1, 1)]).flat();
  const prefix = `swch${randomBytes(2).toString('hex')}`;
  let controllerPid: number | undefined;
  try {
    const { lab, api, worker, pid, agent, restarts } = await workerLab(prefix, { subnets: allSubnets, nodes: NODES });
    const restartsBefore = await restarts();
    const routesBefore = await countRoutes(worker.namespace);

    controllerPid = lab.controller.pid;
    process.kill(controllerPid, 'SIGSTOP');
    await loadCluster(api, { nodes: NODES, clusters: CLUSTERS, subnets: SUBNETS });
    const expected = routesBefore + CLUSTERS * SUBNETS;
    await waitFor(`${expected} proto 147 routes on ${worker.name}`, async () => (await countRoutes(worker.namespace)) >= expected, { timeoutMs: PROGRAM_TIMEOUT_MS, intervalMs: 1000 });
    console.log(`route agent on ${worker.name} (pid ${pid}): ${NODES} Nodes and ${CLUSTERS} x ${SUBNETS} subnets loaded and routed; churning for ${WARMUP_MINUTES} min of warm-up and ${MINUTES} min measured at ${RATE} operation(s)/s`);

    const generation = new Array<number>(CLUSTERS + 1).fill(0);
    const counts = { patches: 0, recreated: 0, retried: 0 };
    const heapBefore = await agentHeap(worker);
    const passesBefore = await agentPasses(worker);
    const churnMs = WARMUP_MS + MINUTES * 60_000;
    // A request whose connection failed is made again (each is idempotent here: a create already made
    // is a 409, a delete of one gone is none; but for an attempt that timed out and lands later still):
    // one reset socket must not throw away an hour's run. The operations missed meanwhile follow at once.
    const again = async (request: (attempt: number) => Promise<unknown>) => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await request(attempt);
        } catch (error) {
          if (error instanceof SocketApiError || attempt === 3) throw error;
          counts.retried++;
          console.log(`  (a churn request failed, made again: ${error instanceof Error ? error.message : String(error)})`);
          await delay(1000);
        }
      }
    };
    const churn = async () => {
      const start = performance.now();
      for (let op = 0; performance.now() - start < churnMs; op++) {
        const wait = start + (op * 1000) / RATE - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        const index = 1 + ((op * 97) % CLUSTERS);
        const endpoint = remoteEndpoint(index, SUBNETS, SUBMARINER_NAMESPACE) as { metadata: { name: string }; spec: { subnets: string[] } };
        const path = `${SUBMARINER_API}/namespaces/${SUBMARINER_NAMESPACE}/endpoints`;
        if (op % 10 === 9) {
          // Deleted and created again: the agent holds its routes through the gap (fail static) and takes the new object.
          await again(() => api.delete(`${path}/${endpoint.metadata.name}`));
          // A 409 is the earlier attempt's create having been made; on a first attempt it is a failure.
          await again((attempt) => api.create(path, { ...endpoint, spec: { ...endpoint.spec, subnets: subnetsOf(index, generation[index]!) } })
            .catch((error: unknown) => { if (!(attempt > 1 && error instanceof SocketApiError && error.status === 409)) throw error; }));
          counts.recreated++;
        } else {
          generation[index] = 1 - generation[index]!;
          await again(() => api.mergePatch(`${path}/${endpoint.metadata.name}`, { spec: { subnets: subnetsOf(index, generation[index]!) } }));
          counts.patches++;
        }
      }
    };
    const sampling = samplePhase(agent, SAMPLE_MS, churnMs, churn);
    // V8's heap beside the process's memory (--heap): what of RssAnon is V8's committed heap, and what is outside it.
    const heapSampling = values.heap ? sampleHeaps(worker, sampling) : null;
    const churned = await sampling;
    const heapSeries = await heapSampling;
    const passes = (await agentPasses(worker)) - passesBefore;

    // The agent kept up: every cluster's current generation is routed, and nothing of the other is left.
    const current = new Set(Array.from({ length: CLUSTERS }, (_, i) => subnetsOf(i + 1, generation[i + 1]!)).flat());
    await waitFor('every cluster\'s current subnets routed, and only those', async () => {
      const have = new Set(await routedDestinations(worker.namespace));
      return [...current].every((s) => have.has(s)) && [...have].filter((s) => !current.has(s)).length <= routesBefore;
    }, { timeoutMs: 120_000, intervalMs: 1000 });
    const heapAfter = await agentHeap(worker);
    if ((await restarts()) !== restartsBefore || (await labStatus(prefix)).clusters[0]?.nodes[1]?.agent?.pid !== pid) {
      throw new Error('the agent was restarted during the run: the figures mix two processes');
    }

    // The samples within the churn (the sampler goes on until the last request settles).
    const samples = churned.samples.slice(0, Math.floor(churnMs / SAMPLE_MS) + 1);
    const anon = samples.map((s) => mib(s.rssAnonKiB));
    const vmRss = samples.map((s) => mib(s.vmRssKiB));
    // The windows compared for growth, in the measured span; and the same from the churn's start, for the reader.
    const anonGrowth = growthAfterWarmup(anon, SAMPLE_MS, WARMUP_MS, WINDOW_MS);
    const vmRssGrowth = growthAfterWarmup(vmRss, SAMPLE_MS, WARMUP_MS, WINDOW_MS);
    const fromStart = { anon: growthAfterWarmup(anon, SAMPLE_MS, 0, WINDOW_MS), vmRss: growthAfterWarmup(vmRss, SAMPLE_MS, 0, WINDOW_MS) };
    const measured = samples.slice(anonGrowth.warmupSamples);
    const max = { vmRss: mib(Math.max(...measured.map((s) => s.vmRssKiB))), anon: mib(Math.max(...measured.map((s) => s.rssAnonKiB))) };
    const f = (x: number) => x.toFixed(1).padStart(8);
    const signed = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(1)}`;
    const window = `${WINDOW_MS / 60_000} min`;
    console.log('');
    console.log(`churn: ${counts.patches} subnet replacements and ${counts.recreated} Endpoints deleted and created again in ${(churned.wallMs / 60_000).toFixed(1)} min${counts.retried > 0 ? ` (${counts.retried} requests made again after a connection failure)` : ''}; ${passes} reconcile passes; CPU ${churned.cpuPercent.toFixed(1)} % of a core`);
    console.log(`  memory every ${SAMPLE_MS / 1000} s: ${anonGrowth.warmupSamples} samples in the ${WARMUP_MINUTES}-minute warm-up, ${anonGrowth.measuredSamples} in the ${MINUTES} minutes measured`);
    console.log(`  ${'window'.padEnd(44)} ${'VmRSS MiB'.padStart(10)} ${'RssAnon MiB'.padStart(12)}`);
    console.log(`  ${`churn's first ${window} (median)`.padEnd(44)} ${f(fromStart.vmRss.first)}   ${f(fromStart.anon.first)}`);
    console.log(`  ${`measured span's first ${window} (median)`.padEnd(44)} ${f(vmRssGrowth.first)}   ${f(anonGrowth.first)}`);
    console.log(`  ${`last ${window} (median)`.padEnd(44)} ${f(vmRssGrowth.last)}   ${f(anonGrowth.last)}`);
    console.log(`  ${'max of the measured span'.padEnd(44)} ${f(max.vmRss)}   ${f(max.anon)}`);
    console.log(`  RssAnon by 5 minutes from the churn's start (medians): ${byFiveMinutes(anon, SAMPLE_MS)}`);
    if (heapSeries) {
      console.log(`  V8 heap committed by 5 minutes (medians): ${byFiveMinutes(heapSeries.heaps.map((h) => h.totalMiB), HEAP_SAMPLE_MS)}`);
      console.log(`  V8 heap used by 5 minutes (medians): ${byFiveMinutes(heapSeries.heaps.map((h) => h.usedMiB), HEAP_SAMPLE_MS)}${heapSeries.failed > 0 ? ` (${heapSeries.failed} scrapes failed)` : ''}`);
    }
    console.log(`  RssAnon trend over the measured span: ${signed(anonGrowth.trendPerHour)} MiB/hour (least squares over ${anonGrowth.measuredSamples} samples)`);
    console.log(`  V8 heap used: ${heapBefore?.usedMiB.toFixed(1)} MiB before the churn, ${heapAfter?.usedMiB.toFixed(1)} MiB after`);
    console.log(`  from the churn's start (warm-up included): last window's RssAnon ${signed(fromStart.anon.growth)} MiB against the first`);
    const met = anonGrowth.growth <= GROWTH_TOLERANCE_MIB;
    console.log(`  goal ${met ? 'met    ' : 'NOT met'}  no growth after the warm-up: last window's RssAnon ${signed(anonGrowth.growth)} MiB against the measured span's first (tolerance ${GROWTH_TOLERANCE_MIB} MiB)`);
  } finally {
    if (controllerPid !== undefined) try { process.kill(controllerPid, 'SIGCONT'); } catch { /* gone */ }
    await labDown(prefix);
  }
}

await main();
