export interface ObjectMeta {
  name: string;
  namespace?: string;
  generateName?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [field: string]: unknown;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** One committed write. `object` carries the write's resourceVersion (for DELETED: the object as it was, stamped). */
export interface Change {
  resourceVersion: number;
  key: string;
  type: ChangeType;
  object: KubeObject;
  previous: KubeObject | undefined;
}

export type ChangeListener = (change: Change) => void;

/** Changes after a version, or the oldest version still answerable when history no longer reaches back that far. */
export type ChangesSince = { changes: Change[] } | { expiredBefore: number };

/**
 * The object store: one global, monotonically increasing resourceVersion (as etcd gives), objects indexed
 * by resource, namespace and name, a bounded history of changes for watches, and per-resource listeners.
 * Stored objects are never mutated after they are stored; callers pass in fresh objects.
 */
export class Store {
  #resourceVersion = 0;
  readonly #tables = new Map<string, Map<string, Map<string, KubeObject>>>();
  readonly #history: Change[] = [];
  #historyHead = 0;
  /** Every change with a version above this one is still in #history. */
  #compactedThrough = 0;
  readonly #historyLimit: number;
  readonly #listeners = new Map<string, Set<ChangeListener>>();
  /** Listeners of every resource (the garbage collector), called after the resource's own. */
  readonly #everything = new Set<ChangeListener>();

  constructor(historyLimit: number) {
    if (!Number.isInteger(historyLimit) || historyLimit < 1) throw new Error(`historyLimit must be a positive integer, got ${historyLimit}`);
    this.#historyLimit = historyLimit;
  }

  get resourceVersion(): number {
    return this.#resourceVersion;
  }

  get compactedThrough(): number {
    return this.#compactedThrough;
  }

  get(key: string, namespace: string, name: string): KubeObject | undefined {
    return this.#tables.get(key)?.get(namespace)?.get(name);
  }

  /** Objects of one resource, in one namespace or (namespace undefined) all, sorted by namespace then name. */
  list(key: string, namespace?: string): KubeObject[] {
    const table = this.#tables.get(key);
    if (!table) return [];
    const namespaces = namespace === undefined ? [...table.keys()].sort() : [namespace];
    const items: KubeObject[] = [];
    for (const ns of namespaces) {
      const objects = table.get(ns);
      if (!objects) continue;
      for (const name of [...objects.keys()].sort()) items.push(objects.get(name) as KubeObject);
    }
    return items;
  }

  count(key: string): number {
    let n = 0;
    for (const objects of this.#tables.get(key)?.values() ?? []) n += objects.size;
    return n;
  }

  add(key: string, object: KubeObject): KubeObject {
    return this.#commit(key, 'ADDED', object, undefined);
  }

  replace(key: string, object: KubeObject, previous: KubeObject): KubeObject {
    return this.#commit(key, 'MODIFIED', object, previous);
  }

  remove(key: string, previous: KubeObject): KubeObject {
    return this.#commit(key, 'DELETED', { ...previous, metadata: { ...previous.metadata } }, previous);
  }

  changesSince(key: string, resourceVersion: number): ChangesSince {
    if (resourceVersion < this.#compactedThrough) return { expiredBefore: this.#compactedThrough };
    let low = this.#historyHead;
    let high = this.#history.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((this.#history[mid] as Change).resourceVersion <= resourceVersion) low = mid + 1;
      else high = mid;
    }
    const changes: Change[] = [];
    for (let i = low; i < this.#history.length; i++) {
      const change = this.#history[i] as Change;
      if (change.key === key) changes.push(change);
    }
    return { changes };
  }

  /**
   * Objects of one resource as they were at `resourceVersion` (for continuing a paginated list on the
   * first page's snapshot, as etcd reads at a revision): the current objects with every later change
   * undone, sorted as list() sorts. Older than the retained history: the oldest version still known.
   */
  listAt(key: string, namespace: string | undefined, resourceVersion: number): KubeObject[] | { expiredBefore: number } {
    const since = this.changesSince(key, resourceVersion);
    if ('expiredBefore' in since) return since;
    const id = (object: KubeObject) => `${object.metadata.namespace ?? ''}\u0000${object.metadata.name}`;
    const objects = new Map<string, KubeObject>();
    for (const object of this.list(key, namespace)) objects.set(id(object), object);
    for (const change of since.changes.reverse()) {
      if (namespace !== undefined && (change.object.metadata.namespace ?? '') !== namespace) continue;
      if (change.type === 'ADDED') objects.delete(id(change.object));
      else if (change.previous) objects.set(id(change.object), change.previous);
    }
    return [...objects.values()].sort(compareObjects);
  }

  /** Forgets all history: any version before now can no longer be watched from. */
  compact(): number {
    this.#history.length = 0;
    this.#historyHead = 0;
    this.#compactedThrough = this.#resourceVersion;
    return this.#compactedThrough;
  }

  subscribe(key: string, listener: ChangeListener): () => void {
    let listeners = this.#listeners.get(key);
    if (!listeners) this.#listeners.set(key, (listeners = new Set()));
    listeners.add(listener);
    return () => listeners.delete(listener);
  }

  /** Every change of every resource, present and future (kinds come and go with their CRDs). */
  subscribeAll(listener: ChangeListener): () => void {
    this.#everything.add(listener);
    return () => this.#everything.delete(listener);
  }

  #commit(key: string, type: ChangeType, object: KubeObject, previous: KubeObject | undefined): KubeObject {
    const resourceVersion = ++this.#resourceVersion;
    object.metadata.resourceVersion = String(resourceVersion);
    const namespace = object.metadata.namespace ?? '';
    let table = this.#tables.get(key);
    if (!table) this.#tables.set(key, (table = new Map()));
    let objects = table.get(namespace);
    if (!objects) table.set(namespace, (objects = new Map()));
    if (type === 'DELETED') {
      objects.delete(object.metadata.name);
      if (objects.size === 0) table.delete(namespace);
    } else {
      objects.set(object.metadata.name, object);
    }
    const change: Change = { resourceVersion, key, type, object, previous };
    this.#remember(change);
    for (const listener of this.#listeners.get(key) ?? []) listener(change);
    for (const listener of this.#everything) listener(change);
    return object;
  }

  #remember(change: Change): void {
    this.#history.push(change);
    if (this.#history.length - this.#historyHead > this.#historyLimit) {
      this.#compactedThrough = (this.#history[this.#historyHead] as Change).resourceVersion;
      this.#historyHead++;
      if (this.#historyHead >= 4096 && this.#historyHead * 2 >= this.#history.length) {
        this.#history.splice(0, this.#historyHead);
        this.#historyHead = 0;
      }
    }
  }
}

/** list()'s order: by namespace, then name. */
export function compareObjects(a: KubeObject, b: KubeObject): number {
  return compareKeys([a.metadata.namespace ?? '', a.metadata.name], [b.metadata.namespace ?? '', b.metadata.name]);
}

/** Orders [namespace, name] pairs as list() does (code unit order, as Array.prototype.sort). */
export function compareKeys(a: readonly [string, string], b: readonly [string, string]): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  if (a[1] !== b[1]) return a[1] < b[1] ? -1 : 1;
  return 0;
}
