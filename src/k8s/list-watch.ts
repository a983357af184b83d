/**
 * The two calls an informer makes, as small injected interfaces (as client-node's own informer
 * takes them): the agent passes the real client's, unit tests pass scripted ones that fail on
 * purpose.
 */

/** What an informer needs of an object: its identity and version. */
export interface ApiObject {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

export interface ListRequest {
  /** Page size (limit); the server may return fewer, and a continue token when there are more. */
  limit: number;
  /** The previous page's continue token; undefined for the first page. */
  continueToken?: string;
  signal: AbortSignal;
}

export interface ListPage<T> {
  items: T[];
  /** The list's resourceVersion: a watch from it misses nothing. */
  resourceVersion: string;
  continueToken?: string;
}

export type WatchEvent<T> =
  | { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: T }
  /** A bookmark: nothing changed up to this version (allowWatchBookmarks). */
  | { type: 'BOOKMARK'; resourceVersion: string };

export interface WatchRequest<T> {
  resourceVersion: string;
  /** Server-side timeout: the server ends the watch cleanly after this (timeoutSeconds). */
  timeoutSeconds: number;
  /** A stream silent this long (not even a bookmark) is presumed dead and fails with a timeout. */
  silenceMs: number;
  signal: AbortSignal;
  /** The server accepted the watch (HTTP 200). */
  onOpen(): void;
  onEvent(event: WatchEvent<T>): void;
}

export interface ListWatch<T> {
  list(request: ListRequest): Promise<ListPage<T>>;
  /**
   * One watch request. Resolves when the server ends the stream; rejects on every failure: an
   * HTTP error, an ERROR event (410 Gone among them, as ApiStatusError), a network error, silence.
   * Settles only once the connection is closed, so a caller never has two open at once.
   */
  watch(request: WatchRequest<T>): Promise<void>;
}
