/**
 * OpenAPI v3 (and a Swagger 2.0 /openapi/v2 for older clients) as kube-apiserver serves it, built from what the server serves now: `/openapi/v3`
 * lists a document per group-version, and each document has a path per collection and object with
 * its operations (tagged `x-kubernetes-group-version-kind`, with the `fieldValidation` and
 * `fieldManager` parameters kubectl looks for before it leaves validation to the server), and a
 * schema per kind: a custom resource's from its CRD, a built-in kind's from client-node's models
 * (builtin-schemas.ts) with the definitions it references. Enough for kubectl to apply with
 * server-side validation and to explain every kind.
 */
import { createHash } from 'node:crypto';
import { referencedDefinitions } from './builtin-schemas.ts';
import type { ResourceRegistry, ResourceType } from './resources.ts';

/** The part of a group-version's name kube-apiserver keys its documents by: `api/v1`, `apis/<group>/<version>`. */
const documentKey = (group: string, version: string) => (group === '' ? `api/${version}` : `apis/${group}/${version}`);

/**
 * The schema's name in `components.schemas`, as kube-apiserver names its definitions: a custom
 * resource by its group reversed (io.submariner.v1.Endpoint), a built-in kind by its Go package
 * (io.k8s.api.core.v1.Node, io.k8s.api.rbac.v1.ClusterRole, apiextensions-apiserver's for CRDs).
 */
export function definitionName(resource: Pick<ResourceType, 'group' | 'version' | 'kind' | 'crd'>): string {
  let prefix: string;
  if (resource.crd !== undefined) prefix = resource.group.split('.').reverse().join('.');
  else if (resource.group === 'apiextensions.k8s.io') prefix = 'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions';
  else prefix = `io.k8s.api.${resource.group === '' ? 'core' : resource.group.split('.')[0]}`;
  return `${prefix}.${resource.version}.${resource.kind}`;
}

const gvk = (r: ResourceType) => ({ group: r.group, version: r.version, kind: r.kind });

function queryParameter(name: string, description: string) {
  return { name, in: 'query', description, schema: { type: 'string', uniqueItems: true } };
}

const WRITE_PARAMETERS = [
  queryParameter('dryRun', 'When present, indicates that modifications should not be persisted.'),
  queryParameter('fieldManager', 'fieldManager is a name associated with the actor or entity that is making these changes.'),
  queryParameter('fieldValidation', 'fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields: Ignore, Warn (the default) or Strict.'),
];

function operation(r: ResourceType, action: string, write: boolean) {
  const ref = { $ref: `#/components/schemas/${definitionName(r)}` };
  return {
    operationId: `${action}${r.kind}`,
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': gvk(r),
    ...(write ? { parameters: WRITE_PARAMETERS, requestBody: { content: { '*/*': { schema: ref } } } } : {}),
    responses: { 200: { description: 'OK', content: { 'application/json': { schema: ref } } } },
  };
}

/** The schema of one kind: from its CRD or its built-in model, with apiVersion, kind and metadata as the API server adds them. */
function schemaOf(r: ResourceType): Record<string, unknown> {
  const builtin = r.builtin?.schemas.definitions[r.builtin.definition];
  const base = r.schema ? structuredClone(r.schema) as Record<string, unknown>
    : builtin ? structuredClone(builtin) : { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  const properties = { ...(base.properties as Record<string, unknown> | undefined) };
  properties.apiVersion ??= { type: 'string', description: 'APIVersion defines the versioned schema of this representation of an object.' };
  properties.kind ??= { type: 'string', description: 'Kind is a string value representing the REST resource this object represents.' };
  properties.metadata ??= { type: 'object', description: 'Standard object\'s metadata.', 'x-kubernetes-preserve-unknown-fields': true };
  return { ...base, properties, 'x-kubernetes-group-version-kind': [gvk(r)] };
}

/** The document of one group-version, or undefined when the server serves none of it. */
export function openApiV3Document(registry: ResourceRegistry, group: string, version: string): Record<string, unknown> | undefined {
  const resources = registry.resourcesOf(group, version);
  if (resources.length === 0) return undefined;
  const prefix = group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
  const paths: Record<string, unknown> = {};
  const schemas: Record<string, unknown> = {};
  for (const r of resources) {
    const collection = r.namespaced ? `${prefix}/namespaces/{namespace}/${r.plural}` : `${prefix}/${r.plural}`;
    paths[collection] = { get: operation(r, 'list', false), post: operation(r, 'post', true) };
    paths[`${collection}/{name}`] = {
      get: operation(r, 'get', false), put: operation(r, 'put', true), patch: operation(r, 'patch', true), delete: operation(r, 'delete', false),
    };
    if (r.statusSubresource) paths[`${collection}/{name}/status`] = { get: operation(r, 'get', false), put: operation(r, 'put', true), patch: operation(r, 'patch', true) };
    schemas[definitionName(r)] = schemaOf(r);
    if (r.builtin) {
      const { schemas: builtins, definition } = r.builtin;
      for (const name of referencedDefinitions(builtins, [definition])) schemas[name] = builtins.definitions[name];
    }
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version: 'v1.31.0-seaway-lab' }, paths, components: { schemas } };
}

/** `/openapi/v3`: every group-version's document, with a hash of its content as kube-apiserver gives (clients cache by it). */
export function openApiV3Root(registry: ResourceRegistry): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  const versions = new Map<string, Set<string>>();
  for (const r of registry.all()) {
    const set = versions.get(r.group) ?? new Set<string>();
    set.add(r.version);
    versions.set(r.group, set);
  }
  for (const [group, set] of versions) {
    for (const version of set) {
      const document = openApiV3Document(registry, group, version);
      if (!document) continue;
      const hash = createHash('sha512').update(JSON.stringify(document)).digest('hex').slice(0, 128).toUpperCase();
      paths[documentKey(group, version)] = { serverRelativeURL: `/openapi/v3/${documentKey(group, version)}?hash=${hash}` };
    }
  }
  return { paths };
}

/**
 * Swagger 2.0 has no `nullable`: kube-apiserver's v2 document says `x-nullable` instead (as its
 * OpenAPI v2 converter does); everything else of a structural schema is the same here.
 */
function toV2Schema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toV2Schema);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'nullable') out['x-nullable'] = value;
    else out[key] = toV2Schema(value);
  }
  return out;
}

/** `/openapi/v2`: one Swagger 2.0 document for everything served, as older clients read it. */
export function openApiV2(registry: ResourceRegistry): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  const definitions: Record<string, unknown> = {};
  const groupVersions = new Map(registry.all().map((r) => [`${r.group}/${r.version}`, r]));
  const toV2Ref = (text: string) => text.replace('#/components/schemas/', '#/definitions/');
  for (const { group, version } of groupVersions.values()) {
    const document = openApiV3Document(registry, group, version);
    if (!document) continue;
    for (const [path, item] of Object.entries(document.paths as Record<string, Record<string, Record<string, unknown>>>)) {
      const operations: Record<string, unknown> = {};
      for (const [method, op] of Object.entries(item)) {
        const { requestBody: _body, responses, parameters, ...rest } = op as Record<string, unknown> & { responses: Record<string, { content: Record<string, { schema: { $ref: string } }> }> };
        const ref = toV2Ref(responses['200']!.content['application/json']!.schema.$ref);
        operations[method] = {
          ...rest,
          // Swagger 2.0 puts a query parameter's type on the parameter itself.
          ...(Array.isArray(parameters) ? { parameters: (parameters as Array<Record<string, unknown>>).map(({ schema, ...p }) => ({ ...p, ...(schema as object) })) } : {}),
          responses: { 200: { description: 'OK', schema: { $ref: ref } } },
        };
      }
      paths[path] = operations;
    }
    for (const [name, schema] of Object.entries((document.components as { schemas: Record<string, unknown> }).schemas)) definitions[name] = toV2Schema(schema);
  }
  return { swagger: '2.0', info: { title: 'Kubernetes', version: 'v1.31.0-seaway-lab' }, paths, definitions };
}

/** Serves `/openapi/v2`, `/openapi/v3` and `/openapi/v3/<key>`; undefined for any other path (or an unknown group-version). */
export function openApi(pathname: string, registry: ResourceRegistry): Record<string, unknown> | undefined {
  const path = pathname.replace(/\/+$/, '');
  if (path === '/openapi/v2') return openApiV2(registry);
  if (path === '/openapi/v3') return openApiV3Root(registry);
  const core = /^\/openapi\/v3\/api\/([^/]+)$/.exec(path);
  if (core) return openApiV3Document(registry, '', core[1]!);
  const named = /^\/openapi\/v3\/apis\/([^/]+)\/([^/]+)$/.exec(path);
  if (named) return openApiV3Document(registry, named[1]!, named[2]!);
  return undefined;
}

