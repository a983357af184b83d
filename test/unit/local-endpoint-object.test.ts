/** The local Endpoint as the active gateway publishes it, checked against Submariner's CRD schema. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FENCING_ANNOTATION, localEndpointObject, validObjectName, type LocalEndpointInputs } from '../../src/plan/local-endpoint-object.ts';
import { loadCrdManifests, SUBMARINER_CRDS_FILE } from '../lab/apiserver/crd-files.ts';
import { structuralSchemaErrors, type JsonObject, type JsonSchemaProps } from '../lab/apiserver/structural-schema.ts';

const endpointCrd = (loadCrdManifests(SUBMARINER_CRDS_FILE) as Array<{ spec: { names: { kind: string }; versions: Array<{ schema: { openAPIV3Schema: JsonSchemaProps } }> } }>)
  .find((c) => c.spec.names.kind === 'Endpoint');
const schema = endpointCrd!.spec.versions[0]!.schema.openAPIV3Schema;

const inputs = (over: Partial<LocalEndpointInputs> = {}, node: Partial<LocalEndpointInputs['node']> = {}): LocalEndpointInputs => ({
  clusterId: 'East_1', namespace: 'submariner-operator',
  node: { name: 'gw-node', internalIP: '192.168.1.11', addresses: ['192.168.1.11', 'gw-node'], labels: { 'submariner.io/gateway': 'true' }, annotations: {}, ...node },
  subnets: ['10.96.0.0/16', '10.1.0.0/16'], backend: 'libreswan', natEnabled: false, natTPort: 4500, nattDiscoveryPort: 4490, healthCheckIp: '10.1.1.1', fencingToken: 4, ...over,
});

const built = (i: LocalEndpointInputs) => {
  const result = localEndpointObject(i);
  assert.ok(result.ok, result.ok ? '' : result.reason);
  return result.object;
};

test('as Submariner writes it: cable name from the cluster and private IP, a valid object name, hostname, subnets, ports; accepted by the CRD schema', () => {
  const object = built(inputs());
  assert.equal(object.metadata.name, 'east-1-submariner-cable-east-1-192-168-1-11');
  assert.deepEqual(object.spec, {
    cluster_id: 'East_1', cable_name: 'submariner-cable-East_1-192-168-1-11', hostname: 'gw-node', subnets: ['10.96.0.0/16', '10.1.0.0/16'],
    private_ip: '192.168.1.11', healthCheckIP: '10.1.1.1', nat_enabled: false, backend: 'libreswan',
    backend_config: { 'udp-port': '4500', 'natt-discovery-port': '4490' },
  });
  assert.deepEqual(structuralSchemaErrors(schema, object as unknown as JsonObject), []);
});

test('fencing: the Lease transition count rides on an annotation', () => {
  assert.equal(built(inputs({ fencingToken: 9 })).metadata.annotations[FENCING_ANNOTATION], '9');
});

test('the public IP: the node annotation over its label over the configuration, ipv4: only; no outside service', () => {
  assert.equal(built(inputs({ publicIp: 'ipv4:203.0.113.5' })).spec.public_ip, '203.0.113.5');
  const labelled = built(inputs({ publicIp: 'ipv4:203.0.113.5' }, { labels: { 'gateway.submariner.io/public-ip': 'ipv4:198.51.100.1' } }));
  assert.equal(labelled.spec.public_ip, '198.51.100.1');
  assert.equal((labelled.spec.backend_config as Record<string, string>)['public-ip'], 'ipv4:198.51.100.1', 'kept in backend_config as Submariner does');
  const annotated = built(inputs({}, { labels: { 'gateway.submariner.io/public-ip': 'ipv4:198.51.100.1' }, annotations: { 'gateway.submariner.io/public-ip': 'dns:gw.example.org,ipv4:198.51.100.2' } }));
  assert.equal(annotated.spec.public_ip, '198.51.100.2');
  assert.equal(built(inputs()).spec.public_ip, undefined, 'none configured: none published');
  for (const [config, reason] of [
    ['api:ipify', /has no ipv4:<address> entry; seaway resolves no other method/],
    ['ipv4:300.1.1.1', /not a valid IPv4 address/],
    ['ipv4:', /not a dotted-quad/],
  ] as const) {
    const result = localEndpointObject(inputs({}, { annotations: { 'gateway.submariner.io/public-ip': config } }));
    assert.ok(!result.ok && reason.test(result.reason), `${config}: ${JSON.stringify(result)}`);
  }
});

test('the private IP: the InternalIP, or the configured node IP when it is one of the node\'s addresses', () => {
  assert.equal(built(inputs({ nodeIp: '192.168.1.11' })).spec.private_ip, '192.168.1.11');
  const foreign = localEndpointObject(inputs({ nodeIp: '10.0.0.9' }));
  assert.ok(!foreign.ok && /10\.0\.0\.9 is not one of node gw-node's addresses/.test(foreign.reason));
  const none = localEndpointObject(inputs({}, { internalIP: null, addresses: [] }));
  assert.ok(!none.ok && /no IPv4 InternalIP/.test(none.reason));
});

test('node gateway settings: ports from labels or annotations; an unknown key or a bad port refuses candidacy with its reason', () => {
  const ported = built(inputs({}, { annotations: { 'gateway.submariner.io/udp-port': '4501' } }));
  assert.equal((ported.spec.backend_config as Record<string, string>)['udp-port'], '4501');
  const unknown = localEndpointObject(inputs({}, { labels: { 'gateway.submariner.io/colour': 'blue' } }));
  assert.ok(!unknown.ok && /the label gateway\.submariner\.io\/colour, which is not a gateway setting/.test(unknown.reason));
  for (const port of ['44x', '70000', '0', '']) {
    const badPort = localEndpointObject(inputs({}, { annotations: { 'gateway.submariner.io/natt-discovery-port': port } }));
    assert.ok(!badPort.ok && badPort.reason.includes(`natt-discovery-port "${port}" is not a port`), port);
  }
});

test('object names as Submariner makes them valid', () => {
  assert.equal(validObjectName('Cluster_A-submariner-cable-Cluster_A-10-0-0-1'), 'cluster-a-submariner-cable-cluster-a-10-0-0-1');
  assert.equal(validObjectName('a.b-C'), 'a.b-c');
});

test('nat_enabled says what the gateway is configured with (subctl join --natt, on by default)', () => {
  assert.equal(built(inputs({ natEnabled: true })).spec.nat_enabled, true);
  assert.equal(built(inputs({ natEnabled: false })).spec.nat_enabled, false);
});
