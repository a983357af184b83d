/**
 * The garbage collector's graph, as plain data: every stored object by uid (the latest version, and where the
 * store files it), and for every uid that some object names as its owner, the uids of those dependents. Kept
 * up to date change by change, so a deletion finds its dependents without a scan of every object (the lab's
 * API server also holds 10,000s of objects).
 */
import { ownerReferencesOf } from './object-meta.ts';
import type { Change, KubeObject } from './store.ts';

export interface IndexedObject {
  /** The store's resource key (resources.ts resourceKey). */
  key: string;
  object: KubeObject;
}

export class OwnerIndex {
  readonly #objects = new Map<string, IndexedObject>();
  /** Owner uid -> dependent uids; an owner uid may name no object (any more). */
  readonly #dependents = new Map<string, Set<string>>();

  get(uid: string): IndexedObject | undefined {
    return this.#objects.get(uid);
  }

  get size(): number {
    return this.#objects.size;
  }

  /** The uids of the objects that name `owner` in their ownerReferences. */
  dependentsOf(owner: string): string[] {
    return [...(this.#dependents.get(owner) ?? [])];
  }

  hasDependents(owner: string): boolean {
    return (this.#dependents.get(owner)?.size ?? 0) > 0;
  }

  /** Takes in one committed change; returns the object as the index knew it before (undefined: new to it). */
  apply(change: Pick<Change, 'key' | 'type' | 'object'>): KubeObject | undefined {
    const uid = change.object.metadata.uid;
    if (typeof uid !== 'string' || uid === '') return undefined;
    const before = this.#objects.get(uid)?.object;
    const oldOwners = new Set(before ? ownerReferencesOf(before.metadata).map((ref) => ref.uid) : []);
    let newOwners = new Set<string>();
    if (change.type === 'DELETED') this.#objects.delete(uid);
    else {
      this.#objects.set(uid, { key: change.key, object: change.object });
      newOwners = new Set(ownerReferencesOf(change.object.metadata).map((ref) => ref.uid));
    }
    for (const owner of oldOwners) {
      if (newOwners.has(owner)) continue;
      const set = this.#dependents.get(owner);
      set?.delete(uid);
      if (set?.size === 0) this.#dependents.delete(owner);
    }
    for (const owner of newOwners) {
      if (oldOwners.has(owner)) continue;
      let set = this.#dependents.get(owner);
      if (!set) this.#dependents.set(owner, (set = new Set()));
      set.add(uid);
    }
    return before;
  }
}
