import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gatewayStatusDocument } from '../../src/gateway/gateway-status-document.ts';
import { formatStatus } from '../../src/server/status.ts';

const base = {
  node: 'gw1', ready: true, reasons: [], now: Date.parse('2026-11-30T04:00:00Z'),
  decision: { state: 'active' as const, reason: 'holds the Lease', lease: 'renew' as const, cables: 'run' as const, fencingToken: 3 },
  liveness: [], cables: [], since: new Map<string, number>(),
};

test('the election and every remote cluster\'s liveness are conditions; stale says it is still routed', () => {
  const doc = gatewayStatusDocument({
    ...base,
    liveness: [
      { clusterId: 'east', state: 'stale', refreshedAt: 0, ageMs: 125_400, objects: 2 },
      { clusterId: 'north', state: 'fresh', refreshedAt: 0, ageMs: 3000, objects: 2 },
      { clusterId: 'sub', state: 'unknown', refreshedAt: null, ageMs: null, objects: 1 },
    ],
  });
  assert.deepEqual(doc.conditions, [
    'gateway active: holds the Lease',
    'remote cluster east: STALE (last refresh 125 s ago): its gateway no longer refreshes its broker copies; still routed',
    'remote cluster north: fresh (last refresh 3 s ago)',
    'remote cluster sub: liveness unknown (it never stamps its broker copies: a Submariner gateway)',
  ]);
  assert.match(formatStatus(doc), /remote cluster east: STALE/);
});

test('cables become objects: connected is programmed, connecting in progress with the daemon\'s words, error failed', () => {
  const since = new Map([['c-east', Date.parse('2026-11-30T03:59:00Z')]]);
  const doc = gatewayStatusDocument({
    ...base, since,
    cables: [
      { cableName: 'c-east', state: 'connected', message: '', rxBytes: 1, txBytes: 1 },
      { cableName: 'c-north', state: 'connecting', message: 'IKE_SA not established', rxBytes: 0, txBytes: 0 },
      { cableName: 'c-west', state: 'error', message: '', lastError: 'AUTHENTICATION_FAILED', rxBytes: 0, txBytes: 0 },
    ],
  });
  assert.deepEqual(doc.objects.map((o) => [o.key, o.state, o.reason, o.since]), [
    ['c-east', 'programmed', undefined, '2026-11-30T03:59:00.000Z'],
    ['c-north', 'in-progress', 'IKE_SA not established', '2026-11-30T04:00:00.000Z'],
    ['c-west', 'failed', 'AUTHENTICATION_FAILED', '2026-11-30T04:00:00.000Z'],
  ]);
});

test('before the first election round, and when not ready, it says so', () => {
  const doc = gatewayStatusDocument({ ...base, decision: undefined, ready: false, reasons: ['gateway-config: not a gateway candidate: IPsec PSK: too short'] });
  assert.equal(doc.ready, false);
  assert.deepEqual(doc.conditions, ['gateway-config: not a gateway candidate: IPsec PSK: too short', 'gateway starting: no election round yet']);
});
