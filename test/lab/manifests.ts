/**
 * The project's manifests applied to a lab API server as an installer would (`kubectl apply
 * --server-side`): through the server's plain unix socket (the lab's administrator), each object's
 * resource found through discovery, applied under one field manager so a second apply is a no-op.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { httpUnix } from './http-unix.ts';
import { REPO_ROOT } from './agents.ts';

const MANIFESTS_DIR = join(REPO_ROOT, 'manifests');
/** What the route agent needs on every cluster: its ServiceAccount, roles and bindings. */
export const ROUTE_AGENT_RBAC = join(MANIFESTS_DIR, '02-rbac-route-agent.yaml');
/** What the gateway role needs on every cluster. */
export const GATEWAY_RBAC = join(MANIFESTS_DIR, '03-rbac-gateway.yaml');
/** The broker's namespace and the Role each cluster is bound to there (applied on the broker, not on members). */
export const BROKER_RBAC = join(MANIFESTS_DIR, 'broker', 'rbac.yaml');
/** The service accounts the manifests above name: the agents' tokens are theirs. */
export const ROUTE_AGENT_ACCOUNT = { namespace: 'submariner-operator', name: 'seaway-route-agent' } as const;
export const GATEWAY_ACCOUNT = { namespace: 'submariner-operator', name: 'seaway-gateway' } as const;
export const BROKER_NAMESPACE = 'submariner-k8s-broker';
const BROKER_CLUSTER_ROLE = 'seaway-broker-cluster';

export interface Manifest { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } }

/** A joining cluster's identity on the broker: ServiceAccount `cluster-<id>`, bound to the broker Role (as Submariner's operator names it). */
export function brokerClusterAccess(clusterId: string): { account: { namespace: string; name: string }; manifests: Manifest[] } {
  const account = { namespace: BROKER_NAMESPACE, name: `cluster-${clusterId}` };
  return {
    account,
    manifests: [
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: account },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: account,
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: BROKER_CLUSTER_ROLE },
        subjects: [{ kind: 'ServiceAccount', ...account }],
      } as Manifest,
    ],
  };
}

interface DiscoveredResource { name: string; kind: string; namespaced: boolean }

async function getJson(socketPath: string, path: string): Promise<unknown> {
  const response = await httpUnix(socketPath, path, { headers: { accept: 'application/json' } });
  if (response.status !== 200) throw new Error(`GET ${path}: HTTP ${response.status} ${response.body.slice(0, 300)}`);
  return JSON.parse(response.body);
}

/** The object's path on the server, from the resource discovery names for its apiVersion and kind. */
async function objectPath(socketPath: string, manifest: Manifest, discovered: Map<string, DiscoveredResource[]>): Promise<string> {
  const { apiVersion, kind, metadata } = manifest;
  if (typeof apiVersion !== 'string' || typeof kind !== 'string' || typeof metadata?.name !== 'string') {
    throw new Error(`a manifest needs apiVersion, kind and metadata.name: ${JSON.stringify(manifest).slice(0, 200)}`);
  }
  const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  let resources = discovered.get(base);
  if (!resources) {
    resources = ((await getJson(socketPath, base)) as { resources: DiscoveredResource[] }).resources.filter((r) => !r.name.includes('/'));
    discovered.set(base, resources);
  }
  const resource = resources.find((r) => r.kind === kind);
  if (!resource) throw new Error(`the server at ${socketPath} serves no ${kind} in ${apiVersion}`);
  if (resource.namespaced && typeof metadata.namespace !== 'string') throw new Error(`${kind} ${metadata.name} needs a namespace`);
  const scope = resource.namespaced ? `/namespaces/${metadata.namespace as string}` : '';
  return `${base}${scope}/${resource.name}/${encodeURIComponent(metadata.name)}`;
}

/** Server-side applies each object in order (field manager `seaway-lab`); any refusal is an error naming the object. */
export async function applyManifests(socketPath: string, manifests: Manifest[], source: string): Promise<void> {
  const discovered = new Map<string, DiscoveredResource[]>();
  for (const manifest of manifests) {
    const path = `${await objectPath(socketPath, manifest, discovered)}?fieldManager=seaway-lab&fieldValidation=Strict`;
    const response = await httpUnix(socketPath, path, {
      method: 'PATCH', headers: { 'content-type': 'application/apply-patch+yaml', accept: 'application/json' }, body: JSON.stringify(manifest),
    });
    if (response.status !== 200 && response.status !== 201) {
      throw new Error(`applying ${String(manifest.kind)} ${String(manifest.metadata?.name)} from ${source}: HTTP ${response.status} ${response.body.slice(0, 300)}`);
    }
  }
}

/** Applies every object of a multi-document YAML file. */
export async function applyManifestFile(socketPath: string, file: string): Promise<void> {
  const manifests = loadAll(await readFile(file, 'utf8')).filter((m) => m !== null && m !== undefined) as Manifest[];
  await applyManifests(socketPath, manifests, file);
}

/** `Role/<ns>/<name>#<i>` and `ClusterRole/<name>#<i>` for every rule of a manifest file: how the audit log names the rule that allowed a request. */
export async function rulesOf(file: string): Promise<string[]> {
  const manifests = loadAll(await readFile(file, 'utf8')) as Array<{ kind: string; metadata: { name: string; namespace?: string }; rules?: unknown[] }>;
  return manifests.filter((m) => m.kind === 'Role' || m.kind === 'ClusterRole').flatMap((m) =>
    (m.rules ?? []).map((_, i) => `${m.kind}/${m.metadata.namespace ? `${m.metadata.namespace}/` : ''}${m.metadata.name}#${i}`)).sort();
}
