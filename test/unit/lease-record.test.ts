/**
 * The Lease's pure conversions (src/k8s/lease.ts): a V1Lease read leniently into a LeaseRecord,
 * MicroTime written and read, what acquire/renew/release write (as client-go's leaderelection
 * writes it), the body sent, and the failure classes of the API's answers. No API server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiException } from '@kubernetes/client-node';
import {
  acquiredSpec, leaseBodyFor, leaseFailureOf, leaseRecordFrom, microTime, parseMicroTime, releasedSpec, renewedSpec,
  type LeaseRecord,
} from '../../src/k8s/lease.ts';
import { ApiTimeoutError } from '../../src/k8s/api-problem.ts';

const T0 = Date.UTC(2024, 4, 1, 10, 0, 0, 123); // 2024-05-01T10:00:00.123Z

/** A Lease as client-go's LeaseLock leaves it, as JSON (times are the wire's strings, as client-node hands them over). */
function submarinerLease(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: 'submariner-gateway-lock', namespace: 'submariner-operator', resourceVersion: '4711', uid: 'b5f1c7a2-0000-4000-8000-000000000001' },
    spec: {
      holderIdentity: 'gw-node-1-submariner-gateway-abcde',
      leaseDurationSeconds: 15,
      acquireTime: '2024-05-01T09:59:00.000001Z',
      renewTime: '2024-05-01T10:00:00.123456Z',
      leaseTransitions: 3,
      ...overrides,
    },
  };
}

const record = (overrides: Partial<LeaseRecord> = {}): LeaseRecord => ({
  holder: 'a', durationSeconds: 15, acquireTimeMs: T0 - 60_000, renewTimeMs: T0 - 5_000, transitions: 2, resourceVersion: '10', uid: 'uid-1', ...overrides,
});

test('leaseRecordFrom reads a client-go Lease: holder, duration, transitions, times to the ms (microseconds truncated), version and uid', () => {
  assert.deepEqual(leaseRecordFrom(submarinerLease()), {
    holder: 'gw-node-1-submariner-gateway-abcde',
    durationSeconds: 15,
    acquireTimeMs: Date.UTC(2024, 4, 1, 9, 59, 0, 0),
    renewTimeMs: T0,
    transitions: 3,
    resourceVersion: '4711',
    uid: 'b5f1c7a2-0000-4000-8000-000000000001',
  });
});

test('leaseRecordFrom: a released Lease (client-go ReleaseOnCancel) keeps holder "" apart from an absent holder (null)', () => {
  const released = leaseRecordFrom(submarinerLease({ holderIdentity: '', leaseDurationSeconds: 1 }));
  assert.equal(released.holder, '');
  assert.equal(released.durationSeconds, 1);
  const { holderIdentity: _h, ...spec } = submarinerLease().spec as Record<string, unknown>;
  assert.equal(leaseRecordFrom({ ...submarinerLease(), spec }).holder, null);
});

test('leaseRecordFrom is lenient: missing spec, metadata or object reads as nulls, 0 and empty strings', () => {
  const empty: LeaseRecord = { holder: null, durationSeconds: 0, acquireTimeMs: null, renewTimeMs: null, transitions: 0, resourceVersion: '', uid: '' };
  for (const input of [undefined, null, 0, 'lease', [], {}, { spec: null, metadata: null }, { spec: [], metadata: [] }, { spec: 'x', metadata: 7 }]) {
    assert.deepEqual(leaseRecordFrom(input), empty, `input ${JSON.stringify(input)}`);
  }
  // Only the spec missing: the version still reads.
  assert.deepEqual(leaseRecordFrom({ metadata: { resourceVersion: '5', uid: 'u' } }), { ...empty, resourceVersion: '5', uid: 'u' });
});

test('leaseRecordFrom: malformed fields read as null or 0, each on its own', () => {
  const cases: Array<[Record<string, unknown>, Partial<LeaseRecord>]> = [
    [{ holderIdentity: 42 }, { holder: null }],
    [{ holderIdentity: null }, { holder: null }],
    [{ leaseDurationSeconds: '15' }, { durationSeconds: 0 }],
    [{ leaseDurationSeconds: -5 }, { durationSeconds: 0 }],
    [{ leaseDurationSeconds: 1.5 }, { durationSeconds: 0 }],
    [{ leaseDurationSeconds: Number.NaN }, { durationSeconds: 0 }],
    [{ leaseDurationSeconds: null }, { durationSeconds: 0 }],
    [{ leaseTransitions: -1 }, { transitions: 0 }],
    [{ leaseTransitions: '3' }, { transitions: 0 }],
    [{ leaseTransitions: 2 ** 60 }, { transitions: 0 }],
    [{ renewTime: 'yesterday' }, { renewTimeMs: null }],
    [{ renewTime: '' }, { renewTimeMs: null }],
    [{ renewTime: 1714557600123 }, { renewTimeMs: null }],
    [{ renewTime: null }, { renewTimeMs: null }],
    [{ renewTime: '2024-02-30T00:00:00.000000Z' }, { renewTimeMs: null }],
    [{ acquireTime: '2024-05-01 09:59:00Z' }, { acquireTimeMs: null }],
    [{ acquireTime: {} }, { acquireTimeMs: null }],
  ];
  const base = leaseRecordFrom(submarinerLease());
  for (const [override, expected] of cases) {
    assert.deepEqual(leaseRecordFrom(submarinerLease(override)), { ...base, ...expected }, JSON.stringify(override));
  }
  const meta = (metadata: unknown) => leaseRecordFrom({ ...submarinerLease(), metadata });
  assert.equal(meta({ resourceVersion: 4711, uid: 'u' }).resourceVersion, '');
  assert.equal(meta({ resourceVersion: '1', uid: ['u'] }).uid, '');
});

test('leaseRecordFrom takes a Date for a time (client-node typing), and an invalid Date as null', () => {
  assert.equal(leaseRecordFrom(submarinerLease({ renewTime: new Date(T0) })).renewTimeMs, T0);
  assert.equal(leaseRecordFrom(submarinerLease({ renewTime: new Date(Number.NaN) })).renewTimeMs, null);
});

test('microTime writes RFC 3339 UTC with exactly six fractional digits and Z', () => {
  assert.equal(microTime(T0), '2024-05-01T10:00:00.123000Z');
  assert.equal(microTime(0), '1970-01-01T00:00:00.000000Z');
  assert.equal(microTime(T0 + 0.456), '2024-05-01T10:00:00.123456Z', 'sub-millisecond fractions kept to the microsecond');
  assert.equal(microTime(-0.5), '1969-12-31T23:59:59.999500Z');
  assert.equal(microTime(Date.UTC(9999, 11, 31, 23, 59, 59, 999)), '9999-12-31T23:59:59.999000Z');
  assert.equal(microTime(-62_167_219_200_000), '0000-01-01T00:00:00.000000Z');
  // A fixed sequence (an LCG), so a failure names a reproducible value.
  let seed = 12345;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < 200; i++) {
    const ms = Math.floor(next() * 4e12);
    const text = microTime(ms);
    assert.match(text, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
    assert.equal(parseMicroTime(text), ms, text);
  }
});

test('microTime refuses what a MicroTime cannot carry', () => {
  for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 253_402_300_800_000, -62_167_219_200_001]) {
    assert.throws(() => microTime(bad), RangeError, String(bad));
  }
});

test('parseMicroTime reads RFC 3339 (fractions of 0-9 digits, offsets) and nothing else', () => {
  const good: Array<[string, number]> = [
    ['2024-05-01T10:00:00.123456Z', T0],
    ['2024-05-01T10:00:00.123999999Z', T0],
    ['2024-05-01T10:00:00.1Z', T0 - 23],
    ['2024-05-01T10:00:00Z', T0 - 123],
    ['2024-05-01t10:00:00.123z', T0],
    ['2024-05-01T12:30:00.123+02:30', T0],
    ['2024-05-01T05:00:00.123-05:00', T0],
    ['2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)],
    ['2000-02-29T00:00:00Z', Date.UTC(2000, 1, 29)],
    ['0001-01-01T00:00:00Z', -62_135_596_800_000],
  ];
  for (const [text, ms] of good) assert.equal(parseMicroTime(text), ms, text);
  const bad = [
    '', 'now', '2024-05-01', '2024-05-01T10:00:00', '2024-05-01T10:00:00.Z', '2024-05-01T10:00:00.1234567890Z',
    '2024-13-01T00:00:00Z', '2024-00-01T00:00:00Z', '2023-02-29T00:00:00Z', '1900-02-29T00:00:00Z', '2024-04-31T00:00:00Z',
    '2024-05-01T24:00:00Z', '2024-05-01T10:60:00Z', '2024-12-31T23:59:60Z', '2024-05-01T10:00:00+24:00', '2024-05-01T10:00:00+02:60',
    '2024-05-01T10:00:00+0200', ' 2024-05-01T10:00:00Z', '2024-05-01T10:00:00Z ', '+02024-05-01T10:00:00Z', '2024-5-1T10:00:00Z',
  ];
  for (const text of bad) assert.equal(parseMicroTime(text), null, JSON.stringify(text));
});

test('acquiredSpec: a new Lease starts at 0 transitions; a takeover counts one; our own Lease keeps acquireTime and transitions', () => {
  assert.deepEqual(acquiredSpec('me', 15, T0, null), { holder: 'me', durationSeconds: 15, acquireTimeMs: T0, renewTimeMs: T0, transitions: 0 });
  assert.deepEqual(acquiredSpec('me', 15, T0, record({ holder: 'other' })), { holder: 'me', durationSeconds: 15, acquireTimeMs: T0, renewTimeMs: T0, transitions: 3 });
  // Free after a release (holder '') or never held (null): the holder changes, as client-go counts it.
  assert.equal(acquiredSpec('me', 15, T0, record({ holder: '' })).transitions, 3);
  assert.equal(acquiredSpec('me', 15, T0, null, 8).transitions, 8, 'a Lease created again keeps the count from where it was');
  assert.equal(acquiredSpec('me', 15, T0, record({ holder: 'other' }), 9).transitions, 9);
  assert.equal(acquiredSpec('me', 15, T0, record({ holder: 'other' }), 1).transitions, 3, 'the floor never lowers it');
  assert.equal(acquiredSpec('me', 15, T0, record({ holder: null })).transitions, 3);
  assert.deepEqual(acquiredSpec('me', 20, T0, record({ holder: 'me' })), { holder: 'me', durationSeconds: 20, acquireTimeMs: T0 - 60_000, renewTimeMs: T0, transitions: 2 });
  assert.equal(acquiredSpec('me', 15, T0, record({ holder: 'me', acquireTimeMs: null })).acquireTimeMs, T0);
});

test('renewedSpec moves renewTime only; releasedSpec is client-go ReleaseOnCancel (holder "", 1 s, times now, transitions kept)', () => {
  assert.deepEqual(renewedSpec('a', 15, T0, record()), { holder: 'a', durationSeconds: 15, acquireTimeMs: T0 - 60_000, renewTimeMs: T0, transitions: 2 });
  assert.equal(renewedSpec('a', 15, T0, record({ acquireTimeMs: null })).acquireTimeMs, T0);
  assert.deepEqual(releasedSpec(T0, record()), { holder: '', durationSeconds: 1, acquireTimeMs: T0, renewTimeMs: T0, transitions: 2 });
});

test('leaseBodyFor: a create carries no version; an update carries resourceVersion and uid (preconditions) and MicroTime strings', () => {
  const spec = { holder: 'me', durationSeconds: 15, acquireTimeMs: T0, renewTimeMs: T0 + 1000, transitions: 0 };
  assert.deepEqual(leaseBodyFor('seaway-gateway-lock', 'submariner-operator', spec), {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: 'seaway-gateway-lock', namespace: 'submariner-operator' },
    spec: { holderIdentity: 'me', leaseDurationSeconds: 15, acquireTime: '2024-05-01T10:00:00.123000Z', renewTime: '2024-05-01T10:00:01.123000Z', leaseTransitions: 0 },
  });
  const update = leaseBodyFor('l', 'ns', spec, { resourceVersion: '42', uid: 'uid-1' });
  assert.deepEqual(update.metadata, { name: 'l', namespace: 'ns', resourceVersion: '42', uid: 'uid-1' });
  assert.deepEqual(leaseBodyFor('l', 'ns', spec, { resourceVersion: '42', uid: '' }).metadata, { name: 'l', namespace: 'ns', resourceVersion: '42' }, 'no uid known: none sent');
  // A released Lease sends holderIdentity "" explicitly (as client-go's pointer to "").
  const released = leaseBodyFor('l', 'ns', releasedSpec(T0, record()), { resourceVersion: '42', uid: 'u' });
  assert.equal(JSON.parse(JSON.stringify(released)).spec.holderIdentity, '');
});

test('leaseBodyFor keeps what the previous object had beyond the election fields (labels, annotations, owners, finalizers, strategy), never the server\'s own fields (managedFields, creationTimestamp, generation)', () => {
  const previous = {
    metadata: {
      name: 'l', namespace: 'ns', resourceVersion: '42', uid: 'u', labels: { team: 'net' }, annotations: { note: 'x' },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'n', uid: 'nu' }], finalizers: ['keep'],
      managedFields: [{ manager: 'someone' }], creationTimestamp: '2024-01-01T00:00:00Z', generation: 3,
    },
    spec: { holderIdentity: 'old', strategy: 'OldestEmulationVersion', preferredHolder: 'p', leaseTransitions: 9 },
  };
  const body = leaseBodyFor('l', 'ns', { holder: 'me', durationSeconds: 15, acquireTimeMs: T0, renewTimeMs: T0, transitions: 10 }, { resourceVersion: '42', uid: 'u' }, previous);
  assert.deepEqual(body.metadata, {
    name: 'l', namespace: 'ns', resourceVersion: '42', uid: 'u', labels: { team: 'net' }, annotations: { note: 'x' },
    ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'n', uid: 'nu' }], finalizers: ['keep'],
  });
  assert.equal(body.spec.holderIdentity, 'me');
  assert.equal(body.spec.leaseTransitions, 10);
  assert.equal(body.spec.strategy, 'OldestEmulationVersion');
  assert.equal(body.spec.preferredHolder, 'p');
  // A create takes nothing from a previous object; malformed previous parts are ignored.
  assert.deepEqual(leaseBodyFor('l', 'ns', acquiredSpec('me', 15, T0, null), undefined, previous).metadata, { name: 'l', namespace: 'ns' });
  assert.deepEqual(leaseBodyFor('l', 'ns', acquiredSpec('me', 15, T0, null), { resourceVersion: '1', uid: 'u' }, { metadata: { labels: 'x', finalizers: {} }, spec: [] }).metadata,
    { name: 'l', namespace: 'ns', resourceVersion: '1', uid: 'u' });
});

test('leaseBodyFor refuses times a MicroTime cannot carry', () => {
  assert.throws(() => leaseBodyFor('l', 'ns', { holder: 'me', durationSeconds: 15, acquireTimeMs: Number.NaN, renewTimeMs: T0, transitions: 0 }), RangeError);
});

/** client-node's error for an HTTP answer: code, headers and the Status body. */
function apiException(code: number, reason: string, message: string, headers: Record<string, string> = {}): ApiException<string> {
  return new ApiException(code, `HTTP ${code}`, JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, message, code }), headers);
}

test('leaseFailureOf: 409 conflict, 404 not-found, 401/403 forbidden, 429/5xx unavailable, other codes rejected; the server\'s words kept', () => {
  const cases: Array<[number, string, string]> = [
    [409, 'Conflict', 'conflict'], [409, 'AlreadyExists', 'conflict'], [404, 'NotFound', 'not-found'],
    [403, 'Forbidden', 'forbidden'], [401, 'Unauthorized', 'forbidden'], [429, 'TooManyRequests', 'unavailable'],
    [500, 'InternalError', 'unavailable'], [503, 'ServiceUnavailable', 'unavailable'], [504, 'Timeout', 'unavailable'],
    [400, 'BadRequest', 'rejected'], [422, 'Invalid', 'rejected'], [405, 'MethodNotAllowed', 'rejected'], [410, 'Gone', 'rejected'],
  ];
  for (const [code, reason, expected] of cases) {
    const failure = leaseFailureOf(apiException(code, reason, `the words of ${code}`), 0);
    assert.equal(failure.reason, expected, `${code}`);
    assert.equal(failure.statusCode, code);
    assert.equal(failure.message, `HTTP ${code} ${reason}: the words of ${code}`);
  }
  // A 401 body is not kept by client-node: the code alone decides.
  assert.equal(leaseFailureOf(new ApiException(401, 'Unauthorized', '', {}), 0).reason, 'forbidden');
});

test('leaseFailureOf: deadlines, refused or reset connections and anything unexpected are unavailable', () => {
  const refused = Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }) });
  const cases: unknown[] = [
    new ApiTimeoutError('no answer to reading Lease within 100 ms'),
    refused,
    Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
    new TypeError('fetch failed'),
    'a string',
  ];
  for (const error of cases) {
    const failure = leaseFailureOf(error, 0);
    assert.equal(failure.reason, 'unavailable', String(error));
    assert.equal(failure.statusCode, undefined);
  }
  assert.match(leaseFailureOf(refused, 0).message, /^unreachable: .*ECONNREFUSED/);
  assert.match(leaseFailureOf(cases[0], 0).message, /^timeout: no answer/);
});
