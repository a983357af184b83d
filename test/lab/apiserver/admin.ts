import type { AuditLog } from './audit.ts';
import type { TokenRegistry } from './tokens.ts';
import { isObject } from './patch.ts';
import type { Faults, RequestMatch } from './faults.ts';
import { ApiError, errors } from './status.ts';
import type { Store } from './store.ts';
import type { WatchHub } from './watch.ts';

export interface AdminContext {
  store: Store;
  watches: WatchHub;
  faults: Faults;
  audit: AuditLog;
  /** The bearer tokens of a server that checks access; null when it does not. */
  tokens: TokenRegistry | null;
}

export interface AdminState {
  resourceVersion: string;
  compactedThrough: string;
  openWatches: number;
  paused: 'hold' | 'refuse' | false;
  heldRequests: number;
  pendingFailures: number;
}

function optionalString(body: Record<string, unknown>, field: string): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw errors.badRequest(`${field} must be a string`);
  return value;
}

function matchOf(body: Record<string, unknown>): RequestMatch {
  const match: RequestMatch = {};
  const path = optionalString(body, 'path');
  const verb = optionalString(body, 'verb');
  if (path !== undefined) match.path = path;
  if (verb !== undefined) match.verb = verb;
  return match;
}

/**
 * The fault-injection API (never itself paused or failed):
 *   GET  /admin/state
 *   POST /admin/drop-watches                         -> { dropped }
 *   POST /admin/fail-next { count, code, path?, verb?, message?, retryAfterSeconds? }
 *   POST /admin/clear-failures
 *   POST /admin/pause { mode?: "hold" | "refuse", path?, verb? }
 *   POST /admin/resume                               -> { released }
 *   POST /admin/compact                              -> { compactedThrough }
 *   GET  /admin/requests?since=N                     -> { next, entries } (the audit log from entry N)
 *   GET  /admin/watches                              -> { watches } (every open watch: peer, User-Agent, path)
 */
export function handleAdmin(method: string, path: string, url: URL, body: unknown, ctx: AdminContext): unknown {
  if (path === '/admin/state') {
    if (method !== 'GET') throw errors.methodNotAllowed(method, path);
    const faults = ctx.faults.state();
    const state: AdminState = {
      resourceVersion: String(ctx.store.resourceVersion),
      compactedThrough: String(ctx.store.compactedThrough),
      openWatches: ctx.watches.size,
      paused: faults.paused,
      heldRequests: faults.held,
      pendingFailures: faults.pendingFailures,
    };
    return state;
  }
  if (path === '/admin/requests') {
    if (method !== 'GET') throw errors.methodNotAllowed(method, path);
    const since = url.searchParams.get('since') ?? '0';
    if (!/^\d+$/.test(since)) throw errors.badRequest('since must be a whole number');
    return ctx.audit.since(Number(since));
  }
  if (path === '/admin/watches') {
    if (method !== 'GET') throw errors.methodNotAllowed(method, path);
    return { watches: ctx.watches.list() };
  }
  if (method !== 'POST') throw errors.methodNotAllowed(method, path);
  const args = body ?? {};
  if (!isObject(args)) throw errors.badRequest('the admin request body must be a JSON object');
  switch (path) {
    case '/admin/drop-watches':
      return { dropped: ctx.watches.dropAll() };
    case '/admin/fail-next': {
      const { count, code } = args;
      if (typeof count !== 'number' || !Number.isInteger(count) || count < 1) throw errors.badRequest('count must be a positive integer');
      if (typeof code !== 'number' || !Number.isInteger(code) || code < 400 || code > 599) throw errors.badRequest('code must be an HTTP error code (400-599)');
      const retryAfter = args.retryAfterSeconds;
      if (retryAfter !== undefined && (typeof retryAfter !== 'number' || !Number.isInteger(retryAfter) || retryAfter < 0)) {
        throw errors.badRequest('retryAfterSeconds must be a non-negative integer');
      }
      ctx.faults.failNext(count, code, matchOf(args), optionalString(args, 'message'), retryAfter);
      return { pendingFailures: ctx.faults.state().pendingFailures };
    }
    case '/admin/clear-failures':
      ctx.faults.clearFailures();
      return {};
    case '/admin/pause': {
      const mode = args.mode ?? 'hold';
      if (mode !== 'hold' && mode !== 'refuse') throw errors.badRequest('mode must be "hold" or "refuse"');
      ctx.faults.pause(mode, matchOf(args));
      return { paused: mode };
    }
    case '/admin/slow': {
      const ms = args.ms;
      if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0 || ms > 600_000) throw errors.badRequest('ms must be a whole number of milliseconds, 0 to 600000');
      ctx.faults.slow(ms, matchOf(args));
      return { latencyMs: ms };
    }
    case '/admin/resume':
      return { released: ctx.faults.resume() };
    case '/admin/compact':
      return { compactedThrough: String(ctx.store.compact()) };
    case '/admin/tokens': {
      // A service account's token, as the TokenRequest API hands one to a pod; or an administrator's.
      if (ctx.tokens === null) throw errors.badRequest('this API server checks no access: it has no tokens');
      const account = args.serviceAccount;
      if (isObject(account)) {
        const { namespace, name } = account;
        if (typeof namespace !== 'string' || typeof name !== 'string') throw errors.badRequest('serviceAccount needs a namespace and a name');
        return { token: ctx.tokens.issueServiceAccount(namespace, name) };
      }
      if (typeof args.admin === 'string') return { token: ctx.tokens.issueAdmin(args.admin) };
      throw errors.badRequest('give serviceAccount {namespace, name} or admin (a user name)');
    }
    default:
      throw new ApiError(404, `unknown admin path ${path}`);
  }
}
