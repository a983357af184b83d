/**
 * The lab controller: one detached process per lab, in the root namespace, started by `up`.
 * It runs the loopback forwarders to the API servers, the simulated kubelet (Node objects
 * NotReady, then Ready after the delay) and the simulated CNI (pod networking after its delay),
 * and records when each happened in progress.json, of which it is the only writer.
 *
 *   node test/lab/controller.ts <lab directory>
 */
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { ClusterPlan, LabPlan, NodePlan } from './addressing.ts';
import { cniSteps, runCni } from './cni-sim.ts';
import { syncDaemonSets } from './daemonset-controller.ts';
import { forwardLoopbackToUnix, type Forwarder } from './forward.ts';
import { patchStatus, registerNode } from './kubelet-sim.ts';
import { labPaths, type LabPaths } from './paths.ts';
import { SocketApi } from './socket-api.ts';
import { writeJsonAtomic, type LabProgress, type NodeProgress } from './state.ts';

export const PLAN_FILE = 'plan.json';
const MAX_ERRORS = 20;
const DAEMONSET_SYNC_MS = 250;

export interface ControllerHandle {
  progress: LabProgress;
  done: Promise<void>;
  stop(): Promise<void>;
}

/** Retries until it succeeds or the signal aborts: the lab's API servers may be slow to start or faulted on purpose. */
async function retryForever<T>(what: string, fn: () => Promise<T>, signal: AbortSignal, onError: (message: string) => void): Promise<T> {
  let wait = 100;
  for (;;) {
    signal.throwIfAborted();
    try {
      return await fn();
    } catch (error) {
      if (signal.aborted) throw error;
      onError(`${what}: ${(error as Error).message} (retrying in ${wait} ms)`);
      await delay(wait * (0.5 + Math.random()), undefined, { signal });
      wait = Math.min(wait * 2, 3000);
    }
  }
}

export async function startController(plan: LabPlan, paths: LabPaths, log: (line: string) => void): Promise<ControllerHandle> {
  const abort = new AbortController();
  const { signal } = abort;
  const progress: LabProgress = { pid: process.pid, localUrls: {}, nodes: {}, errors: [] };
  let saving = Promise.resolve();
  const save = () => {
    saving = saving.then(() => writeJsonAtomic(paths.progress, progress)).catch((error: Error) => log(`saving progress: ${error.message}`));
    return saving;
  };
  const recordError = (message: string) => {
    log(message);
    progress.errors = [...progress.errors, `${new Date().toISOString()} ${message}`].slice(-MAX_ERRORS);
    void save();
  };

  const forwarders: Forwarder[] = [];
  try {
    for (const id of ['broker', ...plan.clusters.map((cluster) => cluster.id)]) {
      // TLS end to end: the forwarder only pipes bytes to the server's HTTPS socket.
      const forwarder = await forwardLoopbackToUnix(paths.server(id).tlsSocket, 'https');
      forwarders.push(forwarder);
      progress.localUrls[id] = forwarder.url;
    }
  } catch (error) {
    await Promise.all(forwarders.map((forwarder) => forwarder.close()));
    throw error;
  }
  for (const cluster of plan.clusters) for (const node of cluster.nodes) progress.nodes[node.name] = {};
  await save();

  const lifecycle = async (cluster: ClusterPlan, node: NodePlan) => {
    const seen = progress.nodes[node.name] as NodeProgress;
    const socket = paths.server(cluster.id).socket;
    await retryForever(`registering Node ${node.name}`, () => registerNode(socket, node, new Date()), signal, recordError);
    seen.registeredAt = new Date().toISOString();
    log(`${node.name}: registered NotReady`);
    await save();
    await delay(plan.options.nodeReadyDelay * 1000, undefined, { signal });
    const readyAt = await retryForever(`marking Node ${node.name} Ready`, async () => {
      const now = new Date();
      await patchStatus(socket, node, true, now);
      return now;
    }, signal, recordError);
    seen.readyAt = readyAt.toISOString();
    log(`${node.name}: Ready`);
    await save();
    if (plan.options.cniDelay === null) return;
    await delay(plan.options.cniDelay * 1000, undefined, { signal });
    // Not retried: a half-done CNI set-up cannot be redone blindly; the error is reported instead.
    try {
      await runCni(cniSteps(plan, cluster, node));
    } catch (error) {
      recordError(`CNI on ${node.name}: ${(error as Error).message}`);
      return;
    }
    seen.cniAt = new Date().toISOString();
    log(`${node.name}: CNI interface ${plan.options.cniInterface} up`);
    await save();
  };

  // Each cluster's DaemonSet controller: Pods for the lab's kubelets to run (lab up --deploy manifests).
  const daemonSets = async (cluster: ClusterPlan) => {
    const api = new SocketApi(paths.server(cluster.id).socket);
    let lastError = '';
    while (!signal.aborted) {
      try {
        await syncDaemonSets(api, (line) => log(`${cluster.id}: ${line}`));
        lastError = '';
      } catch (error) {
        // Reported once per distinct error: a faulted API server must not flood the log.
        if ((error as Error).message !== lastError && !signal.aborted) recordError(`DaemonSets of ${cluster.id}: ${(error as Error).message}`);
        lastError = (error as Error).message;
      }
      await delay(DAEMONSET_SYNC_MS, undefined, { signal }).catch(() => undefined);
    }
  };

  const done = Promise.all([
    ...plan.clusters.flatMap((cluster) => cluster.nodes.map((node) => lifecycle(cluster, node))),
    ...plan.clusters.map((cluster) => daemonSets(cluster)),
  ])
    .then(() => undefined)
    .catch((error: Error) => {
      if (!signal.aborted) log(`controller: ${error.message}`);
    });

  return {
    progress,
    done,
    async stop() {
      abort.abort();
      await done;
      await Promise.all(forwarders.map((forwarder) => forwarder.close()));
      await saving;
    },
  };
}

async function main(labDir: string): Promise<void> {
  const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  const plan = JSON.parse(await readFile(join(labDir, PLAN_FILE), 'utf8')) as LabPlan;
  const paths = labPaths(basename(labDir), dirname(labDir));
  const controller = await startController(plan, paths, log);
  log(`controller ${process.pid} running for lab ${plan.options.prefix}`);
  const shutdown = (signalName: string) => {
    log(`${signalName}: stopping`);
    void controller.stop().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

if (import.meta.main) {
  const labDir = process.argv[2];
  if (!labDir) {
    process.stderr.write('usage: node test/lab/controller.ts <lab directory>\n');
    process.exit(2);
  }
  main(labDir).catch((error: Error) => {
    process.stderr.write(`lab controller failed: ${error.stack ?? error.message}\n`);
    process.exit(1);
  });
}
