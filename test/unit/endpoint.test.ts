import { test } from 'node:test';
import assert from 'node:assert/strict';
import { endpointValidationContext, validateEndpoint, type EndpointValidation } from '../../src/model/endpoint.ts';
import { spec } from './model-fixtures.ts';

const ctx = endpointValidationContext({
  localClusterId: 'east',
  podCidrs: ['10.244.0.0/16'],
  serviceCidrs: ['10.96.0.0/12'],
  nodeNetworks: ['192.168.1.5/24', '172.17.0.1/16', 'fe80::1/64', 'garbage'],
  minPrefixLength: 8,
  maxSubnets: 64,
});

function rejection(result: EndpointValidation): { reason: string; message: string } {
  assert.equal(result.ok, false, 'expected a rejection');
  if (result.ok) throw new Error('unreachable');
  return result;
}

test('a well-formed remote Endpoint becomes a typed value with canonical subnets', () => {
  const result = validateEndpoint(spec(), ctx);
  assert.ok(result.ok);
  assert.deepEqual(result.endpoint, {
    clusterId: 'west', cableName: 'submariner-cable-west-192-168-1-10', healthCheckIp: '10.2.0.1', hostname: 'west-gw',
    subnets: ['10.2.0.0/16', '10.202.0.0/16'], privateIp: '192.168.1.10', publicIp: '203.0.113.10', natEnabled: false,
    backend: 'libreswan', backendConfig: { 'natt-discovery-port': '4490', 'udp-port': '4500' },
  });
  assert.equal(result.subnets.length, 2);
  assert.deepEqual(result.notes, []);
});

test('optional fields may be missing or null (as Go encodes zero values)', () => {
  const result = validateEndpoint({ cluster_id: 'west', hostname: 'gw', private_ip: '192.168.1.10', subnets: null, backend_config: null, public_ip: '' }, ctx);
  assert.ok(result.ok);
  assert.deepEqual(result.endpoint.subnets, []);
  assert.equal(result.endpoint.publicIp, null);
  assert.equal(result.endpoint.healthCheckIp, null);
  assert.equal(result.endpoint.natEnabled, false);
  assert.deepEqual(result.endpoint.backendConfig, {});
});

test('host bits are normalised and noted; duplicate subnets collapse', () => {
  const result = validateEndpoint(spec({ subnets: ['10.2.3.4/16', '10.2.0.0/16', '10.3.0.0/16'] }), ctx);
  assert.ok(result.ok);
  assert.deepEqual(result.endpoint.subnets, ['10.2.0.0/16', '10.3.0.0/16']);
  assert.equal(result.notes.length, 1);
  assert.match(result.notes[0] ?? '', /spec.subnets\[0\]: "10.2.3.4\/16" has host bits set; using 10.2.0.0\/16/);
});

test('malformed objects are rejected with the field path', () => {
  const cases: Array<[unknown, RegExp]> = [
    [null, /^spec: expected an object, got null/],
    [undefined, /^spec: expected an object, got undefined/],
    ['a string', /^spec: expected an object, got string/],
    [[1, 2], /^spec: expected an object, got an array/],
    [spec({ cluster_id: undefined }), /^spec.cluster_id: missing/],
    [spec({ cluster_id: 7 }), /^spec.cluster_id: expected a string, got number 7/],
    [spec({ cluster_id: '' }), /^spec.cluster_id: empty/],
    [spec({ hostname: undefined }), /^spec.hostname: missing/],
    [spec({ hostname: ['gw'] }), /^spec.hostname: expected a string, got an array/],
    [spec({ private_ip: undefined }), /^spec.private_ip: missing/],
    [spec({ private_ip: 192 }), /^spec.private_ip: expected a string/],
    [spec({ public_ip: {} }), /^spec.public_ip: expected a string, got an object/],
    [spec({ healthCheckIP: true }), /^spec.healthCheckIP: expected a string/],
    [spec({ cable_name: 1 }), /^spec.cable_name: expected a string/],
    [spec({ backend: false }), /^spec.backend: expected a string/],
    [spec({ nat_enabled: 'yes' }), /^spec.nat_enabled: expected a boolean, got string yes/],
    [spec({ backend_config: 'x' }), /^spec.backend_config: expected an object of strings/],
    [spec({ backend_config: { 'udp-port': 4500 } }), /^spec.backend_config\["udp-port"\]: expected a string, got number 4500/],
    [spec({ subnets: undefined }), /^spec.subnets: missing/],
    [spec({ subnets: '10.0.0.0/8' }), /^spec.subnets: expected an array of strings, got string/],
    [spec({ subnets: ['10.2.0.0/16', null] }), /^spec.subnets\[1\]: expected a string, got null/],
    [spec({ subnets: ['10.2.0.0/16', { cidr: '10.3.0.0/16' }] }), /^spec.subnets\[1\]: expected a string, got an object/],
  ];
  for (const [input, message] of cases) {
    const result = rejection(validateEndpoint(input, ctx));
    assert.equal(result.reason, 'malformed', JSON.stringify(input));
    assert.match(result.message, message, JSON.stringify(input));
  }
});

test('each semantic rejection reason, with a message naming the subnet and what it collides with', () => {
  const cases: Array<[Record<string, unknown>, string, RegExp]> = [
    [{ private_ip: '192.168.1.300' }, 'invalid-ip', /spec.private_ip: .*above 255/],
    [{ private_ip: 'gateway' }, 'invalid-ip', /spec.private_ip/],
    [{ public_ip: '01.2.3.4' }, 'invalid-ip', /spec.public_ip: .*leading zero/],
    [{ healthCheckIP: 'x' }, 'invalid-ip', /spec.healthCheckIP/],
    [{ private_ip: 'fd00::10' }, 'ipv6-unsupported', /spec.private_ip: .*IPv6/],
    [{ subnets: ['10.2.0.0/16', 'fd00:2::/64'] }, 'ipv6-unsupported', /spec.subnets\[1\]: .*IPv6/],
    [{ subnets: ['10.2.0.0/16', '10.3.0.0'] }, 'invalid-cidr', /spec.subnets\[1\]: .*not a CIDR/],
    [{ subnets: ['10.2.0.0/40'] }, 'invalid-cidr', /prefix length "40"/],
    [{ subnets: ['garbage'] }, 'invalid-cidr', /spec.subnets\[0\]/],
    [{ subnets: ['0.0.0.0/0'] }, 'default-route', /default route/],
    [{ subnets: ['10.2.0.0/0'] }, 'default-route', /default route/],
    [{ subnets: ['10.0.0.0/7'] }, 'too-broad', /10.0.0.0\/7 is broader than the allowed \/8/],
    [{ subnets: ['127.0.0.0/8'] }, 'reserved-range', /loopback/],
    [{ subnets: ['169.254.0.0/24'] }, 'reserved-range', /link-local/],
    [{ subnets: ['224.1.0.0/16'] }, 'reserved-range', /multicast/],
    [{ subnets: ['240.1.0.0/16'] }, 'reserved-range', /vx-submariner VTEP/],
    [{ subnets: ['10.244.5.0/24'] }, 'overlaps-local', /10.244.5.0\/24 overlaps the local pod CIDR 10.244.0.0\/16/],
    [{ subnets: ['10.0.0.0/8'] }, 'overlaps-local', /overlaps the local pod CIDR/],
    [{ subnets: ['10.100.0.0/16'] }, 'overlaps-local', /local service CIDR 10.96.0.0\/12/],
    [{ subnets: ['192.168.1.128/25'] }, 'overlaps-node-network', /overlaps the node network 192.168.1.0\/24/],
    [{ subnets: ['172.17.0.0/16'] }, 'overlaps-node-network', /node network 172.17.0.0\/16/],
    [{ subnets: Array.from({ length: 65 }, (_, i) => `10.${i}.0.0/16`) }, 'too-many-subnets', /65 subnets, more than the allowed 64/],
  ];
  for (const [overrides, reason, message] of cases) {
    const result = rejection(validateEndpoint(spec(overrides), ctx));
    assert.equal(result.reason, reason, JSON.stringify(overrides).slice(0, 100));
    assert.match(result.message, message, JSON.stringify(overrides).slice(0, 100));
  }
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
});

test('minimum prefix length is configurable', () => {
  const strict = { ...ctx, minPrefixLength: 16 };
  assert.equal(rejection(validateEndpoint(spec({ subnets: ['10.2.0.0/15'] }), strict)).reason, 'too-broad');
  assert.ok(validateEndpoint(spec({ subnets: ['10.2.0.0/16'] }), strict).ok);
  assert.ok(validateEndpoint(spec({ subnets: ['11.0.0.0/8'] }), ctx).ok);
});

test('the local Endpoint is not checked against local CIDRs but must name its gateway and private IP', () => {
  const local = validateEndpoint(spec({ cluster_id: 'east', hostname: 'east-gw', subnets: ['10.244.0.0/16', '10.96.0.0/12', 'fd00::/64'] }), ctx);
  assert.ok(local.ok);
  assert.equal(local.endpoint.hostname, 'east-gw');
  assert.deepEqual(local.subnets, []);
  assert.equal(rejection(validateEndpoint(spec({ cluster_id: 'east', hostname: '' }), ctx)).reason, 'malformed');
  assert.equal(rejection(validateEndpoint(spec({ cluster_id: 'east', private_ip: 'nope' }), ctx)).reason, 'invalid-ip');
  assert.ok(validateEndpoint(spec({ cluster_id: 'east', subnets: Array.from({ length: 100 }, () => '10.244.0.0/16') }), ctx).ok);
});
