/**
 * Benchmark (issue 16): the route agent's memory and CPU as the DaemonSet runs it (the image's bundle,
 * entry point and V8 flags, started by the lab's kubelet from manifests/) on a worker node, at scale:
 *
 *   baseline    idle for 20 s after the agent is Ready (median of the last 5 samples)
 *   loaded      5,000 realistic Nodes (~10 KB each, as a kubelet writes them) and 1,000 remote
 *               clusters' Endpoints of 10 subnets each, all routed: 60 s of samples
 *   kubelet     the same, while the Nodes' status is written at the rate kubelets with Node leases
 *               write it (every 5 minutes: 17 patches a second for 5,000 Nodes): 60 s of samples
 *   heartbeats  the same, while every Node's heartbeat is renewed every 10 s (500 status patches a
 *               second, 50 at a time, thirty times the kubelets' rate): 60 s of samples and the
 *               agent's CPU time
 *
 * Goal (issue 16): VmRSS <= 100 MiB and RssAnon <= 56 MiB at 10k subnets and 5,000 Nodes.
 *
 * The lab's DaemonSet controller relists every Node and Pod four times a second (a lab shortcut; the
 * real one works from informers) and would make a Pod for each fake Node: with 5,000 Nodes of 10 KB it
 * would take the machine's cores from the agent and the API server. So the lab controller is stopped
 * (SIGSTOP; the kubelets, which run the agent and its probes, are separate processes and go on) before
 * the load, and continued before the lab goes down.
 *
 *   npm run bench -- footprint         node test/bench/footprint.ts [--nodes 5000] [--clusters 1000] [--subnets 10]
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { requireTools } from '../helpers/prereq.ts';
import { waitFor } from '../helpers/wait.ts';
import { loadImage } from '../lab/image.ts';
import { labDown, labStatus } from '../lab/lab.ts';
import { formatTable, phaseFigures, remoteSubnet, type PhaseFigures } from './footprint-support.ts';
import { wholeNumber } from './bench-support.ts';
import { agentHeap, agentPasses, countRoutes, heartbeats, loadCluster, samplePhase, workerLab } from './lab-agents.ts';

const { values } = parseArgs({ options: { nodes: { type: 'string', default: '5000' }, clusters: { type: 'string', default: '1000' }, subnets: { type: 'string', default: '10' } } });
const NODES = wholeNumber('nodes', values.nodes, 1, 8191);
const CLUSTERS = wholeNumber('clusters', values.clusters, 1, 16_384);
const SUBNETS = wholeNumber('subnets', values.subnets, 1, 16);

const SAMPLE_MS = 2000;
const BASELINE_MS = 20_000;
const LOADED_MS = 60_000;
const HEARTBEAT_MS = 60_000;
const HEARTBEAT_PER_SECOND = 500;
/** A kubelet with a Node lease writes its Node's status every 5 minutes (nodeStatusReportFrequency). */
const KUBELET_STATUS_PERIOD_S = 300;
const PROGRAM_TIMEOUT_MS = 600_000;

async function main(): Promise<void> {
  requireTools('ip', 'iptables', 'kubectl', 'unshare', 'setpriv', 'chroot', 'getconf');
  loadImage();
  const remoteSubnets = Array.from({ length: CLUSTERS }, (_, i) => Array.from({ length: SUBNETS }, (_, j) => remoteSubnet(i + 1, j))).flat();
  const prefix = `swfp${randomBytes(2).toString('hex')}`;
  let controllerPid: number | undefined;
  try {
    const { lab, api, worker, pid, agent, restarts } = await workerLab(prefix, { subnets: remoteSubnets, nodes: NODES });
    const restartsBefore = await restarts();
    console.log(`route agent on ${worker.name}: pid ${pid}, Ready; image ${loadImage().entrypoint.join(' ')}`);

    const rows: PhaseFigures[] = [];
    const baseline = await samplePhase(agent, SAMPLE_MS, BASELINE_MS);
    rows.push(phaseFigures('baseline (idle, 2 Nodes)', baseline.samples.slice(-5), baseline.cpuPercent, await agentHeap(worker)));
    const routesBefore = await countRoutes(worker.namespace);

    // The lab controller's DaemonSet loop would relist 5,000 Nodes four times a second (see the header).
    controllerPid = lab.controller.pid;
    process.kill(controllerPid, 'SIGSTOP');

    const load = await loadCluster(api, { nodes: NODES, clusters: CLUSTERS, subnets: SUBNETS });
    const { nodeNames, endpointsStart } = load;
    console.log(`created ${NODES} Nodes (${(load.nodeBytes / 1024).toFixed(1)} KiB of JSON each as served${load.statusPatched ? `, status written separately for ${load.statusPatched}` : ''}) in ${(load.nodesMs / 1000).toFixed(1)} s, ${CLUSTERS} Endpoints x ${SUBNETS} subnets in ${(load.endpointsMs / 1000).toFixed(1)} s`);

    const expected = routesBefore + remoteSubnets.length;
    await waitFor(`${expected} proto 147 routes on ${worker.name} (${routesBefore} before the load)`, async () => {
      await agent.memory(); // fails at once if the agent died meanwhile
      return (await countRoutes(worker.namespace)) >= expected;
    }, { timeoutMs: PROGRAM_TIMEOUT_MS, intervalMs: 1000 });
    console.log(`all ${remoteSubnets.length} remote subnets routed on ${worker.name} ${((performance.now() - endpointsStart) / 1000).toFixed(1)} s after the first Endpoint's create`);

    const loaded = await samplePhase(agent, SAMPLE_MS, LOADED_MS);
    rows.push(phaseFigures(`loaded (${NODES} Nodes, ${remoteSubnets.length} subnets)`, loaded.samples, loaded.cpuPercent, await agentHeap(worker)));

    const kubeletRate = Math.ceil(NODES / KUBELET_STATUS_PERIOD_S);
    let kubeletPatches = 0;
    const kubelets = await samplePhase(agent, SAMPLE_MS, HEARTBEAT_MS, async () => { kubeletPatches = await heartbeats(api, nodeNames, kubeletRate, HEARTBEAT_MS); });
    rows.push(phaseFigures(`kubelets' rate (${(kubeletPatches / (kubelets.wallMs / 1000)).toFixed(0)} Node status patches/s)`, kubelets.samples, kubelets.cpuPercent, await agentHeap(worker)));

    let patches = 0;
    const passesBefore = await agentPasses(worker);
    const beating = await samplePhase(agent, SAMPLE_MS, HEARTBEAT_MS, async () => { patches = await heartbeats(api, nodeNames, HEARTBEAT_PER_SECOND, HEARTBEAT_MS); });
    const passesDuring = (await agentPasses(worker)) - passesBefore;
    rows.push(phaseFigures(`heartbeats (${(patches / (beating.wallMs / 1000)).toFixed(0)} Node status patches/s)`, beating.samples, beating.cpuPercent, await agentHeap(worker)));

    const restartsAfter = await restarts();
    const pidAfter = (await labStatus(prefix)).clusters[0]?.nodes[1]?.agent?.pid;
    console.log('');
    console.log(`route agent footprint on a worker (${worker.name}), as the DaemonSet runs it; samples every ${SAMPLE_MS / 1000} s`);
    console.log(formatTable(rows));
    console.log(`CPU % is of one core over the phase; heartbeats: ${patches} patches in ${(beating.wallMs / 1000).toFixed(1)} s, reconcile passes meanwhile: ${passesDuring} (a resync every 30 s is one; a heartbeat none)`);
    if (restartsAfter !== restartsBefore || pidAfter !== pid) {
      throw new Error(`the agent was restarted during the run (restartCount ${restartsBefore} -> ${restartsAfter}, pid ${pid} -> ${pidAfter}): the figures mix two processes`);
    }
  } finally {
    if (controllerPid !== undefined) try { process.kill(controllerPid, 'SIGCONT'); } catch { /* gone */ }
    await labDown(prefix);
  }
}

await main();
