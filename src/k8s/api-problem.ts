/**
 * What went wrong with one API request, in the terms an informer decides on: relist (410 Gone),
 * wait at least what the server asked (429 Retry-After), or back off; and one stable `cause` per
 * kind of failure, so a failure that repeats on every retry is said once (pure).
 */

/** A non-2xx answer (or a watch ERROR event) from the API server. */
export class ApiStatusError extends Error {
  readonly statusCode: number;
  readonly reason: string;
  /** From the Retry-After header or the Status's details.retryAfterSeconds. */
  readonly retryAfterMs: number | undefined;

  constructor(statusCode: number, reason: string, message: string, retryAfterMs?: number) {
    super(message);
    this.name = 'ApiStatusError';
    this.statusCode = statusCode;
    this.reason = reason;
    this.retryAfterMs = retryAfterMs;
  }
}

/** No answer in time: the connection, the response headers, a list page, or a watch gone silent. */
export class ApiTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ApiTimeoutError';
  }
}

export type ProblemCategory = 'gone' | 'status' | 'unreachable' | 'timeout' | 'unexpected';

export interface ApiProblem {
  category: ProblemCategory;
  /** Stable across retries of the same failure: "HTTP 500 InternalError", "unreachable", "timeout", "unexpected". */
  cause: string;
  /** The error's own words, for the log line. */
  detail: string;
  statusCode?: number;
  retryAfterMs?: number;
}

/** The longest Retry-After honoured: a server asking for more is retried after this. */
export const MAX_RETRY_AFTER_MS = 10 * 60_000;

/** Socket-level failures: the server (or the path to it) refused, reset or is not there. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN',
  'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'ERR_STREAM_PREMATURE_CLOSE',
]);
const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** Retry-After is seconds or an HTTP date; anything else is ignored. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Math.min(Number(text) * 1000, MAX_RETRY_AFTER_MS);
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.min(Math.max(0, date - now), MAX_RETRY_AFTER_MS);
}

function errorCode(error: unknown): string | undefined {
  // undici wraps socket errors: TypeError('fetch failed') with the system error as its cause.
  for (let current = error, depth = 0; current !== null && typeof current === 'object' && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function messageOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error && cause.message !== error.message ? `${error.message}: ${cause.message}` : error.message;
}

/** The fields of a Kubernetes Status body that decide a retry. */
export interface StatusBody {
  code?: unknown;
  reason?: unknown;
  message?: unknown;
  details?: { retryAfterSeconds?: unknown };
}

/**
 * An HTTP error as ApiStatusError: the Retry-After header wins over the Status's
 * details.retryAfterSeconds, and both are capped at MAX_RETRY_AFTER_MS so that a hostile or
 * broken server cannot park the agent.
 */
export function statusError(code: number, status: StatusBody, retryAfterHeader: string | undefined, now: number): ApiStatusError {
  const fromDetails = typeof status.details?.retryAfterSeconds === 'number' ? Math.min(status.details.retryAfterSeconds * 1000, MAX_RETRY_AFTER_MS) : undefined;
  return new ApiStatusError(
    code,
    typeof status.reason === 'string' ? status.reason : '',
    typeof status.message === 'string' ? status.message : `HTTP ${code}`,
    parseRetryAfter(retryAfterHeader, now) ?? fromDetails,
  );
}

/** A non-2xx answer as ApiStatusError: its body read as a Status when it is one (the code alone tells otherwise), and its Retry-After header. */
export function statusErrorFromAnswer(code: number, body: string, retryAfterHeader: string | string[] | undefined, now: number): ApiStatusError {
  let status: StatusBody = {};
  try { status = (JSON.parse(body) as StatusBody | null) ?? {}; } catch { /* not a Status (or cut short) */ }
  return statusError(code, status, Array.isArray(retryAfterHeader) ? retryAfterHeader[0] : retryAfterHeader, now);
}

/** client-node's ApiException: the HTTP code, the response headers and the Status body (a string or parsed). */
function clientStatus(error: unknown, now: number): ApiStatusError | undefined {
  if (error === null || typeof error !== 'object') return undefined;
  const { code, headers, body } = error as { code?: unknown; headers?: unknown; body?: unknown };
  if (typeof code !== 'number' || code < 300 || code > 599 || headers === null || typeof headers !== 'object') return undefined;
  let status: StatusBody = {};
  try {
    status = (typeof body === 'string' ? JSON.parse(body) : body) ?? {};
  } catch { /* not a Status: the code alone tells */ }
  return statusError(code, status, (headers as Record<string, string | undefined>)['retry-after'], now);
}

export function classifyApiError(error: unknown, now: number): ApiProblem {
  const status = error instanceof ApiStatusError ? error : clientStatus(error, now);
  if (status) {
    const cause = `HTTP ${status.statusCode}${status.reason ? ` ${status.reason}` : ''}`;
    const problem: ApiProblem = {
      category: status.statusCode === 410 ? 'gone' : 'status', cause, detail: status.message, statusCode: status.statusCode,
    };
    if (status.retryAfterMs !== undefined) problem.retryAfterMs = status.retryAfterMs;
    return problem;
  }
  const detail = messageOf(error);
  if (error instanceof ApiTimeoutError) return { category: 'timeout', cause: 'timeout', detail };
  const name = error instanceof Error ? error.name : '';
  const code = errorCode(error);
  if (name === 'TimeoutError' || (code !== undefined && TIMEOUT_CODES.has(code))) return { category: 'timeout', cause: 'timeout', detail };
  if ((code !== undefined && UNREACHABLE_CODES.has(code)) || /socket hang up/i.test(detail)) {
    return { category: 'unreachable', cause: 'unreachable', detail: code && !detail.includes(code) ? `${detail} (${code})` : detail };
  }
  return { category: 'unexpected', cause: 'unexpected', detail };
}
