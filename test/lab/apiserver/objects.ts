import { randomUUID } from 'node:crypto';
import { decodeBody, defaultWriteContext, schemaErrors, type WriteContext } from './custom-resources.ts';
import { parseDeleteOptions, validateDeleteOptions, type DeleteOptions } from './delete-options.ts';
import { emptiesFinalizers, planDelete, podGracePeriod } from './deletion.ts';
import { fieldErrors, type FieldError } from './field-errors.ts';
import { checkMetaTypes, finalizerErrors, newFinalizerErrors, ownerReferenceErrors } from './object-meta.ts';
import { managedFieldsOf, recordUpdate, sameOwnership, serverSideApply, type ManagedFieldsEntry, type Writer } from './managed-fields.ts';
import { goSprint } from './field-errors.ts';
import { deepEqual, isObject, jsonPatch, mergePatch, type Json } from './patch.ts';
import { builtinPatchSchema, untypedPatchSchema } from './patch-strategies.ts';
import { apiVersionOf, resourceKey, type ResourceRegistry, type ResourceType } from './resources.ts';
import type { Subresource } from './routes.ts';
import { scaleOf, withScale } from './scale.ts';
import { parseFieldSelector, parseLabelSelector } from './selectors.ts';
import { errors } from './status.ts';
import { strategicMergePatch, type PatchSchema } from './strategic-merge.ts';
import type { KubeObject, ObjectMeta, Store } from './store.ts';

export type PatchType = 'merge' | 'strategic' | 'json';

export const patchContentTypes: Record<string, PatchType | undefined> = {
  'application/merge-patch+json': 'merge',
  // Built-in kinds only: server.ts answers 415 for it on custom resources, as the CRD handler does.
  'application/strategic-merge-patch+json': 'strategic',
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

/** metadata times as the API server writes them: RFC 3339, whole seconds. */
export function timestamp(now: Date): string {
  return now.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const nameAlphabet = 'bcdfghjklmnpqrstvwxz2456789';
function randomSuffix(): string {
  let suffix = '';
  for (let i = 0; i < 5; i++) suffix += nameAlphabet[Math.floor(Math.random() * nameAlphabet.length)];
  return suffix;
}

// ValidateObjectMeta's words (apimachinery validation, recalled rather than re-read: inferred).
const labelKeyMessage = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const labelValueMessage = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const subdomainMessage = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const labelMessage = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

function stringMapCauses(value: unknown, field: string, keyPattern?: RegExp, valuePattern?: RegExp): FieldError[] {
  if (value === undefined || value === null) return [];
  if (!isObject(value)) return [fieldErrors.invalid(field, value, 'must be a map of string to string')];
  const causes: FieldError[] = [];
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') causes.push(fieldErrors.invalid(`${field}.${k}`, v, 'must be a string'));
    else if (valuePattern && (!valuePattern.test(v) || v.length > 63)) {
      causes.push(fieldErrors.invalid(field, v, v.length > 63 ? 'must be no more than 63 characters' : labelValueMessage));
    }
    if (keyPattern && !keyPattern.test(k)) causes.push(fieldErrors.invalid(field, k, labelKeyMessage));
  }
  return causes;
}

/**
 * What a change of bumps metadata.generation: everything but metadata, and but status where status is a
 * subresource (a custom resource without one bumps its generation on status changes too, as the CR strategy does).
 */
function specPart(object: KubeObject, statusSubresource: boolean): Record<string, unknown> {
  const { metadata: _metadata, ...rest } = object;
  if (statusSubresource) delete rest.status;
  return rest;
}

/** Per-kind behaviour beyond the generic semantics (CRDs: manifest checks, server-set status, deletion with a finalizer). */
export interface KindHooks {
  /** The object about to be created (`existing` undefined) or replaced, after every generic check: what to store, or throw. */
  admit(object: KubeObject, existing: KubeObject | undefined, subresource: Subresource | undefined): KubeObject;
  /** Deletes the object its own way; returns what the client gets back. */
  delete?(existing: KubeObject): KubeObject;
}

/** Pod status on create, as PodStrategy.PrepareForCreate resets it: Pending, with the QoS class of its containers. */
function initialPodStatus(pod: KubeObject): Record<string, unknown> {
  const spec = isObject(pod.spec) ? pod.spec : {};
  const containers = [...(Array.isArray(spec.containers) ? spec.containers : []), ...(Array.isArray(spec.initContainers) ? spec.initContainers : [])]
    .filter(isObject);
  const resources = containers.map((c) => (isObject(c.resources) ? c.resources : {}));
  const amounts = (r: Record<string, Json>, key: string) => (isObject(r[key]) ? r[key] as Record<string, Json> : {});
  const any = resources.some((r) => Object.keys(amounts(r, 'requests')).length > 0 || Object.keys(amounts(r, 'limits')).length > 0);
  const guaranteed = containers.length > 0 && resources.every((r) => ['cpu', 'memory'].every((k) => {
    const limit = amounts(r, 'limits')[k];
    const request = amounts(r, 'requests')[k];
    return limit !== undefined && (request === undefined || request === limit);
  }));
  return { phase: 'Pending', qosClass: guaranteed ? 'Guaranteed' : any ? 'Burstable' : 'BestEffort' };
}

/** The object without what every write changes: its resourceVersion and its managedFields' timestamps. */
function withoutVersion(object: KubeObject): KubeObject {
  const { resourceVersion: _rv, managedFields: _managed, ...metadata } = object.metadata;
  return { ...object, metadata: metadata as ObjectMeta };
}

/**
 * Kubernetes object semantics over the store: validation, defaults, server-set metadata, optimistic
 * concurrency, status and scale subresources, patches, and custom resources' structural schemas. Every
 * check happens before the store is touched, so a rejected request leaves the store unchanged.
 */
export class ObjectService {
  readonly #store: Store;
  readonly #registry: ResourceRegistry;
  readonly #now: () => Date;
  readonly #hooks: (resource: ResourceType) => KindHooks | undefined;
  readonly #patchSchemas = new WeakMap<object, PatchSchema>();

  constructor(store: Store, registry: ResourceRegistry, now: () => Date = () => new Date(), hooks: (resource: ResourceType) => KindHooks | undefined = () => undefined) {
    this.#store = store;
    this.#registry = registry;
    this.#now = now;
    this.#hooks = hooks;
  }

  get(resource: ResourceType, namespace: string | undefined, name: string, subresource?: Subresource): KubeObject {
    const object = this.#store.get(resourceKey(resource), namespace ?? '', name);
    if (!object) throw errors.notFound(resource, name);
    return subresource === 'scale' && resource.scale ? scaleOf(object, resource.scale) : object;
  }

  list(resource: ResourceType, filter: ObjectFilter, namespace?: string): { items: KubeObject[]; resourceVersion: string } {
    const items = this.#store.list(resourceKey(resource), namespace).filter(filter);
    return { items, resourceVersion: String(this.#store.resourceVersion) };
  }

  create(resource: ResourceType, namespace: string | undefined, body: unknown, context: WriteContext = defaultWriteContext()): KubeObject {
    if (resource.terminating) throw errors.terminating(resource, 'create');
    return this.#insert(resource, namespace, decodeBody(resource, this.#checkBody(resource, namespace, body), context, 'body'), context, undefined);
  }

  /** A create of a decoded object; `applied`: the managedFields of the server-side apply that creates it (else the creator's Update). */
  #insert(resource: ResourceType, namespace: string | undefined, incoming: KubeObject, context: WriteContext, applied: ManagedFieldsEntry[] | undefined): KubeObject {
    const meta = incoming.metadata;
    if (meta.resourceVersion) throw errors.badRequest('resourceVersion should not be set on objects to be created');
    const key = resourceKey(resource);
    let name = meta.name;
    if (!name && meta.generateName) {
      do name = `${meta.generateName}${randomSuffix()}`;
      while (this.#store.get(key, namespace ?? '', name));
    }
    const causes = name ? this.#validateName(resource, name, namespace) : [fieldErrors.required('metadata.name', 'name or generateName is required')];
    causes.push(...this.#validateMeta(meta));
    // Built-in kinds: the name is checked first. Custom resources: metadata and schema errors in one 422, as the CR strategy validates.
    if (causes.length > 0 && !resource.schema) throw errors.invalid(resource, name ?? '', causes);

    const { apiVersion: _apiVersion, kind: _kind, metadata: _metadata, ...content } = incoming;
    const object: KubeObject = { apiVersion: apiVersionOf(resource), kind: resource.kind, metadata: { ...meta }, ...content };
    const metadata = object.metadata;
    metadata.name = name ?? '';
    if (namespace !== undefined) metadata.namespace = namespace;
    else delete metadata.namespace;
    metadata.uid = randomUUID();
    metadata.creationTimestamp = timestamp(this.#now());
    metadata.generation = 1;
    delete metadata.deletionTimestamp;
    delete metadata.deletionGracePeriodSeconds;
    delete metadata.managedFields;
    if (resource.dropStatusOnCreate) delete object.status;
    if (resource.kind === 'Namespace' && object.status === undefined) object.status = { phase: 'Active' };
    if (resource.kind === 'Pod' && resource.group === '') object.status = initialPodStatus(object);

    causes.push(...schemaErrors(resource, object));
    if (causes.length > 0) throw errors.invalid(resource, name ?? '', causes);
    if (this.#store.get(key, namespace ?? '', metadata.name)) throw errors.alreadyExists(resource, metadata.name);
    metadata.managedFields = applied ?? recordUpdate([], undefined, object as unknown as Json, this.#writer(resource, context, undefined));
    const admitted = this.#hooks(resource)?.admit(object, undefined, undefined) ?? object;

    if (namespace !== undefined) this.ensureNamespace(namespace);
    return this.#store.add(key, admitted);
  }

  /** Namespaces spring into existence when something is created in them (and are listed from then on). */
  ensureNamespace(namespace: string): void {
    const namespaces = this.#registry.lookup('', 'v1', 'namespaces');
    if (!namespaces || this.#store.get(resourceKey(namespaces), '', namespace)) return;
    this.create(namespaces, undefined, { metadata: { name: namespace } });
  }

  update(resource: ResourceType, namespace: string | undefined, name: string, body: unknown, subresource?: Subresource, context: WriteContext = defaultWriteContext()): { object: KubeObject; created: boolean } {
    if (subresource === 'scale') return { object: this.#writeScale(resource, namespace, name, body, context), created: false };
    const checked = this.#checkBody(resource, namespace, body);
    if (checked.metadata.name !== name) {
      throw errors.badRequest(`the name of the object (${checked.metadata.name ?? ''}) does not match the name on the URL (${name})`);
    }
    const incoming = decodeBody(resource, checked, context, 'body');
    const existing = this.#store.get(resourceKey(resource), namespace ?? '', name);
    // A uid in the body is a precondition (the generic store's Update): on a missing object it fails too, rather than creating one.
    const uid = incoming.metadata.uid;
    if (typeof uid === 'string' && uid !== '' && uid !== existing?.metadata.uid) {
      throw errors.conflict(resource, name, `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${existing?.metadata.uid ?? ''}`);
    }
    if (!existing) {
      if (resource.allowCreateOnUpdate && !subresource) {
        const { resourceVersion: _rv, ...metadata } = incoming.metadata;
        return { object: this.create(resource, namespace, { ...incoming, metadata }, context), created: true };
      }
      throw errors.notFound(resource, name);
    }
    return { object: this.#replace(resource, existing, incoming, subresource, true, context, undefined), created: false };
  }

  /**
   * Server-side apply (PATCH with application/apply-patch+yaml): creates the object when it does not exist,
   * else merges the apply configuration under the context's field manager (managed-fields.ts).
   */
  apply(resource: ResourceType, namespace: string | undefined, name: string, body: unknown, subresource: Subresource | undefined, context: WriteContext): { object: KubeObject; created: boolean } {
    if (subresource === 'scale') throw errors.badRequest('server-side apply to the scale subresource is not served by the lab API server');
    const checked = this.#checkBody(resource, namespace, body);
    if (checked.apiVersion === undefined || checked.kind === undefined) throw errors.badRequest('an apply configuration must set apiVersion and kind');
    const named = checked.metadata.name;
    if (named !== undefined && named !== null && named !== name) {
      throw errors.badRequest(`the name of the object (${named}) does not match the name on the URL (${name})`);
    }
    checked.metadata.name = name;
    const incoming = decodeBody(resource, checked, context, 'body') as unknown as Json;
    const existing = this.#store.get(resourceKey(resource), namespace ?? '', name);
    const writer = this.#writer(resource, context, subresource);
    if (!existing) {
      if (subresource) throw errors.notFound(resource, name);
      if (resource.terminating) throw errors.terminating(resource, 'create');
      const { object, managedFields } = serverSideApply(undefined, [], incoming, writer, context.force);
      return { object: this.#insert(resource, namespace, object as unknown as KubeObject, context, managedFields), created: true };
    }
    const { object, managedFields } = serverSideApply(existing as unknown as Json, managedFieldsOf(existing), incoming, writer, context.force);
    return { object: this.#replace(resource, existing, object as unknown as KubeObject, subresource, false, context, managedFields), created: false };
  }

  patch(resource: ResourceType, namespace: string | undefined, name: string, type: PatchType, patch: unknown, subresource?: Subresource, context: WriteContext = defaultWriteContext()): KubeObject {
    if (subresource === 'scale') {
      const scale = this.get(resource, namespace, name, 'scale');
      return this.#writeScale(resource, namespace, name, applyPatch(scale, type, patch, untypedPatchSchema).object, context);
    }
    const existing = this.get(resource, namespace, name);
    const patched = applyPatch(existing, type, patch, this.#patchSchema(resource));
    const checked = this.#checkBody(resource, namespace, patched.object);
    const incoming = decodeBody(resource, checked, context, 'patch', patched.shown);
    if (incoming.metadata.name !== name) {
      throw errors.invalid(resource, name, [fieldErrors.invalid('metadata.name', incoming.metadata.name ?? '', 'field is immutable')]);
    }
    return this.#replace(resource, existing, incoming, subresource, false, context, undefined);
  }

  /** A DELETE whose options are its decoded JSON body (undefined: none); returns what the client gets back. */
  delete(resource: ResourceType, namespace: string | undefined, name: string, body: unknown): KubeObject {
    return this.deleteWithOptions(resource, namespace, name, parseDeleteOptions(body)).object;
  }

  /**
   * A DELETE with its options (deletion.ts decides): `removed` when the object is gone, else it is kept marked
   * for deletion (a Pod terminating gracefully, finalizers pending) and `object` is how it now stands.
   */
  deleteWithOptions(resource: ResourceType, namespace: string | undefined, name: string, options: DeleteOptions): { object: KubeObject; removed: boolean } {
    const existing = this.get(resource, namespace, name);
    const policy = validateDeleteOptions(options);
    const { uid, resourceVersion } = options.preconditions ?? {};
    if (uid !== undefined && uid !== existing.metadata.uid) {
      throw errors.conflict(resource, name, `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${existing.metadata.uid ?? ''}`);
    }
    if (resourceVersion !== undefined && resourceVersion !== existing.metadata.resourceVersion) {
      throw errors.conflict(resource, name, `Precondition failed: ResourceVersion in precondition: ${resourceVersion}, ResourceVersion in object meta: ${existing.metadata.resourceVersion ?? ''}`);
    }
    const key = resourceKey(resource);
    const hooks = this.#hooks(resource);
    if (hooks?.delete) {
      const object = hooks.delete(existing);
      return { object, removed: this.#store.get(key, namespace ?? '', name)?.metadata.uid !== existing.metadata.uid };
    }
    const graceful = resource.group === '' && resource.kind === 'Pod' ? podGracePeriod : undefined;
    const plan = planDelete(existing, options, policy, graceful, this.#now());
    switch (plan.action) {
      case 'keep':
        return { object: existing, removed: false };
      case 'update':
        return { object: this.#store.replace(key, plan.object, existing), removed: false };
      case 'remove': {
        const last = plan.last ? this.#store.replace(key, plan.last, existing) : existing;
        return { object: this.#store.remove(key, last), removed: true };
      }
    }
  }

  /** Every selected object deleted with the same options, each its own way (what each DELETE answered). */
  deleteCollection(resource: ResourceType, namespace: string | undefined, filter: ObjectFilter, options: DeleteOptions = {}): KubeObject[] {
    return this.#store.list(resourceKey(resource), namespace).filter(filter)
      .map((object) => this.deleteWithOptions(resource, object.metadata.namespace, object.metadata.name, options).object);
  }

  /** A Scale written (PUT, or a patch applied to the current Scale): its spec.replicas lands at the CRD's specReplicasPath. */
  #writeScale(resource: ResourceType, namespace: string | undefined, name: string, body: unknown, context: WriteContext): KubeObject {
    const scale = resource.scale;
    if (!scale) throw errors.pathNotFound(name);
    const existing = this.get(resource, namespace, name);
    const next = withScale(existing, body, scale, resource);
    const stored = this.#replace(resource, existing, decodeBody(resource, next, context, 'body'), undefined, false, context, undefined);
    return scaleOf(stored, scale);
  }

  /** Which type every path of the kind's objects is, for strategic merge patches (one per kind, kept across patches). */
  #patchSchema(resource: ResourceType): PatchSchema {
    const builtin = resource.builtin;
    if (!builtin) return untypedPatchSchema;
    let schema = this.#patchSchemas.get(builtin);
    if (!schema) {
      schema = builtinPatchSchema(builtin.schemas, builtin.definition);
      this.#patchSchemas.set(builtin, schema);
    }
    return schema;
  }

  #writer(resource: ResourceType, context: WriteContext, subresource: Subresource | undefined): Writer {
    return {
      manager: context.manager, apiVersion: apiVersionOf(resource), time: timestamp(this.#now()),
      subresource: subresource === 'status' ? 'status' : undefined, statusSubresource: resource.statusSubresource,
    };
  }

  /** `applied`: the managedFields a server-side apply computed; else the write is recorded as the context's manager's Update. */
  #replace(resource: ResourceType, existing: KubeObject, incoming: KubeObject, subresource: Subresource | undefined, requireVersion: boolean, context: WriteContext, applied: ManagedFieldsEntry[] | undefined): KubeObject {
    const name = existing.metadata.name;
    const version = incoming.metadata.resourceVersion;
    if (version !== undefined && version !== null && version !== '') {
      if (typeof version !== 'string' || !/^\d+$/.test(version)) throw errors.badRequest(`invalid resourceVersion ${JSON.stringify(version)}`);
      if (version !== existing.metadata.resourceVersion) throw errors.conflict(resource, name);
    } else if (requireVersion && !resource.unconditionalUpdate) {
      // The generic store's words: the resource (not the kind) names the object, and the missing version prints as Go's %#v of uint64 0.
      throw errors.invalidResource(resource, name, [{ reason: 'FieldValueInvalid', field: 'metadata.resourceVersion', message: 'Invalid value: 0x0: must be specified for an update' }]);
    }

    let next: KubeObject;
    if (subresource === 'status') {
      next = { ...existing, metadata: { ...existing.metadata } };
      if (incoming.status === undefined) delete next.status;
      else next.status = incoming.status;
    } else {
      next = { ...incoming, apiVersion: existing.apiVersion, kind: existing.kind, metadata: { ...incoming.metadata } };
      // An update never sets, moves or clears a deletion (rest.BeforeUpdate keeps the stored one).
      for (const field of ['name', 'namespace', 'uid', 'creationTimestamp', 'generation', 'deletionTimestamp', 'deletionGracePeriodSeconds'] as const) {
        if (existing.metadata[field] === undefined) delete next.metadata[field];
        else next.metadata[field] = existing.metadata[field] as never;
      }
      if (resource.statusSubresource) {
        if (existing.status === undefined) delete next.status;
        else next.status = existing.status;
      }
    }
    const causes = [...newFinalizerErrors(next.metadata, existing.metadata), ...this.#validateMeta(next.metadata), ...schemaErrors(resource, next)];
    if (causes.length > 0) throw errors.invalid(resource, name, causes);
    next = this.#hooks(resource)?.admit(next, existing, subresource) ?? next;
    delete next.metadata.managedFields;
    const owners = managedFieldsOf(existing);
    const managedFields = applied ?? recordUpdate(owners, existing as unknown as Json, next as unknown as Json, this.#writer(resource, context, subresource));
    if (deepEqual(withoutVersion(next), withoutVersion(existing)) && sameOwnership(managedFields, owners)) return existing;
    next.metadata.managedFields = managedFields;
    if (!deepEqual(specPart(next, resource.statusSubresource), specPart(existing, resource.statusSubresource))) {
      next.metadata.generation = (existing.metadata.generation ?? 0) + 1;
    }
    if (emptiesFinalizers(next, existing)) {
      // The last finalizer is gone from an object being deleted: it goes now. Watchers see it DELETED as it was
      // last stored (etcd's previous value); the writer gets the object it wrote.
      const removed = this.#store.remove(resourceKey(resource), existing);
      return { ...next, metadata: { ...next.metadata, resourceVersion: removed.metadata.resourceVersion } };
    }
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
    checkMetaTypes(metadata, resource.kind, resource.version);
    const object = { ...body, metadata: { ...metadata } } as KubeObject;
    if (!resource.namespaced) delete object.metadata.namespace;
    return object;
  }

  #validateMeta(metadata: Record<string, unknown>): FieldError[] {
    return [
      ...stringMapCauses(metadata.labels, 'metadata.labels', labelKey, labelValue),
      ...stringMapCauses(metadata.annotations, 'metadata.annotations'),
      ...ownerReferenceErrors(metadata),
      ...finalizerErrors(metadata),
    ];
  }

  #validateName(resource: ResourceType, name: string, namespace: string | undefined): FieldError[] {
    const causes: FieldError[] = [];
    const label = resource.kind === 'Namespace';
    if (label ? !dnsLabel.test(name) || name.length > 63 : !dnsSubdomain.test(name) || name.length > 253) {
      causes.push(fieldErrors.invalid('metadata.name', name, label ? labelMessage : subdomainMessage));
    }
    if (namespace !== undefined && (!dnsLabel.test(namespace) || namespace.length > 63)) {
      causes.push(fieldErrors.invalid('metadata.namespace', namespace, labelMessage));
    }
    return causes;
  }
}

/** What a JSON value decodes as in the patch handler's `json: cannot unmarshal <what> into ...` error. */
function jsonKind(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  return typeof value === 'boolean' ? 'bool' : typeof value;
}

/**
 * The object a merge, strategic merge or JSON patch makes of `target` (not yet checked), and for a strategic
 * merge patch the patch as the patch handler prints it (`%+v`) when the result has unknown fields.
 */
function applyPatch(target: KubeObject, type: PatchType, patch: unknown, schema: PatchSchema): { object: Json; shown?: string } {
  if (type === 'merge') {
    if (!isObject(patch)) throw errors.badRequest('a merge patch must be a JSON object');
    return { object: mergePatch(target as unknown as Json, patch) };
  }
  if (type === 'strategic') {
    // The handler decodes the body into a map[string]interface{}: null leaves it empty, other non-objects fail.
    if (patch !== null && !isObject(patch)) {
      throw errors.badRequest(`json: cannot unmarshal ${jsonKind(patch)} into Go value of type map[string]interface {}`);
    }
    const result = strategicMergePatch(target as unknown as Record<string, Json>, patch ?? {}, schema);
    return { object: result.object, shown: goSprint(result.patch) };
  }
  return { object: jsonPatch(target as unknown as Json, patch) };
}
