import type { ServerResponse } from 'node:http';
import type { ObjectFilter } from './objects.ts';
import { apiVersionOf, resourceKey, type ResourceType } from './resources.ts';
import { errors } from './status.ts';
import type { Change, KubeObject, Store } from './store.ts';

export interface WatchRequest {
  resource: ResourceType;
  namespace: string | undefined;
  filter: ObjectFilter;
  /** Stream changes after this version; undefined: synthetic ADDED for current objects first, then changes. */
  since: number | undefined;
  allowBookmarks: boolean;
  /** With `since` undefined: mark the end of the initial ADDED events with a bookmark (sendInitialEvents). */
  sendInitialEvents: boolean;
  timeoutMs: number;
  bookmarkIntervalMs: number;
  /** A watcher that falls this far behind is closed (as the API server does when a watch channel fills). */
  maxBufferedBytes: number;
}

type EventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

/** Who holds an open watch, and on what (for tests counting watches per client). */
export interface WatchInfo {
  remote: string;
  userAgent: string;
  /** Path and query of the watch request. */
  path: string;
  /** ISO time it was opened. */
  since: string;
}

/** The watch event a watcher should see for a change, given its filter (objects entering or leaving it). */
function eventFor(change: Change, filter: ObjectFilter): { type: EventType; object: KubeObject } | undefined {
  const matchesNow = filter(change.object);
  if (change.type !== 'MODIFIED') return matchesNow ? { type: change.type, object: change.object } : undefined;
  const matchedBefore = change.previous !== undefined && filter(change.previous);
  if (matchesNow) return { type: matchedBefore ? 'MODIFIED' : 'ADDED', object: change.object };
  return matchedBefore ? { type: 'DELETED', object: change.object } : undefined;
}

/** All open watch streams of one server, so they can be closed together (fault injection, shutdown). */
export class WatchHub {
  readonly #store: Store;
  readonly #open = new Map<() => void, WatchInfo>();
  /** The resource key each open watch streams. */
  readonly #keys = new Map<() => void, string>();
  /** Stored objects never change, so each is serialized once however many watchers it goes to. */
  readonly #json = new WeakMap<object, string>();

  constructor(store: Store) {
    this.#store = store;
  }

  get size(): number {
    return this.#open.size;
  }

  /** Every open watch stream. */
  list(): WatchInfo[] {
    return [...this.#open.values()];
  }

  /** Ends every open watch cleanly (the client sees its stream end and re-watches); returns how many. */
  dropAll(): number {
    const closers = [...this.#open.keys()];
    for (const close of closers) close();
    return closers.length;
  }

  /** Ends the open watches on one resource (its CRD is gone, so the kind is no longer served); returns how many. */
  dropResource(resource: ResourceType): number {
    const key = resourceKey(resource);
    const closers = [...this.#keys].filter(([, k]) => k === key).map(([close]) => close);
    for (const close of closers) close();
    return closers.length;
  }

  /** Serves a watch on `res` until the client leaves, the timeout passes, or the hub drops it. */
  serve(res: ServerResponse, request: WatchRequest, info: WatchInfo = { remote: '', userAgent: '', path: '', since: new Date().toISOString() }): void {
    const store = this.#store;
    const key = resourceKey(request.resource);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', Connection: 'close' });
    res.flushHeaders();

    let closed = false;
    const timers: NodeJS.Timeout[] = [];
    let unsubscribe = () => {};
    // Events are written once per event-loop turn, so a burst of changes costs one socket write per watcher.
    let pending: string[] = [];
    let flushScheduled = false;
    const flush = () => {
      flushScheduled = false;
      if (pending.length === 0 || res.destroyed) return;
      res.write(pending.join(''));
      pending = [];
      if (res.writableLength > request.maxBufferedBytes) close();
    };
    const close = () => {
      if (closed) return;
      closed = true;
      unsubscribe();
      for (const timer of timers) clearTimeout(timer);
      this.#open.delete(close);
      this.#keys.delete(close);
      flush();
      res.end();
    };
    const send = (type: EventType, object: object) => {
      if (closed) return;
      let json = this.#json.get(object);
      if (json === undefined) this.#json.set(object, (json = JSON.stringify(object)));
      pending.push(`{"type":"${type}","object":${json}}\n`);
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flush);
      }
    };
    const bookmark = (annotations?: Record<string, string>) => {
      const metadata: Record<string, unknown> = { resourceVersion: String(store.resourceVersion) };
      if (annotations) metadata.annotations = annotations;
      send('BOOKMARK', { kind: request.resource.kind, apiVersion: apiVersionOf(request.resource), metadata });
    };

    let backlog: Change[] = [];
    if (request.since !== undefined) {
      const result = store.changesSince(key, request.since);
      if ('expiredBefore' in result) {
        send('ERROR', errors.expired(request.since, result.expiredBefore).toStatus());
        close();
        return;
      }
      backlog = result.changes;
    }

    this.#open.set(close, info);
    this.#keys.set(close, key);
    res.on('close', close);
    // Subscribing and replaying happen in one synchronous step, so no change falls between them.
    unsubscribe = store.subscribe(key, (change) => {
      const event = eventFor(change, request.filter);
      if (event) send(event.type, event.object);
    });
    if (request.since === undefined) {
      for (const object of store.list(key, request.namespace)) if (request.filter(object)) send('ADDED', object);
      if (request.sendInitialEvents && request.allowBookmarks) bookmark({ 'k8s.io/initial-events-end': 'true' });
    } else {
      for (const change of backlog) {
        const event = eventFor(change, request.filter);
        if (event) send(event.type, event.object);
      }
    }

    if (request.allowBookmarks && request.bookmarkIntervalMs > 0) {
      const every = setInterval(() => bookmark(), request.bookmarkIntervalMs);
      every.unref();
      timers.push(every);
    }
    const timeout = setTimeout(() => {
      if (request.allowBookmarks) bookmark();
      close();
    }, request.timeoutMs);
    timeout.unref();
    timers.push(timeout);
  }
}
