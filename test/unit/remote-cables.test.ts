/**
 * Which cables the active gateway wants from the accepted remote Endpoints (plan/remote-cables.ts):
 * inputs are built through the real parser (model/endpoint.ts), as the cluster-wide verdict hands them over.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { endpointValidationContext, validateEndpoint } from '../../src/model/endpoint.ts';
import { buildEndpointSet, type AcceptedEndpoint, type EndpointSetContext } from '../../src/model/endpoint-set.ts';
import { DEFAULT_IPSEC_SETTINGS, planConnection } from '../../src/plan/ipsec-connections.ts';
import { remoteCables, type RemoteCablesLocal } from '../../src/plan/remote-cables.ts';
import { endpoint, gatewayNode, NAMESPACE, shuffled, spec } from './model-fixtures.ts';

const ctx = endpointValidationContext({ localClusterId: 'east', podCidrs: ['10.244.0.0/16'], serviceCidrs: ['10.96.0.0/12'], minPrefixLength: 8, maxSubnets: 64 });
const LOCAL: RemoteCablesLocal = { backend: 'libreswan', natEnabled: false };

/** A remote Endpoint of `cluster` as the verdict accepts it, parsed by the real parser. */
function remote(cluster: string, overrides: Record<string, unknown> = {}, name = `${cluster}-ep`): AcceptedEndpoint {
  const raw = spec({ cluster_id: cluster, cable_name: `submariner-cable-${cluster}-192-168-1-10`, ...overrides });
  const result = validateEndpoint(raw, ctx);
  if (!result.ok) throw new Error(`fixture rejected: ${result.message}`);
  return { object: endpoint(name, raw), spec: result.endpoint, subnets: result.subnets, notes: result.notes };
}

const reasonOf = (r: AcceptedEndpoint, local: RemoteCablesLocal = LOCAL): string => {
  const { cables, rejected } = remoteCables([r], local);
  assert.deepEqual(cables, [], 'expected a rejection');
  assert.equal(rejected.length, 1);
  return rejected[0]!.reason;
};

const cableOf = (r: AcceptedEndpoint, local: RemoteCablesLocal = LOCAL) => {
  const { cables, rejected } = remoteCables([r], local);
  assert.deepEqual(rejected, [], 'expected a cable');
  assert.equal(cables.length, 1);
  return cables[0]!;
};

test('a remote running the same cable becomes a cable endpoint the IPsec plan takes', () => {
  const west = remote('west');
  const result = remoteCables([west], LOCAL);
  assert.deepEqual(result, {
    cables: [{
      cableName: 'submariner-cable-west-192-168-1-10', clusterId: 'west', privateIp: '192.168.1.10', address: '192.168.1.10',
      subnets: ['10.2.0.0/16', '10.202.0.0/16'], natTPort: 4500,
    }],
    rejected: [],
  });
  const planned = planConnection(
    { privateIp: '192.168.2.10', subnets: [{ cidr: '10.244.0.0/16', kind: 'pods' }], natTPort: 4500, addresses: ['192.168.2.10'] },
    result.cables[0]!, { ...DEFAULT_IPSEC_SETTINGS, espMode: 'xfrm' },
  );
  assert.equal(planned.children.length, 2);
});

test('a remote running another cable is rejected naming both backends; an empty or missing backend too', () => {
  assert.equal(reasonOf(remote('west', { backend: 'wireguard' })), 'runs the "wireguard" cable; this gateway runs "libreswan"');
  assert.equal(reasonOf(remote('west', { backend: 'vxlan' })), 'runs the "vxlan" cable; this gateway runs "libreswan"');
  assert.equal(reasonOf(remote('west', { backend: 'libreswan' }), { ...LOCAL, backend: 'wireguard' }), 'runs the "libreswan" cable; this gateway runs "wireguard"');
  assert.equal(reasonOf(remote('west', { backend: 'Libreswan' })), 'runs the "Libreswan" cable; this gateway runs "libreswan"', 'names are compared exactly');
  for (const backend of ['', undefined, null, 7]) {
    assert.equal(reasonOf(remote('west', { backend })), 'announces no cable backend; this gateway runs "libreswan"', String(backend));
  }
  const huge = reasonOf(remote('west', { backend: 'x'.repeat(10_000) }));
  assert.ok(huge.length < 200, 'a huge backend name is clipped');
  assert.match(huge, /\.\.\.\(10000 chars\)/);
});

test('udp-port: a decimal port from 1 to 65535 is the NAT-T port; absent means 4500', () => {
  assert.equal(cableOf(remote('west', { backend_config: { 'udp-port': '4501' } })).natTPort, 4501);
  assert.equal(cableOf(remote('west', { backend_config: { 'udp-port': '1' } })).natTPort, 1);
  assert.equal(cableOf(remote('west', { backend_config: { 'udp-port': '65535' } })).natTPort, 65535);
  assert.equal(cableOf(remote('west', { backend_config: { 'natt-discovery-port': '4490' } })).natTPort, 4500, 'absent');
  assert.equal(cableOf(remote('west', { backend_config: {} })).natTPort, 4500, 'empty backend_config');
  assert.equal(cableOf(remote('west', { backend_config: null })).natTPort, 4500, 'null (Go\'s nil map)');
  assert.equal(cableOf(remote('west', { backend_config: undefined })).natTPort, 4500, 'missing');
});

test('udp-port: anything else is rejected naming the value, clipped', () => {
  const cases: Array<[string, string]> = [
    ['0', '"0"'], ['65536', '"65536"'], ['99999', '"99999"'], ['', '""'], ['-1', '"-1"'], ['+4500', '"+4500"'], ['4500.0', '"4500.0"'],
    ['0x1194', '"0x1194"'], [' 4500', '" 4500"'], ['4500 ', '"4500 "'], ['1e3', '"1e3"'], ['port', '"port"'], ['123456', '"123456"'],
  ];
  for (const [value, shown] of cases) {
    assert.equal(reasonOf(remote('west', { backend_config: { 'udp-port': value } })), `backend_config "udp-port" is ${shown}, not a decimal port from 1 to 65535`, value);
  }
  const huge = reasonOf(remote('west', { backend_config: { 'udp-port': '4'.repeat(5000) } }));
  assert.ok(huge.length < 200, huge);
  assert.match(huge, /^backend_config "udp-port" is "4{64}\.\.\.\(5000 chars\)", not a decimal port/);
});

test('a malformed backend_config: the route agent keeps the Endpoint, the gateway refuses its cable', () => {
  const notObject = remote('west', { backend_config: 'udp-port=4500' });
  assert.equal(reasonOf(notObject), 'malformed backend_config: spec.backend_config: expected an object of strings, got string udp-port=4500');
  assert.equal(reasonOf(remote('west', { backend_config: ['4500'] })), 'malformed backend_config: spec.backend_config: expected an object of strings, got an array');
  const numeric = remote('west', { backend_config: { 'udp-port': 4500, 'natt-discovery-port': '4490' } });
  assert.deepEqual(numeric.spec.backendConfig, { 'natt-discovery-port': '4490' }, 'the parser keeps the string entries');
  assert.equal(reasonOf(numeric), 'malformed backend_config: spec.backend_config["udp-port"]: expected a string, got number 4500',
    'not taken for an absent udp-port (4500): the remote said something else');
  assert.equal(reasonOf(remote('west', { backend_config: { preferred: true } })), 'malformed backend_config: spec.backend_config["preferred"]: expected a string, got boolean true',
    'any entry that is not a string, even one the cable does not read');
  const many = reasonOf(remote('west', { backend_config: Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, i])) }));
  assert.match(many, /^malformed backend_config: spec.backend_config\["k0"\]: .*; spec.backend_config\["k1"\]: .*; spec.backend_config\["k2"\]: .*; and 997 more$/);

  // The cluster-wide verdict (the route agent's) accepts it all the same.
  const setCtx: EndpointSetContext = { ...ctx, apiServerAddresses: [], maxRemoteSubnets: 10_000 };
  const local = endpoint('east', spec({ cluster_id: 'east', hostname: 'east-gw', private_ip: '192.168.2.10', subnets: ['10.244.0.0/16'] }));
  const set = buildEndpointSet({ endpoints: [local, endpoint('west', spec({ backend_config: { 'udp-port': 4500 } }))], clusters: [], nodes: [gatewayNode('east-gw', '192.168.2.10')] }, setCtx);
  assert.deepEqual(set.remotes.map((r) => r.spec.clusterId), ['west']);
  assert.deepEqual(set.rejected, []);
  assert.match(set.remotes[0]!.spec.backendConfigProblem ?? '', /udp-port/);
  assert.match(remoteCables(set.remotes, LOCAL).rejected[0]?.reason ?? '', /^malformed backend_config/);
});

test('a well-formed Endpoint has no backendConfigProblem at all', () => {
  assert.equal('backendConfigProblem' in remote('west').spec, false);
  assert.equal('backendConfigProblem' in remote('west', { backend_config: null }).spec, false);
});

test('the address before NAT discovery answers: the public IP when either side has NAT enabled (or the remote is behind a load balancer) and it announces one', () => {
  const natRemote = { nat_enabled: true, public_ip: '203.0.113.10' };
  assert.equal(cableOf(remote('west', natRemote), { ...LOCAL, natEnabled: true }).address, '203.0.113.10', 'both');
  assert.equal(cableOf(remote('west', natRemote), { ...LOCAL, natEnabled: false }).address, '203.0.113.10', 'the remote is behind NAT');
  assert.equal(cableOf(remote('west', { ...natRemote, nat_enabled: false }), { ...LOCAL, natEnabled: true }).address, '203.0.113.10', 'this side is behind NAT');
  assert.equal(cableOf(remote('west', { ...natRemote, nat_enabled: false })).address, '192.168.1.10', 'neither');
  assert.equal(cableOf(remote('west', { ...natRemote, nat_enabled: false, backend_config: { 'using-loadbalancer': 'true' } })).address, '203.0.113.10', 'a load balancer in front of the remote');
  assert.equal(cableOf(remote('west', { ...natRemote, nat_enabled: 'yes' }), { ...LOCAL, natEnabled: false }).address, '192.168.1.10', 'a non-boolean nat_enabled is false');
  for (const noPublic of [{ public_ip: undefined }, { public_ip: '' }, { public_ip: 'fd00::10' }, { public_ip: 'garbage' }]) {
    assert.equal(cableOf(remote('west', { ...natRemote, ...noPublic }), { ...LOCAL, natEnabled: true }).address, '192.168.1.10', JSON.stringify(noPublic));
  }
  assert.equal(cableOf(remote('west', { nat_enabled: true, public_ip: undefined, publicIPs: ['fd00::10', '203.0.113.7'] }), { ...LOCAL, natEnabled: true }).address,
    '203.0.113.7', 'the IPv4 entry of publicIPs');
  const cable = cableOf(remote('west', natRemote), { ...LOCAL, natEnabled: true });
  assert.equal(cable.privateIp, '192.168.1.10', 'the identity stays the private IP');
});

test('the private address may come from privateIPs (dual-stack)', () => {
  const cable = cableOf(remote('west', { private_ip: undefined, privateIPs: ['fd00::10', '192.168.1.11'] }));
  assert.equal(cable.privateIp, '192.168.1.11');
  assert.equal(cable.address, '192.168.1.11');
});

test('cable names: what the IPsec plan takes, or rejected with why', () => {
  assert.equal(cableOf(remote('west', { cable_name: 'a' })).cableName, 'a');
  assert.equal(cableOf(remote('west', { cable_name: 'x'.repeat(128) })).cableName, 'x'.repeat(128));
  assert.equal(cableOf(remote('west', { cable_name: 'A_b.c-9' })).cableName, 'A_b.c-9');
  for (const missing of ['', undefined, null, 5]) {
    assert.equal(reasonOf(remote('west', { cable_name: missing })), 'announces no cable name', String(missing));
  }
  for (const bad of ['has space', '-leading-dash', '.dot', 'x'.repeat(129), 'slash/name', 'ümlaut', 'new\nline']) {
    assert.match(reasonOf(remote('west', { cable_name: bad })), /^cable name ".*" is not usable: a cable name must be 1-128 letters, digits, dots, dashes or underscores/, JSON.stringify(bad));
  }
  assert.ok(reasonOf(remote('west', { cable_name: '!'.repeat(10_000) })).length < 300, 'clipped');
  assert.match(reasonOf(remote('west', { cable_name: 'new\nline' })), /^cable name "new\\nline" is not usable/, 'control characters escaped');
});

test('two remotes with the same cable name: the later one by cluster id is rejected, naming the holder', () => {
  const name = 'submariner-cable-shared';
  const a = remote('alpha', { cable_name: name });
  const b = remote('beta', { cable_name: name });
  const c = remote('gamma', { cable_name: name });
  for (const input of [[a, b, c], [c, b, a], [b, c, a]]) {
    const result = remoteCables(input, LOCAL);
    assert.deepEqual(result.cables.map((x) => x.clusterId), ['alpha']);
    assert.deepEqual(result.rejected.map((x) => [x.clusterId, x.reason]), [
      ['beta', `cable name "${name}" is already the cable of cluster "alpha" (Endpoint ${NAMESPACE}/alpha-ep)`],
      ['gamma', `cable name "${name}" is already the cable of cluster "alpha" (Endpoint ${NAMESPACE}/alpha-ep)`],
    ]);
  }
  // A remote rejected for another reason claims no name: the next one with it gets its cable.
  const result = remoteCables([remote('alpha', { cable_name: name, backend: 'wireguard' }), b], LOCAL);
  assert.deepEqual(result.cables.map((x) => x.clusterId), ['beta']);
  assert.deepEqual(result.rejected.map((x) => x.clusterId), ['alpha']);
});

test('no subnets: rejected (an IPv6-only list counts as none)', () => {
  assert.equal(reasonOf(remote('west', { subnets: [] })), 'announces no subnets');
  assert.equal(reasonOf(remote('west', { subnets: null })), 'announces no subnets');
  assert.equal(reasonOf(remote('west', { subnets: ['fd00:2::/64'] })), 'announces no subnets');
  assert.deepEqual(cableOf(remote('west', { subnets: ['fd00:2::/64', '10.2.3.4/16', '10.2.0.0/16'] })).subnets, ['10.2.0.0/16'], 'canonical, from the parser');
});

test('sorted by cluster id, whatever the input order; the rejected ones too, with their Endpoint', () => {
  const all = [
    remote('delta'), remote('alpha', { backend: 'wireguard' }), remote('charlie'), remote('bravo', { subnets: [] }), remote('echo', { backend_config: { 'udp-port': 'x' } }),
  ];
  for (let seed = 0; seed < 10; seed++) {
    const result = remoteCables(shuffled(all, seed), LOCAL);
    assert.deepEqual(result.cables.map((c) => c.clusterId), ['charlie', 'delta']);
    assert.deepEqual(result.rejected.map((r) => [r.clusterId, r.endpoint]), [
      ['alpha', `${NAMESPACE}/alpha-ep`], ['bravo', `${NAMESPACE}/bravo-ep`], ['echo', `${NAMESPACE}/echo-ep`],
    ]);
  }
  assert.deepEqual(remoteCables([], LOCAL), { cables: [], rejected: [] });
});

test('one bad Endpoint among good ones affects only itself, even one that cannot be read at all', () => {
  const good = [remote('alpha'), remote('charlie', { cable_name: 'submariner-cable-charlie-x' })];
  const broken = [
    { object: endpoint('bravo-ep', {}), spec: null } as unknown as AcceptedEndpoint,
    { object: endpoint('bravo-2', {}), spec: { clusterId: 'bravo', backend: 'libreswan', backendConfig: null, cableName: 'c', privateIp: 7, subnets: ['10.9.0.0/16'] } } as unknown as AcceptedEndpoint,
    { object: endpoint('bravo-3', {}), spec: { clusterId: 'bravo3', backend: 'libreswan', backendConfig: {}, cableName: 'c3', privateIp: '10.0.0.1', subnets: ['10.9.0.1/16'] } } as unknown as AcceptedEndpoint,
    { object: null, spec: { clusterId: 'bravo4', backend: 'libreswan', backendConfig: {}, cableName: 'c4', privateIp: '10.0.0.1', subnets: 'x' } } as unknown as AcceptedEndpoint,
    null as unknown as AcceptedEndpoint,
    remote('delta', { backend: 'wireguard' }),
  ];
  const result = remoteCables([...broken, ...good], LOCAL);
  assert.deepEqual(result.cables.map((c) => c.clusterId), ['alpha', 'charlie']);
  assert.equal(result.rejected.length, broken.length);
  const reasons = Object.fromEntries(result.rejected.map((r) => [`${r.clusterId} ${r.endpoint}`, r.reason]));
  assert.match(reasons[' ?/?'] ?? '', /^cannot be read: /);
  assert.match(reasons[` ${NAMESPACE}/bravo-ep`] ?? '', /^cannot be read: /);
  assert.equal(reasons[`bravo ${NAMESPACE}/bravo-2`], 'private IP "7" is not an IPv4 address');
  assert.equal(reasons[`bravo3 ${NAMESPACE}/bravo-3`], 'subnet "10.9.0.1/16" is not a canonical IPv4 CIDR');
  assert.equal(reasons['bravo4 ?/?'], 'announces no subnets');
  assert.match(reasons[`delta ${NAMESPACE}/delta-ep`] ?? '', /wireguard/);
});

test('a WireGuard remote needs a usable public key, which its cable then carries', () => {
  const local: RemoteCablesLocal = { backend: 'wireguard', natEnabled: false };
  const key = Buffer.alloc(32, 5).toString('base64');
  const withKey = cableOf(remote('west', { backend: 'wireguard', backend_config: { publicKey: key, 'udp-port': '4500' } }), local);
  assert.equal(withKey.publicKey, key);
  assert.match(reasonOf(remote('west', { backend: 'wireguard', backend_config: { 'udp-port': '4500' } }), local), /backend_config "publicKey" is missing/);
  assert.match(reasonOf(remote('west', { backend: 'wireguard', backend_config: { publicKey: 'abc' } }), local), /backend_config "publicKey" is not 32 bytes in base64/);
  // Another cable kind is named as such, whatever its key.
  assert.match(reasonOf(remote('west', { backend: 'libreswan', backend_config: { publicKey: key } }), local), /runs the "libreswan" cable; this gateway runs "wireguard"/);
  assert.equal('publicKey' in cableOf(remote('west')), false, 'an IPsec cable carries no key');
});

test('two WireGuard remotes with one public key: the first keeps its cable, the second is refused naming it', () => {
  const local: RemoteCablesLocal = { backend: 'wireguard', natEnabled: false };
  const key = Buffer.alloc(32, 5).toString('base64');
  const west = remote('west', { backend: 'wireguard', backend_config: { publicKey: key } });
  const north = remote('north', { backend: 'wireguard', cable_name: 'submariner-cable-north-192-168-2-10', private_ip: '192.168.2.10', subnets: ['10.3.0.0/16'], backend_config: { publicKey: key } });
  const { cables, rejected } = remoteCables([west, north], local);
  assert.deepEqual(cables.map((c) => c.clusterId), ['north']);
  assert.match(rejected[0]!.reason, /its WireGuard public key is already the key of cluster "north"/);
});
