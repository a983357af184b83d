/**
 * A DELETE's options (meta/v1 DeleteOptions), read as the API server's delete handler reads them: from the
 * body when there is one, else from the query (`gracePeriodSeconds`, `propagationPolicy`, `orphanDependents`),
 * never from both (a value that does not decode is 400 at once). ValidateDeleteOptions comes later, once the
 * object is found (rest.BeforeDelete runs it): an unknown propagationPolicy, or one together with the legacy
 * orphanDependents, is 422 `DeleteOptions.meta.k8s.io "" is invalid: ...`.
 *
 * Verified (read through the code search): the body-or-query rule (apiserver handlers/delete.go), the
 * validation's causes (apimachinery meta/v1/validation, called from rest.BeforeDelete). Inferred: the 400
 * wordings of a value that does not decode (Go's json and strconv errors as recalled).
 */
import { fieldErrors, invalidStatusParts, type FieldError } from './field-errors.ts';
import { isObject } from './patch.ts';
import { errors } from './status.ts';

export type PropagationPolicy = 'Foreground' | 'Background' | 'Orphan';
const policies: readonly string[] = ['Foreground', 'Background', 'Orphan'];

export interface DeleteOptions {
  gracePeriodSeconds?: number;
  /** As sent; validateDeleteOptions accepts only a PropagationPolicy. */
  propagationPolicy?: string;
  /** Deprecated, still honoured: true orphans, false cascades (in the background). */
  orphanDependents?: boolean;
  preconditions?: { uid?: string; resourceVersion?: string };
}

const jsonType = (value: unknown) => (Array.isArray(value) ? 'array' : typeof value === 'boolean' ? 'bool' : typeof value);

function fromBody(body: Record<string, unknown>): DeleteOptions {
  const options: DeleteOptions = {};
  const unmarshal = (value: unknown, field: string, goType: string) =>
    errors.badRequest(`json: cannot unmarshal ${jsonType(value)} into Go struct field DeleteOptions.${field} of type ${goType}`);
  const grace = body.gracePeriodSeconds;
  if (grace !== undefined && grace !== null) {
    if (typeof grace !== 'number' || !Number.isInteger(grace)) throw unmarshal(grace, 'gracePeriodSeconds', 'int64');
    options.gracePeriodSeconds = grace;
  }
  const orphan = body.orphanDependents;
  if (orphan !== undefined && orphan !== null) {
    if (typeof orphan !== 'boolean') throw unmarshal(orphan, 'orphanDependents', 'bool');
    options.orphanDependents = orphan;
  }
  const policy = body.propagationPolicy;
  if (policy !== undefined && policy !== null) {
    if (typeof policy !== 'string') throw unmarshal(policy, 'propagationPolicy', 'v1.DeletionPropagation');
    options.propagationPolicy = policy;
  }
  const preconditions = body.preconditions;
  if (preconditions !== undefined && preconditions !== null) {
    // The lab's words from before DeleteOptions were parsed here.
    if (!isObject(preconditions)) throw errors.badRequest('preconditions must be an object');
    const parsed: { uid?: string; resourceVersion?: string } = {};
    for (const field of ['uid', 'resourceVersion'] as const) {
      const value = preconditions[field];
      if (value === undefined || value === null) continue;
      if (typeof value !== 'string') throw unmarshal(value, `preconditions.${field}`, field === 'uid' ? 'types.UID' : 'string');
      parsed[field] = value;
    }
    options.preconditions = parsed;
  }
  const dryRun = body.dryRun;
  if (Array.isArray(dryRun) && dryRun.length > 0) throw errors.badRequest('dryRun is not supported by this API server');
  return options;
}

const trueValues = ['1', 't', 'T', 'true', 'TRUE', 'True'];
const falseValues = ['0', 'f', 'F', 'false', 'FALSE', 'False'];

function fromQuery(query: URLSearchParams): DeleteOptions {
  const options: DeleteOptions = {};
  const grace = query.get('gracePeriodSeconds');
  if (grace !== null && grace !== '') {
    if (!/^[-+]?\d+$/.test(grace)) throw errors.badRequest(`strconv.ParseInt: parsing ${JSON.stringify(grace)}: invalid syntax`);
    options.gracePeriodSeconds = Number(grace);
  }
  const orphan = query.get('orphanDependents');
  if (orphan !== null && orphan !== '') {
    if (![...trueValues, ...falseValues].includes(orphan)) throw errors.badRequest(`strconv.ParseBool: parsing ${JSON.stringify(orphan)}: invalid syntax`);
    options.orphanDependents = trueValues.includes(orphan);
  }
  const policy = query.get('propagationPolicy');
  if (policy !== null && policy !== '') options.propagationPolicy = policy;
  return options;
}

/**
 * The options of a DELETE: `body` (the decoded JSON body, undefined when there was none) wins over `query`.
 * Throws 400 for a value that does not decode; validateDeleteOptions checks the rest.
 */
export function parseDeleteOptions(body: unknown, query?: URLSearchParams): DeleteOptions {
  if (body === undefined) return query ? fromQuery(query) : {};
  if (!isObject(body)) throw errors.badRequest(`json: cannot unmarshal ${jsonType(body)} into Go value of type v1.DeleteOptions`);
  return fromBody(body);
}

/** ValidateDeleteOptions: 422 on DeleteOptions.meta.k8s.io; returns the policy, now known to be one of the three. */
export function validateDeleteOptions(options: DeleteOptions): PropagationPolicy | undefined {
  const policy = options.propagationPolicy;
  const causes: FieldError[] = [];
  if (policy !== undefined && options.orphanDependents !== undefined) {
    causes.push(fieldErrors.invalid('propagationPolicy', policy, 'orphanDependents and deletionPropagation cannot be both set'));
  }
  if (policy !== undefined && !policies.includes(policy)) causes.push(fieldErrors.notSupported('propagationPolicy', policy, [...policies, 'nil']));
  if (causes.length > 0) throw errors.invalidParts(invalidStatusParts('DeleteOptions', 'meta.k8s.io', '', causes));
  return policy as PropagationPolicy | undefined;
}
