import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requestInfoFor, type RequestInfo, type ResourceRequestInfo } from '../../test/lab/apiserver/request-info.ts';
import { routeResource } from '../../test/lab/apiserver/routes.ts';
import { ResourceRegistry, defaultResources } from '../../test/lab/apiserver/resources.ts';
import { ApiError } from '../../test/lab/apiserver/status.ts';

function info(method: string, target: string | URL): RequestInfo {
  const result = requestInfoFor(method, target);
  assert.equal(result.error, undefined, `${method} ${String(target)}: unexpected error ${JSON.stringify(result.error)}`);
  return result.info;
}

function resource(method: string, target: string | URL): ResourceRequestInfo {
  const i = info(method, target);
  assert.ok(i.isResourceRequest, `${method} ${String(target)} should be a resource request`);
  return i;
}

/** The attributes RBAC looks at, as one comparable record. */
function attrs(method: string, target: string) {
  const { verb, apiGroup, apiVersion, namespace, resource: r, subresource, name } = resource(method, target);
  return { verb, apiGroup, apiVersion, namespace, resource: r, subresource, name };
}

const R = (verb: string, apiGroup: string, apiVersion: string, namespace: string, r: string, subresource = '', name = '') =>
  ({ verb, apiGroup, apiVersion, namespace, resource: r, subresource, name });

test('discovery, version, openapi and health paths are non-resource requests with the lowercased method as verb', () => {
  for (const path of ['/', '/api', '/api/', '/api/v1', '/apis', '/apis/submariner.io', '/apis/submariner.io/v1',
    '/apis/submariner.io/v1/', '/version', '/version/', '/openapi/v2', '/openapi/v3', '/openapi/v3/apis/submariner.io/v1',
    '/healthz', '/readyz?verbose', '/livez', '/metrics', '/healthz/etcd', '/logs/x/y/z']) {
    const i = info('GET', path);
    assert.equal(i.isResourceRequest, false, path);
    assert.equal(i.verb, 'get', path);
    assert.equal(i.path, path.split('?')[0], path);
  }
  assert.deepEqual(info('HEAD', '/healthz'), { isResourceRequest: false, path: '/healthz', verb: 'head' });
  assert.deepEqual(info('POST', '/apis'), { isResourceRequest: false, path: '/apis', verb: 'post' });
});

test('core and group resources: verbs from method, name and watch', () => {
  const cases: Array<[string, string, ReturnType<typeof R>]> = [
    ['GET', '/api/v1/nodes', R('list', '', 'v1', '', 'nodes')],
    ['GET', '/api/v1/nodes/', R('list', '', 'v1', '', 'nodes')],
    ['GET', '/api/v1/nodes/n1', R('get', '', 'v1', '', 'nodes', '', 'n1')],
    ['HEAD', '/api/v1/nodes/n1', R('get', '', 'v1', '', 'nodes', '', 'n1')],
    ['PUT', '/api/v1/nodes/n1', R('update', '', 'v1', '', 'nodes', '', 'n1')],
    ['PATCH', '/api/v1/nodes/n1', R('patch', '', 'v1', '', 'nodes', '', 'n1')],
    ['DELETE', '/api/v1/nodes/n1', R('delete', '', 'v1', '', 'nodes', '', 'n1')],
    ['DELETE', '/api/v1/nodes', R('deletecollection', '', 'v1', '', 'nodes')],
    ['POST', '/api/v1/nodes', R('create', '', 'v1', '', 'nodes')],
    ['GET', '/api/v1/nodes/n1/status', R('get', '', 'v1', '', 'nodes', 'status', 'n1')],
    ['PATCH', '/api/v1/nodes/n1/status', R('patch', '', 'v1', '', 'nodes', 'status', 'n1')],
    ['PUT', '/api/v1/nodes/n1/status', R('update', '', 'v1', '', 'nodes', 'status', 'n1')],
    ['POST', '/api/v1/namespaces/ns/events', R('create', '', 'v1', 'ns', 'events')],
    ['GET', '/apis/submariner.io/v1/namespaces/submariner-operator/endpoints',
      R('list', 'submariner.io', 'v1', 'submariner-operator', 'endpoints')],
    ['GET', '/apis/submariner.io/v1/endpoints', R('list', 'submariner.io', 'v1', '', 'endpoints')],
    ['POST', '/apis/submariner.io/v1/namespaces/s/routeagents', R('create', 'submariner.io', 'v1', 's', 'routeagents')],
    ['PUT', '/apis/submariner.io/v1/namespaces/s/gateways/gw/status', R('update', 'submariner.io', 'v1', 's', 'gateways', 'status', 'gw')],
    ['GET', '/apis/coordination.k8s.io/v1/namespaces/s/leases/l', R('get', 'coordination.k8s.io', 'v1', 's', 'leases', '', 'l')],
    ['DELETE', '/apis/coordination.k8s.io/v1/namespaces/s/leases', R('deletecollection', 'coordination.k8s.io', 'v1', 's', 'leases')],
    ['GET', '/apis/projectcalico.org/v3/ippools', R('list', 'projectcalico.org', 'v3', '', 'ippools')],
    ['OPTIONS', '/api/v1/nodes', R('', '', 'v1', '', 'nodes')],
    ['get', '/api/v1/nodes/n1', R('', '', 'v1', '', 'nodes', '', 'n1')],
    ['constructor', '/api/v1/nodes/n1', R('', '', 'v1', '', 'nodes', '', 'n1')],
  ];
  for (const [method, path, expected] of cases) assert.deepEqual(attrs(method, path), expected, `${method} ${path}`);
});

test('namespaces: the object itself, its status and finalize subresources, and what lives in one', () => {
  assert.deepEqual(attrs('GET', '/api/v1/namespaces'), R('list', '', 'v1', '', 'namespaces'));
  assert.deepEqual(attrs('POST', '/api/v1/namespaces'), R('create', '', 'v1', '', 'namespaces'));
  assert.deepEqual(attrs('GET', '/api/v1/namespaces/ns1'), R('get', '', 'v1', 'ns1', 'namespaces', '', 'ns1'));
  assert.deepEqual(attrs('DELETE', '/api/v1/namespaces/ns1'), R('delete', '', 'v1', 'ns1', 'namespaces', '', 'ns1'));
  assert.deepEqual(attrs('PUT', '/api/v1/namespaces/ns1/status'), R('update', '', 'v1', 'ns1', 'namespaces', 'status', 'ns1'));
  assert.deepEqual(attrs('PUT', '/api/v1/namespaces/ns1/finalize'), R('update', '', 'v1', 'ns1', 'namespaces', 'finalize', 'ns1'));
  // Anything else after the namespace name is a resource in that namespace, even one called "namespaces".
  assert.deepEqual(attrs('GET', '/api/v1/namespaces/ns1/secrets'), R('list', '', 'v1', 'ns1', 'secrets'));
  assert.deepEqual(attrs('GET', '/api/v1/namespaces/ns1/namespaces/x'), R('get', '', 'v1', 'ns1', 'namespaces', '', 'x'));
});

test('subresources beyond status, and segments after the subresource', () => {
  assert.deepEqual(attrs('GET', '/api/v1/namespaces/ns/pods/p/log'), R('get', '', 'v1', 'ns', 'pods', 'log', 'p'));
  assert.deepEqual(attrs('POST', '/api/v1/namespaces/ns/pods/p/eviction'), R('create', '', 'v1', 'ns', 'pods', 'eviction', 'p'));
  const exec = resource('GET', '/api/v1/namespaces/ns/pods/p/exec/extra/parts');
  assert.equal(exec.subresource, 'exec');
  assert.deepEqual(exec.parts, ['pods', 'p', 'exec', 'extra', 'parts']);
});

test('watch: the query value as apimachinery converts it, the first value only, never for a named GET', () => {
  const base = '/apis/submariner.io/v1/namespaces/s/endpoints';
  for (const q of ['watch=true', 'watch=1', 'watch=TRUE', 'watch=yes', 'watch=', 'watch', 'watch=true&watch=false']) {
    assert.equal(resource('GET', `${base}?${q}`).verb, 'watch', q);
  }
  for (const q of ['', 'watch=false', 'watch=FALSE', 'watch=False', 'watch=0', 'watch=false&watch=true', 'watcH=true']) {
    assert.equal(resource('GET', `${base}?${q}`).verb, 'list', q);
  }
  // RequestInfo only turns GET into list/watch when there is no name.
  assert.equal(resource('GET', `${base}/e1?watch=true`).verb, 'get');
  assert.equal(resource('POST', `${base}?watch=true`).verb, 'create');
});

test('legacy /watch/ paths: watch verb, with or without a name, and subresources allowed', () => {
  assert.deepEqual(attrs('GET', '/apis/submariner.io/v1/watch/namespaces/s/endpoints'), R('watch', 'submariner.io', 'v1', 's', 'endpoints'));
  assert.deepEqual(attrs('GET', '/api/v1/watch/nodes'), R('watch', '', 'v1', '', 'nodes'));
  assert.deepEqual(attrs('GET', '/api/v1/watch/nodes/n1'), R('watch', '', 'v1', '', 'nodes', '', 'n1'));
  assert.deepEqual(attrs('GET', '/api/v1/watch/namespaces/ns'), R('watch', '', 'v1', 'ns', 'namespaces', '', 'ns'));
  assert.equal(resource('GET', '/api/v1/watch/nodes/n1/status').subresource, 'status');
  // The path's verb wins over the method.
  assert.equal(resource('DELETE', '/api/v1/watch/nodes').verb, 'watch');
});

test('proxy paths: proxy verb, the name, and no subresource', () => {
  const p = resource('GET', '/api/v1/proxy/namespaces/ns/services/s/some/path');
  assert.deepEqual({ verb: p.verb, namespace: p.namespace, resource: p.resource, name: p.name, subresource: p.subresource },
    { verb: 'proxy', namespace: 'ns', resource: 'services', name: 's', subresource: '' });
});

test('fieldSelector metadata.name names a list or watch, as RBAC resourceNames need', () => {
  const base = '/api/v1/namespaces/ns/secrets';
  const named = (q: string) => resource('GET', `${base}?${q}`);
  assert.deepEqual([named('fieldSelector=metadata.name%3Dovn-cert').verb, named('fieldSelector=metadata.name%3Dovn-cert').name], ['list', 'ovn-cert']);
  assert.deepEqual([named('fieldSelector=metadata.name%3D%3Dovn-cert&watch=1').verb, named('fieldSelector=metadata.name%3D%3Dovn-cert&watch=1').name], ['watch', 'ovn-cert']);
  assert.equal(named('fieldSelector=type%3Dx,metadata.name%3Dovn-cert').name, 'ovn-cert', 'with other terms');
  assert.equal(named('fieldSelector=metadata.name%3Db,metadata.name%3Da').name, 'a', 'terms are sorted first, as Go does');
  assert.equal(named('fieldSelector=metadata.name%3Da%5C,b').name, 'a,b', 'an escaped comma is part of the value');
  assert.equal(named('fieldSelector=metadata.name=x').name, 'x', 'an unencoded = in the query value works too');
  assert.equal(named('fieldSelector=metadata.name%3Dx&limit=500&timeoutSeconds=30&labelSelector=app%3Dx').name, 'x');
  for (const q of [
    'fieldSelector=metadata.name!%3Dovn-cert', // not an exact match
    'fieldSelector=spec.nodeName%3Dovn-cert', // another field
    'fieldSelector=metadata.name', // does not parse: no operator
    'fieldSelector=metadata.name%3Da%3Db', // does not parse: bare '=' in the value
    'fieldSelector=metadata.name%3Da%5Cx', // does not parse: unknown escape
    'fieldSelector=metadata.name%3Da%5C', // does not parse: trailing backslash
    'fieldSelector=metadata.name%3D..', // not a valid path segment name
    'fieldSelector=metadata.name%3Da%2Fb', // not a valid path segment name
    'fieldSelector=metadata.name%3Da%25b', // not a valid path segment name
    'fieldSelector=metadata.name%3Dx&labelSelector=a%20in%20(', // another list option fails to decode
    'fieldSelector=metadata.name%3Dx&limit=abc',
    'fieldSelector=metadata.name%3Dx&timeoutSeconds=1.5',
    'fieldSelector=metadata.name%3Dx&limit=99999999999999999999',
    'fieldSelector=',
  ]) {
    const i = named(q);
    assert.equal(i.name, '', q);
    assert.equal(i.verb, 'list', q);
  }
  // A failed decode still reports watch, as the real server does.
  assert.equal(named('fieldSelector=metadata.name%3Dx&limit=abc&watch=true').verb, 'watch');
  // A fieldSelector never names a deletecollection.
  const dc = resource('DELETE', `${base}?fieldSelector=metadata.name%3Dovn-cert`);
  assert.deepEqual([dc.verb, dc.name], ['deletecollection', '']);
});

test('percent-encoding is decoded before splitting, as Go fills URL.Path', () => {
  assert.deepEqual(attrs('GET', '/%61pi/v1/nodes'), R('list', '', 'v1', '', 'nodes'));
  assert.equal(resource('GET', '/api/v1/namespaces/ns/configmaps/%C3%A9t%C3%A9').name, 'été');
  assert.equal(resource('GET', '/api/v1/namespaces/ns/configmaps/a+b').name, 'a+b', '+ is not a space in a path');
  // %2F becomes a slash, so it splits segments.
  assert.deepEqual(attrs('GET', '/api/v1/namespaces/a%2Fb/pods'), R('get', '', 'v1', 'a', 'b', '', 'pods'));
});

test('request targets: absolute URLs, URL objects, fragments', () => {
  assert.deepEqual(attrs('GET', 'https://127.0.0.1:6443/api/v1/nodes?watch=1'), R('watch', '', 'v1', '', 'nodes'));
  assert.deepEqual(attrs('GET', 'http://host/api/v1/nodes#frag'), R('list', '', 'v1', '', 'nodes'));
  const url = new URL('http://apiserver/apis/submariner.io/v1/namespaces/s/endpoints?fieldSelector=metadata.name%3De1&watch=true');
  assert.deepEqual(attrs('GET', url.toString()), R('watch', 'submariner.io', 'v1', 's', 'endpoints', '', 'e1'));
  const fromUrl = resource('GET', url);
  assert.deepEqual([fromUrl.verb, fromUrl.name, fromUrl.namespace], ['watch', 'e1', 's']);
});

test('malformed paths: odd but defined answers, or the errors the real server gives', () => {
  // Special verb with nothing after it: RequestInfoFactory errors, and the server answers 500.
  for (const path of ['/api/v1/watch', '/api/v1/watch/', '/apis/submariner.io/v1/watch', '/api/v1/proxy']) {
    const result = requestInfoFor('GET', path);
    assert.equal(result.error?.code, 500, path);
    assert.match(result.error?.message ?? '', /unable to determine kind and namespace from url/);
    assert.equal(result.info.isResourceRequest, true, path);
  }
  // A bad escape: Go's URL parser rejects it before any handler (400).
  for (const path of ['/api/v1/%zz', '/api/v1/nodes/%', '/api/v1/nodes/%4']) {
    const result = requestInfoFor('GET', path);
    assert.equal(result.error?.code, 400, path);
    assert.match(result.error?.message ?? '', /^invalid URL escape "%/);
    assert.equal(result.info.isResourceRequest, false);
  }
  // Empty segments stay (Go does not clean the path): an empty resource, or an empty namespace.
  assert.deepEqual(attrs('GET', '/api/v1//nodes'), R('get', '', 'v1', '', '', '', 'nodes'));
  assert.deepEqual(attrs('GET', '/api/v1/namespaces//pods'), R('list', '', 'v1', '', 'pods'));
  assert.deepEqual(attrs('GET', '//api//v1'), R('list', '', '', '', 'v1'), '//api//v1: group-less prefix, empty version');
  // Not an API prefix at all.
  assert.equal(info('GET', '/apiz/v1/nodes').isResourceRequest, false);
  assert.equal(info('GET', '/API/v1/nodes').isResourceRequest, false);
  // Dot segments are not resolved in a string target.
  assert.deepEqual(attrs('GET', '/api/v1/nodes/..'), R('get', '', 'v1', '', 'nodes', '', '..'));
});

test('agrees with the lab router (routes.ts) on every request both accept, except the documented named watch', () => {
  const registry = new ResourceRegistry(defaultResources());
  const requests: Array<[string, string]> = [];
  for (const r of registry.all()) {
    const prefix = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
    const collections = r.namespaced ? [`${prefix}/namespaces/ns1/${r.plural}`, `${prefix}/${r.plural}`] : [`${prefix}/${r.plural}`];
    for (const c of collections) {
      requests.push(['GET', c], ['GET', `${c}?watch=true`], ['GET', `${c}?watch=1`], ['GET', `${c}?watch=false`]);
      const legacy = c.replace(prefix, `${prefix}/watch`);
      requests.push(['GET', legacy]);
      if (c.includes('/namespaces/') || !r.namespaced) {
        requests.push(['POST', c], ['DELETE', c], ['GET', `${c}/x`], ['PUT', `${c}/x`], ['PATCH', `${c}/x`], ['DELETE', `${c}/x`]);
        if (r.statusSubresource) requests.push(['GET', `${c}/x/status`], ['PUT', `${c}/x/status`], ['PATCH', `${c}/x/status`]);
      }
    }
  }
  let compared = 0;
  for (const [method, path] of requests) {
    const url = new URL(path, 'http://apiserver');
    const route = routeResource(method, url, registry);
    if (route instanceof ApiError) continue;
    const i = resource(method, path);
    assert.deepEqual(
      { verb: i.verb, group: i.apiGroup, version: i.apiVersion, resource: i.resource, namespace: i.namespace, name: i.name, sub: i.subresource },
      { verb: route.verb, group: route.resource.group, version: route.resource.version, resource: route.resource.plural,
        // A Namespace object is its own namespace in RequestInfo (so a RoleBinding in it can grant reading it).
        namespace: route.resource.plural === 'namespaces' ? route.name ?? '' : route.namespace ?? '',
        name: route.name ?? '', sub: route.subresource ?? '' },
      `${method} ${path}`,
    );
    compared++;
  }
  assert.ok(compared > 120, `compared ${compared} requests`);
  // Where they differ, by design: the lab serves a named GET with ?watch=true as a watch; RequestInfo says get.
  const named = '/api/v1/nodes/x?watch=true';
  const route = routeResource('GET', new URL(named, 'http://apiserver'), registry);
  assert.ok(!(route instanceof ApiError) && route.verb === 'watch');
  assert.equal(resource('GET', named).verb, 'get');
  // And the real server watches on ?watch=yes, where the lab router lists.
  const yes = routeResource('GET', new URL('/api/v1/nodes?watch=yes', 'http://apiserver'), registry);
  assert.ok(!(yes instanceof ApiError) && yes.verb === 'list');
  assert.equal(resource('GET', '/api/v1/nodes?watch=yes').verb, 'watch');
});
