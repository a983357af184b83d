/**
 * Writes one of Submariner's status objects (a Gateway, a RouteAgent: plan/gateway-status.ts and
 * plan/route-agent-status.ts build them) through the API (an ApiSend), and the budget around the writes.
 *
 * Neither CRD has a status subresource: the object is written whole, created when absent and
 * replaced otherwise with the resourceVersion last seen (optimistic concurrency; a conflict re-reads
 * once). Labels, annotations, owner references and finalizers someone else put on the object are
 * kept.
 *
 * Every request has a deadline; nothing throws into the caller's loop: each call returns what
 * happened, failures as an ApiProblem (the API server's Status message or the error's own words,
 * never a header or a credential). Nothing here logs.
 */
import { backoffDelay, type BackoffPolicy } from '../model/backoff.ts';
import { isRecord } from '../model/compare.ts';
import { stringEntries } from '../model/object-meta.ts';
import { changeDueAt, dueForWrite, writeDueAt, type WriteBudget } from '../plan/status-object.ts';
import { classifyApiError, type ApiProblem } from './api-problem.ts';
import type { ApiCall, ApiSend } from './api-request.ts';
import { submarinerPath } from './client-list-watch.ts';

/** A status write later than this is not worth waiting for: the next refresh is due (5 s). */
export const STATUS_REQUEST_TIMEOUT_MS = 5_000;

/** What the writer needs of an object: its name and namespace; the rest is written as it is. */
export interface StatusObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; annotations?: Record<string, string> };
}

export interface StatusObjectWriterOptions {
  /** The Submariner namespace the objects live in. */
  namespace: string;
  /** The CRD's plural (`gateways`, `routeagents`). */
  plural: string;
  /** The kind, for messages ("replacing Gateway east-gw"). */
  kind: string;
  /** `seaway/<version>` (default `seaway`): the User-Agent (the field manager is `seaway`). */
  userAgent?: string;
  /** Deadline of each request (default STATUS_REQUEST_TIMEOUT_MS). */
  requestTimeoutMs?: number;
  /** For classifying Retry-After (default Date.now). */
  now?: () => number;
}

export type StatusWriteStep = 'read' | 'create' | 'replace';

export type StatusWriteResult =
  | { ok: true; name: string; action: 'created' | 'replaced'; uid: string; resourceVersion: string }
  | { ok: false; name: string; step: StatusWriteStep; problem: ApiProblem };

export interface StatusObjectWriter<T extends StatusObject> {
  /** Creates or replaces the object (not through /status: neither kind has one). Never throws. */
  write(object: T, signal?: AbortSignal): Promise<StatusWriteResult>;
  /** Forgets what the last write saw of `name` (it was deleted): the next write reads first. */
  forget(name: string): void;
}

/** What a replace carries over from the stored object besides our own fields. */
export interface StoredMeta {
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

/** An object's name as the API server returned it, or undefined. */
export function storedName(response: unknown): string | undefined {
  const name = (response as { metadata?: ObjectMetaLike } | null)?.metadata?.name;
  return typeof name === 'string' ? name : undefined;
}

/** The metadata a later replace carries over, from an API server's answer (read defensively). */
export function storedMeta(response: unknown): StoredMeta {
  const meta = ((response as { metadata?: ObjectMetaLike } | null)?.metadata ?? {}) as ObjectMetaLike;
  const stored: StoredMeta = {
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
export function replacement(object: StatusObject, stored: StoredMeta): Record<string, unknown> {
  const annotations = { ...stored.annotations, ...object.metadata.annotations };
  return {
    ...object,
    metadata: {
      ...object.metadata,
      resourceVersion: stored.resourceVersion,
      ...(Object.keys(annotations).length > 0 || object.metadata.annotations !== undefined ? { annotations } : {}),
      ...(stored.labels ? { labels: stored.labels } : {}),
      ...(stored.ownerReferences ? { ownerReferences: stored.ownerReferences } : {}),
      ...(stored.finalizers ? { finalizers: stored.finalizers } : {}),
    },
  };
}

/** A request that failed, with the step it was (what write() and the Gateway's cleanup report). */
export class StepFailure<S extends string = string> extends Error {
  readonly step: S;
  readonly problem: ApiProblem;
  constructor(step: S, problem: ApiProblem) {
    super(problem.detail);
    this.step = step;
    this.problem = problem;
  }
}

export type StatusRequest = <S extends string>(step: S, what: string, outer: AbortSignal, request: ApiCall) => Promise<unknown>;

/** Sends one request with our User-Agent and the deadline; a failure becomes a StepFailure naming the step. */
export function statusRequest(send: ApiSend, options: { userAgent: string; timeoutMs: number; now: () => number }): StatusRequest {
  return async (step, what, outer, request) => {
    try {
      return await send(request, { userAgent: options.userAgent, timeoutMs: options.timeoutMs, signal: outer, what });
    } catch (error) {
      throw new StepFailure(step, classifyApiError(error, options.now()));
    }
  };
}

/** The field manager of every write: what the server's managedFields and audit log name. */
const FIELD_MANAGER = { fieldManager: 'seaway' };

export function createStatusObjectWriter<T extends StatusObject>(send: ApiSend, options: StatusObjectWriterOptions): StatusObjectWriter<T> {
  const { namespace, kind } = options;
  const now = options.now ?? Date.now;
  const call = statusRequest(send, { userAgent: options.userAgent ?? 'seaway', timeoutMs: options.requestTimeoutMs ?? STATUS_REQUEST_TIMEOUT_MS, now });
  /** Name -> what our last write (or read) saw; dropped when a write fails. */
  const known = new Map<string, StoredMeta>();
  const never = new AbortController().signal;

  const read = async (name: string, signal: AbortSignal): Promise<StoredMeta | null> => {
    try {
      return storedMeta(await call('read', `reading ${kind} ${name}`, signal, { method: 'GET', path: submarinerPath(namespace, options.plural, name) }));
    } catch (error) {
      if (error instanceof StepFailure && error.problem.statusCode === 404) return null;
      throw error;
    }
  };

  const create = async (object: T, signal: AbortSignal): Promise<StoredMeta> => storedMeta(await call('create', `creating ${kind} ${object.metadata.name}`, signal,
    { method: 'POST', path: submarinerPath(namespace, options.plural), query: FIELD_MANAGER, body: object }));

  const replace = async (object: T, stored: StoredMeta, signal: AbortSignal): Promise<StoredMeta> => storedMeta(await call('replace', `replacing ${kind} ${object.metadata.name}`, signal,
    { method: 'PUT', path: submarinerPath(namespace, options.plural, object.metadata.name), query: FIELD_MANAGER, body: replacement(object, stored) }));

  /** Read, then create or replace; a create that finds the object made meanwhile replaces it. */
  const writeFresh = async (object: T, signal: AbortSignal): Promise<{ action: 'created' | 'replaced'; stored: StoredMeta }> => {
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
        let outcome: { action: 'created' | 'replaced'; stored: StoredMeta };
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
        if (error instanceof StepFailure) return { ok: false, name, step: error.step as StatusWriteStep, problem: error.problem };
        return { ok: false, name, step: 'replace', problem: classifyApiError(error, now()) };
      }
    },
    forget(name) {
      known.delete(name);
    },
  };
}

export type PublishResult =
  | { attempted: false; reason: 'unchanged' | 'backing-off' | 'busy' }
  | { attempted: true; result: StatusWriteResult };

export interface StatusPublisher<T> {
  /**
   * Writes `next` when the budget says so (against the last object written), after a failure not
   * before a backoff (at most the refresh period, so a brownout costs no more requests than health
   * does); one write at a time. Never throws. `unchanged` also means "changed, but too soon after
   * the last write" (minIntervalMs): nextAttemptAt says when.
   */
  publish(next: T, nowMs: number, signal?: AbortSignal): Promise<PublishResult>;
  /**
   * When publish(next) would next write (unix ms; at most nowMs when it would write now), or
   * undefined while a write is in flight (its end is the next moment to look).
   */
  nextAttemptAt(next: T, nowMs: number): number | undefined;
  /** When publish would next write an object that differs from the last written (as nextAttemptAt). */
  nextChangeAt(nowMs: number): number | undefined;
}

export interface PublisherOptions extends WriteBudget {
  /** Pause after failures (default 1 s doubling up to refreshMs). */
  retry?: BackoffPolicy;
  random?: () => number;
}

/**
 * The budget around a writer. `same` says whether two objects carry the same content (what a change
 * is judged on; the Gateway's leaves its refresh stamp out); default: deep equality.
 */
export function createStatusPublisher<T>(
  writer: { write(object: T, signal?: AbortSignal): Promise<StatusWriteResult> },
  options: PublisherOptions & { same?: (a: T, b: T) => boolean },
): StatusPublisher<T> {
  const retry = options.retry ?? { minMs: Math.min(1000, options.refreshMs), maxMs: options.refreshMs };
  let written: T | null = null;
  let lastWriteMs = 0;
  let failures = 0;
  let retryAtMs = 0;
  let busy = false;
  // A clock that went back never parks the retry for longer than the longest backoff.
  const backingOff = (nowMs: number) => failures > 0 && nowMs < retryAtMs && retryAtMs - nowMs <= retry.maxMs;
  return {
    async publish(next, nowMs, signal) {
      if (busy) return { attempted: false, reason: 'busy' };
      if (backingOff(nowMs)) return { attempted: false, reason: 'backing-off' };
      if (failures === 0 && !dueForWrite(written, next, lastWriteMs, nowMs, options, options.same)) return { attempted: false, reason: 'unchanged' };
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
    nextAttemptAt(next, nowMs) {
      if (busy) return undefined;
      if (failures > 0) return backingOff(nowMs) ? retryAtMs : nowMs;
      return writeDueAt(written, next, lastWriteMs, nowMs, options, options.same);
    },
    nextChangeAt(nowMs) {
      if (busy) return undefined;
      if (failures > 0) return backingOff(nowMs) ? retryAtMs : nowMs;
      return changeDueAt(written, lastWriteMs, nowMs, options);
    },
  };
}
