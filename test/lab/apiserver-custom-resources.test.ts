/**
 * Submariner's kinds validated as a real API server validates them against Submariner's CRDs (manifests/01-crds.yaml):
 * required fields, types, bounds, unknown fields under each fieldValidation directive, and the Gateway's and
 * RouteAgent's lack of a status subresource. Driven by the real @kubernetes/client-node, and by fetch where the
 * response headers (Warning) or a query parameter the client does not expose are what is checked.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { AdminClient } from './apiserver/admin-client.ts';
import { startApiServer, type RunningApiServer } from './apiserver/server.ts';
import { endpointSpec, expectStatus, kubeConfigFor, type StatusBody } from './apiserver/test-support.ts';

const group = 'submariner.io';
const version = 'v1';
const namespace = 'submariner-operator';
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const endpointsPath = `/apis/${group}/${version}/namespaces/${namespace}/endpoints`;

let server: RunningApiServer;
let custom: CustomObjectsApi;
let admin: AdminClient;
before(async () => {
  server = await startApiServer();
  custom = kubeConfigFor(server.url).makeApiClient(CustomObjectsApi);
  admin = new AdminClient(server.url);
});
after(() => server.close());

type Obj = { metadata: { name: string; resourceVersion: string; generation?: number }; spec?: Record<string, unknown>; status?: Record<string, unknown> };
type Causes = Array<{ reason: string; field: string; message: string }>;

const endpoint = (name: string, spec: Record<string, unknown> = endpointSpec(name)) =>
  ({ apiVersion: `${group}/${version}`, kind: 'Endpoint', metadata: { name }, spec });
const localEndpoint = endpointSpec('c1', { hostname: 'gw-node' });
const gatewayStatus = { connections: [], haStatus: 'active', localEndpoint, statusFailure: '', version: 'v0.20.0' };
const gateway = (name: string, status?: Record<string, unknown>) =>
  ({ apiVersion: `${group}/${version}`, kind: 'Gateway', metadata: { name }, ...(status === undefined ? {} : { status }) });

async function call(method: string, path: string, body: unknown, contentType = 'application/json') {
  const response = await fetch(server.url + path, { method, body: JSON.stringify(body), headers: { 'Content-Type': contentType } });
  return { code: response.status, warnings: response.headers.get('warning'), body: await response.json() as StatusBody & Obj };
}

test('a Gateway created without its required status fields is 422 Invalid with the real causes, and nothing is stored', async () => {
  const before = (await admin.state()).resourceVersion;
  const missing = await expectStatus(() => custom.createNamespacedCustomObject({ group, version, namespace, plural: 'gateways', body: gateway('gw-none') }));
  assert.equal(missing.httpCode, 422);
  assert.equal(missing.reason, 'Invalid');
  assert.equal(missing.message, 'Gateway.submariner.io "gw-none" is invalid: status: Required value');
  assert.deepEqual(missing.details, { name: 'gw-none', group, kind: 'Gateway', causes: [{ reason: 'FieldValueRequired', field: 'status', message: 'Required value' }] });

  const empty = await expectStatus(() => custom.createNamespacedCustomObject({ group, version, namespace, plural: 'gateways', body: gateway('gw-empty', {}) }));
  assert.equal(empty.httpCode, 422);
  const fields = ['connections', 'haStatus', 'localEndpoint', 'statusFailure', 'version'].map((f) => `status.${f}`);
  assert.deepEqual((empty.details?.causes as Causes).map((c) => [c.reason, c.field]), fields.map((f) => ['FieldValueRequired', f]));
  assert.equal(empty.message, `Gateway.submariner.io "gw-empty" is invalid: [${fields.map((f) => `${f}: Required value`).join(', ')}]`);

  const partial = await expectStatus(() => custom.createNamespacedCustomObject({ group, version, namespace, plural: 'gateways',
    body: gateway('gw-partial', { ...gatewayStatus, localEndpoint: { hostname: 'gw-node' } }) }));
  assert.deepEqual((partial.details?.causes as Causes).map((c) => c.field),
    ['backend', 'cable_name', 'cluster_id', 'nat_enabled', 'subnets'].map((f) => `status.localEndpoint.${f}`), 'nested required fields too');
  assert.equal((await admin.state()).resourceVersion, before, 'the refused creates wrote nothing');
});

test('a Gateway has no status subresource: status is written through the main resource (still validated), /status is 404', async () => {
  const created = await custom.createNamespacedCustomObject({ group, version, namespace, plural: 'gateways', body: gateway('gw-1', gatewayStatus) }) as Obj;
  assert.deepEqual(created.status, gatewayStatus, 'status is kept on create');

  const statusWrites = [
    () => custom.replaceNamespacedCustomObjectStatus({ group, version, namespace, plural: 'gateways', name: 'gw-1', body: { ...created, status: { ...gatewayStatus, haStatus: 'passive' } } }),
    () => custom.patchNamespacedCustomObjectStatus({ group, version, namespace, plural: 'gateways', name: 'gw-1', body: { status: { haStatus: 'passive' } } }, mergePatch),
    () => custom.getNamespacedCustomObjectStatus({ group, version, namespace, plural: 'gateways', name: 'gw-1' }),
  ];
  for (const write of statusWrites) {
    const status = await expectStatus(write);
    assert.equal(status.httpCode, 404);
    assert.equal(status.reason, 'NotFound');
  }

  const passive = await custom.patchNamespacedCustomObject({ group, version, namespace, plural: 'gateways', name: 'gw-1', body: { status: { haStatus: 'passive' } } }, mergePatch) as Obj;
  assert.equal(passive.status?.haStatus, 'passive', 'the main resource writes status');
  assert.equal(passive.metadata.generation, 2);

  const dropped = await expectStatus(() => custom.patchNamespacedCustomObject({ group, version, namespace, plural: 'gateways', name: 'gw-1', body: { status: { version: null } } }, mergePatch));
  assert.equal(dropped.httpCode, 422, 'a patch removing a required status field is refused after it is applied');
  assert.deepEqual(dropped.details?.causes, [{ reason: 'FieldValueRequired', field: 'status.version', message: 'Required value' }]);
});

test('an Endpoint with a wrong type, too many items or too long a string is 422 with kube-openapi\'s causes', async () => {
  const wrongType = await expectStatus(() => custom.createNamespacedCustomObject({ group, version, namespace, plural: 'endpoints',
    body: endpoint('wrong-type', endpointSpec('wrong-type', { nat_enabled: 'no', subnets: '10.0.0.0/16' })) }));
  assert.equal(wrongType.httpCode, 422);
  assert.deepEqual(wrongType.details?.causes, [
    { reason: 'FieldValueTypeInvalid', field: 'spec.nat_enabled', message: 'Invalid value: "string": spec.nat_enabled in body must be of type boolean: "string"' },
    { reason: 'FieldValueTypeInvalid', field: 'spec.subnets', message: 'Invalid value: "string": spec.subnets in body must be of type array: "string"' },
  ]);
  assert.match(wrongType.message, /^Endpoint\.submariner\.io "wrong-type" is invalid: \[spec\.nat_enabled: Invalid value: "string"/);

  const bounds = await expectStatus(() => custom.createNamespacedCustomObject({ group, version, namespace, plural: 'endpoints',
    body: endpoint('bounds', endpointSpec('c'.repeat(64), { healthCheckIPs: ['10.0.0.1', '10.0.0.2', '10.0.0.3'] })) }));
  assert.deepEqual(bounds.details?.causes, [
    { reason: 'FieldValueTooLong', field: 'spec.cluster_id', message: 'Too long: may not be more than 63 bytes' },
    { reason: 'FieldValueTooMany', field: 'spec.healthCheckIPs', message: 'Too many: 3: must have at most 2 items' },
  ]);
});

test('metadata and schema errors of a custom resource come in one 422, as the CR strategy validates them together', async () => {
  const both = await expectStatus(() => custom.createNamespacedCustomObject({ group, version, namespace, plural: 'endpoints',
    body: endpoint('Not_A_Name', { cluster_id: 'x' }) }));
  assert.equal(both.httpCode, 422);
  assert.deepEqual((both.details?.causes as Causes).map((c) => c.field),
    ['metadata.name', 'spec.backend', 'spec.cable_name', 'spec.hostname', 'spec.nat_enabled', 'spec.subnets']);
  assert.match((both.details?.causes as Causes)[0]?.message ?? '', /^Invalid value: "Not_A_Name": a lowercase RFC 1123 subdomain must consist of/);
});

test('an Endpoint with an unknown field: Strict is 400 naming it, Warn (and the default) prune it with a Warning, Ignore prunes silently', async () => {
  const spec = endpointSpec('unknown', { frobnicate: true });
  const before = (await admin.state()).resourceVersion;
  const strict = await call('POST', `${endpointsPath}?fieldValidation=Strict`, { ...endpoint('unknown', spec), metadata: { name: 'unknown', colour: 'red' } });
  assert.equal(strict.code, 400);
  assert.equal(strict.body.reason, 'BadRequest');
  assert.equal(strict.body.message, 'Endpoint in version "v1" cannot be handled as a Endpoint: strict decoding error: unknown field "metadata.colour", unknown field "spec.frobnicate"');
  assert.equal((await admin.state()).resourceVersion, before, 'nothing stored');

  const strictAndInvalid = await call('POST', `${endpointsPath}?fieldValidation=Strict`, endpoint('unknown', { frobnicate: true }));
  assert.equal(strictAndInvalid.code, 400, 'decoding (unknown fields) fails before validation');
  const warnedAndInvalid = await call('POST', endpointsPath, endpoint('unknown', { frobnicate: true }));
  assert.equal(warnedAndInvalid.code, 422, 'under Warn the unknown field is pruned and validation goes on');
  assert.equal(warnedAndInvalid.warnings, '299 - "unknown field \\"spec.frobnicate\\""', 'the warning comes with the error too');

  for (const [query, name] of [['?fieldValidation=Warn', 'warned'], ['', 'defaulted']] as const) {
    const warned = await call('POST', endpointsPath + query, endpoint(name, spec));
    assert.equal(warned.code, 201, query);
    assert.equal(warned.warnings, '299 - "unknown field \\"spec.frobnicate\\""', query);
    assert.equal(warned.body.spec?.frobnicate, undefined, 'the unknown field is pruned');
    assert.equal(((await custom.getNamespacedCustomObject({ group, version, namespace, plural: 'endpoints', name })) as Obj).spec?.frobnicate, undefined);
  }

  const ignored = await call('POST', `${endpointsPath}?fieldValidation=Ignore`, endpoint('ignored', spec));
  assert.equal(ignored.code, 201);
  assert.equal(ignored.warnings, null);
  assert.equal(ignored.body.spec?.frobnicate, undefined);

  const bad = await call('POST', `${endpointsPath}?fieldValidation=Loud`, endpoint('loud'));
  assert.equal(bad.code, 422);
  assert.equal(bad.body.message, 'CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "Loud": supported values: "", "Ignore", "Strict", "Warn"');
});

test('patches are validated after they are applied; an unknown field in a patch is the patch handler\'s 422 under Strict, a Warning under Warn', async () => {
  await custom.createNamespacedCustomObject({ group, version, namespace, plural: 'endpoints', body: endpoint('patched') });
  const path = `${endpointsPath}/patched`;
  const strict = await call('PATCH', `${path}?fieldValidation=Strict`, { spec: { frobnicate: 1 } }, 'application/merge-patch+json');
  assert.equal(strict.code, 422);
  assert.match(strict.body.message, /^ "" is invalid: patch: Invalid value: "\{\\"apiVersion\\":\\"submariner.io\/v1\\",.*\}": strict decoding error: unknown field "spec.frobnicate"$/);
  assert.deepEqual((strict.body.details?.causes as Causes).map((c) => [c.reason, c.field]), [['FieldValueInvalid', 'patch']]);

  const warned = await call('PATCH', path, { spec: { frobnicate: 1, hostname: 'gw-9' } }, 'application/merge-patch+json');
  assert.equal(warned.code, 200);
  assert.equal(warned.warnings, '299 - "unknown field \\"spec.frobnicate\\""');
  assert.equal(warned.body.spec?.hostname, 'gw-9');
  assert.equal(warned.body.spec?.frobnicate, undefined);

  const jsonPatch = await expectStatus(() => custom.patchNamespacedCustomObject({ group, version, namespace, plural: 'endpoints', name: 'patched',
    body: [{ op: 'replace', path: '/spec/nat_enabled', value: 'yes' }] }));
  assert.equal(jsonPatch.httpCode, 422);
  assert.deepEqual((jsonPatch.details?.causes as Causes).map((c) => [c.reason, c.field]), [['FieldValueTypeInvalid', 'spec.nat_enabled']]);
});

test('a custom resource body without its kind is 400: the URL does not stand in for it, as it does for built-in kinds', async () => {
  const { kind: _kind, ...kindless } = endpoint('kindless');
  const status = await expectStatus(() => custom.createNamespacedCustomObject({ group, version, namespace, plural: 'endpoints', body: kindless }));
  assert.equal(status.httpCode, 400);
  assert.match(status.message, /^the object provided is unrecognized \(must be of type Endpoint\): Object 'Kind' is missing in '\{/);
  assert.equal((await expectStatus(() => custom.getNamespacedCustomObject({ group, version, namespace, plural: 'endpoints', name: 'kindless' }))).httpCode, 404);
});

test('a custom resource update without a resourceVersion is the generic store\'s 422, named by the resource', async () => {
  await custom.createNamespacedCustomObject({ group, version, namespace, plural: 'endpoints', body: endpoint('no-rv') });
  const status = await expectStatus(() => custom.replaceNamespacedCustomObject({ group, version, namespace, plural: 'endpoints', name: 'no-rv', body: endpoint('no-rv') }));
  assert.equal(status.httpCode, 422);
  assert.equal(status.message, 'endpoints.submariner.io "no-rv" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update');
  assert.deepEqual(status.details, { name: 'no-rv', group, kind: 'endpoints', causes: [{ reason: 'FieldValueInvalid', field: 'metadata.resourceVersion', message: 'Invalid value: 0x0: must be specified for an update' }] });
});
