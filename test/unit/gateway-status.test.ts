/**
 * The Gateway status object (plan/gateway-status.ts): built from the local and remote Endpoints and
 * the cables' state, "connected" only while bytes move, its write budget, and which other Gateway
 * objects are stale. Every object built here is checked against Submariner's Gateway CRD (loaded
 * with js-yaml) with the lab API server's structural-schema code: no validation error and no field
 * the server would prune, so the API server would store it as sent.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CableStatus } from '../../src/cable/cable.ts';
import { endpointValidationContext, validateEndpoint, type EndpointSpec } from '../../src/model/endpoint.ts';
import {
  CONNECTED_MESSAGE, DEFAULT_STALL_MS, EMPTY_TRAFFIC, MAX_MESSAGE_LENGTH, SUBMARINER_STALE_MS, UPDATE_TIMESTAMP_ANNOTATION,
  connectionState, endpointSpecWire, gatewayObject, gatewayObjectName, observeTraffic, sameGatewayContent, shouldWrite,
  type ConnectionHealth, staleGateways, standbyReady, updateTimestampMs, type GatewayInput, type GatewayObject, type RemoteConnectionInput, type TrafficState,
} from '../../src/plan/gateway-status.ts';
import { createGatewayStatusPublisher, type GatewayWriteResult } from '../../src/k8s/gateway-status-writer.ts';
import { validateCustomResource, type JsonObject, type JsonSchemaProps } from '../lab/apiserver/structural-schema.ts';
import { submarinerCrd } from '../lab/apiserver/crd-files.ts';
import { spec as rawSpec } from './model-fixtures.ts';

const crd = submarinerCrd('gateways.submariner.io') as {
  spec: { versions: Array<{ schema: { openAPIV3Schema: JsonSchemaProps }; subresources?: Record<string, unknown> }> };
};
const schema = crd.spec.versions[0]!.schema.openAPIV3Schema;

/** The API server would store it exactly as sent: nothing pruned, nothing invalid. */
function assertAccepted(object: GatewayObject, what = 'object'): void {
  const result = validateCustomResource(schema, object as unknown as JsonObject);
  assert.deepEqual(result.errors.map((e) => `${e.field}: ${e.message}`), [], `${what}: validation errors`);
  assert.deepEqual(result.unknownFields, [], `${what}: fields the server would prune`);
}

const ctx = endpointValidationContext({ localClusterId: 'east', podCidrs: ['10.1.0.0/16'], serviceCidrs: ['10.96.0.0/16'], minPrefixLength: 8, maxSubnets: 64 });

/** An EndpointSpec as model/endpoint.ts reads it from a raw Submariner spec. */
function endpointSpec(overrides: Record<string, unknown> = {}): EndpointSpec {
  const result = validateEndpoint(rawSpec(overrides), ctx);
  assert.ok(result.ok, result.ok ? '' : result.message);
  return result.endpoint;
}

const LOCAL = endpointSpec({
  cluster_id: 'east', cable_name: 'submariner-cable-east-192-168-1-11', hostname: 'east-gw', subnets: ['10.96.0.0/16', '10.1.0.0/16'],
  private_ip: '192.168.1.11', public_ip: '203.0.113.11', healthCheckIP: '10.1.0.1',
});
const WEST = endpointSpec();
const NORTH = endpointSpec({ cluster_id: 'north', cable_name: 'submariner-cable-north-192-168-2-10', hostname: 'north-gw', subnets: ['10.3.0.0/16'], private_ip: '192.168.2.10', public_ip: '', nat_enabled: true });

const NOW = 1_800_000_000_000;

function cable(name: string, over: Partial<CableStatus> = {}): CableStatus {
  return { cableName: name, state: 'connected', message: '', rxBytes: 1000, txBytes: 2000, ...over };
}

/** Traffic in which `names` have moved bytes both ways `agoMs` before NOW. */
function moving(names: string[], agoMs = 1000): TrafficState {
  return new Map(names.map((n) => [n, { rxBytes: 1, txBytes: 1, rxGrewAtMs: NOW - agoMs, txGrewAtMs: NOW - agoMs }]));
}

function input(over: Partial<GatewayInput> = {}): GatewayInput {
  return {
    hostname: 'east-gw', namespace: 'submariner-operator', haStatus: 'active', localEndpoint: LOCAL, version: 'seaway-0.1.0',
    statusFailure: '', remotes: [], traffic: EMPTY_TRAFFIC, nowMs: NOW, ...over,
  };
}

function remote(endpoint: EndpointSpec, over: Partial<RemoteConnectionInput> = {}): RemoteConnectionInput {
  return { endpoint, cable: cable(endpoint.cableName), usingIP: endpoint.publicIps[0] ?? endpoint.privateIp, usingNAT: endpoint.natEnabled, ...over };
}

function built(i: GatewayInput): { object: GatewayObject; notes: string[] } {
  const result = gatewayObject(i);
  assert.ok(result.ok, result.ok ? '' : result.message);
  assertAccepted(result.object);
  return result;
}

describe('gatewayObject', () => {
  test('the CRD really has no status subresource and requires the five status fields (what the rest relies on)', () => {
    assert.deepEqual(crd.spec.versions[0]!.subresources, {});
    assert.deepEqual(schema.properties!['status']!.required, ['connections', 'haStatus', 'localEndpoint', 'statusFailure', 'version']);
  });

  test('the schema check used throughout does catch what the API server would refuse or prune', () => {
    const good = built(input({ remotes: [remote(WEST)] })).object;
    const broken = structuredClone(good) as unknown as { status: Record<string, any> };
    broken.status.connections[0].endpoint.cluster_id = '';
    assert.throws(() => assertAccepted(broken as unknown as GatewayObject), /cluster_id/);
    const missing = structuredClone(good) as unknown as { status: Record<string, unknown> };
    delete missing.status['statusFailure'];
    assert.throws(() => assertAccepted(missing as unknown as GatewayObject), /statusFailure/);
    const extra = structuredClone(good) as unknown as { status: Record<string, any> };
    extra.status.connections[0].rtt = '1ms';
    assert.throws(() => assertAccepted(extra as unknown as GatewayObject), /prune/);
  });

  test('an active gateway with two connected remotes: the whole object as Submariner writes it, accepted by the CRD', () => {
    const { object, notes } = built(input({
      remotes: [remote(WEST), remote(NORTH)],
      traffic: moving([WEST.cableName, NORTH.cableName]),
    }));
    assert.deepEqual(notes, []);
    assert.deepEqual(object, {
      apiVersion: 'submariner.io/v1',
      kind: 'Gateway',
      metadata: { name: 'east-gw', namespace: 'submariner-operator', annotations: { 'update-timestamp': '1800000000' } },
      status: {
        version: 'seaway-0.1.0',
        haStatus: 'active',
        statusFailure: '',
        localEndpoint: {
          cluster_id: 'east', cable_name: 'submariner-cable-east-192-168-1-11', hostname: 'east-gw', subnets: ['10.96.0.0/16', '10.1.0.0/16'],
          private_ip: '192.168.1.11', public_ip: '203.0.113.11', healthCheckIP: '10.1.0.1', nat_enabled: false, backend: 'libreswan',
          backend_config: { 'natt-discovery-port': '4490', 'udp-port': '4500' },
          privateIPs: ['192.168.1.11'], publicIPs: ['203.0.113.11'], healthCheckIPs: ['10.1.0.1'],
        },
        connections: [
          {
            status: 'connected', statusMessage: CONNECTED_MESSAGE, usingIP: '192.168.2.10', usingNAT: true,
            endpoint: {
              cluster_id: 'north', cable_name: 'submariner-cable-north-192-168-2-10', hostname: 'north-gw', subnets: ['10.3.0.0/16'],
              private_ip: '192.168.2.10', healthCheckIP: '10.2.0.1', nat_enabled: true, backend: 'libreswan',
              backend_config: { 'natt-discovery-port': '4490', 'udp-port': '4500' }, privateIPs: ['192.168.2.10'], healthCheckIPs: ['10.2.0.1'],
            },
          },
          {
            status: 'connected', statusMessage: CONNECTED_MESSAGE, usingIP: '203.0.113.10',
            endpoint: {
              cluster_id: 'west', cable_name: 'submariner-cable-west-192-168-1-10', hostname: 'west-gw', subnets: ['10.2.0.0/16', '10.202.0.0/16'],
              private_ip: '192.168.1.10', public_ip: '203.0.113.10', healthCheckIP: '10.2.0.1', nat_enabled: false, backend: 'libreswan',
              backend_config: { 'natt-discovery-port': '4490', 'udp-port': '4500' },
              privateIPs: ['192.168.1.10'], publicIPs: ['203.0.113.10'], healthCheckIPs: ['10.2.0.1'],
            },
          },
        ],
      },
    });
    assert.equal(CONNECTED_MESSAGE, 'connected: SAs installed, bytes moving (no health check yet)');
  });

  test('no latencyRTT (optional in the CRD, a nil pointer for subctl) and no usingIP/usingNAT when empty/false (Go omitempty)', () => {
    const { object } = built(input({ remotes: [remote(WEST, { usingIP: '', usingNAT: false })] }));
    const connection = object.status.connections[0]!;
    assert.ok(!('latencyRTT' in connection));
    assert.ok(!('usingIP' in connection));
    assert.ok(!('usingNAT' in connection));
  });

  test('a passive candidate with no remotes: connections is an empty list, not absent (required)', () => {
    const { object } = built(input({ haStatus: 'passive' }));
    assert.deepEqual(object.status.connections, []);
    assert.equal(object.status.haStatus, 'passive');
  });

  test('update-timestamp is whole unix seconds, as a string', () => {
    assert.equal(built(input({ nowMs: 1_700_000_000_999 })).object.metadata.annotations[UPDATE_TIMESTAMP_ANNOTATION], '1700000000');
  });

  test('the name is the hostname made valid as Submariner does (EnsureValidName); an unusable one gives no object', () => {
    assert.equal(built(input({ hostname: 'GW_Node.Example' })).object.metadata.name, 'gw-node.example');
    assert.deepEqual(gatewayObjectName('Node 1'), { ok: true, name: 'node-1' });
    for (const bad of ['', '-gw', 'gw-', 'a'.repeat(254), 'gw..x']) {
      const result = gatewayObject(input({ hostname: bad }));
      assert.equal(result.ok, false, `hostname ${JSON.stringify(bad.slice(0, 20))}`);
    }
  });

  test('an unusable local Endpoint, namespace or haStatus gives no object, with the reason', () => {
    const noId = gatewayObject(input({ localEndpoint: { ...LOCAL, clusterId: '' } }));
    assert.deepEqual(noId, { ok: false, message: 'the local Endpoint cannot be written: cluster_id is empty' });
    const long = gatewayObject(input({ localEndpoint: { ...LOCAL, clusterId: 'x'.repeat(64) } }));
    assert.equal(long.ok, false);
    assert.match(long.ok ? '' : long.message, /64 characters long, more than the CRD's 63/);
    assert.equal(gatewayObject(input({ localEndpoint: null as unknown as EndpointSpec })).ok, false);
    assert.equal(gatewayObject(input({ namespace: '' })).ok, false);
    assert.equal(gatewayObject(input({ haStatus: 'leader' as never })).ok, false);
  });

  test('a remote whose Endpoint the CRD would refuse is left out with a note; the others are still written', () => {
    const { object, notes } = built(input({
      remotes: [
        remote({ ...WEST, clusterId: '' }),
        remote({ ...NORTH, clusterId: 'n'.repeat(64) }),
        remote(NORTH, { endpoint: { ...NORTH, clusterId: 'north' } }),
        null as unknown as RemoteConnectionInput,
      ],
      traffic: moving([NORTH.cableName]),
    }));
    assert.deepEqual(object.status.connections.map((c) => c.endpoint.cluster_id), ['north']);
    assert.deepEqual(notes, [
      'remote 0 (submariner-cable-west-192-168-1-10): cluster_id is empty; left out of the Gateway status',
      'remote 1 (submariner-cable-north-192-168-2-10): cluster_id is 64 characters long, more than the CRD\'s 63; left out of the Gateway status',
      'remote 3: not an object; left out',
    ]);
  });

  test('a remote with fields of the wrong type or too many addresses is still written, with what is there, and accepted', () => {
    const odd = {
      ...WEST, cableName: 7, hostname: null, subnets: ['10.2.0.0/16', 5], natEnabled: 'yes', backend: undefined,
      backendConfig: { 'udp-port': 4500, preferred: 'true' }, privateIps: ['192.168.1.10', '192.168.1.11', '192.168.1.12'],
      publicIps: 'nope', healthCheckIps: [],
    } as unknown as EndpointSpec;
    const { object, notes } = built(input({ remotes: [remote(odd, { usingIP: 42 as never, usingNAT: 'true' as never })] }));
    assert.deepEqual(notes, []);
    const connection = object.status.connections[0]!;
    assert.deepEqual(connection.endpoint, {
      cluster_id: 'west', cable_name: '', hostname: '', subnets: ['10.2.0.0/16'], private_ip: '192.168.1.10', nat_enabled: false, backend: '',
      backend_config: { preferred: 'true' }, privateIPs: ['192.168.1.10', '192.168.1.11'],
    });
    assert.ok(!('usingIP' in connection) && !('usingNAT' in connection));
  });

  test('connections are sorted by cluster and cable whatever the input order; a remote listed twice is written once', () => {
    const a = built(input({ remotes: [remote(WEST), remote(NORTH)] })).object;
    const b = built(input({ remotes: [remote(NORTH), remote(WEST), remote(WEST)] }));
    assert.ok(sameGatewayContent(a, b.object));
    assert.deepEqual(b.notes, ['remote 2 (submariner-cable-west-192-168-1-10): listed twice; the first kept']);
  });

  test('statusFailure and messages are clipped to 1 KiB, and the object stays valid', () => {
    const { object } = built(input({
      statusFailure: 'x'.repeat(5000),
      remotes: [remote(WEST, { cable: cable(WEST.cableName, { state: 'error', message: 'y'.repeat(5000) }) })],
    }));
    assert.equal(object.status.statusFailure.length, MAX_MESSAGE_LENGTH);
    assert.equal(object.status.connections[0]!.statusMessage.length, MAX_MESSAGE_LENGTH);
    assert.ok(object.status.statusFailure.endsWith('...'));
  });

  test('endpointSpecWire gives back a Submariner spec as it came (IPv4 fields; plural lists filled from the singular ones)', () => {
    const wire = endpointSpecWire(WEST);
    assert.ok(wire.ok);
    const { privateIPs, publicIPs, healthCheckIPs, ...singular } = wire.wire;
    assert.deepEqual(singular, rawSpec());
    assert.deepEqual([privateIPs, publicIPs, healthCheckIPs], [['192.168.1.10'], ['203.0.113.10'], ['10.2.0.1']]);
  });
});

describe('connection state: connected only while the SAs are up and bytes move both ways', () => {
  const STALL = 15_000;
  const state = (c: CableStatus | undefined, traffic?: { rxGrewAtMs?: number; txGrewAtMs?: number }) =>
    connectionState(c, traffic === undefined ? undefined : { rxBytes: 0, txBytes: 0, ...traffic }, NOW, STALL);

  test('no cable yet: connecting', () => {
    assert.deepEqual(state(undefined), { status: 'connecting', statusMessage: 'connecting: the cable is not configured yet' });
  });

  test('the daemon says error: error, with its message, else the last error, else a generic one', () => {
    assert.deepEqual(state(cable('c', { state: 'error', message: 'IKE_AUTH failed' })), { status: 'error', statusMessage: 'error: IKE_AUTH failed' });
    assert.deepEqual(state(cable('c', { state: 'error', lastError: 'charon gone' })), { status: 'error', statusMessage: 'error: charon gone' });
    assert.deepEqual(state(cable('c', { state: 'error' })), { status: 'error', statusMessage: 'error: the cable driver reports an error' });
  });

  test('the daemon says connecting: connecting, with its words', () => {
    assert.deepEqual(state(cable('c', { state: 'connecting', message: 'IKE SA not established' })), { status: 'connecting', statusMessage: 'connecting: IKE SA not established' });
    assert.deepEqual(state(cable('c', { state: 'connecting' })), { status: 'connecting', statusMessage: 'connecting: security associations not installed yet' });
  });

  test('connected and both counters grew within the threshold: connected (the daemon\'s notes appended)', () => {
    assert.deepEqual(state(cable('c'), { rxGrewAtMs: NOW - 1000, txGrewAtMs: NOW - STALL }), { status: 'connected', statusMessage: CONNECTED_MESSAGE });
    assert.equal(state(cable('c', { message: '10.1.0.0/16 <-> 10.2.0.0/16 left out: no source' }), { rxGrewAtMs: NOW, txGrewAtMs: NOW }).statusMessage,
      `${CONNECTED_MESSAGE}; 10.1.0.0/16 <-> 10.2.0.0/16 left out: no source`);
  });

  test('connected but bytes not seen moving: connecting, saying which way is still (one past the threshold already counts)', () => {
    const still = (traffic?: { rxGrewAtMs?: number; txGrewAtMs?: number }) => state(cable('c'), traffic);
    const suffix = 'within the last 15 s (no health check yet; an idle cable looks the same)';
    assert.deepEqual(still(), { status: 'connecting', statusMessage: `connecting: SAs installed, but no bytes seen moving in either direction ${suffix}` });
    assert.deepEqual(still({}), still());
    assert.deepEqual(still({ rxGrewAtMs: NOW - STALL - 1, txGrewAtMs: NOW }), { status: 'connecting', statusMessage: `connecting: SAs installed, but no bytes seen moving: nothing received ${suffix}` });
    assert.deepEqual(still({ rxGrewAtMs: NOW, txGrewAtMs: NOW - 60_000 }), { status: 'connecting', statusMessage: `connecting: SAs installed, but no bytes seen moving: nothing sent ${suffix}` });
  });

  test('the stalled message does not change while the stall goes on (no growing numbers: no write per observation)', () => {
    const at = (nowMs: number) => connectionState(cable('c'), { rxBytes: 5, txBytes: 5, rxGrewAtMs: NOW, txGrewAtMs: NOW }, nowMs, STALL);
    assert.deepEqual(at(NOW + STALL + 1), at(NOW + 10 * STALL));
  });
});

describe('observeTraffic', () => {
  const seq = (steps: Array<[number, CableStatus[]]>): TrafficState => steps.reduce((t, [at, cables]) => observeTraffic(t, cables, at), EMPTY_TRAFFIC);

  test('the first observation is a baseline, not growth; growth since the previous observation is stamped per direction', () => {
    const first = observeTraffic(EMPTY_TRAFFIC, [cable('c', { rxBytes: 10, txBytes: 10 })], 1000);
    assert.deepEqual(first.get('c'), { rxBytes: 10, txBytes: 10 });
    const second = observeTraffic(first, [cable('c', { rxBytes: 11, txBytes: 10 })], 2000);
    assert.deepEqual(second.get('c'), { rxBytes: 11, txBytes: 10, rxGrewAtMs: 2000 });
    const third = observeTraffic(second, [cable('c', { rxBytes: 11, txBytes: 12 })], 3000);
    assert.deepEqual(third.get('c'), { rxBytes: 11, txBytes: 12, rxGrewAtMs: 2000, txGrewAtMs: 3000 });
  });

  test('a counter that went back (a new SA) counts as growth when non-zero, not when zero', () => {
    const t = seq([[1000, [cable('c', { rxBytes: 500, txBytes: 500 })]], [2000, [cable('c', { rxBytes: 20, txBytes: 0 })]]]);
    assert.deepEqual(t.get('c'), { rxBytes: 20, txBytes: 0, rxGrewAtMs: 2000 });
  });

  test('a cable that is not connected forgets its growth: after a reconnect, bytes must be seen moving again', () => {
    const t = seq([
      [1000, [cable('c', { rxBytes: 1, txBytes: 1 })]],
      [2000, [cable('c', { rxBytes: 2, txBytes: 2 })]],
      [3000, [cable('c', { state: 'connecting', rxBytes: 3, txBytes: 3 })]],
      [4000, [cable('c', { rxBytes: 3, txBytes: 3 })]],
    ]);
    assert.deepEqual(t.get('c'), { rxBytes: 3, txBytes: 3 });
    assert.equal(connectionState(cable('c'), t.get('c'), 4000, DEFAULT_STALL_MS).status, 'connecting');
  });

  test('a counter that is not a number is no evidence: the last good value is kept; cables gone are dropped; junk entries skipped', () => {
    const t = seq([
      [1000, [cable('c', { rxBytes: 5, txBytes: 5 }), cable('gone')]],
      [2000, [cable('c', { rxBytes: Number.NaN, txBytes: -1 }), null as unknown as CableStatus, { cableName: 7 } as unknown as CableStatus]],
    ]);
    assert.deepEqual([...t.keys()], ['c']);
    assert.deepEqual(t.get('c'), { rxBytes: 5, txBytes: 5 });
  });

  test('end to end: bytes moving keeps the cable connected; counters standing still past the threshold turn it connecting', () => {
    let traffic: TrafficState = EMPTY_TRAFFIC;
    const statusAt = (at: number, rx: number, tx: number) => {
      const c = cable(WEST.cableName, { rxBytes: rx, txBytes: tx });
      traffic = observeTraffic(traffic, [c], at);
      return built(input({ nowMs: at, traffic, remotes: [remote(WEST, { cable: c })] })).object.status.connections[0]!.status;
    };
    assert.equal(statusAt(NOW, 100, 100), 'connecting', 'nothing seen moving yet');
    assert.equal(statusAt(NOW + 5000, 200, 300), 'connected');
    assert.equal(statusAt(NOW + 10_000, 200, 300), 'connected', 'still within the threshold');
    assert.equal(statusAt(NOW + 5000 + DEFAULT_STALL_MS, 200, 300), 'connected', 'exactly at the threshold');
    assert.equal(statusAt(NOW + 5001 + DEFAULT_STALL_MS, 200, 300), 'connecting');
    assert.equal(statusAt(NOW + 25_000, 201, 301), 'connected', 'moving again');
  });
});

describe('shouldWrite: the write budget', () => {
  const REFRESH = { refreshMs: 5000 };
  const at = (nowMs: number, over: Partial<GatewayInput> = {}) => built(input({ nowMs, remotes: [remote(WEST)], traffic: moving([WEST.cableName]), ...over })).object;

  test('nothing written yet: write', () => {
    assert.equal(shouldWrite(null, at(NOW), 0, NOW, REFRESH), true);
  });

  test('unchanged: not before refreshMs since the last write, then yes (the timestamp alone is no change)', () => {
    const written = at(NOW);
    assert.equal(shouldWrite(written, at(NOW + 1000), NOW, NOW + 1000, REFRESH), false);
    assert.equal(shouldWrite(written, at(NOW + 4999), NOW, NOW + 4999, REFRESH), false);
    assert.equal(shouldWrite(written, at(NOW + 5000), NOW, NOW + 5000, REFRESH), true);
  });

  test('byte counters that move but change no state are no change', () => {
    let traffic = observeTraffic(EMPTY_TRAFFIC, [cable(WEST.cableName, { rxBytes: 1, txBytes: 1 })], NOW - 2000);
    traffic = observeTraffic(traffic, [cable(WEST.cableName, { rxBytes: 2, txBytes: 2 })], NOW - 1000);
    const written = built(input({ traffic, remotes: [remote(WEST, { cable: cable(WEST.cableName, { rxBytes: 2, txBytes: 2 }) })] })).object;
    const busier = cable(WEST.cableName, { rxBytes: 9_000_000, txBytes: 7_000_000 });
    traffic = observeTraffic(traffic, [busier], NOW + 1000);
    const next = built(input({ nowMs: NOW + 1000, traffic, remotes: [remote(WEST, { cable: busier })] })).object;
    assert.equal(shouldWrite(written, next, NOW, NOW + 1000, REFRESH), false);
  });

  test('a state change is written at once; with minIntervalMs, not sooner than that after the last write', () => {
    const written = at(NOW);
    const broken = at(NOW + 100, { remotes: [remote(WEST, { cable: cable(WEST.cableName, { state: 'error', message: 'dead' }) })] });
    assert.equal(shouldWrite(written, broken, NOW, NOW + 100, REFRESH), true);
    assert.equal(shouldWrite(written, broken, NOW, NOW + 100, { ...REFRESH, minIntervalMs: 1000 }), false);
    assert.equal(shouldWrite(written, broken, NOW, NOW + 1000, { ...REFRESH, minIntervalMs: 1000 }), true);
    assert.equal(shouldWrite(written, at(NOW + 100, { haStatus: 'passive' }), NOW, NOW + 100, REFRESH), true);
    assert.equal(shouldWrite(written, at(NOW + 100, { statusFailure: 'broken' }), NOW, NOW + 100, REFRESH), true);
    assert.equal(shouldWrite(written, at(NOW + 100, { version: 'seaway-0.2.0' }), NOW, NOW + 100, REFRESH), true);
  });

  test('a clock that went back writes (the count restarts rather than stalling until the clock catches up)', () => {
    assert.equal(shouldWrite(at(NOW), at(NOW - 60_000), NOW, NOW - 60_000, REFRESH), true);
  });
});

describe('staleGateways', () => {
  const gw = (name: unknown, stamp?: unknown) => ({
    metadata: { name, ...(stamp === undefined ? {} : { annotations: { [UPDATE_TIMESTAMP_ANNOTATION]: stamp } }) },
  });
  const seconds = (ms: number) => String(Math.floor(ms / 1000));
  const MAX = SUBMARINER_STALE_MS;

  test('not live and older than maxAge (Submariner: stale when now >= timestamp + 15 s): removed; younger: kept', () => {
    const objects = [gw('old', seconds(NOW - 60_000)), gw('edge', seconds(NOW - MAX)), gw('young', seconds(NOW - MAX + 1000)), gw('fresh', seconds(NOW))];
    assert.deepEqual(staleGateways(objects, [], NOW, MAX), ['edge', 'old']);
  });

  test('a live candidate\'s object is kept however old or malformed (its owner rewrites it); live names compared as object names', () => {
    const objects = [gw('gw-1', seconds(NOW - 3_600_000)), gw('gw-2'), gw('gw-3', 'soon'), gw('other')];
    assert.deepEqual(staleGateways(objects, ['GW_1', 'gw-2', 'gw-3'], NOW, MAX), ['other']);
  });

  test('malformed: no annotation, not a count of seconds, far in the future: removed unless live', () => {
    const objects = [
      gw('none'), gw('text', 'yesterday'), gw('negative', '-5'), gw('float', '1.5'), gw('number', 1_800_000_000),
      gw('future', seconds(NOW + 3_600_000)), gw('skewed', seconds(NOW + 10_000)),
      { metadata: { name: 'no-annotations', annotations: null } },
    ];
    assert.deepEqual(staleGateways(objects, [], NOW, MAX), ['float', 'future', 'negative', 'no-annotations', 'none', 'number', 'text']);
  });

  test('objects without a name, and non-objects, are skipped; names are unique and sorted', () => {
    const objects = [null, 7, 'x', {}, { metadata: null }, gw(''), gw(5), gw('b'), gw('a'), gw('b')];
    assert.deepEqual(staleGateways(objects, [], NOW, MAX), ['a', 'b']);
  });

  test('updateTimestampMs reads the annotation in seconds', () => {
    assert.equal(updateTimestampMs(gw('a', '1700000000')), 1_700_000_000_000);
    assert.equal(updateTimestampMs(gw('a')), null);
    assert.equal(updateTimestampMs(null), null);
    // Any count of seconds whose ms are a safe integer; nothing past it, no sign, no fraction.
    assert.equal(updateTimestampMs(gw('a', '9007199254740')), 9_007_199_254_740_000);
    for (const bad of ['9007199254741', '-1', '1.5', ' 1', '']) assert.equal(updateTimestampMs(gw('a', bad)), null, bad);
  });

  test('an object gatewayObject made is fresh for maxAge and stale after it', () => {
    const object = built(input()).object;
    assert.deepEqual(staleGateways([object], [], NOW + MAX - 1000, MAX), []);
    assert.deepEqual(staleGateways([object], [], NOW + MAX, MAX), ['east-gw']);
    assert.deepEqual(staleGateways([object], ['east-gw'], NOW + 10 * MAX, MAX), []);
  });
});

describe('every object gatewayObject makes is accepted by the CRD (a sweep)', () => {
  test('2000 generated inputs: remotes of every state, odd fields, hostnames; each ok result validates, each refusal is for a reason the CRD would refuse', () => {
    let seed = 12345;
    const random = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31; };
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const clusterIds = ['west', 'north', 'south-1', 'x'.repeat(63), 'y'.repeat(64), '', 'With_Caps'];
    const hostnames = ['east-gw', 'GW.Example.COM', 'node_1', '', '-x', 'a'.repeat(253), 'a'.repeat(254)];
    let accepted = 0;
    let refused = 0;
    for (let i = 0; i < 2000; i++) {
      const remotes: RemoteConnectionInput[] = [];
      const count = Math.floor(random() * 5);
      for (let r = 0; r < count; r++) {
        const base = pick([WEST, NORTH, LOCAL]);
        const endpoint = { ...base, clusterId: pick(clusterIds), cableName: `cable-${Math.floor(random() * 3)}`, natEnabled: random() < 0.5 };
        const state = pick(['connected', 'connecting', 'error', 'weird'] as const);
        const c = random() < 0.2 ? undefined : cable(endpoint.cableName, { state: state as CableStatus['state'], message: pick(['', 'm', 'z'.repeat(2000)]) });
        remotes.push({ endpoint, ...(c ? { cable: c } : {}), usingIP: pick(['', '203.0.113.1']), usingNAT: random() < 0.5 });
      }
      const traffic = new Map(remotes.map((r) => [r.endpoint.cableName, { rxBytes: 0, txBytes: 0, rxGrewAtMs: NOW - Math.floor(random() * 30_000), txGrewAtMs: NOW - Math.floor(random() * 30_000) }]));
      const result = gatewayObject(input({
        hostname: pick(hostnames), haStatus: pick(['active', 'passive'] as const), statusFailure: pick(['', 'fatal', 'f'.repeat(3000)]),
        localEndpoint: { ...LOCAL, clusterId: pick(clusterIds) }, remotes, traffic, nowMs: NOW + i,
      }));
      if (result.ok) {
        accepted++;
        assertAccepted(result.object, `input ${i}`);
        for (const c of result.object.status.connections) assert.ok(['connected', 'connecting', 'error'].includes(c.status));
      } else {
        refused++;
        assert.match(result.message, /cluster_id|hostname/);
      }
    }
    assert.ok(accepted > 500 && refused > 500, `both outcomes exercised (${accepted} accepted, ${refused} refused)`);
  });
});

describe('createGatewayStatusPublisher (the budget around a writer)', () => {
  const object = (nowMs: number, over: Partial<GatewayInput> = {}) => built(input({ nowMs, ...over })).object;
  const ok: GatewayWriteResult = { ok: true, name: 'east-gw', action: 'replaced', uid: 'u', resourceVersion: '1' };
  const failed: GatewayWriteResult = { ok: false, name: 'east-gw', step: 'replace', problem: { category: 'status', cause: 'HTTP 500', detail: 'boom', statusCode: 500 } };

  function fakeWriter(results: GatewayWriteResult[]) {
    const writes: GatewayObject[] = [];
    return { writes, write: async (o: GatewayObject) => { writes.push(o); return results.shift() ?? ok; } };
  }

  test('writes the first, skips unchanged ones until the refresh, writes a change at once', async () => {
    const writer = fakeWriter([]);
    const publisher = createGatewayStatusPublisher(writer, { refreshMs: 5000 });
    assert.equal((await publisher.publish(object(NOW), NOW)).attempted, true);
    assert.deepEqual(await publisher.publish(object(NOW + 1000), NOW + 1000), { attempted: false, reason: 'unchanged' });
    assert.equal((await publisher.publish(object(NOW + 2000, { haStatus: 'passive' }), NOW + 2000)).attempted, true);
    assert.deepEqual(await publisher.publish(object(NOW + 6999, { haStatus: 'passive' }), NOW + 6999), { attempted: false, reason: 'unchanged' });
    assert.equal((await publisher.publish(object(NOW + 7000, { haStatus: 'passive' }), NOW + 7000)).attempted, true);
    assert.equal(writer.writes.length, 3);
  });

  test('after a failure: backs off (at most the refresh period), then retries even an unchanged object', async () => {
    const writer = fakeWriter([failed, failed]);
    const publisher = createGatewayStatusPublisher(writer, { refreshMs: 5000, random: () => 1 });
    const first = await publisher.publish(object(NOW), NOW);
    assert.ok(first.attempted && !first.result.ok);
    assert.deepEqual(await publisher.publish(object(NOW + 999), NOW + 999), { attempted: false, reason: 'backing-off' });
    assert.equal((await publisher.publish(object(NOW + 1000), NOW + 1000)).attempted, true, 'first backoff: 1 s');
    assert.deepEqual(await publisher.publish(object(NOW + 2999), NOW + 2999), { attempted: false, reason: 'backing-off' });
    const third = await publisher.publish(object(NOW + 3000), NOW + 3000);
    assert.ok(third.attempted && third.result.ok, 'second backoff: 2 s');
    assert.deepEqual(await publisher.publish(object(NOW + 4000), NOW + 4000), { attempted: false, reason: 'unchanged' });
  });

  test('one write at a time: a publish during a write is skipped as busy', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const publisher = createGatewayStatusPublisher({ write: async () => { await gate; return ok; } }, { refreshMs: 5000 });
    const first = publisher.publish(object(NOW), NOW);
    assert.deepEqual(await publisher.publish(object(NOW + 1, { haStatus: 'passive' }), NOW + 1), { attempted: false, reason: 'busy' });
    release();
    assert.equal((await first).attempted, true);
  });
});

test('standbyReady: another candidate\'s fresh, passive, unfailed Gateway object; never our own, a stale one, an active one or a refused one', () => {
  const NOW_MS = 1_700_000_000_000;
  const gw = (name: string, ageS: number, haStatus: string, statusFailure = '') => ({
    metadata: { name, annotations: { 'update-timestamp': String(Math.floor(NOW_MS / 1000) - ageS) } }, status: { haStatus, statusFailure },
  });
  assert.equal(standbyReady([gw('node-b', 2, 'passive')], 'node-a', NOW_MS, 15_000), true);
  assert.equal(standbyReady([gw('node-a', 2, 'passive')], 'node-a', NOW_MS, 15_000), false, 'our own');
  assert.equal(standbyReady([gw('node-b', 20, 'passive')], 'node-a', NOW_MS, 15_000), false, 'stale');
  assert.equal(standbyReady([gw('node-b', -60, 'passive')], 'node-a', NOW_MS, 15_000), false, 'from the future');
  assert.equal(standbyReady([gw('node-b', 2, 'active')], 'node-a', NOW_MS, 15_000), false, 'active');
  assert.equal(standbyReady([gw('node-b', 2, 'passive', 'not a candidate: bad PSK')], 'node-a', NOW_MS, 15_000), false, 'refused');
  assert.equal(standbyReady([null, 'x', { metadata: {} }, gw('node-c', 1, 'passive')], 'node-a', NOW_MS, 15_000), true, 'malformed objects pass over');
});

describe('connection state with health checks: the data path decides', () => {
  const health = (over: Partial<ConnectionHealth> = {}): ConnectionHealth => ({ ip: '10.2.1.1', verdict: 'healthy', lostInARow: 0, maxLoss: 5, rtt: null, ...over });
  const STALL = 15_000;

  test('a reply through the cable: connected, whatever the byte counters', () => {
    assert.deepEqual(connectionState(cable('c'), undefined, NOW, STALL, health()), { status: 'connected', statusMessage: 'connected: health checks to 10.2.1.1 answered through the cable' });
  });

  test('SAs up and no reply to the last maxLoss probes: error, never connected, even with bytes moving', () => {
    const s = connectionState(cable('c'), { rxBytes: 1, txBytes: 1, rxGrewAtMs: NOW, txGrewAtMs: NOW }, NOW, STALL, health({ verdict: 'unhealthy', lostInARow: 5 }));
    assert.deepEqual(s, { status: 'error', statusMessage: 'error: the tunnel is up but the last 5 health checks to 10.2.1.1 got no reply: traffic does not flow' });
  });

  test('no reply yet: connecting, saying so, or saying why probing cannot happen', () => {
    assert.equal(connectionState(cable('c'), undefined, NOW, STALL, health({ verdict: 'unknown' })).statusMessage, 'connecting: tunnel up, waiting for the first reply to a health check to 10.2.1.1');
    assert.match(connectionState(cable('c'), undefined, NOW, STALL, health({ verdict: 'unknown', problem: 'no address to probe from' })).statusMessage, /tunnel up, no address to probe from/);
    assert.equal(connectionState(cable('c'), undefined, NOW, STALL, health({ verdict: 'healthy', problem: 'the socket cannot be opened' })).status, 'connecting', 'a verdict from before probing stopped proves nothing');
  });

  test('the daemon\'s own error or connecting state comes first: a healthy probe does not hide a cable the daemon has not brought up', () => {
    assert.equal(connectionState(cable('c', { state: 'connecting' }), undefined, NOW, STALL, health()).status, 'connecting');
    assert.equal(connectionState(cable('c', { state: 'error', message: 'x' }), undefined, NOW, STALL, health()).status, 'error');
  });

  test('a cable without byte counters (VXLAN) and no health check: connected on the daemon\'s word, saying the path is unproven', () => {
    const s = connectionState(cable('c', { bytesCounted: false, rxBytes: 0, txBytes: 0 }), undefined, NOW, STALL);
    assert.equal(s.status, 'connected');
    assert.match(s.statusMessage, /counts no bytes and the remote names no health-check address, so the data path is unproven/);
    assert.equal(connectionState(cable('c', { bytesCounted: false }), undefined, NOW, STALL, health({ verdict: 'unhealthy', lostInARow: 5 })).status, 'error', 'a health check still decides');
  });

  test('latencyRTT as Go durations once a reply came, absent before; a changed RTT alone is no change worth a write', () => {
    const rtt = { samples: 3, lastNs: 1_234_567, minNs: 900_000, averageNs: 1_100_000.7, maxNs: 1_500_000, stdDevNs: 250_000 };
    const withRtt = built(input({ remotes: [remote(WEST, { health: health({ rtt }) })] })).object;
    assert.deepEqual(withRtt.status.connections[0]!.latencyRTT, { last: '1.234567ms', min: '900µs', average: '1.1ms', max: '1.5ms', stdDev: '250µs' });
    const without = built(input({ remotes: [remote(WEST, { health: health({ verdict: 'unknown' }) })] })).object;
    assert.equal('latencyRTT' in without.status.connections[0]!, false);
    const other = built(input({ remotes: [remote(WEST, { health: health({ rtt: { ...rtt, lastNs: 2_000_000 } }) })] })).object;
    assert.ok(sameGatewayContent(withRtt, other), 'RTT figures go out with the refresh');
    assert.ok(!sameGatewayContent(withRtt, without), 'a status change is still a change');
  });
});

test('a remote the gateway builds no cable to is an error connection saying why, whatever its cable status', () => {
  const object = built(input({ remotes: [remote(WEST, { refused: 'runs the "wireguard" cable; this gateway runs "libreswan"' }), remote(NORTH)] })).object;
  const west = object.status.connections.find((c) => c.endpoint.cluster_id === WEST.clusterId)!;
  assert.deepEqual([west.status, west.statusMessage], ['error', 'error: no cable to this cluster: it runs the "wireguard" cable; this gateway runs "libreswan"']);
  assert.notEqual(object.status.connections.find((c) => c.endpoint.cluster_id === 'north')!.status, 'error', 'the others are judged on their own');
});
