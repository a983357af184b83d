import { SUBMARINER_GROUP, SUBMARINER_VERSION } from '../model/submariner-api.ts';
import type { ApiConnection } from './api-connection.ts';
import { apiRequest } from './api-request.ts';
import type { ApiObject, ListPage, ListWatch } from './list-watch.ts';
import { watchStream } from './watch-request.ts';

export interface ApiRequestSettings {
  /** Deadline of each list page, and of a watch's response headers. */
  requestTimeoutMs: number;
  /** `seaway/<version>`. */
  userAgent: string;
}

/** A list as the API server sends it. */
interface ListBody<T> {
  items?: T[] | null;
  metadata?: { resourceVersion?: string; continue?: string };
}

/**
 * The informer's list and watch for one collection, e.g. /api/v1/nodes: pages as the server sends
 * them (plain JSON, no typed copies: a page is projected and dropped; consistent reads: no
 * resourceVersion, so the server may paginate), and watches from the last version with bookmarks.
 * `trim` cuts what no reader needs from each answer and event before it is parsed.
 */
export function collectionListWatch<T extends ApiObject>(connection: ApiConnection, path: string, settings: ApiRequestSettings, trim?: (json: string) => string): ListWatch<T> {
  return {
    async list(request): Promise<ListPage<T>> {
      const body = await apiRequest(connection, { method: 'GET', path, query: { limit: String(request.limit), continue: request.continueToken } },
        { userAgent: settings.userAgent, timeoutMs: settings.requestTimeoutMs, signal: request.signal, what: `listing ${path}`, ...(trim ? { trim } : {}) }) as ListBody<T> | undefined;
      const meta = body?.metadata ?? {};
      return { items: body?.items ?? [], resourceVersion: meta.resourceVersion ?? '', ...(meta.continue ? { continueToken: meta.continue } : {}) };
    },
    watch(request) {
      return watchStream(connection, path, {
        params: { resourceVersion: request.resourceVersion, timeoutSeconds: String(request.timeoutSeconds), allowWatchBookmarks: 'true' },
        connectTimeoutMs: settings.requestTimeoutMs,
        silenceMs: request.silenceMs,
        userAgent: settings.userAgent,
        signal: request.signal,
        onOpen: request.onOpen,
        ...(trim ? { trim } : {}),
        onEvent: (type, object) => {
          if (type === 'BOOKMARK') {
            request.onEvent({ type, resourceVersion: (object as ApiObject | undefined)?.metadata?.resourceVersion ?? '' });
          } else if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') {
            request.onEvent({ type, object: object as T });
          }
        },
      });
    },
  };
}

/** The path of a `submariner.io/v1` collection of a namespace (endpoints, clusters, gateways ...). */
export function submarinerPath(namespace: string, plural: string, name?: string): string {
  const collection = `/apis/${SUBMARINER_GROUP}/${SUBMARINER_VERSION}/namespaces/${encodeURIComponent(namespace)}/${plural}`;
  return name === undefined ? collection : `${collection}/${encodeURIComponent(name)}`;
}

/** One `submariner.io/v1` collection of a namespace, listed in pages and watched. */
export function submarinerCollection<T extends ApiObject>(connection: ApiConnection, namespace: string, plural: string, settings: ApiRequestSettings): ListWatch<T> {
  return collectionListWatch<T>(connection, submarinerPath(namespace, plural), settings);
}
