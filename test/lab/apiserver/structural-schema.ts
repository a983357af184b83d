/**
 * What the API server does to a custom resource's body against its CRD version's structural schema,
 * as a pure function: prune unknown fields, drop forbidden nulls, apply defaults, then validate.
 *
 * The steps follow the apiextensions-apiserver and kube-openapi sources (read through the code search):
 * - decoding (crdhandler `unstructuredSchemaCoercer.apply`): unknown ObjectMeta fields, then
 *   `pruning.PruneWithOptions` (sorted paths; apiVersion/kind/metadata kept at the root and in
 *   x-kubernetes-embedded-resource objects; x-kubernetes-preserve-unknown-fields keeps unknown keys but
 *   still prunes inside known ones), then `PruneNonNullableNullsWithoutDefaults` (a null object field whose
 *   schema is neither nullable nor defaulted is removed, nulls in arrays stay), then defaulting;
 * - validation (`validation.ValidateCustomResource` over kube-openapi's SchemaValidator): per node the type,
 *   string (maxLength, minLength, pattern: first failure only), format, number (multipleOf, maximum,
 *   minimum), array (items, then minItems, maxItems), enum, then object (min/maxProperties, additional
 *   properties, properties, required) checks, mapped to field errors by `kubeOpenAPIResultToFieldErrors`;
 *   `x-kubernetes-int-or-string` becomes the type list "integer,string"; integers pass for `number`;
 *   formats other than the supported string formats are stripped (`StripUnsupportedFormatsPostProcess`), so
 *   `format: int32`/`int64` are accepted without a range check, exactly as a real server does;
 * - embedded resources (`schema/objectmeta.Validate`): apiVersion and kind required and well formed.
 *
 * Unknown fields and `fieldValidation` (https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation,
 * "Validation for unrecognized or duplicate fields", stable since 1.27): `Strict` fails the request with
 * 400 BadRequest listing every unknown field; `Warn` (the default when the parameter is absent) drops them
 * and sends one `Warning` header per field; `Ignore` drops them silently. kubectl sends `Strict` by default
 * (`--validate=true`, https://kubernetes.io/docs/concepts/overview/working-with-objects/#server-side-field-validation);
 * `--validate=warn` / `ignore` send Warn / Ignore. The unknown-field check happens while decoding, before
 * validation, so under Strict an unknown field answers 400 even when the object is also invalid.
 *
 * Inferred, not verified: the order of errors across sibling properties (Go iterates a map: random; here
 * schema order); paths of unknown fields inside embedded resources' metadata; the exact set of string
 * formats checked (the supported list is verified, the checks below are approximations, and the rarer
 * formats — email, uri, isbn, creditcard, ssn, colors, bsonobjectid, duration — are accepted unchecked);
 * patterns run as JavaScript (u flag) rather than Go RE2 regular expressions; duplicate JSON keys cannot
 * be seen once a body is parsed, so Strict does not report them; the root's unknown metadata fields are
 * named `metadata.<field>` and listed first (GetObjectMetaWithOptions runs first, its path format is not
 * re-read); the DNS-1035 and GroupVersion message texts are recalled from apimachinery; the value shown
 * for minProperties; JavaScript cannot tell 1 from 1.0, and both are integers here (Go decodes 1.0 as a
 * float64 that the integer type still accepts, so only the printed value could differ).
 */
import { isIPv4, isIPv6 } from 'node:net';
import {
  fieldErrors, goNumber, goJson, goQuote, invalidStatusParts, strictDecodingMessage, unknownFieldWarnings,
  type FieldError, type InvalidStatusParts,
} from './field-errors.ts';

/** One node of an apiextensions.k8s.io/v1 `openAPIV3Schema` (the keywords a structural schema may use). */
export interface JsonSchemaProps {
  type?: string;
  format?: string;
  description?: string;
  nullable?: boolean;
  enum?: unknown[];
  default?: unknown;
  properties?: Record<string, JsonSchemaProps>;
  required?: string[];
  additionalProperties?: boolean | JsonSchemaProps;
  items?: JsonSchemaProps;
  maxItems?: number;
  minItems?: number;
  maxLength?: number;
  minLength?: number;
  maxProperties?: number;
  minProperties?: number;
  maximum?: number;
  minimum?: number;
  exclusiveMaximum?: boolean;
  exclusiveMinimum?: boolean;
  multipleOf?: number;
  pattern?: string;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
}

export type JsonObject = Record<string, unknown>;

export interface StructuralValidation {
  /** The body as it would be stored: a pruned, null-pruned, defaulted copy (the input is not changed). */
  object: JsonObject;
  /** Dropped fields, as the API server names them (`metadata.x`, `spec.a.b`, `status.list[0].c`). */
  unknownFields: string[];
  /** Validation errors of what remains, as `details.causes` entries. */
  errors: FieldError[];
}

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';
/** The values the server accepts for `fieldValidation` (the empty string means the default). */
export const fieldValidationValues = ['', 'Ignore', 'Strict', 'Warn'] as const;

/** The directive a request asks for; absent or empty is Warn, anything unsupported is undefined. */
export function fieldValidationDirective(raw: string | null | undefined): FieldValidation | undefined {
  if (raw === null || raw === undefined || raw === '') return 'Warn';
  return raw === 'Strict' || raw === 'Warn' || raw === 'Ignore' ? raw : undefined;
}

const metaFields = new Set(['apiVersion', 'kind', 'metadata']);
/** ObjectMeta's JSON fields (clusterName is gone since 1.25): anything else under metadata is unknown. */
const objectMetaFields = new Set([
  'name', 'generateName', 'namespace', 'selfLink', 'uid', 'resourceVersion', 'generation', 'creationTimestamp',
  'deletionTimestamp', 'deletionGracePeriodSeconds', 'labels', 'annotations', 'ownerReferences', 'finalizers', 'managedFields',
]);
/** kube-openapi keeps these string formats (normalized without dashes); every other format is stripped. */
const supportedFormats = new Set([
  'bsonobjectid', 'uri', 'email', 'hostname', 'ipv4', 'ipv6', 'cidr', 'mac', 'uuid', 'uuid3', 'uuid4', 'uuid5', 'isbn',
  'isbn10', 'isbn13', 'creditcard', 'ssn', 'hexcolor', 'rgbcolor', 'byte', 'password', 'date', 'duration', 'datetime',
]);

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasOwn(object: object | undefined, key: string): boolean {
  return object !== undefined && Object.hasOwn(object, key);
}

function child(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function propertyOf(s: JsonSchemaProps | undefined, key: string): JsonSchemaProps | undefined {
  return s?.properties && hasOwn(s.properties, key) ? s.properties[key] : undefined;
}

function additionalSchema(s: JsonSchemaProps): JsonSchemaProps | undefined {
  return isObject(s.additionalProperties) ? s.additionalProperties : undefined;
}

/** The schema a map entry falls under: its property, else additionalProperties (a bool gives none). */
function fieldSchema(s: JsonSchemaProps | undefined, key: string): JsonSchemaProps | undefined {
  if (!s) return undefined;
  return propertyOf(s, key) ?? additionalSchema(s);
}

// ---- decoding: pruning, nulls, defaults ----

/**
 * Drops the keys no schema names, as kube's pruning does. Under x-kubernetes-preserve-unknown-fields
 * (`keep`, which carries into array items but not into properties) unknown keys stay and the known
 * ones are pruned by their own schema.
 */
function prune(x: unknown, s: JsonSchemaProps | undefined, isRoot: boolean, path: string, unknown: string[], keep = false): void {
  keep ||= s?.['x-kubernetes-preserve-unknown-fields'] === true;
  if (keep && !s) return;
  if (Array.isArray(x)) {
    x.forEach((v, i) => prune(v, s?.items, false, `${path}[${i}]`, unknown, keep));
    return;
  }
  if (!isObject(x)) return;
  if (!s) {
    for (const key of Object.keys(x)) {
      unknown.push(child(path, key));
      delete x[key];
    }
    return;
  }
  const embedded = isRoot || s['x-kubernetes-embedded-resource'] === true;
  for (const key of Object.keys(x)) {
    if (embedded && metaFields.has(key)) continue;
    const property = propertyOf(s, key);
    if (property) prune(x[key], property, false, child(path, key), unknown);
    // additionalProperties: false keeps the key too; validation then calls it a forbidden property.
    else if (s.additionalProperties !== undefined) prune(x[key], additionalSchema(s), false, child(path, key), unknown);
    else if (!keep) {
      if (!metaFields.has(key) || path !== '') unknown.push(child(path, key));
      delete x[key];
    }
  }
}

function pruneObjectMeta(metadata: JsonObject, path: string): string[] {
  const unknown = Object.keys(metadata).filter((key) => !objectMetaFields.has(key)).sort();
  for (const key of unknown) delete metadata[key];
  return unknown.map((key) => `${path}.${key}`);
}

/** Embedded resources' metadata is decoded as ObjectMeta too (the root's is handled on its own). */
function pruneEmbeddedMeta(x: unknown, s: JsonSchemaProps | undefined, path: string, isRoot: boolean, unknown: string[]): void {
  if (!s) return;
  if (Array.isArray(x)) {
    x.forEach((v, i) => pruneEmbeddedMeta(v, s.items, `${path}[${i}]`, false, unknown));
    return;
  }
  if (!isObject(x)) return;
  if (!isRoot && s['x-kubernetes-embedded-resource'] && isObject(x.metadata)) {
    unknown.push(...pruneObjectMeta(x.metadata, child(path, 'metadata')));
  }
  for (const key of Object.keys(x)) {
    if (isRoot && metaFields.has(key)) continue;
    pruneEmbeddedMeta(x[key], fieldSchema(s, key), child(path, key), false, unknown);
  }
}

function pruneNulls(x: unknown, s: JsonSchemaProps | undefined): void {
  if (Array.isArray(x)) {
    for (const v of x) pruneNulls(v, s?.items);
    return;
  }
  if (!isObject(x)) return;
  for (const key of Object.keys(x)) {
    const sub = fieldSchema(s, key);
    if (x[key] === null && sub && !sub.nullable && (sub.default === undefined || sub.default === null)) delete x[key];
    else pruneNulls(x[key], sub);
  }
}

function nonNullableNull(value: unknown, s: JsonSchemaProps | undefined): s is JsonSchemaProps {
  return value === null && s !== undefined && !s.nullable;
}

function applyDefaults(x: unknown, s: JsonSchemaProps | undefined): void {
  if (!s) return;
  if (Array.isArray(x)) {
    x.forEach((v, i) => {
      if (nonNullableNull(v, s.items) && s.items.default !== undefined && s.items.default !== null) x[i] = structuredClone(s.items.default);
      applyDefaults(x[i], s.items);
    });
    return;
  }
  if (!isObject(x)) return;
  for (const [key, property] of Object.entries(s.properties ?? {})) {
    if (property.default === undefined || property.default === null) continue;
    if (!hasOwn(x, key) || nonNullableNull(x[key], property)) x[key] = structuredClone(property.default);
  }
  for (const key of Object.keys(x)) {
    const property = propertyOf(s, key);
    if (property) applyDefaults(x[key], property);
    else {
      const additional = additionalSchema(s);
      if (nonNullableNull(x[key], additional) && additional.default !== undefined && additional.default !== null) {
        x[key] = structuredClone(additional.default);
      }
      applyDefaults(x[key], additional);
    }
  }
}

// ---- validation ----

type JsonType = 'null' | 'boolean' | 'string' | 'integer' | 'number' | 'array' | 'object';

function jsonType(value: unknown): JsonType {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  if (typeof value === 'boolean' || typeof value === 'string') return typeof value as 'boolean' | 'string';
  return 'object';
}

function declaredTypes(s: JsonSchemaProps): string[] {
  if (s['x-kubernetes-int-or-string']) return ['integer', 'string'];
  return s.type ? [s.type] : [];
}

/** The string format kube-openapi would check, or undefined when the server strips it. */
function keptFormat(s: JsonSchemaProps): string | undefined {
  return s.format && supportedFormats.has(s.format.replaceAll('-', '')) ? s.format : undefined;
}

const formatChecks: Record<string, (value: string) => boolean> = {
  datetime: (v) => /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$/.test(v) && !Number.isNaN(Date.parse(v.slice(0, 10))),
  date: (v) => /^\d{4}-\d{2}-\d{2}$/.test(v) && new Date(`${v}T00:00:00Z`).toISOString().startsWith(v),
  uuid: (v) => /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i.test(v),
  uuid3: (v) => /^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i.test(v),
  uuid4: (v) => /^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$/i.test(v),
  uuid5: (v) => /^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$/i.test(v),
  ipv4: (v) => isIPv4(v),
  ipv6: (v) => isIPv6(v),
  cidr: (v) => {
    const [address, prefix, extra] = v.split('/');
    if (address === undefined || prefix === undefined || extra !== undefined || !/^\d{1,3}$/.test(prefix)) return false;
    const bits = isIPv4(address) ? 32 : isIPv6(address) ? 128 : -1;
    return bits > 0 && Number(prefix) <= bits;
  },
  mac: (v) => /^([0-9a-f]{2}([:-])[0-9a-f]{2}(\2[0-9a-f]{2}){4}((\2[0-9a-f]{2}){2}|(\2[0-9a-f]{2}){14})?|[0-9a-f]{4}(\.[0-9a-f]{4}){2}((\.[0-9a-f]{4})|(\.[0-9a-f]{4}){7})?)$/i.test(v),
  byte: (v) => /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(v),
  hostname: (v) => v.length <= 255 && /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*\.?$/i.test(v),
};

/** Go's reflect kind name for a JSON number, as kube-openapi's type validator reports it. */
function goFormatOf(value: unknown): string {
  if (typeof value !== 'number') return '';
  return Number.isInteger(value) ? 'int64' : 'float64';
}

function checkType(x: unknown, s: JsonSchemaProps, path: string, errors: FieldError[]): void {
  const types = declaredTypes(s);
  const actual = jsonType(x);
  const format = keptFormat(s);
  // A string format on a non-string value names the format and Go's number format (type.go).
  if (format && typeof x !== 'string' && !Array.isArray(x) && !(types.includes(actual) || (actual === 'integer' && types.includes('number')))) {
    const goFormat = goFormatOf(x);
    errors.push(fieldErrors.typeInvalid(path, goFormat, `${path} in body must be of type ${format}: ${goQuote(goFormat)}`));
    return;
  }
  if (types.length > 0 && !(types.includes(actual) || (actual === 'integer' && types.includes('number')))) {
    errors.push(fieldErrors.typeInvalid(path, actual, `${path} in body must be of type ${types.join(',')}: ${goQuote(actual)}`));
  }
}

function checkString(x: string, s: JsonSchemaProps, path: string, errors: FieldError[]): void {
  const length = [...x].length; // runes, as utf8.RuneCount
  if (s.maxLength !== undefined && length > s.maxLength) {
    errors.push(fieldErrors.tooLong(path, s.maxLength));
    return;
  }
  if (s.minLength !== undefined && length < s.minLength) {
    errors.push(fieldErrors.invalid(path, x, `${path} in body should be at least ${s.minLength} chars long`));
    return;
  }
  if (s.pattern !== undefined) {
    let matches: boolean;
    try {
      matches = new RegExp(s.pattern, 'u').test(x);
    } catch (error) {
      errors.push(fieldErrors.invalid(path, x, `${path} in body should match '${s.pattern}, but pattern is invalid: ${(error as Error).message}'`));
      return;
    }
    if (!matches) errors.push(fieldErrors.invalid(path, x, `${path} in body should match '${s.pattern}'`));
  }
  const format = keptFormat(s);
  const check = format ? formatChecks[format.replaceAll('-', '')] : undefined;
  if (format && check && !check(x)) {
    errors.push(fieldErrors.typeInvalid(path, x, `${path} in body must be of type ${format}: ${goQuote(x)}`));
  }
}

function checkNumber(x: number, s: JsonSchemaProps, path: string, errors: FieldError[]): void {
  // An integer body value is an int64 in Go: bounds and factors are truncated to integers first.
  const asInt = Number.isInteger(x);
  const bound = (b: number) => (asInt ? Math.trunc(b) : b);
  if (s.multipleOf !== undefined && s.multipleOf > 0) {
    const factor = bound(s.multipleOf);
    const ratio = asInt ? x / factor : s.multipleOf < 1 ? (1 / s.multipleOf) * x : x / s.multipleOf;
    const multiple = factor !== 0 && (asInt ? Number.isInteger(ratio) : Math.abs(ratio - Math.round(ratio)) < 1e-9);
    if (!multiple) errors.push(fieldErrors.invalid(path, x, `${path} in body should be a multiple of ${goNumber(factor)}`));
  }
  if (s.maximum !== undefined) {
    const max = bound(s.maximum);
    if (s.exclusiveMaximum ? x >= max : x > max) {
      errors.push(fieldErrors.invalid(path, x, `${path} in body should be less than ${s.exclusiveMaximum ? '' : 'or equal to '}${goNumber(max)}`));
    }
  }
  if (s.minimum !== undefined) {
    const min = bound(s.minimum);
    if (s.exclusiveMinimum ? x <= min : x < min) {
      errors.push(fieldErrors.invalid(path, x, `${path} in body should be greater than ${s.exclusiveMinimum ? '' : 'or equal to '}${goNumber(min)}`));
    }
  }
}

function checkArray(x: unknown[], s: JsonSchemaProps, path: string, errors: FieldError[]): void {
  if (s.items) x.forEach((v, i) => validateValue(v, s.items as JsonSchemaProps, `${path}[${i}]`, errors));
  if (s.minItems !== undefined && x.length < s.minItems) {
    errors.push(fieldErrors.invalid(path, x.length, `${path} in body should have at least ${s.minItems} items`));
  }
  if (s.maxItems !== undefined && x.length > s.maxItems) errors.push(fieldErrors.tooMany(path, x.length, s.maxItems));
}

function checkEnum(x: unknown, s: JsonSchemaProps, path: string, errors: FieldError[]): void {
  if (!s.enum || s.enum.length === 0) return;
  // kube-openapi never matches a null value against an enum.
  if (x !== null && x !== undefined && s.enum.some((allowed) => goJson(allowed) === goJson(x))) return;
  errors.push(fieldErrors.notSupported(path, x ?? null, s.enum.map((v) => (typeof v === 'string' ? v : goJson(v)))));
}

function checkObject(x: JsonObject, s: JsonSchemaProps, path: string, errors: FieldError[]): void {
  const keys = Object.keys(x);
  if (s.minProperties !== undefined && keys.length < s.minProperties) {
    errors.push(fieldErrors.invalid(path, keys.length, `${path} in body should have at least ${s.minProperties} properties`));
    return;
  }
  if (s.maxProperties !== undefined && keys.length > s.maxProperties) {
    errors.push(fieldErrors.tooMany(path, keys.length, s.maxProperties));
    return;
  }
  const additional = additionalSchema(s);
  for (const key of keys) {
    if (propertyOf(s, key)) continue;
    if (s.additionalProperties === false) errors.push(fieldErrors.invalid(path, key, `${path}.${key} in body is a forbidden property`));
    else if (additional) validateValue(x[key], additional, child(path, key), errors);
  }
  for (const [key, property] of Object.entries(s.properties ?? {})) {
    if (hasOwn(x, key)) validateValue(x[key], property, child(path, key), errors);
  }
  for (const key of s.required ?? []) {
    if (!hasOwn(x, key)) errors.push(fieldErrors.required(child(path, key)));
  }
}

function validateValue(x: unknown, s: JsonSchemaProps, path: string, errors: FieldError[]): void {
  if (x === null || x === undefined) {
    const types = declaredTypes(s);
    if (types.length > 0 && !s.nullable) {
      errors.push(fieldErrors.typeInvalid(path, 'null', `${path} in body must be of type ${types.join(',')}: "null"`));
    }
    checkEnum(null, s, path, errors);
    return;
  }
  checkType(x, s, path, errors);
  if (typeof x === 'string') checkString(x, s, path, errors);
  if (typeof x === 'number') checkNumber(x, s, path, errors);
  if (Array.isArray(x)) checkArray(x, s, path, errors);
  checkEnum(x, s, path, errors);
  if (isObject(x)) checkObject(x, s, path, errors);
}

const dns1035Label = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

function dns1035Problems(value: string): string[] {
  const problems: string[] = [];
  if (value.length > 63) problems.push('must be no more than 63 characters');
  if (!dns1035Label.test(value)) {
    problems.push("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')");
  }
  return problems;
}

/** An x-kubernetes-embedded-resource object needs apiVersion and kind (objectmeta.validateEmbeddedResource). */
function checkEmbeddedResource(x: JsonObject, path: string, errors: FieldError[]): void {
  if (!hasOwn(x, 'apiVersion')) errors.push(fieldErrors.required(child(path, 'apiVersion')));
  if (!hasOwn(x, 'kind')) errors.push(fieldErrors.required(child(path, 'kind')));
  if (hasOwn(x, 'apiVersion')) {
    const apiVersion = x.apiVersion;
    const field = child(path, 'apiVersion');
    if (typeof apiVersion !== 'string') errors.push(fieldErrors.invalid(field, apiVersion, 'must be a string'));
    else if (apiVersion === '') errors.push(fieldErrors.invalid(field, apiVersion, 'must not be empty'));
    else if (apiVersion.split('/').length > 2) errors.push(fieldErrors.invalid(field, apiVersion, `unexpected GroupVersion string: ${apiVersion}`));
  }
  if (hasOwn(x, 'kind')) {
    const kind = x.kind;
    const field = child(path, 'kind');
    if (typeof kind !== 'string') errors.push(fieldErrors.invalid(field, kind, 'must be a string'));
    else if (kind === '') errors.push(fieldErrors.invalid(field, kind, 'must not be empty'));
    else {
      const problems = dns1035Problems(kind.toLowerCase());
      if (problems.length > 0) errors.push(fieldErrors.invalid(field, kind, `may have mixed case, but should otherwise match: ${problems.join(',')}`));
    }
  }
  // Inferred wording: the server fails to decode such metadata as ObjectMeta.
  if (hasOwn(x, 'metadata') && !isObject(x.metadata)) errors.push(fieldErrors.invalid(child(path, 'metadata'), x.metadata, 'must be an object'));
}

/** Walks as objectmeta.Validate does: map keys of additionalProperties appear as `path[key]`. */
function validateEmbedded(x: unknown, s: JsonSchemaProps | undefined, path: string, isRoot: boolean, errors: FieldError[]): void {
  if (!s) return;
  if (Array.isArray(x)) {
    x.forEach((v, i) => validateEmbedded(v, s.items, `${path}[${i}]`, false, errors));
    return;
  }
  if (!isObject(x)) return;
  if (!isRoot && s['x-kubernetes-embedded-resource']) checkEmbeddedResource(x, path, errors);
  for (const key of Object.keys(x)) {
    const property = propertyOf(s, key);
    if (property) validateEmbedded(x[key], property, child(path, key), false, errors);
    else if (additionalSchema(s)) validateEmbedded(x[key], additionalSchema(s), `${path}[${key}]`, false, errors);
  }
}

/**
 * Prunes, defaults and validates a custom resource body against its version's `openAPIV3Schema`.
 * The root's apiVersion and kind are the caller's to check (the server sets them from the URL) and so is
 * ObjectMeta's content (names, labels); here unknown metadata fields are dropped and reported, and the
 * schema's own `apiVersion`/`kind`/`metadata` entries are checked like any property.
 */
export function validateCustomResource(schema: JsonSchemaProps, body: JsonObject): StructuralValidation {
  const { object, unknownFields } = decodeByStructuralSchema(schema, body);
  return { object, unknownFields, errors: structuralSchemaErrors(schema, object) };
}

/** The decoding half: a pruned, defaulted copy and the unknown fields dropped from it. */
export function decodeByStructuralSchema(schema: JsonSchemaProps, body: JsonObject): Omit<StructuralValidation, 'errors'> {
  if (!isObject(body)) throw new TypeError('a custom resource body must be a JSON object');
  const object = structuredClone(body);
  const unknownFields: string[] = [];
  if (isObject(object.metadata)) unknownFields.push(...pruneObjectMeta(object.metadata, 'metadata'));
  const pruned: string[] = [];
  prune(object, schema, true, '', pruned);
  unknownFields.push(...pruned.sort());
  pruneNulls(object, schema);
  pruneEmbeddedMeta(object, schema, '', true, unknownFields);
  applyDefaults(object, schema);
  return { object, unknownFields };
}

/** The validating half, of an object already decoded (and completed, as about to be stored). */
export function structuralSchemaErrors(schema: JsonSchemaProps, object: JsonObject): FieldError[] {
  const errors: FieldError[] = [];
  validateValue(object, schema, '', errors);
  validateEmbedded(object, schema, '', true, errors);
  return errors;
}

export interface ResourceNames {
  kind: string;
  group: string;
  version: string;
  /** The object's name for the 422 details (empty when the server generates it). */
  name: string;
}

export type Admission =
  | { outcome: 'admitted'; object: JsonObject; warnings: string[] }
  | { outcome: 'rejected'; code: 400; reason: 'BadRequest'; message: string }
  | ({ outcome: 'invalid'; warnings: string[] } & InvalidStatusParts);

/**
 * What the server answers for a checked body under a `fieldValidation` directive: unknown fields under
 * Strict are a 400 (decoding fails before validation), then any validation error is a 422, else the
 * pruned object is stored; under Warn every unknown field becomes a warning, under Ignore nothing.
 */
export function admission(result: StructuralValidation, directive: FieldValidation, names: ResourceNames): Admission {
  if (directive === 'Strict' && result.unknownFields.length > 0) {
    return { outcome: 'rejected', code: 400, reason: 'BadRequest', message: strictDecodingMessage(names.kind, names.version, result.unknownFields) };
  }
  const warnings = directive === 'Warn' ? unknownFieldWarnings(result.unknownFields) : [];
  if (result.errors.length > 0) return { outcome: 'invalid', warnings, ...invalidStatusParts(names.kind, names.group, names.name, result.errors) };
  return { outcome: 'admitted', object: result.object, warnings };
}
