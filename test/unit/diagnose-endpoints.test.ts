import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diagnoseEndpoints, readEndpointFacts, type EndpointDiagnosisInput } from '../../src/plan/diagnose-endpoints.ts';
import type { Finding } from '../../src/model/diagnose-finding.ts';

const NOW = 1_800_000_000_000;
const NS = 'submariner-operator';

function endpoint(name: string, spec: Record<string, unknown>, meta: { labels?: Record<string, string>; annotations?: Record<string, string> } = {}): unknown {
  return { metadata: { name, namespace: NS, ...meta }, spec: { backend: 'libreswan', backend_config: { 'udp-port': '4500', 'natt-discovery-port': '4490' }, ...spec } };
}
const refreshed = (secondsAgo: number) => ({ 'seaway.io/refreshed-at': String(Math.round(NOW / 1000) - secondsAgo) });
const local = (name: string, hostname: string, token?: number) => endpoint(name, { cluster_id: 'east', hostname, private_ip: '192.168.1.11', cable_name: `submariner-cable-east-${name}` },
  token === undefined ? {} : { annotations: { 'seaway.io/lease-transitions': String(token) } });
const remote = (name: string, over: Record<string, unknown> = {}, meta: { labels?: Record<string, string>; annotations?: Record<string, string> } = { labels: { 'submariner-io/clusterID': 'west' }, annotations: refreshed(5) }) =>
  endpoint(name, { cluster_id: 'west', hostname: 'west-gw', private_ip: '192.168.2.11', public_ip: '198.18.2.1', healthCheckIP: '10.2.1.1', cable_name: 'submariner-cable-west-192-168-2-11', ...over }, meta);

function input(over: Partial<EndpointDiagnosisInput>): EndpointDiagnosisInput {
  return {
    node: 'east-worker', clusterId: 'east', namespace: NS, local: { ok: true, value: [] }, broker: null, brokerNamespace: 'submariner-k8s-broker',
    nodes: { ok: true, value: ['east-gw', 'east-worker'] }, leaseName: 'seaway-gateway-lock', lease: { ok: true, value: 'east-gw' }, nowMs: NOW, staleAfterMs: 120_000, ...over,
  };
}
const items = (...values: unknown[]) => ({ ok: true as const, value: values });
const errors = (findings: Finding[]) => findings.filter((f) => f.severity === 'error');

test('a healthy view: one local Endpoint by the Lease holder, one fresh copy per remote; the probes get both', () => {
  const result = diagnoseEndpoints(input({ local: items(local('east-gw-ep', 'east-gw', 3), remote('west-ep')) }));
  assert.deepEqual(errors(result.findings), []);
  assert.equal(result.local?.name, 'east-gw-ep');
  assert.deepEqual(result.remotes.map((r) => [r.name, r.publicIp, r.healthCheckIp, r.udpPort, r.discoveryPort]), [['west-ep', '198.18.2.1', '10.2.1.1', 4500, 4490]]);
  assert.ok(result.findings.every((f) => f.node === 'east-worker'));
  assert.match(result.findings.find((f) => f.target === `Endpoint ${NS}/east-gw-ep`)!.found, /published by gateway east-gw \(the Lease holder\)/);
});

test('a second local Endpoint from a gateway that no longer holds the Lease is stale: named, with its kubectl delete', () => {
  const result = diagnoseEndpoints(input({ local: items(local('east-gw-ep', 'east-gw', 3), local('east-old-ep', 'east-old', 1)) }));
  const [stale] = errors(result.findings);
  assert.equal(errors(result.findings).length, 1);
  assert.equal(stale!.target, `Endpoint ${NS}/east-old-ep`);
  assert.match(stale!.found, /does not hold the Lease seaway-gateway-lock \(east-gw does\).*Node east-old does not exist.*Lease transition 1, before east-gw-ep's 3/);
  assert.equal(stale!.fix, `kubectl delete endpoints.submariner.io -n ${NS} east-old-ep`);
  assert.equal(result.local?.name, 'east-gw-ep');
});

test('without the Lease (forbidden) the highest fencing token decides, and the missing permission is a warning naming the grant', () => {
  const result = diagnoseEndpoints(input({
    local: items(local('a', 'east-gw', 7), local('b', 'east-gw2', 2)), nodes: { ok: true, value: ['east-gw', 'east-gw2'] },
    lease: { ok: false, problem: 'HTTP 403 Forbidden: leases is forbidden', forbidden: true },
  }));
  assert.equal(result.local?.name, 'a');
  assert.deepEqual(errors(result.findings).map((f) => f.target), [`Endpoint ${NS}/b`]);
  const warning = result.findings.find((f) => f.id === 'api' && f.severity === 'warning')!;
  assert.match(warning.fix ?? '', /get on leases named seaway-gateway-lock/);
});

test('several local Endpoints and nothing to tell them apart: every one is named, no current one, the fix says how to choose', () => {
  const result = diagnoseEndpoints(input({ local: items(local('a', 'east-gw'), local('b', 'east-gw2')), nodes: { ok: true, value: ['east-gw', 'east-gw2'] }, lease: { ok: false, problem: 'timeout', forbidden: false } }));
  assert.equal(result.local, null);
  assert.equal(errors(result.findings).length, 2);
  assert.match(errors(result.findings)[0]!.fix ?? '', /find the active gateway.*kubectl delete endpoints.submariner.io -n submariner-operator a; kubectl delete .* b/);
});

test('a single local Endpoint whose gateway Node is gone, and one with nobody holding the Lease, are errors', () => {
  const gone = diagnoseEndpoints(input({ local: items(local('x', 'east-gone')), lease: { ok: false, problem: 'forbidden', forbidden: true } }));
  assert.match(errors(gone.findings)[0]!.found, /names gateway Node east-gone, which does not exist/);
  const unheld = diagnoseEndpoints(input({ local: items(local('x', 'east-gw')), lease: { ok: true, value: '' } }));
  assert.match(errors(unheld.findings)[0]!.found, /nobody holds the election Lease seaway-gateway-lock/);
  const none = diagnoseEndpoints(input({ local: items(remote('w')) }));
  assert.match(errors(none.findings)[0]!.found, /no Endpoint of this cluster.*no gateway is active/);
  const holderWithout = diagnoseEndpoints(input({ local: items(local('x', 'east-old')), lease: { ok: true, value: 'east-gw' } }));
  assert.ok(errors(holderWithout.findings).some((f) => /Lease holder east-gw has published no Endpoint/.test(f.found)));
});

test('a second Endpoint for a remote cluster without the broker label (left by a reinstall) is stale beside the broker copy', () => {
  const result = diagnoseEndpoints(input({ local: items(local('e', 'east-gw'), remote('west-current'), remote('west-leftover', { hostname: 'gone' }, {})) }));
  const [stale] = errors(result.findings);
  assert.equal(stale!.target, `Endpoint ${NS}/west-leftover`);
  assert.match(stale!.found, /2 Endpoints for cluster west; this one is stale: it has no submariner-io\/clusterID=west label/);
  assert.equal(stale!.fix, `kubectl delete endpoints.submariner.io -n ${NS} west-leftover`);
  assert.deepEqual(result.remotes.map((r) => r.name), ['west-current']);
});

test('of two stamped copies the fresher is current; one not refreshed within the stale window is an error; the usual unstamped local copy says where liveness is judged', () => {
  const two = diagnoseEndpoints(input({ local: items(local('e', 'east-gw'), remote('w-old', {}, { labels: { 'submariner-io/clusterID': 'west' }, annotations: refreshed(600) }), remote('w-new')) }));
  assert.deepEqual(errors(two.findings).map((f) => f.target), [`Endpoint ${NS}/w-old`]);
  assert.match(errors(two.findings)[0]!.found, /last refreshed 600 s ago, w-new more recently/);

  const stale = diagnoseEndpoints(input({ local: items(local('e', 'east-gw'), remote('w', {}, { labels: { 'submariner-io/clusterID': 'west' }, annotations: refreshed(300) })) }));
  const [error] = errors(stale.findings);
  assert.match(error!.found, /last refreshed 300 s ago \(stale after 120 s\)/);
  assert.match(error!.fix ?? '', /-n submariner-k8s-broker/);

  // The broker sync strips refreshed-at from the copies it imports: here the local copy carries none.
  const imported = diagnoseEndpoints(input({ local: items(local('e', 'east-gw'), remote('w', {}, { labels: { 'submariner-io/clusterID': 'west' } })) }));
  assert.deepEqual(errors(imported.findings), []);
  assert.match(imported.findings.find((f) => f.target.endsWith('/w'))!.found, /its liveness is judged on the broker \(diagnose with the broker's credentials/);
});

test('on the broker each cluster\'s freshest copy tells its liveness: a stale remote, and this cluster\'s own stale copy, are errors; unstamped is a Submariner peer', () => {
  const ownStale = endpoint('e', { cluster_id: 'east', hostname: 'east-gw', private_ip: '192.168.1.11' }, { labels: { 'submariner-io/clusterID': 'east' }, annotations: refreshed(500) });
  const remoteStale = remote('w', {}, { labels: { 'submariner-io/clusterID': 'west' }, annotations: refreshed(300) });
  const submarinerPeer = endpoint('s', { cluster_id: 'south', hostname: 'south-gw', private_ip: '192.168.3.11' }, { labels: { 'submariner-io/clusterID': 'south' } });
  const result = diagnoseEndpoints(input({ local: items(local('e', 'east-gw')), broker: items(ownStale, remoteStale, submarinerPeer) }));
  const brokerErrors = errors(result.findings).filter((f) => f.id === 'broker');
  assert.deepEqual(brokerErrors.map((f) => f.target), ['broker Endpoint submariner-k8s-broker/e', 'broker Endpoint submariner-k8s-broker/w']);
  assert.match(brokerErrors[0]!.found, /last refreshed 500 s ago .*this cluster's active gateway does not sync with the broker/);
  assert.match(brokerErrors[1]!.found, /last refreshed 300 s ago .*its gateway is gone or no longer syncs/);
  assert.match(brokerErrors[1]!.fix ?? '', /kubectl delete endpoints.submariner.io,clusters.submariner.io -n submariner-k8s-broker/);
  const fresh = diagnoseEndpoints(input({ local: items(local('e', 'east-gw')), broker: items(remote('w'), submarinerPeer) }));
  assert.deepEqual(fresh.findings.filter((f) => f.id === 'broker').map((f) => [f.severity, f.found]), [['ok', 'one Endpoint per cluster (2 cluster(s)), none stale']]);
});

test('the broker namespace: several Endpoints for one cluster there are named with the delete on the broker', () => {
  const broker = items(remote('w1'), remote('w2', {}, { labels: { 'submariner-io/clusterID': 'west' }, annotations: refreshed(900) }), local('e', 'east-gw'));
  const result = diagnoseEndpoints(input({ local: items(local('e', 'east-gw'), remote('w1')), broker }));
  const [stale] = errors(result.findings);
  assert.equal(stale!.target, 'broker Endpoint submariner-k8s-broker/w2');
  assert.match(stale!.fix ?? '', /kubectl delete endpoints.submariner.io -n submariner-k8s-broker w2 \(with the broker's credentials\)/);
  const unreachable = diagnoseEndpoints(input({ local: items(local('e', 'east-gw')), broker: { ok: false, problem: 'unreachable: ECONNREFUSED', forbidden: false } }));
  assert.ok(errors(unreachable.findings).some((f) => f.id === 'broker' && /cannot list them: unreachable/.test(f.found)));
});

test('an API that cannot be read is one error finding, and nothing else is judged', () => {
  const result = diagnoseEndpoints(input({ local: { ok: false, problem: 'unreachable: connect ECONNREFUSED', forbidden: false } }));
  assert.deepEqual(result.findings.map((f) => [f.id, f.severity]), [['api', 'error']]);
  assert.equal(result.local, null);
  const forbidden = diagnoseEndpoints(input({ local: { ok: false, problem: 'HTTP 403', forbidden: true } }));
  assert.match(forbidden.findings[0]!.fix ?? '', /grant this node's service account list on endpoints.submariner.io/);
});

test('malformed objects are described, never thrown on: not an object, no name, no spec, no cluster_id, odd field types', () => {
  const weird = [null, 42, 'x', [], { metadata: {} }, { metadata: { name: 'nospec' } }, { metadata: { name: 'noid' }, spec: { hostname: 'h' } },
    { metadata: { name: 'odd', labels: 'x', annotations: [1] }, spec: { cluster_id: 'west', private_ip: 7, publicIPs: [3, '1.2.3.4'], backend_config: { 'udp-port': 'seventy' }, nat_enabled: 'yes' } }];
  const result = diagnoseEndpoints(input({ local: items(local('e', 'east-gw'), ...weird) }));
  assert.equal(result.findings.filter((f) => /malformed/.test(f.found)).length, 7);
  const odd = result.remotes.find((r) => r.name === 'odd')!;
  assert.deepEqual([odd.privateIp, odd.publicIp, odd.udpPort, odd.natEnabled, odd.label], ['', '', 4500, false, null]);
  const plural = readEndpointFacts({ metadata: { name: 'p' }, spec: { cluster_id: 'c', privateIPs: ['10.0.0.1'], healthCheckIPs: ['10.1.0.1'], backend_config: { 'natt-discovery-port': '70000' } } });
  assert.ok(plural.ok);
  assert.deepEqual([plural.facts.privateIp, plural.facts.healthCheckIp, plural.facts.discoveryPort, plural.facts.udpPort], ['10.0.0.1', '10.1.0.1', 0, 4500], 'plural fields read; an out-of-range port is none');
});
