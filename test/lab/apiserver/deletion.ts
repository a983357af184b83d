/**
 * What a DELETE does to an object, decided purely (the generic registry's Delete, rest.BeforeDelete and the Pod
 * strategy's CheckGracefulDelete, folded into one function): remove it now, keep it marked for deletion
 * (deletionTimestamp, deletionGracePeriodSeconds, the garbage collector's finalizers), or leave it as it is
 * (a graceful deletion already pending with a grace no longer than the one asked for).
 *
 * Verified against apiserver's registry/rest/delete.go and registry/generic/registry/store.go (read through the
 * code search): a first graceful DELETE sets deletionTimestamp = now + grace and bumps generation; a later one
 * may only shorten the grace (the new timestamp is the old one minus the old grace plus the new); a grace of 0
 * or a kind without graceful deletion removes the object unless finalizers remain, in which case it is kept with
 * deletionTimestamp (now, unless already earlier) and deletionGracePeriodSeconds 0 (markAsDeleting); the
 * propagation policy (or the legacy orphanDependents, or the finalizers already there) decides the `orphan` and
 * `foregroundDeletion` finalizers, which a pending graceful deletion no longer changes; a graceful DELETE with
 * grace 0 is written (the object with its deletionTimestamp) and then removed; an update that leaves no
 * finalizers on an object whose deletion has a grace of 0 removes it (ShouldDeleteDuringUpdate). A Pod's grace
 * is the DELETE's, else spec.terminationGracePeriodSeconds, and 0 when it is not bound to a node or has ended.
 */
import type { DeleteOptions, PropagationPolicy } from './delete-options.ts';
import { finalizersOf, FOREGROUND_FINALIZER, ORPHAN_FINALIZER } from './object-meta.ts';
import { deepEqual, isObject } from './patch.ts';
import type { KubeObject } from './store.ts';

/** What the API server defaults spec.terminationGracePeriodSeconds to (the lab stores Pods undefaulted). */
export const DEFAULT_TERMINATION_GRACE_SECONDS = 30;

export type DeletePlan =
  /** Nothing to write: a graceful deletion is already under way; the DELETE answers the object as it is. */
  | { action: 'keep' }
  /** Write `object` (marked for deletion) and keep it. */
  | { action: 'update'; object: KubeObject }
  /** Remove the object; with `last`, write that first (watchers see it MODIFIED, then DELETED). */
  | { action: 'remove'; last?: KubeObject };

/** A graceful kind's grace period for a first DELETE, from the grace the DELETE asked for (already at least 0). */
export type GracePeriodOf = (object: KubeObject, requested: number | undefined) => number;

/** metadata times as the API server writes them: RFC 3339, whole seconds (metav1.Time truncates). */
function seconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The Pod strategy's CheckGracefulDelete. */
export function podGracePeriod(pod: KubeObject, requested: number | undefined): number {
  const spec = isObject(pod.spec) ? pod.spec : {};
  const status = isObject(pod.status) ? pod.status : {};
  const own = spec.terminationGracePeriodSeconds;
  // A negative spec value is made 1 on create by the Pod strategy; the lab stores it as sent, so it is mended here.
  const fromSpec = typeof own === 'number' && Number.isInteger(own) ? (own < 0 ? 1 : own) : DEFAULT_TERMINATION_GRACE_SECONDS;
  let period = requested ?? fromSpec;
  if (typeof spec.nodeName !== 'string' || spec.nodeName === '') period = 0;
  if (status.phase === 'Failed' || status.phase === 'Succeeded') period = 0;
  return period;
}

/**
 * The finalizers after a DELETE with `options` (deletionFinalizersForGarbageCollection): the garbage collector's
 * two replaced by what the options (or, failing them, the ones already there) ask for. Every kind the lab serves
 * defaults to deleting dependents in the background. Unchanged as a set: the list as it was.
 */
export function deletionFinalizers(finalizers: string[], options: DeleteOptions, policy: PropagationPolicy | undefined): string[] {
  const firstOf = () => finalizers.find((f) => f === ORPHAN_FINALIZER || f === FOREGROUND_FINALIZER);
  let orphan: boolean;
  let foreground: boolean;
  if (options.orphanDependents !== undefined) {
    orphan = options.orphanDependents;
    foreground = false;
  } else if (policy !== undefined) {
    orphan = policy === 'Orphan';
    foreground = policy === 'Foreground';
  } else {
    orphan = firstOf() === ORPHAN_FINALIZER;
    foreground = firstOf() === FOREGROUND_FINALIZER;
  }
  const next = finalizers.filter((f) => f !== ORPHAN_FINALIZER && f !== FOREGROUND_FINALIZER);
  if (orphan) next.push(ORPHAN_FINALIZER);
  if (foreground) next.push(FOREGROUND_FINALIZER);
  const same = new Set(next).size === new Set(finalizers).size && next.every((f) => finalizers.includes(f));
  return same ? finalizers : next;
}

/**
 * The plan for a DELETE of `existing` (its preconditions already checked, `policy` validated). `gracePeriodOf`
 * is given for kinds with graceful deletion (Pods) only.
 */
export function planDelete(existing: KubeObject, options: DeleteOptions, policy: PropagationPolicy | undefined, gracePeriodOf: GracePeriodOf | undefined, now: Date): DeletePlan {
  const metadata = { ...existing.metadata };
  // Negative grace periods count as 1 s on the delete path.
  const asked = options.gracePeriodSeconds;
  const requested = asked === undefined ? undefined : asked < 0 ? 1 : asked;
  let current = typeof metadata.deletionGracePeriodSeconds === 'number' ? metadata.deletionGracePeriodSeconds : undefined;
  if (current !== undefined && current < 0) metadata.deletionGracePeriodSeconds = current = 1;
  const deleting = typeof metadata.deletionTimestamp === 'string' && metadata.deletionTimestamp !== '';

  let graceful = false;
  let period = 0;
  if (gracePeriodOf) {
    if (!deleting) {
      period = gracePeriodOf(existing, requested);
      metadata.deletionTimestamp = seconds(now.getTime() + period * 1000);
      metadata.deletionGracePeriodSeconds = period;
      if ((metadata.generation ?? 0) > 0) metadata.generation = (metadata.generation ?? 0) + 1;
      graceful = true;
    } else if (current !== undefined && current !== 0) {
      // Already terminating: only a shorter grace changes anything, and finalizers stay as they are.
      if (requested === undefined || requested >= current) return { action: 'keep' };
      const firstDelete = Date.parse(metadata.deletionTimestamp as string) - current * 1000;
      metadata.deletionTimestamp = seconds(firstDelete + requested * 1000);
      metadata.deletionGracePeriodSeconds = period = requested;
      graceful = true;
    }
  }

  const before = finalizersOf(existing.metadata);
  const finalizers = deletionFinalizers(before, options, policy);
  if (finalizers !== before) metadata.finalizers = finalizers;
  const pendingFinalizers = finalizers.length > 0;
  if (!graceful) {
    if (!pendingFinalizers) return { action: 'remove' };
    // markAsDeleting: the first deletion bumps generation; the timestamp is now unless it is already earlier.
    if (!deleting && (metadata.generation ?? 0) > 0) metadata.generation = (metadata.generation ?? 0) + 1;
    if (!deleting || Date.parse(metadata.deletionTimestamp as string) > now.getTime()) metadata.deletionTimestamp = seconds(now.getTime());
    metadata.deletionGracePeriodSeconds = 0;
    const next = { ...existing, metadata };
    return deepEqual(next, existing) ? { action: 'keep' } : { action: 'update', object: next };
  }
  const next = { ...existing, metadata };
  if (pendingFinalizers || period > 0) return { action: 'update', object: next };
  return { action: 'remove', last: next };
}

/**
 * ShouldDeleteDuringUpdate: an update that leaves no finalizers on an object being deleted without grace (its
 * deletionGracePeriodSeconds 0 or unset) removes it instead of storing it.
 */
export function emptiesFinalizers(next: KubeObject, existing: KubeObject): boolean {
  if (finalizersOf(next.metadata).length > 0 || !existing.metadata.deletionTimestamp) return false;
  const grace = existing.metadata.deletionGracePeriodSeconds;
  return grace === undefined || grace === null || grace === 0;
}
