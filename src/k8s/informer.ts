import { isDeepStrictEqual } from 'node:util';
import { backoffDelay, type BackoffPolicy } from '../model/backoff.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { Streaks } from '../telemetry/streaks.ts';
import { classifyApiError, type ApiProblem } from './api-problem.ts';
import { systemClock, type Clock } from './clock.ts';
import type { ApiObject, ListWatch, WatchEvent } from './list-watch.ts';
import { errorText } from '../model/error-text.ts';

/** One object's change as the informer's consumers see it: its projection before and after (undefined: absent). */
export interface InformerChange<P> {
  key: string;
  previous: P | undefined;
  current: P | undefined;
}

export interface Informer<P> {
  readonly name: string;
  /** True once the first complete list arrived (and from then on, also while the API is unreachable). */
  readonly synced: boolean;
  list(): P[];
  get(key: string): P | undefined;
  /**
   * Called with the objects whose projection changed: one per watch event, all of them after a
   * relist. An update that changes nothing projected is no change and calls nobody.
   */
  onChange(listener: (changes: readonly InformerChange<P>[]) => void): () => void;
  onSynced(listener: () => void): void;
  /** Starts the one loop of this informer; later calls do nothing. */
  start(): void;
  /** Ends the loop, its open request and any wait; the informer cannot be started again. */
  stop(): Promise<void>;
}

export interface InformerSpec<T extends ApiObject, P> {
  /** In logs and metrics. */
  name: string;
  source: ListWatch<T>;
  /** What is kept of each object: only changes to it cost work. */
  project(object: T): P;
  /** Whether two projections are the same for every consumer (default: deep equality). */
  same?(a: P, b: P): boolean;
}

export interface InformerSettings {
  /** Waits between restarts after failures: the ceiling doubles from minMs to maxMs, each wait drawn from [ceiling/2, ceiling]. */
  backoff: BackoffPolicy;
  /** Each watch asks the server to end it after a time drawn from [this, 2 x this) (client-go: 5 to 10 min). */
  watchTimeoutSeconds: number;
  /** List page size (default 500, client-go's pager). */
  pageSize?: number;
}

export type InformerMetrics = Pick<Metrics, 'informerFailing' | 'informerRestarts' | 'informerLastList' | 'apiErrors'>;

export interface InformerDeps {
  logger: Logger;
  metrics: InformerMetrics;
  /** The agent's one API rate limit, shared by all its informers: every list page and watch takes a token. */
  limiter: { take(signal: AbortSignal): Promise<void> };
  settings: InformerSettings;
  clock?: Clock;
  random?: () => number;
  /** Told when the informer starts failing (with the cause) and when it recovers (null): readiness names the API. */
  onHealth?: (informer: string, cause: string | null) => void;
}

export const DEFAULT_PAGE_SIZE = 500;
/** client-go's "very short watch": one that ends cleanly within this, having delivered nothing, counts as a failure. */
export const SHORT_WATCH_MS = 1000;
/**
 * A watch that has received nothing, not even a bookmark, for this long is presumed dead (a
 * connection silently cut). The API server sends a bookmark about once a minute to watches that
 * allow them; when twice the watch timeout is shorter, that bounds the silence instead.
 */
export const MAX_SILENCE_MS = 120_000;

export function silenceLimitMs(watchTimeoutSeconds: number): number {
  return Math.min(MAX_SILENCE_MS, 2 * watchTimeoutSeconds * 1000);
}

function keyOf(object: ApiObject): string {
  const meta = object.metadata ?? {};
  return meta.namespace ? `${meta.namespace}/${meta.name ?? ''}` : meta.name ?? '';
}

/**
 * A list+watch informer built as one restart state machine: a single loop per informer, so there
 * is at most one request (list page or watch) in flight at any time and an error can only ever
 * schedule this loop's next step, never start another. After a failure the next request waits out
 * a capped, jittered backoff shared by list and watch (and at least what a 429 asked in
 * Retry-After); a failed watch resumes from the last resourceVersion it saw, and only 410 Gone
 * relists. Any error, whatever its type, is retried: the loop ends only on stop.
 *
 * The log says when the informer starts failing, when the cause changes and when it recovers,
 * nothing per retry; the metrics count the restarts.
 */
export function createInformer<T extends ApiObject, P>(spec: InformerSpec<T, P>, deps: InformerDeps): Informer<P> {
  const clock = deps.clock ?? systemClock;
  const random = deps.random ?? Math.random;
  const same = spec.same ?? isDeepStrictEqual;
  const pageSize = deps.settings.pageSize ?? DEFAULT_PAGE_SIZE;
  const log = deps.logger.child({ informer: spec.name });
  const labels = { informer: spec.name };
  const abort = new AbortController();
  const { signal } = abort;
  const store = new Map<string, P>();
  const changeListeners = new Set<(changes: readonly InformerChange<P>[]) => void>();
  const syncedListeners: Array<() => void> = [];
  const said = new Streaks();
  let synced = false;
  let loop: Promise<void> | undefined;
  /** When the current failure streak began, and how many restarts it took so far. */
  let failing: { since: number; restarts: number } | null = null;
  deps.metrics.informerFailing.set(labels, 0);

  const notify = (changes: InformerChange<P>[]) => {
    if (changes.length === 0) return;
    for (const listener of changeListeners) {
      try {
        listener(changes);
      } catch (error) {
        // A consumer's bug must not end the watch that feeds everyone else.
        const message = errorText(error);
        if (said.mark('listener', message) === 'new') log.error({ err: message }, 'informer change listener failed');
      }
    }
  };

  const apply = (object: T, deleted: boolean): InformerChange<P>[] => {
    const key = keyOf(object);
    const previous = store.get(key);
    if (deleted) {
      if (previous === undefined) return [];
      store.delete(key);
      return [{ key, previous, current: undefined }];
    }
    const current = spec.project(object);
    // Unchanged for every consumer: keep what we had, so nothing downstream sees a new object.
    if (previous !== undefined && same(previous, current)) return [];
    store.set(key, current);
    return [{ key, previous, current }];
  };

  const replaceAll = (listed: Map<string, P>): InformerChange<P>[] => {
    const changes: InformerChange<P>[] = [];
    for (const [key, previous] of store) {
      if (!listed.has(key)) {
        store.delete(key);
        changes.push({ key, previous, current: undefined });
      }
    }
    for (const [key, current] of listed) {
      const previous = store.get(key);
      if (previous !== undefined && same(previous, current)) continue;
      store.set(key, current);
      changes.push({ key, previous, current });
    }
    return changes;
  };

  const recovered = () => {
    if (!failing) return;
    log.info({ failedForSeconds: Math.round((clock.now() - failing.since) / 100) / 10, restarts: failing.restarts }, 'informer recovered');
    failing = null;
    said.clear('api');
    deps.metrics.informerFailing.set(labels, 0);
    deps.onHealth?.(spec.name, null);
  };

  const failed = (problem: ApiProblem, op: 'list' | 'watch', retryInMs: number) => {
    deps.metrics.apiErrors.inc({ operation: spec.name });
    if (problem.category === 'gone') return;
    const starting = failing === null;
    failing ??= { since: clock.now(), restarts: 0 };
    deps.metrics.informerFailing.set(labels, 1);
    deps.onHealth?.(spec.name, problem.cause);
    // Said once per streak: when it starts and when the kind of failure changes, never per retry.
    if (said.mark('api', problem.cause) === 'new') {
      log.warn({ op, cause: problem.cause, err: problem.detail, retryInMs: Math.round(retryInMs) },
        starting ? 'informer failing; retrying with backoff' : 'informer still failing, with another cause');
    }
  };

  /** Lists every page; returns the version to watch from. */
  const listAll = async (): Promise<string> => {
    const listed = new Map<string, P>();
    let continueToken: string | undefined;
    let resourceVersion = '';
    let first = true;
    do {
      // The loop took the first page's token; each further page is another request.
      if (!first) await deps.limiter.take(signal);
      first = false;
      const page = await spec.source.list({ limit: pageSize, ...(continueToken ? { continueToken } : {}), signal });
      for (const item of page.items) listed.set(keyOf(item), spec.project(item));
      resourceVersion = page.resourceVersion;
      continueToken = page.continueToken || undefined;
    } while (continueToken);
    deps.metrics.informerLastList.set(labels, clock.now() / 1000);
    const becameSynced = !synced;
    synced = true;
    recovered();
    if (becameSynced) log.info({ objects: listed.size }, 'informer synced');
    // Synced before anyone hears of the objects, so a consumer woken by them sees a synced informer.
    notify(replaceAll(listed));
    if (becameSynced) for (const listener of syncedListeners) listener();
    return resourceVersion;
  };

  /**
   * The version the next watch starts from (null: the next step is a relist). Every event moves it,
   * also on a watch that fails later: its retry resumes from there.
   */
  let resourceVersion: string | null = null;

  /** Whether the current (or last) watch was healthy: it delivered something, or stayed open a while. */
  let watchHealthy = false;

  /** One watch from `resourceVersion`; says whether it was healthy. */
  const watchOnce = async (from: string): Promise<boolean> => {
    watchHealthy = false;
    const opened = new AbortController();
    const ended = AbortSignal.any([signal, opened.signal]);
    const markHealthy = () => {
      if (watchHealthy) return;
      watchHealthy = true;
      recovered();
    };
    try {
      await spec.source.watch({
        resourceVersion: from,
        timeoutSeconds: Math.floor(deps.settings.watchTimeoutSeconds * (1 + random())),
        silenceMs: silenceLimitMs(deps.settings.watchTimeoutSeconds),
        signal,
        onOpen: () => {
          // Open for a second without an error: the API is back, even if nothing changed yet.
          clock.sleep(SHORT_WATCH_MS, ended).then(markHealthy, () => {});
        },
        onEvent: (event: WatchEvent<T>) => {
          markHealthy();
          if (event.type === 'BOOKMARK') {
            resourceVersion = event.resourceVersion || resourceVersion;
            return;
          }
          resourceVersion = event.object.metadata?.resourceVersion || resourceVersion;
          notify(apply(event.object, event.type === 'DELETED'));
        },
      });
    } finally {
      opened.abort();
    }
    return watchHealthy;
  };

  const run = async (): Promise<void> => {
    /** Restarts since the informer was last healthy: drives the backoff. */
    let attempts = 0;
    while (!signal.aborted) {
      const op = resourceVersion === null ? 'list' : 'watch';
      let problem: ApiProblem;
      try {
        await deps.limiter.take(signal);
        if (resourceVersion === null) {
          resourceVersion = await listAll();
          attempts = 0;
          continue;
        }
        if (await watchOnce(resourceVersion)) {
          // A watch the server ended after a while (its timeout): resume at once from where it got to.
          attempts = 0;
          continue;
        }
        problem = { category: 'status', cause: 'watch closed at once', detail: `the server ended the watch within ${SHORT_WATCH_MS} ms without sending anything` };
      } catch (error) {
        if (signal.aborted) break;
        problem = classifyApiError(error, clock.now());
        // A watch that ran well and then broke starts a new streak: its first retry waits the first step.
        if (op === 'watch' && watchHealthy) attempts = 0;
      }
      attempts++;
      if (problem.category === 'gone') {
        // The version we hold is too old to watch from: list again (after the backoff, so relists after an outage spread out).
        resourceVersion = null;
        log.debug({ op, err: problem.detail }, 'resource version expired; relisting');
      }
      const delay = Math.max(backoffDelay(attempts, deps.settings.backoff, random), problem.retryAfterMs ?? 0);
      failed(problem, op, delay);
      deps.metrics.informerRestarts.inc(labels);
      if (failing) failing.restarts++;
      try {
        await clock.sleep(delay, signal);
      } catch {
        break;
      }
    }
  };

  return {
    name: spec.name,
    get synced() { return synced; },
    list: () => [...store.values()],
    get: (key) => store.get(key),
    onChange(listener) {
      changeListeners.add(listener);
      return () => { changeListeners.delete(listener); };
    },
    onSynced: (listener) => { syncedListeners.push(listener); },
    start() {
      if (loop || signal.aborted) return;
      loop = run().catch((error: unknown) => {
        // Unreachable by design (every error is caught above); said loudly if it ever happens.
        log.error({ err: error instanceof Error ? error.stack : String(error) }, 'informer loop ended unexpectedly');
      });
    },
    async stop() {
      abort.abort();
      await loop;
    },
  };
}
