/**
 * The documents of manifests/, each with where it came from, so every check can name the file, the
 * document and the object it is about. Parsing is pure (text in, documents out); only readManifestDir
 * reads files.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAll } from 'js-yaml';
import { isRecord } from '../../src/model/compare.ts';

export const MANIFESTS_DIR = fileURLToPath(new URL('../../manifests/', import.meta.url));

export interface ManifestDoc {
  /** Path relative to the manifests directory, e.g. `10-route-agent.yaml` or `uninstall/uninstall.yaml`. */
  file: string;
  /** The document's position in its file (empty documents are not counted). */
  index: number;
  object: Record<string, unknown>;
}

/** The documents of one file's text; a parse error, or a document that is not an object, names the file. */
export function parseManifestText(file: string, text: string): ManifestDoc[] {
  let documents: unknown[];
  try {
    documents = loadAll(text);
  } catch (error) {
    throw new Error(`${file}: not valid YAML: ${(error as Error).message}`);
  }
  return documents.filter((d) => d !== null && d !== undefined).map((document, index) => {
    if (!isRecord(document)) throw new Error(`${file}#${index}: a manifest document must be an object, not ${JSON.stringify(document).slice(0, 80)}`);
    return { file, index, object: document };
  });
}

/** Every .yaml file under `dir`, recursively, in path order; anything else there is refused (a stray .yml would never be applied). */
export function readManifestDir(dir: string = MANIFESTS_DIR): ManifestDoc[] {
  const files: string[] = [];
  const walk = (at: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.yaml')) files.push(path);
      else throw new Error(`${relative(dir, path)}: only .yaml files belong under manifests/`);
    }
  };
  walk(dir);
  return files.flatMap((path) => parseManifestText(relative(dir, path), readFileSync(path, 'utf8')));
}

export const str = (value: unknown): string => (typeof value === 'string' ? value : '');

export function metadataOf(object: Record<string, unknown>): { name: string; namespace: string; labels: Record<string, string> } {
  const metadata = isRecord(object.metadata) ? object.metadata : {};
  const labels: Record<string, string> = {};
  if (isRecord(metadata.labels)) for (const [k, v] of Object.entries(metadata.labels)) labels[k] = str(v);
  return { name: str(metadata.name), namespace: str(metadata.namespace), labels };
}

/** `10-route-agent.yaml#0 DaemonSet submariner-operator/seaway-route-agent`: how every problem names its object. */
export function describeDoc(doc: ManifestDoc): string {
  const { name, namespace } = metadataOf(doc.object);
  return `${doc.file}#${doc.index} ${str(doc.object.kind) || '(no kind)'} ${namespace ? `${namespace}/` : ''}${name || '(no name)'}`;
}

/** Top-level files: what `kubectl apply -f manifests/` (no -R) applies on a member cluster. */
export const isTopLevel = (doc: ManifestDoc): boolean => !doc.file.includes('/');
