/**
 * Broker sync, as Submariner's (admiral) syncer does it, planned (pure). The active gateway keeps
 * the Endpoints and Clusters of its Submariner namespace and of the broker namespace in step:
 * - export: local originals (no `submariner-io/clusterID` label) go to the broker with the label set
 *   to the local cluster, metadata cut to name, namespace, labels and annotations; create or update;
 * - import: broker objects labelled with another cluster come in as local copies keeping the label;
 *   unlabelled ones and the local cluster's own are left alone;
 * - stale objects go: a local copy whose name is gone from the broker, a broker object with the
 *   local label whose name is gone locally.
 * Added by seaway, fail static: an object that cannot be read, or that lies about its cluster
 * (label against spec.cluster_id), or whose name belongs to someone else on the other side, is
 * dropped with a reason and never written over nor deleted because of it; updates and deletes
 * carry the target's uid and resourceVersion, so nothing that changed since it was observed is
 * touched; and our broker copies carry `seaway.io/refreshed-at` (unix seconds), refreshed every
 * refresh interval, from which each remote cluster's liveness is judged (reported, never acted on).
 */
import { isDeepStrictEqual } from 'node:util';
import { compareText, isRecord } from '../model/compare.ts';
import { stringMap, unixSecondsAnnotationMs } from '../model/object-meta.ts';
import { SUBMARINER_API_VERSION } from '../model/submariner-api.ts';
import { fencingTokenOf } from './exclusive-endpoint.ts';

export const CLUSTER_ID_LABEL = 'submariner-io/clusterID';
export const REFRESHED_AT_ANNOTATION = 'seaway.io/refreshed-at';

export type SyncKind = 'Endpoint' | 'Cluster';
export type SyncSide = 'broker' | 'local';

/** An object as the sync writes it: metadata cut to what travels (plus, for an update, the target's uid and version). */
export interface SyncedObject {
  apiVersion: string;
  kind: SyncKind;
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    uid?: string;
    resourceVersion?: string;
  };
  spec: Record<string, unknown>;
}

/** The target as observed: a write with it fails (409) if the object changed or was replaced since. */
export interface Precondition {
  uid: string;
  resourceVersion: string;
}

export interface SyncAction {
  side: SyncSide;
  op: 'create' | 'update' | 'delete';
  kind: SyncKind;
  name: string;
  /** create and update: the whole object to write (an update's metadata carries the precondition too). */
  object?: SyncedObject;
  /** update and delete. */
  precondition?: Precondition;
  /** Why, in words, for the log. */
  why: string;
}

export type DropReason =
  /** Not an object, no name, labels or annotations not strings, spec not an object, no uid or resourceVersion. */
  | 'malformed'
  /** spec.cluster_id is missing or not a string. */
  | 'missing-cluster-id'
  /** Import: the label names another cluster than spec.cluster_id. */
  | 'cluster-id-mismatch'
  /** Export: a local original whose spec.cluster_id is another cluster's. */
  | 'foreign-original'
  /** The name is held on the other side by an object that is not this one's copy. */
  | 'name-taken'
  /** Export: an Endpoint of this cluster with a lower fencing token than one already seen (a newer leader's). */
  | 'fenced';

/** An object the sync leaves alone, for an Event or a metric: imports live on the broker, exports locally. */
export interface DroppedObject {
  direction: 'import' | 'export';
  kind: SyncKind;
  namespace: string;
  /** '' when the object has none. */
  name: string;
  uid: string;
  resourceVersion: string;
  /** Its submariner-io/clusterID label, when it has a readable one. */
  clusterId: string | null;
  reason: DropReason;
  message: string;
}

export type LivenessState = 'fresh' | 'stale' | 'unknown';

/** A remote cluster as its broker objects show it. */
export interface ClusterLiveness {
  clusterId: string;
  /** unknown: none of its objects carries a readable refreshed-at (a Submariner peer, or an old seaway). */
  state: LivenessState;
  /** The newest refreshed-at of its objects, unix ms; null when unknown. */
  refreshedAt: number | null;
  /** now - refreshedAt (negative: stamped ahead of our clock); null when unknown. */
  ageMs: number | null;
  objects: number;
}

export interface BrokerSyncInput {
  kind: SyncKind;
  /** The local cluster id. */
  clusterId: string;
  localNamespace: string;
  brokerNamespace: string;
  /** Every object of the kind in the local namespace, as listed (anything: each is checked). */
  local: readonly unknown[];
  /** Every object of the kind in the broker namespace, as listed. */
  broker: readonly unknown[];
  /** Unix ms. */
  now: number;
}

export interface BrokerSyncPolicy {
  /** Our broker copies get a new refreshed-at once theirs is this old. */
  refreshIntervalMs: number;
  /** A remote whose newest refreshed-at is older than this is stale. */
  staleAfterMs: number;
}

export interface BrokerSyncPlan {
  /** Broker side first; creates, updates, deletes; by name. */
  actions: SyncAction[];
  dropped: DroppedObject[];
  /**
   * When the plan or the remotes' liveness (remoteLiveness, which the driver reports) changes with nothing else changing
   * (a refresh falls due, a remote turns stale), unix ms; null: never.
   */
  wakeAt: number | null;
}

/** An object that passed every check. */
interface Readable {
  name: string;
  uid: string;
  resourceVersion: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  spec: Record<string, unknown>;
  /** The label's value; null when absent or empty (empty is what Go reads for an absent label). */
  label: string | null;
}

interface Unreadable { ok: false; name: string; uid: string; resourceVersion: string; label: string | null; problem: string }
type Entry = { ok: true; name: string; uid: string; resourceVersion: string; label: string | null; object: Readable } | Unreadable;

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** Every check an object must pass before it is written from or written over; never throws. */
function read(raw: unknown): Entry {
  const meta = isRecord(raw) && isRecord(raw.metadata) ? raw.metadata : null;
  const name = text(meta?.name);
  const uid = text(meta?.uid);
  const resourceVersion = text(meta?.resourceVersion);
  const labels = stringMap(meta?.labels);
  const rawLabel = isRecord(meta?.labels) ? meta.labels[CLUSTER_ID_LABEL] : undefined;
  const label = typeof rawLabel === 'string' && rawLabel !== '' ? rawLabel : null;
  const bad = (problem: string): Unreadable => ({ ok: false, name, uid, resourceVersion, label, problem });
  if (!isRecord(raw)) return bad('is not an object');
  if (meta === null) return bad('has no metadata');
  if (name === '') return bad('has no metadata.name');
  if (uid === '' || resourceVersion === '') return bad('has no metadata.uid or metadata.resourceVersion');
  if (labels === null) return bad('has labels that are not a map of strings');
  const annotations = stringMap(meta.annotations);
  if (annotations === null) return bad('has annotations that are not a map of strings');
  if (!isRecord(raw.spec)) return bad('has no spec object');
  return { ok: true, name, uid, resourceVersion, label, object: { name, uid, resourceVersion, labels, annotations, spec: raw.spec, label } };
}

/** One side's objects by name; two objects of one name (impossible from a server) make the name unreadable. */
function index(raws: readonly unknown[]): { byName: Map<string, Entry>; unnamed: Unreadable[] } {
  const byName = new Map<string, Entry>();
  const unnamed: Unreadable[] = [];
  for (const raw of raws) {
    const entry = read(raw);
    const first = byName.get(entry.name);
    if (!entry.ok && entry.name === '') unnamed.push(entry);
    else if (first !== undefined) {
      byName.set(entry.name, { ok: false, name: first.name, uid: first.uid, resourceVersion: first.resourceVersion, label: first.label, problem: 'shares its name with another object in the list' });
    } else byName.set(entry.name, entry);
  }
  return { byName, unnamed };
}

/** refreshed-at as unix ms, or null when absent or not decimal seconds. */
export function refreshedAtMs(annotations: Readonly<Record<string, unknown>> | undefined): number | null {
  return unixSecondsAnnotationMs(annotations?.[REFRESHED_AT_ANNOTATION]);
}

function specClusterId(spec: Record<string, unknown>): string | null {
  return typeof spec.cluster_id === 'string' && spec.cluster_id !== '' ? spec.cluster_id : null;
}

/**
 * Each remote cluster (a readable label other than ours) of these broker objects, with the newest
 * refreshed-at of its objects: fresh within `staleAfterMs`, stale past it, unknown without one.
 * Reports only: nothing is ever deleted for being stale.
 */
export function remoteLiveness(broker: readonly unknown[], clusterId: string, now: number, staleAfterMs: number): ClusterLiveness[] {
  const clusters = new Map<string, { newest: number | null; objects: number }>();
  for (const raw of broker) {
    const meta = isRecord(raw) && isRecord(raw.metadata) ? raw.metadata : null;
    const label = isRecord(meta?.labels) ? meta.labels[CLUSTER_ID_LABEL] : undefined;
    if (typeof label !== 'string' || label === '' || label === clusterId) continue;
    const at = refreshedAtMs(isRecord(meta?.annotations) ? meta.annotations : undefined);
    const seen = clusters.get(label) ?? { newest: null, objects: 0 };
    seen.objects++;
    if (at !== null && (seen.newest === null || at > seen.newest)) seen.newest = at;
    clusters.set(label, seen);
  }
  return [...clusters].sort(([a], [b]) => compareText(a, b)).map(([id, seen]) => {
    if (seen.newest === null) return { clusterId: id, state: 'unknown', refreshedAt: null, ageMs: null, objects: seen.objects };
    const ageMs = now - seen.newest;
    return { clusterId: id, state: ageMs > staleAfterMs ? 'stale' : 'fresh', refreshedAt: seen.newest, ageMs, objects: seen.objects };
  });
}

const OP_ORDER = { create: 0, update: 1, delete: 2 } as const;

export function planBrokerSync(input: BrokerSyncInput, policy: BrokerSyncPolicy): BrokerSyncPlan {
  const { kind, clusterId, now } = input;
  const local = index(input.local);
  const broker = index(input.broker);
  const actions: SyncAction[] = [];
  const dropped: DroppedObject[] = [];
  const wakes: number[] = [];

  const drop = (direction: DroppedObject['direction'], entry: Entry, reason: DropReason, message: string) => {
    dropped.push({
      direction, kind, namespace: direction === 'import' ? input.brokerNamespace : input.localNamespace,
      name: entry.name, uid: entry.uid, resourceVersion: entry.resourceVersion, clusterId: entry.label, reason, message,
    });
  };
  const what = (entry: { name: string }, side: SyncSide) => `${kind} "${entry.name}" in the ${side} namespace`;
  const written = (namespace: string, source: Readable, labels: Record<string, string>, annotations: Record<string, string>, target?: Readable): SyncedObject => ({
    apiVersion: SUBMARINER_API_VERSION, kind,
    metadata: { name: source.name, namespace, labels, annotations, ...(target ? { uid: target.uid, resourceVersion: target.resourceVersion } : {}) },
    spec: structuredClone(source.spec),
  });
  /** Whether writing `a` over `b` changes anything (`ignoring`: an annotation left out of the comparison). */
  const differs = (a: SyncedObject, b: Readable, ignoring?: string) => {
    const strip = (annotations: Record<string, string>) => (ignoring === undefined ? annotations : Object.fromEntries(Object.entries(annotations).filter(([k]) => k !== ignoring)));
    return !isDeepStrictEqual(a.metadata.labels, b.labels) || !isDeepStrictEqual(strip(a.metadata.annotations), strip(b.annotations)) || !isDeepStrictEqual(a.spec, b.spec);
  };
  const guard = (target: Readable): Precondition => ({ uid: target.uid, resourceVersion: target.resourceVersion });

  // Fencing (Endpoints): the highest Lease transition count this cluster's Endpoints carry, locally and on the broker.
  // An ex-leader with a stale view never exports its own below it, nor deletes a broker copy above its local ones.
  const tokenOf = (object: Readable): number => (kind === 'Endpoint' ? fencingTokenOf(object) ?? -1 : -1);
  const ours = (entries: Map<string, Entry>, copies: boolean) => [...entries.values()]
    .flatMap((e) => (e.ok && (copies ? e.object.label === clusterId : e.object.label === null && specClusterId(e.object.spec) === clusterId) ? [e.object] : []));
  const highestLocal = Math.max(-1, ...ours(local.byName, false).map(tokenOf));
  const highestSeen = Math.max(highestLocal, ...ours(broker.byName, true).map(tokenOf));

  for (const entry of local.unnamed) drop('export', entry, 'malformed', `an object in the local namespace ${entry.problem}`);
  for (const entry of broker.unnamed) drop('import', entry, 'malformed', `an object in the broker namespace ${entry.problem}`);

  // Local objects: originals are exported; unreadable ones reported; copies are looked at from the broker's side.
  for (const [name, entry] of local.byName) {
    if (!entry.ok) {
      drop('export', entry, 'malformed', `${what(entry, 'local')} ${entry.problem}; it is neither exported nor deleted`);
      continue;
    }
    const original = entry.object;
    if (original.label !== null) {
      // A copy: kept while the broker has any object of its name (even one we cannot read or import).
      if (original.label !== clusterId && !broker.byName.has(name)) {
        actions.push({ side: 'local', op: 'delete', kind, name, precondition: guard(original), why: `copy of cluster "${original.label}" gone from the broker` });
      }
      continue;
    }
    const id = specClusterId(original.spec);
    if (id === null) {
      drop('export', entry, 'missing-cluster-id', `${what(original, 'local')} has no spec.cluster_id; it is not exported`);
      continue;
    }
    if (id !== clusterId) {
      drop('export', entry, 'foreign-original', `${what(original, 'local')} has no ${CLUSTER_ID_LABEL} label but spec.cluster_id "${id}" is not this cluster ("${clusterId}"); it is not exported`);
      continue;
    }
    if (tokenOf(original) < highestSeen) {
      drop('export', entry, 'fenced', `${what(original, 'local')} carries fencing token ${tokenOf(original)}, below ${highestSeen} of a newer leader's Endpoint; it is not exported`);
      continue;
    }
    const existing = broker.byName.get(name);
    if (existing !== undefined && !existing.ok) continue; // reported from the broker's side; never written over blind
    const target = existing?.object;
    if (target !== undefined && target.label !== null && target.label !== clusterId) {
      drop('export', entry, 'name-taken', `${what(original, 'local')} is not exported: the broker's object of that name belongs to cluster "${target.label}"`);
      continue;
    }
    const stamped = target ? refreshedAtMs(target.annotations) : null;
    // Due when absent or unreadable, old enough, or stamped further ahead of our clock than one interval.
    const due = stamped === null || now - stamped >= policy.refreshIntervalMs || stamped - now > policy.refreshIntervalMs;
    const refreshedAt = due ? String(Math.floor(now / 1000)) : String(stamped / 1000);
    const labels = { ...original.labels, [CLUSTER_ID_LABEL]: clusterId };
    const annotations = { ...original.annotations, [REFRESHED_AT_ANNOTATION]: refreshedAt };
    const desired = written(input.brokerNamespace, original, labels, annotations, target);
    if (target === undefined) {
      actions.push({ side: 'broker', op: 'create', kind, name, object: desired, why: 'local original not on the broker' });
    } else if (differs(desired, target, REFRESHED_AT_ANNOTATION)) {
      actions.push({ side: 'broker', op: 'update', kind, name, object: desired, precondition: guard(target), why: 'broker copy differs from the local original' });
    } else if (differs(desired, target)) {
      actions.push({ side: 'broker', op: 'update', kind, name, object: desired, precondition: guard(target), why: 'refresh due' });
    }
    wakes.push(Number(refreshedAt) * 1000 + policy.refreshIntervalMs);
  }

  // Broker objects: others' are imported; ours whose original is gone are deleted.
  for (const [name, entry] of broker.byName) {
    if (!entry.ok) {
      drop('import', entry, 'malformed', `${what(entry, 'broker')} ${entry.problem}; it is neither imported nor deleted`);
      continue;
    }
    const source = entry.object;
    if (source.label === null) continue; // Submariner leaves unlabelled broker objects alone
    const existing = local.byName.get(name);
    if (source.label === clusterId) {
      // A copy above every local original's token is a newer leader's, which our local view has not caught up with.
      if (existing === undefined && tokenOf(source) <= highestLocal) {
        actions.push({ side: 'broker', op: 'delete', kind, name, precondition: guard(source), why: 'local original gone' });
      }
      continue;
    }
    const id = specClusterId(source.spec);
    if (id === null) {
      drop('import', entry, 'missing-cluster-id', `${what(source, 'broker')} (labelled "${source.label}") has no spec.cluster_id; it is not imported`);
      continue;
    }
    if (id !== source.label) {
      drop('import', entry, 'cluster-id-mismatch', `${what(source, 'broker')} is labelled cluster "${source.label}" but its spec.cluster_id is "${id}"; it is not imported`);
      continue;
    }
    if (existing !== undefined && !existing.ok) continue; // reported from the local side
    const target = existing?.object;
    if (target !== undefined && (target.label === null || target.label === clusterId)) {
      drop('import', entry, 'name-taken', `${what(source, 'broker')} from cluster "${source.label}" is not imported: the local object of that name is this cluster's own`);
      continue;
    }
    const { [REFRESHED_AT_ANNOTATION]: _refreshed, ...annotations } = source.annotations;
    const desired = written(input.localNamespace, source, { ...source.labels }, annotations, target);
    if (target === undefined) {
      actions.push({ side: 'local', op: 'create', kind, name, object: desired, why: `new object of cluster "${source.label}"` });
    } else if (differs(desired, target)) {
      actions.push({ side: 'local', op: 'update', kind, name, object: desired, precondition: guard(target), why: `changed on the broker by cluster "${source.label}"` });
    }
  }

  // A fresh remote turning stale changes the driver's report (its liveness over both kinds): a wake.
  for (const l of remoteLiveness(input.broker, clusterId, now, policy.staleAfterMs)) {
    if (l.state === 'fresh' && l.refreshedAt !== null) wakes.push(l.refreshedAt + policy.staleAfterMs + 1);
  }

  actions.sort((a, b) => (a.side === b.side ? 0 : a.side === 'broker' ? -1 : 1) || OP_ORDER[a.op] - OP_ORDER[b.op] || compareText(a.name, b.name));
  dropped.sort((a, b) => compareText(a.direction, b.direction) || compareText(a.name, b.name));
  return { actions, dropped, wakeAt: wakes.length > 0 ? Math.min(...wakes) : null };
}
