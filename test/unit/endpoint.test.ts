import { test } from 'node:test';
import assert from 'node:assert/strict';
import { endpointValidationContext, validateEndpoint, type EndpointValidation } from '../../src/model/endpoint.ts';
import { spec } from './model-fixtures.ts';

const ctx = endpointValidationContext({
  localClusterId: 'east',
  podCidrs: ['10.244.0.0/16'],
  serviceCidrs: ['10.96.0.0/12'],
  minPrefixLength: 8,
  maxSubnets: 64,
});

function rejection(result: EndpointValidation): { reason: string; message: string } {
  assert.equal(result.ok, false, 'expected a rejection');
  if (result.ok) throw new Error('unreachable');
  return result;
}

function accepted(result: EndpointValidation) {
  if (!result.ok) assert.fail(`expected acceptance, got ${result.reason}: ${result.message}`);
  return result;
}

test('a well-formed remote Endpoint becomes a typed value with canonical subnets', () => {
  const result = accepted(validateEndpoint(spec(), ctx));
  assert.deepEqual(result.endpoint, {
    clusterId: 'west', cableName: 'submariner-cable-west-192-168-1-10', hostname: 'west-gw',
    subnets: ['10.2.0.0/16', '10.202.0.0/16'], privateIp: '192.168.1.10', privateIps: ['192.168.1.10'], publicIps: ['203.0.113.10'],
    healthCheckIps: ['10.2.0.1'], natEnabled: false, backend: 'libreswan', backendConfig: { 'natt-discovery-port': '4490', 'udp-port': '4500' },
  });
  assert.equal(result.subnets.length, 2);
  assert.deepEqual(result.notes, []);
});

test('optional fields may be missing or null (as Go encodes zero values)', () => {
  const result = accepted(validateEndpoint({ cluster_id: 'west', private_ip: '192.168.1.10', subnets: null, backend_config: null, public_ip: '', publicIPs: null }, ctx));
  assert.deepEqual(result.endpoint.subnets, []);
  assert.deepEqual(result.endpoint.publicIps, []);
  assert.deepEqual(result.endpoint.healthCheckIps, []);
  assert.equal(result.endpoint.hostname, '');
  assert.equal(result.endpoint.natEnabled, false);
  assert.deepEqual(result.endpoint.backendConfig, {});
  assert.deepEqual(result.notes, []);
});

test('host bits are normalised and noted; duplicate subnets collapse', () => {
  const result = accepted(validateEndpoint(spec({ subnets: ['10.2.3.4/16', '10.2.0.0/16', '10.3.0.0/16'] }), ctx));
  assert.deepEqual(result.endpoint.subnets, ['10.2.0.0/16', '10.3.0.0/16']);
  assert.deepEqual(result.notes.map((n) => n.code), ['subnet-normalised']);
  assert.match(result.notes[0]?.message ?? '', /spec.subnets\[0\]: "10.2.3.4\/16" has host bits set; using 10.2.0.0\/16/);
});

test('malformed fields seaway uses reject, with the field path', () => {
  const cases: Array<[unknown, RegExp]> = [
    [null, /^spec: expected an object, got null/],
    [undefined, /^spec: expected an object, got undefined/],
    ['a string', /^spec: expected an object, got string/],
    [[1, 2], /^spec: expected an object, got an array/],
    [spec({ cluster_id: undefined }), /^spec.cluster_id: missing/],
    [spec({ cluster_id: 7 }), /^spec.cluster_id: expected a string, got number 7/],
    [spec({ cluster_id: '' }), /^spec.cluster_id: empty/],
    [spec({ cluster_id: 'c'.repeat(64) }), /^spec.cluster_id: 64 characters; at most 63/],
    [spec({ private_ip: undefined }), /^spec.private_ip: missing, and spec.privateIPs has no IPv4 address/],
    [spec({ private_ip: '' }), /^spec.private_ip: empty/],
    [spec({ private_ip: 192 }), /^spec.private_ip: expected a string, got number 192/],
    [spec({ private_ip: undefined, privateIPs: '192.168.1.10' }), /^spec.privateIPs: expected an array of strings, got string/],
    [spec({ privateIPs: ['192.168.1.10', 'fd00::1', '192.168.1.11'] }), /^spec.privateIPs: 3 entries, at most 2/],
    [spec({ privateIPs: [null] }), /^spec.privateIPs\[0\]: expected a string, got null/],
    [spec({ private_ip: undefined, privateIPs: [] }), /^spec.private_ip: missing/],
    [spec({ subnets: undefined }), /^spec.subnets: missing/],
    [spec({ subnets: '10.0.0.0/8' }), /^spec.subnets: expected an array of strings, got string/],
    [spec({ subnets: ['10.2.0.0/16', null] }), /^spec.subnets\[1\]: expected a string, got null/],
    [spec({ subnets: ['10.2.0.0/16', { cidr: '10.3.0.0/16' }] }), /^spec.subnets\[1\]: expected a string, got an object/],
    [spec({ cluster_id: 'east', hostname: undefined }), /^spec.hostname: missing/],
    [spec({ cluster_id: 'east', hostname: ['gw'] }), /^spec.hostname: expected a string, got an array/],
    [spec({ cluster_id: 'east', hostname: '' }), /^spec.hostname: empty; the local Endpoint must name its gateway node/],
  ];
  for (const [input, message] of cases) {
    const result = rejection(validateEndpoint(input, ctx));
    assert.equal(result.reason, 'malformed', JSON.stringify(input));
    assert.match(result.message, message, JSON.stringify(input));
  }
});

test('fields seaway does not use never reject: a bad value is noted and ignored, an IPv6 one passes silently', () => {
  const cases: Array<[Record<string, unknown>, RegExp | null]> = [
    [{ hostname: undefined }, null],
    [{ hostname: 5 }, /^spec.hostname: expected a string, got number 5; ignored/],
    [{ public_ip: {} }, /^spec.public_ip: expected a string, got an object; ignored/],
    [{ public_ip: 'fd00::10' }, null],
    [{ public_ip: '01.2.3.4' }, /^spec.public_ip: .*leading zero; ignored/],
    [{ publicIPs: 'x' }, /^spec.publicIPs: expected an array of strings, got string x; ignored/],
    [{ publicIPs: ['203.0.113.10', 'fd00::10'] }, null],
    [{ publicIPs: [1] }, /^spec.publicIPs\[0\]: expected a string, got number 1; ignored/],
    [{ publicIPs: ['1.1.1.1', '2.2.2.2', '3.3.3.3'] }, /^spec.publicIPs: 3 entries, more than 2; entries after the first 2; ignored/],
    [{ healthCheckIP: true }, /^spec.healthCheckIP: expected a string, got boolean true; ignored/],
    [{ healthCheckIP: 'x' }, /^spec.healthCheckIP: "x" is not a dotted-quad/],
    [{ healthCheckIP: 'fd00::1', healthCheckIPs: ['fd00::1', '10.2.0.1'] }, null],
    [{ healthCheckIPs: {} }, /^spec.healthCheckIPs: expected an array/],
    [{ cable_name: 1 }, /^spec.cable_name: expected a string, got number 1; ignored/],
    [{ backend: false }, /^spec.backend: expected a string/],
    [{ nat_enabled: 'yes' }, /^spec.nat_enabled: expected a boolean, got string yes; ignored/],
    [{ backend_config: 'x' }, /^spec.backend_config: expected an object of strings/],
    [{ backend_config: { 'udp-port': 4500, 'natt-discovery-port': '4490' } }, /^spec.backend_config\["udp-port"\]: expected a string, got number 4500; ignored/],
  ];
  for (const [overrides, note] of cases) {
    const result = accepted(validateEndpoint(spec(overrides), ctx));
    assert.deepEqual(result.endpoint.subnets, ['10.2.0.0/16', '10.202.0.0/16'], JSON.stringify(overrides));
    if (note === null) assert.deepEqual(result.notes, [], JSON.stringify(overrides));
    else {
      assert.deepEqual(result.notes.map((n) => n.code), ['field-ignored'], JSON.stringify(overrides));
      assert.match(result.notes[0]?.message ?? '', note, JSON.stringify(overrides));
    }
  }
  // What is readable is kept: the valid entry of a half-bad backend_config, the IPv4 halves of dual-stack pairs.
  const mixed = accepted(validateEndpoint(spec({ backend_config: { 'udp-port': 4500, 'natt-discovery-port': '4490' } }), ctx));
  assert.deepEqual(mixed.endpoint.backendConfig, { 'natt-discovery-port': '4490' });
  const dual = accepted(validateEndpoint(spec({ public_ip: 'fd00::10', publicIPs: ['fd00::10', '203.0.113.7'], healthCheckIP: 'fd00::1', healthCheckIPs: ['fd00::1', '10.2.0.1'] }), ctx));
  assert.deepEqual(dual.endpoint.publicIps, ['203.0.113.7']);
  assert.deepEqual(dual.endpoint.healthCheckIps, ['10.2.0.1']);
});

test('a malformed backend_config is routed all the same, and recorded for the gateway (which refuses a cable to it)', () => {
  const bad = accepted(validateEndpoint(spec({ backend_config: { 'udp-port': 4500, 'natt-discovery-port': '4490', preferred: true } }), ctx));
  assert.deepEqual(bad.endpoint.subnets, ['10.2.0.0/16', '10.202.0.0/16']);
  assert.equal(bad.endpoint.backendConfigProblem, 'spec.backend_config["udp-port"]: expected a string, got number 4500; spec.backend_config["preferred"]: expected a string, got boolean true');
  assert.match(bad.notes[0]?.message ?? '', /; ignored for routing \(a gateway refuses a cable to this Endpoint\)$/);
  assert.equal(accepted(validateEndpoint(spec({ backend_config: 7 }), ctx)).endpoint.backendConfigProblem, 'spec.backend_config: expected an object of strings, got number 7');
  const many = accepted(validateEndpoint(spec({ backend_config: Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, i])) }), ctx));
  assert.match(many.endpoint.backendConfigProblem ?? '', /^spec.backend_config\["k0"\]: .*\["k2"\]: expected a string, got number 2; and 47 more$/, 'bounded');
  for (const fine of [{}, { backend_config: null }, { backend_config: {} }]) {
    assert.equal('backendConfigProblem' in accepted(validateEndpoint(spec(fine), ctx)).endpoint, false, JSON.stringify(fine));
  }
});

test('dual-stack: IPv6 subnets are skipped with a note, the IPv4 ones kept; the private address may come from privateIPs', () => {
  const result = accepted(validateEndpoint(spec({ subnets: ['fd00:2::/64', '10.2.0.0/16', 'fd00:3::/64'] }), ctx));
  assert.deepEqual(result.endpoint.subnets, ['10.2.0.0/16']);
  assert.deepEqual(result.notes.map((n) => n.code), ['ipv6-subnet-skipped', 'ipv6-subnet-skipped']);
  assert.match(result.notes[0]?.message ?? '', /spec.subnets\[0\]: fd00:2::\/64 is IPv6; only the IPv4 subnets are routed/);

  const plural = accepted(validateEndpoint(spec({ private_ip: undefined, privateIPs: ['fd00::10', '192.168.1.10'] }), ctx));
  assert.equal(plural.endpoint.privateIp, '192.168.1.10');
  const v6Singular = accepted(validateEndpoint(spec({ private_ip: 'fd00::10', privateIPs: ['fd00::10', '192.168.1.10'] }), ctx));
  assert.equal(v6Singular.endpoint.privateIp, '192.168.1.10');
  // The singular field wins when both give an IPv4 address; both are kept for the address checks.
  const both = accepted(validateEndpoint(spec({ private_ip: '192.168.1.10', privateIPs: ['192.168.1.99'] }), ctx));
  assert.equal(both.endpoint.privateIp, '192.168.1.10');
  assert.deepEqual(both.endpoint.privateIps, ['192.168.1.10', '192.168.1.99']);
  const same = accepted(validateEndpoint(spec({ privateIPs: ['192.168.1.10', 'fd00::10'] }), ctx));
  assert.deepEqual(same.endpoint.privateIps, ['192.168.1.10']);
  // An Endpoint with only IPv6 subnets is accepted and routes nothing.
  const v6only = accepted(validateEndpoint(spec({ subnets: ['fd00:2::/64'] }), ctx));
  assert.deepEqual(v6only.subnets, []);
});

test('each semantic rejection reason, with a message naming the subnet and what it collides with', () => {
  const cases: Array<[Record<string, unknown>, string, RegExp]> = [
    [{ private_ip: '192.168.1.300' }, 'invalid-ip', /spec.private_ip: .*above 255/],
    [{ private_ip: 'gateway' }, 'invalid-ip', /spec.private_ip/],
    [{ private_ip: undefined, privateIPs: ['10.0.0.1.1'] }, 'invalid-ip', /spec.privateIPs\[0\]/],
    [{ private_ip: 'fd00::10' }, 'ipv6-unsupported', /no IPv4 address, only IPv6/],
    [{ private_ip: undefined, privateIPs: ['fd00::10'] }, 'ipv6-unsupported', /no IPv4 address/],
    [{ subnets: ['10.2.0.0/16', '10.3.0.0'] }, 'invalid-cidr', /spec.subnets\[1\]: .*not a CIDR/],
    [{ subnets: ['10.2.0.0/40'] }, 'invalid-cidr', /prefix length "40"/],
    [{ subnets: ['garbage'] }, 'invalid-cidr', /spec.subnets\[0\]/],
    [{ subnets: ['0.0.0.0/0'] }, 'default-route', /default route/],
    [{ subnets: ['10.2.0.0/0'] }, 'default-route', /default route/],
    [{ subnets: ['10.0.0.0/7'] }, 'too-broad', /10.0.0.0\/7 is broader than the allowed \/8/],
    [{ subnets: ['0.1.0.0/16'] }, 'reserved-range', /"this network"/],
    [{ subnets: ['127.0.0.0/8'] }, 'reserved-range', /loopback/],
    [{ subnets: ['169.254.0.0/24'] }, 'reserved-range', /link-local/],
    [{ subnets: ['224.1.0.0/16'] }, 'reserved-range', /multicast/],
    [{ subnets: ['239.255.0.0/16'] }, 'reserved-range', /multicast/],
    [{ subnets: ['240.1.0.0/16'] }, 'reserved-range', /vx-submariner VTEP range 240.0.0.0\/8/],
    [{ subnets: ['240.0.0.0/8'] }, 'reserved-range', /vx-submariner VTEP/],
    [{ subnets: ['255.255.255.0/24'] }, 'reserved-range', /limited broadcast/],
    [{ subnets: ['10.244.5.0/24'] }, 'overlaps-local', /10.244.5.0\/24 overlaps the local pod CIDR 10.244.0.0\/16/],
    [{ subnets: ['10.0.0.0/8'] }, 'overlaps-local', /overlaps the local pod CIDR/],
    [{ subnets: ['10.100.0.0/16'] }, 'overlaps-local', /local service CIDR 10.96.0.0\/12/],
    [{ subnets: Array.from({ length: 65 }, (_, i) => `10.${i}.0.0/16`) }, 'too-many-subnets', /65 subnets, more than the allowed 64/],
  ];
  for (const [overrides, reason, message] of cases) {
    const result = rejection(validateEndpoint(spec(overrides), ctx));
    assert.equal(result.reason, reason, JSON.stringify(overrides).slice(0, 100));
    assert.match(result.message, message, JSON.stringify(overrides).slice(0, 100));
  }
});

test('Globalnet\'s 242.0.0.0/8 and the rest of the old class E outside 240.0.0.0/8 are accepted', () => {
  for (const subnet of ['242.0.0.0/8', '242.1.0.0/16', '241.0.0.0/8', '254.0.0.0/8']) {
    assert.deepEqual(accepted(validateEndpoint(spec({ subnets: [subnet] }), ctx)).endpoint.subnets, [subnet]);
  }
});

test('a node\'s own networks are no concern of the per-object validation (they are node-local: plan/node-local-refusals)', () => {
  assert.ok(validateEndpoint(spec({ subnets: ['172.17.0.0/16', '192.168.1.128/25'] }), ctx).ok);
});

test('a huge subnet list is rejected without walking it, and a huge string gives a bounded message', () => {
  // Holes read as undefined: had the items been type-checked first, the reason would be 'malformed'.
  const huge = new Array(5_000_000);
  const result = rejection(validateEndpoint(spec({ subnets: huge }), ctx));
  assert.equal(result.reason, 'too-many-subnets');
  assert.match(result.message, /5000000 subnets/);
  const long = rejection(validateEndpoint(spec({ subnets: ['1'.repeat(1_000_000)] }), ctx));
  assert.equal(long.reason, 'invalid-cidr');
  assert.ok(long.message.length < 300);
  const longNote = accepted(validateEndpoint(spec({ public_ip: 'x'.repeat(1_000_000) }), ctx));
  assert.ok((longNote.notes[0]?.message.length ?? 0) < 300);
  // A huge plural list of an unused field is not walked either.
  const manyPublic = accepted(validateEndpoint(spec({ publicIPs: new Array(5_000_000).fill('203.0.113.1') }), ctx));
  assert.deepEqual(manyPublic.endpoint.publicIps, ['203.0.113.10', '203.0.113.1']);
});

test('minimum prefix length is configurable', () => {
  const strict = { ...ctx, minPrefixLength: 16 };
  assert.equal(rejection(validateEndpoint(spec({ subnets: ['10.2.0.0/15'] }), strict)).reason, 'too-broad');
  assert.ok(validateEndpoint(spec({ subnets: ['10.2.0.0/16'] }), strict).ok);
  assert.ok(validateEndpoint(spec({ subnets: ['11.0.0.0/8'] }), ctx).ok);
});

test('the local Endpoint: not checked against local CIDRs, its subnets never reject it, but it must name its gateway and a private IP', () => {
  const local = accepted(validateEndpoint(spec({ cluster_id: 'east', hostname: 'east-gw', subnets: ['10.244.0.0/16', '10.96.0.0/12', 'fd00::/64'] }), ctx));
  assert.equal(local.endpoint.hostname, 'east-gw');
  assert.deepEqual(local.subnets, []);
  assert.deepEqual(local.endpoint.subnets, ['10.244.0.0/16', '10.96.0.0/12', 'fd00::/64']);
  assert.equal(rejection(validateEndpoint(spec({ cluster_id: 'east', private_ip: 'nope' }), ctx)).reason, 'invalid-ip');
  assert.ok(validateEndpoint(spec({ cluster_id: 'east', subnets: Array.from({ length: 100 }, () => '10.244.0.0/16') }), ctx).ok);
  const localSubnets: Array<[unknown, string[]]> = [
    [undefined, []], [null, []], ['x', []], [[1, '10.244.0.0/16'], ['10.244.0.0/16']], [['0.0.0.0/0', 'garbage'], ['0.0.0.0/0', 'garbage']], // strings are kept as published: the local Endpoint is never routed
  ];
  for (const [subnets, kept] of localSubnets) {
    assert.deepEqual(accepted(validateEndpoint(spec({ cluster_id: 'east', subnets }), ctx)).endpoint.subnets, kept, JSON.stringify(subnets));
  }
});
