import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventReporter } from '../../src/plan/event-reporter.ts';
import type { NodeObject, Snapshot } from '../../src/model/snapshot.ts';

const node = (name: string, ready = true): NodeObject => ({ name, internalIP: '192.168.1.1', addresses: ['192.168.1.1'], podCidr: null, labels: {}, annotations: {}, ready });
const snapshot = (...nodes: NodeObject[]): Snapshot => ({ endpoints: [], clusters: [], nodes });

test('the gateway reports when it is a known node', () => {
  assert.equal(eventReporter(snapshot(node('a'), node('gw')), 'gw'), 'gw');
});

test('without a gateway, the first Ready node by name reports, whatever the order', () => {
  assert.equal(eventReporter(snapshot(node('c'), node('b'), node('a', false)), null), 'b');
  assert.equal(eventReporter(snapshot(node('a', false), node('b'), node('c')), null), 'b');
});

test('a gateway named by the Endpoint but absent from the Nodes does not silence reporting', () => {
  assert.equal(eventReporter(snapshot(node('a'), node('b')), 'gone'), 'a');
});

test('no Ready node and no gateway: nobody reports', () => {
  assert.equal(eventReporter(snapshot(node('a', false)), null), null);
  assert.equal(eventReporter(snapshot(), null), null);
});
