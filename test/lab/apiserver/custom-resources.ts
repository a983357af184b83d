/**
 * The custom-resource side of a write, between the generic object checks (objects.ts) and the store: a
 * body is decoded against its CRD version's structural schema (pruned, defaulted, unknown fields found and
 * handled per `?fieldValidation=`), and the object about to be stored is validated against the same schema.
 * The schema work itself is structural-schema.ts; this file is where its outcomes become HTTP answers.
 *
 * Verified against apiserver's handlers (patch.go, read through the code search): a create or update whose
 * body has unknown fields under Strict is 400 BadRequest (`<Kind> in version "v1" cannot be handled as a
 * <Kind>: strict decoding error: unknown field "spec.x"`); a patch whose result has them is 422 Invalid with
 * an empty kind and name and one `patch` cause holding the patched object's JSON (`jsonPatcher.
 * applyPatchToCurrentObject`; a strategic merge patch of a built-in kind holds the patch map as Go's %+v prints it,
 * `applyPatchToObject`); under Warn each unknown field is one `Warning` header; under Ignore nothing.
 * Invalid values of `fieldValidation` are a 422 on `CreateOptions`/`UpdateOptions`/`PatchOptions`
 * (meta.k8s.io), `ValidateFieldValidation`'s NotSupported with the values "", "Ignore", "Strict", "Warn".
 * A create or update body without `kind` is refused: the unstructured JSON decoder custom resources go through
 * ignores the kind the URL implies and fails with `Object 'Kind' is missing in '<body>'` (read in apimachinery's
 * unstructured helpers); that the create handler's transformDecodeError then words it as `the object provided is
 * unrecognized (must be of type <Kind>): ... (<first 30 bytes> ...)` with 400 is inferred from its source as recalled,
 * and the body is re-serialized here rather than quoted byte for byte.
 */
import { fieldErrors, goJson, invalidStatusParts, strictDecodingMessage, unknownFieldWarnings, type FieldError } from './field-errors.ts';
import { pruneByBuiltinSchema } from './builtin-schemas.ts';
import type { Json } from './patch.ts';
import type { ResourceType } from './resources.ts';
import { errors } from './status.ts';
import type { KubeObject } from './store.ts';
import { fieldValidationDirective, fieldValidationValues, decodeByStructuralSchema, structuralSchemaErrors, type FieldValidation, type JsonObject } from './structural-schema.ts';

/** What a write asks for and what it answers besides the object. */
export interface WriteContext {
  fieldValidation: FieldValidation;
  /** `Warning` header texts for the response (unknown fields under Warn). */
  warnings: string[];
  /** The field manager the write is recorded under in managedFields. */
  manager: string;
  /** Server-side apply only: take conflicting fields from their managers. */
  force: boolean;
}

/** Writes the lab makes itself (namespaces springing into existence, the CRDs loaded at start). */
export function defaultWriteContext(): WriteContext {
  return { fieldValidation: 'Warn', warnings: [], manager: 'seaway-lab', force: false };
}

const optionsKind = { create: 'CreateOptions', update: 'UpdateOptions', patch: 'PatchOptions', apply: 'PatchOptions' } as const;

/**
 * The options of a create, update, patch or apply from its query: `fieldValidation` (absent or empty: Warn, as
 * the API server defaults), `fieldManager` (absent: the User-Agent up to its first "/", as the API server derives
 * it; required for apply; at most 128 characters) and `force` (apply only).
 */
export function writeContextFor(verb: keyof typeof optionsKind, query: URLSearchParams, userAgent: string): WriteContext {
  const raw = query.get('fieldValidation');
  const directive = fieldValidationDirective(raw);
  const causes: FieldError[] = [];
  if (directive === undefined) causes.push(fieldErrors.notSupported('fieldValidation', raw, [...fieldValidationValues]));
  const named = query.get('fieldManager') ?? '';
  if (verb === 'apply' && named === '') causes.push(fieldErrors.required('fieldManager', 'is required for apply patch'));
  if (named.length > 128) causes.push(fieldErrors.tooLong('fieldManager', 128));
  const force = query.get('force');
  if (force !== null && verb === 'patch') causes.push(fieldErrors.forbidden('force', 'may not be specified for non-apply patch'));
  if (causes.length > 0) throw errors.invalidParts(invalidStatusParts(optionsKind[verb], 'meta.k8s.io', '', causes));
  const manager = named !== '' ? named : (userAgent.split('/')[0] ?? '').slice(0, 128);
  return { fieldValidation: directive ?? 'Warn', warnings: [], manager, force: force === 'true' };
}

/**
 * Decodes a write's body. A custom resource as the CRD handler does: unknown fields (ObjectMeta's included) are
 * dropped, nulls the schema does not allow are dropped, defaults applied. A built-in kind: unknown fields dropped. `patch` words the Strict refusal as the patch
 * handler does (the patched object is the body). Returns the decoded copy.
 */
export function decodeBody(resource: ResourceType, body: KubeObject, context: WriteContext, mode: 'body' | 'patch', shownPatch?: string): KubeObject {
  if (!resource.schema) return decodeBuiltin(resource, body, context, mode, shownPatch);
  if (mode === 'body' && (body.kind === undefined || body.kind === '')) {
    const data = JSON.stringify(body);
    const summary = data.length > 30 ? `${data.slice(0, 30)} ...` : data;
    throw errors.badRequest(`the object provided is unrecognized (must be of type ${resource.kind}): Object 'Kind' is missing in '${data}' (${summary})`);
  }
  const result = decodeByStructuralSchema(resource.schema, body as unknown as JsonObject);
  reportUnknownFields(resource, body, result.unknownFields, context, mode);
  return result.object as KubeObject;
}

/** A built-in kind's body without the fields its schema does not know (kinds without a schema: as it is). */
function decodeBuiltin(resource: ResourceType, body: KubeObject, context: WriteContext, mode: 'body' | 'patch', shownPatch: string | undefined): KubeObject {
  if (!resource.builtin) return body;
  const result = pruneByBuiltinSchema(resource.builtin.schemas, resource.builtin.definition, body as unknown as Json);
  reportUnknownFields(resource, body, result.unknownFields, context, mode, shownPatch);
  return result.object as unknown as KubeObject;
}

/**
 * Unknown fields as `fieldValidation` asks: refused (Strict), one warning each (Warn), or silently dropped (Ignore).
 * A refused patch shows `shownPatch` when given (a strategic merge patch: the patch map, `%+v`), else the patched object's JSON.
 */
function reportUnknownFields(resource: ResourceType, body: KubeObject, unknownFields: string[], context: WriteContext, mode: 'body' | 'patch', shownPatch?: string): void {
  if (unknownFields.length === 0) return;
  if (context.fieldValidation === 'Strict') {
    const message = strictDecodingMessage(resource.kind, resource.version, unknownFields);
    if (mode === 'body') throw errors.badRequest(message);
    const tail = message.slice(message.indexOf('strict decoding error: '));
    throw errors.invalidParts(invalidStatusParts('', '', '', [fieldErrors.invalid('patch', shownPatch ?? goJson(body), tail)]));
  }
  if (context.fieldValidation === 'Warn') context.warnings.push(...unknownFieldWarnings(unknownFields));
}

/** The schema's validation errors for an object about to be stored (none for kinds without a schema). */
export function schemaErrors(resource: ResourceType, object: KubeObject): FieldError[] {
  if (!resource.schema) return [];
  return structuralSchemaErrors(resource.schema, object as unknown as JsonObject);
}
