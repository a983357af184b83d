/**
 * A parsed CustomResourceDefinition manifest (YAML or JSON, already decoded) turned into what the lab's
 * API server needs to serve the kind, with the malformed ones refused as the API server refuses them.
 *
 * Checked as apiextensions-apiserver's CRD validation does, in its words where verified
 * (pkg/apis/apiextensions/validation/validation.go, read through the code search):
 * "additionalProperties and properties are mutual exclusive", "uniqueItems cannot be set to true since the
 * runtime complexity becomes quadratic", x-kubernetes-preserve-unknown-fields "must be true or undefined".
 * Recalled from that file rather than re-read (inferred): the messages for metadata.name, spec.group, the
 * names, the storage version, the missing schema and the structural `type` rules; written here without a
 * source (inferred wording, real rules): properties only on objects, items required on arrays, no $ref,
 * patterns must compile, the scale paths and the printer column fields. Only apiextensions.k8s.io/v1 is
 * accepted: v1beta1 CRDs are no longer served since Kubernetes 1.22. Defaults the server applies are
 * applied here too: singular is the lowercase kind, listKind is the kind + "List".
 */
import { fieldErrors, invalidStatusParts, type FieldError, type InvalidStatusParts } from './field-errors.ts';
import type { JsonSchemaProps } from './structural-schema.ts';
import { isRecord } from '../../../src/model/compare.ts';

export interface ScaleSubresource {
  specReplicasPath: string;
  statusReplicasPath: string;
  labelSelectorPath?: string;
}

export interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  format?: string;
  description?: string;
  priority?: number;
}

export interface CrdVersion {
  name: string;
  served: boolean;
  storage: boolean;
  schema: JsonSchemaProps;
  /** Exactly what the version declares: `subresources: {}` gives neither status nor scale. */
  subresources: { status?: boolean; scale?: ScaleSubresource };
  additionalPrinterColumns: PrinterColumn[];
}

export interface CrdDefinition {
  /** metadata.name: `<plural>.<group>`. */
  name: string;
  group: string;
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  categories: string[];
  scope: 'Namespaced' | 'Cluster';
  versions: CrdVersion[];
}

/** A CRD the API server would refuse; `statusParts` is its 422 Invalid answer. */
export class CrdManifestError extends Error {
  readonly errors: FieldError[];
  readonly statusParts: InvalidStatusParts;

  constructor(name: string, errors: FieldError[]) {
    const statusParts = invalidStatusParts('CustomResourceDefinition', 'apiextensions.k8s.io', name, errors);
    super(statusParts.message);
    this.name = 'CrdManifestError';
    this.errors = errors;
    this.statusParts = statusParts;
  }
}

type Json = Record<string, unknown>;

const dns1035Label = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const dns1035Message = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const schemaTypes = ['array', 'boolean', 'integer', 'number', 'object', 'string'];
const printerColumnTypes = ['boolean', 'date', 'integer', 'number', 'string'];

function checkLabel(field: string, value: string, errors: FieldError[]): void {
  if (value.length > 63) errors.push(fieldErrors.invalid(field, value, 'must be no more than 63 characters'));
  if (!dns1035Label.test(value)) errors.push(fieldErrors.invalid(field, value, dns1035Message));
}

function optionalString(json: Json, key: string, field: string, errors: FieldError[]): string | undefined {
  const value = json[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    errors.push(fieldErrors.invalid(field, value, 'must be a string'));
    return undefined;
  }
  return value;
}

function stringList(json: Json, key: string, field: string, errors: FieldError[]): string[] {
  const value = json[key];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    errors.push(fieldErrors.invalid(field, value, 'must be a list of strings'));
    return [];
  }
  return value as string[];
}

const numericKeywords = ['maxItems', 'minItems', 'maxLength', 'minLength', 'maxProperties', 'minProperties', 'maximum', 'minimum', 'multipleOf'] as const;

/** The structural-schema rules a real server enforces on every node of a v1 CRD's schema. */
function checkSchema(node: unknown, path: string, where: 'root' | 'property' | 'items' | 'additionalProperties', errors: FieldError[]): void {
  if (!isRecord(node)) {
    errors.push(fieldErrors.invalid(path, node, 'must be a JSON schema object'));
    return;
  }
  const type = node.type;
  const intOrString = node['x-kubernetes-int-or-string'] === true;
  const preserve = node['x-kubernetes-preserve-unknown-fields'];
  if (type === undefined || type === '') {
    if (where === 'root') errors.push(fieldErrors.required(`${path}.type`, 'must not be empty at the root'));
    else if (!intOrString && preserve !== true) {
      errors.push(fieldErrors.required(`${path}.type`, where === 'items' ? 'must not be empty for specified array items' : 'must not be empty for specified object fields'));
    }
  } else if (typeof type !== 'string' || !schemaTypes.includes(type)) {
    errors.push(fieldErrors.notSupported(`${path}.type`, type, schemaTypes));
  } else if (where === 'root' && type !== 'object') {
    errors.push(fieldErrors.invalid(`${path}.type`, type, 'must be object at the root'));
  } else if (intOrString) {
    errors.push(fieldErrors.invalid(`${path}.type`, type, 'must be empty if x-kubernetes-int-or-string is true'));
  }
  if (preserve !== undefined && preserve !== true) {
    errors.push(fieldErrors.invalid(`${path}.x-kubernetes-preserve-unknown-fields`, preserve, 'must be true or undefined'));
  }
  if (node.uniqueItems === true) {
    errors.push(fieldErrors.forbidden(`${path}.uniqueItems`, 'uniqueItems cannot be set to true since the runtime complexity becomes quadratic'));
  }
  if (node.$ref !== undefined) errors.push(fieldErrors.forbidden(`${path}.$ref`, '$ref is not supported'));
  for (const keyword of numericKeywords) {
    const value = node[keyword];
    if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value))) errors.push(fieldErrors.invalid(`${path}.${keyword}`, value, 'must be a number'));
  }
  if (node.pattern !== undefined) {
    if (typeof node.pattern !== 'string') errors.push(fieldErrors.invalid(`${path}.pattern`, node.pattern, 'must be a string'));
    else {
      try {
        new RegExp(node.pattern, 'u');
      } catch (error) {
        errors.push(fieldErrors.invalid(`${path}.pattern`, node.pattern, `must be a valid regular expression, but isn't: ${(error as Error).message}`));
      }
    }
  }
  if (node.enum !== undefined && !Array.isArray(node.enum)) errors.push(fieldErrors.invalid(`${path}.enum`, node.enum, 'must be a list'));
  if (node.required !== undefined && (!Array.isArray(node.required) || node.required.some((r) => typeof r !== 'string'))) {
    errors.push(fieldErrors.invalid(`${path}.required`, node.required, 'must be a list of strings'));
  }

  const properties = node.properties;
  if (properties !== undefined) {
    if (!isRecord(properties)) errors.push(fieldErrors.invalid(`${path}.properties`, properties, 'must be a map of schemas'));
    else {
      if (typeof type === 'string' && type !== 'object') errors.push(fieldErrors.forbidden(`${path}.properties`, `must not be set for type ${type}`));
      for (const [name, property] of Object.entries(properties)) checkSchema(property, `${path}.properties[${name}]`, 'property', errors);
    }
  }
  const additional = node.additionalProperties;
  if (additional !== undefined) {
    if (isRecord(properties) && Object.keys(properties).length > 0 && (additional === false || isRecord(additional))) {
      errors.push(fieldErrors.forbidden(`${path}.additionalProperties`, 'additionalProperties and properties are mutual exclusive'));
    }
    if (isRecord(additional)) checkSchema(additional, `${path}.additionalProperties`, 'additionalProperties', errors);
    else if (typeof additional !== 'boolean') errors.push(fieldErrors.invalid(`${path}.additionalProperties`, additional, 'must be a boolean or a schema'));
  }
  if (node.items !== undefined) {
    if (Array.isArray(node.items)) errors.push(fieldErrors.forbidden(`${path}.items`, 'items must be a schema object and not an array'));
    else checkSchema(node.items, `${path}.items`, 'items', errors);
  } else if (type === 'array') {
    errors.push(fieldErrors.required(`${path}.items`, 'must be specified'));
  }
}

function parseSubresources(value: unknown, path: string, errors: FieldError[]): CrdVersion['subresources'] {
  if (value === undefined || value === null) return {};
  if (!isRecord(value)) {
    errors.push(fieldErrors.invalid(path, value, 'must be an object'));
    return {};
  }
  const subresources: CrdVersion['subresources'] = {};
  if (value.status !== undefined && value.status !== null) {
    if (!isRecord(value.status)) errors.push(fieldErrors.invalid(`${path}.status`, value.status, 'must be an object'));
    else subresources.status = true;
  }
  if (value.scale !== undefined && value.scale !== null) {
    const scale = value.scale;
    if (!isRecord(scale)) errors.push(fieldErrors.invalid(`${path}.scale`, scale, 'must be an object'));
    else {
      const spec = optionalString(scale, 'specReplicasPath', `${path}.scale.specReplicasPath`, errors);
      const status = optionalString(scale, 'statusReplicasPath', `${path}.scale.statusReplicasPath`, errors);
      const selector = optionalString(scale, 'labelSelectorPath', `${path}.scale.labelSelectorPath`, errors);
      if (!spec) errors.push(fieldErrors.required(`${path}.scale.specReplicasPath`));
      else if (!spec.startsWith('.spec.')) errors.push(fieldErrors.invalid(`${path}.scale.specReplicasPath`, spec, 'should be a json path under .spec'));
      if (!status) errors.push(fieldErrors.required(`${path}.scale.statusReplicasPath`));
      else if (!status.startsWith('.status.')) errors.push(fieldErrors.invalid(`${path}.scale.statusReplicasPath`, status, 'should be a json path under .status'));
      if (selector !== undefined && !selector.startsWith('.spec.') && !selector.startsWith('.status.')) {
        errors.push(fieldErrors.invalid(`${path}.scale.labelSelectorPath`, selector, 'should be a json path under either .spec or .status'));
      }
      if (spec && status) subresources.scale = { specReplicasPath: spec, statusReplicasPath: status, ...(selector ? { labelSelectorPath: selector } : {}) };
    }
  }
  return subresources;
}

function parsePrinterColumns(value: unknown, path: string, errors: FieldError[]): PrinterColumn[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    errors.push(fieldErrors.invalid(path, value, 'must be a list'));
    return [];
  }
  const columns: PrinterColumn[] = [];
  value.forEach((column, i) => {
    const at = `${path}[${i}]`;
    if (!isRecord(column)) {
      errors.push(fieldErrors.invalid(at, column, 'must be an object'));
      return;
    }
    const name = optionalString(column, 'name', `${at}.name`, errors);
    const type = optionalString(column, 'type', `${at}.type`, errors);
    const jsonPath = optionalString(column, 'jsonPath', `${at}.jsonPath`, errors);
    if (!name) errors.push(fieldErrors.required(`${at}.name`));
    if (!type) errors.push(fieldErrors.required(`${at}.type`));
    else if (!printerColumnTypes.includes(type)) errors.push(fieldErrors.notSupported(`${at}.type`, type, printerColumnTypes));
    if (!jsonPath) errors.push(fieldErrors.required(`${at}.jsonPath`));
    if (name && type && jsonPath) {
      const printerColumn: PrinterColumn = { name, type, jsonPath };
      const format = optionalString(column, 'format', `${at}.format`, errors);
      const description = optionalString(column, 'description', `${at}.description`, errors);
      if (format) printerColumn.format = format;
      if (description) printerColumn.description = description;
      if (typeof column.priority === 'number') printerColumn.priority = column.priority;
      columns.push(printerColumn);
    }
  });
  return columns;
}

function parseVersions(value: unknown, errors: FieldError[]): CrdVersion[] {
  if (!Array.isArray(value) || value.length === 0) {
    errors.push(fieldErrors.required('spec.versions', 'must have exactly one version marked as storage version'));
    return [];
  }
  const versions: CrdVersion[] = [];
  const seen = new Set<string>();
  value.forEach((entry, i) => {
    const path = `spec.versions[${i}]`;
    if (!isRecord(entry)) {
      errors.push(fieldErrors.invalid(path, entry, 'must be an object'));
      return;
    }
    const name = optionalString(entry, 'name', `${path}.name`, errors) ?? '';
    if (!name) errors.push(fieldErrors.required(`${path}.name`));
    else {
      checkLabel(`${path}.name`, name, errors);
      if (seen.has(name)) errors.push(fieldErrors.duplicate(`${path}.name`, name));
      seen.add(name);
    }
    for (const flag of ['served', 'storage'] as const) {
      if (entry[flag] !== undefined && typeof entry[flag] !== 'boolean') errors.push(fieldErrors.invalid(`${path}.${flag}`, entry[flag], 'must be a boolean'));
    }
    const schema = isRecord(entry.schema) ? entry.schema.openAPIV3Schema : undefined;
    if (schema === undefined || schema === null) errors.push(fieldErrors.required(`${path}.schema.openAPIV3Schema`, 'schemas are required'));
    else checkSchema(schema, `${path}.schema.openAPIV3Schema`, 'root', errors);
    versions.push({
      name,
      served: entry.served === true,
      storage: entry.storage === true,
      schema: (isRecord(schema) ? schema : {}) as JsonSchemaProps,
      subresources: parseSubresources(entry.subresources, `${path}.subresources`, errors),
      additionalPrinterColumns: parsePrinterColumns(entry.additionalPrinterColumns, `${path}.additionalPrinterColumns`, errors),
    });
  });
  const storage = versions.filter((v) => v.storage).map((v) => v.name);
  if (versions.length > 0 && storage.length !== 1) {
    errors.push(fieldErrors.invalid('spec.versions', storage, 'must have exactly one version marked as storage version'));
  }
  return versions;
}

/** Reads a CRD manifest, or throws a CrdManifestError listing everything a real server would refuse. */
export function parseCrdManifest(manifest: unknown): CrdDefinition {
  if (!isRecord(manifest)) throw new CrdManifestError('', [fieldErrors.invalid('<root>', manifest, 'a CustomResourceDefinition must be a JSON object')]);
  const errors: FieldError[] = [];
  const metadata = isRecord(manifest.metadata) ? manifest.metadata : {};
  const name = typeof metadata.name === 'string' ? metadata.name : '';

  if (manifest.apiVersion !== 'apiextensions.k8s.io/v1') errors.push(fieldErrors.notSupported('apiVersion', manifest.apiVersion ?? '', ['apiextensions.k8s.io/v1']));
  if (manifest.kind !== 'CustomResourceDefinition') errors.push(fieldErrors.notSupported('kind', manifest.kind ?? '', ['CustomResourceDefinition']));
  if (!isRecord(manifest.spec)) {
    errors.push(fieldErrors.required('spec'));
    throw new CrdManifestError(name, errors);
  }
  const spec = manifest.spec;

  const group = optionalString(spec, 'group', 'spec.group', errors) ?? '';
  if (!group) errors.push(fieldErrors.required('spec.group'));
  else if (!dns1123Subdomain.test(group) || group.length > 253) {
    errors.push(fieldErrors.invalid('spec.group', group, "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"));
  } else if (!group.includes('.')) errors.push(fieldErrors.invalid('spec.group', group, 'should be a domain with at least one dot'));

  const names = isRecord(spec.names) ? spec.names : {};
  if (!isRecord(spec.names)) errors.push(fieldErrors.required('spec.names'));
  const plural = optionalString(names, 'plural', 'spec.names.plural', errors) ?? '';
  const kind = optionalString(names, 'kind', 'spec.names.kind', errors) ?? '';
  if (!plural) errors.push(fieldErrors.required('spec.names.plural'));
  else checkLabel('spec.names.plural', plural, errors);
  if (!kind) errors.push(fieldErrors.required('spec.names.kind'));
  else checkLabel('spec.names.kind', kind.toLowerCase(), errors);
  const singular = optionalString(names, 'singular', 'spec.names.singular', errors) || kind.toLowerCase();
  if (singular) checkLabel('spec.names.singular', singular, errors);
  const listKind = optionalString(names, 'listKind', 'spec.names.listKind', errors) || (kind ? `${kind}List` : '');
  if (listKind && listKind === kind) errors.push(fieldErrors.invalid('spec.names.listKind', listKind, 'kind and listKind may not be the same'));
  const shortNames = stringList(names, 'shortNames', 'spec.names.shortNames', errors);
  shortNames.forEach((shortName, i) => checkLabel(`spec.names.shortNames[${i}]`, shortName, errors));
  const categories = stringList(names, 'categories', 'spec.names.categories', errors);

  if (!name) errors.push(fieldErrors.required('metadata.name'));
  else if (plural && group && name !== `${plural}.${group}`) errors.push(fieldErrors.invalid('metadata.name', name, 'must be spec.names.plural+"."+spec.group'));

  const scope = spec.scope;
  if (scope === undefined || scope === '') errors.push(fieldErrors.required('spec.scope'));
  else if (scope !== 'Namespaced' && scope !== 'Cluster') errors.push(fieldErrors.notSupported('spec.scope', scope, ['Cluster', 'Namespaced']));
  if (spec.preserveUnknownFields === true) {
    errors.push(fieldErrors.invalid('spec.preserveUnknownFields', true, 'cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead'));
  }

  const versions = parseVersions(spec.versions, errors);
  if (errors.length > 0) throw new CrdManifestError(name, errors);
  return { name, group, kind, listKind, plural, singular, shortNames, categories, scope: scope as CrdDefinition['scope'], versions };
}
