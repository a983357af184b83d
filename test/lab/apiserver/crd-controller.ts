/**
 * CustomResourceDefinitions as the API server and its apiextensions controllers handle them, folded into the
 * lab's single process: a CRD write is checked (crd-manifest.ts, 422 with its causes), its status is the
 * server's (NamesAccepted, Established, acceptedNames, storedVersions), and the kinds it serves are registered
 * in the resource registry as soon as it is stored, so discovery and the kind's paths follow at once.
 *
 * Verified against apiextensions-apiserver (read through the code search): the conditions' reasons and
 * messages (NoConflicts "no conflicts found", InitialNamesAccepted "the initial names have been accepted");
 * spec.group and spec.names.plural are immutable, spec.scope and spec.names.kind too once Established
 * (ValidateImmutableField: "field is immutable"); DELETE of a CRD first only sets deletionTimestamp, adds the
 * `customresourcecleanup.apiextensions.k8s.io` finalizer and a Terminating condition (InstanceDeletionPending,
 * "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon") and answers 200 with
 * that object; while it terminates, creates of its kind are 405 "create not allowed while custom resource
 * definition is terminating"; the finalizer controller then deletes every custom resource and lets the CRD go.
 *
 * The lab does that cleanup asynchronously too, on the next turn of the event loop (a real cluster takes
 * from milliseconds to seconds): the objects are deleted (watchers get DELETED), open watches on the kind
 * end, the kind leaves discovery, then the CRD is removed. Differences (inferred or simplified): the real
 * controllers set the status in later writes after the create, the lab in the create itself; finalizers
 * other than the cleanup one do not hold the CRD back; a name conflict gives NamesAccepted False with reason
 * NameConflict and Established False (NotAccepted), wording recalled rather than read; several served
 * versions are each registered but keep their own objects (no conversion between versions).
 */
import { CrdManifestError, parseCrdManifest, type CrdDefinition } from './crd-manifest.ts';
import { fieldErrors, type FieldError } from './field-errors.ts';
import { timestamp, type KindHooks } from './objects.ts';
import { isObject } from './patch.ts';
import { CRD_GROUP, resourceKey, type ResourceRegistry, type ResourceType } from './resources.ts';
import { errors } from './status.ts';
import type { Change, KubeObject, Store } from './store.ts';
import type { WatchHub } from './watch.ts';

export const CLEANUP_FINALIZER = 'customresourcecleanup.apiextensions.k8s.io';

type Condition = { type: string; status: 'True' | 'False'; lastTransitionTime: string; reason: string; message: string };

/** The kinds a CRD serves: one per served version, with exactly the subresources that version declares. */
export function resourcesForCrd(definition: CrdDefinition): ResourceType[] {
  return definition.versions.filter((v) => v.served).map((v) => {
    const resource: ResourceType = {
      group: definition.group, version: v.name, plural: definition.plural, singular: definition.singular, kind: definition.kind,
      namespaced: definition.scope === 'Namespaced', shortNames: definition.shortNames, categories: definition.categories,
      statusSubresource: v.subresources.status === true, dropStatusOnCreate: v.subresources.status === true,
      allowCreateOnUpdate: false, unconditionalUpdate: false, selectableFields: [], schema: v.schema, crd: definition.name,
    };
    if (v.subresources.scale) resource.scale = v.subresources.scale;
    return resource;
  });
}

function parse(object: unknown): CrdDefinition {
  try {
    return parseCrdManifest(object);
  } catch (error) {
    if (error instanceof CrdManifestError) throw errors.invalidParts(error.statusParts);
    throw error;
  }
}


function conditionsOf(object: KubeObject): Condition[] {
  const status = isObject(object.status) ? object.status : {};
  return Array.isArray(status.conditions) ? (status.conditions as Condition[]) : [];
}

function isTrue(object: KubeObject, type: string): boolean {
  return conditionsOf(object).some((c) => c.type === type && c.status === 'True');
}

/** Sets one condition, keeping lastTransitionTime when its status does not change (SetCRDCondition). */
function setCondition(conditions: Condition[], next: Omit<Condition, 'lastTransitionTime'>, now: string): Condition[] {
  const old = conditions.find((c) => c.type === next.type);
  const condition = { ...next, lastTransitionTime: old && old.status === next.status ? old.lastTransitionTime : now };
  return old ? conditions.map((c) => (c === old ? condition : c)) : [...conditions, condition];
}

function acceptedNames(definition: CrdDefinition): Record<string, unknown> {
  const names: Record<string, unknown> = { plural: definition.plural, singular: definition.singular, kind: definition.kind, listKind: definition.listKind };
  if (definition.shortNames.length > 0) names.shortNames = definition.shortNames;
  if (definition.categories.length > 0) names.categories = definition.categories;
  return names;
}

/** spec defaults the API server applies to a v1 CRD (SetDefaults_CustomResourceDefinitionSpec). */
function withSpecDefaults(object: KubeObject, definition: CrdDefinition): KubeObject {
  const spec = { ...(object.spec as Record<string, unknown>) };
  spec.names = { ...(spec.names as Record<string, unknown>), singular: definition.singular, listKind: definition.listKind };
  if (spec.conversion === undefined || spec.conversion === null) spec.conversion = { strategy: 'None' };
  return { ...object, spec };
}

export class CrdController {
  readonly #store: Store;
  readonly #registry: ResourceRegistry;
  readonly #watches: WatchHub;
  readonly #now: () => Date;
  readonly #log: (line: string) => void;
  readonly resource: ResourceType;
  readonly hooks: KindHooks;

  constructor(store: Store, registry: ResourceRegistry, watches: WatchHub, log: (line: string) => void = () => {}, now: () => Date = () => new Date()) {
    const resource = registry.lookup(CRD_GROUP, 'v1', 'customresourcedefinitions');
    if (!resource) throw new Error('the CRD controller needs customresourcedefinitions among the served kinds');
    this.#store = store;
    this.#registry = registry;
    this.#watches = watches;
    this.#now = now;
    this.#log = log;
    this.resource = resource;
    this.hooks = { admit: (object, existing, subresource) => this.#admit(object, existing, subresource), delete: (existing) => this.#beginDelete(existing) };
    store.subscribe(resourceKey(resource), (change) => this.#changed(change));
  }

  /** A CRD about to be stored: checked, defaulted, and given the status the naming and establishing controllers set. */
  #admit(object: KubeObject, existing: KubeObject | undefined, subresource: string | undefined): KubeObject {
    if (subresource !== undefined) return object;
    const definition = parse(object);
    if (existing) this.#checkImmutable(definition, parse(existing), isTrue(existing, 'Established'), object.metadata.name);
    const now = timestamp(this.#now());
    const conflict = this.#nameConflict(definition);
    const previous = existing && isObject(existing.status) ? existing.status : {};
    let conditions = existing ? conditionsOf(existing) : [];
    conditions = conflict
      ? setCondition(conditions, { type: 'NamesAccepted', status: 'False', reason: 'NameConflict', message: `"${conflict}" is already in use` }, now)
      : setCondition(conditions, { type: 'NamesAccepted', status: 'True', reason: 'NoConflicts', message: 'no conflicts found' }, now);
    if (!conditions.some((c) => c.type === 'Established' && c.status === 'True')) {
      conditions = conflict
        ? setCondition(conditions, { type: 'Established', status: 'False', reason: 'NotAccepted', message: 'not all names are accepted' }, now)
        : setCondition(conditions, { type: 'Established', status: 'True', reason: 'InitialNamesAccepted', message: 'the initial names have been accepted' }, now);
    }
    const storage = definition.versions.find((v) => v.storage)?.name as string;
    const stored = Array.isArray(previous.storedVersions) ? (previous.storedVersions as string[]) : [];
    const status: Record<string, unknown> = {
      ...previous,
      conditions,
      acceptedNames: conflict && isObject(previous.acceptedNames) ? previous.acceptedNames : acceptedNames(definition),
      storedVersions: stored.includes(storage) ? stored : [...stored, storage],
    };
    if (conflict && !isObject(previous.acceptedNames)) status.acceptedNames = { plural: '', kind: '' };
    return { ...withSpecDefaults(object, definition), status };
  }

  #checkImmutable(next: CrdDefinition, old: CrdDefinition, established: boolean, name: string): void {
    const causes: FieldError[] = [];
    const immutable = (field: string, a: string, b: string) => {
      if (a !== b) causes.push(fieldErrors.invalid(field, a, 'field is immutable'));
    };
    if (established) {
      immutable('spec.scope', next.scope, old.scope);
      immutable('spec.names.kind', next.kind, old.kind);
    }
    immutable('spec.group', next.group, old.group);
    immutable('spec.names.plural', next.plural, old.plural);
    if (causes.length > 0) throw errors.invalid(this.resource, name, causes);
  }

  /** A name of this CRD that another kind of its group already uses (built-in plural, or another CRD's names). */
  #nameConflict(definition: CrdDefinition): string | undefined {
    const others = this.#registry.all().filter((r) => r.group === definition.group && r.crd !== definition.name);
    for (const other of others) {
      if (other.plural === definition.plural) return definition.plural;
      if (other.crd === undefined) continue;
      if (other.kind === definition.kind) return definition.kind;
      if (other.singular === definition.singular) return definition.singular;
      const taken = new Set([other.plural, other.singular, ...other.shortNames]);
      const shortName = definition.shortNames.find((n) => taken.has(n));
      if (shortName) return shortName;
    }
    return undefined;
  }

  /** The first DELETE: mark the CRD terminating (finalizer, deletionTimestamp, condition) and clean up soon. */
  #beginDelete(existing: KubeObject): KubeObject {
    if (existing.metadata.deletionTimestamp) return existing;
    const now = timestamp(this.#now());
    const finalizers = Array.isArray(existing.metadata.finalizers) ? (existing.metadata.finalizers as string[]) : [];
    const status = isObject(existing.status) ? existing.status : {};
    const next: KubeObject = {
      ...existing,
      metadata: { ...existing.metadata, deletionTimestamp: now, finalizers: finalizers.includes(CLEANUP_FINALIZER) ? finalizers : [...finalizers, CLEANUP_FINALIZER] },
      status: {
        ...status,
        conditions: setCondition(conditionsOf(existing), {
          type: 'Terminating', status: 'True', reason: 'InstanceDeletionPending',
          message: 'CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon',
        }, now),
      },
    };
    const stored = this.#store.replace(resourceKey(this.resource), next, existing);
    setImmediate(() => this.#finalize(existing.metadata.name));
    return stored;
  }

  /** The finalizer controller's work: every custom resource of the CRD deleted, the kind unserved, the CRD gone. */
  #finalize(name: string): void {
    const key = resourceKey(this.resource);
    const crd = this.#store.get(key, '', name);
    if (!crd?.metadata.deletionTimestamp) return;
    let deleted = 0;
    for (const resource of this.#registry.ofCrd(name)) {
      const objectsKey = resourceKey(resource);
      for (const object of this.#store.list(objectsKey)) {
        this.#store.remove(objectsKey, object);
        deleted++;
      }
    }
    this.#serve(name, []);
    this.#store.remove(key, crd);
    this.#log(`customresourcedefinition ${name} deleted with ${deleted} object(s)`);
  }

  /** Keeps the registry in step with the stored CRDs, whichever path wrote them. */
  #changed(change: Change): void {
    const crd = change.object;
    const name = crd.metadata.name;
    if (change.type === 'DELETED') {
      this.#serve(name, []);
      return;
    }
    if (crd.metadata.deletionTimestamp) {
      for (const resource of this.#registry.ofCrd(name)) resource.terminating = true;
      return;
    }
    if (!isTrue(crd, 'NamesAccepted') || !isTrue(crd, 'Established')) return;
    let definition: CrdDefinition;
    try {
      definition = parseCrdManifest(crd);
    } catch {
      return;
    }
    this.#serve(name, resourcesForCrd(definition));
  }

  /** Serves exactly `resources` for the CRD; watches on kinds it no longer serves end. */
  #serve(name: string, resources: ResourceType[]): void {
    const keys = new Set(resources.map(resourceKey));
    const dropped = this.#registry.ofCrd(name).filter((r) => !keys.has(resourceKey(r)));
    this.#registry.setCrdResources(name, resources);
    for (const resource of dropped) this.#watches.dropResource(resource);
  }
}
