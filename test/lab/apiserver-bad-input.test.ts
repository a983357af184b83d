import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { AdminClient } from './apiserver/admin-client.ts';
import { startApiServer, type RunningApiServer } from './apiserver/server.ts';
import { endpointSpec, expectStatus, kubeConfigFor, type StatusBody } from './apiserver/test-support.ts';

const maxBodyBytes = 64 * 1024;
const endpoints = '/apis/submariner.io/v1/namespaces/sub/endpoints';
let server: RunningApiServer;
let admin: AdminClient;
let custom: CustomObjectsApi;

const good = (name: string) => ({ apiVersion: 'submariner.io/v1', kind: 'Endpoint', metadata: { name }, spec: endpointSpec(name || 'x') });

before(async () => {
  server = await startApiServer({ maxBodyBytes });
  admin = new AdminClient(server.url);
  custom = kubeConfigFor(server.url).makeApiClient(CustomObjectsApi);
  await custom.createNamespacedCustomObject({ group: 'submariner.io', version: 'v1', namespace: 'sub', plural: 'endpoints', body: good('existing') });
});
after(() => server.close());

async function request(method: string, path: string, body?: string, contentType = 'application/json'): Promise<{ code: number; status: StatusBody }> {
  const response = await fetch(server.url + path, { method, body, headers: { 'Content-Type': contentType } });
  return { code: response.status, status: await response.json() as StatusBody };
}

/** The whole visible state: the global resourceVersion and every endpoint. */
async function snapshot(): Promise<string> {
  const state = await admin.state();
  const list = await (await fetch(`${server.url}/apis/submariner.io/v1/endpoints`)).text();
  return `${state.resourceVersion}\n${list}`;
}

const cases: Array<{ name: string; method: string; path: string; body?: string; type?: string; code: number; reason: string }> = [
  { name: 'malformed JSON', method: 'POST', path: endpoints, body: '{"metadata": {"name": "x"', code: 400, reason: 'BadRequest' },
  { name: 'a JSON array instead of an object', method: 'POST', path: endpoints, body: '[]', code: 400, reason: 'BadRequest' },
  { name: 'an empty body', method: 'POST', path: endpoints, body: '', code: 400, reason: 'BadRequest' },
  { name: 'a wrong apiVersion', method: 'POST', path: endpoints, body: JSON.stringify({ ...good('x'), apiVersion: 'submariner.io/v2' }), code: 400, reason: 'BadRequest' },
  { name: 'a wrong kind', method: 'POST', path: endpoints, body: JSON.stringify({ ...good('x'), kind: 'Cluster' }), code: 400, reason: 'BadRequest' },
  { name: 'an unknown resource', method: 'POST', path: '/apis/submariner.io/v1/namespaces/sub/widgets', body: JSON.stringify(good('x')), code: 404, reason: 'NotFound' },
  { name: 'an unknown group', method: 'POST', path: '/apis/example.com/v1/namespaces/sub/endpoints', body: JSON.stringify(good('x')), code: 404, reason: 'NotFound' },
  { name: 'an unknown version', method: 'GET', path: '/apis/submariner.io/v2/endpoints', code: 404, reason: 'NotFound' },
  { name: 'a cluster-scoped kind under a namespace', method: 'GET', path: '/api/v1/namespaces/sub/nodes', code: 404, reason: 'NotFound' },
  { name: 'an oversized body', method: 'POST', path: endpoints, body: JSON.stringify({ ...good('big'), spec: { pad: 'x'.repeat(maxBodyBytes) } }), code: 413, reason: 'RequestEntityTooLarge' },
  { name: 'YAML', method: 'POST', path: endpoints, body: 'metadata: {name: y}', type: 'application/yaml', code: 415, reason: 'UnsupportedMediaType' },
  { name: 'a server-side apply without a field manager', method: 'PATCH', path: `${endpoints}/existing`, body: 'spec: {}', type: 'application/apply-patch+yaml', code: 422, reason: 'Invalid' },
  { name: 'a server-side apply of malformed YAML', method: 'PATCH', path: `${endpoints}/existing?fieldManager=t`, body: 'spec: [', type: 'application/apply-patch+yaml', code: 400, reason: 'BadRequest' },
  { name: 'force on a merge patch', method: 'PATCH', path: `${endpoints}/existing?force=true`, body: '{}', type: 'application/merge-patch+json', code: 422, reason: 'Invalid' },
  { name: 'a strategic merge patch of a custom resource', method: 'PATCH', path: `${endpoints}/existing`, body: '{}', type: 'application/strategic-merge-patch+json', code: 415, reason: 'UnsupportedMediaType' },
  { name: 'a missing name', method: 'POST', path: endpoints, body: JSON.stringify({ ...good(''), metadata: {} }), code: 422, reason: 'Invalid' },
  { name: 'an invalid name', method: 'POST', path: endpoints, body: JSON.stringify(good('Not_A_Name')), code: 422, reason: 'Invalid' },
  { name: 'non-string labels', method: 'POST', path: endpoints, body: JSON.stringify({ ...good('x'), metadata: { name: 'x', labels: { a: 1 } } }), code: 422, reason: 'Invalid' },
  { name: 'a resourceVersion on create', method: 'POST', path: endpoints, body: JSON.stringify({ ...good('x'), metadata: { name: 'x', resourceVersion: '1' } }), code: 400, reason: 'BadRequest' },
  { name: 'a namespace that differs from the URL', method: 'POST', path: endpoints, body: JSON.stringify({ ...good('x'), metadata: { name: 'x', namespace: 'other' } }), code: 400, reason: 'BadRequest' },
  { name: 'a name that differs from the URL on update', method: 'PUT', path: `${endpoints}/existing`, body: JSON.stringify({ ...good('other'), metadata: { name: 'other', resourceVersion: '1' } }), code: 400, reason: 'BadRequest' },
  { name: 'a JSON patch that is not an array', method: 'PATCH', path: `${endpoints}/existing`, body: '{"op":"add"}', type: 'application/json-patch+json', code: 400, reason: 'BadRequest' },
  { name: 'a JSON patch with an unknown op', method: 'PATCH', path: `${endpoints}/existing`, body: '[{"op":"frob","path":"/spec"}]', type: 'application/json-patch+json', code: 400, reason: 'BadRequest' },
  { name: 'a JSON patch on a missing path', method: 'PATCH', path: `${endpoints}/existing`, body: '[{"op":"replace","path":"/spec/nothing/here","value":1}]', type: 'application/json-patch+json', code: 422, reason: 'Invalid' },
  { name: 'a merge patch that is not an object', method: 'PATCH', path: `${endpoints}/existing`, body: '"x"', type: 'application/merge-patch+json', code: 400, reason: 'BadRequest' },
  { name: 'a merge patch that renames the object', method: 'PATCH', path: `${endpoints}/existing`, body: '{"metadata":{"name":"renamed"}}', type: 'application/merge-patch+json', code: 422, reason: 'Invalid' },
  { name: 'a merge patch that changes the kind', method: 'PATCH', path: `${endpoints}/existing`, body: '{"kind":"Cluster"}', type: 'application/merge-patch+json', code: 400, reason: 'BadRequest' },
  { name: 'a non-numeric resourceVersion', method: 'GET', path: `${endpoints}?resourceVersion=abc`, code: 400, reason: 'BadRequest' },
  { name: 'a bad label selector', method: 'GET', path: `${endpoints}?labelSelector=${encodeURIComponent('a in b')}`, code: 400, reason: 'BadRequest' },
  { name: 'POST on an object', method: 'POST', path: `${endpoints}/existing`, body: JSON.stringify(good('existing')), code: 405, reason: 'MethodNotAllowed' },
  { name: 'PUT on a collection', method: 'PUT', path: endpoints, body: JSON.stringify(good('x')), code: 405, reason: 'MethodNotAllowed' },
  { name: 'a status subresource on a kind without one', method: 'PUT', path: `${endpoints}/existing/status`, body: JSON.stringify(good('existing')), code: 404, reason: 'NotFound' },
  { name: 'a dry run (not supported)', method: 'POST', path: `${endpoints}?dryRun=All`, body: JSON.stringify(good('dry')), code: 400, reason: 'BadRequest' },
];

for (const c of cases) {
  test(`${c.name} gets ${c.code} ${c.reason} as a Status and leaves the store unchanged`, async () => {
    const before = await snapshot();
    const { code, status } = await request(c.method, c.path, c.body, c.type);
    assert.equal(code, c.code, status.message);
    assert.equal(status.kind, 'Status');
    assert.equal(status.apiVersion, 'v1');
    assert.equal(status.status, 'Failure');
    assert.equal(status.code, c.code);
    assert.equal(status.reason, c.reason);
    assert.ok(status.message.length > 0);
    assert.equal(await snapshot(), before);
  });
}

test('the client receives these as ApiExceptions with a parseable Status (wrong apiVersion, unknown resource)', async () => {
  const before = await snapshot();
  const wrongVersion = await expectStatus(() => custom.createNamespacedCustomObject({ group: 'submariner.io', version: 'v1', namespace: 'sub', plural: 'endpoints', body: { ...good('v'), apiVersion: 'submariner.io/v9' } }));
  assert.equal(wrongVersion.httpCode, 400);
  assert.match(wrongVersion.message, /submariner\.io\/v9/);
  const unknown = await expectStatus(() => custom.listNamespacedCustomObject({ group: 'submariner.io', version: 'v1', namespace: 'sub', plural: 'widgets' }));
  assert.equal(unknown.httpCode, 404);
  assert.equal(await snapshot(), before);
});

test('after all the bad requests, good ones still work', async () => {
  const created = await custom.createNamespacedCustomObject({ group: 'submariner.io', version: 'v1', namespace: 'sub', plural: 'endpoints', body: good('fine') }) as { metadata: { name: string } };
  assert.equal(created.metadata.name, 'fine');
});
