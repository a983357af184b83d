import { ListWatch, Watch, type KubeConfig, type KubernetesObject, type KubernetesListObject } from '@kubernetes/client-node';
import pRetry from 'p-retry';
import type { Logger } from '../telemetry/logger.ts';

export interface InformerSpec<T extends KubernetesObject> {
  /** Used in logs and metrics. */
  name: string;
  /** The watch path, e.g. /api/v1/nodes. */
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  fieldSelector?: string;
  labelSelector?: string;
}

export interface ResilientInformerDeps {
  kubeConfig: KubeConfig;
  logger: Logger;
  onApiError?: (informer: string) => void;
  /** Backoff bounds; tests shorten them. */
  minRetryMs?: number;
  maxRetryMs?: number;
  listTimeoutMs?: number;
}

export interface ResilientInformer<T extends KubernetesObject> {
  readonly synced: boolean;
  list(): readonly T[];
  /** Any change (add, update, delete) or a resync after a restart. */
  onChange(listener: () => void): void;
  onSynced(listener: () => void): void;
  start(): void;
  stop(): Promise<void>;
}

class ListFailed extends Error {}

/**
 * A list+watch informer that never gives up: client-node's ListWatch relists after 410 and
 * reconnects after a clean close, but stops on any other error; this restarts it with
 * exponential backoff and jitter (p-retry), without limit, until stopped.
 */
export function createResilientInformer<T extends KubernetesObject>(spec: InformerSpec<T>, deps: ResilientInformerDeps): ResilientInformer<T> {
  const log = deps.logger.child({ informer: spec.name });
  const listTimeoutMs = deps.listTimeoutMs ?? 30_000;
  const listWithTimeout = () => withTimeout(spec.list(), listTimeoutMs, `listing ${spec.name}`);
  const informer = new ListWatch<T>(spec.path, new Watch(deps.kubeConfig), listWithTimeout, false, spec.labelSelector, spec.fieldSelector);
  const changeListeners: Array<() => void> = [];
  const syncedListeners: Array<() => void> = [];
  let synced = false;
  let stopped = true;
  let pendingError: unknown;
  let settleAttempt: ((error?: unknown) => void) | undefined;
  const abort = new AbortController();

  const notify = () => { for (const listener of changeListeners) listener(); };
  informer.on('add', notify);
  informer.on('update', notify);
  informer.on('delete', notify);
  informer.on('error', (error: unknown) => {
    deps.onApiError?.(spec.name);
    if (settleAttempt) settleAttempt(error);
    else pendingError = error;
    if (!stopped && synced) {
      log.warn({ err: describe(error) }, 'informer failed; restarting with backoff');
      void runUntilSynced();
    }
  });

  async function attempt(): Promise<void> {
    pendingError = undefined;
    const failed = new Promise<void>((_, reject) => {
      settleAttempt = (error) => reject(new ListFailed(describe(error)));
    });
    try {
      await Promise.race([informer.start(), failed]);
      if (pendingError !== undefined) throw new ListFailed(describe(pendingError));
    } finally {
      settleAttempt = undefined;
      failed.catch(() => {});
    }
  }

  async function runUntilSynced(): Promise<void> {
    try {
      await pRetry(attempt, {
        retries: Number.POSITIVE_INFINITY,
        factor: 2,
        minTimeout: deps.minRetryMs ?? 500,
        maxTimeout: deps.maxRetryMs ?? 30_000,
        randomize: true,
        signal: abort.signal,
        onFailedAttempt: ({ error, attemptNumber, retryDelay }) => {
          log.warn({ err: error.message, attempt: attemptNumber, retryInMs: Math.round(retryDelay) }, 'list/watch failed; retrying');
        },
      });
    } catch (error) {
      if (stopped) return;
      log.error({ err: describe(error) }, 'informer gave up unexpectedly');
      return;
    }
    if (stopped) return;
    if (!synced) {
      synced = true;
      log.info({ objects: informer.list().length }, 'informer synced');
      for (const listener of syncedListeners) listener();
    }
    notify();
  }

  return {
    get synced() { return synced; },
    list: () => informer.list(),
    onChange: (listener) => { changeListeners.push(listener); },
    onSynced: (listener) => { syncedListeners.push(listener); },
    start() {
      if (!stopped) return;
      stopped = false;
      void runUntilSynced();
    },
    async stop() {
      stopped = true;
      abort.abort();
      await informer.stop();
    },
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { statusCode?: number; code?: number | string }).statusCode ?? (error as { code?: unknown }).code;
    return code !== undefined ? `${error.message} (${String(code)})` : error.message;
  }
  return String(error);
}
