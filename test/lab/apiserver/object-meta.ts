/**
 * ObjectMeta's ownerReferences and finalizers: what a body must hold there to decode at all (400 otherwise,
 * as the JSON decoder refuses a wrong type before any validation), and what ValidateObjectMeta checks of
 * them (422 causes), so the garbage collector only ever reads well-formed references.
 *
 * Verified against apimachinery's api/validation/objectmeta.go (read through the code search):
 * validateOwnerReference's causes (`metadata.ownerReferences.uid: Invalid value: "": must not be empty`,
 * apiVersion's "version must not be empty", v1 Event "is disallowed from being an owner"), ValidateOwnerReferences'
 * one-controller rule, ValidateFinalizers (each a qualified name; `orphan` and `foregroundDeletion` never
 * together), and ValidateNoNewFinalizers' Forbidden for an object being deleted. Inferred: the 400 wording of a
 * wrong type (`json: cannot unmarshal ...`, the decoder's words as recalled), and Go's `%#v` of a []string.
 */
import { fieldErrors, goQuote, type FieldError } from './field-errors.ts';
import { isObject } from './patch.ts';
import { errors } from './status.ts';

/** The garbage collector's finalizers (metav1.FinalizerOrphanDependents, FinalizerDeleteDependents). */
export const ORPHAN_FINALIZER = 'orphan';
export const FOREGROUND_FINALIZER = 'foregroundDeletion';

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

const jsonType = (value: unknown) =>
  Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value === 'boolean' ? 'bool' : typeof value;

/** The decoder's refusal of a wrong type, as the create/update handlers pass it on (400). */
function cannotDecode(kind: string, version: string, value: unknown, field: string, goType: string) {
  return errors.badRequest(`${kind} in version ${goQuote(version)} cannot be handled as a ${kind}: json: cannot unmarshal ${jsonType(value)} into Go struct field ${field} of type ${goType}`);
}

/**
 * Throws 400 when metadata.ownerReferences or metadata.finalizers has a type no decoder would take (null is
 * absent, as Go decodes it). `kind` and `version` name the object in the message.
 */
export function checkMetaTypes(metadata: Record<string, unknown>, kind: string, version: string): void {
  const refs = metadata.ownerReferences;
  if (refs !== undefined && refs !== null) {
    if (!Array.isArray(refs)) throw cannotDecode(kind, version, refs, 'ObjectMeta.metadata.ownerReferences', '[]v1.OwnerReference');
    for (const ref of refs) {
      if (!isObject(ref)) throw cannotDecode(kind, version, ref, 'ObjectMeta.metadata.ownerReferences', 'v1.OwnerReference');
      for (const field of ['apiVersion', 'kind', 'name', 'uid'] as const) {
        const value = ref[field];
        if (value !== undefined && value !== null && typeof value !== 'string') {
          throw cannotDecode(kind, version, value, `OwnerReference.metadata.ownerReferences.${field}`, field === 'uid' ? 'types.UID' : 'string');
        }
      }
      for (const field of ['controller', 'blockOwnerDeletion'] as const) {
        const value = ref[field];
        if (value !== undefined && value !== null && typeof value !== 'boolean') {
          throw cannotDecode(kind, version, value, `OwnerReference.metadata.ownerReferences.${field}`, 'bool');
        }
      }
    }
  }
  const finalizers = metadata.finalizers;
  if (finalizers !== undefined && finalizers !== null) {
    if (!Array.isArray(finalizers)) throw cannotDecode(kind, version, finalizers, 'ObjectMeta.metadata.finalizers', '[]string');
    for (const finalizer of finalizers) {
      if (typeof finalizer !== 'string') throw cannotDecode(kind, version, finalizer, 'ObjectMeta.metadata.finalizers', 'string');
    }
  }
}

/** An object's owner references (the well-formed ones: a stored object has passed checkMetaTypes). */
export function ownerReferencesOf(metadata: Record<string, unknown>): OwnerReference[] {
  const refs = metadata.ownerReferences;
  if (!Array.isArray(refs)) return [];
  return refs.filter((ref): ref is OwnerReference => isObject(ref) && typeof ref.uid === 'string' && ref.uid !== '');
}

export function finalizersOf(metadata: Record<string, unknown>): string[] {
  const finalizers = metadata.finalizers;
  return Array.isArray(finalizers) ? finalizers.filter((f): f is string => typeof f === 'string') : [];
}

const qualifiedNamePart = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const qualifiedNameRegexError = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const subdomainRegexError = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

/** validation.IsQualifiedName: `[prefix/]name`, the prefix a DNS subdomain, the name at most 63 characters. */
export function qualifiedNameErrors(value: string): string[] {
  const parts = value.split('/');
  const messages: string[] = [];
  if (parts.length > 2) {
    return [`a qualified name ${qualifiedNameRegexError} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`];
  }
  const name = parts.length === 2 ? (parts[1] as string) : (parts[0] as string);
  if (parts.length === 2) {
    const prefix = parts[0] as string;
    if (prefix === '') messages.push('prefix part must be non-empty');
    else {
      if (prefix.length > 253) messages.push('prefix part must be no more than 253 characters');
      if (!dns1123Subdomain.test(prefix)) messages.push(`prefix part ${subdomainRegexError}`);
    }
  }
  if (name === '') messages.push('name part must be non-empty');
  else if (name.length > 63) messages.push('name part must be no more than 63 characters');
  if (!qualifiedNamePart.test(name)) messages.push(`name part ${qualifiedNameRegexError}`);
  return messages;
}

/** ValidateOwnerReferences (field `metadata.ownerReferences`, its causes not indexed, as the API server words them). */
export function ownerReferenceErrors(metadata: Record<string, unknown>): FieldError[] {
  const refs = metadata.ownerReferences;
  if (!Array.isArray(refs)) return [];
  const field = 'metadata.ownerReferences';
  const causes: FieldError[] = [];
  let firstController = '';
  for (const ref of refs) {
    if (!isObject(ref)) continue;
    const text = (key: string) => (typeof ref[key] === 'string' ? (ref[key] as string) : '');
    const apiVersion = text('apiVersion');
    const version = apiVersion.includes('/') ? apiVersion.slice(apiVersion.indexOf('/') + 1) : apiVersion;
    if (version === '') causes.push(fieldErrors.invalid(`${field}.apiVersion`, apiVersion, 'version must not be empty'));
    if (text('kind') === '') causes.push(fieldErrors.invalid(`${field}.kind`, text('kind'), 'must not be empty'));
    if (text('name') === '') causes.push(fieldErrors.invalid(`${field}.name`, text('name'), 'must not be empty'));
    if (text('uid') === '') causes.push(fieldErrors.invalid(`${field}.uid`, text('uid'), 'must not be empty'));
    if (apiVersion === 'v1' && text('kind') === 'Event') causes.push(fieldErrors.invalid(field, ref, '/v1, Kind=Event is disallowed from being an owner'));
    if (ref.controller === true) {
      const name = `${text('kind')}/${text('name')}`;
      if (firstController === '') firstController = name;
      else causes.push(fieldErrors.invalid(field, refs, `Only one reference can have Controller set to true. Found "true" in references for ${firstController} and ${name}`));
    }
  }
  return causes;
}

/** ValidateFinalizers: qualified names, and never both of the garbage collector's. */
export function finalizerErrors(metadata: Record<string, unknown>): FieldError[] {
  const finalizers = finalizersOf(metadata);
  const causes: FieldError[] = [];
  for (const finalizer of finalizers) {
    for (const message of qualifiedNameErrors(finalizer)) causes.push(fieldErrors.invalid('metadata.finalizers', finalizer, message));
  }
  if (finalizers.includes(ORPHAN_FINALIZER) && finalizers.includes(FOREGROUND_FINALIZER)) {
    causes.push(fieldErrors.invalid('metadata.finalizers', finalizers, `finalizer ${ORPHAN_FINALIZER} and ${FOREGROUND_FINALIZER} cannot be both set`));
  }
  return causes;
}

/** ValidateNoNewFinalizers, for an update of an object that is being deleted. */
export function newFinalizerErrors(next: Record<string, unknown>, existing: Record<string, unknown>): FieldError[] {
  if (!existing.deletionTimestamp) return [];
  const old = new Set(finalizersOf(existing));
  const extra = [...new Set(finalizersOf(next).filter((f) => !old.has(f)))].sort();
  if (extra.length === 0) return [];
  return [fieldErrors.forbidden('metadata.finalizers', `no new finalizers can be added if the object is being deleted, found new finalizers []string{${extra.map(goQuote).join(', ')}}`)];
}
