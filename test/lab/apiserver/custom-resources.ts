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
 * applyPatchToCurrentObject`); under Warn each unknown field is one `Warning` header; under Ignore nothing.
 * Invalid values of `fieldValidation` are a 422 on `CreateOptions`/`UpdateOptions`/`PatchOptions`
 * (meta.k8s.io), `ValidateFieldValidation`'s NotSupported with the values "", "Ignore", "Strict", "Warn".
 * A create or update body without `kind` is refused: the unstructured JSON decoder custom resources go through
 * ignores the kind the URL implies and fails with `Object 'Kind' is missing in '<body>'` (read in apimachinery's
 * unstructured helpers); that the create handler's transformDecodeError then words it as `the object provided is
 * unrecognized (must be of type <Kind>): ... (<first 30 bytes> ...)` with 400 is inferred from its source as recalled,
 * and the body is re-serialized here rather than quoted byte for byte.
 */
import { fieldErrors, goJson, invalidStatusParts, strictDecodingMessage, unknownFieldWarnings, type FieldError } from './field-errors.ts';
import type { ResourceType } from './resources.ts';
import { errors } from './status.ts';
import type { KubeObject } from './store.ts';
import { fieldValidationDirective, fieldValidationValues, decodeByStructuralSchema, structuralSchemaErrors, type FieldValidation, type JsonObject } from './structural-schema.ts';

/** What a write asks for and what it answers besides the object. */
export interface WriteContext {
  fieldValidation: FieldValidation;
  /** `Warning` header texts for the response (unknown fields under Warn). */
  warnings: string[];
}

export function defaultWriteContext(): WriteContext {
  return { fieldValidation: 'Warn', warnings: [] };
}

const optionsKind = { create: 'CreateOptions', update: 'UpdateOptions', patch: 'PatchOptions' } as const;

/** The `fieldValidation` query parameter of a create, update or patch (absent or empty: Warn, as the API server defaults). */
export function writeContextFor(verb: 'create' | 'update' | 'patch', raw: string | null): WriteContext {
  const directive = fieldValidationDirective(raw);
  if (directive === undefined) {
    const cause = fieldErrors.notSupported('fieldValidation', raw, [...fieldValidationValues]);
    throw errors.invalidParts(invalidStatusParts(optionsKind[verb], 'meta.k8s.io', '', [cause]));
  }
  return { fieldValidation: directive, warnings: [] };
}

/**
 * Decodes a custom resource body as the CRD handler does: unknown fields (ObjectMeta's included) are dropped,
 * nulls the schema does not allow are dropped, defaults applied. `patch` words the Strict refusal as the patch
 * handler does (the patched object is the body). Returns the decoded copy.
 */
export function decodeCustomResource(resource: ResourceType, body: KubeObject, context: WriteContext, mode: 'body' | 'patch'): KubeObject {
  if (!resource.schema) return body;
  if (mode === 'body' && (body.kind === undefined || body.kind === '')) {
    const data = JSON.stringify(body);
    const summary = data.length > 30 ? `${data.slice(0, 30)} ...` : data;
    throw errors.badRequest(`the object provided is unrecognized (must be of type ${resource.kind}): Object 'Kind' is missing in '${data}' (${summary})`);
  }
  const result = decodeByStructuralSchema(resource.schema, body as unknown as JsonObject);
  if (result.unknownFields.length > 0) {
    if (context.fieldValidation === 'Strict') {
      const message = strictDecodingMessage(resource.kind, resource.version, result.unknownFields);
      if (mode === 'body') throw errors.badRequest(message);
      const tail = message.slice(message.indexOf('strict decoding error: '));
      throw errors.invalidParts(invalidStatusParts('', '', '', [fieldErrors.invalid('patch', goJson(body), tail)]));
    }
    if (context.fieldValidation === 'Warn') context.warnings.push(...unknownFieldWarnings(result.unknownFields));
  }
  return result.object as KubeObject;
}

/** The schema's validation errors for an object about to be stored (none for kinds without a schema). */
export function schemaErrors(resource: ResourceType, object: KubeObject): FieldError[] {
  if (!resource.schema) return [];
  return structuralSchemaErrors(resource.schema, object as unknown as JsonObject);
}
