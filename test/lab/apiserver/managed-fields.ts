/**
 * Field ownership as the API server's field manager keeps it in `metadata.managedFields`, and
 * server-side apply on top of it. Every write records which manager set which fields (operation
 * Update for create, update and patch; Apply for server-side apply); an apply that would change a
 * field another manager owns is a 409 conflict unless forced, and fields the applier set before and
 * now leaves out are removed unless someone else owns them.
 *
 * What the lab keeps and what it does not (a real server uses structured-merge-diff with the kinds'
 * schemas): maps (objects) are owned key by key; every list is atomic (owned whole), where a real
 * server merges lists marked `x-kubernetes-list-type: map`/`set` (and built-in lists such as a pod's
 * containers) item by item; managedFields sent by a client are ignored, never taken as a reset.
 */
import { deepEqual, isObject, type Json } from './patch.ts';
import { ApiError } from './status.ts';

export type Operation = 'Apply' | 'Update';

/** The nested FieldsV1 form: `f:<field>` keys, `{}` at the owned leaves. */
export interface FieldsV1 { [key: string]: FieldsV1 }

export interface ManagedFieldsEntry {
  manager: string;
  operation: Operation;
  apiVersion: string;
  time: string;
  fieldsType: 'FieldsV1';
  fieldsV1: FieldsV1;
  subresource?: string;
}

/** Who writes: the manager, and where (the main resource or its status subresource). */
export interface Writer {
  manager: string;
  apiVersion: string;
  time: string;
  subresource: 'status' | undefined;
  /** The resource has a status subresource, so writes to the main resource do not own status. */
  statusSubresource: boolean;
}

type Path = string[];

/** Fields the server sets or that name the object: nobody owns them. */
const serverOwnedMetadata = new Set(['name', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp',
  'deletionTimestamp', 'deletionGracePeriodSeconds', 'managedFields', 'selfLink']);

const pathKey = (path: Path) => JSON.stringify(path);
const overlaps = (a: Path, b: Path) => a.length <= b.length ? a.every((s, i) => b[i] === s) : b.every((s, i) => a[i] === s);

function valueAt(value: Json | undefined, path: Path): Json | undefined {
  let current = value;
  for (const segment of path) {
    if (!isObject(current) || !Object.hasOwn(current, segment)) return undefined;
    current = current[segment];
  }
  return current;
}

/** Leaves of a JSON value: scalars, lists (atomic) and empty objects. */
function leafPaths(value: Json, prefix: Path, out: Path[]): Path[] {
  if (isObject(value) && Object.keys(value).length > 0) {
    for (const [key, child] of Object.entries(value)) leafPaths(child, [...prefix, key], out);
  } else {
    out.push(prefix);
  }
  return out;
}

/** The fields a writer can own in an object: its leaves, without apiVersion, kind and server-set metadata, and only status (or all but status) where the resource has a status subresource. */
function ownablePaths(object: Json, writer: Writer): Path[] {
  return leafPaths(object, [], []).filter((path) => {
    const [top, field] = path;
    if (top === 'apiVersion' || top === 'kind') return false;
    if (top === 'metadata' && (field === undefined || serverOwnedMetadata.has(field))) return false;
    if (writer.subresource === 'status') return top === 'status';
    return !(writer.statusSubresource && top === 'status');
  });
}

function toFieldsV1(paths: Path[]): FieldsV1 {
  const root: FieldsV1 = {};
  for (const path of paths) {
    let node = root;
    for (const segment of path) node = node[`f:${segment}`] ??= {};
  }
  return root;
}

function fromFieldsV1(fields: FieldsV1 | undefined): Path[] {
  const out: Path[] = [];
  const walk = (node: FieldsV1, prefix: Path) => {
    const keys = Object.keys(node).filter((k) => k.startsWith('f:'));
    if (keys.length === 0 && prefix.length > 0) out.push(prefix);
    for (const key of keys) walk(node[key] ?? {}, [...prefix, key.slice(2)]);
  };
  if (isObject(fields as Json)) walk(fields as FieldsV1, []);
  return out;
}

const sameOwner = (entry: ManagedFieldsEntry, manager: string, operation: Operation, subresource: string | undefined) =>
  entry.manager === manager && entry.operation === operation && entry.subresource === subresource;

/** The object's entries, read leniently (what a client may have stored is not trusted to be well formed). */
export function managedFieldsOf(object: { metadata: Record<string, unknown> }): ManagedFieldsEntry[] {
  const raw = object.metadata.managedFields;
  if (!Array.isArray(raw)) return [];
  return raw.filter((e): e is ManagedFieldsEntry => isObject(e) && typeof e.manager === 'string' && (e.operation === 'Apply' || e.operation === 'Update'));
}

/**
 * The entries after `writer` wrote `entries`' object into `after` (operation `operation`, owning
 * `written`; an Apply's set replaces the applier's previous one, an Update's adds to it): other entries
 * lose the `taken` paths and what no longer exists. Empty entries are dropped, as the API server drops them.
 */
function reassign(entries: ManagedFieldsEntry[], after: Json, writer: Writer, operation: Operation, written: Path[], taken: Set<string>): ManagedFieldsEntry[] {
  const present = new Set(leafPaths(after, [], []).map(pathKey));
  const replaceOwn = operation === 'Apply';
  const result: ManagedFieldsEntry[] = [];
  let own: ManagedFieldsEntry | undefined;
  for (const entry of entries) {
    const mine = sameOwner(entry, writer.manager, operation, writer.subresource);
    const kept = fromFieldsV1(entry.fieldsV1).filter((p) => present.has(pathKey(p)) && (mine || !taken.has(pathKey(p))));
    if (mine) {
      const paths = replaceOwn ? written : [...kept, ...written.filter((p) => !kept.some((k) => pathKey(k) === pathKey(p)))];
      own = { ...entry, time: writer.time, fieldsV1: toFieldsV1(paths.filter((p) => present.has(pathKey(p)))) };
      result.push(own);
    } else if (kept.length > 0) {
      result.push({ ...entry, fieldsV1: toFieldsV1(kept) });
    }
  }
  if (!own) {
    const paths = written.filter((p) => present.has(pathKey(p)));
    result.push({
      manager: writer.manager, operation, apiVersion: writer.apiVersion, time: writer.time, fieldsType: 'FieldsV1',
      fieldsV1: toFieldsV1(paths), ...(writer.subresource ? { subresource: writer.subresource } : {}),
    });
  }
  return result.filter((e) => fromFieldsV1(e.fieldsV1).length > 0);
}

/** After a create, update or patch: the writer (operation Update) owns every field it changed. */
export function recordUpdate(entries: ManagedFieldsEntry[], before: Json | undefined, after: Json, writer: Writer): ManagedFieldsEntry[] {
  const changed = ownablePaths(after, writer).filter((p) => before === undefined || !deepEqual(valueAt(before, p), valueAt(after, p)));
  return reassign(entries, after, writer, 'Update', changed, new Set(changed.map(pathKey)));
}

/** Managed entries compared without their timestamps (a write that changes nothing does not bump the object). */
export function sameOwnership(a: ManagedFieldsEntry[], b: ManagedFieldsEntry[]): boolean {
  const strip = (entries: ManagedFieldsEntry[]) => entries.map(({ time: _time, ...rest }) => rest);
  return deepEqual(strip(a) as unknown as Json, strip(b) as unknown as Json);
}

/** Objects merge key by key; anything else (lists included) is replaced. */
function mergeApplied(current: Json | undefined, applied: Json): Json {
  if (!isObject(applied) || !isObject(current)) return structuredClone(applied);
  const result: Record<string, Json> = { ...current };
  for (const [key, value] of Object.entries(applied)) result[key] = mergeApplied(current[key], value);
  return result;
}

function removeAt(object: Json, path: Path): void {
  const parent = valueAt(object, path.slice(0, -1));
  const last = path[path.length - 1];
  if (isObject(parent) && last !== undefined) delete parent[last];
}

/** `.spec.cable_name`, as the API server prints a field path in a conflict. */
const dotted = (path: Path) => path.map((s) => `.${s}`).join('');

function conflictError(conflicts: { manager: string; apiVersion: string; path: Path }[]): ApiError {
  const count = `${conflicts.length} conflict${conflicts.length === 1 ? '' : 's'}`;
  const byManager = new Map<string, Path[]>();
  for (const c of conflicts) byManager.set(`"${c.manager}" using ${c.apiVersion}`, [...(byManager.get(`"${c.manager}" using ${c.apiVersion}`) ?? []), c.path]);
  const parts = [...byManager].map(([who, paths]) => paths.length === 1 ? `conflict with ${who}: ${dotted(paths[0] ?? [])}` : `conflicts with ${who}:\n${paths.map((p) => `- ${dotted(p)}`).join('\n')}`);
  return new ApiError(409, `Apply failed with ${count}: ${parts.join('\n')}`, 'Conflict', {
    causes: conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with "${c.manager}" using ${c.apiVersion}`, field: dotted(c.path) })),
  });
}

/**
 * Server-side apply of `applied` (an object's apply configuration) over `current` (undefined: the
 * apply creates it). Returns the merged object and its managedFields, or throws the 409 conflict.
 */
export function serverSideApply(current: Json | undefined, entries: ManagedFieldsEntry[], applied: Json, writer: Writer, force: boolean): { object: Json; managedFields: ManagedFieldsEntry[] } {
  const appliedPaths = ownablePaths(applied, writer);
  const others = entries.filter((e) => !sameOwner(e, writer.manager, 'Apply', writer.subresource));
  // A copy: the removals below must not reach into the stored object.
  const object = mergeApplied(structuredClone(current), applied);
  // A field changes when the merge changes it (an empty object applied over a full one changes nothing).
  const changes = appliedPaths.filter((a) => !deepEqual(valueAt(object, a), valueAt(current, a)));
  const conflicts: { manager: string; apiVersion: string; path: Path }[] = [];
  for (const entry of others) {
    for (const owned of fromFieldsV1(entry.fieldsV1)) {
      const clash = changes.some((p) => overlaps(p, owned));
      if (clash) conflicts.push({ manager: entry.manager, apiVersion: entry.apiVersion, path: owned });
    }
  }
  conflicts.sort((a, b) => a.manager.localeCompare(b.manager) || dotted(a.path).localeCompare(dotted(b.path)));
  if (conflicts.length > 0 && !force) throw conflictError(conflicts);

  // Forced: the applier takes the fields it changes from everyone else; fields it sets to their current value stay shared.
  const trimmed = others.map((e) => ({ ...e, fieldsV1: toFieldsV1(fromFieldsV1(e.fieldsV1).filter((p) => !changes.some((a) => overlaps(a, p)))) }));
  const mine = entries.filter((e) => !others.includes(e));
  // What the applier set before and leaves out now is removed, unless another manager owns it too.
  for (const dropped of fromFieldsV1(mine[0]?.fieldsV1).filter((p) => !appliedPaths.some((a) => overlaps(a, p)))) {
    if (!trimmed.some((e) => fromFieldsV1(e.fieldsV1).some((p) => overlaps(p, dropped)))) removeAt(object, dropped);
  }
  return { object, managedFields: reassign([...trimmed, ...mine], object, writer, 'Apply', appliedPaths, new Set()) };
}
