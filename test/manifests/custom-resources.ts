/**
 * Custom resources against the CRDs in manifests/ with ajv: each served version's openAPIV3Schema,
 * made strict the way an API server with strict field validation is (`additionalProperties: false`
 * wherever a schema lists properties and does not preserve unknown fields), so a field the CRD lacks
 * is an error rather than silently pruned. Pure.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { isRecord } from '../../src/model/compare.ts';
import { str } from './manifest-files.ts';

const PRESERVE = 'x-kubernetes-preserve-unknown-fields';

/** A copy of a structural schema with additionalProperties: false where the API server prunes or refuses unknown fields. */
export function strictSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(strictSchema);
  if (!isRecord(schema)) return schema;
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    // Property names and enum values are data, not schemas: copied as they are below.
    if (key === 'properties' && isRecord(value)) copy[key] = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, strictSchema(sub)]));
    else if (key === 'enum' || key === 'default' || key === 'example' || key === 'required') copy[key] = value;
    else copy[key] = strictSchema(value);
  }
  if (isRecord(schema.properties) && schema[PRESERVE] !== true && schema.additionalProperties === undefined) copy.additionalProperties = false;
  return copy;
}

export interface CustomResourceValidator {
  /** `group/version Kind` of every served version, e.g. `submariner.io/v1 Endpoint`. */
  kinds: readonly string[];
  /** One `path message` per error; [] when the object is valid. An unknown apiVersion and kind is one error. */
  validate(object: unknown): string[];
}

/** Compiles every served version of every CRD among `documents` (other documents are ignored). */
export function customResourceValidator(documents: readonly unknown[]): CustomResourceValidator {
  // strict: false, as the API server knows OpenAPI keywords JSON Schema does not (x-kubernetes-*, nullable);
  // formats are left to the server (it checks only a few, and int-or-string is not JSON Schema's).
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  const validators = new Map<string, ValidateFunction>();
  for (const document of documents) {
    if (!isRecord(document) || document.kind !== 'CustomResourceDefinition' || !isRecord(document.spec)) continue;
    const { group, names, versions } = document.spec as { group?: unknown; names?: unknown; versions?: unknown };
    const kind = isRecord(names) ? str(names.kind) : '';
    for (const version of Array.isArray(versions) ? versions : []) {
      if (!isRecord(version) || version.served !== true || !isRecord(version.schema)) continue;
      validators.set(`${str(group)}/${str(version.name)} ${kind}`, ajv.compile(strictSchema(version.schema.openAPIV3Schema) as object));
    }
  }
  return {
    kinds: [...validators.keys()],
    validate(object) {
      const key = isRecord(object) ? `${str(object.apiVersion)} ${str(object.kind)}` : '(not an object)';
      const validate = validators.get(key);
      if (validate === undefined) return [`no CRD serves "${key}"`];
      if (validate(object)) return [];
      return (validate.errors ?? []).map((e) => {
        const field = e.params && 'additionalProperty' in e.params ? ` "${String(e.params.additionalProperty)}"` : '';
        return `${e.instancePath || '/'} ${e.message ?? 'is invalid'}${field}`;
      });
    },
  };
}
