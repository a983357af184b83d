/**
 * The pods of seaway's DaemonSets against the code and the contract with the image and the operator:
 * - the image's entry point (no `command`, args = the subcommand of the component), image tag = version;
 * - node-agent placement (hostNetwork, ClusterFirstWithHostNet, every taint tolerated, node-critical);
 * - ports: valid names, hostPort = containerPort (hostNetwork), no two co-located pods on one port;
 *   probes on declared named ports;
 * - environment: every variable a setting of the container's command (from seaway's own help text),
 *   ConfigMap and Secret references only to the documented operator-created objects and keys
 *   (operator-objects.ts), downward API fields the code reads;
 * - volumes: secrets read-only with mode 0400, host paths at the same path inside as on the host;
 * - the settings the container ends up with, as src/config.ts parseConfig reads its environment: valid,
 *   served on the declared `metrics` port, the gateway's ports on the declared UDP ports, the state,
 *   status socket and xtables lock on host paths, the PSK and broker kubeconfig where the Secrets are
 *   mounted, and a stop that ends (SEAWAY_SHUTDOWN_TIMEOUT_SECONDS) before the kubelet's SIGKILL.
 * Pure: parseConfig is.
 */
import { ConfigError, parseConfig, type Config } from '../../src/config.ts';
import { isRecord } from '../../src/model/compare.ts';
import { describeDoc, str, type ManifestDoc } from './manifest-files.ts';
import { COMPONENT_LABEL, podTemplates, type PodTemplate } from './cross-references.ts';
import { operatorObject, type OperatorObject } from './operator-objects.ts';
import { variablesOf, type AgentSettings } from './agent-settings.ts';

const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const record = (value: unknown): Record<string, unknown> => (isRecord(value) ? value : {});

/** The subcommand each component's container runs (the image's ENTRYPOINT is `node <flags> /app/seaway.mjs`). */
export const COMMAND_OF: Readonly<Record<string, string>> = { 'route-agent': 'run', gateway: 'gateway', uninstall: 'uninstall' };
/** What the downward API gives the agents, with the example the settings check resolves it to. */
const FIELD_EXAMPLES: Readonly<Record<string, string>> = { 'spec.nodeName': 'node-1', 'status.hostIP': '192.0.2.10', 'metadata.namespace': '' };
/** The kubelet's default grace period. */
const DEFAULT_GRACE_SECONDS = 30;

export interface WorkloadContext {
  settings: AgentSettings;
  /** package.json's version: the image tag. */
  version: string;
  image: string;
}

/** IANA_SVC_NAME, as Kubernetes checks a port name: at most 15, lowercase alphanumerics and '-', a letter, no '--', no '-' at an end. */
export function portNameProblem(name: string): string | null {
  if (name.length === 0 || name.length > 15) return 'must be 1-15 characters';
  if (!/^[a-z0-9-]+$/.test(name)) return 'must be lowercase letters, digits and \'-\'';
  if (!/[a-z]/.test(name)) return 'must contain a letter';
  if (name.includes('--') || name.startsWith('-') || name.endsWith('-')) return 'must not start or end with \'-\' or contain \'--\'';
  return null;
}

interface Mount { mountPath: string; readOnly: boolean; volume: Record<string, unknown> | undefined; volumeName: string }

function mountsOf(template: PodTemplate, container: Record<string, unknown>): Mount[] {
  const volumes = new Map(list(template.spec.volumes).map(record).map((v) => [str(v.name), v]));
  return list(container.volumeMounts).map(record).map((m) => ({
    mountPath: str(m.mountPath), readOnly: m.readOnly === true, volume: volumes.get(str(m.name)), volumeName: str(m.name),
  }));
}

/** The mount a path lies in (the deepest), if any. */
function mountOf(mounts: readonly Mount[], path: string): Mount | undefined {
  return mounts.filter((m) => path === m.mountPath || path.startsWith(`${m.mountPath.replace(/\/$/, '')}/`))
    .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
}

function referenceProblem(what: string, kind: OperatorObject['kind'], ref: Record<string, unknown>): string | null {
  const name = str(ref.name);
  const key = str(ref.key);
  const object = operatorObject(kind, name);
  if (object === undefined) return `${what}: ${kind} "${name}" is not one the operator creates (operator-objects.ts)`;
  const documented = object.keys[key];
  if (documented === undefined) return `${what}: ${kind} ${name} has no key "${key}" (its keys: ${Object.keys(object.keys).join(', ')})`;
  const optional = ref.optional === true;
  if (optional !== documented.optional) return `${what}: key ${key} of ${kind} ${name} is ${documented.optional ? 'optional: the reference must say optional: true' : 'always there: the reference must not be optional'}`;
  return null;
}

/** The container's environment as the kubelet would give it, with the documented examples for references. */
function resolveEnv(template: PodTemplate, container: Record<string, unknown>, where: string, problems: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const variable of list(container.env).map(record)) {
    const name = str(variable.name);
    if (Object.hasOwn(env, name)) problems.push(`${where}: env ${name} is set twice`);
    if (variable.value !== undefined) { env[name] = str(variable.value); continue; }
    const from = record(variable.valueFrom);
    if (isRecord(from.configMapKeyRef) || isRecord(from.secretKeyRef)) {
      const kind = isRecord(from.configMapKeyRef) ? 'ConfigMap' : 'Secret';
      const ref = record(from.configMapKeyRef ?? from.secretKeyRef);
      const wrong = referenceProblem(`${where}: env ${name}`, kind, ref);
      if (wrong !== null) problems.push(wrong);
      env[name] = operatorObject(kind, str(ref.name))?.keys[str(ref.key)]?.example ?? '';
    } else if (isRecord(from.fieldRef)) {
      const path = str(from.fieldRef.fieldPath);
      if (!Object.hasOwn(FIELD_EXAMPLES, path)) problems.push(`${where}: env ${name} reads ${path}, which is not one the agents need (${Object.keys(FIELD_EXAMPLES).join(', ')})`);
      env[name] = path === 'metadata.namespace' ? template.namespace : FIELD_EXAMPLES[path] ?? '';
    } else {
      problems.push(`${where}: env ${name} has neither a value nor a configMapKeyRef, secretKeyRef or fieldRef`);
    }
  }
  return env;
}

function portProblems(template: PodTemplate, container: Record<string, unknown>, where: string): string[] {
  const problems: string[] = [];
  const names = new Set<string>();
  for (const port of list(container.ports).map(record)) {
    const name = str(port.name);
    const wrong = portNameProblem(name);
    if (wrong !== null) problems.push(`${where}: port name "${name}" ${wrong}`);
    if (names.has(name)) problems.push(`${where}: port name ${name} is declared twice`);
    names.add(name);
    if (port.hostPort !== undefined && port.hostPort !== port.containerPort) problems.push(`${where}: port ${name}: a hostNetwork pod's hostPort must equal its containerPort`);
  }
  for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
    if (container[probe] === undefined) continue;
    const handler = record(record(container[probe]).httpGet ?? record(container[probe]).tcpSocket);
    const port = handler.port;
    if (typeof port !== 'string') problems.push(`${where}: ${probe} names its port by number: name it (a declared container port)`);
    else if (!names.has(port)) problems.push(`${where}: ${probe} port "${port}" is not a declared port of the container (${[...names].join(', ') || 'none'})`);
  }
  if (template.labels[COMPONENT_LABEL] !== 'uninstall') {
    for (const probe of ['livenessProbe', 'readinessProbe']) if (container[probe] === undefined) problems.push(`${where}: no ${probe}`);
  }
  return problems;
}

function volumeProblems(template: PodTemplate, mounts: readonly Mount[], where: string): string[] {
  const problems: string[] = [];
  const mounted = new Set(mounts.map((m) => m.volumeName));
  for (const volume of list(template.spec.volumes).map(record)) {
    const name = str(volume.name);
    if (!mounted.has(name)) problems.push(`${where}: volume ${name} is mounted nowhere`);
    if (isRecord(volume.secret) || isRecord(volume.configMap)) {
      const kind = isRecord(volume.secret) ? 'Secret' : 'ConfigMap';
      const source = record(volume.secret ?? volume.configMap);
      const objectName = str(kind === 'Secret' ? source.secretName : source.name);
      const object = operatorObject(kind, objectName);
      if (object === undefined) { problems.push(`${where}: volume ${name}: ${kind} "${objectName}" is not one the operator creates (operator-objects.ts)`); continue; }
      const items = list(source.items).map(record);
      if (items.length === 0) problems.push(`${where}: volume ${name}: name the keys it needs with items (a mounted Secret exposes every key)`);
      for (const item of items) {
        if (object.keys[str(item.key)] === undefined) problems.push(`${where}: volume ${name}: ${kind} ${objectName} has no key "${str(item.key)}" (its keys: ${Object.keys(object.keys).join(', ')})`);
      }
      if (kind === 'Secret' && source.defaultMode !== 0o400) problems.push(`${where}: volume ${name}: Secret files must be mode 0400 (defaultMode: 0400), not ${String(source.defaultMode)}`);
    } else if (isRecord(volume.hostPath)) {
      const type = str(volume.hostPath.type);
      if (!['DirectoryOrCreate', 'FileOrCreate', 'Directory', 'File'].includes(type)) problems.push(`${where}: volume ${name}: hostPath type "${type}" (say what it must be)`);
    } else {
      problems.push(`${where}: volume ${name} is neither a Secret, a ConfigMap nor a hostPath`);
    }
  }
  for (const mount of mounts) {
    if (mount.volume === undefined) { problems.push(`${where}: volumeMount ${mount.volumeName} names no volume`); continue; }
    if (isRecord(mount.volume.secret) && !mount.readOnly) problems.push(`${where}: volumeMount ${mount.volumeName}: a Secret is mounted readOnly`);
    const host = record(mount.volume.hostPath);
    if (isRecord(mount.volume.hostPath) && str(host.path) !== mount.mountPath) {
      problems.push(`${where}: volumeMount ${mount.volumeName}: host path ${str(host.path)} mounted at ${mount.mountPath}; the same path inside and on the node, so what the agent names is where the host finds it`);
    }
  }
  return problems;
}

/** A path the agent writes must be on a host path (it outlives the container, and the node's tools find it there). */
function onHostPath(mounts: readonly Mount[], path: string, what: string, where: string): string | null {
  const mount = mountOf(mounts, path);
  if (mount === undefined || !isRecord(mount.volume?.hostPath)) return `${where}: ${what} ${path} is on no hostPath mount`;
  return null;
}

/** A file the agent reads from a mounted Secret key: the path must be the mount plus the item's path, of that Secret and key. */
function inSecret(mounts: readonly Mount[], path: string, secret: string, key: string, what: string, where: string): string | null {
  const mount = mountOf(mounts, path);
  const source = record(mount?.volume?.secret);
  if (mount === undefined || str(source.secretName) !== secret) return `${where}: ${what} ${path} is not in a mount of Secret ${secret}`;
  const item = list(source.items).map(record).find((i) => `${mount.mountPath.replace(/\/$/, '')}/${str(i.path)}` === path);
  if (item === undefined) return `${where}: ${what} ${path}: no item of Secret ${secret} is mounted at that path`;
  if (str(item.key) !== key) return `${where}: ${what} ${path} is key ${str(item.key)} of Secret ${secret}, not ${key}`;
  return null;
}

function portNumber(container: Record<string, unknown>, name: string, protocol: string): number | undefined {
  const port = list(container.ports).map(record).find((p) => str(p.name) === name && (str(p.protocol) || 'TCP') === protocol);
  return typeof port?.containerPort === 'number' ? port.containerPort : undefined;
}

/** The configuration the container's command reads from its environment, checked against the pod. */
function settingsProblems(template: PodTemplate, container: Record<string, unknown>, mounts: readonly Mount[], env: Record<string, string>, command: string, where: string): string[] {
  const problems: string[] = [];
  // The uninstall command (not in config.ts yet) cleans the node with cleanup's settings.
  const parsed = command === 'uninstall' ? 'cleanup' : command;
  let config: Config;
  try {
    config = parseConfig([parsed], env);
  } catch (error) {
    return [`${where}: "seaway ${parsed}" refuses the environment: ${error instanceof ConfigError ? error.problems.join('; ') : (error as Error).message}`];
  }
  const check = (problem: string | null) => { if (problem !== null) problems.push(problem); };
  const grace = typeof template.spec.terminationGracePeriodSeconds === 'number' ? template.spec.terminationGracePeriodSeconds : DEFAULT_GRACE_SECONDS;
  if (config.command === 'run' || config.command === 'gateway') {
    const tcp = config.listen.filter((l) => l.kind === 'tcp');
    const metrics = portNumber(container, 'metrics', 'TCP');
    if (metrics === undefined) problems.push(`${where}: no TCP container port named metrics`);
    else if (!tcp.some((l) => l.port === metrics)) problems.push(`${where}: the agent listens on ${tcp.map((l) => `${l.host}:${l.port}`).join(', ') || 'no TCP port'}, not on the metrics port ${metrics}`);
    check(onHostPath(mounts, config.stateDir, 'the state directory', where));
    check(onHostPath(mounts, config.statusSocket, 'the status socket', where));
    if (config.shutdownTimeoutSeconds >= grace) {
      problems.push(`${where}: a stop may take SEAWAY_SHUTDOWN_TIMEOUT_SECONDS ${config.shutdownTimeoutSeconds} s, not less than terminationGracePeriodSeconds ${grace} s: the kubelet's SIGKILL would cut it short`);
    }
  }
  if (config.command === 'run' || config.command === 'cleanup') {
    const lock = mountOf(mounts, config.xtablesLock);
    if (lock?.mountPath !== config.xtablesLock || !isRecord(lock.volume?.hostPath)) problems.push(`${where}: the xtables lock ${config.xtablesLock} is not the host's file mounted there`);
    if (config.command === 'cleanup') check(onHostPath(mounts, config.stateDir, 'the state directory', where));
  }
  if (config.command === 'gateway') {
    for (const [name, port] of [['cable-encaps', config.natTPort], ['natt-discovery', config.nattDiscoveryPort]] as const) {
      const declared = portNumber(container, name, 'UDP');
      if (declared !== port) problems.push(`${where}: the gateway uses UDP ${port} for ${name}, the container declares ${declared ?? 'no such UDP port'}`);
    }
    check(inSecret(mounts, config.pskFile, 'seaway-ipsec-psk', 'psk', 'the PSK file', where));
    if (config.broker.kind !== 'kubeconfig') problems.push(`${where}: the gateway reads its broker credentials from Submariner's variables, not from the seaway-broker Secret`);
    else check(inSecret(mounts, config.broker.path, 'seaway-broker', 'kubeconfig', 'the broker kubeconfig', where));
  }
  // Any other variable naming a file in a mounted Secret (the uninstall's broker kubeconfig) must name a mounted key.
  for (const [name, value] of Object.entries(env)) {
    const mount = mountOf(mounts, value);
    if (value.startsWith('/') && isRecord(mount?.volume?.secret) && mount !== undefined) {
      const source = record(mount.volume.secret);
      const items = list(source.items).map(record);
      if (!items.some((i) => `${mount.mountPath.replace(/\/$/, '')}/${str(i.path)}` === value)) problems.push(`${where}: env ${name} ${value}: no item of Secret ${str(source.secretName)} is mounted at that path`);
    }
  }
  return problems;
}

function templateProblems(template: PodTemplate, context: WorkloadContext): string[] {
  const where0 = describeDoc(template.doc);
  const problems: string[] = [];
  const spec = template.spec;
  const component = template.labels[COMPONENT_LABEL] ?? '';
  const command = COMMAND_OF[component];
  if (spec.hostNetwork !== true) problems.push(`${where0}: a node agent runs in the node's network namespace (hostNetwork: true)`);
  if (spec.dnsPolicy !== 'ClusterFirstWithHostNet') problems.push(`${where0}: a hostNetwork pod resolves cluster names only with dnsPolicy ClusterFirstWithHostNet`);
  if (!list(spec.tolerations).some((t) => record(t).operator === 'Exists' && record(t).key === undefined && record(t).effect === undefined)) problems.push(`${where0}: must tolerate every taint ({operator: Exists})`);
  if (spec.priorityClassName !== 'system-node-critical') problems.push(`${where0}: priorityClassName must be system-node-critical`);
  if (spec.automountServiceAccountToken !== true) problems.push(`${where0}: the agent talks to the API with its service account token (automountServiceAccountToken: true)`);
  const dsSpec = record(template.doc.object.spec);
  if (typeof dsSpec.revisionHistoryLimit !== 'number') problems.push(`${where0}: set revisionHistoryLimit`);
  const rolling = record(record(dsSpec.updateStrategy).rollingUpdate);
  if (rolling.maxSurge !== undefined && rolling.maxSurge !== 0 && rolling.maxSurge !== '0%') problems.push(`${where0}: maxSurge must be 0: two agents on one node would fight over its objects and ports`);
  const containers = list(spec.containers).map(record);
  if (containers.length !== 1) problems.push(`${where0}: one container, the agent (found ${containers.length})`);
  for (const container of containers) {
    const where = `${where0} container ${str(container.name)}`;
    if (container.command !== undefined) problems.push(`${where}: sets command; the image's ENTRYPOINT (node with its V8 flags) must stay, set only args`);
    if (command === undefined) problems.push(`${where}: no command is known for component "${component}"`);
    else if (JSON.stringify(container.args) !== JSON.stringify([command])) problems.push(`${where}: args must be ["${command}"] for the ${component}, not ${JSON.stringify(container.args)}`);
    if (str(container.image) !== `${context.image}:${context.version}`) problems.push(`${where}: image must be ${context.image}:${context.version} (package.json's version), not ${str(container.image)}`);
    if (container.imagePullPolicy !== 'IfNotPresent') problems.push(`${where}: imagePullPolicy must be IfNotPresent (a fixed tag; pulling on every start makes a node's datapath depend on the registry)`);
    const resources = record(container.resources);
    if (record(resources.requests).memory === undefined || record(resources.requests).cpu === undefined || record(resources.limits).memory === undefined) {
      problems.push(`${where}: requests (cpu, memory) and a memory limit are required`);
    }
    const env = resolveEnv(template, container, where, problems);
    const known = variablesOf(context.settings, command ?? '');
    for (const name of Object.keys(env)) {
      if (!known.has(name)) problems.push(`${where}: env ${name} is not a setting of "seaway ${command ?? '?'}" (see seaway --help)`);
    }
    problems.push(...portProblems(template, container, where));
    const mounts = mountsOf(template, container);
    problems.push(...volumeProblems(template, mounts, where));
    if (command !== undefined) problems.push(...settingsProblems(template, container, mounts, env, command, where));
  }
  return problems;
}

/** hostNetwork pods of different DaemonSets share the node's ports: no protocol and port twice. */
function portCollisions(templates: readonly PodTemplate[]): string[] {
  const problems: string[] = [];
  const taken = new Map<string, string>();
  for (const template of templates.filter((t) => t.spec.hostNetwork === true)) {
    for (const container of list(template.spec.containers).map(record)) {
      for (const port of list(container.ports).map(record)) {
        const key = `${str(port.protocol) || 'TCP'} ${String(port.containerPort)}`;
        const owner = `${describeDoc(template.doc)} port ${str(port.name)}`;
        const other = taken.get(key);
        if (other !== undefined) problems.push(`${owner}: ${key} is also ${other}; both run in the node's network namespace`);
        taken.set(key, owner);
      }
    }
  }
  return problems;
}

export function workloadProblems(docs: readonly ManifestDoc[], context: WorkloadContext): string[] {
  const templates = podTemplates(docs);
  return [...templates.flatMap((t) => templateProblems(t, context)), ...portCollisions(templates)];
}
