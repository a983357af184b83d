/** The responder decides as Submariner's request_handle.go: each answer type, each NAT flag, and what every answer carries. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ResponseType, type NatDiscoveryRequest, type NatDiscoveryResponse } from '../../src/model/nat-discovery-message.ts';
import { respondToNatDiscoveryRequest, type NatDiscoveryIdentity } from '../../src/plan/nat-discovery-responder.ts';

const local: NatDiscoveryIdentity = { clusterId: 'west', endpointId: 'submariner-cable-west-192-168-1-2', privateIp: '192.168.1.2' };

/** A request from east that arrives unchanged at west's private IP, from 10.0.0.1:4490. */
const request: NatDiscoveryRequest = {
  requestNumber: 41n,
  sender: { clusterId: 'east', endpointId: 'submariner-cable-east-10-0-0-1' },
  receiver: { clusterId: 'west', endpointId: 'submariner-cable-west-192-168-1-2' },
  usingSrc: { ip: '10.0.0.1', port: 4490 },
  usingDst: { ip: '192.168.1.2', port: 4490 },
};
const source = { ip: '10.0.0.1', port: 4490 };

function answer(req: NatDiscoveryRequest, from = source): NatDiscoveryResponse {
  const message = respondToNatDiscoveryRequest(req, from, local);
  assert.equal(message.version, 0, 'Submariner leaves the version of responses 0');
  assert.equal(message.request, undefined);
  assert.ok(message.response);
  return message.response;
}

test('a request that arrives as sent gets OK, carrying the number, both ends and the source as received', () => {
  assert.deepEqual(answer(request), {
    requestNumber: 41n,
    response: ResponseType.OK,
    sender: { clusterId: 'west', endpointId: 'submariner-cable-west-192-168-1-2' },
    receiver: { clusterId: 'east', endpointId: 'submariner-cable-east-10-0-0-1' },
    srcIpNatDetected: false,
    srcPortNatDetected: false,
    dstIpNatDetected: false,
    receivedSrc: { ip: '10.0.0.1', port: 4490 },
  });
});

test('MALFORMED when any of sender, receiver, using_src, using_dst is missing', () => {
  for (const field of ['sender', 'receiver', 'usingSrc', 'usingDst'] as const) {
    const { [field]: _dropped, ...rest } = request;
    const response = answer(rest);
    assert.equal(response.response, ResponseType.MALFORMED, field);
    assert.equal(response.requestNumber, 41n);
    assert.deepEqual(response.receivedSrc, source);
    assert.equal(response.srcIpNatDetected || response.srcPortNatDetected || response.dstIpNatDetected, false);
  }
  // Without a sender, the answer has no receiver (Submariner copies the nil).
  const { sender: _s, ...noSender } = request;
  assert.equal(answer(noSender).receiver, undefined);
  assert.deepEqual(answer({ requestNumber: 1n }).sender, { clusterId: 'west', endpointId: local.endpointId });
});

test('present but empty sub-messages are not missing: the receiver check decides', () => {
  const empty = { clusterId: '', endpointId: '' };
  const response = answer({ ...request, receiver: empty });
  assert.equal(response.response, ResponseType.UNKNOWN_DST_CLUSTER);
});

test('UNKNOWN_DST_CLUSTER before UNKNOWN_DST_ENDPOINT, and neither checks NAT', () => {
  const wrongCluster = answer({ ...request, receiver: { clusterId: 'north', endpointId: 'whatever' }, usingDst: { ip: '1.1.1.1', port: 1 } });
  assert.equal(wrongCluster.response, ResponseType.UNKNOWN_DST_CLUSTER);
  assert.equal(wrongCluster.dstIpNatDetected, false);
  const wrongEndpoint = answer({ ...request, receiver: { clusterId: 'west', endpointId: 'submariner-cable-west-192-168-1-9' } });
  assert.equal(wrongEndpoint.response, ResponseType.UNKNOWN_DST_ENDPOINT);
  assert.deepEqual(wrongEndpoint.receiver, request.sender);
});

test('source IP changed: NAT_DETECTED with src_ip_nat_detected (a masquerading NAT keeping the port)', () => {
  const response = answer(request, { ip: '198.18.0.1', port: 4490 });
  assert.equal(response.response, ResponseType.NAT_DETECTED);
  assert.deepEqual([response.srcIpNatDetected, response.srcPortNatDetected, response.dstIpNatDetected], [true, false, false]);
  assert.deepEqual(response.receivedSrc, { ip: '198.18.0.1', port: 4490 });
});

test('an empty using_src IP is not compared (Submariner sends one when it cannot tell its source)', () => {
  const response = answer({ ...request, usingSrc: { ip: '', port: 4490 } }, { ip: '198.18.0.1', port: 4490 });
  assert.equal(response.response, ResponseType.OK);
});

test('source port changed: NAT_DETECTED with src_port_nat_detected, also when the IP is unknown', () => {
  const response = answer({ ...request, usingSrc: { ip: '', port: 4490 } }, { ip: '10.0.0.1', port: 61000 });
  assert.equal(response.response, ResponseType.NAT_DETECTED);
  assert.deepEqual([response.srcIpNatDetected, response.srcPortNatDetected, response.dstIpNatDetected], [false, true, false]);
});

test('destination not the private IP (the request went to the public one): NAT_DETECTED with dst_ip_nat_detected', () => {
  const response = answer({ ...request, usingDst: { ip: '198.18.0.1', port: 4490 } });
  assert.equal(response.response, ResponseType.NAT_DETECTED);
  assert.deepEqual([response.srcIpNatDetected, response.srcPortNatDetected, response.dstIpNatDetected], [false, false, true]);
  // An empty using_dst IP is compared all the same (Submariner does not skip it).
  assert.equal(answer({ ...request, usingDst: { ip: '', port: 4490 } }).dstIpNatDetected, true);
});

test('all three flags at once', () => {
  const response = answer({ ...request, usingDst: { ip: '198.18.0.1', port: 4490 } }, { ip: '203.0.113.7', port: 1024 });
  assert.equal(response.response, ResponseType.NAT_DETECTED);
  assert.deepEqual([response.srcIpNatDetected, response.srcPortNatDetected, response.dstIpNatDetected], [true, true, true]);
});

test('addresses compare as text, as in Submariner', () => {
  assert.equal(answer({ ...request, usingSrc: { ip: '010.0.0.1', port: 4490 } }).srcIpNatDetected, true);
});

test('the answer does not share objects with the request', () => {
  const response = answer(request);
  assert.notEqual(response.receiver, request.sender);
});
