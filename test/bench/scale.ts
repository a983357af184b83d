/**
 * Benchmark (issue 16): scale in the lab. One cluster of real nodes, each running the route agent as
 * the DaemonSet does (the image, started by the lab's kubelet from manifests/), with 5,000 realistic
 * Node objects and 1,000 remote clusters x 10 subnets in its API server:
 *
 *   change   one remote Endpoint's first subnet replaced by a new one (a merge patch of its spec):
 *            the time from the patch until every worker node holds the new route, from `ip monitor
 *            route` in each node's namespace (events, not polling); --changes of them one after
 *            another, 1 s apart (past the loop's throttle), median and max
 *   steady   60 s of Node status heartbeats at --heartbeats per second (default 17: 5,000 kubelets
 *            reporting every 5 minutes, as with Node leases): per agent its CPU, its API requests
 *            per second (the API server's audit log, by the agent's address) and its reconcile passes
 *
 * The lab controller is stopped during the load, as in the footprint benchmark (its DaemonSet loop
 * relists every Node four times a second).
 *
 *   npm run bench -- scale     node test/bench/scale.ts [--nodes 5000] [--clusters 1000] [--subnets 10] [--workers 3] [--changes 10] [--heartbeats 17]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { run } from '../../src/kernel/exec.ts';
import { requireTools } from '../helpers/prereq.ts';
import { waitFor } from '../helpers/wait.ts';
import { SUBMARINER_NAMESPACE } from '../lab/agents.ts';
import { loadImage } from '../lab/image.ts';
import { labDown, labStatus, labUp } from '../lab/lab.ts';
import { AdminClient } from '../lab/apiserver/admin-client.ts';
import { SocketApi } from '../lab/socket-api.ts';
import type { ClusterStatus, NodeStatus } from '../lab/state.ts';
import { SUBMARINER_API } from '../lab/submariner-sim.ts';
import { median, wholeNumber } from './bench-support.ts';
import { benchNodePodCidr, checkSubnets, cpuPercent, metricSum, remoteEndpoint, remoteSubnet } from './footprint-support.ts';
import { agentMetrics, agentPasses, agentPod, agentProcess, countRoutes, heartbeats, isReady, loadCluster } from './lab-agents.ts';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '5000' }, clusters: { type: 'string', default: '1000' }, subnets: { type: 'string', default: '10' },
    workers: { type: 'string', default: '3' }, changes: { type: 'string', default: '10' }, heartbeats: { type: 'string', default: '17' },
  },
});
const NODES = wholeNumber('nodes', values.nodes, 1, 8191);
const CLUSTERS = wholeNumber('clusters', values.clusters, 1, 16_000);
const SUBNETS = wholeNumber('subnets', values.subnets, 1, 16);
const WORKERS = wholeNumber('workers', values.workers, 1, 8);
const CHANGES = wholeNumber('changes', values.changes, 1, 100);
const HEARTBEATS = wholeNumber('heartbeats', values.heartbeats, 0, 1000);
const STEADY_MS = 60_000;
const PROGRAM_TIMEOUT_MS = 600_000;
const CHANGE_TIMEOUT_MS = 60_000;
const CHANGE_GAP_MS = 1000;

/** Watches a node's routes (`ip monitor route`) and says when a route to `dst` is added. */
function routeMonitor(namespace: string) {
  const child: ChildProcess = spawn('ip', ['-n', namespace, 'monitor', 'route'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const waiting = new Map<string, (at: number) => void>();
  let buffered = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    const at = performance.now();
    buffered += chunk.toString('utf8');
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      if (line.startsWith('Deleted')) continue;
      const dst = line.split(' ')[0] ?? '';
      waiting.get(dst)?.(at);
      waiting.delete(dst);
    }
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return {
    /** When a route to `dst` appears (call before making the change). */
    added(dst: string): Promise<number> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no route to ${dst} in ${namespace} within ${CHANGE_TIMEOUT_MS / 1000} s`)), CHANGE_TIMEOUT_MS);
        waiting.set(dst, (at) => { clearTimeout(timer); resolve(at); });
      });
    },
    stop: async () => { child.kill('SIGTERM'); await exited; },
  };
}

const normalAddress = (remote: string) => remote.replace(/^::ffff:/, '');

async function main(): Promise<void> {
  requireTools('ip', 'iptables', 'kubectl', 'unshare', 'setpriv', 'chroot', 'getconf');
  loadImage();
  const remoteSubnets = Array.from({ length: CLUSTERS }, (_, i) => Array.from({ length: SUBNETS }, (_, j) => remoteSubnet(i + 1, j))).flat();
  // The new subnets of the changes: the first subnets of clusters past the last one, never otherwise used.
  const newSubnets = Array.from({ length: CHANGES }, (_, k) => remoteSubnet(CLUSTERS + 1 + k, 0));
  const prefix = `swsc${randomBytes(2).toString('hex')}`;
  let controllerPid: number | undefined;
  const monitors: Array<ReturnType<typeof routeMonitor>> = [];
  try {
    const lab = await labUp({ prefix, clusters: 1, nodes: WORKERS + 1, gateways: 1, podsPerNode: 0, nodeReadyDelay: 0, cniDelay: 0, endpoints: true, deploy: 'manifests', wait: true });
    const cluster = lab.clusters[0] as ClusterStatus;
    const problem = checkSubnets([...remoteSubnets, ...newSubnets], [cluster.podCidr, cluster.serviceCidr, ...cluster.nodes.map((n) => n.podCidr), ...Array.from({ length: NODES }, (_, i) => benchNodePodCidr(i + 1))]);
    if (problem !== null) throw new Error(`the benchmark's remote subnets are unusable: ${problem}`);
    const api = new SocketApi(cluster.apiserver.socket);
    const admin = new AdminClient({ socketPath: cluster.apiserver.socket });
    const workers = cluster.nodes.filter((n) => !n.gatewayCapable);
    for (const node of cluster.nodes) {
      await waitFor(`the route agent on ${node.name} Ready`, async () => isReady(await agentPod(api, node)), { timeoutMs: 120_000, intervalMs: 500 });
    }
    const pids = new Map<string, number>();
    for (const node of (await labStatus(prefix)).clusters[0]?.nodes ?? []) if (node.agent?.pid !== undefined) pids.set(node.name, node.agent.pid);
    const missing = cluster.nodes.filter((n) => !pids.has(n.name));
    if (missing.length > 0) throw new Error(`the lab reports no route agent process on ${missing.map((n) => n.name).join(', ')}`);
    const routesBefore = new Map(await Promise.all(workers.map(async (n) => [n.name, await countRoutes(n.namespace)] as const)));
    console.log(`${cluster.nodes.length} real nodes (${workers.length} workers, 1 gateway), route agents Ready; image ${loadImage().entrypoint.join(' ')}`);

    controllerPid = lab.controller.pid;
    process.kill(controllerPid, 'SIGSTOP');
    const load = await loadCluster(api, { nodes: NODES, clusters: CLUSTERS, subnets: SUBNETS });
    console.log(`created ${NODES} Nodes (${(load.nodeBytes / 1024).toFixed(1)} KiB of JSON each as served) in ${(load.nodesMs / 1000).toFixed(1)} s, ${CLUSTERS} Endpoints x ${SUBNETS} subnets in ${(load.endpointsMs / 1000).toFixed(1)} s`);
    for (const node of workers) {
      const expected = (routesBefore.get(node.name) ?? 0) + remoteSubnets.length;
      await waitFor(`${expected} proto 147 routes on ${node.name}`, async () => (await countRoutes(node.namespace)) >= expected, { timeoutMs: PROGRAM_TIMEOUT_MS, intervalMs: 1000 });
    }
    console.log(`all ${remoteSubnets.length} remote subnets routed on every worker ${((performance.now() - load.endpointsStart) / 1000).toFixed(1)} s after the first Endpoint's create`);

    // Changes: one Endpoint at a time gets a new first subnet; timed until every worker has its route.
    for (const node of workers) monitors.push(routeMonitor(node.namespace));
    // How long the workers' passes took meanwhile, from their own seaway_reconcile_pass_duration_seconds.
    const passTime = async () => Promise.all(workers.map(async (n) => {
      const text = await agentMetrics(n);
      return { seconds: metricSum(text, 'seaway_reconcile_pass_duration_seconds_sum'), passes: metricSum(text, 'seaway_reconcile_pass_duration_seconds_count') };
    }));
    const passTimeBefore = await passTime();
    const ticksPerSecond = Number((await run('getconf', ['CLK_TCK'], { timeoutMs: 5000 })).stdout.trim());
    const processes = cluster.nodes.map((n) => ({ node: n, agent: agentProcess(pids.get(n.name) as number) }));
    const changeTicksBefore = await Promise.all(processes.map((p) => p.agent.ticks()));
    const changeMs: number[] = [];
    for (let k = 0; k < CHANGES; k++) {
      // A change reaches idle agents, as one does on a cluster: not within the loop's throttle
      // (--min-pass-interval-ms, 250 ms between pass starts) of the pass the previous change caused.
      if (k > 0) await new Promise((resolve) => setTimeout(resolve, CHANGE_GAP_MS));
      const index = 1 + ((k * 97) % CLUSTERS);
      const endpoint = remoteEndpoint(index, SUBNETS, SUBMARINER_NAMESPACE) as { metadata: { name: string }; spec: { subnets: string[] } };
      const subnets = [newSubnets[k] as string, ...endpoint.spec.subnets.slice(1)];
      const arrivals = monitors.map((m) => m.added(newSubnets[k] as string));
      const start = performance.now();
      await api.mergePatch(`${SUBMARINER_API}/namespaces/${SUBMARINER_NAMESPACE}/endpoints/${endpoint.metadata.name}`, { spec: { subnets } });
      const times = await Promise.all(arrivals);
      changeMs.push(Math.max(...times) - start);
    }
    const changeTicksAfter = await Promise.all(processes.map((p) => p.agent.ticks()));
    await Promise.all(monitors.splice(0).map((m) => m.stop()));
    const passTimeAfter = await passTime();

    // Steady state with heartbeats: per agent its CPU, its API requests and its passes.
    const ticksBefore = await Promise.all(processes.map((p) => p.agent.ticks()));
    const passesBefore = await Promise.all(cluster.nodes.map((n) => agentPasses(n)));
    const { next: auditFrom } = await admin.requests();
    const steadyStart = performance.now();
    const patches = await heartbeats(api, load.nodeNames, HEARTBEATS, STEADY_MS);
    const steadyMs = performance.now() - steadyStart;
    const ticksAfter = await Promise.all(processes.map((p) => p.agent.ticks()));
    const passesAfter = await Promise.all(cluster.nodes.map((n) => agentPasses(n)));
    const { entries } = await admin.requests(auditFrom);
    const byAgent = (node: NodeStatus) => entries.filter((e) => normalAddress(e.remote) === node.ip && e.userAgent.startsWith('seaway/'));

    console.log('');
    console.log(`Endpoint change -> every worker (${workers.length}) programmed, ${CHANGES} changes at ${NODES} Nodes and ${remoteSubnets.length} remote subnets:`);
    console.log(`  median ${median(changeMs).toFixed(1)} ms, max ${Math.max(...changeMs).toFixed(1)} ms (goal: median under 100 ms)`);
    workers.forEach((node, i) => {
      const seconds = (passTimeAfter[i]?.seconds ?? 0) - (passTimeBefore[i]?.seconds ?? 0);
      const passes = (passTimeAfter[i]?.passes ?? 0) - (passTimeBefore[i]?.passes ?? 0);
      console.log(`  ${node.name}: ${passes} passes meanwhile, ${passes ? ((seconds / passes) * 1000).toFixed(0) : '-'} ms each on average (seaway_reconcile_pass_duration_seconds)`);
    });
    // CPU time per change: with every agent handling each change at once on a machine of few cores, a pass's
    // wall time includes waiting for a core; this is the agent's own work (its background work over the
    // changes' span included: health checks, the filter's drift checks).
    console.log(`  CPU time per change, per agent (its background work in the span included): ${processes.map((p, i) => `${p.node.name} ${((((changeTicksAfter[i] as number) - (changeTicksBefore[i] as number)) / ticksPerSecond) * 1000 / CHANGES).toFixed(0)} ms`).join(', ')} (all ${cluster.nodes.length} agents take each change at once, on ${availableParallelism()} cores)`);
    console.log(`steady state, ${(steadyMs / 1000).toFixed(0)} s with ${(patches / (steadyMs / 1000)).toFixed(0)} Node status patches/s:`);
    console.log(`  ${'node'.padEnd(16)} ${'CPU % of a core'.padStart(16)} ${'API requests/s'.padStart(15)} ${'passes'.padStart(7)}`);
    cluster.nodes.forEach((node, i) => {
      const cpu = cpuPercent((ticksAfter[i] as number) - (ticksBefore[i] as number), ticksPerSecond, steadyMs);
      const requests = byAgent(node).length / (steadyMs / 1000);
      console.log(`  ${`${node.name}${node.gatewayCapable ? ' (gw)' : ''}`.padEnd(16)} ${cpu.toFixed(1).padStart(16)} ${requests.toFixed(2).padStart(15)} ${String((passesAfter[i] as number) - (passesBefore[i] as number)).padStart(7)}`);
    });
    console.log('  (a pass every 30 s is the resync; a heartbeat costs none, and an agent\'s watches are its only requests)');
  } finally {
    await Promise.all(monitors.map((m) => m.stop()));
    if (controllerPid !== undefined) try { process.kill(controllerPid, 'SIGCONT'); } catch { /* gone */ }
    await labDown(prefix);
  }
}

await main();
