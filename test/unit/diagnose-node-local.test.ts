import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diagnoseCni, httpFinding, noGatewayFinding } from '../../src/plan/diagnose-node-local.ts';

const LINKS = [{ index: 1, name: 'lo', up: true, mtu: 65536 }, { index: 2, name: 'eth0', up: true, mtu: 1500 }, { index: 3, name: 'cni0', up: true, mtu: 1450 }];
const ADDRS = [{ ifindex: 1, address: '127.0.0.1', prefixLength: 8 }, { ifindex: 2, address: '192.168.1.12', prefixLength: 24 }, { ifindex: 3, address: '10.1.2.1', prefixLength: 24 }];

test('the CNI interface: the one with an address in a pod CIDR, or the one configured', () => {
  const found = diagnoseCni('n', ['10.1.0.0/16'], null, LINKS, ADDRS);
  assert.deepEqual([found.finding.severity, found.address, found.device, found.finding.found], ['ok', '10.1.2.1', 'cni0', 'cni0 holds 10.1.2.1/24']);
  assert.equal(diagnoseCni('n', ['10.1.0.0/16'], 'cni0', LINKS, ADDRS).finding.severity, 'ok');
});

test('no CNI interface, a named one missing or without a pod address, or down: errors saying what to check', () => {
  const none = diagnoseCni('n', ['10.9.0.0/16'], null, LINKS, ADDRS);
  assert.equal(none.finding.severity, 'error');
  assert.match(none.finding.found, /no interface holds an IPv4 address in the pod CIDRs 10\.9\.0\.0\/16/);
  assert.equal(none.address, null);
  assert.match(diagnoseCni('n', ['10.1.0.0/16'], 'tunl0', LINKS, ADDRS).finding.found, /no interface named tunl0/);
  assert.match(diagnoseCni('n', ['10.1.0.0/16'], 'eth0', LINKS, ADDRS).finding.found, /eth0 holds no IPv4 address in the pod CIDRs/);
  const down = diagnoseCni('n', ['10.1.0.0/16'], null, LINKS.map((l) => (l.name === 'cni0' ? { ...l, up: false } : l)), ADDRS);
  assert.match(down.finding.found, /cni0 holds 10\.1\.2\.1\/24 but is down/);
  assert.equal(diagnoseCni('n', ['garbage'], null, LINKS, ADDRS).finding.severity, 'error', 'a pod CIDR that does not parse matches nothing');
});

test('HTTP: both 200 is ok; refused, timed out, stalled and not ready are errors; /readyz reasons are reported', () => {
  const ok = { status: 200, body: 'ok\n', rttMs: 2 };
  assert.equal(httpFinding('n', 'route agent', 'http://h:9082', ok, ok).severity, 'ok');
  const refused = httpFinding('n', 'gateway', 'http://h:9083', { error: 'connect ECONNREFUSED', code: 'ECONNREFUSED' }, ok);
  assert.match(refused.found, /nothing listens at http:\/\/h:9083 \(connection refused\)/);
  assert.equal(refused.id, 'http-gateway');
  assert.match(httpFinding('n', 'route agent', 'u', { error: 'no answer within 3000 ms', code: 'ETIMEDOUT' }, ok).found, /a host firewall dropping the TCP port/);
  assert.match(httpFinding('n', 'route agent', 'u', { status: 503, body: 'stalled: reconcile\n', rttMs: 1 }, ok).found, /\/healthz answered 503: stalled: reconcile/);
  const notReady = httpFinding('n', 'route agent', 'u', ok, { status: 503, body: 'not ready\nwait-cni: waiting for the CNI interface\napi: HTTP 403\n', rttMs: 1 });
  assert.equal(notReady.severity, 'error');
  assert.equal(notReady.found, '/healthz 200, /readyz 503: wait-cni: waiting for the CNI interface; api: HTTP 403');
  assert.match(httpFinding('n', 'route agent', 'u', ok, { error: 'reset', code: 'ECONNRESET' }).found, /\/readyz: u: reset/);
  assert.equal(noGatewayFinding('n', 'submariner.io/gateway=true').severity, 'ok');
});
