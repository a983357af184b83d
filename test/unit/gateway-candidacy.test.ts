import assert from 'node:assert/strict';
import { test } from 'node:test';
import { brokerCredentialProblem, candidacy } from '../../src/plan/gateway-candidacy.ts';

const label = { key: 'submariner.io/gateway', value: 'true' };
const fine = { pskProblem: null, brokerProblem: null, endpointProblem: null };

test('labelled only with the exact label value; an unknown Node is not labelled', () => {
  assert.equal(candidacy({ ...fine, label, node: { labels: { 'submariner.io/gateway': 'true' } } }).labelled, true);
  assert.equal(candidacy({ ...fine, label, node: { labels: { 'submariner.io/gateway': 'false' } } }).labelled, false);
  assert.equal(candidacy({ ...fine, label, node: { labels: {} } }).labelled, false);
  assert.equal(candidacy({ ...fine, label, node: null }).labelled, false);
});

test('every problem of the node\'s own configuration is named in the refusal; none, no refusal', () => {
  const node = { labels: { 'submariner.io/gateway': 'true' } };
  assert.equal(candidacy({ ...fine, label, node }).refusal, null);
  assert.equal(
    candidacy({ label, node, pskProblem: 'the IPsec PSK file /p is empty', brokerProblem: 'the broker at https://b refuses them (HTTP 401 Unauthorized)', endpointProblem: null }).refusal,
    'IPsec PSK: the IPsec PSK file /p is empty; broker credentials: the broker at https://b refuses them (HTTP 401 Unauthorized)',
  );
  assert.equal(candidacy({ ...fine, label, node, endpointProblem: 'node gw has no IPv4 InternalIP' }).refusal, 'local Endpoint: node gw has no IPv4 InternalIP');
});

test('the broker\'s answer: refused credentials and an unverifiable certificate are this node\'s problem; an unreachable or failing broker is not', () => {
  const server = 'https://198.18.0.1:6443';
  assert.equal(brokerCredentialProblem(null, server), null);
  assert.equal(brokerCredentialProblem({ statusCode: 401, cause: 'HTTP 401 Unauthorized', category: 'status', detail: 'Unauthorized' }, server), `the broker at ${server} refuses them (HTTP 401 Unauthorized)`);
  assert.match(String(brokerCredentialProblem({ statusCode: 403, cause: 'HTTP 403 Forbidden', category: 'status', detail: 'forbidden' }, server)), /refuses them \(HTTP 403/);
  assert.match(String(brokerCredentialProblem({ cause: 'unexpected', category: 'unexpected', detail: 'self-signed certificate in certificate chain' }, server)), /^the broker's certificate does not verify/);
  for (const answer of [
    { cause: 'unreachable', category: 'unreachable', detail: 'connect ECONNREFUSED' },
    { cause: 'timeout', category: 'timeout', detail: 'no answer within 30000 ms' },
    { statusCode: 500, cause: 'HTTP 500 InternalError', category: 'status', detail: 'etcd' },
    { statusCode: 429, cause: 'HTTP 429 TooManyRequests', category: 'status', detail: 'slow down' },
  ]) assert.equal(brokerCredentialProblem(answer, server), null, answer.cause);
});
