/**
 * The lab's library API: simulated clusters of network namespaces on this machine.
 *
 *   const status = await labUp({ prefix: 'swb1', clusters: 2, nodes: 3, agents: false, wait: true });
 *   ...
 *   await labDown('swb1');
 */
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readlink, realpath, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireTools } from '../helpers/prereq.ts';
import { isLabNamespace, planLab, validatePrefix, API_PORT, type ClusterPlan, type LabOptions, type LabPlan, type NodePlan } from './addressing.ts';
import { AGENT_ENTRY, REPO_ROOT, SUBMARINER_NAMESPACE, agentLaunch, gatewayLaunch, type AgentLaunch } from './agents.ts';
import { SUBMARINER_CRDS_FILE } from './apiserver/crd-files.ts';
import { PLAN_FILE } from './controller.ts';
import { kubeconfig } from './kubeconfig.ts';
import { DEFAULT_LAB_ROOT, labPaths, type LabPaths } from './paths.ts';
import { findLabProcesses, hasLabMarker, isAlive, readListeningLine, spawnDetached, terminate, waitFor } from './processes.ts';
import { buildStatus, readJsonIfExists, writeJsonAtomic, type AgentInfo, type LabProgress, type LabState, type LabStatus, type ProcessInfo } from './state.ts';
import { publishSubmarinerObjects } from './submariner-sim.ts';
import { buildTopology, deleteNetns, listNetns } from './topology.ts';
import { createLabCa, issueServerCertificate } from './tls.ts';
import { AdminClient } from './apiserver/admin-client.ts';
import { deploySeaway, GATEWAY_DAEMONSET, MANIFESTS_DIR, ROUTE_AGENT_DAEMONSET, type PodTimers } from './deploy.ts';
import { kubeletStateFile, nodeHostPath, type KubeletNodeState } from './kubelet.ts';
import { applyManifestFile, applyManifests, BROKER_RBAC, brokerClusterAccess, GATEWAY_ACCOUNT, GATEWAY_RBAC, ROUTE_AGENT_ACCOUNT, ROUTE_AGENT_RBAC } from './manifests.ts';

export const DEFAULT_PREFIX = 'sw';
const APISERVER_CLI = fileURLToPath(new URL('./apiserver/cli.ts', import.meta.url));
const CONTROLLER = fileURLToPath(new URL('./controller.ts', import.meta.url));
const KUBELET = fileURLToPath(new URL('./kubelet.ts', import.meta.url));
/** Where the DaemonSets' agents serve /healthz, /readyz and /metrics (their default ports) and their status sockets (manifests/). */
const DEPLOYED = {
  agent: { port: 9082, socket: '/run/seaway/route-agent.sock', daemonSet: ROUTE_AGENT_DAEMONSET },
  gateway: { port: 9083, socket: '/run/seaway/gateway.sock', daemonSet: GATEWAY_DAEMONSET },
} as const;
const START_TIMEOUT_MS = 30_000;

export interface LabUpOptions extends Partial<Omit<LabOptions, 'prefix'>> {
  prefix?: string;
  /** Start seaway in every node (default true). */
  agents?: boolean;
  /**
   * How seaway starts (default `processes`): `manifests` deploys it as an operator does (kubectl apply of
   * manifests/, each node's kubelet running the DaemonSets' Pods from the image); `processes` starts the
   * agents directly as processes in the node namespaces, for tests that stop and start them by hand.
   */
  deploy?: 'manifests' | 'processes';
  /** With deploy `manifests`: the directory applied (default manifests/; a test gives a broken copy). */
  manifestsDir?: string;
  /** With deploy `manifests`: shorter probe timers and termination grace per DaemonSet name. */
  podTimers?: Record<string, PodTimers>;
  /** The route agent's RBAC applied to every cluster (default manifests/02-rbac-route-agent.yaml): a test gives a copy missing a verb. */
  routeAgentRbac?: string;
  /** Extra environment for every agent (e.g. SEAWAY_LOG_LEVEL), on top of the DaemonSet's. */
  agentEnv?: Record<string, string>;
  /** Extra environment for every `seaway gateway` (e.g. SEAWAY_LEASE_DURATION_SECONDS). */
  gatewayEnv?: Record<string, string>;
  /** Resolve only once every Node is Ready and (unless the CNI never comes) every CNI is up. */
  wait?: boolean;
  waitTimeoutMs?: number;
  /** Directory holding one directory per lab (default /tmp/seaway-lab). */
  root?: string;
  /** The API server's CLI (default test/lab/apiserver/cli.ts), to try the lab with another build of it. */
  apiserverCli?: string;
}

export interface LabLocation {
  root?: string;
}

export async function labUp(options: LabUpOptions = {}): Promise<LabStatus> {
  const {
    agents = true, agentEnv = {}, gatewayEnv = {}, wait = false, root = DEFAULT_LAB_ROOT, waitTimeoutMs, apiserverCli = APISERVER_CLI, routeAgentRbac = ROUTE_AGENT_RBAC,
    deploy = 'processes', manifestsDir = MANIFESTS_DIR, podTimers = {}, ...rest
  } = options;
  const plan = planLab({ ...rest, prefix: options.prefix ?? DEFAULT_PREFIX });
  const prefix = plan.options.prefix;
  requireTools('ip', 'iptables', 'sysctl', 'openssl');
  if (agents && !existsSync(AGENT_ENTRY)) {
    throw new Error(`cannot start agents: ${AGENT_ENTRY} does not exist yet; bring the lab up without agents (--no-agents)`);
  }
  const paths = labPaths(prefix, root);
  await labDown(prefix, { root });
  const createdAt = new Date().toISOString();
  try {
    await makeDirectories(plan, paths);
    await writeJsonAtomic(`${paths.dir}/${PLAN_FILE}`, plan);
    await buildTopology(plan);

    // One CA per lab; each API server's certificate is valid for its lab address and for the
    // loopback forwarder the root namespace reaches it through.
    const ca = await createLabCa(paths.dir, prefix);
    const apiservers: LabState['apiservers'] = {};
    const servers = [
      { id: 'broker', namespace: plan.broker.namespace, host: plan.broker.ip, url: plan.broker.url },
      ...plan.clusters.map((cluster) => ({ id: cluster.id, namespace: cluster.controlPlane.namespace, host: cluster.controlPlane.ip, url: cluster.controlPlane.url })),
    ];
    await Promise.all(servers.map(async (server) => {
      const serverPaths = paths.server(server.id);
      const cert = await issueServerCertificate(ca, serverPaths.dir, 'apiserver', {
        commonName: `${prefix}-${server.id}`, ips: [server.host, '127.0.0.1'], dnsNames: ['localhost'],
      });
      const pid = await spawnDetached({
        file: 'ip',
        args: [
          'netns', 'exec', server.namespace, process.execPath, apiserverCli, '--host', server.host, '--port', String(API_PORT), '--socket', serverPaths.socket,
          '--tls-cert', cert.certPath, '--tls-key', cert.keyPath, '--tls-socket', serverPaths.tlsSocket, '--access',
          // Submariner's CRDs as shipped: the submariner.io kinds are served from them, as on a cluster with Submariner installed.
          '--crds', SUBMARINER_CRDS_FILE,
        ],
        env: process.env,
        cwd: REPO_ROOT,
        log: serverPaths.log,
        pidFile: paths.pidFile(`apiserver-${server.id}`),
        labDir: paths.dir,
      });
      apiservers[server.id] = { pid, log: serverPaths.log, socket: serverPaths.socket };
      await waitForStart(`the ${server.id} API server`, pid, serverPaths.log, () => readListeningLine(serverPaths.log));
    }));

    if (plan.options.endpoints) await publishSubmarinerObjects(plan, (id) => paths.server(id).socket);

    const controllerPid = await spawnDetached({
      file: process.execPath,
      args: [CONTROLLER, paths.dir],
      env: process.env,
      cwd: REPO_ROOT,
      log: paths.controllerLog,
      pidFile: paths.pidFile('controller'),
      labDir: paths.dir,
    });
    const controller: ProcessInfo = { pid: controllerPid, log: paths.controllerLog };
    const progress = await waitForStart('the lab controller', controllerPid, paths.controllerLog, async () => {
      const value = await readJsonIfExists<LabProgress>(paths.progress);
      return value?.pid === controllerPid ? value : undefined;
    });

    // As on a real cluster: the operator's kubeconfig carries an administrator's token; the route
    // agents' and the gateway's their service accounts', allowed exactly what manifests/ grants
    // them; each cluster's broker credentials are its `cluster-<id>` account's on the broker.
    const brokerSocket = paths.server('broker').socket;
    await applyManifestFile(brokerSocket, BROKER_RBAC);
    const brokerAdmin = new AdminClient({ socketPath: brokerSocket });
    const brokerName = `${prefix}-broker`;
    for (const server of servers) {
      const serverPaths = paths.server(server.id);
      const admin = new AdminClient({ socketPath: serverPaths.socket });
      const name = `${prefix}-${server.id}`;
      const write = (file: string, url: string, token: string, context = name) =>
        writeFile(file, `${JSON.stringify(kubeconfig(context, url, ca.certPem, token), null, 2)}\n`, { mode: 0o600 });
      await write(serverPaths.kubeconfig, progress.localUrls[server.id] as string, await admin.token({ admin: `${prefix}-admin` }));
      if (server.id === 'broker') continue;
      if (deploy === 'processes') {
        await applyManifestFile(serverPaths.socket, routeAgentRbac);
        await applyManifestFile(serverPaths.socket, GATEWAY_RBAC);
      }
      await write(serverPaths.agentKubeconfig, server.url, await admin.token({ serviceAccount: ROUTE_AGENT_ACCOUNT }));
      await write(serverPaths.gatewayKubeconfig, server.url, await admin.token({ serviceAccount: GATEWAY_ACCOUNT }));
      const joined = brokerClusterAccess(server.id);
      await applyManifests(brokerSocket, joined.manifests, `the broker access of ${server.id}`);
      await write(serverPaths.brokerKubeconfig, plan.broker.url, await brokerAdmin.token({ serviceAccount: joined.account }), brokerName);
    }

    // One PSK for every cluster, as Submariner's broker hands the same one to every joining cluster.
    await writeFile(paths.psk, `${randomBytes(48).toString('base64')}\n`, { mode: 0o600 });
    const agentInfo: LabState['agents'] = {};
    const gatewayInfo: NonNullable<LabState['gateways']> = {};
    if (deploy === 'manifests') {
      // Every node runs its kubelet, whether or not seaway is installed yet (installSeaway does that).
      for (const cluster of plan.clusters) {
        for (const node of cluster.nodes) {
          await spawnDetached({
            file: 'ip',
            args: ['netns', 'exec', node.namespace, process.execPath, KUBELET, paths.dir, node.name],
            env: process.env,
            cwd: REPO_ROOT,
            log: join(paths.node(node.name).dir, 'kubelet.log'),
            pidFile: paths.pidFile(`kubelet-${node.name}`),
            labDir: paths.dir,
          });
        }
      }
      if (agents) await installInto(plan, paths, { manifestsDir, agentEnv, gatewayEnv, podTimers });
    } else if (agents) {
      for (const cluster of plan.clusters) {
        for (const node of cluster.nodes) {
          agentInfo[node.name] = await spawnAgent(paths, agentLaunch(cluster, node, paths, process.execPath), `agent-${node.name}`, agentEnv);
          if (!plan.options.endpoints && node.gatewayCapable) {
            gatewayInfo[node.name] = await spawnAgent(paths, gatewayLaunch(cluster, node, paths, process.execPath), `gateway-${node.name}`, gatewayEnv);
          }
        }
      }
    }

    const state: LabState = { prefix, dir: paths.dir, createdAt, plan, controller, apiservers, agents: agentInfo, gateways: gatewayInfo, deploy };
    await writeJsonAtomic(paths.state, state);
    if (wait) await waitForLab(prefix, { root, timeoutMs: waitTimeoutMs });
    // Installed from manifests: also until the kubelets run every agent (running, not necessarily Ready).
    if (wait && agents && deploy === 'manifests') await waitForDeployedAgents(prefix, { root, timeoutMs: waitTimeoutMs });
    return await labStatus(prefix, { root });
  } catch (error) {
    await labDown(prefix, { root });
    throw error;
  }
}

export interface InstallOptions extends LabLocation {
  /** The directory applied (default manifests/). */
  manifestsDir?: string;
  /** Only these clusters (default all). */
  clusters?: string[];
  agentEnv?: Record<string, string>;
  gatewayEnv?: Record<string, string>;
  podTimers?: Record<string, PodTimers>;
}

/**
 * Installs seaway into a lab that runs kubelets (deploy `manifests`) as an operator does: the
 * seaway-cluster ConfigMap and the two Secrets, then `kubectl apply -f` of the manifests. Again after an
 * uninstall, it is the reinstall.
 */
export async function installSeaway(prefix: string, options: InstallOptions = {}): Promise<void> {
  const { state, paths } = await readState(prefix, options);
  if (state.deploy !== 'manifests') throw new Error(`lab ${prefix} starts seaway as processes: bring it up with deploy 'manifests' to install from manifests/`);
  await installInto(state.plan, paths, options);
}

async function installInto(plan: LabPlan, paths: LabPaths, options: InstallOptions): Promise<void> {
  const { manifestsDir = MANIFESTS_DIR, agentEnv = {}, gatewayEnv = {}, podTimers = {} } = options;
  const psk = await readFile(paths.psk, 'utf8');
  for (const cluster of plan.clusters.filter((candidate) => !options.clusters || options.clusters.includes(candidate.id))) {
    const serverPaths = paths.server(cluster.id);
    await deploySeaway({
      cluster, socket: serverPaths.socket, kubeconfig: serverPaths.kubeconfig, psk, brokerKubeconfig: await readFile(serverPaths.brokerKubeconfig, 'utf8'),
      workDir: join(serverPaths.dir, 'manifests'), manifestsDir,
      render: {
        env: { [ROUTE_AGENT_DAEMONSET]: agentEnv, [GATEWAY_DAEMONSET]: gatewayEnv },
        // Simulated Endpoints stand in for the gateways.
        omit: plan.options.endpoints ? [GATEWAY_DAEMONSET] : [],
        timers: podTimers,
      },
    });
  }
}

async function spawnAgent(paths: LabPaths, launch: AgentLaunch, pidName: string, extraEnv: Record<string, string>): Promise<AgentInfo> {
  const pid = await spawnDetached({
    file: launch.file,
    args: launch.args,
    env: { ...process.env, ...launch.env, ...extraEnv },
    cwd: launch.cwd,
    log: launch.info.log,
    pidFile: paths.pidFile(pidName),
    labDir: paths.dir,
  });
  await waitForExec(pid, process.execPath, launch.info.log);
  return { pid, ...launch.info };
}

/**
 * `ip netns exec` enters the namespace and then execs Node: until then the pid is still `ip`, in
 * the root namespace, and during the exec its environment reads empty. Callers get the agent.
 */
async function waitForExec(pid: number, execPath: string, log: string): Promise<void> {
  const target = await realpath(execPath);
  await waitFor(`agent ${pid} to exec ${target}`, async () => {
    if (!isAlive(pid)) throw new Error(`agent ${pid} exited right after start; see ${log}`);
    const exe = await readlink(`/proc/${pid}/exe`).catch(() => undefined);
    return exe === target ? true : undefined;
  }, 10_000, 5);
}

function findNode(state: LabState, nodeName: string): { cluster: ClusterPlan; node: NodePlan } {
  for (const cluster of state.plan.clusters) {
    const node = cluster.nodes.find((candidate) => candidate.name === nodeName);
    if (node) return { cluster, node };
  }
  throw new Error(`lab ${state.prefix} has no node ${JSON.stringify(nodeName)}`);
}

async function readState(prefix: string, location: LabLocation): Promise<{ state: LabState; paths: LabPaths }> {
  const paths = labPaths(validatePrefix(prefix), location.root);
  const state = await readJsonIfExists<LabState>(paths.state);
  if (state === null) throw new Error(`no lab with prefix ${prefix} (${paths.state} does not exist); start one with: npm run lab -- up --prefix ${prefix}`);
  if (state.deploy === 'manifests') await readDeployedAgents(state, paths);
  return { state, paths };
}

export interface AgentControl extends LabLocation {
  /** Signal for stopAgent (default SIGTERM; SIGKILL to simulate a crash). */
  signal?: NodeJS.Signals;
  /** Extra environment for startAgent. */
  env?: Record<string, string>;
  /** Which of the node's processes: the route agent (default) or `seaway gateway`. */
  role?: 'agent' | 'gateway';
  /** How long stopAgent waits for the exit (default 10 s; a gateway's handover may take its shutdown timeout). */
  exitTimeoutMs?: number;
}

const processesOf = (state: LabState, role: 'agent' | 'gateway'): Record<string, AgentInfo> =>
  role === 'agent' ? state.agents : (state.gateways ??= {});

/** Stops one node's agent (or gateway) and waits until it has exited; the datapath it programmed stays. */
export async function stopAgent(prefix: string, nodeName: string, control: AgentControl = {}): Promise<void> {
  const role = control.role ?? 'agent';
  const { state, paths } = await readState(prefix, control);
  findNode(state, nodeName);
  const agent = processesOf(state, role)[nodeName];
  if (!agent) return;
  if (isAlive(agent.pid) && (await hasLabMarker(agent.pid, paths.dir))) {
    try { process.kill(agent.pid, control.signal ?? 'SIGTERM'); } catch { /* exited meanwhile */ }
    await waitFor(`${role} of ${nodeName} (pid ${agent.pid}) to exit`, async () => (isAlive(agent.pid) ? undefined : true), control.exitTimeoutMs ?? 10_000);
  }
  delete processesOf(state, role)[nodeName];
  await writeJsonAtomic(paths.state, state);
  await rm(paths.pidFile(`${role}-${nodeName}`), { force: true });
}

/** Starts (or restarts, after stopping the running one) one node's agent (or gateway); its log is appended to. */
export async function startAgent(prefix: string, nodeName: string, control: AgentControl = {}): Promise<AgentInfo> {
  const role = control.role ?? 'agent';
  if ((await readState(prefix, control)).state.deploy === 'manifests') {
    throw new Error(`lab ${prefix} runs seaway from its DaemonSets: their Pods are the kubelet's to start (a stopped agent restarts by itself)`);
  }
  await stopAgent(prefix, nodeName, control);
  const { state, paths } = await readState(prefix, control);
  const { cluster, node } = findNode(state, nodeName);
  if (!existsSync(AGENT_ENTRY)) throw new Error(`cannot start the agent: ${AGENT_ENTRY} does not exist`);
  if (role === 'gateway' && !node.gatewayCapable) throw new Error(`${nodeName} is not gateway-capable in lab ${prefix}`);
  const launch = role === 'agent' ? agentLaunch(cluster, node, paths, process.execPath) : gatewayLaunch(cluster, node, paths, process.execPath);
  const agent = await spawnAgent(paths, launch, `${role}-${nodeName}`, control.env ?? {});
  processesOf(state, role)[nodeName] = agent;
  await writeJsonAtomic(paths.state, state);
  return agent;
}

/** A deployed lab's agents are the kubelets' containers: which process runs them now, from each kubelet's state. */
async function readDeployedAgents(state: LabState, paths: LabPaths): Promise<void> {
  state.agents = {};
  state.gateways = {};
  for (const cluster of state.plan.clusters) {
    for (const node of cluster.nodes) {
      const nodeDir = paths.node(node.name).dir;
      const kubelet = await readJsonIfExists<KubeletNodeState>(kubeletStateFile(nodeDir));
      for (const role of ['agent', 'gateway'] as const) {
        const deployed = DEPLOYED[role];
        const pod = Object.entries(kubelet?.pods ?? {}).find(([name]) => name.startsWith(`${SUBMARINER_NAMESPACE}/${deployed.daemonSet}-`))?.[1];
        const container = pod ? Object.values(pod.containers)[0] : undefined;
        if (!container || container.pid === null) continue;
        processesOf(state, role)[node.name] = {
          pid: container.pid, healthUrl: `http://${node.ip}:${deployed.port}`, socket: nodeHostPath(nodeDir, deployed.socket), log: container.log,
        };
      }
    }
  }
}

async function makeDirectories(plan: LabPlan, paths: LabPaths): Promise<void> {
  // Another lab's `down` may remove the (then empty) shared root between our mkdir calls: try again.
  for (let attempt = 1; ; attempt++) {
    try {
      await mkdir(paths.pids, { recursive: true });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 5) throw error;
    }
  }
  await mkdir(paths.server('broker').dir, { recursive: true });
  for (const cluster of plan.clusters) {
    await mkdir(paths.server(cluster.id).dir, { recursive: true });
    for (const node of cluster.nodes) await mkdir(paths.node(node.name).dir, { recursive: true });
  }
}

/** Waits for a started process to say it is up; fails early, with its log, if it exits first. */
async function waitForStart<T>(what: string, pid: number, log: string, probe: () => Promise<T | undefined>): Promise<T> {
  try {
    return await waitFor(what, async () => {
      const value = await probe();
      if (value !== undefined) return value;
      if (!isAlive(pid)) {
        throw new Error('it exited before it was up');
      }
      return undefined;
    }, START_TIMEOUT_MS);
  } catch (error) {
    const tail = (await readFile(log, 'utf8').catch(() => '')).trim().split('\n').slice(-15).join('\n');
    throw new Error(`${what} did not start: ${(error as Error).message}; its log ${log} ends:\n${tail}`);
  }
}

export async function labStatus(prefix: string = DEFAULT_PREFIX, location: LabLocation = {}): Promise<LabStatus> {
  const { state, paths } = await readState(prefix, location);
  const status = buildStatus(state, await readJsonIfExists<LabProgress>(paths.progress), paths);
  status.controllerRunning = isAlive(state.controller.pid) && (await hasLabMarker(state.controller.pid, paths.dir));
  return status;
}

export interface WaitOptions extends LabLocation {
  /** Also wait for every CNI (default: when the lab's CNI ever comes). */
  cni?: boolean;
  timeoutMs?: number;
}

/**
 * Resolves once every Node is Ready and, if asked, every node's CNI is up. Fails at once when that
 * cannot happen any more (the controller exited, or a node's CNI failed: it is not retried), and
 * says on failure which nodes were still waited for and what the controller reported: the lab is
 * removed after a failed `up`, its logs with it.
 */
export async function waitForLab(prefix: string, options: WaitOptions = {}): Promise<LabStatus> {
  const first = await labStatus(prefix, options);
  const cni = options.cni ?? first.options.cniDelay !== null;
  const { nodeReadyDelay, cniDelay } = first.options;
  const timeoutMs = options.timeoutMs ?? 30_000 + 1000 * (nodeReadyDelay + (cni ? cniDelay ?? 0 : 0));
  let last = first;
  try {
    return await waitFor(`lab ${prefix}: every Node Ready${cni ? ' and every CNI up' : ''}`, async () => {
      const status = last = await labStatus(prefix, options);
      const { notReady, noCni } = awaitedNodes(status, cni);
      if (notReady.length === 0 && noCni.length === 0) return status;
      if (status.controllerRunning === false) throw new Error(`lab ${prefix}: its controller (pid ${status.controller.pid}) is not running`);
      // As the controller records it: `<time> CNI on <node>: <error>`.
      if (cni && status.controllerErrors.some((line) => /^\S+ CNI on \S+: /.test(line))) throw new Error(`lab ${prefix}: a node's CNI failed, and it is not retried`);
      return undefined;
    }, timeoutMs, 50);
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${await describeWaiting(last, cni)}`, { cause: error });
  }
}

/** The nodes not Ready yet and, when the CNI is awaited, those without it. */
function awaitedNodes(status: LabStatus, cni: boolean): { notReady: string[]; noCni: string[] } {
  const nodes = status.clusters.flatMap((cluster) => cluster.nodes);
  return {
    notReady: nodes.filter((node) => node.readyAt === null).map((node) => node.name),
    noCni: cni ? nodes.filter((node) => node.cniAt === null).map((node) => node.name) : [],
  };
}

/** What a lab still waits for, and the controller's own account: its recorded errors and its log's last lines. */
async function describeWaiting(status: LabStatus, cni: boolean): Promise<string> {
  const { notReady, noCni } = awaitedNodes(status, cni);
  const log = await readFile(status.controller.log, 'utf8').catch((error: Error) => `(unreadable: ${error.message})`);
  return [
    `  not Ready: ${notReady.join(', ') || 'none'}${cni ? `; CNI not up: ${noCni.join(', ') || 'none'}` : ''}`,
    `  controller running: ${status.controllerRunning}; its errors: ${status.controllerErrors.length === 0 ? 'none' : ''}`,
    ...status.controllerErrors.map((line) => `    ${line}`),
    '  the last lines of its log:',
    ...log.trimEnd().split('\n').slice(-20).map((line) => `    ${line}`),
  ].join('\n');
}

/** Resolves once each node's kubelet runs its route agent, and its gateway where one belongs (deploy `manifests`). */
export async function waitForDeployedAgents(prefix: string, options: WaitOptions = {}): Promise<LabStatus> {
  return waitFor(`lab ${prefix}: every node's agents started by its kubelet`, async () => {
    const status = await labStatus(prefix, options);
    const nodes = status.clusters.flatMap((cluster) => cluster.nodes);
    return nodes.every((node) => node.agent && (!node.gatewayCapable || status.options.endpoints || node.gateway)) ? status : undefined;
  }, options.timeoutMs ?? 90_000, 100);
}

export interface DownReport {
  namespaces: string[];
  processes: number[];
}

/**
 * Removes every namespace, process and file of a lab, also what a crashed run left behind;
 * idempotent. Only namespaces with the shape of this prefix's lab namespaces are touched.
 */
export async function labDown(prefix: string = DEFAULT_PREFIX, location: LabLocation = {}): Promise<DownReport> {
  validatePrefix(prefix);
  requireTools('ip');
  const paths = labPaths(prefix, location.root);
  const namespaces = (await listNetns()).filter((name) => isLabNamespace(prefix, name));
  // Again until none is left: a gateway's supervisor may start a new charon while it is being
  // stopped, and a process left in a namespace keeps it (and itself) alive after the delete.
  const processes: number[] = [];
  for (let round = 1; ; round++) {
    const found = await findLabProcesses(paths.dir, paths.pids, namespaces);
    if (found.length === 0) break;
    if (round > 5) throw new Error(`lab processes keep appearing after ${round - 1} rounds of stopping them: ${found.map((p) => p.pid).join(', ')}`);
    processes.push(...found.map((p) => p.pid));
    await terminate(found);
  }
  await deleteNetns(namespaces);
  const left = (await listNetns()).filter((name) => isLabNamespace(prefix, name));
  if (left.length > 0) throw new Error(`could not delete namespaces ${left.join(', ')}`);
  await rm(paths.dir, { recursive: true, force: true });
  await rmdir(paths.root).catch(() => { /* other labs still have directories there */ });
  return { namespaces, processes };
}
