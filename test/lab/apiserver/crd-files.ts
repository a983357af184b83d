/** CustomResourceDefinition manifests read from a directory, for the CRDs an API server starts with. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAll } from 'js-yaml';

/** Submariner's four CRDs as shipped (manifests/crds). */
export const SUBMARINER_CRDS_DIR = fileURLToPath(new URL('../../../manifests/crds/', import.meta.url));

/** Every document of every .yaml, .yml and .json file in `dir` (by file name), empty documents skipped. */
export function loadCrdManifests(dir: string): unknown[] {
  const files = readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f)).sort();
  return files.flatMap((file) => {
    const text = readFileSync(join(dir, file), 'utf8');
    try {
      return loadAll(text).filter((document) => document !== null && document !== undefined);
    } catch (error) {
      throw new Error(`${join(dir, file)}: ${(error as Error).message}`);
    }
  });
}
