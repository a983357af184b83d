/**
 * The project's manifests applied to a lab API server as an installer would: through the server's
 * plain unix socket (the lab's administrator), one object at a time, an existing one counting as done.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { httpUnix } from './http-unix.ts';
import { REPO_ROOT } from './agents.ts';

/** What the route agent needs on every cluster: its ServiceAccount, roles and bindings. */
export const ROUTE_AGENT_RBAC = join(REPO_ROOT, 'manifests', 'rbac', 'route-agent.yaml');
/** The route agent's ServiceAccount (as ROUTE_AGENT_RBAC names it): the agents' tokens are its. */
export const ROUTE_AGENT_ACCOUNT = { namespace: 'submariner-operator', name: 'seaway-route-agent' } as const;

interface Manifest { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } }

/** The collection path an object of this apiVersion and kind is created in (kinds whose plural is kind + "s"). */
export function collectionPath(manifest: Manifest): string {
  const { apiVersion, kind, metadata } = manifest;
  if (typeof apiVersion !== 'string' || typeof kind !== 'string' || typeof metadata?.name !== 'string') {
    throw new Error(`a manifest needs apiVersion, kind and metadata.name: ${JSON.stringify(manifest).slice(0, 200)}`);
  }
  const base = apiVersion === 'v1' ? '/api/v1' : `/apis/${apiVersion}`;
  const plural = `${kind.toLowerCase()}s`;
  return typeof metadata.namespace === 'string' ? `${base}/namespaces/${metadata.namespace}/${plural}` : `${base}/${plural}`;
}

/** Creates every object of a multi-document YAML file through `socketPath`. */
export async function applyManifestFile(socketPath: string, file: string): Promise<void> {
  const manifests = loadAll(await readFile(file, 'utf8')).filter((m) => m !== null && m !== undefined) as Manifest[];
  for (const manifest of manifests) {
    const response = await httpUnix(socketPath, collectionPath(manifest), {
      method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(manifest),
    });
    if (response.status !== 201 && response.status !== 409) {
      throw new Error(`applying ${String(manifest.kind)} ${String(manifest.metadata?.name)} from ${file}: HTTP ${response.status} ${response.body.slice(0, 300)}`);
    }
  }
}
