/**
 * seaway deployed into a lab cluster as an operator deploys it: the cluster's settings in the
 * `seaway-cluster` ConfigMap, the PSK and broker credentials in Secrets, then `kubectl apply -f` of the
 * project's manifests/ (a rendered copy when a test adds environment to the DaemonSets); each node's
 * kubelet then runs the DaemonSets' Pods from the image.
 */
import { readdir, readFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dump, loadAll } from 'js-yaml';
import { run } from '../../src/kernel/exec.ts';
import type { ClusterPlan } from './addressing.ts';
import { REPO_ROOT, SUBMARINER_NAMESPACE } from './agents.ts';
import { applyManifests } from './manifests.ts';

export const MANIFESTS_DIR = join(REPO_ROOT, 'manifests');
export const ROUTE_AGENT_DAEMONSET = 'seaway-route-agent';
export const GATEWAY_DAEMONSET = 'seaway-gateway';
const CLUSTER_CONFIGMAP = 'seaway-cluster';
const PSK_SECRET = 'seaway-ipsec-psk';
const BROKER_SECRET = 'seaway-broker';

export interface RenderOptions {
  /** Extra environment per DaemonSet name (e.g. shorter leases in a test), appended to its containers' env. */
  env?: Record<string, Record<string, string>>;
  /** DaemonSets left out (a lab with simulated Endpoints runs no gateway). */
  omit?: string[];
  /** Shorter timers per DaemonSet name, for tests: the liveness probe's, the termination grace. */
  timers?: Record<string, PodTimers>;
}

export interface PodTimers {
  terminationGracePeriodSeconds?: number;
  liveness?: { initialDelaySeconds?: number; periodSeconds?: number; failureThreshold?: number; timeoutSeconds?: number };
}

interface ContainerDocument { env?: Array<{ name: string; value?: string }>; livenessProbe?: Record<string, unknown>; readinessProbe?: Record<string, unknown> }
interface Document { kind?: string; metadata?: { name?: string }; spec?: { template?: { spec?: { terminationGracePeriodSeconds?: number; containers?: ContainerDocument[] } } } }

/** The top-level manifests (what `kubectl apply -f manifests/` applies), with the test's changes (pure but for reading). */
export async function renderManifests(dir: string, options: RenderOptions = {}): Promise<string> {
  const files = (await readdir(dir, { withFileTypes: true })).filter((entry) => entry.isFile() && /\.ya?ml$/.test(entry.name)).map((entry) => entry.name).sort();
  const out: string[] = [];
  for (const file of files) {
    for (const document of loadAll(await readFile(join(dir, file), 'utf8')) as Document[]) {
      if (!document) continue;
      const name = document.metadata?.name ?? '';
      if (document.kind === 'DaemonSet' && options.omit?.includes(name)) continue;
      const extra = document.kind === 'DaemonSet' ? options.env?.[name] : undefined;
      if (extra) {
        for (const container of document.spec?.template?.spec?.containers ?? []) {
          const env = (container.env ?? []).filter((variable) => !(variable.name in extra));
          container.env = [...env, ...Object.entries(extra).map(([key, value]) => ({ name: key, value }))];
        }
      }
      const timers = document.kind === 'DaemonSet' ? options.timers?.[name] : undefined;
      const podSpec = document.spec?.template?.spec;
      if (timers && podSpec) {
        if (timers.terminationGracePeriodSeconds !== undefined) podSpec.terminationGracePeriodSeconds = timers.terminationGracePeriodSeconds;
        for (const container of podSpec.containers ?? []) if (container.livenessProbe) Object.assign(container.livenessProbe, timers.liveness);
      }
      out.push(dump(document, { lineWidth: -1, noRefs: true }));
    }
  }
  return out.map((text) => `---\n${text}`).join('');
}

/** What the operator creates before the manifests: the cluster's settings and the two Secrets. */
export function clusterConfigObjects(cluster: ClusterPlan, psk: string, brokerKubeconfig: string): object[] {
  const metadata = (name: string) => ({ name, namespace: SUBMARINER_NAMESPACE });
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: SUBMARINER_NAMESPACE } },
    {
      apiVersion: 'v1', kind: 'ConfigMap', metadata: metadata(CLUSTER_CONFIGMAP),
      data: { clusterID: cluster.id, clusterCIDR: cluster.podCidr, serviceCIDR: cluster.serviceCidr, cable: cluster.cable },
    },
    { apiVersion: 'v1', kind: 'Secret', metadata: metadata(PSK_SECRET), type: 'Opaque', data: { psk: Buffer.from(psk).toString('base64') } },
    { apiVersion: 'v1', kind: 'Secret', metadata: metadata(BROKER_SECRET), type: 'Opaque', data: { kubeconfig: Buffer.from(brokerKubeconfig).toString('base64') } },
  ];
}

export interface DeployTarget {
  cluster: ClusterPlan;
  /** The lab API server's admin socket (the operator's own objects) and the admin kubeconfig kubectl uses. */
  socket: string;
  kubeconfig: string;
  psk: string;
  brokerKubeconfig: string;
  /** Where the rendered copy goes. */
  workDir: string;
  manifestsDir: string;
  render: RenderOptions;
}

/** Deploys seaway to one lab cluster: the operator's objects, then `kubectl apply -f` of the manifests. */
export async function deploySeaway(target: DeployTarget): Promise<void> {
  await applyManifests(target.socket, clusterConfigObjects(target.cluster, target.psk, target.brokerKubeconfig) as never[], `seaway's settings for ${target.cluster.id}`);
  const { env = {}, omit = [], timers = {} } = target.render;
  const changed = Object.values(env).some((values) => Object.keys(values).length > 0) || omit.length > 0 || Object.keys(timers).length > 0;
  let source = target.manifestsDir;
  if (changed) {
    await mkdir(target.workDir, { recursive: true });
    source = join(target.workDir, 'seaway.yaml');
    await writeFile(source, await renderManifests(target.manifestsDir, target.render));
  }
  await run('kubectl', ['--kubeconfig', target.kubeconfig, 'apply', '-f', source], { timeoutMs: 60_000 });
}
