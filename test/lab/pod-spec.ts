/**
 * What the lab's kubelet makes of a Pod (pure): the process a container runs inside the image's root
 * filesystem, its environment, its mounts and its privileges, resolved as a kubelet resolves them
 * (downward API, ConfigMap and Secret references, $(VAR) expansion, volumes, the service account's
 * token), or the reason it cannot start (`CreateContainerConfigError`, a missing volume source).
 */

/** The image as built (build/image/config.json): its root filesystem and OCI config. */
export interface ImageConfig {
  rootfs: string;
  entrypoint: string[];
  cmd: string[];
  env: string[];
  workingDir: string;
}

export interface PodObject {
  metadata: {
    name: string; namespace: string; uid: string; labels?: Record<string, string>; ownerReferences?: Array<{ kind: string; name: string; uid: string }>;
    deletionTimestamp?: string; deletionGracePeriodSeconds?: number;
  };
  spec: PodSpec;
  status?: Record<string, unknown>;
}

export interface PodSpec {
  nodeName?: string;
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  hostNetwork?: boolean;
  terminationGracePeriodSeconds?: number;
  containers: ContainerSpec[];
  volumes?: VolumeSpec[];
}

export interface ContainerSpec {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  ports?: Array<{ name?: string; containerPort: number; protocol?: string; hostPort?: number }>;
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean; subPath?: string }>;
  livenessProbe?: ProbeSpec;
  readinessProbe?: ProbeSpec;
  securityContext?: {
    privileged?: boolean;
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    capabilities?: { add?: string[]; drop?: string[] };
  };
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string };
    configMapKeyRef?: { name: string; key: string; optional?: boolean };
    secretKeyRef?: { name: string; key: string; optional?: boolean };
  };
}

export interface ProbeSpec {
  httpGet?: { path?: string; port: number | string; host?: string; scheme?: string };
  initialDelaySeconds?: number;
  periodSeconds?: number;
  timeoutSeconds?: number;
  failureThreshold?: number;
  successThreshold?: number;
}

export interface VolumeSpec {
  name: string;
  hostPath?: { path: string; type?: string };
  secret?: { secretName: string; optional?: boolean; defaultMode?: number; items?: Array<{ key: string; path: string; mode?: number }> };
  configMap?: { name: string; optional?: boolean; defaultMode?: number; items?: Array<{ key: string; path: string; mode?: number }> };
  emptyDir?: Record<string, unknown>;
}

/** What the pod's node and cluster give the kubelet to resolve references with. */
export interface PodContext {
  nodeName: string;
  nodeIp: string;
  /** The API server as the pod's in-cluster configuration reaches it (KUBERNETES_SERVICE_HOST/PORT). */
  apiServer: { host: string; port: number };
  /** The ConfigMap's data, or undefined when it does not exist. */
  configMap(namespace: string, name: string): Record<string, string> | undefined;
  /** The Secret's data decoded, or undefined when it does not exist. */
  secret(namespace: string, name: string): Record<string, string> | undefined;
  /** Where a hostPath of this node lives on the machine (the lab's nodes share one filesystem). */
  hostPath(path: string): string;
  /** This pod's own directory on the machine (volumes' contents). */
  podDir: string;
  /** The service account's token and the cluster CA, when the token is mounted. */
  serviceAccount?: { token: string; caPem: string };
}

export interface Mount {
  /** On the machine. */
  source: string;
  /** Inside the container's root filesystem. */
  target: string;
  readOnly: boolean;
  /** A hostPath of type FileOrCreate / File, or a subPath file: bound as a file. */
  file: boolean;
}

export interface VolumeFile {
  path: string;
  content: string;
  mode: number;
}

export interface ContainerLaunch {
  /** argv inside the root filesystem: the image's entrypoint and cmd as the container overrides them. */
  argv: string[];
  env: Record<string, string>;
  workingDir: string;
  mounts: Mount[];
  /** Files the kubelet writes on the machine before it starts the container (Secret, ConfigMap and token volumes). */
  files: VolumeFile[];
  /** Host directories (and files) the kubelet creates first (hostPath DirectoryOrCreate / FileOrCreate, emptyDir). */
  createDirectories: string[];
  createFiles: string[];
  privileged: boolean;
  /** Lower-case capability names the process keeps (its bounding set) when not privileged. */
  capabilities: string[];
  noNewPrivileges: boolean;
  readOnlyRootFilesystem: boolean;
}

export type LaunchResolution = { ok: true; launch: ContainerLaunch } | { ok: false; reason: string; message: string };

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** What a container runtime grants a non-privileged container by default (containerd's and Docker's list). */
export const DEFAULT_CAPABILITIES = [
  'chown', 'dac_override', 'fsetid', 'fowner', 'mknod', 'net_raw', 'setgid', 'setuid', 'setfcap', 'setpcap', 'net_bind_service', 'sys_chroot', 'kill', 'audit_write',
];

class ConfigError extends Error {}

/** The container's process, environment, mounts and privileges, or why the kubelet cannot start it. */
export function resolveContainer(pod: PodObject, container: ContainerSpec, image: ImageConfig, context: PodContext): LaunchResolution {
  try {
    return { ok: true, launch: resolve(pod, container, image, context) };
  } catch (error) {
    if (error instanceof ConfigError) {
      return { ok: false, reason: error.message.startsWith('MountVolume') ? 'ContainerCreating' : 'CreateContainerConfigError', message: error.message };
    }
    throw error;
  }
}

function resolve(pod: PodObject, container: ContainerSpec, image: ImageConfig, context: PodContext): ContainerLaunch {
  const namespace = pod.metadata.namespace;
  const env: Record<string, string> = {};
  for (const entry of image.env) {
    const at = entry.indexOf('=');
    if (at > 0) env[entry.slice(0, at)] = entry.slice(at + 1);
  }
  // As the kubelet does for every pod: the `kubernetes` Service's address.
  env.KUBERNETES_SERVICE_HOST = context.apiServer.host;
  env.KUBERNETES_SERVICE_PORT = String(context.apiServer.port);
  env.KUBERNETES_SERVICE_PORT_HTTPS = String(context.apiServer.port);
  for (const variable of container.env ?? []) {
    const value = envValue(pod, variable, env, context);
    if (value !== undefined) env[variable.name] = value;
  }
  if ((container as { envFrom?: unknown }).envFrom !== undefined) throw new ConfigError(`container ${container.name}: envFrom is not supported by the lab's kubelet`);
  const command = container.command ?? image.entrypoint;
  const args = container.args ?? (container.command ? [] : image.cmd);
  const argv = [...command, ...args].map((word) => expand(word, env));
  if (argv.length === 0) throw new ConfigError('no command specified');

  const files: VolumeFile[] = [];
  const createDirectories: string[] = [];
  const createFiles: string[] = [];
  const volumeSources = new Map<string, { path: string; file: boolean; readOnly: boolean }>();
  for (const volume of pod.spec.volumes ?? []) {
    volumeSources.set(volume.name, volumeSource(pod, volume, context, { files, createDirectories, createFiles }));
  }
  const mounts: Mount[] = [];
  for (const volumeMount of container.volumeMounts ?? []) {
    const source = volumeSources.get(volumeMount.name);
    if (!source) throw new ConfigError(`volume ${JSON.stringify(volumeMount.name)} of container ${container.name} is not among the pod's volumes`);
    const path = volumeMount.subPath ? `${source.path}/${volumeMount.subPath}` : source.path;
    mounts.push({ source: path, target: volumeMount.mountPath, readOnly: source.readOnly || volumeMount.readOnly === true, file: source.file && !volumeMount.subPath });
  }
  if (pod.spec.automountServiceAccountToken !== false && context.serviceAccount) {
    const dir = `${context.podDir}/volumes/kube-api-access`;
    files.push(
      { path: `${dir}/token`, content: context.serviceAccount.token, mode: 0o600 },
      { path: `${dir}/ca.crt`, content: context.serviceAccount.caPem, mode: 0o644 },
      { path: `${dir}/namespace`, content: namespace, mode: 0o644 },
    );
    mounts.push({ source: dir, target: SERVICE_ACCOUNT_DIR, readOnly: true, file: false });
  }

  const security = container.securityContext ?? {};
  const privileged = security.privileged === true;
  const drop = new Set((security.capabilities?.drop ?? []).map(capabilityName));
  const add = (security.capabilities?.add ?? []).map(capabilityName);
  const base = drop.has('all') ? [] : DEFAULT_CAPABILITIES.filter((name) => !drop.has(name));
  const capabilities = [...new Set([...base, ...add])].sort();
  return {
    argv,
    env,
    workingDir: image.workingDir || '/',
    mounts,
    files,
    createDirectories,
    createFiles,
    privileged,
    capabilities,
    noNewPrivileges: !privileged && security.allowPrivilegeEscalation === false,
    readOnlyRootFilesystem: security.readOnlyRootFilesystem === true,
  };
}

/** `NET_ADMIN` and `CAP_NET_ADMIN` both name net_admin (as runtimes accept both). */
function capabilityName(name: string): string {
  return name.toLowerCase().replace(/^cap_/, '');
}

function envValue(pod: PodObject, variable: EnvVar, env: Record<string, string>, context: PodContext): string | undefined {
  if (variable.value !== undefined) return expand(variable.value, env);
  const from = variable.valueFrom;
  if (!from) return '';
  if (from.fieldRef) return fieldValue(pod, from.fieldRef.fieldPath, context);
  const namespace = pod.metadata.namespace;
  if (from.configMapKeyRef) return keyRef('ConfigMap', namespace, from.configMapKeyRef, context.configMap);
  if (from.secretKeyRef) return keyRef('Secret', namespace, from.secretKeyRef, context.secret);
  throw new ConfigError(`env ${variable.name}: unsupported valueFrom ${Object.keys(from).join(', ')}`);
}

/** A ConfigMap's or Secret's key, as the kubelet words a missing one; nothing for a missing optional one. */
function keyRef(
  kind: 'ConfigMap' | 'Secret', namespace: string, ref: { name: string; key: string; optional?: boolean },
  lookup: (namespace: string, name: string) => Record<string, string> | undefined,
): string | undefined {
  const data = lookup(namespace, ref.name);
  if (data === undefined) {
    if (ref.optional) return undefined;
    throw new ConfigError(`${kind.toLowerCase()} "${ref.name}" not found`);
  }
  if (!(ref.key in data)) {
    if (ref.optional) return undefined;
    throw new ConfigError(`couldn't find key ${ref.key} in ${kind} ${namespace}/${ref.name}`);
  }
  return data[ref.key];
}

function fieldValue(pod: PodObject, path: string, context: PodContext): string {
  switch (path) {
    case 'metadata.name': return pod.metadata.name;
    case 'metadata.namespace': return pod.metadata.namespace;
    case 'metadata.uid': return pod.metadata.uid;
    case 'spec.nodeName': return context.nodeName;
    case 'spec.serviceAccountName': return pod.spec.serviceAccountName ?? 'default';
    // hostNetwork: the pod's address is the node's.
    case 'status.hostIP':
    case 'status.podIP': return context.nodeIp;
    default: {
      const label = /^metadata\.labels\['(.+)'\]$/.exec(path);
      if (label) return pod.metadata.labels?.[label[1] as string] ?? '';
      throw new ConfigError(`unsupported fieldRef fieldPath ${JSON.stringify(path)}`);
    }
  }
}

/** $(VAR) is replaced by an earlier variable's value, $$(VAR) escapes it, an unknown $(VAR) stays as written. */
export function expand(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) => {
    if (name === undefined) return '$';
    return Object.hasOwn(env, name) ? (env[name] as string) : match;
  });
}

interface Pending { files: VolumeFile[]; createDirectories: string[]; createFiles: string[] }

function volumeSource(pod: PodObject, volume: VolumeSpec, context: PodContext, pending: Pending): { path: string; file: boolean; readOnly: boolean } {
  const namespace = pod.metadata.namespace;
  const dir = `${context.podDir}/volumes/${volume.name}`;
  if (volume.hostPath) {
    const path = context.hostPath(volume.hostPath.path);
    const type = volume.hostPath.type ?? '';
    if (type === 'DirectoryOrCreate') pending.createDirectories.push(path);
    if (type === 'FileOrCreate') pending.createFiles.push(path);
    return { path, file: type === 'FileOrCreate' || type === 'File' || type === 'Socket', readOnly: false };
  }
  if (volume.emptyDir) {
    pending.createDirectories.push(dir);
    return { path: dir, file: false, readOnly: false };
  }
  const keyed = volume.secret
    ? { kind: 'secret', name: volume.secret.secretName, spec: volume.secret, data: context.secret(namespace, volume.secret.secretName), mode: volume.secret.defaultMode ?? 0o644 }
    : volume.configMap
      ? { kind: 'configmap', name: volume.configMap.name, spec: volume.configMap, data: context.configMap(namespace, volume.configMap.name), mode: volume.configMap.defaultMode ?? 0o644 }
      : undefined;
  if (!keyed) throw new ConfigError(`volume ${JSON.stringify(volume.name)}: unsupported volume source ${Object.keys(volume).filter((k) => k !== 'name').join(', ')}`);
  pending.createDirectories.push(dir);
  if (keyed.data === undefined) {
    if (keyed.spec.optional) return { path: dir, file: false, readOnly: true };
    throw new ConfigError(`MountVolume.SetUp failed for volume "${volume.name}" : ${keyed.kind} "${keyed.name}" not found`);
  }
  const items = keyed.spec.items ?? Object.keys(keyed.data).map((key) => ({ key, path: key, mode: undefined as number | undefined }));
  for (const item of items) {
    const content = keyed.data[item.key];
    if (content === undefined) {
      if (keyed.spec.optional) continue;
      throw new ConfigError(`MountVolume.SetUp failed for volume "${volume.name}" : configmap references non-existent config key: ${item.key}`);
    }
    pending.files.push({ path: `${dir}/${item.path}`, content, mode: item.mode ?? keyed.mode });
  }
  return { path: dir, file: false, readOnly: true };
}

/** The ConfigMaps and Secrets a Pod refers to (env keys and volumes), to be read before it starts (pure). */
export function referencedObjects(spec: PodSpec): { configMaps: string[]; secrets: string[] } {
  const configMaps = new Set<string>();
  const secrets = new Set<string>();
  for (const container of spec.containers) {
    for (const variable of container.env ?? []) {
      if (variable.valueFrom?.configMapKeyRef) configMaps.add(variable.valueFrom.configMapKeyRef.name);
      if (variable.valueFrom?.secretKeyRef) secrets.add(variable.valueFrom.secretKeyRef.name);
    }
  }
  for (const volume of spec.volumes ?? []) {
    if (volume.configMap) configMaps.add(volume.configMap.name);
    if (volume.secret) secrets.add(volume.secret.secretName);
  }
  return { configMaps: [...configMaps].sort(), secrets: [...secrets].sort() };
}

/** The probe's port as a number: a container port's name, or the number itself. */
export function probePort(container: ContainerSpec, port: number | string): number | undefined {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  return container.ports?.find((candidate) => candidate.name === port)?.containerPort;
}
