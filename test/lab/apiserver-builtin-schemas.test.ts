/**
 * The built-in kinds' schemas (builtin-schemas.ts): the committed file is what client-node's models
 * give, and unknown fields are found where the API server's decoder finds them.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import * as client from '@kubernetes/client-node';
import { BUILTIN_SCHEMAS_FILE, BUILTIN_MODELS, generateBuiltinSchemas, loadBuiltinSchemas, pruneByBuiltinSchema, referencedDefinitions, serializeBuiltinSchemas } from './apiserver/builtin-schemas.ts';
import type { Json } from './apiserver/patch.ts';

const schemas = loadBuiltinSchemas();

test('builtin-schemas.json is what the installed client-node generates', () => {
  const fresh = serializeBuiltinSchemas(generateBuiltinSchemas(client as unknown as Record<string, unknown>));
  assert.ok(readFileSync(BUILTIN_SCHEMAS_FILE, 'utf8') === fresh, 'stale: run node test/lab/apiserver/builtin-schemas-gen.ts and commit the result');
  assert.deepEqual(Object.keys(schemas.kinds).sort(), Object.keys(BUILTIN_MODELS).sort());
});

test('a model the kinds name but client-node lacks, or two models sharing a definition, stop the generator', () => {
  assert.throws(() => generateBuiltinSchemas({}), /client-node has no model V1Namespace for v1\/Namespace/);
  const model = (types: Record<string, string>) => ({ getAttributeTypeMap: () => Object.entries(types).map(([baseName, type]) => ({ baseName, type, format: '' })) });
  const fake: Record<string, unknown> = Object.fromEntries(Object.values(BUILTIN_MODELS).map((name) => [name, model({ spec: 'V1Thing' })]));
  fake.V1Thing = model({});
  assert.doesNotThrow(() => generateBuiltinSchemas(fake));
  fake.V1Thing = model({ other: 'V2Thing' });
  fake.V2Thing = model({});
  assert.throws(() => generateBuiltinSchemas(fake), /V2Thing and V1Thing would share the definition io\.k8s\.lab\.Thing/);
  fake.V1Thing = model({ missing: 'V1Nowhere' });
  assert.throws(() => generateBuiltinSchemas(fake), /client-node has no model V1Nowhere/);
});

test('types map onto OpenAPI: integers with their format, maps, lists, int-or-string, free-form values, references', () => {
  const container = schemas.definitions['io.k8s.lab.Container'] as { properties: Record<string, Json> };
  assert.deepEqual(container.properties.ports, { type: 'array', items: { $ref: '#/components/schemas/io.k8s.lab.ContainerPort' } });
  assert.deepEqual((schemas.definitions['io.k8s.lab.ContainerPort'] as { properties: Record<string, Json> }).properties.containerPort, { type: 'integer', format: 'int32' });
  assert.deepEqual((schemas.definitions['io.k8s.lab.ConfigMap'] as { properties: Record<string, Json> }).properties.data, { type: 'object', additionalProperties: { type: 'string' } });
  assert.deepEqual((schemas.definitions['io.k8s.lab.HTTPGetAction'] as { properties: Record<string, Json> }).properties.port, { 'x-kubernetes-int-or-string': true });
  assert.deepEqual((schemas.definitions['io.k8s.lab.JSONSchemaProps'] as { properties: Record<string, Json> }).properties.default, { 'x-kubernetes-preserve-unknown-fields': true });
  assert.deepEqual((schemas.definitions['io.k8s.lab.Lease'] as { properties: Record<string, Json> }).properties.metadata, { $ref: '#/components/schemas/io.k8s.lab.ObjectMeta' });
  const reached = referencedDefinitions(schemas, ['io.k8s.lab.ConfigMap']);
  assert.deepEqual(reached, ['io.k8s.lab.ManagedFieldsEntry', 'io.k8s.lab.ObjectMeta', 'io.k8s.lab.OwnerReference']);
  assert.ok(referencedDefinitions(schemas, ['io.k8s.lab.CustomResourceDefinition']).includes('io.k8s.lab.JSONSchemaProps'), 'a recursive model is followed once');
});

test('unknown fields are dropped and named with their path, through lists, maps and references; free-form values are kept', () => {
  const daemonSet: Json = {
    apiVersion: 'apps/v1', kind: 'DaemonSet', bogus: 1,
    metadata: { name: 'd', labels: { a: 'b' }, nmae: 'typo' },
    spec: {
      selector: { matchLabels: { app: 'x' } },
      template: { spec: { containers: [{ name: 'c', image: 'i', imagePullPolcy: 'Always', ports: [{ containerPort: 1, hostport: 2 }] }] } },
    },
  };
  const { object, unknownFields } = pruneByBuiltinSchema(schemas, schemas.kinds['apps/v1/DaemonSet'] as string, daemonSet);
  assert.deepEqual(unknownFields, ['bogus', 'metadata.nmae', 'spec.template.spec.containers[0].imagePullPolcy', 'spec.template.spec.containers[0].ports[0].hostport']);
  assert.deepEqual(object, {
    apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'd', labels: { a: 'b' } },
    spec: { selector: { matchLabels: { app: 'x' } }, template: { spec: { containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 1 }] }] } } },
  });
  const crd = { spec: { versions: [{ name: 'v1', schema: { openAPIV3Schema: { type: 'object', default: { anything: { goes: 1 } }, properties: { x: { type: 'string', bogus: true } } } } }] } };
  const pruned = pruneByBuiltinSchema(schemas, schemas.kinds['apiextensions.k8s.io/v1/CustomResourceDefinition'] as string, crd);
  assert.deepEqual(pruned.unknownFields, ['spec.versions[0].schema.openAPIV3Schema.properties.x.bogus']);
  assert.deepEqual((pruned.object as typeof crd).spec.versions[0]?.schema.openAPIV3Schema.default, { anything: { goes: 1 } });
});

test('malformed values are left for validation: a string where an object belongs, null, a list where a map belongs', () => {
  for (const spec of ['text', null, 7, [1, 2], { containers: 'nope' }] as Json[]) {
    const { unknownFields } = pruneByBuiltinSchema(schemas, schemas.kinds['v1/Pod'] as string, { spec });
    assert.deepEqual(unknownFields, [], JSON.stringify(spec));
  }
});
