/**
 * Schemas for the built-in kinds the lab serves, so kubectl can explain them and a write's unknown
 * fields are found (dropped, warned about or refused per fieldValidation) as a real API server's
 * decoder finds them. They are derived from @kubernetes/client-node's models (each model's
 * attributeTypeMap: JSON name and type of every field) and kept in builtin-schemas.json, so an API
 * server starts without loading the client; a test regenerates them and fails when they differ.
 *
 * What the models do not say and the schemas therefore lack: descriptions, required fields, enums,
 * formats beyond int32/int64/byte/date-time, and that a Quantity also accepts a number (the models
 * call it a string). Only unknown fields are enforced from them; values are not type-checked.
 */
import { readFileSync } from 'node:fs';
import { isObject, type Json } from './patch.ts';

export const BUILTIN_SCHEMAS_FILE = new URL('./builtin-schemas.json', import.meta.url);

/** A schema node: OpenAPI v3 with `$ref`s to `#/components/schemas/<definition>`. */
export type Schema = { [key: string]: Json };

export interface BuiltinSchemas {
  /** Definition name → schema, the names as kubectl shows them (`io.k8s.lab.PodSpec`). */
  definitions: Record<string, Schema>;
  /** `<apiVersion>/<Kind>` → the definition of that kind's object. */
  kinds: Record<string, string>;
}

interface Attribute { baseName: string; type: string; format: string }
type ModelClass = { getAttributeTypeMap(): Attribute[] };

const REF_PREFIX = '#/components/schemas/';
/** client-node's class names carry the API version (V1PodSpec, CoreV1Event, RbacV1Subject); definitions do not. */
const definitionOf = (className: string) => `io.k8s.lab.${className.replace(/^(?:Core|Rbac|Apiextensions)?V\d+(?:(?:alpha|beta)\d+)?/, '')}`;

/** The kinds the lab serves, by apiVersion/Kind → client-node model class. */
export const BUILTIN_MODELS: Record<string, string> = {
  'v1/Namespace': 'V1Namespace', 'v1/Node': 'V1Node', 'v1/Event': 'CoreV1Event', 'v1/Secret': 'V1Secret', 'v1/ConfigMap': 'V1ConfigMap',
  'v1/ServiceAccount': 'V1ServiceAccount', 'v1/Pod': 'V1Pod', 'apps/v1/DaemonSet': 'V1DaemonSet', 'coordination.k8s.io/v1/Lease': 'V1Lease',
  'rbac.authorization.k8s.io/v1/ClusterRole': 'V1ClusterRole', 'rbac.authorization.k8s.io/v1/ClusterRoleBinding': 'V1ClusterRoleBinding',
  'rbac.authorization.k8s.io/v1/Role': 'V1Role', 'rbac.authorization.k8s.io/v1/RoleBinding': 'V1RoleBinding',
  'apiextensions.k8s.io/v1/CustomResourceDefinition': 'V1CustomResourceDefinition',
};

/** Derives the schemas from client-node's exports (the module namespace), following every model the kinds reach. */
export function generateBuiltinSchemas(client: Record<string, unknown>): BuiltinSchemas {
  const definitions: Record<string, Schema> = {};
  const owner = new Map<string, string>();
  const model = (name: string) => {
    const candidate = client[name] as Partial<ModelClass> | undefined;
    return typeof candidate?.getAttributeTypeMap === 'function' ? candidate as ModelClass : undefined;
  };
  const typeSchema = (type: string, format: string): Schema => {
    const array = /^Array<(.+)>$/.exec(type);
    if (array) return { type: 'array', items: typeSchema(array[1] as string, '') };
    const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
    if (map) return { type: 'object', additionalProperties: typeSchema(map[1] as string, '') };
    switch (type) {
      case 'string': return format === 'byte' ? { type: 'string', format: 'byte' } : { type: 'string' };
      case 'Date': case 'V1MicroTime': return { type: 'string', format: 'date-time' };
      case 'number': return format === 'int32' || format === 'int64' ? { type: 'integer', format } : { type: 'number' };
      case 'boolean': return { type: 'boolean' };
      case 'IntOrString': return { 'x-kubernetes-int-or-string': true };
      case 'any': return { 'x-kubernetes-preserve-unknown-fields': true };
    }
    if (!model(type)) throw new Error(`client-node has no model ${type}`);
    return { $ref: `${REF_PREFIX}${visit(type)}` };
  };
  const visit = (className: string): string => {
    const definition = definitionOf(className);
    const previous = owner.get(definition);
    if (previous !== undefined && previous !== className) throw new Error(`${className} and ${previous} would share the definition ${definition}`);
    if (previous !== undefined) return definition;
    owner.set(definition, className);
    const properties: Schema = {};
    definitions[definition] = { type: 'object', properties };
    for (const attribute of (model(className) as ModelClass).getAttributeTypeMap()) properties[attribute.baseName] = typeSchema(attribute.type, attribute.format);
    return definition;
  };
  const kinds: Record<string, string> = {};
  for (const [kind, className] of Object.entries(BUILTIN_MODELS)) {
    if (!model(className)) throw new Error(`client-node has no model ${className} for ${kind}`);
    kinds[kind] = visit(className);
  }
  const sorted: Record<string, Schema> = {};
  for (const name of Object.keys(definitions).sort()) sorted[name] = definitions[name] as Schema;
  return { definitions: sorted, kinds };
}

export function loadBuiltinSchemas(): BuiltinSchemas {
  return JSON.parse(readFileSync(BUILTIN_SCHEMAS_FILE, 'utf8')) as BuiltinSchemas;
}

/** The definitions a schema reaches through `$ref`s (itself not included unless it is reached). */
export function referencedDefinitions(schemas: BuiltinSchemas, roots: string[]): string[] {
  const seen = new Set<string>();
  const walk = (node: Json) => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!isObject(node)) return;
    const ref = node.$ref;
    if (typeof ref === 'string' && ref.startsWith(REF_PREFIX)) {
      const name = ref.slice(REF_PREFIX.length);
      if (!seen.has(name)) {
        seen.add(name);
        walk(schemas.definitions[name] ?? null);
      }
    }
    Object.values(node).forEach(walk);
  };
  for (const root of roots) walk(schemas.definitions[root] ?? null);
  return [...seen].sort();
}

/**
 * A copy of `value` without the fields its schema does not know, and their paths (`spec.foo`,
 * `spec.containers[0].bogus`), as the API server's decoder reports them. ObjectMeta is pruned as any model.
 */
export function pruneByBuiltinSchema(schemas: BuiltinSchemas, definition: string, value: Json): { object: Json; unknownFields: string[] } {
  const unknownFields: string[] = [];
  const resolve = (schema: Schema): Schema => {
    const ref = schema.$ref;
    return typeof ref === 'string' ? schemas.definitions[ref.slice(REF_PREFIX.length)] ?? {} : schema;
  };
  const prune = (node: Json, schemaIn: Schema, path: string): Json => {
    const schema = resolve(schemaIn);
    if (schema['x-kubernetes-preserve-unknown-fields'] === true) return node;
    if (Array.isArray(node)) return isObject(schema.items) ? node.map((item, i) => prune(item, schema.items as Schema, `${path}[${i}]`)) : node;
    if (!isObject(node)) return node;
    const out: Record<string, Json> = {};
    for (const [key, child] of Object.entries(node)) {
      const at = path === '' ? key : `${path}.${key}`;
      const properties = schema.properties;
      if (isObject(properties)) {
        const property = properties[key];
        if (isObject(property)) out[key] = prune(child, property, at);
        else unknownFields.push(at);
      } else if (isObject(schema.additionalProperties)) {
        out[key] = prune(child, schema.additionalProperties, at);
      } else {
        out[key] = child;
      }
    }
    return out;
  };
  const object = prune(value, { $ref: `${REF_PREFIX}${definition}` }, '');
  return { object, unknownFields: unknownFields.sort() };
}

/** The file's text: one definition per line, so a regeneration's diff reads. */
export function serializeBuiltinSchemas(schemas: BuiltinSchemas): string {
  const lines = Object.entries(schemas.definitions).map(([name, schema]) => `  ${JSON.stringify(name)}: ${JSON.stringify(schema)}`);
  return `{\n "kinds": ${JSON.stringify(schemas.kinds)},\n "definitions": {\n${lines.join(',\n')}\n }\n}\n`;
}
