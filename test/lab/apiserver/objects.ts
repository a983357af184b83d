import { randomUUID } from 'node:crypto';
import { deepEqual, isObject, jsonPatch, mergePatch, type Json } from './patch.ts';
import { apiVersionOf, resourceKey, type ResourceRegistry, type ResourceType } from './resources.ts';
import { parseFieldSelector, parseLabelSelector } from './selectors.ts';
import { errors, type StatusCause } from './status.ts';
import type { KubeObject, ObjectMeta, Store } from './store.ts';

export type PatchType = 'merge' | 'json';

export const patchContentTypes: Record<string, PatchType | undefined> = {
  'application/merge-patch+json': 'merge',
  'application/strategic-merge-patch+json': 'merge',
  'application/json-patch+json': 'json',
};

const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const labelKey = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const labelValue = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

export type ObjectFilter = (object: KubeObject) => boolean;

export interface Selectors {
  labelSelector?: string | null;
  fieldSelector?: string | null;
}

/** Builds the predicate of a list or watch: namespace, label selector and field selector together. */
export function objectFilter(resource: ResourceType, namespace: string | undefined, selectors: Selectors): ObjectFilter {
  const labels = selectors.labelSelector ? parseLabelSelector(selectors.labelSelector) : undefined;
  const fields = selectors.fieldSelector
    ? parseFieldSelector(selectors.fieldSelector, ['metadata.name', 'metadata.namespace', ...resource.selectableFields])
    : undefined;
  return (object) =>
    (namespace === undefined || object.metadata.namespace === namespace) &&
    (labels === undefined || labels(object.metadata.labels)) &&
    (fields === undefined || fields(object));
}

function timestamp(now: Date): string {
  return now.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const nameAlphabet = 'bcdfghjklmnpqrstvwxz2456789';
function randomSuffix(): string {
  let suffix = '';
  for (let i = 0; i < 5; i++) suffix += nameAlphabet[Math.floor(Math.random() * nameAlphabet.length)];
  return suffix;
}

function stringMapCauses(value: unknown, field: string, keyPattern?: RegExp, valuePattern?: RegExp): StatusCause[] {
  if (value === undefined || value === null) return [];
  if (!isObject(value)) return [{ reason: 'FieldValueInvalid', field, message: 'must be a map of string to string' }];
  const causes: StatusCause[] = [];
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') causes.push({ reason: 'FieldValueInvalid', field: `${field}.${k}`, message: 'must be a string' });
    else if (valuePattern && (!valuePattern.test(v) || v.length > 63)) causes.push({ reason: 'FieldValueInvalid', field: `${field}.${k}`, message: `invalid label value "${v}"` });
    if (keyPattern && !keyPattern.test(k)) causes.push({ reason: 'FieldValueInvalid', field, message: `invalid label key "${k}"` });
  }
  return causes;
}

/** Everything but metadata and status: a change here bumps metadata.generation. */
function specPart(object: KubeObject): Record<string, unknown> {
  const { metadata: _metadata, status: _status, ...rest } = object;
  return rest;
}

function withoutVersion(object: KubeObject): KubeObject {
  const { resourceVersion: _rv, ...metadata } = object.metadata;
  return { ...object, metadata: metadata as ObjectMeta };
}

/**
 * Kubernetes object semantics over the store: validation, defaults, server-set metadata, optimistic
 * concurrency, status subresources and patches. Every check happens before the store is touched,
 * so a rejected request leaves the store unchanged.
 */
export class ObjectService {
  readonly #store: Store;
  readonly #registry: ResourceRegistry;
  readonly #now: () => Date;

  constructor(store: Store, registry: ResourceRegistry, now: () => Date = () => new Date()) {
    this.#store = store;
    this.#registry = registry;
    this.#now = now;
  }

  get(resource: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const object = this.#store.get(resourceKey(resource), namespace ?? '', name);
    if (!object) throw errors.notFound(resource, name);
    return object;
  }

  list(resource: ResourceType, filter: ObjectFilter, namespace?: string): { items: KubeObject[]; resourceVersion: string } {
    const items = this.#store.list(resourceKey(resource), namespace).filter(filter);
    return { items, resourceVersion: String(this.#store.resourceVersion) };
  }

  create(resource: ResourceType, namespace: string | undefined, body: unknown): KubeObject {
    const incoming = this.#checkBody(resource, namespace, body);
    const meta = incoming.metadata;
    if (meta.resourceVersion) throw errors.badRequest('resourceVersion should not be set on objects to be created');
    const key = resourceKey(resource);
    let name = meta.name;
    if (!name && meta.generateName) {
      if (typeof meta.generateName !== 'string') throw errors.invalid(resource, '', [{ reason: 'FieldValueInvalid', field: 'metadata.generateName', message: 'must be a string' }]);
      do name = `${meta.generateName}${randomSuffix()}`;
      while (this.#store.get(key, namespace ?? '', name));
    }
    if (!name) throw errors.invalid(resource, '', [{ reason: 'FieldValueRequired', field: 'metadata.name', message: 'name or generateName is required' }]);
    const causes = this.#validateName(resource, name, namespace);
    if (causes.length > 0) throw errors.invalid(resource, name, causes);
    if (this.#store.get(key, namespace ?? '', name)) throw errors.alreadyExists(resource, name);

    const { apiVersion: _apiVersion, kind: _kind, metadata: _metadata, ...content } = incoming;
    const object: KubeObject = { apiVersion: apiVersionOf(resource), kind: resource.kind, metadata: { ...meta }, ...content };
    const metadata = object.metadata;
    metadata.name = name;
    if (namespace !== undefined) metadata.namespace = namespace;
    else delete metadata.namespace;
    metadata.uid = randomUUID();
    metadata.creationTimestamp = timestamp(this.#now());
    metadata.generation = 1;
    delete metadata.deletionTimestamp;
    delete metadata.managedFields;
    if (resource.dropStatusOnCreate) delete object.status;
    if (resource.kind === 'Namespace' && object.status === undefined) object.status = { phase: 'Active' };

    if (namespace !== undefined) this.ensureNamespace(namespace);
    return this.#store.add(key, object);
  }

  /** Namespaces spring into existence when something is created in them (and are listed from then on). */
  ensureNamespace(namespace: string): void {
    const namespaces = this.#registry.lookup('', 'v1', 'namespaces');
    if (!namespaces || this.#store.get(resourceKey(namespaces), '', namespace)) return;
    this.create(namespaces, undefined, { metadata: { name: namespace } });
  }

  update(resource: ResourceType, namespace: string | undefined, name: string, body: unknown, subresource?: 'status'): { object: KubeObject; created: boolean } {
    const incoming = this.#checkBody(resource, namespace, body);
    if (incoming.metadata.name !== name) {
      throw errors.badRequest(`the name of the object (${incoming.metadata.name ?? ''}) does not match the name on the URL (${name})`);
    }
    const existing = this.#store.get(resourceKey(resource), namespace ?? '', name);
    if (!existing) {
      if (resource.allowCreateOnUpdate && !subresource) {
        const { resourceVersion: _rv, ...metadata } = incoming.metadata;
        return { object: this.create(resource, namespace, { ...incoming, metadata }), created: true };
      }
      throw errors.notFound(resource, name);
    }
    return { object: this.#replace(resource, existing, incoming, subresource, true), created: false };
  }

  patch(resource: ResourceType, namespace: string | undefined, name: string, type: PatchType, patch: unknown, subresource?: 'status'): KubeObject {
    const existing = this.get(resource, namespace, name);
    let patched: Json;
    if (type === 'merge') {
      if (!isObject(patch)) throw errors.badRequest('a merge patch must be a JSON object');
      patched = mergePatch(existing as unknown as Json, patch);
    } else {
      patched = jsonPatch(existing as unknown as Json, patch);
    }
    const incoming = this.#checkBody(resource, namespace, patched);
    if (incoming.metadata.name !== name) {
      throw errors.invalid(resource, name, [{ reason: 'FieldValueInvalid', field: 'metadata.name', message: 'field is immutable' }]);
    }
    return this.#replace(resource, existing, incoming, subresource, false);
  }

  delete(resource: ResourceType, namespace: string | undefined, name: string, options: unknown): KubeObject {
    const existing = this.get(resource, namespace, name);
    const preconditions = isObject(options) ? options.preconditions : undefined;
    if (preconditions !== undefined && preconditions !== null) {
      if (!isObject(preconditions)) throw errors.badRequest('preconditions must be an object');
      const { uid, resourceVersion } = preconditions;
      if (typeof uid === 'string' && uid !== existing.metadata.uid) {
        throw errors.conflict(resource, name, `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${existing.metadata.uid ?? ''}`);
      }
      if (typeof resourceVersion === 'string' && resourceVersion !== existing.metadata.resourceVersion) {
        throw errors.conflict(resource, name, `Precondition failed: ResourceVersion in precondition: ${resourceVersion}, ResourceVersion in object meta: ${existing.metadata.resourceVersion ?? ''}`);
      }
    }
    return this.#store.remove(resourceKey(resource), existing);
  }

  deleteCollection(resource: ResourceType, namespace: string | undefined, filter: ObjectFilter): KubeObject[] {
    const key = resourceKey(resource);
    return this.#store.list(key, namespace).filter(filter).map((object) => this.#store.remove(key, object));
  }

  #replace(resource: ResourceType, existing: KubeObject, incoming: KubeObject, subresource: 'status' | undefined, requireVersion: boolean): KubeObject {
    const name = existing.metadata.name;
    const version = incoming.metadata.resourceVersion;
    if (version !== undefined && version !== null && version !== '') {
      if (typeof version !== 'string' || !/^\d+$/.test(version)) throw errors.badRequest(`invalid resourceVersion ${JSON.stringify(version)}`);
      if (version !== existing.metadata.resourceVersion) throw errors.conflict(resource, name);
    } else if (requireVersion && !resource.unconditionalUpdate) {
      throw errors.invalid(resource, name, [{ reason: 'FieldValueInvalid', field: 'metadata.resourceVersion', message: 'must be specified for an update' }]);
    }

    let next: KubeObject;
    if (subresource === 'status') {
      next = { ...existing, metadata: { ...existing.metadata } };
      if (incoming.status === undefined) delete next.status;
      else next.status = incoming.status;
    } else {
      next = { ...incoming, apiVersion: existing.apiVersion, kind: existing.kind, metadata: { ...incoming.metadata } };
      for (const field of ['name', 'namespace', 'uid', 'creationTimestamp', 'generation'] as const) {
        if (existing.metadata[field] === undefined) delete next.metadata[field];
        else next.metadata[field] = existing.metadata[field] as never;
      }
      delete next.metadata.deletionTimestamp;
      delete next.metadata.managedFields;
      if (resource.statusSubresource) {
        if (existing.status === undefined) delete next.status;
        else next.status = existing.status;
      }
    }
    const causes = this.#validateMeta(next.metadata);
    if (causes.length > 0) throw errors.invalid(resource, name, causes);
    if (deepEqual(withoutVersion(next), withoutVersion(existing))) return existing;
    if (!deepEqual(specPart(next), specPart(existing))) next.metadata.generation = (existing.metadata.generation ?? 0) + 1;
    return this.#store.replace(resourceKey(resource), next, existing);
  }

  /** Shape checks shared by create, update and patch: a JSON object of the right apiVersion, kind and namespace. */
  #checkBody(resource: ResourceType, namespace: string | undefined, body: unknown): KubeObject {
    if (!isObject(body)) throw errors.badRequest('the request body must be a JSON object');
    const apiVersion = apiVersionOf(resource);
    if (body.apiVersion !== undefined && body.apiVersion !== apiVersion) {
      throw errors.badRequest(`the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${apiVersion})`);
    }
    if (body.kind !== undefined && body.kind !== resource.kind) {
      throw errors.badRequest(`the kind in the data (${String(body.kind)}) does not match the expected kind (${resource.kind})`);
    }
    const metadata = body.metadata ?? {};
    if (!isObject(metadata)) throw errors.badRequest('metadata must be a JSON object');
    for (const field of ['name', 'namespace', 'generateName', 'resourceVersion'] as const) {
      const value = metadata[field];
      if (value !== undefined && value !== null && typeof value !== 'string') throw errors.badRequest(`metadata.${field} must be a string`);
    }
    if (resource.namespaced && metadata.namespace && metadata.namespace !== namespace) {
      throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    const causes = this.#validateMeta(metadata);
    if (causes.length > 0) throw errors.invalid(resource, typeof metadata.name === 'string' ? metadata.name : '', causes);
    const object = { ...body, metadata: { ...metadata } } as KubeObject;
    if (!resource.namespaced) delete object.metadata.namespace;
    return object;
  }

  #validateMeta(metadata: Record<string, unknown>): StatusCause[] {
    return [
      ...stringMapCauses(metadata.labels, 'metadata.labels', labelKey, labelValue),
      ...stringMapCauses(metadata.annotations, 'metadata.annotations'),
    ];
  }

  #validateName(resource: ResourceType, name: string, namespace: string | undefined): StatusCause[] {
    const causes: StatusCause[] = [];
    const label = resource.kind === 'Namespace';
    if (label ? !dnsLabel.test(name) || name.length > 63 : !dnsSubdomain.test(name) || name.length > 253) {
      causes.push({
        reason: 'FieldValueInvalid', field: 'metadata.name',
        message: `Invalid value: "${name}": a lowercase RFC 1123 ${label ? 'label' : 'subdomain'} must consist of lower case alphanumeric characters, '-' or '.'`,
      });
    }
    if (namespace !== undefined && (!dnsLabel.test(namespace) || namespace.length > 63)) {
      causes.push({ reason: 'FieldValueInvalid', field: 'metadata.namespace', message: `Invalid value: "${namespace}": must be a lowercase RFC 1123 label` });
    }
    return causes;
  }
}

