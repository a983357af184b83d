/**
 * Field validation errors in the API server's own words, for custom resources and CRDs.
 *
 * Verified against the Go sources (read through the code search):
 * - k8s.io/apimachinery/pkg/util/validation/field/errors.go: the cause reasons (FieldValueRequired, ...),
 *   `Error()` = "<field>: <body>", `ErrorBody()` = "<type text>[: <value>][: <detail>]" where Required,
 *   Forbidden, TooLong and TooShort omit the value, int/float/bool print with %v, strings with %q and
 *   anything else as JSON; TooLong's detail "may not be more than N bytes", TooMany's "must have at most
 *   N items" (singular for 1), NotSupported's `supported values: "a", "b"`; `ToAggregate` drops repeated
 *   messages; an aggregate of one prints bare, of several as "[a, b]".
 * - k8s.io/apimachinery/pkg/api/errors NewInvalid: 422, reason Invalid, message
 *   `<Kind>.<group> "<name>" is invalid: <aggregate>`, details {name, group, kind, causes}. Real outputs
 *   seen in issue threads match, e.g. `Network.openstack.k-orc.cloud "x" is invalid: [status.resource.subnets:
 *   Too many: 49: must have at most 32 items, ...]` (k-orc/openstack-resource-controller#527).
 * - The strict decoding error of a custom resource (apiextensions-apiserver crdhandler schemaCoercingDecoder
 *   plus the create handler's transformDecodeError): 400 BadRequest, `<Kind> in version "<v>" cannot be
 *   handled as a <Kind>: strict decoding error: unknown field "spec.a", unknown field "spec.b"`; seen verbatim
 *   in cloud-ark/kubeplus#1381.
 * Inferred: Go's %q and %v are approximated (goQuote, goNumber) for the values a JSON body can hold; the
 * Warning header framing `299 - "<text>"` follows KEP-1693 (https://www.kubernetes.dev/resources/keps/1693/).
 */
import type { StatusCause, StatusDetails } from './status.ts';

export type CauseReason =
  | 'FieldValueRequired'
  | 'FieldValueInvalid'
  | 'FieldValueTypeInvalid'
  | 'FieldValueNotSupported'
  | 'FieldValueForbidden'
  | 'FieldValueTooLong'
  | 'FieldValueTooMany'
  | 'FieldValueDuplicate';

/** One validation error: exactly a `details.causes[]` entry (`message` is the body without the field). */
export interface FieldError extends StatusCause {
  reason: CauseReason;
}

const typeText: Record<CauseReason, string> = {
  FieldValueRequired: 'Required value',
  FieldValueInvalid: 'Invalid value',
  FieldValueTypeInvalid: 'Invalid value',
  FieldValueNotSupported: 'Unsupported value',
  FieldValueForbidden: 'Forbidden',
  FieldValueTooLong: 'Too long',
  FieldValueTooMany: 'Too many',
  FieldValueDuplicate: 'Duplicate value',
};

/** Go's strconv.Quote (what %q prints) for the strings JSON can carry. */
export function goQuote(text: string): string {
  const named: Record<string, string> = { '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v', '"': '\\"', '\\': '\\\\' };
  let out = '"';
  for (const ch of text) {
    const code = ch.codePointAt(0) as number;
    if (named[ch] !== undefined) out += named[ch];
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    // Not printable for Go: C1 controls, line/paragraph separators, BOM, lone surrogates.
    else if ((code >= 0x80 && code <= 0x9f) || code === 0x2028 || code === 0x2029 || code === 0xfeff || (code >= 0xd800 && code <= 0xdfff)) {
      out += `\\u${code.toString(16).padStart(4, '0')}`;
    } else out += ch;
  }
  return `${out}"`;
}

/** Go's %v of a float64 or int64: shortest digits, exponent below 1e-4 and from 1e21, two-digit exponent. */
export function goNumber(value: number): string {
  if (!Number.isFinite(value)) return value > 0 ? '+Inf' : value < 0 ? '-Inf' : 'NaN';
  if (value === 0) return Object.is(value, -0) ? '-0' : '0';
  const [mantissa, exponentText] = value.toExponential().split('e') as [string, string];
  const exponent = Number(exponentText);
  if (exponent < -4 || exponent >= 21) {
    const sign = exponent < 0 ? '-' : '+';
    return `${mantissa}e${sign}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  return String(value);
}

/** Go's encoding/json of a decoded JSON value: map keys sorted, <, > and & escaped. */
export function goJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'number') return Number.isFinite(value) ? goNumber(value) : 'null';
  if (typeof value === 'string' || typeof value === 'boolean') {
    return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  }
  if (Array.isArray(value)) return `[${value.map(goJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${goJson(k)}:${goJson(v)}`).join(',')}}`;
}

/**
 * Go's fmt %v (verb 'v') or %s (verb 's') of a decoded JSON value (map[string]interface{}, []interface{}, ...),
 * as apimachinery's error messages print patches: `map[a:1 b:[x y] c:<nil>]`, map keys sorted. Integers print as
 * the int64 the API server's JSON decoder makes of them, other numbers as float64 (%v: exponent from 1e+06 and
 * below 1e-04); with %s a non-string scalar prints as `%!s(int64=1)`.
 */
export function goSprint(value: unknown, verb: 'v' | 's' = 'v'): string {
  if (value === null || value === undefined) return verb === 's' ? '%!s(<nil>)' : '<nil>';
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return `[${value.map((v) => goSprint(v, verb)).join(' ')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `map[${entries.map(([k, v]) => `${k}:${goSprint(v, verb)}`).join(' ')}]`;
  }
  let text: string;
  let type: string;
  if (typeof value === 'boolean') {
    [text, type] = [String(value), 'bool'];
  } else if (typeof value === 'number' && Number.isInteger(value) && Math.abs(value) < 2 ** 63) {
    [text, type] = [BigInt(value).toString(), 'int64'];
  } else {
    const number = Number(value);
    const [mantissa, exponentText] = number.toExponential().split('e') as [string, string];
    const exponent = Number(exponentText);
    text = exponent < -4 || exponent >= 6
      ? `${mantissa}e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`
      : String(number);
    type = 'float64';
  }
  return verb === 's' ? `%!s(${type}=${text})` : text;
}

/** How `ErrorBody` prints a bad value. */
export function goValue(value: unknown): string {
  if (typeof value === 'string') return goQuote(value);
  if (typeof value === 'number') return goNumber(value);
  if (typeof value === 'boolean') return String(value);
  return goJson(value);
}

function fieldError(reason: CauseReason, field: string, detail: string, value?: { bad: unknown }): FieldError {
  let message = typeText[reason];
  if (value) message += `: ${goValue(value.bad)}`;
  if (detail) message += `: ${detail}`;
  return { reason, field, message };
}

export const fieldErrors = {
  required: (field: string, detail = '') => fieldError('FieldValueRequired', field, detail),
  invalid: (field: string, value: unknown, detail: string) => fieldError('FieldValueInvalid', field, detail, { bad: value }),
  typeInvalid: (field: string, value: unknown, detail: string) => fieldError('FieldValueTypeInvalid', field, detail, { bad: value }),
  forbidden: (field: string, detail: string) => fieldError('FieldValueForbidden', field, detail),
  duplicate: (field: string, value: unknown) => fieldError('FieldValueDuplicate', field, '', { bad: value }),
  notSupported: (field: string, value: unknown, supported: string[]) =>
    fieldError('FieldValueNotSupported', field, supported.length > 0 ? `supported values: ${supported.map(goQuote).join(', ')}` : '', { bad: value }),
  tooLong: (field: string, maxLength: number) =>
    fieldError('FieldValueTooLong', field, maxLength >= 0 ? `may not be more than ${maxLength} ${maxLength === 1 ? 'byte' : 'bytes'}` : 'value is too long'),
  tooMany: (field: string, actual: number, max: number) =>
    fieldError('FieldValueTooMany', field, max >= 0 ? `must have at most ${max} ${max === 1 ? 'item' : 'items'}` : 'has too many items', { bad: actual }),
};

/** `<field>: <body>`, as `field.Error.Error()` prints it. */
export function errorText(error: FieldError): string {
  return `${error.field}: ${error.message}`;
}

/** utilerrors.NewAggregate(errs).Error(): repeated messages once, one bare, several in brackets. */
export function aggregateStrings(texts: readonly string[]): string {
  const distinct = [...new Set(texts)];
  return distinct.length === 1 ? (distinct[0] as string) : `[${distinct.join(', ')}]`;
}

/** `ErrorList.ToAggregate().Error()`. */
export function aggregateText(errors: FieldError[]): string {
  return aggregateStrings(errors.map(errorText));
}

export interface InvalidStatusParts {
  code: 422;
  reason: 'Invalid';
  message: string;
  details: StatusDetails & { kind: string; name: string; causes: FieldError[] };
}

/** What `errors.NewInvalid(GroupKind, name, errs)` puts in the 422 Status. */
export function invalidStatusParts(kind: string, group: string, name: string, errors: FieldError[]): InvalidStatusParts {
  const qualifiedKind = group ? `${kind}.${group}` : kind;
  const message = errors.length > 0
    ? `${qualifiedKind} ${goQuote(name)} is invalid: ${aggregateText(errors)}`
    : `${qualifiedKind} ${goQuote(name)} is invalid`;
  const details: InvalidStatusParts['details'] = { name, kind, causes: errors };
  if (group) details.group = group;
  return { code: 422, reason: 'Invalid', message, details };
}

/** The 400 BadRequest message for unknown fields under `fieldValidation=Strict`. */
export function strictDecodingMessage(kind: string, version: string, unknownFields: string[]): string {
  return `${kind} in version ${goQuote(version)} cannot be handled as a ${kind}: strict decoding error: ${unknownFields.map((p) => `unknown field ${goQuote(p)}`).join(', ')}`;
}

/** The warnings sent under `fieldValidation=Warn`, one per unknown field (kubectl prints `Warning: <text>`). */
export function unknownFieldWarnings(unknownFields: string[]): string[] {
  return [...new Set(unknownFields.map((p) => `unknown field ${goQuote(p)}`))];
}

/** A `Warning` header value: code 299, agent `-`, the text as an HTTP quoted-string (backslash and quote escaped). */
export function warningHeaderValue(text: string): string {
  return `299 - "${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
