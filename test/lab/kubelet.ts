/**
 * One lab node's kubelet: a process inside the node's network namespace (started by `lab up`) that
 * runs the Pods bound to its node from the image `npm run image` built. It resolves each container's
 * environment and volumes (pod-spec.ts), starts it through the lab's container runtime
 * (container-init.ts: chroot into the image, private mounts, the granted capabilities only), probes
 * it (liveness: restart; readiness: the Pod's Ready condition), restarts what exits with Kubernetes'
 * back-off, kills everything a container started when its main process ends (as a cgroup would), and
 * reports each Pod's status to the API server. A Pod deleted gracefully (deletionTimestamp) is stopped
 * with SIGTERM, then SIGKILL after its grace period, and then removed by the kubelet's final DELETE; a
 * force-deleted one is stopped likewise. A DaemonSet's next Pod on the node starts only once the
 * previous one has ended.
 *
 *   node test/lab/kubelet.ts <lab directory> <node name>
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { readlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { API_PORT, type LabPlan } from './addressing.ts';
import { AdminClient } from './apiserver/admin-client.ts';
import type { ContainerInitSpec } from './container-init.ts';
import { PLAN_FILE } from './controller.ts';
import { imageDirFor, loadImage } from './image.ts';
import { REPO_ROOT } from './agents.ts';
import { holdMountNamespace, killMountNamespace, type HeldMountNamespace } from './mount-namespace.ts';
import { labPaths } from './paths.ts';
import { probePort, referencedObjects, resolveContainer, type ContainerSpec, type ImageConfig, type PodObject, type ProbeSpec } from './pod-spec.ts';
import { SocketApi, SocketApiError, type ApiObject } from './socket-api.ts';
import { writeJsonAtomic } from './state.ts';
import { CA_CERT_FILE } from './tls.ts';

const CONTAINER_INIT = fileURLToPath(new URL('./container-init.ts', import.meta.url));
const LOOP_MS = 200;
/** hostPaths that are the machine's own, shared by every lab node (the xtables lock is one per machine, as on a node). */
const SHARED_HOST_PATHS = ['/run/xtables.lock', '/lib/modules', '/sys', '/proc', '/dev'];
/** Kubernetes' crash-loop back-off: 10 s doubling to 5 min; this variable sets another base. */
export const BACKOFF_ENV = 'SEAWAY_LAB_KUBELET_BACKOFF_MS';
const BACKOFF_MAX_FACTOR = 30;

export interface KubeletNodeState {
  pods: Record<string, { uid: string; containers: Record<string, { pid: number | null; restartCount: number; ready: boolean; log: string }> }>;
}

/** Where the kubelet of a node writes which process runs which container (for the lab's tests and `status`). */
export const kubeletStateFile = (nodeDir: string) => join(nodeDir, 'kubelet.json');
/** A hostPath of a lab node on the machine: its own directory tree, but for the machine-wide paths. */
export function nodeHostPath(nodeDir: string, path: string): string {
  return SHARED_HOST_PATHS.some((shared) => path === shared || path.startsWith(`${shared}/`)) ? path : join(nodeDir, 'host', path);
}

interface Terminated { exitCode: number; signal?: string; reason: string; startedAt: string; finishedAt: string }

class Container {
  readonly spec: ContainerSpec;
  readonly log: string;
  child: ChildProcess | undefined;
  pid: number | null = null;
  mountNamespace: HeldMountNamespace | undefined;
  restartCount = 0;
  startedAt: string | undefined;
  lastTerminated: Terminated | undefined;
  waiting: { reason: string; message?: string } = { reason: 'ContainerCreating' };
  imageId = '';
  nextStartAt = 0;
  /** A start in flight (volumes, token, spawn): a stop waits for it, or it would spawn a container for a Pod already gone. */
  starting: Promise<void> | null = null;
  stopping = false;
  ready = false;
  liveFailures = 0;
  readyFailures = 0;
  readySuccesses = 0;
  nextProbe = { liveness: 0, readiness: 0 };
  probing = { liveness: false, readiness: false };
  exited: Promise<void> = Promise.resolve();

  constructor(spec: ContainerSpec, log: string) {
    this.spec = spec;
    this.log = log;
  }
}

class PodRuntime {
  pod: PodObject;
  readonly containers: Container[];
  readonly dir: string;
  readonly since = new Date().toISOString();
  terminating = false;
  readyTransition = this.since;
  lastReady = false;
  reported = '';

  constructor(pod: PodObject, dir: string) {
    this.pod = pod;
    this.dir = dir;
    this.containers = pod.spec.containers.map((spec) => new Container(spec, join(dir, `${spec.name}.log`)));
  }

  get owner(): string | undefined {
    return this.pod.metadata.ownerReferences?.[0]?.uid;
  }
}

export interface KubeletOptions {
  plan: LabPlan;
  labDir: string;
  nodeName: string;
  /** The image a container names, or why it cannot be had (ErrImagePull). */
  image(reference: string): ImageConfig | { error: string };
  backoffMs: number;
  log: (line: string) => void;
}

export class Kubelet {
  readonly #options: KubeletOptions;
  readonly #api: SocketApi;
  readonly #admin: AdminClient;
  readonly #node: { ip: string; dir: string };
  readonly #apiServer: { host: string; port: number };
  readonly #caPem: string;
  readonly #pods = new Map<string, PodRuntime>();
  #lastState = '';

  constructor(options: KubeletOptions) {
    this.#options = options;
    const cluster = options.plan.clusters.find((candidate) => candidate.nodes.some((node) => node.name === options.nodeName));
    const node = cluster?.nodes.find((candidate) => candidate.name === options.nodeName);
    if (!cluster || !node) throw new Error(`lab ${options.plan.options.prefix} has no node ${options.nodeName}`);
    const paths = labPaths(options.plan.options.prefix, dirname(options.labDir));
    const socket = paths.server(cluster.id).socket;
    this.#api = new SocketApi(socket);
    this.#admin = new AdminClient({ socketPath: socket });
    this.#node = { ip: node.ip, dir: paths.node(node.name).dir };
    this.#apiServer = { host: cluster.controlPlane.ip, port: API_PORT };
    this.#caPem = readFileSync(join(options.labDir, CA_CERT_FILE), 'utf8');
  }

  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.#sync();
      } catch (error) {
        this.#options.log(`sync: ${(error as Error).message}`);
      }
      await delay(LOOP_MS, undefined, { signal }).catch(() => undefined);
    }
  }

  async #sync(): Promise<void> {
    const pods = await this.#api.list<ApiObject & PodObject>('/api/v1/pods', { fieldSelector: `spec.nodeName=${this.#options.nodeName}` });
    const seen = new Set<string>();
    for (const pod of pods) {
      seen.add(pod.metadata.uid);
      const runtime = this.#pods.get(pod.metadata.uid);
      if (runtime) runtime.pod = pod;
      else this.#pods.set(pod.metadata.uid, new PodRuntime(pod, join(this.#node.dir, 'pods', `${pod.metadata.namespace}_${pod.metadata.name}_${pod.metadata.uid}`)));
    }
    const now = Date.now();
    for (const [uid, runtime] of this.#pods) {
      // Deleted gracefully (deletionTimestamp): stopped, then removed by the kubelet; force-deleted: stopped.
      const deleting = runtime.pod.metadata.deletionTimestamp !== undefined;
      if (!seen.has(uid) || deleting) {
        if (!runtime.terminating) void this.#terminatePod(runtime, seen.has(uid));
        continue;
      }
      for (const container of runtime.containers) {
        if (container.child === undefined && container.starting === null && now >= container.nextStartAt && !this.#blocked(runtime)) {
          container.starting = this.#start(runtime, container)
            .catch((error: Error) => {
              // The API failed (a token, a ConfigMap): tried again after a pause, not at every turn.
              container.nextStartAt = Date.now() + 1000;
              this.#options.log(`starting ${runtime.pod.metadata.name}/${container.spec.name}: ${error.message}`);
            })
            .finally(() => { container.starting = null; });
        }
        if (container.child !== undefined) {
          await this.#noteMountNamespace(container);
          this.#probe(runtime, container, 'liveness', now);
          this.#probe(runtime, container, 'readiness', now);
        }
      }
      await this.#report(runtime);
    }
    await this.#writeState();
  }

  /** A DaemonSet's new Pod waits for its predecessor on this node to end (one agent per node, one set of host ports). */
  #blocked(runtime: PodRuntime): boolean {
    return [...this.#pods.values()].some((other) => other !== runtime && other.terminating && other.owner !== undefined && other.owner === runtime.owner);
  }

  async #secretData(namespace: string, name: string): Promise<Record<string, string> | undefined> {
    const secret = await this.#api.get<ApiObject & { data?: Record<string, string> }>(`/api/v1/namespaces/${namespace}/secrets/${name}`);
    if (!secret) return undefined;
    return Object.fromEntries(Object.entries(secret.data ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]));
  }

  async #start(runtime: PodRuntime, container: Container): Promise<void> {
    const { pod } = runtime;
    const namespace = pod.metadata.namespace;
    const configMaps = new Map<string, Record<string, string> | undefined>();
    const secrets = new Map<string, Record<string, string> | undefined>();
    const references = referencedObjects(pod.spec);
    for (const name of references.configMaps) {
      const found = await this.#api.get<ApiObject & { data?: Record<string, string> }>(`/api/v1/namespaces/${namespace}/configmaps/${name}`);
      configMaps.set(name, found === undefined ? undefined : found.data ?? {});
    }
    for (const name of references.secrets) secrets.set(name, await this.#secretData(namespace, name));
    // A token per start, as the kubelet's projected token is per Pod: an account made again after an uninstall gets a new one.
    const account = pod.spec.serviceAccountName ?? 'default';
    const token = pod.spec.automountServiceAccountToken === false ? undefined : await this.#admin.token({ serviceAccount: { namespace, name: account } });
    const image = this.#options.image(container.spec.image ?? '');
    if ('error' in image) {
      container.waiting = { reason: 'ErrImagePull', message: image.error };
      container.nextStartAt = Date.now() + this.#options.backoffMs;
      return;
    }
    container.imageId = imageId(image);
    const resolution = resolveContainer(pod, container.spec, image, {
      nodeName: this.#options.nodeName,
      nodeIp: this.#node.ip,
      apiServer: this.#apiServer,
      configMap: (_ns, name) => configMaps.get(name),
      secret: (_ns, name) => secrets.get(name),
      hostPath: (path) => nodeHostPath(this.#node.dir, path),
      podDir: runtime.dir,
      serviceAccount: token === undefined ? undefined : { token, caPem: this.#caPem },
    });
    if (!resolution.ok) {
      container.waiting = { reason: resolution.reason, message: resolution.message };
      container.nextStartAt = Date.now() + 1000;
      return;
    }
    const { launch } = resolution;
    // Deleted while its volumes were being read: nothing to start.
    if (runtime.terminating) return;
    for (const dir of launch.createDirectories) mkdirSync(dir, { recursive: true });
    for (const file of launch.createFiles) {
      mkdirSync(dirname(file), { recursive: true });
      closeSync(openSync(file, 'a'));
    }
    for (const file of launch.files) {
      mkdirSync(dirname(file.path), { recursive: true });
      writeFileSync(file.path, file.content, { mode: file.mode });
      chmodSync(file.path, file.mode);
    }
    const spec: ContainerInitSpec = { rootfs: image.rootfs, scratch: join(runtime.dir, `${container.spec.name}.layer`), launch };
    const specFile = join(runtime.dir, `${container.spec.name}.init.json`);
    writeFileSync(specFile, JSON.stringify(spec), { mode: 0o600 });
    const fd = openSync(container.log, 'a');
    try {
      const child = spawn('unshare', ['--mount', '--propagation', 'private', '--', process.execPath, CONTAINER_INIT, specFile], {
        detached: true,
        stdio: ['ignore', fd, fd],
        env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
      });
      const startedAt = new Date().toISOString();
      container.child = child;
      container.pid = child.pid ?? null;
      container.startedAt = startedAt;
      container.ready = false;
      container.liveFailures = container.readyFailures = container.readySuccesses = 0;
      container.nextProbe = {
        liveness: Date.now() + 1000 * (container.spec.livenessProbe?.initialDelaySeconds ?? 0),
        readiness: Date.now() + 1000 * (container.spec.readinessProbe?.initialDelaySeconds ?? 0),
      };
      container.exited = new Promise<void>((resolve) => {
        child.once('exit', (code, signal) => {
          void this.#onExit(runtime, container, startedAt, code, signal).finally(resolve);
        });
      });
      child.once('error', (error) => this.#options.log(`${pod.metadata.name}/${container.spec.name}: ${error.message}`));
      this.#options.log(`started ${namespace}/${pod.metadata.name} ${container.spec.name} pid ${child.pid}: ${launch.argv.join(' ')}`);
    } finally {
      closeSync(fd);
    }
  }

  /** The container's mount namespace, once its runtime has made it: what is left of it dies with the container. */
  async #noteMountNamespace(container: Container): Promise<void> {
    const { child, pid } = container;
    if (container.mountNamespace !== undefined || pid === null || child === undefined) return;
    const exe = await readlink(`/proc/${pid}/exe`).catch(() => '');
    if (exe.endsWith('/unshare') || exe === '') return;
    // Not reaped after the open (Node reaps on this thread) and not yet ended by #killRest: the pid was still this container's.
    const held = await holdMountNamespace(pid, () => child.exitCode === null && child.signalCode === null && container.child === child && container.mountNamespace === undefined);
    if (held !== undefined) container.mountNamespace = held;
  }

  async #onExit(runtime: PodRuntime, container: Container, startedAt: string, code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    await this.#killRest(container, container.pid);
    const finishedAt = new Date().toISOString();
    const exitCode = code ?? 128 + (signal === 'SIGKILL' ? 9 : signal === 'SIGTERM' ? 15 : 1);
    container.lastTerminated = { exitCode, ...(signal ? { signal } : {}), reason: exitCode === 0 ? 'Completed' : 'Error', startedAt, finishedAt };
    container.child = undefined;
    container.pid = null;
    container.ready = false;
    this.#options.log(`${runtime.pod.metadata.name}/${container.spec.name} exited (${signal ?? `code ${code}`})`);
    if (runtime.terminating) return;
    // restartPolicy Always (the only one a DaemonSet allows), with the crash-loop back-off.
    container.restartCount += 1;
    const ranMs = Date.parse(finishedAt) - Date.parse(startedAt);
    const base = this.#options.backoffMs;
    const wait = ranMs > 10 * base * BACKOFF_MAX_FACTOR ? 0 : Math.min(base * 2 ** Math.min(container.restartCount - 1, 10), base * BACKOFF_MAX_FACTOR);
    container.nextStartAt = Date.now() + wait;
    container.waiting = wait > 0
      ? { reason: 'CrashLoopBackOff', message: `back-off ${Math.round(wait / 1000)}s restarting failed container=${container.spec.name} pod=${runtime.pod.metadata.name}` }
      : { reason: 'ContainerCreating' };
  }

  /** As a cgroup's end: every process still in the container's mount namespace (e.g. a daemon it spawned) is killed. */
  async #killRest(container: Container, pid: number | null): Promise<void> {
    // Its process group first (it leads one: started detached), for what the sync loop never saw.
    if (pid !== null) try { process.kill(-pid, 'SIGKILL'); } catch { /* none left */ }
    const namespace = container.mountNamespace;
    if (namespace === undefined) return;
    container.mountNamespace = undefined;
    await killMountNamespace(namespace);
  }

  async #stopContainer(runtime: PodRuntime, container: Container, why: string): Promise<void> {
    await container.starting;
    const child = container.child;
    if (!child) return;
    // Already being stopped (a failed liveness probe): the caller waits for that stop to end.
    if (container.stopping) {
      await container.exited;
      return;
    }
    container.stopping = true;
    try {
      const graceMs = 1000 * (runtime.pod.metadata.deletionGracePeriodSeconds ?? runtime.pod.spec.terminationGracePeriodSeconds ?? 30);
      this.#options.log(`stopping ${runtime.pod.metadata.name}/${container.spec.name} (${why}; grace ${graceMs} ms)`);
      child.kill('SIGTERM');
      const exited = container.exited;
      const timer = delay(graceMs).then(() => 'timeout' as const);
      if ((await Promise.race([exited.then(() => 'exited' as const), timer])) === 'timeout') {
        child.kill('SIGKILL');
        await exited;
      }
    } finally {
      container.stopping = false;
    }
  }

  async #terminatePod(runtime: PodRuntime, stillListed: boolean): Promise<void> {
    runtime.terminating = true;
    await Promise.all(runtime.containers.map((container) => this.#stopContainer(runtime, container, 'the Pod was deleted')));
    const { namespace, name } = runtime.pod.metadata;
    // The kubelet's final word on a gracefully deleted Pod: its containers have ended, the object may go.
    if (stillListed) {
      try {
        await this.#api.delete(`/api/v1/namespaces/${namespace}/pods/${name}`, { gracePeriodSeconds: 0, preconditions: { uid: runtime.pod.metadata.uid } });
      } catch (error) {
        // 409: a Pod of that name with another uid (the old one already went); anything else is retried.
        if (!(error instanceof SocketApiError && error.status === 409)) {
          this.#options.log(`deleting ${namespace}/${name}: ${(error as Error).message}`);
          runtime.terminating = false;
          return;
        }
      }
    }
    this.#pods.delete(runtime.pod.metadata.uid);
    this.#options.log(`removed ${runtime.pod.metadata.namespace}/${runtime.pod.metadata.name}`);
  }

  #probe(runtime: PodRuntime, container: Container, kind: 'liveness' | 'readiness', now: number): void {
    const probe: ProbeSpec | undefined = kind === 'liveness' ? container.spec.livenessProbe : container.spec.readinessProbe;
    if (!probe) {
      if (kind === 'readiness') container.ready = true;
      return;
    }
    if (container.probing[kind] || now < container.nextProbe[kind] || container.stopping) return;
    container.probing[kind] = true;
    container.nextProbe[kind] = now + 1000 * (probe.periodSeconds ?? 10);
    void this.#httpProbe(container, probe).then((ok) => {
      const failureThreshold = probe.failureThreshold ?? 3;
      if (kind === 'readiness') {
        if (ok) {
          container.readyFailures = 0;
          container.readySuccesses += 1;
          if (container.readySuccesses >= (probe.successThreshold ?? 1)) container.ready = true;
        } else {
          container.readySuccesses = 0;
          container.readyFailures += 1;
          if (container.readyFailures >= failureThreshold) container.ready = false;
        }
        return;
      }
      container.liveFailures = ok ? 0 : container.liveFailures + 1;
      if (container.liveFailures >= failureThreshold) {
        container.liveFailures = 0;
        void this.#stopContainer(runtime, container, `liveness probe failed ${failureThreshold} times`);
      }
    }).finally(() => { container.probing[kind] = false; });
  }

  async #httpProbe(container: Container, probe: ProbeSpec): Promise<boolean> {
    const get = probe.httpGet;
    if (!get) return true;
    const port = probePort(container.spec, get.port);
    if (port === undefined) return false;
    const host = get.host ?? this.#node.ip;
    try {
      const response = await fetch(`${(get.scheme ?? 'HTTP').toLowerCase()}://${host}:${port}${get.path ?? '/'}`, {
        signal: AbortSignal.timeout(1000 * (probe.timeoutSeconds ?? 1)),
      });
      await response.arrayBuffer();
      return response.status >= 200 && response.status < 400;
    } catch {
      return false;
    }
  }

  async #report(runtime: PodRuntime): Promise<void> {
    if (runtime.terminating) return;
    const { pod } = runtime;
    const ready = runtime.containers.every((container) => container.child !== undefined && container.ready);
    if (ready !== runtime.lastReady) {
      runtime.lastReady = ready;
      runtime.readyTransition = new Date().toISOString();
    }
    const running = runtime.containers.some((container) => container.child !== undefined);
    const condition = (type: string, status: boolean, at = runtime.since) => ({ type, status: status ? 'True' : 'False', lastProbeTime: null, lastTransitionTime: at });
    const status = {
      phase: running || runtime.containers.some((container) => container.restartCount > 0) ? 'Running' : 'Pending',
      conditions: [
        condition('PodScheduled', true),
        condition('Initialized', true),
        condition('ContainersReady', ready, runtime.readyTransition),
        condition('Ready', ready, runtime.readyTransition),
      ],
      hostIP: this.#node.ip,
      hostIPs: [{ ip: this.#node.ip }],
      podIP: this.#node.ip,
      podIPs: [{ ip: this.#node.ip }],
      startTime: runtime.since,
      containerStatuses: runtime.containers.map((container) => ({
        name: container.spec.name,
        image: container.spec.image ?? '',
        imageID: container.imageId,
        containerID: container.pid === null ? undefined : `lab://${container.pid}`,
        ready: container.child !== undefined && container.ready,
        started: container.child !== undefined,
        restartCount: container.restartCount,
        state: container.child !== undefined
          ? { running: { startedAt: container.startedAt } }
          : { waiting: container.waiting },
        lastState: container.lastTerminated ? { terminated: container.lastTerminated } : {},
      })),
    };
    const text = JSON.stringify(status);
    if (text === runtime.reported) return;
    try {
      await this.#api.mergePatch(`/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}/status`, { status });
      runtime.reported = text;
    } catch (error) {
      this.#options.log(`status of ${pod.metadata.name}: ${(error as Error).message}`);
    }
  }

  async #writeState(): Promise<void> {
    const state: KubeletNodeState = { pods: {} };
    for (const runtime of this.#pods.values()) {
      if (runtime.terminating) continue;
      state.pods[`${runtime.pod.metadata.namespace}/${runtime.pod.metadata.name}`] = {
        uid: runtime.pod.metadata.uid,
        containers: Object.fromEntries(runtime.containers.map((container) => [container.spec.name, {
          pid: container.child === undefined ? null : container.pid, restartCount: container.restartCount, ready: container.ready, log: container.log,
        }])),
      };
    }
    const text = JSON.stringify(state);
    if (text === this.#lastState) return;
    try {
      await writeJsonAtomic(kubeletStateFile(this.#node.dir), state);
      this.#lastState = text;
    } catch (error) {
      this.#options.log(`state: ${(error as Error).message}`);
    }
  }
}

function imageId(image: ImageConfig): string {
  return `sha256:${createHash('sha256').update(JSON.stringify(image)).digest('hex')}`;
}

if (import.meta.main) {
  const [labDir, nodeName] = process.argv.slice(2);
  if (!labDir || !nodeName) {
    process.stderr.write('usage: kubelet.ts <lab directory> <node name>\n');
    process.exit(2);
  }
  const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  const plan = JSON.parse(readFileSync(join(labDir, PLAN_FILE), 'utf8')) as LabPlan;
  const version = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const images = new Map<string, ImageConfig>();
  const image = (reference: string): ImageConfig | { error: string } => {
    const dir = imageDirFor(reference, version);
    if (typeof dir !== 'string') return dir;
    let loaded = images.get(dir);
    if (!loaded) {
      try {
        loaded = loadImage(dir);
      } catch (error) {
        return { error: (error as Error).message };
      }
      images.set(dir, loaded);
    }
    return loaded;
  };
  const kubelet = new Kubelet({ plan, labDir, nodeName, image, log, backoffMs: Number(process.env[BACKOFF_ENV] ?? 10_000) });
  const abort = new AbortController();
  // Like a real kubelet's restart: its containers go on running (the lab's `down` ends them).
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => abort.abort());
  await kubelet.run(abort.signal);
}
