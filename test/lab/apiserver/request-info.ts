/**
 * The Kubernetes request attributes of an HTTP request, derived as the real API server's
 * `RequestInfoFactory.NewRequestInfo` derives them (k8s.io/apiserver/pkg/endpoints/request/requestinfo.go),
 * so the lab's authorizer sees the same verb, group, resource, subresource, namespace and name that a real
 * cluster's RBAC sees. Pure: no registry, no I/O.
 *
 * Verified against requestinfo.go (kubernetes/kubernetes and a 1.2x-era fork with the fieldSelector code):
 * - A path is a resource request only under `/api/<version>/<something>` or `/apis/<group>/<version>/<something>`;
 *   everything else (`/`, `/api`, `/api/v1`, `/apis`, `/apis/<group>`, `/apis/<group>/<version>`, `/version`,
 *   `/openapi/v2`, `/openapi/v3/...`, `/healthz`, `/readyz`, `/livez`, `/metrics`) is a non-resource request whose
 *   verb is the lowercased HTTP method (so HEAD is `head` there, but `get` on a resource).
 * - `watch` and `proxy` as the first segment after the version are verbs (the legacy `/watch/` paths); `proxy`
 *   takes no subresource. A special verb with nothing after it is an error (the server answers 500).
 * - `namespaces/<ns>/<x>` scopes to `<ns>` unless `<x>` is `status` or `finalize` (subresources of the namespace
 *   itself); `namespaces/<ns>` alone is the namespace object, with namespace `<ns>`.
 * - After that: resource / name / subresource; further segments are ignored.
 * - GET without a name is `list`, or `watch` when the first `watch` query value is anything but `0` or
 *   (case-insensitively) `false` (apimachinery's Convert_Slice_string_To_bool: `?watch=` and `?watch=yes`
 *   watch). A GET *with* a name stays `get` whatever `watch` says.
 * - For those list/watch requests, `fieldSelector` `metadata.name=<n>` (or `==`) sets the name (since
 *   Kubernetes 1.11, kubernetes/kubernetes#63469), so RBAC `resourceNames` can allow a single-object list or
 *   watch; not when the name is not a valid path segment (`.`, `..`, or containing `/` or `%`), and not when
 *   any list option fails to decode (the whole request then counts as unnamed).
 * - DELETE without a name is `deletecollection` (a fieldSelector does not name it).
 *
 * Differences from `routes.ts` (which serves the lab's own requests and is kept as it is):
 * - routes.ts watches only for `?watch=true|1`; a real server (and this module) also for `?watch=yes`, `?watch=`.
 * - routes.ts serves `GET <named object>?watch=true` as a watch; its RequestInfo verb is `get`, as here.
 * - routes.ts splits the raw path then decodes each segment; Go decodes the whole path first (so `%2F` splits),
 *   as this module does.
 */
import { parseLabelSelector } from './selectors.ts';

/** Verbs RequestInfo can yield for a resource request ('' for HTTP methods it does not map, e.g. OPTIONS). */
export type ResourceVerb =
  | 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection' | 'proxy' | '';

export interface ResourceRequestInfo {
  isResourceRequest: true;
  /** The decoded URL path. */
  path: string;
  verb: ResourceVerb;
  /** `api` or `apis`. */
  apiPrefix: string;
  /** '' for the core group. */
  apiGroup: string;
  apiVersion: string;
  /** '' for cluster-scoped requests and for lists across all namespaces. */
  namespace: string;
  resource: string;
  subresource: string;
  name: string;
  /** resource/name/subresource/... as parsed. */
  parts: string[];
}

export interface NonResourceRequestInfo {
  isResourceRequest: false;
  path: string;
  /** The lowercased HTTP method. */
  verb: string;
}

export type RequestInfo = ResourceRequestInfo | NonResourceRequestInfo;

export interface RequestInfoResult {
  /** As much as is known; with `error`, what the server knew before it gave up. */
  info: RequestInfo;
  /**
   * The request cannot be served: 400 for a URL Go's parser rejects (bad percent-encoding: Go's HTTP server
   * answers a plain-text 400 before any handler), 500 for what RequestInfoFactory itself rejects
   * (`/api/v1/watch` with nothing after it).
   */
  error?: { code: 400 | 500; message: string };
}

const apiPrefixes = new Set(['api', 'apis']);
/** Prefixes whose next segment is the version rather than a group. */
const grouplessApiPrefixes = new Set(['api']);
const specialVerbs = new Set(['proxy', 'watch']);
const specialVerbsNoSubresources = new Set(['proxy']);
const namespaceSubresources = new Set(['status', 'finalize']);

const verbByMethod = new Map<string, ResourceVerb>([
  ['POST', 'create'], ['GET', 'get'], ['HEAD', 'get'], ['PUT', 'update'], ['PATCH', 'patch'], ['DELETE', 'delete'],
]);

/** Splits a request target (`/path?query`, or an absolute URL) without normalising `..` or `//`. */
function splitTarget(target: string | URL): { rawPath: string; rawQuery: string } {
  if (target instanceof URL) return { rawPath: target.pathname, rawQuery: target.search.replace(/^\?/, '') };
  let rest = target;
  const absolute = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(rest);
  if (absolute) rest = rest.slice(absolute[0].length) || '/';
  rest = rest.split('#', 1)[0] ?? '';
  const q = rest.indexOf('?');
  return q < 0 ? { rawPath: rest, rawQuery: '' } : { rawPath: rest.slice(0, q), rawQuery: rest.slice(q + 1) };
}

/**
 * Percent-decodes a path as Go's url.Parse fills URL.Path: `+` stays `+`, `%2F` becomes `/`, an invalid escape
 * is an error. Bytes that are not UTF-8 become U+FFFD (Go would keep the raw byte; no real name has one).
 */
function decodePath(rawPath: string): string | { invalid: string } {
  const bad = /%(?![0-9A-Fa-f]{2})/.exec(rawPath);
  if (bad) return { invalid: rawPath.slice(bad.index, bad.index + 3) };
  if (!rawPath.includes('%')) return rawPath;
  const bytes: number[] = [];
  const encoder = new TextEncoder();
  for (let i = 0; i < rawPath.length;) {
    if (rawPath[i] === '%') {
      bytes.push(parseInt(rawPath.slice(i + 1, i + 3), 16));
      i += 3;
    } else {
      const cp = rawPath.codePointAt(i) ?? 0;
      const ch = String.fromCodePoint(cp);
      bytes.push(...encoder.encode(ch));
      i += ch.length;
    }
  }
  return new TextDecoder('utf-8').decode(new Uint8Array(bytes));
}

/** Go's splitPath: trim slashes at both ends, split on every slash (empty segments in the middle stay). */
function splitPath(path: string): string[] {
  const trimmed = path.replace(/^\/+|\/+$/g, '');
  return trimmed === '' ? [] : trimmed.split('/');
}

/** Convert_Slice_string_To_bool: only `0` and (any case) `false` are false. */
function queryBool(value: string): boolean {
  return !(value === '0' || value.toLowerCase() === 'false');
}

/** fields.splitTerms: commas split terms unless escaped by a backslash (the backslash stays in the term). */
function splitFieldTerms(selector: string): string[] {
  if (selector === '') return [];
  const terms: string[] = [];
  let start = 0;
  let inSlash = false;
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i];
    if (inSlash) inSlash = false;
    else if (c === '\\') inSlash = true;
    else if (c === ',') { terms.push(selector.slice(start, i)); start = i + 1; }
  }
  terms.push(selector.slice(start));
  return terms;
}

/** fields.UnescapeValue: `\\`, `\,`, `\=` are the only escapes; a bare `,` or `=` is an error. */
function unescapeFieldValue(value: string): string | undefined {
  let out = '';
  let inSlash = false;
  for (const c of value) {
    if (inSlash) {
      if (c !== '\\' && c !== ',' && c !== '=') return undefined;
      out += c;
      inSlash = false;
    } else if (c === '\\') inSlash = true;
    else if (c === ',' || c === '=') return undefined;
    else out += c;
  }
  return inSlash ? undefined : out;
}

/**
 * fields.ParseSelector followed by RequiresExactMatch('metadata.name'): the value of the first (after sorting
 * the terms, as Go does) `metadata.name=` or `metadata.name==` term; null when the selector does not parse.
 */
function fieldSelectorName(selector: string): { name: string | undefined } | null {
  const terms = splitFieldTerms(selector).sort();
  const exact: Array<{ field: string; value: string }> = [];
  for (const term of terms) {
    if (term === '') continue;
    // splitTerm: the first position where `!=`, `==` or `=` starts (in that order of preference).
    let split: { lhs: string; op: string; rhs: string } | undefined;
    for (let i = 0; i < term.length && !split; i++) {
      for (const op of ['!=', '==', '=']) {
        if (term.startsWith(op, i)) { split = { lhs: term.slice(0, i), op, rhs: term.slice(i + op.length) }; break; }
      }
    }
    if (!split) return null;
    const value = unescapeFieldValue(split.rhs);
    if (value === undefined) return null;
    if (split.op !== '!=') exact.push({ field: split.lhs, value });
  }
  return { name: exact.find((t) => t.field === 'metadata.name')?.value };
}

/** path.IsValidPathSegmentName: what a name must be to appear as a URL path segment. */
function isValidPathSegmentName(name: string): boolean {
  return name !== '.' && name !== '..' && !name.includes('/') && !name.includes('%');
}

/**
 * The list options as DecodeParameters reads them for the verb and name: `watch`, and `fieldSelector`'s
 * metadata.name. Any option that fails to decode (a selector that does not parse, a non-integer `limit` or
 * `timeoutSeconds`) makes the whole decode fail, and then only `watch` is read, as the real server does.
 */
function listOptions(query: URLSearchParams): { watch: boolean; name: string | undefined } {
  const first = (key: string): string | undefined => query.getAll(key)[0];
  const watchValue = first('watch');
  const watch = watchValue !== undefined && queryBool(watchValue);
  const unnamed = { watch, name: undefined };
  for (const key of ['limit', 'timeoutSeconds']) {
    const v = first(key);
    if (v !== undefined && !/^[+-]?\d+$/.test(v)) return unnamed; // strconv.ParseInt(v, 10, 64)
    if (v !== undefined && (BigInt(v) > 2n ** 63n - 1n || BigInt(v) < -(2n ** 63n))) return unnamed;
  }
  const labelSelector = first('labelSelector');
  if (labelSelector !== undefined) {
    try {
      parseLabelSelector(labelSelector);
    } catch {
      return unnamed;
    }
  }
  const fieldSelector = first('fieldSelector');
  const parsed = fieldSelector === undefined ? { name: undefined } : fieldSelectorName(fieldSelector);
  if (parsed === null) return unnamed;
  const name = parsed.name !== undefined && isValidPathSegmentName(parsed.name) ? parsed.name : undefined;
  return { watch, name };
}

/**
 * The request attributes of `method` on `target` (a request target such as Node's `req.url`, or a URL whose
 * pathname is still percent-encoded).
 */
export function requestInfoFor(method: string, target: string | URL): RequestInfoResult {
  const { rawPath, rawQuery } = splitTarget(target);
  const decoded = decodePath(rawPath);
  if (typeof decoded !== 'string') {
    return {
      info: { isResourceRequest: false, path: rawPath, verb: method.toLowerCase() },
      error: { code: 400, message: `invalid URL escape "${decoded.invalid}"` },
    };
  }
  const path = decoded;
  const nonResource: NonResourceRequestInfo = { isResourceRequest: false, path, verb: method.toLowerCase() };

  let parts = splitPath(path);
  if (parts.length < 3 || !apiPrefixes.has(parts[0] ?? '')) return { info: nonResource };
  const apiPrefix = parts[0] ?? '';
  parts = parts.slice(1);
  let apiGroup = '';
  if (!grouplessApiPrefixes.has(apiPrefix)) {
    // /apis/<group>/<version> is discovery, not a resource.
    if (parts.length < 3) return { info: nonResource };
    apiGroup = parts[0] ?? '';
    parts = parts.slice(1);
  }
  const apiVersion = parts[0] ?? '';
  parts = parts.slice(1);

  const info: ResourceRequestInfo = {
    // Go compares the method exactly ("GET", not "get"); Node hands methods over in upper case anyway.
    isResourceRequest: true, path, verb: verbByMethod.get(method) ?? '', apiPrefix, apiGroup, apiVersion,
    namespace: '', resource: '', subresource: '', name: '', parts: [],
  };

  if (specialVerbs.has(parts[0] ?? '')) {
    if (parts.length < 2) {
      // The real server answers this as plain text: `Internal Server Error: "<uri>": failed to create
      // RequestInfo: unable to determine kind and namespace from url, <url>`.
      const url = rawQuery ? `${rawPath}?${rawQuery}` : rawPath;
      return { info, error: { code: 500, message: `unable to determine kind and namespace from url, ${url}` } };
    }
    info.verb = parts[0] as ResourceVerb;
    parts = parts.slice(1);
  }

  if (parts[0] === 'namespaces' && parts.length > 1) {
    info.namespace = parts[1] ?? '';
    if (parts.length > 2 && !namespaceSubresources.has(parts[2] ?? '')) parts = parts.slice(2);
  }
  info.parts = parts;
  if (parts.length >= 3 && !specialVerbsNoSubresources.has(info.verb)) info.subresource = parts[2] ?? '';
  if (parts.length >= 2) info.name = parts[1] ?? '';
  if (parts.length >= 1) info.resource = parts[0] ?? '';

  if (info.name === '' && info.verb === 'get') {
    const options = listOptions(new URLSearchParams(rawQuery));
    info.verb = options.watch ? 'watch' : 'list';
    if (options.name !== undefined) info.name = options.name;
  }
  if (info.name === '' && info.verb === 'delete') info.verb = 'deletecollection';
  return { info };
}
