import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { load } from 'js-yaml';
import { planLab } from '../lab/addressing.ts';
import { clusterObject, endpointObject } from '../lab/submariner-sim.ts';
import { CrdManifestError, parseCrdManifest, type CrdDefinition } from '../lab/apiserver/crd-manifest.ts';
import {
  aggregateText, goJson, goNumber, goQuote, invalidStatusParts, strictDecodingMessage, unknownFieldWarnings, warningHeaderValue,
  type FieldError,
} from '../lab/apiserver/field-errors.ts';
import {
  admission, fieldValidationDirective, validateCustomResource, type JsonObject, type JsonSchemaProps, type ResourceNames,
} from '../lab/apiserver/structural-schema.ts';

const crdFile = readFileSync(new URL('../../manifests/01-crds.yaml', import.meta.url), 'utf8');
/** One CRD's document of manifests/01-crds.yaml, with the header comment that leads it. */
const crdText = (plural: string): string => {
  const section = crdFile.split(/^---$/m).find((text) => text.includes(`\n  name: ${plural}.submariner.io\n`));
  if (section === undefined) throw new Error(`manifests/01-crds.yaml has no document for ${plural}.submariner.io`);
  return section;
};
const crd = (plural: string): CrdDefinition => parseCrdManifest(load(crdText(plural)));
const schemaOf = (plural: string): JsonSchemaProps => (crd(plural).versions[0] as CrdDefinition['versions'][number]).schema;
const names = (kind: string, name: string): ResourceNames => ({ kind, group: 'submariner.io', version: 'v1', name });

const cluster = planLab({ prefix: 'sw' }).clusters[0] as Parameters<typeof endpointObject>[0];

function endpointSpec(overrides: JsonObject = {}): JsonObject {
  return {
    cluster_id: 'west', cable_name: 'submariner-cable-west-192-168-1-10', hostname: 'west-gw', subnets: ['10.2.0.0/16'],
    private_ip: '192.168.1.10', public_ip: '203.0.113.10', nat_enabled: false, backend: 'libreswan',
    backend_config: { 'udp-port': '4500' }, ...overrides,
  };
}

function gateway(status: unknown): JsonObject {
  return { apiVersion: 'submariner.io/v1', kind: 'Gateway', metadata: { name: 'east-gw', namespace: 'submariner-operator' }, status };
}

function validGatewayStatus(): JsonObject {
  return {
    version: 'v0.20.0', haStatus: 'active', statusFailure: '', localEndpoint: endpointSpec({ cluster_id: 'east' }),
    connections: [{
      status: 'connected', statusMessage: '', endpoint: endpointSpec(), usingIP: '203.0.113.10', usingNAT: false,
      latencyRTT: { last: '450.972µs', min: '400µs', average: '500µs', max: '1ms', stdDev: '20µs' },
    }],
  };
}

function causes(errors: FieldError[]): string[] {
  return errors.map((e) => `${e.reason} ${e.field}: ${e.message}`);
}

describe("Submariner's CRDs in manifests/01-crds.yaml", () => {
  for (const plural of ['clusters', 'endpoints', 'gateways', 'routeagents']) {
    test(`${plural}: the header names the repository, path and commit it matches`, () => {
      const header = crdText(plural).split('\n---\n')[0] as string;
      assert.match(header, /github\.com\/submariner-io\/submariner/);
      assert.match(header, new RegExp(`deploy/crds/submariner\\.io_${plural}\\.yaml`));
      assert.match(header, /commit [0-9a-f]{40}/);
    });
  }

  test('names, scope and versions are as Submariner ships them: namespaced, v1 only, no short names', () => {
    const expected = { clusters: 'Cluster', endpoints: 'Endpoint', gateways: 'Gateway', routeagents: 'RouteAgent' };
    for (const [plural, kind] of Object.entries(expected)) {
      const definition = crd(plural);
      assert.equal(definition.name, `${plural}.submariner.io`);
      assert.equal(definition.kind, kind);
      assert.equal(definition.listKind, `${kind}List`);
      assert.equal(definition.singular, kind.toLowerCase());
      assert.equal(definition.scope, 'Namespaced');
      assert.deepEqual(definition.shortNames, []);
      assert.deepEqual(definition.versions.map((v) => [v.name, v.served, v.storage]), [['v1', true, true]]);
    }
  });

  test('no CRD declares a status subresource (Gateway has `subresources: {}`, RouteAgent none at all)', () => {
    for (const plural of ['clusters', 'endpoints', 'gateways', 'routeagents']) {
      assert.deepEqual(crd(plural).versions[0]?.subresources, {}, plural);
    }
    const raw = load(crdText('gateways')) as { spec: { versions: Array<Record<string, unknown>> } };
    assert.deepEqual(raw.spec.versions[0]?.subresources, {});
    const rawAgent = load(crdText('routeagents')) as { spec: { versions: Array<Record<string, unknown>> } };
    assert.equal('subresources' in (rawAgent.spec.versions[0] ?? {}), false);
  });

  test("Gateway's printer column shows .status.haStatus as HA Status", () => {
    assert.deepEqual(crd('gateways').versions[0]?.additionalPrinterColumns, [
      { name: 'HA Status', type: 'string', jsonPath: '.status.haStatus', description: 'High availability status of the Gateway' },
    ]);
    for (const plural of ['clusters', 'endpoints', 'routeagents']) assert.deepEqual(crd(plural).versions[0]?.additionalPrinterColumns, []);
  });

  test('required fields: Gateway and RouteAgent require status and its fields, Endpoint and Cluster their spec', () => {
    const gw = schemaOf('gateways');
    assert.deepEqual(gw.required, ['status']);
    assert.deepEqual(gw.properties?.status?.required, ['connections', 'haStatus', 'localEndpoint', 'statusFailure', 'version']);
    const agent = schemaOf('routeagents');
    assert.deepEqual(agent.required, ['status']);
    assert.deepEqual(agent.properties?.status?.required, ['remoteEndpoints', 'statusFailure', 'version']);
    assert.deepEqual(schemaOf('endpoints').properties?.spec?.required, ['backend', 'cable_name', 'cluster_id', 'hostname', 'nat_enabled', 'subnets']);
    assert.deepEqual(schemaOf('clusters').properties?.spec?.required, ['cluster_cidr', 'cluster_id', 'global_cidr', 'service_cidr']);
  });

  test('every EndpointSpec copy (Endpoint, Gateway local and connections, RouteAgent) is the same schema', () => {
    const endpoint = schemaOf('endpoints').properties?.spec;
    const gwStatus = schemaOf('gateways').properties?.status;
    assert.deepEqual(gwStatus?.properties?.localEndpoint, endpoint);
    assert.deepEqual(gwStatus?.properties?.connections?.items?.properties?.endpoint, endpoint);
    assert.deepEqual(schemaOf('routeagents').properties?.status?.properties?.remoteEndpoints?.items?.properties?.spec, endpoint);
  });
});

describe('acceptance cases against the real CRDs', () => {
  test('a Gateway without its required status fields is Invalid with one Required value per field', () => {
    const result = validateCustomResource(schemaOf('gateways'), gateway({ haStatus: 'active' }));
    assert.deepEqual(result.errors, ['connections', 'localEndpoint', 'statusFailure', 'version'].map((f) => ({
      reason: 'FieldValueRequired', field: `status.${f}`, message: 'Required value',
    })));
    const answer = admission(result, 'Strict', names('Gateway', 'east-gw'));
    assert.equal(answer.outcome, 'invalid');
    if (answer.outcome !== 'invalid') return;
    assert.equal(answer.code, 422);
    assert.equal(answer.message, 'Gateway.submariner.io "east-gw" is invalid: [status.connections: Required value, status.localEndpoint: Required value, status.statusFailure: Required value, status.version: Required value]');
    assert.deepEqual({ ...answer.details, causes: answer.details.causes.length }, { name: 'east-gw', group: 'submariner.io', kind: 'Gateway', causes: 4 });
  });

  test('a Gateway created with no status at all is Invalid: status: Required value', () => {
    const result = validateCustomResource(schemaOf('gateways'), { apiVersion: 'submariner.io/v1', kind: 'Gateway', metadata: { name: 'gw' } });
    assert.deepEqual(causes(result.errors), ['FieldValueRequired status: Required value']);
    const answer = admission(result, 'Warn', names('Gateway', 'gw'));
    assert.equal(answer.outcome === 'invalid' && answer.message, 'Gateway.submariner.io "gw" is invalid: status: Required value');
  });

  test('a complete Gateway passes unchanged', () => {
    const body = gateway(validGatewayStatus());
    const result = validateCustomResource(schemaOf('gateways'), body);
    assert.deepEqual(result.errors, []);
    assert.deepEqual(result.unknownFields, []);
    assert.deepEqual(result.object, body);
  });

  test('an Endpoint with a wrong type is Invalid in the API server words', () => {
    const body = { ...endpointObject(cluster), spec: { ...(endpointObject(cluster).spec as JsonObject), cable_name: 42 } };
    const result = validateCustomResource(schemaOf('endpoints'), body);
    assert.deepEqual(result.errors, [{
      reason: 'FieldValueTypeInvalid', field: 'spec.cable_name',
      message: 'Invalid value: "integer": spec.cable_name in body must be of type string: "integer"',
    }]);
    const answer = admission(result, 'Strict', names('Endpoint', 'ep'));
    assert.equal(answer.outcome === 'invalid' && answer.message,
      'Endpoint.submariner.io "ep" is invalid: spec.cable_name: Invalid value: "integer": spec.cable_name in body must be of type string: "integer"');
  });

  test('an Endpoint with an unknown field: 400 under Strict, pruned with a warning under Warn, pruned silently under Ignore', () => {
    const valid = endpointObject(cluster);
    const body = { ...valid, spec: { ...(valid.spec as JsonObject), cableDriver: 'wireguard' } };
    const result = validateCustomResource(schemaOf('endpoints'), body);
    assert.deepEqual(result.unknownFields, ['spec.cableDriver']);
    assert.deepEqual(result.errors, []);

    assert.deepEqual(admission(result, 'Strict', names('Endpoint', 'ep')), {
      outcome: 'rejected', code: 400, reason: 'BadRequest',
      message: 'Endpoint in version "v1" cannot be handled as a Endpoint: strict decoding error: unknown field "spec.cableDriver"',
    });
    assert.deepEqual(admission(result, 'Warn', names('Endpoint', 'ep')), { outcome: 'admitted', object: valid, warnings: ['unknown field "spec.cableDriver"'] });
    assert.deepEqual(admission(result, 'Ignore', names('Endpoint', 'ep')), { outcome: 'admitted', object: valid, warnings: [] });
  });

  test("the lab's Endpoint and Cluster (submariner-sim) pass unchanged", () => {
    for (const [plural, body] of [['endpoints', endpointObject(cluster)], ['clusters', clusterObject(cluster)]] as const) {
      const result = validateCustomResource(schemaOf(plural), body);
      assert.deepEqual(result, { object: body, unknownFields: [], errors: [] }, plural);
    }
  });

  test('an Endpoint missing its spec fields gets one Required value each; cluster_id bounds use minLength and maxLength', () => {
    const missing = validateCustomResource(schemaOf('endpoints'), { metadata: { name: 'ep' }, spec: { cluster_id: 'west' } });
    assert.deepEqual(missing.errors.map((e) => e.field), ['spec.backend', 'spec.cable_name', 'spec.hostname', 'spec.nat_enabled', 'spec.subnets']);
    assert.ok(missing.errors.every((e) => e.reason === 'FieldValueRequired' && e.message === 'Required value'));

    assert.deepEqual(causes(validateCustomResource(schemaOf('endpoints'), { spec: endpointSpec({ cluster_id: '' }) }).errors),
      ['FieldValueInvalid spec.cluster_id: Invalid value: "": spec.cluster_id in body should be at least 1 chars long']);
    assert.deepEqual(causes(validateCustomResource(schemaOf('endpoints'), { spec: endpointSpec({ cluster_id: 'x'.repeat(64) }) }).errors),
      ['FieldValueTooLong spec.cluster_id: Too long: may not be more than 63 bytes']);
    assert.deepEqual(causes(validateCustomResource(schemaOf('endpoints'), { spec: endpointSpec({ publicIPs: ['a', 'b', 'c'] }) }).errors),
      ['FieldValueTooMany spec.publicIPs: Too many: 3: must have at most 2 items']);
  });

  test('an Endpoint without spec, or with spec: null, is missing spec (the null is dropped first)', () => {
    for (const body of [{ metadata: { name: 'ep' } }, { metadata: { name: 'ep' }, spec: null }]) {
      const result = validateCustomResource(schemaOf('endpoints'), body);
      assert.deepEqual(causes(result.errors), ['FieldValueRequired spec: Required value']);
      assert.equal('spec' in result.object, false);
    }
  });

  test('a RouteAgent needs status with remoteEndpoints, statusFailure and version, and each entry its spec', () => {
    const schema = schemaOf('routeagents');
    assert.deepEqual(causes(validateCustomResource(schema, { metadata: { name: 'node1' } }).errors), ['FieldValueRequired status: Required value']);
    const body = { metadata: { name: 'node1' }, status: { version: 'v1', statusFailure: '', remoteEndpoints: [{ status: 'connected', statusMessage: '' }] } };
    assert.deepEqual(causes(validateCustomResource(schema, body).errors), ['FieldValueRequired status.remoteEndpoints[0].spec: Required value']);
    const good = { ...body, status: { ...body.status, remoteEndpoints: [{ status: 'connected', statusMessage: '', spec: endpointSpec() }] } };
    assert.deepEqual(validateCustomResource(schema, good), { object: good, unknownFields: [], errors: [] });
  });

  test('unknown fields deep in a Gateway are named with list indexes, sorted, after unknown metadata fields', () => {
    const status = validGatewayStatus();
    const connection = (status.connections as JsonObject[])[0] as JsonObject;
    connection.rtt = 1;
    (connection.endpoint as JsonObject).zone = 'a';
    status.alpha = true;
    const result = validateCustomResource(schemaOf('gateways'), { ...gateway(status), metadata: { name: 'gw', clusterName: 'old' } });
    assert.deepEqual(result.unknownFields, ['metadata.clusterName', 'status.alpha', 'status.connections[0].endpoint.zone', 'status.connections[0].rtt']);
    assert.deepEqual(result.object, { ...gateway(validGatewayStatus()), metadata: { name: 'gw' } });
  });

  test('under Strict an unknown field is answered 400 even when the object is also invalid (decoding comes first)', () => {
    const result = validateCustomResource(schemaOf('endpoints'), { spec: endpointSpec({ cable_name: 1, extra: 1 }) });
    assert.equal(result.errors.length, 1);
    assert.equal(admission(result, 'Strict', names('Endpoint', 'ep')).outcome, 'rejected');
    const warned = admission(result, 'Warn', names('Endpoint', 'ep'));
    assert.equal(warned.outcome, 'invalid');
    assert.deepEqual(warned.outcome === 'invalid' && warned.warnings, ['unknown field "spec.extra"']);
  });
});

describe('structural schema keywords', () => {
  const object = (properties: Record<string, JsonSchemaProps>, extra: JsonSchemaProps = {}): JsonSchemaProps => ({ type: 'object', properties, ...extra });
  const check = (schema: JsonSchemaProps, spec: unknown) => validateCustomResource(object({ spec: schema }), { spec });

  test('types: integer is not number, but an integer is a number; each mismatch names the actual type', () => {
    assert.deepEqual(causes(check(object({ n: { type: 'integer' } }), { n: 1.5 }).errors),
      ['FieldValueTypeInvalid spec.n: Invalid value: "number": spec.n in body must be of type integer: "number"']);
    assert.deepEqual(check(object({ n: { type: 'number' } }), { n: 3 }).errors, []);
    assert.deepEqual(causes(check(object({ b: { type: 'boolean' }, a: { type: 'array', items: { type: 'string' } }, o: { type: 'object' } }), { b: 'true', a: 'x', o: [] }).errors), [
      'FieldValueTypeInvalid spec.b: Invalid value: "string": spec.b in body must be of type boolean: "string"',
      'FieldValueTypeInvalid spec.a: Invalid value: "string": spec.a in body must be of type array: "string"',
      'FieldValueTypeInvalid spec.o: Invalid value: "array": spec.o in body must be of type object: "array"',
    ]);
    assert.deepEqual(causes(check({ type: 'object' }, 'text').errors),
      ['FieldValueTypeInvalid spec: Invalid value: "string": spec in body must be of type object: "string"']);
  });

  test('null: dropped from an object unless nullable; an array item null is a type error', () => {
    const schema = object({ a: { type: 'string' }, b: { type: 'string', nullable: true }, list: { type: 'array', items: { type: 'string' } } });
    const result = check(schema, { a: null, b: null, list: ['x', null] });
    assert.deepEqual(result.object.spec, { b: null, list: ['x', null] });
    assert.deepEqual(causes(result.errors), ['FieldValueTypeInvalid spec.list[1]: Invalid value: "null": spec.list[1] in body must be of type string: "null"']);
    assert.deepEqual(causes(check(object({ a: { type: 'string' } }, { required: ['a'] }), { a: null }).errors), ['FieldValueRequired spec.a: Required value']);
  });

  test('enum: Unsupported value with the supported values quoted; numbers match numerically', () => {
    const schema = object({ ha: { type: 'string', enum: ['active', 'passive'] }, n: { type: 'integer', enum: [1, 2] } });
    assert.deepEqual(causes(check(schema, { ha: 'standby', n: 3 }).errors), [
      'FieldValueNotSupported spec.ha: Unsupported value: "standby": supported values: "active", "passive"',
      'FieldValueNotSupported spec.n: Unsupported value: 3: supported values: "1", "2"',
    ]);
    assert.deepEqual(check(schema, { ha: 'passive', n: 2 }).errors, []);
  });

  test('string bounds count characters (runes), stop at the first failure, then pattern', () => {
    const schema = object({ s: { type: 'string', maxLength: 2, minLength: 2, pattern: '^[a-z]+$' } });
    assert.deepEqual(causes(check(schema, { s: '🙂🙂' }).errors), ["FieldValueInvalid spec.s: Invalid value: \"🙂🙂\": spec.s in body should match '^[a-z]+$'"]);
    assert.deepEqual(causes(check(schema, { s: 'abc' }).errors), ['FieldValueTooLong spec.s: Too long: may not be more than 2 bytes']);
    assert.deepEqual(causes(check(object({ s: { type: 'string', maxLength: 1 } }), { s: 'ab' }).errors), ['FieldValueTooLong spec.s: Too long: may not be more than 1 byte']);
    assert.deepEqual(causes(check(schema, { s: 'a' }).errors), ['FieldValueInvalid spec.s: Invalid value: "a": spec.s in body should be at least 2 chars long']);
    assert.deepEqual(check(schema, { s: 'ab' }).errors, []);
  });

  test('minimum, maximum (inclusive and exclusive) and multipleOf', () => {
    const schema = object({ n: { type: 'integer', minimum: 1, maximum: 10 }, x: { type: 'number', maximum: 2.5, exclusiveMaximum: true }, m: { type: 'integer', multipleOf: 5 } });
    assert.deepEqual(causes(check(schema, { n: 11, x: 2.5, m: 12 }).errors), [
      'FieldValueInvalid spec.n: Invalid value: 11: spec.n in body should be less than or equal to 10',
      'FieldValueInvalid spec.x: Invalid value: 2.5: spec.x in body should be less than 2.5',
      'FieldValueInvalid spec.m: Invalid value: 12: spec.m in body should be a multiple of 5',
    ]);
    assert.deepEqual(causes(check(schema, { n: 0 }).errors), ['FieldValueInvalid spec.n: Invalid value: 0: spec.n in body should be greater than or equal to 1']);
    assert.deepEqual(check(schema, { n: 10, x: 2.4, m: 15 }).errors, []);

  });

  test('an integer value is an int64 to the server: its bounds are truncated to integers (MaximumNativeType)', () => {
    const schema = object({ n: { type: 'number', maximum: 1.5 } });
    assert.deepEqual(causes(check(schema, { n: 2 }).errors), ['FieldValueInvalid spec.n: Invalid value: 2: spec.n in body should be less than or equal to 1']);
    assert.deepEqual(causes(check(schema, { n: 1.75 }).errors), ['FieldValueInvalid spec.n: Invalid value: 1.75: spec.n in body should be less than or equal to 1.5']);
  });

  test('minItems and maxItems; items are checked first', () => {
    const schema = object({ l: { type: 'array', items: { type: 'string' }, minItems: 2, maxItems: 3 } });
    assert.deepEqual(causes(check(schema, { l: [1] }).errors), [
      'FieldValueTypeInvalid spec.l[0]: Invalid value: "integer": spec.l[0] in body must be of type string: "integer"',
      'FieldValueInvalid spec.l: Invalid value: 1: spec.l in body should have at least 2 items',
    ]);
    assert.deepEqual(causes(check(schema, { l: ['a', 'b', 'c', 'd'] }).errors), ['FieldValueTooMany spec.l: Too many: 4: must have at most 3 items']);
  });

  test('format int32/int64 is not range-checked (the server strips non-string formats); string formats are', () => {
    const schema = object({ i: { type: 'integer', format: 'int32' }, t: { type: 'string', format: 'date-time' }, u: { type: 'string', format: 'uuid' }, c: { type: 'string', format: 'cidr' } });
    assert.deepEqual(check(schema, { i: 2 ** 40, t: '2024-10-14T12:00:00Z', u: '123e4567-e89b-12d3-a456-426614174000', c: '10.0.0.0/8' }).errors, []);
    assert.deepEqual(causes(check(schema, { t: 'yesterday', u: 'nope', c: '10.0.0.0/33' }).errors), [
      'FieldValueTypeInvalid spec.t: Invalid value: "yesterday": spec.t in body must be of type date-time: "yesterday"',
      'FieldValueTypeInvalid spec.u: Invalid value: "nope": spec.u in body must be of type uuid: "nope"',
      'FieldValueTypeInvalid spec.c: Invalid value: "10.0.0.0/33": spec.c in body must be of type cidr: "10.0.0.0/33"',
    ]);
    assert.deepEqual(causes(check(schema, { t: 5 }).errors),
      ['FieldValueTypeInvalid spec.t: Invalid value: "int64": spec.t in body must be of type date-time: "int64"']);
    assert.deepEqual(check(object({ s: { type: 'string', format: 'no-such-format' } }), { s: 'anything' }).errors, []);
  });

  test('additionalProperties: a schema validates every value (dotted path), false forbids every key', () => {
    assert.deepEqual(causes(check(object({ m: { type: 'object', additionalProperties: { type: 'string' } } }), { m: { 'udp-port': 4500, ok: 'x' } }).errors),
      ['FieldValueTypeInvalid spec.m.udp-port: Invalid value: "integer": spec.m.udp-port in body must be of type string: "integer"']);
    const closed = check(object({ m: { type: 'object', additionalProperties: false } }), { m: { a: 1 } });
    assert.deepEqual(closed.unknownFields, []);
    assert.deepEqual(causes(closed.errors), ['FieldValueInvalid spec.m: Invalid value: "a": spec.m.a in body is a forbidden property']);
  });

  test('minProperties and maxProperties', () => {
    const schema = object({ m: { type: 'object', additionalProperties: { type: 'string' }, minProperties: 1, maxProperties: 2 } });
    assert.deepEqual(causes(check(schema, { m: {} }).errors), ['FieldValueInvalid spec.m: Invalid value: 0: spec.m in body should have at least 1 properties']);
    assert.deepEqual(causes(check(schema, { m: { a: 'a', b: 'b', c: 'c' } }).errors), ['FieldValueTooMany spec.m: Too many: 3: must have at most 2 items']);
  });

  test('x-kubernetes-preserve-unknown-fields keeps unknown keys but still prunes inside known properties', () => {
    const schema: JsonSchemaProps = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, properties: { known: object({ a: { type: 'string' } }) } };
    const result = check(schema, { anything: { deep: [1] }, known: { a: 'x', b: 'y' } });
    assert.deepEqual(result.object.spec, { anything: { deep: [1] }, known: { a: 'x' } });
    assert.deepEqual(result.unknownFields, ['spec.known.b']);

    // As kube's skipPrune does, it carries into a list's items, but not into their known properties.
    const listed = object({ list: { type: 'array', 'x-kubernetes-preserve-unknown-fields': true, items: object({ known: object({ a: { type: 'string' } }) }) } });
    const kept = check(listed, { list: [{ extra: 1, known: { a: 'x', b: 'y' } }] });
    assert.deepEqual(kept.object.spec, { list: [{ extra: 1, known: { a: 'x' } }] });
    assert.deepEqual(kept.unknownFields, ['spec.list[0].known.b']);
  });

  test('x-kubernetes-int-or-string takes integers and strings only', () => {
    const schema = object({ port: { 'x-kubernetes-int-or-string': true } });
    assert.deepEqual(check(schema, { port: 8080 }).errors, []);
    assert.deepEqual(check(schema, { port: 'http' }).errors, []);
    assert.deepEqual(causes(check(schema, { port: true }).errors),
      ['FieldValueTypeInvalid spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean"']);
  });

  test('x-kubernetes-embedded-resource keeps apiVersion, kind and metadata, requires apiVersion and kind', () => {
    const schema = object({ template: { type: 'object', 'x-kubernetes-embedded-resource': true, properties: { spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } } });
    const good = { template: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', bogus: 1 }, spec: { containers: [] }, extra: 1 } };
    const result = check(schema, good);
    assert.deepEqual(result.object.spec, { template: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [] } } });
    assert.deepEqual(result.unknownFields, ['spec.template.extra', 'spec.template.metadata.bogus']);
    assert.deepEqual(result.errors, []);

    assert.deepEqual(causes(check(schema, { template: { spec: {} } }).errors), [
      'FieldValueRequired spec.template.apiVersion: Required value', 'FieldValueRequired spec.template.kind: Required value',
    ]);
    assert.deepEqual(causes(check(schema, { template: { apiVersion: 'a/b/c', kind: 'Not_A_Kind' } }).errors), [
      'FieldValueInvalid spec.template.apiVersion: Invalid value: "a/b/c": unexpected GroupVersion string: a/b/c',
      `FieldValueInvalid spec.template.kind: Invalid value: "Not_A_Kind": may have mixed case, but should otherwise match: a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')`,
    ]);
  });

  test('defaults fill missing fields and non-nullable nulls, in nested objects and list items', () => {
    const schema = object({ mode: { type: 'string', default: 'auto' }, list: { type: 'array', items: object({ w: { type: 'integer', default: 1 } }) } });
    assert.deepEqual(check(schema, { mode: null, list: [{}, { w: 5 }] }).object.spec, { mode: 'auto', list: [{ w: 1 }, { w: 5 }] });
    assert.deepEqual(check(schema, {}).object.spec, { mode: 'auto' });
  });

  test('pruning descends by schema, lists and all; the input object is not changed', () => {
    const schema = object({ list: { type: 'array', items: object({ a: { type: 'string' } }) } });
    const body = { spec: { list: [{ a: 'x', b: 1 }, { c: { d: 1 } }] }, top: 1 };
    const copy = structuredClone(body);
    const result = validateCustomResource(object({ spec: schema }), body);
    assert.deepEqual(result.unknownFields, ['spec.list[0].b', 'spec.list[1].c', 'top']);
    assert.deepEqual(result.object, { spec: { list: [{ a: 'x' }, {}] } });
    assert.deepEqual(body, copy);
  });

  test('the root keeps apiVersion, kind and metadata even when the schema does not list them', () => {
    const result = validateCustomResource({ type: 'object' }, { apiVersion: 'x.io/v1', kind: 'X', metadata: { name: 'a', labels: { k: 'v' } }, spec: {} });
    assert.deepEqual(result.object, { apiVersion: 'x.io/v1', kind: 'X', metadata: { name: 'a', labels: { k: 'v' } } });
    assert.deepEqual(result.unknownFields, ['spec']);
  });

  test('a body that is not an object is a programming error', () => {
    assert.throws(() => validateCustomResource({ type: 'object' }, [] as unknown as JsonObject), TypeError);
  });
});

describe('the API server wording', () => {
  test('fieldValidation: absent or empty means Warn; the three values are case-sensitive', () => {
    assert.equal(fieldValidationDirective(undefined), 'Warn');
    assert.equal(fieldValidationDirective(null), 'Warn');
    assert.equal(fieldValidationDirective(''), 'Warn');
    assert.equal(fieldValidationDirective('Strict'), 'Strict');
    assert.equal(fieldValidationDirective('Ignore'), 'Ignore');
    assert.equal(fieldValidationDirective('strict'), undefined);
  });

  test('Go value printing: %q escapes, %v numbers, JSON with sorted keys', () => {
    assert.equal(goQuote('a"b\\c\n\x01\u2028é'), '"a\\"b\\\\c\\n\\x01\\u2028é"');
    assert.deepEqual([1e21, 1e-5, 0.0001, 123456789, -2.5, 1.5e300].map(goNumber), ['1e+21', '1e-05', '0.0001', '123456789', '-2.5', '1.5e+300']);
    assert.equal(goJson({ b: [1, '<'], a: null }), '{"a":null,"b":[1,"\\u003c"]}');
  });

  test('an aggregate prints one error bare, several in brackets, repeats once', () => {
    const e = { reason: 'FieldValueRequired', field: 'a', message: 'Required value' } as const;
    const f = { reason: 'FieldValueRequired', field: 'b', message: 'Required value' } as const;
    assert.equal(aggregateText([e]), 'a: Required value');
    assert.equal(aggregateText([e, f, e]), '[a: Required value, b: Required value]');
    assert.equal(invalidStatusParts('Pod', '', 'p', [e]).message, 'Pod "p" is invalid: a: Required value');
    assert.equal(invalidStatusParts('Pod', '', 'p', [e, e]).details.causes.length, 2);
  });

  test('strict decoding message, warnings and the Warning header', () => {
    assert.equal(strictDecodingMessage('Gateway', 'v1', ['spec.a', 'status.b']),
      'Gateway in version "v1" cannot be handled as a Gateway: strict decoding error: unknown field "spec.a", unknown field "status.b"');
    assert.deepEqual(unknownFieldWarnings(['spec.a', 'spec.a']), ['unknown field "spec.a"']);
    assert.equal(warningHeaderValue('unknown field "spec.a"'), '299 - "unknown field \\"spec.a\\""');
  });
});

describe('malformed CRDs', () => {
  const good = () => load(crdText('endpoints')) as { [k: string]: unknown; spec: JsonObject & { names: JsonObject; versions: JsonObject[] }; metadata: JsonObject };

  function refusal(manifest: unknown): CrdManifestError {
    try {
      parseCrdManifest(manifest);
    } catch (error) {
      assert.ok(error instanceof CrdManifestError, String(error));
      return error;
    }
    assert.fail('expected the CRD to be refused');
  }
  const refused = (manifest: unknown) => causes(refusal(manifest).errors);

  test('not an object, wrong apiVersion or kind, no spec', () => {
    assert.equal(refusal('text').errors.length, 1);
    assert.deepEqual(refused({ ...good(), apiVersion: 'apiextensions.k8s.io/v1beta1' }),
      ['FieldValueNotSupported apiVersion: Unsupported value: "apiextensions.k8s.io/v1beta1": supported values: "apiextensions.k8s.io/v1"']);
    assert.deepEqual(refused({ ...good(), kind: 'Deployment' }),
      ['FieldValueNotSupported kind: Unsupported value: "Deployment": supported values: "CustomResourceDefinition"']);
    assert.deepEqual(refused({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'x' } }), ['FieldValueRequired spec: Required value']);
  });

  test('the error message and 422 parts are those of an Invalid CustomResourceDefinition', () => {
    const manifest = good();
    manifest.metadata.name = 'eps.submariner.io';
    const error = refusal(manifest);
    assert.equal(error.message, 'CustomResourceDefinition.apiextensions.k8s.io "eps.submariner.io" is invalid: metadata.name: Invalid value: "eps.submariner.io": must be spec.names.plural+"."+spec.group');
    assert.equal(error.statusParts.code, 422);
    assert.equal(error.statusParts.details.group, 'apiextensions.k8s.io');
  });

  test('group, names and scope', () => {
    const manifest = good();
    manifest.spec.group = 'submariner';
    manifest.metadata.name = 'endpoints.submariner';
    manifest.spec.scope = 'Global';
    manifest.spec.names = { kind: 'Endpoint', shortNames: ['EP'] };
    assert.deepEqual(refused(manifest), [
      'FieldValueInvalid spec.group: Invalid value: "submariner": should be a domain with at least one dot',
      'FieldValueRequired spec.names.plural: Required value',
      `FieldValueInvalid spec.names.shortNames[0]: Invalid value: "EP": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')`,
      'FieldValueNotSupported spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced"',
    ]);
  });

  test('versions: none, two storage versions, duplicate names, no schema', () => {
    const none = good();
    none.spec.versions = [];
    assert.deepEqual(refused(none), ['FieldValueRequired spec.versions: Required value: must have exactly one version marked as storage version']);

    const twice = good();
    const v1 = twice.spec.versions[0] as JsonObject;
    twice.spec.versions = [v1, { ...v1 }];
    assert.deepEqual(refused(twice), [
      'FieldValueDuplicate spec.versions[1].name: Duplicate value: "v1"',
      'FieldValueInvalid spec.versions: Invalid value: ["v1","v1"]: must have exactly one version marked as storage version',
    ]);

    const schemaless = good();
    delete (schemaless.spec.versions[0] as JsonObject).schema;
    assert.deepEqual(refused(schemaless), ['FieldValueRequired spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required']);
  });

  test('a schema that is not structural', () => {
    const manifest = good();
    (manifest.spec.versions[0] as JsonObject).schema = {
      openAPIV3Schema: {
        type: 'object',
        properties: {
          spec: {
            type: 'object',
            properties: { untyped: {}, list: { type: 'array' }, set: { type: 'array', items: { type: 'string' }, uniqueItems: true }, odd: { type: 'text' } },
            additionalProperties: { type: 'string' },
          },
          loose: { type: 'object', 'x-kubernetes-preserve-unknown-fields': false },
        },
      },
    };
    const base = 'spec.versions[0].schema.openAPIV3Schema.properties';
    assert.deepEqual(refused(manifest), [
      `FieldValueRequired ${base}[spec].properties[untyped].type: Required value: must not be empty for specified object fields`,
      `FieldValueRequired ${base}[spec].properties[list].items: Required value: must be specified`,
      `FieldValueForbidden ${base}[spec].properties[set].uniqueItems: Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic`,
      `FieldValueNotSupported ${base}[spec].properties[odd].type: Unsupported value: "text": supported values: "array", "boolean", "integer", "number", "object", "string"`,
      `FieldValueForbidden ${base}[spec].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive`,
      `FieldValueInvalid ${base}[loose].x-kubernetes-preserve-unknown-fields: Invalid value: false: must be true or undefined`,
    ]);
  });

  test('the root of a schema must be an object type', () => {
    const manifest = good();
    (manifest.spec.versions[0] as JsonObject).schema = { openAPIV3Schema: { type: 'string' } };
    assert.deepEqual(refused(manifest), ['FieldValueInvalid spec.versions[0].schema.openAPIV3Schema.type: Invalid value: "string": must be object at the root']);
  });

  test('subresources and printer columns', () => {
    const manifest = good();
    Object.assign(manifest.spec.versions[0] as JsonObject, {
      subresources: { status: true, scale: { specReplicasPath: '.replicas', statusReplicasPath: '.status.replicas' } },
      additionalPrinterColumns: [{ name: 'Age', type: 'duration', jsonPath: '.metadata.creationTimestamp' }, { type: 'string' }],
    });
    assert.deepEqual(refused(manifest), [
      'FieldValueInvalid spec.versions[0].subresources.status: Invalid value: true: must be an object',
      'FieldValueInvalid spec.versions[0].subresources.scale.specReplicasPath: Invalid value: ".replicas": should be a json path under .spec',
      'FieldValueNotSupported spec.versions[0].additionalPrinterColumns[0].type: Unsupported value: "duration": supported values: "boolean", "date", "integer", "number", "string"',
      'FieldValueRequired spec.versions[0].additionalPrinterColumns[1].name: Required value',
      'FieldValueRequired spec.versions[0].additionalPrinterColumns[1].jsonPath: Required value',
    ]);
  });

  test('a status and scale subresource are read when declared; singular and listKind are defaulted', () => {
    const manifest = good();
    manifest.spec.names = { kind: 'Widget', plural: 'endpoints' };
    Object.assign(manifest.spec.versions[0] as JsonObject, {
      subresources: { status: {}, scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.selector' } },
    });
    const definition = parseCrdManifest(manifest);
    assert.equal(definition.singular, 'widget');
    assert.equal(definition.listKind, 'WidgetList');
    assert.deepEqual(definition.versions[0]?.subresources, {
      status: true, scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.selector' },
    });
  });
});
