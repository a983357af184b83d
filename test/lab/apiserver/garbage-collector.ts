/**
 * The garbage collector (kube-controller-manager's), folded into the lab's API server process: it follows every
 * change in the store (no requests over HTTP), keeps the owner -> dependents graph (owner-index.ts), and:
 * - deletes the dependents of a removed owner, each with its own deletion semantics (a Pod gracefully), and
 *   any object all of whose owners are absent (a dangling uid, or a uid now held by another name or kind);
 * - for an owner deleted in the foreground (finalizer `foregroundDeletion`), deletes its dependents and removes
 *   the finalizer once no dependent with `blockOwnerDeletion: true` remains (a terminating Pod still counts);
 * - for an owner deleted with finalizer `orphan`, removes the ownerReferences to it from its dependents, then
 *   the finalizer.
 *
 * Verified against kube-controller-manager's garbagecollector package as recalled and partly re-read through the
 * code search: attemptToDeleteItem's classification of owners (solid, dangling, waiting for dependents' deletion)
 * and its three outcomes (drop the dangling and waiting references when a solid owner remains; delete in the
 * foreground when an owner waits and the item has dependents of its own; else delete with the policy its own
 * finalizers ask for, Background by default, with a uid precondition); processDeletingDependentsItem's blocking
 * dependents; an owner reference to a kind the server does not serve, or from a cluster-scoped object to a
 * namespaced kind, keeps the object (it cannot be resolved). A namespaced owner must be in the dependent's namespace.
 *
 * The lab's own choices: work runs on later turns of the event loop (writes are never made inside a store
 * listener), at most `batch` items per turn; its writes go straight to the object service with field manager
 * `kube-controller-manager` (what the real collector's User-Agent gives) and are not API requests, so they are
 * **not in the audit log**; a write that fails is retried with backoff (404 and 409 mean the object moved on:
 * dropped, a later change brings it back if needed).
 */
import { defaultWriteContext, type WriteContext } from './custom-resources.ts';
import type { PropagationPolicy } from './delete-options.ts';
import { finalizersOf, FOREGROUND_FINALIZER, ORPHAN_FINALIZER, ownerReferencesOf, type OwnerReference } from './object-meta.ts';
import type { ObjectService } from './objects.ts';
import { OwnerIndex } from './owner-index.ts';
import { deepEqual } from './patch.ts';
import { resourceKey, type ResourceRegistry, type ResourceType } from './resources.ts';
import { ApiError } from './status.ts';
import type { Change, KubeObject, Store } from './store.ts';

/** The field manager of the collector's writes. */
export const GC_FIELD_MANAGER = 'kube-controller-manager';

export interface GarbageCollectorOptions {
  log?: (line: string) => void;
  /** Delay before retrying an item whose write failed, by attempt (default 1 s doubling up to 30 s). */
  retryDelayMs?: (attempt: number) => number;
  /** Items worked through per turn of the event loop (default 500), so a large cascade never starves requests. */
  batch?: number;
  /** Runs `work` on a later turn of the event loop (default setImmediate); a seam for tests. */
  defer?: (work: () => void) => void;
}

type Task = 'delete' | 'orphan';

const isDeletingDependents = (object: KubeObject | undefined): boolean =>
  object !== undefined && Boolean(object.metadata.deletionTimestamp) && finalizersOf(object.metadata).includes(FOREGROUND_FINALIZER);

function groupVersion(apiVersion: string): [string, string] {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? ['', apiVersion] : [apiVersion.slice(0, slash), apiVersion.slice(slash + 1)];
}

const describe = (object: KubeObject) =>
  `${object.kind} ${object.metadata.namespace ? `${object.metadata.namespace}/` : ''}${object.metadata.name}`;

export class GarbageCollector {
  readonly #registry: ResourceRegistry;
  readonly #objects: ObjectService;
  readonly #log: (line: string) => void;
  readonly #retryDelayMs: (attempt: number) => number;
  readonly #batch: number;
  readonly #defer: (work: () => void) => void;
  readonly #index = new OwnerIndex();
  /** `<task> <uid>`, in the order queued; a Set, so an item queued twice is worked once. */
  readonly #queue = new Set<string>();
  readonly #attempts = new Map<string, number>();
  readonly #retries = new Set<NodeJS.Timeout>();
  readonly #unsubscribe: () => void;
  #scheduled = false;
  #stopped = false;

  constructor(store: Store, registry: ResourceRegistry, objects: ObjectService, options: GarbageCollectorOptions = {}) {
    this.#registry = registry;
    this.#objects = objects;
    this.#log = options.log ?? (() => {});
    this.#retryDelayMs = options.retryDelayMs ?? ((attempt) => Math.min(30_000, 1000 * 2 ** (attempt - 1)));
    this.#batch = options.batch ?? 500;
    this.#defer = options.defer ?? ((work) => setImmediate(work));
    for (const resource of registry.all()) {
      const key = resourceKey(resource);
      for (const object of store.list(key)) this.#observe({ key, type: 'ADDED', object });
    }
    this.#unsubscribe = store.subscribeAll((change) => this.#observe(change));
  }

  stop(): void {
    this.#stopped = true;
    this.#unsubscribe();
    for (const timer of this.#retries) clearTimeout(timer);
    this.#retries.clear();
    this.#queue.clear();
  }

  /** A store change: the graph updated and the items it may concern queued. Never writes, never throws. */
  #observe(change: Pick<Change, 'key' | 'type' | 'object'>): void {
    try {
      const object = change.object;
      const uid = object.metadata.uid;
      if (typeof uid !== 'string' || uid === '') return;
      const before = this.#index.apply(change);
      const beforeRefs = before ? ownerReferencesOf(before.metadata) : [];
      if (change.type === 'DELETED') {
        // Its dependents may be garbage now; owners waiting for it may be done.
        for (const dependent of this.#index.dependentsOf(uid)) this.#enqueue('delete', dependent);
        for (const ref of beforeRefs) if (isDeletingDependents(this.#index.get(ref.uid)?.object)) this.#enqueue('delete', ref.uid);
        return;
      }
      if (object.metadata.deletionTimestamp) {
        const finalizers = finalizersOf(object.metadata);
        if (finalizers.includes(ORPHAN_FINALIZER)) this.#enqueue('orphan', uid);
        if (finalizers.includes(FOREGROUND_FINALIZER) && !isDeletingDependents(before)) {
          this.#enqueue('delete', uid);
          for (const dependent of this.#index.dependentsOf(uid)) this.#enqueue('delete', dependent);
        }
      }
      const refs = ownerReferencesOf(object.metadata);
      if (before && deepEqual(beforeRefs, refs)) return;
      // A reference dropped or no longer blocking may release an owner deleted in the foreground.
      for (const ref of beforeRefs) {
        const stillBlocks = refs.some((r) => r.uid === ref.uid && r.blockOwnerDeletion === true);
        if (!stillBlocks && isDeletingDependents(this.#index.get(ref.uid)?.object)) this.#enqueue('delete', ref.uid);
      }
      if (refs.some((ref) => this.#ownerNeedsAttention(ref, object))) this.#enqueue('delete', uid);
    } catch (error) {
      this.#log(`garbage collector: ignoring a change it could not read: ${(error as Error).message}`);
    }
  }

  /** The owner is absent, or is being deleted in the foreground: the dependent has to be looked at. */
  #ownerNeedsAttention(ref: OwnerReference, dependent: KubeObject): boolean {
    const owner = this.#index.get(ref.uid)?.object;
    return owner === undefined || !this.#sameOwner(owner, ref, dependent) || isDeletingDependents(owner);
  }

  /** Whether the object holding the reference's uid is the one the reference names (kind, group, name, namespace). */
  #sameOwner(owner: KubeObject, ref: OwnerReference, dependent: KubeObject): boolean {
    const [group] = groupVersion(ref.apiVersion);
    if (owner.kind !== ref.kind || groupVersion(owner.apiVersion)[0] !== group || owner.metadata.name !== ref.name) return false;
    return owner.metadata.namespace === undefined || owner.metadata.namespace === dependent.metadata.namespace;
  }

  #enqueue(task: Task, uid: string): void {
    if (this.#stopped) return;
    this.#queue.add(`${task} ${uid}`);
    if (this.#scheduled) return;
    this.#scheduled = true;
    this.#defer(() => this.#drain());
  }

  #drain(): void {
    this.#scheduled = false;
    if (this.#stopped) return;
    let budget = this.#batch;
    for (const item of this.#queue) {
      if (budget-- <= 0) break;
      this.#queue.delete(item);
      const [task, uid] = item.split(' ') as [Task, string];
      try {
        if (task === 'delete') this.#attemptToDelete(uid);
        else this.#attemptToOrphan(uid);
        this.#attempts.delete(item);
      } catch (error) {
        this.#failed(item, error);
      }
    }
    if (this.#queue.size > 0 && !this.#scheduled) {
      this.#scheduled = true;
      this.#defer(() => this.#drain());
    }
  }

  #failed(item: string, error: unknown): void {
    if (error instanceof ApiError && (error.code === 404 || error.code === 409)) {
      this.#attempts.delete(item);
      return;
    }
    const attempt = (this.#attempts.get(item) ?? 0) + 1;
    this.#attempts.set(item, attempt);
    const delay = this.#retryDelayMs(attempt);
    this.#log(`garbage collector: ${item} failed (attempt ${attempt}, retrying in ${delay} ms): ${(error as Error).message}`);
    const timer = setTimeout(() => {
      this.#retries.delete(timer);
      const [task, uid] = item.split(' ') as [Task, string];
      this.#enqueue(task, uid);
    }, delay);
    timer.unref();
    this.#retries.add(timer);
  }

  #current(uid: string): { resource: ResourceType; object: KubeObject } | undefined {
    const entry = this.#index.get(uid);
    const resource = entry && this.#registry.lookupKey(entry.key);
    return entry && resource ? { resource, object: entry.object } : undefined;
  }

  /** attemptToDeleteItem. */
  #attemptToDelete(uid: string): void {
    const current = this.#current(uid);
    if (!current) return;
    const { resource, object } = current;
    // Being deleted is a one-way trip: wait for it to go, unless it waits for its own dependents.
    if (object.metadata.deletionTimestamp && !isDeletingDependents(object)) return;
    if (isDeletingDependents(object)) return this.#processDeletingDependents(resource, object);
    const refs = ownerReferencesOf(object.metadata);
    if (refs.length === 0) return;

    const solid: OwnerReference[] = [];
    const dangling: OwnerReference[] = [];
    const waiting: OwnerReference[] = [];
    for (const ref of refs) {
      const state = this.#classify(ref, object);
      if (state === 'unresolvable') return;
      ({ solid, dangling, waiting })[state].push(ref);
    }
    if (solid.length > 0) {
      if (dangling.length === 0 && waiting.length === 0) return;
      const drop = new Set([...dangling, ...waiting].map((ref) => ref.uid));
      this.#log(`garbage collector: ${describe(object)} keeps its other owners; dropping references to ${[...drop].join(', ')}`);
      this.#writeOwnerReferences(resource, object, refs.filter((ref) => !drop.has(ref.uid)));
      return;
    }
    if (waiting.length > 0 && this.#index.hasDependents(uid)) {
      // An owner waits for it, and it has dependents of its own: delete it in the foreground too. A dependent
      // that itself waits would make a cycle; its references to this object stop blocking first.
      const dependents = this.#index.dependentsOf(uid).map((d) => this.#index.get(d)?.object);
      if (dependents.some(isDeletingDependents) && refs.some((ref) => ref.blockOwnerDeletion === true)) {
        this.#writeOwnerReferences(resource, object, refs.map((ref) => (ref.blockOwnerDeletion === true ? { ...ref, blockOwnerDeletion: false } : ref)));
      }
      return this.#delete(resource, object, 'Foreground', 'an owner waits for its dependents');
    }
    const finalizers = finalizersOf(object.metadata);
    const policy: PropagationPolicy = finalizers.includes(ORPHAN_FINALIZER) ? 'Orphan' : finalizers.includes(FOREGROUND_FINALIZER) ? 'Foreground' : 'Background';
    this.#delete(resource, object, policy, waiting.length > 0 ? 'its owner waits for its dependents' : 'its owners are gone');
  }

  #classify(ref: OwnerReference, dependent: KubeObject): 'solid' | 'dangling' | 'waiting' | 'unresolvable' {
    const [group, version] = groupVersion(ref.apiVersion);
    const ownerKind = this.#registry.resourcesOf(group, version).find((r) => r.kind === ref.kind);
    if (!ownerKind) return 'unresolvable';
    if (ownerKind.namespaced && !dependent.metadata.namespace) return 'unresolvable';
    const owner = this.#index.get(ref.uid)?.object;
    if (!owner || !this.#sameOwner(owner, ref, dependent)) return 'dangling';
    return isDeletingDependents(owner) ? 'waiting' : 'solid';
  }

  /** processDeletingDependentsItem: the finalizer goes once nothing blocks; blocking dependents get deleted. */
  #processDeletingDependents(resource: ResourceType, owner: KubeObject): void {
    const uid = owner.metadata.uid as string;
    const blocking = this.#index.dependentsOf(uid).map((d) => this.#index.get(d)?.object).filter((dependent): dependent is KubeObject =>
      dependent !== undefined && ownerReferencesOf(dependent.metadata).some((ref) => ref.uid === uid && ref.blockOwnerDeletion === true));
    if (blocking.length === 0) {
      this.#log(`garbage collector: ${describe(owner)} has no blocking dependents left; removing ${FOREGROUND_FINALIZER}`);
      this.#removeFinalizer(resource, owner, FOREGROUND_FINALIZER);
      return;
    }
    for (const dependent of blocking) if (!isDeletingDependents(dependent)) this.#enqueue('delete', dependent.metadata.uid as string);
  }

  /** The orphan finalizer: references to the owner removed from its dependents, then the finalizer. */
  #attemptToOrphan(uid: string): void {
    const current = this.#current(uid);
    if (!current) return;
    const { resource, object: owner } = current;
    if (!owner.metadata.deletionTimestamp || !finalizersOf(owner.metadata).includes(ORPHAN_FINALIZER)) return;
    for (const dependentUid of this.#index.dependentsOf(uid)) {
      const dependent = this.#current(dependentUid);
      if (!dependent) continue;
      const refs = ownerReferencesOf(dependent.object.metadata);
      const kept = refs.filter((ref) => ref.uid !== uid);
      if (kept.length !== refs.length) this.#writeOwnerReferences(dependent.resource, dependent.object, kept);
    }
    this.#log(`garbage collector: orphaned the dependents of ${describe(owner)}; removing ${ORPHAN_FINALIZER}`);
    this.#removeFinalizer(resource, owner, ORPHAN_FINALIZER);
  }

  #context(): WriteContext {
    return { ...defaultWriteContext(), fieldValidation: 'Ignore', manager: GC_FIELD_MANAGER };
  }

  #writeOwnerReferences(resource: ResourceType, object: KubeObject, refs: OwnerReference[]): void {
    const { namespace, name, resourceVersion } = object.metadata;
    this.#objects.patch(resource, namespace, name, 'merge', { metadata: { ownerReferences: refs.length > 0 ? refs : null, resourceVersion } }, undefined, this.#context());
  }

  #removeFinalizer(resource: ResourceType, object: KubeObject, finalizer: string): void {
    const { namespace, name, resourceVersion } = object.metadata;
    const remaining = finalizersOf(object.metadata).filter((f) => f !== finalizer);
    this.#objects.patch(resource, namespace, name, 'merge', { metadata: { finalizers: remaining.length > 0 ? remaining : null, resourceVersion } }, undefined, this.#context());
  }

  #delete(resource: ResourceType, object: KubeObject, policy: PropagationPolicy, why: string): void {
    this.#log(`garbage collector: deleting ${describe(object)} (${policy}): ${why}`);
    const { namespace, name, uid } = object.metadata;
    this.#objects.deleteWithOptions(resource, namespace, name, { propagationPolicy: policy, preconditions: uid ? { uid } : {} });
  }
}
