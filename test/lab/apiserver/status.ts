import { invalidStatusParts, type FieldError, type InvalidStatusParts } from './field-errors.ts';
import type { ResourceType } from './resources.ts';

/** The `details.causes` entries of a Kubernetes Status. */
export interface StatusCause {
  reason: string;
  message: string;
  field: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  causes?: StatusCause[];
  /** With 429 and 5xx: when to retry; the server also sends it as the Retry-After header. */
  retryAfterSeconds?: number;
}

/** A `meta/v1 Status` with `status: Failure`, the body of every error response. */
export interface FailureStatus {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: string;
  details?: StatusDetails;
  code: number;
}

const reasonByCode: Record<number, string> = {
  400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 405: 'MethodNotAllowed',
  406: 'NotAcceptable', 409: 'Conflict', 410: 'Expired', 413: 'RequestEntityTooLarge', 415: 'UnsupportedMediaType',
  422: 'Invalid', 429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout',
};

export function reasonForCode(code: number): string {
  return reasonByCode[code] ?? (code >= 500 ? 'InternalError' : 'BadRequest');
}

/** An error that the HTTP layer turns into a Status response with its code. */
export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly details: StatusDetails | undefined;

  constructor(code: number, message: string, reason = reasonForCode(code), details?: StatusDetails) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.details = details;
  }

  toStatus(): FailureStatus {
    const status: FailureStatus = {
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
      message: this.message, reason: this.reason, code: this.code,
    };
    if (this.details) status.details = this.details;
    return status;
  }
}

export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new ApiError(500, `internal error: ${message}`);
}

export function qualifiedResource(resource: ResourceType): string {
  return resource.group ? `${resource.plural}.${resource.group}` : resource.plural;
}

function detailsFor(resource: ResourceType, name: string): StatusDetails {
  const details: StatusDetails = { name, kind: resource.plural };
  if (resource.group) details.group = resource.group;
  return details;
}

/** StatusDetails as Go serializes them: empty name, group and kind are left out (omitempty). */
function fromInvalidParts(parts: InvalidStatusParts): ApiError {
  const { name, group, kind, causes } = parts.details;
  const details: StatusDetails = { causes };
  if (name) details.name = name;
  if (group) details.group = group;
  if (kind) details.kind = kind;
  return new ApiError(parts.code, parts.message, parts.reason, details);
}

export const errors = {
  badRequest: (message: string) => new ApiError(400, message),
  notFound: (resource: ResourceType, name: string) =>
    new ApiError(404, `${qualifiedResource(resource)} "${name}" not found`, 'NotFound', detailsFor(resource, name)),
  pathNotFound: (path: string) => new ApiError(404, `the server could not find the requested resource (${path})`),
  methodNotAllowed: (method: string, what: string) =>
    new ApiError(405, `the server does not allow this method on the requested resource: ${method} ${what}`),
  alreadyExists: (resource: ResourceType, name: string) =>
    new ApiError(409, `${qualifiedResource(resource)} "${name}" already exists`, 'AlreadyExists', detailsFor(resource, name)),
  conflict: (resource: ResourceType, name: string, why = 'the object has been modified; please apply your changes to the latest version and try again') =>
    new ApiError(409, `Operation cannot be fulfilled on ${qualifiedResource(resource)} "${name}": ${why}`, 'Conflict', detailsFor(resource, name)),
  /**
   * 422 Invalid as `errors.NewInvalid(<Kind>.<group>, name, causes)` words it (strategies' validation):
   * `Endpoint.submariner.io "x" is invalid: spec.a: Required value` (one cause bare, several in brackets).
   */
  invalid: (resource: ResourceType, name: string, causes: FieldError[]) =>
    fromInvalidParts(invalidStatusParts(resource.kind, resource.group, name, causes)),
  /** 422 Invalid named by the resource rather than the kind, as the generic store's own checks say it (`endpoints.submariner.io "x"`). */
  invalidResource: (resource: ResourceType, name: string, causes: FieldError[]) =>
    fromInvalidParts(invalidStatusParts(resource.plural, resource.group, name, causes)),
  /** 422 Invalid from parts already worded (field-errors.ts, crd-manifest.ts). */
  invalidParts: (parts: InvalidStatusParts) => fromInvalidParts(parts),
  /** 405 for a create while the kind's CRD is being deleted, in the CRD handler's words. */
  terminating: (resource: ResourceType, verb: string) =>
    new ApiError(405, `${verb} not allowed while custom resource definition is terminating`, 'MethodNotAllowed',
      resource.group ? { kind: resource.plural, group: resource.group } : { kind: resource.plural }),
  tooLarge: (limit: number) => new ApiError(413, `the request body is larger than the limit of ${limit} bytes`),
  unsupportedMediaType: (type: string, supported: string[]) =>
    new ApiError(415, `the body of the request was in an unknown format - accepted media types include: ${supported.join(', ')} (got "${type}")`),
  expired: (requested: number, oldest: number) =>
    new ApiError(410, `too old resource version: ${requested} (${oldest})`, 'Expired'),
  /** The API server's own words for a continue token whose snapshot was compacted away. */
  continueExpired: () =>
    new ApiError(410, 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.', 'Expired'),
};
