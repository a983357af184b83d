import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { SUBMARINER_GROUP, SUBMARINER_VERSION } from '../model/submariner-api.ts';
import type { ConfigurationOptions } from '@kubernetes/client-node';
import { callOptions, withDeadline } from './request-options.ts';
import type { ApiObject, ListPage, ListWatch } from './list-watch.ts';
import { watchStream } from './watch-request.ts';

export interface ApiRequestSettings {
  /** Deadline of each list page, and of a watch's response headers. */
  requestTimeoutMs: number;
  /** `seaway/<version>`. */
  userAgent: string;
}

/** A list as client-node returns it: typed lists carry `_continue`, custom-object lists the wire's `continue`. */
export interface ListResult<T> {
  items: T[];
  metadata?: { resourceVersion?: string; _continue?: string; continue?: string };
}

export interface ClientListWatchSpec<T> {
  kubeConfig: KubeConfig;
  /** The collection's path, e.g. /api/v1/nodes (the watch goes there). */
  path: string;
  /** One page through the real client: limit and continue as given, with these call options. */
  listPage(page: { limit: number; continueToken?: string }, options: ConfigurationOptions): Promise<ListResult<T>>;
}

/**
 * The informer's list and watch for one collection through @kubernetes/client-node: pages of the
 * generated API client (consistent reads: no resourceVersion, so the server may paginate), and
 * watches from the last version with bookmarks.
 */
export function clientListWatch<T extends ApiObject>(spec: ClientListWatchSpec<T>, settings: ApiRequestSettings): ListWatch<T> {
  return {
    async list(request): Promise<ListPage<T>> {
      const result = await withDeadline(settings.requestTimeoutMs, request.signal,
        (signal) => spec.listPage({ limit: request.limit, ...(request.continueToken ? { continueToken: request.continueToken } : {}) },
          callOptions({ userAgent: settings.userAgent, signal })),
        `listing ${spec.path}`);
      const meta = result.metadata ?? {};
      const continueToken = meta._continue ?? meta.continue;
      return { items: result.items ?? [], resourceVersion: meta.resourceVersion ?? '', ...(continueToken ? { continueToken } : {}) };
    },
    watch(request) {
      return watchStream(spec.kubeConfig, spec.path, {
        params: { resourceVersion: request.resourceVersion, timeoutSeconds: String(request.timeoutSeconds), allowWatchBookmarks: 'true' },
        connectTimeoutMs: settings.requestTimeoutMs,
        silenceMs: request.silenceMs,
        userAgent: settings.userAgent,
        signal: request.signal,
        onOpen: request.onOpen,
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

/** One `submariner.io/v1` collection of a namespace (endpoints, clusters, gateways ...), listed in pages and watched. */
export function clientSubmarinerCollection<T extends ApiObject>(kubeConfig: KubeConfig, namespace: string, plural: string, settings: ApiRequestSettings): ListWatch<T> {
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  return clientListWatch<T>({
    kubeConfig,
    path: `/apis/${SUBMARINER_GROUP}/${SUBMARINER_VERSION}/namespaces/${namespace}/${plural}`,
    listPage: async (page, options) => (await custom.listNamespacedCustomObject(
      { group: SUBMARINER_GROUP, version: SUBMARINER_VERSION, namespace, plural, limit: page.limit, ...(page.continueToken ? { _continue: page.continueToken } : {}) },
      options,
    )) as ListResult<T>,
  }, settings);
}
