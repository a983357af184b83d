/** eventBody (src/k8s/event-recorder.ts) is pure: the Event seaway posts, built without an API server. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventBody } from '../../src/k8s/event-recorder.ts';

const ENDPOINT = { apiVersion: 'submariner.io/v1', kind: 'Endpoint', name: 'cluster2-cable', namespace: 'submariner-operator', uid: 'u-1', resourceVersion: '7' };

test('builds a Warning Event about the object, named <object>.<suffix>, with a bounded message', () => {
  const now = new Date('2030-01-01T00:00:00Z');
  const body = eventBody(ENDPOINT, 'EndpointRejected', 'x'.repeat(2000), { component: 'seaway', host: 'node-1' }, now, 'abc');
  assert.equal(body.metadata?.name, 'cluster2-cable.abc');
  assert.equal(body.metadata?.namespace, 'submariner-operator');
  assert.deepEqual(body.involvedObject, ENDPOINT);
  assert.equal(body.type, 'Warning');
  assert.equal(body.reason, 'EndpointRejected');
  assert.equal(body.reportingComponent, 'seaway');
  assert.equal(body.reportingInstance, 'node-1');
  assert.deepEqual(body.source, { component: 'seaway', host: 'node-1' });
  // The API server rejects messages over 1 KiB: cut to 1024 characters, marked as cut.
  assert.equal(body.message?.length, 1024);
  assert.ok(body.message?.endsWith('...'));
  assert.equal(body.firstTimestamp, now);
  assert.equal(body.lastTimestamp, now);
  assert.equal(body.count, 1);
  assert.equal(eventBody(ENDPOINT, 'EndpointRejected', 'short', { component: 'seaway', host: 'node-1' }, now, 'abc').message, 'short', 'a short message is kept as is');
});
