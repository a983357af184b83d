import { test } from 'node:test';
import assert from 'node:assert/strict';
import { endpointValidationContext, validateEndpoint, type EndpointSpec } from '../../src/model/endpoint.ts';
import { GATEWAY_LABEL, indexNodes, trustLocalEndpoint } from '../../src/model/local-endpoint.ts';
import type { NodeObject } from '../../src/model/snapshot.ts';
import { gatewayNode, node, spec } from './model-fixtures.ts';

const ctx = endpointValidationContext({ localClusterId: 'east', podCidrs: ['10.244.0.0/16'], serviceCidrs: ['10.96.0.0/12'], minPrefixLength: 8, maxSubnets: 64 });

function local(overrides: Record<string, unknown>): EndpointSpec {
  const result = validateEndpoint(spec({ cluster_id: 'east', ...overrides }), ctx);
  if (!result.ok) throw new Error(result.message);
  return result.endpoint;
}

const trust = (overrides: Record<string, unknown>, nodes: NodeObject[]) => trustLocalEndpoint(local(overrides), indexNodes(nodes));

test('trusted: the hostname is a gateway-labelled Node and the private IP is one of its addresses', () => {
  const result = trust({ hostname: 'gw', private_ip: '192.168.1.10' }, [gatewayNode('gw', '192.168.1.10'), node('w', '192.168.1.11')]);
  assert.ok(result.ok);
  assert.equal(result.node.name, 'gw');
});

test('untrusted, each with its reason', () => {
  const nodes = [gatewayNode('gw', '192.168.1.10'), node('w', '192.168.1.11'), gatewayNode('bare', '192.168.1.12', [])];
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ hostname: 'nobody', private_ip: '203.0.113.66' }, /^hostname "nobody" names no Node of this cluster/],
    [{ hostname: 'w', private_ip: '192.168.1.11' }, /^Node w does not carry the label submariner.io\/gateway=true/],
    [{ hostname: 'gw', private_ip: '192.168.1.11' }, /^private IP 192.168.1.11 is not an address of Node gw \(its addresses: 192.168.1.10\)/],
    [{ hostname: 'bare', private_ip: '192.168.1.12' }, /not an address of Node bare \(it lists none\)/],
    [{ hostname: 'GW', private_ip: '192.168.1.10' }, /names no Node/],
    [{ hostname: 'x'.repeat(10_000), private_ip: '192.168.1.10' }, /names no Node/],
  ];
  for (const [overrides, message] of cases) {
    const result = trust(overrides, nodes);
    assert.equal(result.ok, false, JSON.stringify(overrides).slice(0, 80));
    if (!result.ok) {
      assert.match(result.message, message);
      assert.ok(result.message.length < 300);
    }
  }
  assert.equal(trust({ hostname: 'gw', private_ip: '192.168.1.10' }, []).ok, false, 'no Nodes at all');
});

test('the label must be exactly "true"', () => {
  for (const value of ['false', 'True', '', 'yes']) {
    assert.equal(trust({ hostname: 'gw', private_ip: '192.168.1.10' }, [node('gw', '192.168.1.10', {}, { labels: { [GATEWAY_LABEL]: value } })]).ok, false, value);
  }
});

test('a hostname that is no Node name matches a Node\'s Hostname address; the Node by name is asked first', () => {
  const byAddress = [gatewayNode('ip-10-0-1-5', '10.0.1.5', ['10.0.1.5', 'gw-host'])];
  const found = trust({ hostname: 'gw-host', private_ip: '10.0.1.5' }, byAddress);
  assert.ok(found.ok && found.node.name === 'ip-10-0-1-5');
  // Two Nodes answer to "gw": one by name (a worker), one by Hostname address (the gateway holding the IP).
  const both = [node('gw', '192.168.1.11'), gatewayNode('real', '192.168.1.10', ['192.168.1.10', 'gw'])];
  const either = trust({ hostname: 'gw', private_ip: '192.168.1.10' }, both);
  assert.ok(either.ok && either.node.name === 'real');
  const neither = trust({ hostname: 'gw', private_ip: '192.168.1.99' }, both);
  assert.ok(!neither.ok && /^Node gw does not carry the label/.test(neither.message), 'the message is about the Node named by name');
});

test('the IPv4 private address in use must match; an IPv6 private address beside it is not checked', () => {
  const dual = trust({ hostname: 'gw', private_ip: undefined, privateIPs: ['fd00::10', '192.168.1.10'] }, [gatewayNode('gw', '192.168.1.10')]);
  assert.ok(dual.ok);
});
