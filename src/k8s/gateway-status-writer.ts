/**
 * Writes the Gateway status object (plan/gateway-status.ts builds it) through @kubernetes/client-node.
 *
 * The Gateway CRD has no status subresource: the object is written whole, created when absent and
 * replaced otherwise with the resourceVersion last seen (optimistic concurrency; a conflict re-reads
 * once). Labels, annotations, owner references and finalizers someone else put on the object are
 * kept. Stale Gateway objects of other candidates are deleted with uid and resourceVersion
 * preconditions, so an object refreshed or recreated since it was listed survives.
 *
 * Every request has a deadline; nothing throws into the caller's loop: each call returns what
 * happened, failures as an ApiProblem (the API server's Status message or the error's own words,
 * never a header or a credential). Nothing here logs.
 */
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { backoffDelay, type BackoffPolicy } from '../model/backoff.ts';
import { isRecord } from '../model/compare.ts';
import { stringEntries } from '../model/object-meta.ts';
import { SUBMARINER_GROUP, SUBMARINER_VERSION } from '../model/submariner-api.ts';
import {
  GATEWAY_PLURAL, shouldWrite, staleGateways, type GatewayObject, type WriteBudget,
} from '../plan/gateway-status.ts';
import { classifyApiError, type ApiProblem } from './api-problem.ts';
import { callOptions, withDeadline } from './request-options.ts';

/** A status write later than this is not worth waiting for: the next refresh is due (5 s). */
const GATEWAY_REQUEST_TIMEOUT_MS = 5_000;
/** Gateway objects are one per gateway node: a few pages at most. */
const LIST_PAGE_SIZE = 100;
const MAX_LIST_PAGES = 50;

export interface GatewayStatusWriterOptions {
  /** The Submariner namespace the objects live in. */
  namespace: string;
  /** `seaway/<version>` (default `seaway`); also the field manager. */
  userAgent?: string;
  /** Deadline of each request (default GATEWAY_REQUEST_TIMEOUT_MS). */
  requestTimeoutMs?: number;
  /** For classifying Retry-After (default Date.now). */
  now?: () => number;
}

export type GatewayWriteStep = 'read' | 'create' | 'replace';

export type GatewayWriteResult =
  | { ok: true; name: string; action: 'created' | 'replaced'; uid: string; resourceVersion: string }
  | { ok: false; name: string; step: GatewayWriteStep; problem: ApiProblem };

export interface StaleCleanupResult {
  /** Deleted now. */
  deleted: string[];
  /** Already gone when deleted (404). */
  alreadyGone: string[];
  /** Refreshed or recreated since listed (the precondition failed, 409): kept. */
  changed: string[];
  failed: Array<{ name: string; problem: ApiProblem }>;
  /** The list failed: nothing was judged or deleted. */
  listProblem?: ApiProblem;
}

export interface GatewayStatusWriter {
  /** Creates or replaces the object (not through /status: Gateway has none). */
  write(object: GatewayObject, signal?: AbortSignal): Promise<GatewayWriteResult>;
  /** Deletes the Gateway objects staleGateways names (never a live candidate's). */
  removeStale(liveHostnames: Iterable<string>, nowMs: number, maxAgeMs: number, signal?: AbortSignal): Promise<StaleCleanupResult>;
}

/** What a replace carries over from the stored object besides our own fields. */
interface Stored {
  uid: string;
  resourceVersion: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: unknown[];
  finalizers?: string[];
}

interface ObjectMetaLike {
  uid?: unknown;
  resourceVersion?: unknown;
  labels?: unknown;
  annotations?: unknown;
  ownerReferences?: unknown;
  finalizers?: unknown;
  name?: unknown;
}

function storedFrom(response: unknown): Stored {
  const meta = ((response as { metadata?: ObjectMetaLike } | null)?.metadata ?? {}) as ObjectMetaLike;
  const stored: Stored = {
    uid: typeof meta.uid === 'string' ? meta.uid : '',
    resourceVersion: typeof meta.resourceVersion === 'string' ? meta.resourceVersion : '',
  };
  // A value that is not a string (no API server stores one) is left out rather than written back.
  const labels = isRecord(meta.labels) ? stringEntries(meta.labels) : undefined;
  const annotations = isRecord(meta.annotations) ? stringEntries(meta.annotations) : undefined;
  if (labels) stored.labels = labels;
  if (annotations) stored.annotations = annotations;
  if (Array.isArray(meta.ownerReferences)) stored.ownerReferences = meta.ownerReferences;
  if (Array.isArray(meta.finalizers)) stored.finalizers = meta.finalizers as string[];
  return stored;
}

/** Our object on top of what is stored: our annotations win, others' metadata stays. */
function replacement(object: GatewayObject, stored: Stored): Record<string, unknown> {
  return {
    ...object,
    metadata: {
      ...object.metadata,
      resourceVersion: stored.resourceVersion,
      annotations: { ...stored.annotations, ...object.metadata.annotations },
      ...(stored.labels ? { labels: stored.labels } : {}),
      ...(stored.ownerReferences ? { ownerReferences: stored.ownerReferences } : {}),
      ...(stored.finalizers ? { finalizers: stored.finalizers } : {}),
    },
  };
}

type RequestStep = GatewayWriteStep | 'list' | 'delete';

class StepFailure extends Error {
  readonly step: RequestStep;
  readonly problem: ApiProblem;
  constructor(step: RequestStep, problem: ApiProblem) {
    super(problem.detail);
    this.step = step;
    this.problem = problem;
  }
}

export function createGatewayStatusWriter(kubeConfig: KubeConfig, options: GatewayStatusWriterOptions): GatewayStatusWriter {
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const { namespace } = options;
  const userAgent = options.userAgent ?? 'seaway';
  const timeoutMs = options.requestTimeoutMs ?? GATEWAY_REQUEST_TIMEOUT_MS;
  const now = options.now ?? Date.now;
  const target = { group: SUBMARINER_GROUP, version: SUBMARINER_VERSION, namespace, plural: GATEWAY_PLURAL };
  /** Name -> what our last write (or read) saw; dropped when a write fails. */
  const known = new Map<string, Stored>();
  const never = new AbortController().signal;

  const call = async <T>(step: RequestStep, what: string, outer: AbortSignal, run: (opts: ReturnType<typeof callOptions>) => Promise<T>): Promise<T> => {
    try {
      return await withDeadline(timeoutMs, outer, (signal) => run(callOptions({ userAgent, signal })), what);
    } catch (error) {
      throw new StepFailure(step, classifyApiError(error, now()));
    }
  };

  const read = async (name: string, signal: AbortSignal): Promise<Stored | null> => {
    try {
      return storedFrom(await call('read', `reading Gateway ${name}`, signal, (opts) => custom.getNamespacedCustomObject({ ...target, name }, opts)));
    } catch (error) {
      if (error instanceof StepFailure && error.problem.statusCode === 404) return null;
      throw error;
    }
  };

  const create = async (object: GatewayObject, signal: AbortSignal): Promise<Stored> => storedFrom(await call('create', `creating Gateway ${object.metadata.name}`, signal,
    (opts) => custom.createNamespacedCustomObject({ ...target, body: object, fieldManager: 'seaway' }, opts)));

  const replace = async (object: GatewayObject, stored: Stored, signal: AbortSignal): Promise<Stored> => storedFrom(await call('replace', `replacing Gateway ${object.metadata.name}`, signal,
    (opts) => custom.replaceNamespacedCustomObject({ ...target, name: object.metadata.name, body: replacement(object, stored), fieldManager: 'seaway' }, opts)));

  /** Read, then create or replace; a create that finds the object made meanwhile replaces it. */
  const writeFresh = async (object: GatewayObject, signal: AbortSignal): Promise<{ action: 'created' | 'replaced'; stored: Stored }> => {
    const name = object.metadata.name;
    const current = await read(name, signal);
    if (current === null) {
      try {
        return { action: 'created', stored: await create(object, signal) };
      } catch (error) {
        if (!(error instanceof StepFailure) || error.problem.statusCode !== 409) throw error;
        const made = await read(name, signal);
        if (made === null) throw error;
        return { action: 'replaced', stored: await replace(object, made, signal) };
      }
    }
    return { action: 'replaced', stored: await replace(object, current, signal) };
  };

  return {
    async write(object, signal = never) {
      const name = object.metadata.name;
      try {
        const cached = known.get(name);
        let outcome: { action: 'created' | 'replaced'; stored: Stored };
        if (cached === undefined) {
          outcome = await writeFresh(object, signal);
        } else {
          try {
            outcome = { action: 'replaced', stored: await replace(object, cached, signal) };
          } catch (error) {
            // Someone else wrote it (409) or deleted it (404): read what is there now and write once more.
            if (!(error instanceof StepFailure) || (error.problem.statusCode !== 409 && error.problem.statusCode !== 404)) throw error;
            known.delete(name);
            outcome = await writeFresh(object, signal);
          }
        }
        known.set(name, outcome.stored);
        return { ok: true, name, action: outcome.action, uid: outcome.stored.uid, resourceVersion: outcome.stored.resourceVersion };
      } catch (error) {
        known.delete(name);
        // write() makes only read, create and replace requests.
        if (error instanceof StepFailure) return { ok: false, name, step: error.step as GatewayWriteStep, problem: error.problem };
        return { ok: false, name, step: 'replace', problem: classifyApiError(error, now()) };
      }
    },

    async removeStale(liveHostnames, nowMs, maxAgeMs, signal = never) {
      const result: StaleCleanupResult = { deleted: [], alreadyGone: [], changed: [], failed: [] };
      const items: unknown[] = [];
      try {
        let continueToken: string | undefined;
        for (let page = 0; page < MAX_LIST_PAGES; page++) {
          const listed = await call('list', 'listing Gateways', signal, (opts) => custom.listNamespacedCustomObject(
            { ...target, limit: LIST_PAGE_SIZE, ...(continueToken ? { _continue: continueToken } : {}) }, opts)) as { items?: unknown[]; metadata?: { continue?: string; _continue?: string } };
          items.push(...(listed.items ?? []));
          continueToken = listed.metadata?.continue ?? listed.metadata?._continue;
          if (!continueToken) break;
        }
      } catch (error) {
        result.listProblem = error instanceof StepFailure ? error.problem : classifyApiError(error, now());
        return result;
      }
      const byName = new Map<string, Stored>();
      for (const item of items) {
        const name = (item as { metadata?: ObjectMetaLike } | null)?.metadata?.name;
        if (typeof name === 'string') byName.set(name, storedFrom(item));
      }
      for (const name of staleGateways(items, liveHostnames, nowMs, maxAgeMs)) {
        const stored = byName.get(name);
        if (stored === undefined || stored.uid === '') continue;
        try {
          await call('delete', `deleting stale Gateway ${name}`, signal, (opts) => custom.deleteNamespacedCustomObject(
            { ...target, name, body: { preconditions: { uid: stored.uid, resourceVersion: stored.resourceVersion } } }, opts));
          result.deleted.push(name);
          known.delete(name);
        } catch (error) {
          const problem = error instanceof StepFailure ? error.problem : classifyApiError(error, now());
          if (problem.statusCode === 404) result.alreadyGone.push(name);
          else if (problem.statusCode === 409) result.changed.push(name);
          else result.failed.push({ name, problem });
        }
      }
      return result;
    },
  };
}

export type PublishResult =
  | { attempted: false; reason: 'unchanged' | 'backing-off' | 'busy' }
  | { attempted: true; result: GatewayWriteResult };

export interface GatewayStatusPublisher {
  /**
   * Writes `next` when the budget says so (shouldWrite against the last object written), after a
   * failure not before a backoff (at most the refresh period, so a brownout costs no more requests
   * than health does); one write at a time. Never throws.
   */
  publish(next: GatewayObject, nowMs: number, signal?: AbortSignal): Promise<PublishResult>;
}

export interface PublisherOptions extends WriteBudget {
  /** Pause after failures (default 1 s doubling up to refreshMs). */
  retry?: BackoffPolicy;
  random?: () => number;
}

export function createGatewayStatusPublisher(writer: Pick<GatewayStatusWriter, 'write'>, options: PublisherOptions): GatewayStatusPublisher {
  const retry = options.retry ?? { minMs: Math.min(1000, options.refreshMs), maxMs: options.refreshMs };
  let written: GatewayObject | null = null;
  let lastWriteMs = 0;
  let failures = 0;
  let retryAtMs = 0;
  let busy = false;
  return {
    async publish(next, nowMs, signal) {
      if (busy) return { attempted: false, reason: 'busy' };
      // A clock that went back never parks the retry for longer than the longest backoff.
      if (failures > 0 && nowMs < retryAtMs && retryAtMs - nowMs <= retry.maxMs) return { attempted: false, reason: 'backing-off' };
      if (failures === 0 && !shouldWrite(written, next, lastWriteMs, nowMs, options)) return { attempted: false, reason: 'unchanged' };
      busy = true;
      try {
        const result = await writer.write(next, signal);
        if (result.ok) {
          written = next;
          lastWriteMs = nowMs;
          failures = 0;
        } else {
          failures += 1;
          retryAtMs = nowMs + backoffDelay(failures, retry, options.random);
        }
        return { attempted: true, result };
      } finally {
        busy = false;
      }
    },
  };
}
