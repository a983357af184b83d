/**
 * Submariner's kinds as seaway writes them, validated with ajv against the CRDs it ships
 * (manifests/01-crds.yaml), made strict (no unknown field): the Endpoint and Cluster built by the
 * gateway's own builders, the Gateway status object by its planner, and a RouteAgent as the route
 * agent writes it. Each served kind has an example, and the validator refuses what a strict API server
 * refuses.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readManifestDir } from './manifest-files.ts';
import { customResourceValidator, strictSchema } from './custom-resources.ts';
import { localEndpointObject } from '../../src/plan/local-endpoint-object.ts';
import { localClusterObject } from '../../src/gateway/endpoint-publisher.ts';
import { EMPTY_TRAFFIC, gatewayObject } from '../../src/plan/gateway-status.ts';
import { endpointValidationContext, validateEndpoint, type EndpointSpec } from '../../src/model/endpoint.ts';
import type { RouteAgentObject } from '../../src/plan/route-agent-status.ts';
import { CABLE_BACKENDS } from '../../src/gateway/cable-choice.ts';

const NS = 'submariner-operator';
const crds = readManifestDir().filter((d) => d.file === '01-crds.yaml').map((d) => d.object);
const validator = customResourceValidator(crds);

/** The local Endpoint of cluster-a's gateway gw-1, as the gateway builds it before publishing. */
function localEndpoint(backend: string) {
  const built = localEndpointObject({
    clusterId: 'cluster-a', namespace: NS,
    node: { name: 'gw-1', internalIP: '192.168.1.10', addresses: ['192.168.1.10'], labels: { 'submariner.io/gateway': 'true' }, annotations: { 'gateway.submariner.io/public-ip': 'ipv4:203.0.113.10' } },
    subnets: ['10.96.0.0/12', '10.244.0.0/16'], backend, natEnabled: true, natTPort: 4500, nattDiscoveryPort: 4490,
    healthCheckIp: '10.244.0.1', fencingToken: 7,
  });
  assert.ok(built.ok, built.ok ? '' : built.reason);
  return built.object;
}

/** A remote cluster's Endpoint as the route agent and gateway read it. */
function remoteSpec(raw: Record<string, unknown>): EndpointSpec {
  const context = endpointValidationContext({ localClusterId: 'cluster-a', podCidrs: ['10.244.0.0/16'], serviceCidrs: ['10.96.0.0/12'], minPrefixLength: 8, maxSubnets: 64 });
  const result = validateEndpoint(raw, context);
  assert.ok(result.ok, result.ok ? '' : result.message);
  return result.endpoint;
}

const CLUSTER_B = {
  cluster_id: 'cluster-b', cable_name: 'submariner-cable-cluster-b-192-168-2-10', hostname: 'gw-b', subnets: ['10.128.0.0/16', '10.245.0.0/16'],
  private_ip: '192.168.2.10', public_ip: '203.0.113.20', healthCheckIP: '10.245.0.1', nat_enabled: true, backend: 'libreswan',
  backend_config: { 'udp-port': '4500', 'natt-discovery-port': '4490' },
};

function gateway() {
  const rendered = gatewayObject({
    hostname: 'gw-1', namespace: NS, haStatus: 'active', version: '0.1.0', statusFailure: '',
    localEndpoint: remoteSpec({ ...localEndpoint('libreswan').spec }),
    remotes: [{
      endpoint: remoteSpec(CLUSTER_B), usingIP: '203.0.113.20', usingNAT: true,
      cable: { cableName: CLUSTER_B.cable_name, state: 'connected', message: '', rxBytes: 1000, txBytes: 2000 },
      health: {
        ip: CLUSTER_B.healthCheckIP, verdict: 'healthy', lostInARow: 0, maxLoss: 5,
        rtt: { samples: 3, lastNs: 450_000, minNs: 400_000, averageNs: 500_000, maxNs: 1_000_000, stdDevNs: 20_000 },
      },
    }],
    traffic: EMPTY_TRAFFIC, nowMs: 1_800_000_000_000,
  });
  assert.ok(rendered.ok, rendered.ok ? '' : rendered.message);
  return rendered.object;
}

const routeAgent: RouteAgentObject = {
  apiVersion: 'submariner.io/v1', kind: 'RouteAgent', metadata: { name: 'worker-1', namespace: NS },
  status: {
    version: '0.1.0', statusFailure: '',
    remoteEndpoints: [{
      spec: { ...CLUSTER_B }, status: 'connected', statusMessage: 'routes programmed on this node',
      latencyRTT: { last: '450µs', min: '400µs', average: '500µs', max: '1ms', stdDev: '20µs' },
    }],
  },
};

describe('Submariner\'s kinds as seaway writes them, against manifests/01-crds.yaml', () => {
  test('the CRDs serve exactly the four kinds', () => {
    assert.deepEqual([...validator.kinds].sort(), ['submariner.io/v1 Cluster', 'submariner.io/v1 Endpoint', 'submariner.io/v1 Gateway', 'submariner.io/v1 RouteAgent']);
  });

  test('the local Endpoint, for each cable (IPsec, WireGuard with its public key, VXLAN)', () => {
    for (const backend of Object.values(CABLE_BACKENDS)) assert.deepEqual(validator.validate(localEndpoint(backend)), [], backend);
    const wireguard = localEndpoint('wireguard');
    (wireguard.spec.backend_config as Record<string, string>).publicKey = 'kJ2kCgLBvDRaY3gV3jw8iNiOnxbN8s6T0b8k0nJXJ1Y=';
    assert.deepEqual(validator.validate(wireguard), []);
  });

  test('the local Cluster', () => {
    assert.deepEqual(validator.validate(localClusterObject('cluster-a', NS, ['10.244.0.0/16'], ['10.96.0.0/12'])), []);
  });

  test('the Gateway status object with a connection and its RTT', () => {
    const object = gateway();
    assert.equal(object.status.connections.length, 1);
    assert.ok(object.status.connections[0]!.latencyRTT, 'the example carries an RTT');
    assert.deepEqual(validator.validate(object), []);
  });

  test('a RouteAgent with a remote cluster\'s Endpoint', () => {
    assert.deepEqual(validator.validate(routeAgent), []);
  });

  test('strict like the API server: an unknown field, a wrong type and a missing required field are each refused', () => {
    const endpoint = localEndpoint('libreswan') as unknown as { spec: Record<string, unknown> };
    const typo = structuredClone(endpoint);
    typo.spec.heathCheckIP = typo.spec.healthCheckIP;
    assert.deepEqual(validator.validate(typo), ['/spec must NOT have additional properties "heathCheckIP"']);
    const wrongType = structuredClone(endpoint);
    wrongType.spec.nat_enabled = 'true';
    assert.deepEqual(validator.validate(wrongType), ['/spec/nat_enabled must be boolean']);
    const missing = structuredClone(endpoint);
    delete missing.spec.backend;
    assert.deepEqual(validator.validate(missing), ['/spec must have required property \'backend\'']);
    const status = structuredClone(routeAgent) as unknown as { status: Record<string, unknown> };
    delete status.status.statusFailure;
    assert.deepEqual(validator.validate(status), ['/status must have required property \'statusFailure\'']);
    const deep = structuredClone(routeAgent);
    (deep.status.remoteEndpoints[0]!.latencyRTT as unknown as Record<string, string>).median = '1ms';
    assert.deepEqual(validator.validate(deep), ['/status/remoteEndpoints/0/latencyRTT must NOT have additional properties "median"']);
  });

  test('an object no CRD serves, or not an object at all, is one error', () => {
    assert.deepEqual(validator.validate({ apiVersion: 'submariner.io/v2', kind: 'Endpoint' }), ['no CRD serves "submariner.io/v2 Endpoint"']);
    assert.deepEqual(validator.validate('Endpoint'), ['no CRD serves "(not an object)"']);
    assert.deepEqual(customResourceValidator([null, 1, { kind: 'CustomResourceDefinition' }]).kinds, []);
  });
});

describe('strictSchema', () => {
  test('additionalProperties: false only where properties are listed and unknown fields are not preserved', () => {
    const schema = {
      type: 'object',
      properties: {
        spec: { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] },
        free: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, properties: { b: { type: 'string' } } },
        map: { type: 'object', additionalProperties: { type: 'string' } },
        list: { type: 'array', items: { type: 'object', properties: { c: { type: 'integer' } } } },
        metadata: { type: 'object' },
      },
    };
    assert.deepEqual(strictSchema(schema), {
      type: 'object', additionalProperties: false,
      properties: {
        spec: { type: 'object', properties: { a: { type: 'string' } }, required: ['a'], additionalProperties: false },
        free: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, properties: { b: { type: 'string' } } },
        map: { type: 'object', additionalProperties: { type: 'string' } },
        list: { type: 'array', items: { type: 'object', properties: { c: { type: 'integer' } }, additionalProperties: false } },
        metadata: { type: 'object' },
      },
    });
  });

  test('a property named like a keyword stays a property; the input is not changed; scalars pass through', () => {
    const schema = { type: 'object', properties: { properties: { type: 'object', properties: { x: { type: 'string' } } } } };
    const before = structuredClone(schema);
    const strict = strictSchema(schema) as { properties: { properties: { additionalProperties: unknown } } };
    assert.equal(strict.properties.properties.additionalProperties, false);
    assert.deepEqual(schema, before);
    assert.equal(strictSchema(null), null);
    assert.equal(strictSchema('x'), 'x');
  });
});
