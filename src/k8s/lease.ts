/**
 * The coordination.k8s.io/v1 Lease the gateway election uses, read and written through
 * @kubernetes/client-node: observes a Lease and writes exactly what it is told (acquire, renew,
 * release), with optimistic concurrency on the resourceVersion and the uid as a precondition. The
 * decisions (when to acquire, renew, release) are model/gateway-ha.ts's; this only does the I/O.
 *
 * The Lease is written as client-go's leaderelection LeaseLock writes it, so that seaway's and
 * Submariner's Leases read alike: holderIdentity, leaseDurationSeconds, acquireTime and renewTime
 * (MicroTime: RFC 3339 with exactly six fractional digits, which is what a real API server's decoder
 * accepts), and leaseTransitions, incremented when the holder changes. Releasing writes what
 * client-go's ReleaseOnCancel writes: holderIdentity "", leaseDurationSeconds 1, both times now, the
 * transitions kept.
 *
 * Every update carries the expected record's resourceVersion (409 if the Lease moved on) and uid:
 * a real API server takes a uid in an update body as a precondition (409 if the Lease was deleted,
 * or deleted and created again), where without it a PUT to a deleted Lease would quietly create it
 * again (Leases allow create-on-update).
 *
 * Write functions never throw: every outcome is a LeaseWriteResult. observe() returns null for an
 * absent Lease and throws LeaseReadError when it cannot tell.
 */
import { CoordinationV1Api, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { isRecord } from '../model/compare.ts';
import { classifyApiError } from './api-problem.ts';
import { callOptions, withDeadline } from './request-options.ts';
import { errorText } from '../model/error-text.ts';

/** A Lease as read: what the election decides on, and the version to write against. */
export interface LeaseRecord {
  /** holderIdentity as stored: null when absent, '' after a release (both mean free). */
  holder: string | null;
  /** leaseDurationSeconds; 0 when absent or malformed (a lease that is always expired, as client-go reads it). */
  durationSeconds: number;
  /** acquireTime, unix ms (microseconds truncated); null when absent or malformed. */
  acquireTimeMs: number | null;
  /** renewTime, unix ms (microseconds truncated); null when absent or malformed. */
  renewTimeMs: number | null;
  /** leaseTransitions; 0 when absent or malformed. */
  transitions: number;
  resourceVersion: string;
  uid: string;
}

/**
 * Why a write did not go through:
 * - `conflict`: the Lease is not at the expected version (409: it moved on, was deleted, or was
 *   created by someone else first), or the expected record is not ours to renew or release (no request made);
 * - `not-found`: 404 (the namespace or the resource is missing);
 * - `forbidden`: 403 (RBAC) or 401 (credentials refused);
 * - `unavailable`: no answer in time, the server unreachable, 429 or 5xx (transient: try again);
 * - `rejected`: any other refusal (400, 422 ...), or arguments that cannot be written (no request made).
 */
export type LeaseFailureReason = 'conflict' | 'not-found' | 'forbidden' | 'unavailable' | 'rejected';

export type LeaseWriteResult =
  | { ok: true; record: LeaseRecord }
  | { ok: false; reason: LeaseFailureReason; message: string };

/** observe() could not tell whether the Lease exists or who holds it. */
export class LeaseReadError extends Error {
  readonly reason: Exclude<LeaseFailureReason, 'conflict' | 'not-found'>;
  /** The HTTP status, when the server answered. */
  readonly statusCode: number | undefined;

  constructor(reason: LeaseReadError['reason'], message: string, statusCode: number | undefined, cause: unknown) {
    super(message, { cause });
    this.name = 'LeaseReadError';
    this.reason = reason;
    this.statusCode = statusCode;
  }
}

export interface LeaseClient {
  /** The Lease, or null when it does not exist; throws LeaseReadError when that cannot be told (unreachable, timeout, 403, 5xx ...). */
  observe(name: string): Promise<LeaseRecord | null>;
  /**
   * Takes the Lease for `identity`: created when `expected` is null (transitions 0), else updated on
   * `expected.resourceVersion`; acquireTime and renewTime now. Transitions +1 when the holder changes
   * (a released Lease taken again included, as client-go counts); when `expected` already names
   * `identity`, its acquireTime and transitions are kept (a renewal with a new duration).
   * `transitionsFloor`: transitions are at least this (a Lease deleted and created again must not
   * restart the count a fencing token compares against).
   */
  acquire(name: string, identity: string, durationSeconds: number, nowMs: number, expected: LeaseRecord | null, transitionsFloor?: number): Promise<LeaseWriteResult>;
  /** Renews our hold: renewTime now and the configured duration, the rest as in `expected`, on its resourceVersion. `conflict` without a request when `expected` is not held by `identity`. */
  renew(name: string, identity: string, durationSeconds: number, nowMs: number, expected: LeaseRecord): Promise<LeaseWriteResult>;
  /** Gives the Lease up as client-go's ReleaseOnCancel does (holder '', duration 1 s, times now, transitions kept), on `expected`'s resourceVersion. `conflict` without a request when `expected` is not held by `identity`. */
  release(name: string, identity: string, nowMs: number, expected: LeaseRecord): Promise<LeaseWriteResult>;
}

export interface LeaseClientSettings {
  /** Deadline of each request (past it the request is aborted and the call answers `unavailable`). */
  requestTimeoutMs: number;
  /** `seaway/<version>`. */
  userAgent: string;
}

/** The spec fields the election writes. */
interface LeaseSpecFields {
  holder: string;
  durationSeconds: number;
  acquireTimeMs: number;
  renewTimeMs: number;
  transitions: number;
}

/** A Lease body as it goes on the wire (times as MicroTime strings). */
interface LeaseBody {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: {
    name: string;
    namespace: string;
    resourceVersion?: string;
    uid?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: unknown[];
    finalizers?: string[];
  };
  spec: {
    holderIdentity: string;
    leaseDurationSeconds: number;
    acquireTime: string;
    renewTime: string;
    leaseTransitions: number;
    preferredHolder?: string;
    strategy?: string;
  };
}

// ---------------------------------------------------------------------------------------------
// Pure helpers

/** The first instant of year 0000 (Date.UTC would take 0 for 1900) and the first after 9999: what RFC 3339 can write. */
const YEAR_ZERO_MS = -62_167_219_200_000;
const YEAR_10000_MS = 253_402_300_800_000;

function validTimeMs(ms: number): boolean {
  return typeof ms === 'number' && Number.isFinite(ms) && ms >= YEAR_ZERO_MS && ms < YEAR_10000_MS;
}

/**
 * Unix milliseconds (fractions of a millisecond kept to the microsecond) as a Kubernetes MicroTime:
 * RFC 3339 in UTC with exactly six fractional digits and `Z`, e.g. 2024-05-01T10:00:00.123456Z.
 * Throws RangeError for a time a MicroTime cannot carry (not finite, before year 0 or after 9999).
 */
export function microTime(ms: number): string {
  if (!validTimeMs(ms)) throw new RangeError(`not a time a MicroTime can carry: ${ms}`);
  const micros = Math.round(ms * 1000);
  const wholeMs = Math.floor(micros / 1000);
  const iso = new Date(wholeMs).toISOString(); // YYYY-MM-DDTHH:mm:ss.sssZ for years 0..9999
  if (iso.length !== 24) throw new RangeError(`not a time a MicroTime can carry: ${ms}`);
  return `${iso.slice(0, -1)}${String(micros - wholeMs * 1000).padStart(3, '0')}Z`;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

function daysIn(year: number, month: number): number {
  return [31, year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!;
}

/**
 * An RFC 3339 time (any number of fractional digits up to nine, `Z` or an offset) as unix ms,
 * microseconds and below truncated; null for anything else (a date that does not exist, a leap
 * second, another format). Lenient in what it reads: a real server only ever sends six digits and Z.
 */
export function parseMicroTime(text: string): number | null {
  const match = RFC3339.exec(text);
  if (!match) return null;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || second > 59) return null;
  let offsetMinutes = 0;
  if (match[9] !== undefined) {
    const offsetHours = Number(match[10]);
    const offsetMins = Number(match[11]);
    if (offsetHours > 23 || offsetMins > 59) return null;
    offsetMinutes = (match[9] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, Number((match[7] ?? '').padEnd(3, '0').slice(0, 3)));
  return date.getTime() - offsetMinutes * 60_000;
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : 0;
}

function timeOf(value: unknown): number | null {
  if (typeof value === 'string') return parseMicroTime(value);
  if (value instanceof Date) {
    const ms = value.getTime();
    return Number.isFinite(ms) ? ms : null;
  }
  return null;
}

/**
 * A Lease as read (a V1Lease from client-node, or its JSON), leniently: a missing or malformed
 * field reads as null (holder, times) or 0 (duration, transitions) or '' (resourceVersion, uid),
 * never an exception. client-node hands MicroTime fields over as the wire's strings (its
 * V1MicroTime is not in its serializer's type map), which is what this parses; a Date is taken too.
 */
export function leaseRecordFrom(lease: unknown): LeaseRecord {
  const metadata = isRecord(lease) && isRecord(lease.metadata) ? lease.metadata : {};
  const spec = isRecord(lease) && isRecord(lease.spec) ? lease.spec : {};
  return {
    holder: typeof spec.holderIdentity === 'string' ? spec.holderIdentity : null,
    durationSeconds: count(spec.leaseDurationSeconds),
    acquireTimeMs: timeOf(spec.acquireTime),
    renewTimeMs: timeOf(spec.renewTime),
    transitions: count(spec.leaseTransitions),
    resourceVersion: typeof metadata.resourceVersion === 'string' ? metadata.resourceVersion : '',
    uid: typeof metadata.uid === 'string' ? metadata.uid : '',
  };
}

/** What acquire writes (client-go's tryAcquireOrRenew): see LeaseClient.acquire. */
export function acquiredSpec(identity: string, durationSeconds: number, nowMs: number, expected: LeaseRecord | null, transitionsFloor = 0): LeaseSpecFields {
  if (expected === null) return { holder: identity, durationSeconds, acquireTimeMs: nowMs, renewTimeMs: nowMs, transitions: transitionsFloor };
  if (expected.holder === identity) {
    return { holder: identity, durationSeconds, acquireTimeMs: expected.acquireTimeMs ?? nowMs, renewTimeMs: nowMs, transitions: Math.max(expected.transitions, transitionsFloor) };
  }
  return { holder: identity, durationSeconds, acquireTimeMs: nowMs, renewTimeMs: nowMs, transitions: Math.max(expected.transitions + 1, transitionsFloor) };
}

/** What renew writes: renewTime now, the rest as held (a missing acquireTime becomes now). */
export function renewedSpec(identity: string, durationSeconds: number, nowMs: number, expected: LeaseRecord): LeaseSpecFields {
  return { holder: identity, durationSeconds, acquireTimeMs: expected.acquireTimeMs ?? nowMs, renewTimeMs: nowMs, transitions: expected.transitions };
}

/** What release writes (client-go's release()): holder '', duration 1 s, both times now, transitions kept. */
export function releasedSpec(nowMs: number, expected: LeaseRecord): LeaseSpecFields {
  return { holder: '', durationSeconds: 1, acquireTimeMs: nowMs, renewTimeMs: nowMs, transitions: expected.transitions };
}

/**
 * The Lease body to create (no `precondition`) or to update on `precondition` (its resourceVersion
 * and uid: both are preconditions of the update). `previous`, the object last read at that version,
 * lends what this does not own, so an update does not strip it: labels, annotations,
 * ownerReferences, finalizers, and spec.strategy and spec.preferredHolder (client-go keeps those too).
 * Throws RangeError for times a MicroTime cannot carry.
 */
export function leaseBodyFor(name: string, namespace: string, spec: LeaseSpecFields, precondition?: { resourceVersion: string; uid: string }, previous?: unknown): LeaseBody {
  const body: LeaseBody = {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name, namespace },
    spec: {
      holderIdentity: spec.holder,
      leaseDurationSeconds: spec.durationSeconds,
      acquireTime: microTime(spec.acquireTimeMs),
      renewTime: microTime(spec.renewTimeMs),
      leaseTransitions: spec.transitions,
    },
  };
  if (precondition) {
    body.metadata.resourceVersion = precondition.resourceVersion;
    if (precondition.uid !== '') body.metadata.uid = precondition.uid;
  }
  if (precondition && isRecord(previous)) {
    const meta = isRecord(previous.metadata) ? previous.metadata : {};
    if (isRecord(meta.labels)) body.metadata.labels = { ...meta.labels } as Record<string, string>;
    if (isRecord(meta.annotations)) body.metadata.annotations = { ...meta.annotations } as Record<string, string>;
    if (Array.isArray(meta.ownerReferences)) body.metadata.ownerReferences = [...meta.ownerReferences];
    if (Array.isArray(meta.finalizers)) body.metadata.finalizers = [...meta.finalizers] as string[];
    const previousSpec = isRecord(previous.spec) ? previous.spec : {};
    if (typeof previousSpec.strategy === 'string') body.spec.strategy = previousSpec.strategy;
    if (typeof previousSpec.preferredHolder === 'string') body.spec.preferredHolder = previousSpec.preferredHolder;
  }
  return body;
}

/** A failed request as a LeaseFailureReason and a message for the log (the server's own words; never a credential). */
export function leaseFailureOf(error: unknown, nowMs: number): { reason: LeaseFailureReason; message: string; statusCode?: number } {
  const problem = classifyApiError(error, nowMs);
  const message = problem.detail && problem.detail !== problem.cause ? `${problem.cause}: ${problem.detail}` : problem.cause;
  const code = problem.statusCode;
  if (code === undefined) return { reason: 'unavailable', message };
  const reason: LeaseFailureReason = code === 409 ? 'conflict'
    : code === 404 ? 'not-found'
      : code === 401 || code === 403 ? 'forbidden'
        : code === 429 || code >= 500 ? 'unavailable'
          : 'rejected';
  return { reason, message, statusCode: code };
}

/** Why these arguments cannot be written, or null (checked before any request). */
function invalidArguments(name: string, identity: string, nowMs: number, durationSeconds: number | null, expected: LeaseRecord | null): string | null {
  if (typeof name !== 'string' || name === '') return 'a Lease name is required';
  if (typeof identity !== 'string' || identity === '') return 'an identity is required';
  if (!validTimeMs(nowMs)) return `now is not a time a Lease can carry: ${nowMs}`;
  // A real API server refuses leaseDurationSeconds <= 0 (422); it is an int32.
  if (durationSeconds !== null && !(Number.isSafeInteger(durationSeconds) && durationSeconds > 0 && durationSeconds <= 2 ** 31 - 1)) {
    return `leaseDurationSeconds must be a whole number of seconds above 0: ${durationSeconds}`;
  }
  // An update without a resourceVersion would be unconditional (or 422 on a real server): never sent.
  if (expected !== null && (typeof expected.resourceVersion !== 'string' || expected.resourceVersion === '')) {
    return 'the expected Lease has no resourceVersion to write against';
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// The client

/**
 * Leases in `namespace` through client-node's CoordinationV1Api, each request with
 * `settings.requestTimeoutMs` as its deadline and `settings.userAgent`.
 */
export function leaseClient(kubeConfig: KubeConfig, namespace: string, settings: LeaseClientSettings): LeaseClient {
  const api = kubeConfig.makeApiClient(CoordinationV1Api);
  // Nothing cancels a Lease request but its deadline (a release must go out during shutdown too).
  const unbounded = new AbortController().signal;
  /** The object last seen of each Lease: lends labels, annotations and such to an update at the same version. */
  const lastSeen = new Map<string, V1Lease>();

  const remember = (name: string, lease: V1Lease): void => {
    if (isRecord(lease)) lastSeen.set(name, lease);
  };
  const previousAt = (name: string, resourceVersion: string): V1Lease | undefined => {
    const previous = lastSeen.get(name);
    return previous?.metadata?.resourceVersion === resourceVersion ? previous : undefined;
  };

  async function write(name: string, spec: LeaseSpecFields, expected: LeaseRecord | null, what: string): Promise<LeaseWriteResult> {
    let body: LeaseBody;
    try {
      body = expected === null
        ? leaseBodyFor(name, namespace, spec)
        : leaseBodyFor(name, namespace, spec, { resourceVersion: expected.resourceVersion, uid: expected.uid }, previousAt(name, expected.resourceVersion));
    } catch (error) {
      return { ok: false, reason: 'rejected', message: errorText(error) };
    }
    // client-node passes the MicroTime strings through as they are (V1MicroTime is not in its serializer's type map).
    const lease = body as unknown as V1Lease;
    try {
      const written = await withDeadline(settings.requestTimeoutMs, unbounded, (signal) => {
        const options = callOptions({ userAgent: settings.userAgent, signal });
        return expected === null
          ? api.createNamespacedLease({ namespace, body: lease }, options)
          : api.replaceNamespacedLease({ name, namespace, body: lease }, options);
      }, `${what} Lease ${namespace}/${name}`);
      remember(name, written);
      return { ok: true, record: leaseRecordFrom(written) };
    } catch (error) {
      const failure = leaseFailureOf(error, Date.now());
      return { ok: false, reason: failure.reason, message: `${what} Lease ${namespace}/${name}: ${failure.message}` };
    }
  }

  const notOurs = (name: string, identity: string, expected: LeaseRecord, what: string): LeaseWriteResult => ({
    ok: false, reason: 'conflict',
    message: `${what} Lease ${namespace}/${name}: held by ${expected.holder ? JSON.stringify(expected.holder) : 'nobody'} at resourceVersion ${expected.resourceVersion}, not by ${JSON.stringify(identity)}`,
  });

  return {
    async observe(name) {
      try {
        const lease = await withDeadline(settings.requestTimeoutMs, unbounded,
          (signal) => api.readNamespacedLease({ name, namespace }, callOptions({ userAgent: settings.userAgent, signal })),
          `reading Lease ${namespace}/${name}`);
        remember(name, lease);
        return leaseRecordFrom(lease);
      } catch (error) {
        const failure = leaseFailureOf(error, Date.now());
        if (failure.reason === 'not-found') {
          lastSeen.delete(name);
          return null;
        }
        const reason = failure.reason === 'conflict' ? 'rejected' : failure.reason;
        throw new LeaseReadError(reason, `reading Lease ${namespace}/${name}: ${failure.message}`, failure.statusCode, error);
      }
    },

    async acquire(name, identity, durationSeconds, nowMs, expected, transitionsFloor = 0) {
      const invalid = invalidArguments(name, identity, nowMs, durationSeconds, expected);
      if (invalid) return { ok: false, reason: 'rejected', message: `acquiring Lease ${namespace}/${name}: ${invalid}` };
      return write(name, acquiredSpec(identity, durationSeconds, nowMs, expected, transitionsFloor), expected, 'acquiring');
    },

    async renew(name, identity, durationSeconds, nowMs, expected) {
      const invalid = invalidArguments(name, identity, nowMs, durationSeconds, expected);
      if (invalid) return { ok: false, reason: 'rejected', message: `renewing Lease ${namespace}/${name}: ${invalid}` };
      if (expected.holder !== identity) return notOurs(name, identity, expected, 'renewing');
      return write(name, renewedSpec(identity, durationSeconds, nowMs, expected), expected, 'renewing');
    },

    async release(name, identity, nowMs, expected) {
      const invalid = invalidArguments(name, identity, nowMs, null, expected);
      if (invalid) return { ok: false, reason: 'rejected', message: `releasing Lease ${namespace}/${name}: ${invalid}` };
      if (expected.holder !== identity) return notOurs(name, identity, expected, 'releasing');
      return write(name, releasedSpec(nowMs, expected), expected, 'releasing');
    },
  };
}
