/**
 * Pods whose grace period has run out. On a cluster the kubelet ends a terminating Pod's containers (SIGKILL
 * at the end of the grace) and then removes the object with a DELETE of grace 0; the lab's kubelet does the
 * same. A lab API server started without kubelets (or a Pod bound to a node whose kubelet is gone) has nobody
 * to do it, so this removes such a Pod once its deletionTimestamp has passed, with the DELETE the kubelet would
 * send (grace 0, the Pod's uid as precondition). That is the lab's stand-in for the kubelet's last word and for
 * the pod garbage collector's force-deletion of Pods on vanished nodes: a real cluster would leave a Pod of a
 * hung kubelet terminating for longer. Finalizers still hold the Pod (with grace 0) until they are removed.
 */
import type { ObjectService } from './objects.ts';
import { resourceKey, type ResourceType } from './resources.ts';
import { ApiError } from './status.ts';
import type { Change, KubeObject, Store } from './store.ts';

export interface PodExpiryOptions {
  log?: (line: string) => void;
  now?: () => number;
  /** Timer seams (default: the global ones, unref'd so they never hold the process). */
  setTimer?: (run: () => void, ms: number) => NodeJS.Timeout;
  clearTimer?: (timer: NodeJS.Timeout) => void;
}

export class PodExpiry {
  readonly #objects: ObjectService;
  readonly #pods: ResourceType;
  readonly #log: (line: string) => void;
  readonly #now: () => number;
  readonly #setTimer: (run: () => void, ms: number) => NodeJS.Timeout;
  readonly #clearTimer: (timer: NodeJS.Timeout) => void;
  /** uid -> the deadline it is armed for, and its timer. */
  readonly #armed = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  readonly #unsubscribe: () => void;

  constructor(store: Store, pods: ResourceType, objects: ObjectService, options: PodExpiryOptions = {}) {
    this.#objects = objects;
    this.#pods = pods;
    this.#log = options.log ?? (() => {});
    this.#now = options.now ?? (() => Date.now());
    this.#setTimer = options.setTimer ?? ((run, ms) => setTimeout(run, ms).unref());
    this.#clearTimer = options.clearTimer ?? ((timer) => clearTimeout(timer));
    const key = resourceKey(pods);
    for (const pod of store.list(key)) this.#changed(pod, false);
    this.#unsubscribe = store.subscribe(key, (change: Change) => this.#changed(change.object, change.type === 'DELETED'));
  }

  stop(): void {
    this.#unsubscribe();
    for (const { timer } of this.#armed.values()) this.#clearTimer(timer);
    this.#armed.clear();
  }

  #changed(pod: KubeObject, deleted: boolean): void {
    const uid = pod.metadata.uid;
    if (typeof uid !== 'string') return;
    const at = Date.parse(String(pod.metadata.deletionTimestamp ?? ''));
    const grace = pod.metadata.deletionGracePeriodSeconds;
    // Grace 0: the final DELETE has happened; whatever holds the Pod now (finalizers) is not a kubelet's to end.
    const due = !deleted && Number.isFinite(at) && typeof grace === 'number' && grace > 0;
    const armed = this.#armed.get(uid);
    if (armed && (!due || armed.at !== at)) {
      this.#clearTimer(armed.timer);
      this.#armed.delete(uid);
    }
    if (!due || this.#armed.has(uid)) return;
    const { namespace, name } = pod.metadata;
    const timer = this.#setTimer(() => this.#expire(uid, namespace, name), Math.max(0, at - this.#now()));
    this.#armed.set(uid, { at, timer });
  }

  #expire(uid: string, namespace: string | undefined, name: string): void {
    this.#armed.delete(uid);
    try {
      this.#objects.deleteWithOptions(this.#pods, namespace, name, { gracePeriodSeconds: 0, preconditions: { uid } });
      this.#log(`pod ${namespace}/${name}: grace period over with no kubelet to end it; deleted`);
    } catch (error) {
      // Gone or replaced already: nothing to do.
      if (error instanceof ApiError && (error.code === 404 || error.code === 409)) return;
      this.#log(`pod ${namespace}/${name}: deleting after its grace period failed: ${(error as Error).message}`);
    }
  }
}
