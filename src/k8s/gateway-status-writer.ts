/**
 * Writes the Gateway status object (plan/gateway-status.ts builds it) through the API (an ApiSend),
 * with the writer and publisher it shares with the RouteAgent (status-object-writer.ts).
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
import {
  GATEWAY_PLURAL, sameGatewayContent, staleGateways, type GatewayObject,
} from '../plan/gateway-status.ts';
import { classifyApiError, type ApiProblem } from './api-problem.ts';
import type { ApiSend } from './api-request.ts';
import { submarinerPath } from './client-list-watch.ts';
import {
  createStatusObjectWriter, createStatusPublisher, statusRequest, storedMeta, storedName, StepFailure, STATUS_REQUEST_TIMEOUT_MS,
  type PublisherOptions, type StatusPublisher, type StatusWriteResult, type StatusWriteStep, type StoredMeta,
} from './status-object-writer.ts';

export type { PublishResult, PublisherOptions } from './status-object-writer.ts';

/** Gateway objects are one per gateway node: a few pages at most. */
const LIST_PAGE_SIZE = 100;
const MAX_LIST_PAGES = 50;

export interface GatewayStatusWriterOptions {
  /** The Submariner namespace the objects live in. */
  namespace: string;
  /** `seaway/<version>` (default `seaway`); also the field manager. */
  userAgent?: string;
  /** Deadline of each request (default 5 s). */
  requestTimeoutMs?: number;
  /** For classifying Retry-After (default Date.now). */
  now?: () => number;
}

export type GatewayWriteStep = StatusWriteStep;

export type GatewayWriteResult = StatusWriteResult;

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

export function createGatewayStatusWriter(send: ApiSend, options: GatewayStatusWriterOptions): GatewayStatusWriter {
  const objects = createStatusObjectWriter<GatewayObject>(send, { ...options, plural: GATEWAY_PLURAL, kind: 'Gateway' });
  const now = options.now ?? Date.now;
  const call = statusRequest(send, { userAgent: options.userAgent ?? 'seaway', timeoutMs: options.requestTimeoutMs ?? STATUS_REQUEST_TIMEOUT_MS, now });
  const never = new AbortController().signal;

  return {
    write: (object, signal) => objects.write(object, signal),

    async removeStale(liveHostnames, nowMs, maxAgeMs, signal = never) {
      const result: StaleCleanupResult = { deleted: [], alreadyGone: [], changed: [], failed: [] };
      const items: unknown[] = [];
      try {
        let continueToken: string | undefined;
        for (let page = 0; page < MAX_LIST_PAGES; page++) {
          const listed = await call('list', 'listing Gateways', signal,
            { method: 'GET', path: submarinerPath(options.namespace, GATEWAY_PLURAL), query: { limit: String(LIST_PAGE_SIZE), continue: continueToken } }) as { items?: unknown[]; metadata?: { continue?: string } } | undefined;
          items.push(...(listed?.items ?? []));
          continueToken = listed?.metadata?.continue;
          if (!continueToken) break;
        }
      } catch (error) {
        result.listProblem = error instanceof StepFailure ? error.problem : classifyApiError(error, now());
        return result;
      }
      const byName = new Map<string, StoredMeta>();
      for (const item of items) {
        const name = storedName(item);
        if (name !== undefined) byName.set(name, storedMeta(item));
      }
      for (const name of staleGateways(items, liveHostnames, nowMs, maxAgeMs)) {
        const stored = byName.get(name);
        if (stored === undefined || stored.uid === '') continue;
        try {
          await call('delete', `deleting stale Gateway ${name}`, signal, { method: 'DELETE', path: submarinerPath(options.namespace, GATEWAY_PLURAL, name),
            body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { uid: stored.uid, resourceVersion: stored.resourceVersion } } });
          result.deleted.push(name);
          objects.forget(name);
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

export interface GatewayStatusPublisher {
  /**
   * Writes `next` when the budget says so (shouldWrite against the last object written), after a
   * failure not before a backoff (at most the refresh period, so a brownout costs no more requests
   * than health does); one write at a time. Never throws.
   */
  publish: StatusPublisher<GatewayObject>['publish'];
}

/** The budget around a Gateway writer: a change is judged without the update-timestamp (sameGatewayContent). */
export function createGatewayStatusPublisher(writer: Pick<GatewayStatusWriter, 'write'>, options: PublisherOptions): GatewayStatusPublisher & StatusPublisher<GatewayObject> {
  return createStatusPublisher(writer, { ...options, same: sameGatewayContent });
}
