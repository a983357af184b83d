import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { backoffDelay, type BackoffPolicy } from '../model/backoff.ts';
import { isRecord } from '../model/compare.ts';
import { SUBMARINER_GROUP, SUBMARINER_VERSION } from '../model/submariner-api.ts';
import {
  planBrokerSync, remoteLiveness, type BrokerSyncPolicy, type ClusterLiveness, type DroppedObject, type SyncAction, type SyncKind, type SyncSide,
} from '../plan/broker-sync.ts';
import type { Logger } from '../telemetry/logger.ts';
import { Streaks } from '../telemetry/streaks.ts';
import { classifyApiError } from './api-problem.ts';
import { kubeConfigConnection } from './api-connection.ts';
import { submarinerCollection, type ApiRequestSettings } from './client-list-watch.ts';
import { systemClock, type Clock } from './clock.ts';
import { createInformer, type Informer, type InformerDeps, type InformerMetrics, type InformerSettings } from './informer.ts';
import type { ListWatch } from './list-watch.ts';
import type { SubmarinerObject } from './projections.ts';
import { callOptions, withDeadline } from './request-options.ts';
import { errorText } from '../model/error-text.ts';

/**
 * The broker sync's driver: four informers (Endpoints and Clusters, local namespace and broker
 * namespace) keep the last complete view of each side, and one loop plans from them
 * (plan/broker-sync.ts) and applies the actions, one at a time, each with a deadline, through the
 * shared API rate limit. A pass runs after changes (bursts cost one pass), when the plan says it
 * changes by itself (a refresh due, a remote turning stale), at least every resync period, and
 * after a backoff when writes failed. Nothing runs until all four informers have listed once.
 *
 * Fail static: while a side's informers fail (its API server unreachable or refusing), no write
 * goes to that side, and nothing is deleted on the other side, whose deletions are decided by
 * absences on the unreachable one. The informers resume by themselves (watch from the last version,
 * relist after 410), and their recovery wakes the loop.
 */

const KINDS: readonly SyncKind[] = ['Cluster', 'Endpoint'];
const PLURALS: Record<SyncKind, string> = { Cluster: 'clusters', Endpoint: 'endpoints' };

/** One side (a namespace on an API server): its two collections, and the writes the plan asks for. */
export interface SyncSideApi {
  lists: Record<SyncKind, ListWatch<SubmarinerObject>>;
  /** One create, update or delete in this side's namespace; rejects as the API does. */
  write(action: SyncAction, signal: AbortSignal): Promise<void>;
}

export interface BrokerSyncApi {
  local: SyncSideApi;
  broker: SyncSideApi;
}

export interface BrokerSyncSettings extends BrokerSyncPolicy {
  clusterId: string;
  localNamespace: string;
  brokerNamespace: string;
  /** A pass at least this often, also when nothing changed. */
  resyncMs: number;
  /** At most one pass per this: a burst of events costs one. */
  minPassIntervalMs: number;
  /** Waits before the next pass after one whose writes failed. */
  retry: BackoffPolicy;
  informer: InformerSettings;
}

/** What one pass did and saw. */
export interface BrokerSyncReport {
  /** Unix ms the pass planned at. */
  at: number;
  /** Passes so far, this one included. */
  pass: number;
  applied: number;
  failed: number;
  /** Actions not tried: their side is unreachable, or (deletes) the side that decided them is. */
  held: number;
  dropped: DroppedObject[];
  /** Remote clusters over both kinds (the newest refresh of any of their objects). */
  liveness: ClusterLiveness[];
  /** Informers failing at the pass, with the cause. */
  failing: Record<string, string>;
}

export interface BrokerSyncDeps {
  logger: Logger;
  metrics: InformerMetrics;
  /** The agent's API rate limit: every list, watch and write takes a token (both API servers share it). */
  limiter: { take(signal: AbortSignal): Promise<void> };
  clock?: Clock;
  random?: () => number;
  /** Told when an informer starts failing (with the cause) and recovers (null). */
  onHealth?: (informer: string, cause: string | null) => void;
  /** After every pass. */
  onReport?: (report: BrokerSyncReport) => void;
  /** An object newly dropped (or dropped for another reason than before): once per streak, for an Event or a metric. */
  onDropped?: (dropped: DroppedObject) => void;
}

export interface BrokerSync {
  /** True once all four informers have listed once. */
  readonly synced: boolean;
  /** The last pass's report; null before the first. */
  lastReport(): BrokerSyncReport | null;
  start(): void;
  /** Ends the loop (an action in flight is aborted) and the informers. */
  stop(): Promise<void>;
}

/** One side's Endpoints and Clusters in `namespace`: listed and watched on the KubeConfig's connection, written through @kubernetes/client-node; every call with a deadline. */
export function clientSyncSide(kubeConfig: KubeConfig, namespace: string, request: ApiRequestSettings & { fieldManager: string }): SyncSideApi {
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const connection = kubeConfigConnection(kubeConfig);
  const source = (plural: string) => submarinerCollection<SubmarinerObject>(connection, namespace, plural, request);
  return {
    lists: { Cluster: source('clusters'), Endpoint: source('endpoints') },
    async write(action, signal) {
      const base = { group: SUBMARINER_GROUP, version: SUBMARINER_VERSION, namespace, plural: PLURALS[action.kind] };
      if (action.object && action.object.metadata.namespace !== namespace) {
        throw new Error(`refusing to write ${action.kind} ${action.name} of namespace ${action.object.metadata.namespace} into ${namespace}`);
      }
      const what = `${action.op} of ${action.kind} ${namespace}/${action.name}`;
      await withDeadline(request.requestTimeoutMs, signal, (deadline) => {
        const options = callOptions({ userAgent: request.userAgent, signal: deadline });
        switch (action.op) {
          case 'create':
            return custom.createNamespacedCustomObject({ ...base, body: action.object, fieldManager: request.fieldManager }, options);
          case 'update':
            return custom.replaceNamespacedCustomObject({ ...base, name: action.name, body: action.object, fieldManager: request.fieldManager }, options);
          case 'delete':
            // Never unguarded: an object replaced or changed since it was observed stays.
            if (!action.precondition) return Promise.reject(new Error(`refusing to delete ${action.kind} ${action.name} without a precondition`));
            return custom.deleteNamespacedCustomObject({ ...base, name: action.name, body: { preconditions: { ...action.precondition } } }, options);
        }
      }, what);
    },
  };
}

/** Both sides through the real client: the local namespace with the gateway's credentials, the broker's with the cluster's broker token. */
export function clientBrokerSyncApi(
  kubeConfigs: { local: KubeConfig; broker: KubeConfig },
  namespaces: { local: string; broker: string },
  request: ApiRequestSettings & { fieldManager: string },
): BrokerSyncApi {
  return { local: clientSyncSide(kubeConfigs.local, namespaces.local, request), broker: clientSyncSide(kubeConfigs.broker, namespaces.broker, request) };
}

/** A write that failed in a pass: said when its failure starts or changes cause, not on every retry. */
interface WriteFailure { where: Record<string, string>; cause: string; detail: string; conflict: boolean }

/** What the informers keep: the object as served, without managedFields (never read, often the largest part). */
function keep(object: SubmarinerObject): unknown {
  if (!isRecord(object) || !isRecord(object.metadata)) return object;
  const { managedFields: _managed, ...metadata } = object.metadata;
  return { ...object, metadata };
}

function checkSettings(settings: BrokerSyncSettings): void {
  // refreshed-at holds whole seconds: a shorter interval would find every copy due within the same second.
  if (!(settings.refreshIntervalMs >= 1000)) throw new Error(`broker sync: refreshIntervalMs must be at least 1000 (got ${settings.refreshIntervalMs})`);
  if (!(settings.staleAfterMs > settings.refreshIntervalMs)) throw new Error('broker sync: staleAfterMs must be longer than refreshIntervalMs');
  if (!(settings.resyncMs > 0) || !(settings.minPassIntervalMs >= 0)) throw new Error('broker sync: resyncMs must be positive and minPassIntervalMs not negative');
}

export function createBrokerSync(api: BrokerSyncApi, settings: BrokerSyncSettings, deps: BrokerSyncDeps): BrokerSync {
  checkSettings(settings);
  const clock = deps.clock ?? systemClock;
  const random = deps.random ?? Math.random;
  const log = deps.logger.child({ component: 'broker-sync' });
  const abort = new AbortController();
  const { signal } = abort;
  const failing = new Map<string, string>();
  const failures = new Streaks();
  const drops = new Streaks();
  const states = new Streaks();
  let dirty = true;
  let wake: AbortController | null = null;
  let loop: Promise<void> | undefined;
  let report: BrokerSyncReport | null = null;

  /** A caller's callback that throws is said, and changes nothing here. */
  const safely = (what: string, call: () => void) => {
    try {
      call();
    } catch (error) {
      log.error({ err: errorText(error), callback: what }, 'broker sync callback failed');
    }
  };
  const kick = () => {
    dirty = true;
    wake?.abort();
  };
  const informerDeps: InformerDeps = {
    logger: log, metrics: deps.metrics, limiter: deps.limiter, settings: settings.informer, clock, random,
    onHealth: (name, cause) => {
      const was = failing.has(name);
      if (cause === null) failing.delete(name);
      else failing.set(name, cause);
      safely('onHealth', () => deps.onHealth?.(name, cause));
      // Recovery may release held actions; a new failure changes nothing until the next pass.
      if (was && cause === null) kick();
    },
  };
  const informer = (side: SyncSide, kind: SyncKind): Informer<unknown> =>
    createInformer<SubmarinerObject, unknown>({ name: `broker-sync-${side}-${PLURALS[kind]}`, source: api[side].lists[kind], project: keep }, informerDeps);
  const informers: Record<SyncSide, Record<SyncKind, Informer<unknown>>> = {
    local: { Cluster: informer('local', 'Cluster'), Endpoint: informer('local', 'Endpoint') },
    broker: { Cluster: informer('broker', 'Cluster'), Endpoint: informer('broker', 'Endpoint') },
  };
  const all = [...Object.values(informers.local), ...Object.values(informers.broker)];
  for (const i of all) {
    i.onChange(kick);
    i.onSynced(kick);
  }
  const sideFailing = (side: SyncSide) => Object.values(informers[side]).some((i) => failing.has(i.name));
  const other = (side: SyncSide): SyncSide => (side === 'local' ? 'broker' : 'local');

  /** Why an action waits for a later pass, or null to try it now. */
  const holdReason = (action: SyncAction): string | null => {
    if (sideFailing(action.side)) return `the ${action.side} API is failing`;
    if (action.op === 'delete' && sideFailing(other(action.side))) return `decided from the ${other(action.side)} side, whose API is failing`;
    return null;
  };

  const apply = async (action: SyncAction, failed: Map<string, WriteFailure>): Promise<boolean> => {
    const where = { side: action.side, kind: action.kind, name: action.name, op: action.op };
    try {
      await deps.limiter.take(signal);
      await api[action.side].write(action, signal);
    } catch (error) {
      if (signal.aborted) throw error;
      const problem = classifyApiError(error, clock.now());
      // Gone already: what the delete wanted.
      if (action.op === 'delete' && problem.statusCode === 404) return true;
      // 409: it changed since observed (or appeared); the watch brings the news and the next pass decides again.
      failed.set(`${action.side}/${action.kind}/${action.name}/${action.op}`, { where, cause: problem.cause, detail: problem.detail, conflict: problem.statusCode === 409 });
      return false;
    }
    log.info({ ...where, why: action.why }, 'broker sync write');
    return true;
  };

  const tellFailures = (failed: ReadonlyMap<string, WriteFailure>) => {
    const changes = failures.update(new Map([...failed].map(([key, f]) => [key, f.cause])));
    for (const key of [...changes.started, ...changes.changed]) {
      const f = failed.get(key)!;
      log[f.conflict ? 'info' : 'warn']({ ...f.where, cause: f.cause, err: f.detail }, 'broker sync write failed; retrying on a later pass');
    }
  };

  /** One pass over both kinds; returns when the plan changes by itself (null: never). */
  const pass = async (count: number): Promise<{ failed: number; wakeAt: number | null }> => {
    const now = clock.now();
    let applied = 0;
    let held = 0;
    const failed = new Map<string, WriteFailure>();
    const dropped: DroppedObject[] = [];
    const wakes: number[] = [];
    for (const kind of KINDS) {
      const plan = planBrokerSync({
        kind, clusterId: settings.clusterId, localNamespace: settings.localNamespace, brokerNamespace: settings.brokerNamespace,
        local: informers.local[kind].list(), broker: informers.broker[kind].list(), now,
      }, settings);
      dropped.push(...plan.dropped);
      if (plan.wakeAt !== null) wakes.push(plan.wakeAt);
      for (const action of plan.actions) {
        const reason = holdReason(action);
        if (reason !== null) {
          held++;
          log.debug({ side: action.side, kind, name: action.name, op: action.op, reason }, 'broker sync action held');
          continue;
        }
        if (await apply(action, failed)) applied++;
      }
    }
    const liveness = remoteLiveness([...informers.broker.Cluster.list(), ...informers.broker.Endpoint.list()], settings.clusterId, now, settings.staleAfterMs);
    tellFailures(failed);
    tellDrops(dropped);
    tellLiveness(liveness);
    report = { at: now, pass: count, applied, failed: failed.size, held, dropped, liveness, failing: Object.fromEntries(failing) };
    log.debug({ pass: count, applied, failed: failed.size, held, dropped: dropped.length }, 'broker sync pass');
    const told = report;
    safely('onReport', () => deps.onReport?.(told));
    return { failed: failed.size, wakeAt: wakes.length > 0 ? Math.min(...wakes) : null };
  };

  const tellDrops = (dropped: readonly DroppedObject[]) => {
    const byKey = new Map<string, DroppedObject>(dropped.map((d) => [`${d.direction}/${d.kind}/${d.name}`, d]));
    const changes = drops.update(new Map([...byKey].map(([key, d]) => [key, d.reason])));
    for (const key of [...changes.started, ...changes.changed]) {
      const d = byKey.get(key)!;
      log.warn({ direction: d.direction, kind: d.kind, name: d.name, clusterId: d.clusterId, reason: d.reason }, d.message);
      safely('onDropped', () => deps.onDropped?.(d));
    }
    for (const key of changes.ended) log.info({ object: key }, 'broker sync no longer drops the object');
  };

  const tellLiveness = (liveness: readonly ClusterLiveness[]) => {
    const byId = new Map(liveness.map((l) => [l.clusterId, l] as const));
    const changes = states.update(new Map(liveness.map((l) => [l.clusterId, l.state])));
    for (const id of [...changes.started, ...changes.changed]) {
      const l = byId.get(id)!;
      const fields = { clusterId: id, state: l.state, ageSeconds: l.ageMs === null ? null : Math.round(l.ageMs / 1000) };
      if (l.state === 'stale') log.warn(fields, 'remote cluster has not refreshed its broker objects; it may be gone (nothing is removed)');
      else log.info(fields, 'remote cluster liveness');
    }
  };

  /** Sleeps up to `ms` (Infinity: until kicked); a kick or stop ends it early. */
  const idle = async (ms: number) => {
    const controller = new AbortController();
    wake = controller;
    try {
      await clock.sleep(Math.min(ms, 2 ** 31 - 1), AbortSignal.any([signal, controller.signal]));
    } catch { /* kicked or stopped */ } finally {
      wake = null;
    }
  };

  const run = async () => {
    let count = 0;
    let lastPassAt = -Infinity;
    let failedPasses = 0;
    let retryAt = 0;
    let timerAt = Infinity;
    while (!signal.aborted) {
      const now = clock.now();
      // Before the first complete lists: only a kick (an informer synced) ends the wait. After a change: at most one pass per
      // minPassIntervalMs, and not before the backoff of failed writes. Otherwise the timer: resync, wakeAt or the retry.
      const dueAt = !all.every((i) => i.synced) ? Infinity
        : dirty ? Math.max(lastPassAt + settings.minPassIntervalMs, retryAt)
          : timerAt;
      if (dueAt > now) {
        await idle(dueAt - now);
        continue;
      }
      dirty = false;
      lastPassAt = now;
      count++;
      let outcome: { failed: number; wakeAt: number | null };
      try {
        outcome = await pass(count);
      } catch (error) {
        if (signal.aborted) break;
        // A planner or logger bug must not end the sync: said, and retried like a failed write.
        log.error({ err: error instanceof Error ? error.stack : String(error) }, 'broker sync pass failed unexpectedly');
        outcome = { failed: 1, wakeAt: null };
      }
      failedPasses = outcome.failed > 0 ? failedPasses + 1 : 0;
      const after = clock.now();
      retryAt = failedPasses > 0 ? after + backoffDelay(failedPasses, settings.retry, random) : 0;
      timerAt = Math.max(Math.min(after + settings.resyncMs, outcome.wakeAt ?? Infinity, failedPasses > 0 ? retryAt : Infinity), after + settings.minPassIntervalMs);
    }
  };

  return {
    get synced() { return all.every((i) => i.synced); },
    lastReport: () => report,
    start() {
      if (loop || signal.aborted) return;
      for (const i of all) i.start();
      loop = run().catch((error: unknown) => {
        log.error({ err: error instanceof Error ? error.stack : String(error) }, 'broker sync loop ended unexpectedly');
      });
    },
    async stop() {
      abort.abort();
      await Promise.all([loop, ...all.map((i) => i.stop())]);
    },
  };
}
