import { httpUnix } from '../http-unix.ts';
import type { AdminState } from './admin.ts';
import type { AuditEntry } from './audit.ts';
import type { PauseMode, RequestMatch } from './faults.ts';
import type { WatchInfo } from './watch.ts';

/** One answer, from fetch or from a unix socket. */
interface Answer { ok: boolean; status: number; text(): Promise<string> }

/**
 * A typed client for the API server's fault-injection path (`/admin/...`): at a URL (a plain-HTTP
 * server) or on a lab API server's plain unix socket (the lab's own way in; its TCP port is HTTPS).
 */
export class AdminClient {
  readonly #send: (path: string, init?: { method: string; body: string }) => Promise<Answer>;

  constructor(server: string | { socketPath: string }) {
    if (typeof server === 'string') {
      const baseUrl = server.replace(/\/+$/, '');
      this.#send = (path, init) => fetch(`${baseUrl}${path}`, init ? { ...init, headers: { 'Content-Type': 'application/json' } } : undefined);
    } else {
      this.#send = async (path, init) => {
        const response = await httpUnix(server.socketPath, path, init ? { ...init, headers: { 'Content-Type': 'application/json' } } : {});
        return { ok: response.status >= 200 && response.status < 300, status: response.status, text: async () => response.body };
      };
    }
  }

  /** Ends every open watch stream; returns how many were open. */
  async dropWatches(): Promise<number> {
    return (await this.#post<{ dropped: number }>('drop-watches')).dropped;
  }

  /**
   * The next `count` requests matching `match` (a path substring and/or an HTTP method or Kubernetes verb) fail with
   * `code`; with retryAfterSeconds each answer carries Retry-After.
   */
  async failNext(count: number, code: number, match: RequestMatch & { message?: string; retryAfterSeconds?: number } = {}): Promise<void> {
    await this.#post('fail-next', { count, code, ...match });
  }

  async clearFailures(): Promise<void> {
    await this.#post('clear-failures');
  }

  /** "hold" (default): matching requests wait until resume(); "refuse": they get 503 at once. */
  async pause(mode: PauseMode = 'hold', match: RequestMatch = {}): Promise<void> {
    await this.#post('pause', { mode, ...match });
  }

  /** Every matching request is served this many milliseconds late (an overloaded server); 0 ends it. */
  async slow(ms: number, match: RequestMatch = {}): Promise<void> {
    await this.#post('slow', { ms, ...match });
  }

  /** Ends a pause; returns how many held requests were released. */
  async resume(): Promise<number> {
    return (await this.#post<{ released: number }>('resume')).released;
  }

  /** A bearer token for a service account (`namespace/name`), or with `admin` for an administrator (system:masters). */
  async token(who: { serviceAccount: { namespace: string; name: string } } | { admin: string }): Promise<string> {
    return (await this.#post<{ token: string }>('tokens', who)).token;
  }

  /** Forgets all watch history: watching from any earlier resourceVersion gets 410 Expired. */
  async compact(): Promise<string> {
    return (await this.#post<{ compactedThrough: string }>('compact')).compactedThrough;
  }

  async state(): Promise<AdminState> {
    const response = await this.#send('/admin/state');
    return this.#result<AdminState>(response, 'state');
  }

  /** The audit log from entry `since` on (every API request: peer, User-Agent, verb, path, code), and the next entry's number. */
  async requests(since = 0): Promise<{ next: number; entries: AuditEntry[] }> {
    const response = await this.#send(`/admin/requests?since=${since}`);
    return this.#result(response, 'requests');
  }

  /** Every open watch stream: peer address, User-Agent, path and query, since when. */
  async watches(): Promise<WatchInfo[]> {
    const response = await this.#send('/admin/watches');
    return (await this.#result<{ watches: WatchInfo[] }>(response, 'watches')).watches;
  }

  async #post<T>(action: string, body: unknown = {}): Promise<T> {
    const response = await this.#send(`/admin/${action}`, { method: 'POST', body: JSON.stringify(body) });
    return this.#result<T>(response, action);
  }

  async #result<T>(response: Answer, action: string): Promise<T> {
    const text = await response.text();
    if (!response.ok) throw new Error(`admin ${action} failed with HTTP ${response.status}: ${text}`);
    return JSON.parse(text) as T;
  }
}
