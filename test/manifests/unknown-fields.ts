/**
 * Fields a built-in kind does not have (`hostNetwrok: true`), which the OpenAPI schemas let through and
 * a server would drop, or refuse under strict field validation. Found by walking the object along the
 * model classes of @kubernetes/client-node: each carries an attributeTypeMap, its fields' wire names
 * (baseName) and types. Pure.
 */
import * as k8s from '@kubernetes/client-node';
import { isRecord } from '../../src/model/compare.ts';

interface Attribute { name: string; baseName: string; type: string }
interface Model { getAttributeTypeMap(): Attribute[] }

/** Types whose values are not walked further: scalars and free-form values (their shape is the schema's business). */
const LEAVES = new Set(['string', 'number', 'boolean', 'Date', 'IntOrString', 'any', 'object']);

/**
 * Fields the generator typed `any` that hold the same model again: a CRD schema's items and
 * additionalProperties are schemas (or a bool, or a list of schemas), and must be walked as such, or a
 * typo deep in a CRD would pass.
 */
const ANY_AS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  V1JSONSchemaProps: { items: 'V1JSONSchemaProps', additionalProperties: 'V1JSONSchemaProps', additionalItems: 'V1JSONSchemaProps' },
};

function model(type: string): Model | undefined {
  const candidate = (k8s as unknown as Record<string, unknown>)[type];
  return typeof candidate === 'function' && typeof (candidate as Partial<Model>).getAttributeTypeMap === 'function' ? candidate as unknown as Model : undefined;
}

/** The model type of a kind (`V1DaemonSet` for apps/v1 DaemonSet), or null when client-node has none (custom resources). */
export function modelTypeFor(apiVersion: string, kind: string): string | null {
  const version = apiVersion.split('/').pop() ?? '';
  if (!/^v\d+((alpha|beta)\d+)?$/.test(version) || !/^[A-Z][A-Za-z0-9]*$/.test(kind)) return null;
  const type = `${version[0]!.toUpperCase()}${version.slice(1)}${kind}`;
  return model(type) ? type : null;
}

/** One `path: unknown field (not in Type)` per field the model lacks; [] when the object has none. */
export function unknownFields(value: unknown, type: string, path = ''): string[] {
  if (LEAVES.has(type) || value === null || value === undefined) return [];
  const array = /^Array<(.+)>$/.exec(type);
  if (array) return Array.isArray(value) ? value.flatMap((item, i) => unknownFields(item, array[1]!, `${path}[${i}]`)) : [];
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) return isRecord(value) ? Object.entries(value).flatMap(([key, item]) => unknownFields(item, map[1]!, `${path}.${key}`)) : [];
  const found = model(type);
  if (found === undefined) return [`${path || '/'}: client-node has no model ${type} to check it against`];
  // Not an object where the model expects one: the schema validation reports the type; nothing to walk.
  if (!isRecord(value)) return [];
  const attributes = new Map(found.getAttributeTypeMap().map((a) => [a.baseName, a]));
  const problems: string[] = [];
  for (const [key, child] of Object.entries(value)) {
    const attribute = attributes.get(key);
    if (attribute === undefined) {
      problems.push(`${path}.${key}: unknown field (not in ${type})`);
      continue;
    }
    const childType = attribute.type === 'any' ? ANY_AS[type]?.[attribute.name] : attribute.type;
    if (childType === undefined) continue;
    if (attribute.type === 'any') {
      // A schema, a list of schemas, or a bool: only the schemas are walked.
      if (Array.isArray(child)) problems.push(...child.flatMap((item, i) => unknownFields(item, childType, `${path}.${key}[${i}]`)));
      else if (isRecord(child)) problems.push(...unknownFields(child, childType, `${path}.${key}`));
      continue;
    }
    problems.push(...unknownFields(child, childType, `${path}.${key}`));
  }
  return problems;
}
