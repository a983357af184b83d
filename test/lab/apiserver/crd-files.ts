/** CustomResourceDefinition manifests read from a file or a directory, for the CRDs an API server starts with. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAll } from 'js-yaml';

/** Submariner's four CRDs as shipped: one multi-document file, applied before the rest of manifests/. */
export const SUBMARINER_CRDS_FILE = fileURLToPath(new URL('../../../manifests/01-crds.yaml', import.meta.url));

/** Every document of one YAML or JSON file, empty documents skipped; a parse error names the file. */
function loadFile(file: string): unknown[] {
  const text = readFileSync(file, 'utf8');
  try {
    return loadAll(text).filter((document) => document !== null && document !== undefined);
  } catch (error) {
    throw new Error(`${file}: ${(error as Error).message}`);
  }
}

/**
 * The documents of `path`: a file's, or those of every .yaml, .yml and .json file in a directory (by
 * file name, not recursing), empty documents skipped.
 */
export function loadCrdManifests(path: string): unknown[] {
  if (!statSync(path).isDirectory()) return loadFile(path);
  const files = readdirSync(path).filter((f) => /\.(ya?ml|json)$/.test(f)).sort();
  return files.flatMap((file) => loadFile(join(path, file)));
}

/** One of Submariner's CRDs as shipped, by its name (e.g. `routeagents.submariner.io`); throws when it is not there. */
export function submarinerCrd(name: string): unknown {
  const found = loadCrdManifests(SUBMARINER_CRDS_FILE).find((m) => (m as { metadata?: { name?: unknown } } | null)?.metadata?.name === name);
  if (found === undefined) throw new Error(`${SUBMARINER_CRDS_FILE} has no CustomResourceDefinition named ${name}`);
  return found;
}
