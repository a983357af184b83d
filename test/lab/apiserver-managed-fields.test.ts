/**
 * Field ownership and server-side apply, as pure functions (managed-fields.ts): who owns what after
 * creates, updates and applies; conflicts and forcing; fields an applier drops; status kept apart.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { managedFieldsOf, recordUpdate, sameOwnership, serverSideApply, type ManagedFieldsEntry, type Writer } from './apiserver/managed-fields.ts';
import { ApiError } from './apiserver/status.ts';
import type { Json } from './apiserver/patch.ts';

const writer = (manager: string, extra: Partial<Writer> = {}): Writer =>
  ({ manager, apiVersion: 'submariner.io/v1', time: '2026-11-30T00:00:00Z', subresource: undefined, statusSubresource: false, ...extra });

const endpoint = (spec: Record<string, Json>, labels?: Record<string, string>): Json => ({
  apiVersion: 'submariner.io/v1', kind: 'Endpoint',
  metadata: { name: 'e', namespace: 'ns', uid: 'u', resourceVersion: '5', ...(labels ? { labels } : {}) },
  spec,
});

const owned = (entries: ManagedFieldsEntry[], manager: string) => entries.find((e) => e.manager === manager);

test('a create owns every field it set, not apiVersion, kind or server-set metadata', () => {
  const entries = recordUpdate([], undefined, endpoint({ hostname: 'gw', subnets: ['10.0.0.0/16'] }, { a: '1' }), writer('creator'));
  assert.equal(entries.length, 1);
  assert.deepEqual(entries[0], {
    manager: 'creator', operation: 'Update', apiVersion: 'submariner.io/v1', time: '2026-11-30T00:00:00Z', fieldsType: 'FieldsV1',
    fieldsV1: { 'f:metadata': { 'f:labels': { 'f:a': {} } }, 'f:spec': { 'f:hostname': {}, 'f:subnets': {} } },
  });
});

test('an update takes the fields it changes from their owner; unchanged fields keep theirs; removed fields are owned by nobody', () => {
  const before = endpoint({ hostname: 'gw', subnets: ['10.0.0.0/16'], cable_name: 'c' });
  const created = recordUpdate([], undefined, before, writer('creator'));
  const after = endpoint({ hostname: 'gw2', subnets: ['10.0.0.0/16'] });
  const entries = recordUpdate(created, before, after, writer('editor'));
  assert.deepEqual(owned(entries, 'creator')?.fieldsV1, { 'f:spec': { 'f:subnets': {} } });
  assert.deepEqual(owned(entries, 'editor')?.fieldsV1, { 'f:spec': { 'f:hostname': {} } });
});

test('an update that changes nothing adds no entry and keeps ownership the same', () => {
  const object = endpoint({ hostname: 'gw' });
  const created = recordUpdate([], undefined, object, writer('creator'));
  const again = recordUpdate(created, object, object, writer('someone-else', { time: '2026-12-01T00:00:00Z' }));
  assert.ok(sameOwnership(again, created));
  assert.equal(again.length, 1);
});

test('a list is owned whole: changing one item takes the whole list', () => {
  const before = endpoint({ subnets: ['10.0.0.0/16', '10.1.0.0/16'] });
  const after = endpoint({ subnets: ['10.0.0.0/16', '10.2.0.0/16'] });
  const entries = recordUpdate(recordUpdate([], undefined, before, writer('a')), before, after, writer('b'));
  assert.equal(owned(entries, 'a'), undefined, 'a owned only the list, now b');
  assert.deepEqual(owned(entries, 'b')?.fieldsV1, { 'f:spec': { 'f:subnets': {} } });
});

test('apply creates: the applier owns what it applied under operation Apply', () => {
  const { object, managedFields } = serverSideApply(undefined, [], endpoint({ hostname: 'gw' }, { a: '1' }), writer('kubectl'), false);
  assert.equal((object as { spec: { hostname: string } }).spec.hostname, 'gw');
  assert.deepEqual(managedFields.map((e) => [e.manager, e.operation]), [['kubectl', 'Apply']]);
  assert.deepEqual(managedFields[0]?.fieldsV1, { 'f:metadata': { 'f:labels': { 'f:a': {} } }, 'f:spec': { 'f:hostname': {} } });
});

test('apply that changes a field another manager owns is a 409 naming the manager and the field; the same value is shared', () => {
  const current = endpoint({ hostname: 'gw', cable_name: 'c' });
  const entries = recordUpdate([], undefined, current, writer('creator'));
  assert.throws(() => serverSideApply(current, entries, endpoint({ hostname: 'other', cable_name: 'c' }), writer('kubectl'), false), (e: unknown) => {
    assert.ok(e instanceof ApiError);
    assert.equal(e.code, 409);
    assert.equal(e.reason, 'Conflict');
    assert.equal(e.message, 'Apply failed with 1 conflict: conflict with "creator" using submariner.io/v1: .spec.hostname');
    assert.deepEqual(e.details?.causes, [{ reason: 'FieldManagerConflict', message: 'conflict with "creator" using submariner.io/v1', field: '.spec.hostname' }]);
    return true;
  });

  const shared = serverSideApply(current, entries, endpoint({ cable_name: 'c' }), writer('kubectl'), false);
  assert.deepEqual(owned(shared.managedFields, 'creator')?.fieldsV1, { 'f:spec': { 'f:cable_name': {}, 'f:hostname': {} } });
  assert.deepEqual(owned(shared.managedFields, 'kubectl')?.fieldsV1, { 'f:spec': { 'f:cable_name': {} } });
});

test('several conflicts with one manager are listed one per line', () => {
  const current = endpoint({ hostname: 'gw', cable_name: 'c' });
  const entries = recordUpdate([], undefined, current, writer('creator'));
  assert.throws(() => serverSideApply(current, entries, endpoint({ hostname: 'x', cable_name: 'y' }), writer('kubectl'), false),
    { code: 409, message: 'Apply failed with 2 conflicts: conflicts with "creator" using submariner.io/v1:\n- .spec.cable_name\n- .spec.hostname' });
});

test('force takes the conflicting fields and leaves the rest with their owner', () => {
  const current = endpoint({ hostname: 'gw', cable_name: 'c' });
  const entries = recordUpdate([], undefined, current, writer('creator'));
  const { object, managedFields } = serverSideApply(current, entries, endpoint({ hostname: 'x' }), writer('kubectl'), true);
  assert.equal((object as { spec: { hostname: string } }).spec.hostname, 'x');
  assert.deepEqual(owned(managedFields, 'creator')?.fieldsV1, { 'f:spec': { 'f:cable_name': {} } });
  assert.deepEqual(owned(managedFields, 'kubectl')?.fieldsV1, { 'f:spec': { 'f:hostname': {} } });
});

test('a field the applier set before and now leaves out is removed, unless another manager owns it too', () => {
  const first = serverSideApply(undefined, [], endpoint({ hostname: 'gw', cable_name: 'c' }, { a: '1', b: '2' }), writer('kubectl'), false);
  // Another manager sets label b to its current value: co-owned.
  const co = serverSideApply(first.object, first.managedFields, endpoint({}, { b: '2' }), writer('labeller'), false);
  const second = serverSideApply(co.object, co.managedFields, endpoint({ hostname: 'gw' }), writer('kubectl'), false);
  const result = second.object as { metadata: { labels: Record<string, string> }; spec: Record<string, string> };
  assert.deepEqual(result.spec, { hostname: 'gw' }, 'cable_name dropped by its only owner');
  assert.deepEqual(result.metadata.labels, { b: '2' }, 'label a removed; label b stays with its other owner');
  assert.deepEqual(owned(second.managedFields, 'kubectl')?.fieldsV1, { 'f:spec': { 'f:hostname': {} } });
});

test('an apply to the main resource of a kind with a status subresource neither owns nor conflicts on status', () => {
  const statusWriter = writer('status-writer', { subresource: 'status', statusSubresource: true });
  const current = { ...(endpoint({ hostname: 'gw' }) as Record<string, Json>), status: { phase: 'up' } };
  const entries = recordUpdate([], undefined, current, statusWriter);
  assert.deepEqual(entries[0]?.fieldsV1, { 'f:status': { 'f:phase': {} } });
  assert.equal(entries[0]?.subresource, 'status');
  const applied = serverSideApply(current, entries, { ...(endpoint({ hostname: 'gw' }) as Record<string, Json>), status: { phase: 'down' } }, writer('kubectl', { statusSubresource: true }), false);
  assert.deepEqual(owned(applied.managedFields, 'kubectl')?.fieldsV1, { 'f:spec': { 'f:hostname': {} } });
});

test('a nested object applied where another manager owns a scalar conflicts on the overlapping path', () => {
  const current = endpoint({ backend_config: 'flat' });
  const entries = recordUpdate([], undefined, current, writer('creator'));
  assert.throws(() => serverSideApply(current, entries, endpoint({ backend_config: { port: '4500' } }), writer('kubectl'), false),
    { code: 409, message: /\.spec\.backend_config$/ });
});

test('managedFieldsOf reads only well-formed entries', () => {
  const good = recordUpdate([], undefined, endpoint({ hostname: 'gw' }), writer('a'))[0];
  assert.deepEqual(managedFieldsOf({ metadata: { managedFields: 'nope' } }), []);
  assert.deepEqual(managedFieldsOf({ metadata: {} }), []);
  assert.deepEqual(managedFieldsOf({ metadata: { managedFields: [null, 7, { manager: 1 }, { manager: 'x', operation: 'Bogus' }, good] } }), [good]);
});
