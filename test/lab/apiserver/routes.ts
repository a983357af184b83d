import type { ResourceRegistry, ResourceType } from './resources.ts';
import { ApiError, errors } from './status.ts';

export type Subresource = 'status' | 'scale';

export type Verb = 'list' | 'watch' | 'get' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

/** A request for objects: which resource, where, and what to do. */
export interface ResourceRoute {
  resource: ResourceType;
  namespace: string | undefined;
  name: string | undefined;
  subresource: Subresource | undefined;
  verb: Verb;
}

const watchParam = (value: string | null) => value === 'true' || value === '1';

/**
 * Maps a method and path (`/api/v1/...`, `/apis/<group>/<version>/...`, optionally with the legacy
 * `/watch/` segment) onto a resource route; unknown paths are 404, wrong methods 405.
 */
export function routeResource(method: string, url: URL, registry: ResourceRegistry): ResourceRoute | ApiError {
  const segments = url.pathname.split('/').filter((s) => s !== '').map(decodeURIComponent);
  let group: string;
  let version: string;
  let rest: string[];
  if (segments[0] === 'api' && segments.length >= 2) {
    group = '';
    version = segments[1] ?? '';
    rest = segments.slice(2);
  } else if (segments[0] === 'apis' && segments.length >= 3) {
    group = segments[1] ?? '';
    version = segments[2] ?? '';
    rest = segments.slice(3);
  } else {
    return errors.pathNotFound(url.pathname);
  }
  if (!registry.hasGroupVersion(group, version)) return errors.pathNotFound(url.pathname);
  const legacyWatch = rest[0] === 'watch';
  if (legacyWatch) rest = rest.slice(1);

  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3 && registry.lookup(group, version, rest[2] ?? '')?.namespaced) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [plural = '', name, subresource, ...extra] = rest;
  const resource = registry.lookup(group, version, plural);
  if (!resource || extra.length > 0 || (resource.namespaced && namespace === undefined && name !== undefined)) {
    return errors.pathNotFound(url.pathname);
  }
  const served = subresource === 'status' ? resource.statusSubresource : subresource === 'scale' ? resource.scale !== undefined : false;
  if (subresource !== undefined && !served) return errors.pathNotFound(url.pathname);
  if (legacyWatch && (method !== 'GET' || subresource !== undefined)) return errors.methodNotAllowed(method, url.pathname);

  const route = (verb: Verb): ResourceRoute => ({ resource, namespace, name, subresource: subresource as Subresource | undefined, verb });
  if (subresource !== undefined) {
    if (method === 'GET') return route('get');
    if (method === 'PUT') return route('update');
    if (method === 'PATCH') return route('patch');
    return errors.methodNotAllowed(method, url.pathname);
  }
  if (name === undefined) {
    if (method === 'GET') return route(legacyWatch || watchParam(url.searchParams.get('watch')) ? 'watch' : 'list');
    if (method === 'POST') return route('create');
    if (method === 'DELETE') return route('deletecollection');
    return errors.methodNotAllowed(method, url.pathname);
  }
  if (method === 'GET') return route(legacyWatch || watchParam(url.searchParams.get('watch')) ? 'watch' : 'get');
  if (method === 'PUT') return route('update');
  if (method === 'PATCH') return route('patch');
  if (method === 'DELETE') return route('delete');
  return errors.methodNotAllowed(method, url.pathname);
}
