import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auditRecord, authorize, forbidden, type Decision, type RequestAttributes, type UserInfo } from '../../test/lab/apiserver/rbac.ts';
import { compilePolicy, type RbacObjects } from '../../test/lab/apiserver/rbac-policy.ts';
import { aggregateClusterRoles } from '../../test/lab/apiserver/rbac-aggregation.ts';
import { defaultClusterRoleBindings, defaultClusterRoles } from '../../test/lab/apiserver/rbac-defaults.ts';
import { requestInfoFor } from '../../test/lab/apiserver/request-info.ts';
import { serviceAccountUser } from '../../test/lab/apiserver/tokens.ts';
import {
  gatewayPermissions, gatewayRbac, routeAgentPermissions, routeAgentRbac, submarinerNamespace,
} from './submariner-rbac-fixtures.ts';

const routeAgent = serviceAccountUser(submarinerNamespace, 'submariner-routeagent');
const gateway = serviceAccountUser(submarinerNamespace, 'submariner-gateway');
const alice: UserInfo = { name: 'alice', groups: ['system:authenticated'] };

const rbacGroup = 'rbac.authorization.k8s.io';

/** A resource request's attributes. */
function res(user: UserInfo, verb: string, group: string, resource: string, namespace = '', name = '', subresource = ''): RequestAttributes {
  return { user, isResourceRequest: true, verb, apiGroup: group, apiVersion: 'v1', namespace, resource, subresource, name };
}

function path(user: UserInfo, verb: string, p: string): RequestAttributes {
  return { user, isResourceRequest: false, verb, path: p };
}

/** The attributes of an HTTP request, through request-info.ts as the server will derive them. */
function http(user: UserInfo, method: string, target: string): RequestAttributes {
  const { info, error } = requestInfoFor(method, target);
  assert.equal(error, undefined);
  return { ...info, user } as RequestAttributes;
}

const allowed = (objects: RbacObjects, attributes: RequestAttributes) => authorize(compilePolicy(objects), attributes).allowed;

interface Permission { group: string; resource: string; names: string[]; verbs: Set<string> }

function parsePermissions(lines: string[]): Permission[] {
  return lines.map((line) => {
    const m = /^(\S*) ([a-z]+)(?:\(([^)]*)\))?: (.*)$/.exec(line);
    assert.ok(m, line);
    return { group: m[1] ?? '', resource: m[2] ?? '', names: m[3] ? m[3].split(',') : [], verbs: new Set((m[4] ?? '').split(' ')) };
  });
}

/** The written-out expectation: does the permission table allow this? */
function expected(table: { cluster: Permission[]; namespace: Permission[] }, a: RequestAttributes): boolean {
  if (!a.isResourceRequest) return false;
  const applicable = a.namespace === submarinerNamespace ? [...table.cluster, ...table.namespace] : table.cluster;
  return applicable.some((p) => p.group === a.apiGroup && p.resource === a.resource && a.subresource === '' &&
    p.verbs.has(a.verb) && (p.names.length === 0 || p.names.includes(a.name)));
}

const allVerbs = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection', 'use', 'escalate', 'bind', 'impersonate', 'proxy'];

/** Every verb, in every scope, named and unnamed, on every resource either table mentions (and a few others). */
function requestsFor(user: UserInfo, tables: Permission[][]): RequestAttributes[] {
  const resources = new Map<string, Permission>();
  for (const p of tables.flat()) resources.set(`${p.group}/${p.resource}`, p);
  for (const extra of [' events', ' secrets', 'submariner.io clusters', 'apps daemonsets', ' nodes']) {
    const [group = '', resource = ''] = extra.split(' ');
    if (!resources.has(`${group}/${resource}`)) resources.set(`${group}/${resource}`, { group, resource, names: [], verbs: new Set() });
  }
  const out: RequestAttributes[] = [];
  for (const p of resources.values()) {
    for (const verb of allVerbs) {
      for (const namespace of ['', submarinerNamespace, 'default']) {
        for (const name of ['', 'some-object', ...p.names]) out.push(res(user, verb, p.group, p.resource, namespace, name));
      }
      out.push(res(user, verb, p.group, p.resource, submarinerNamespace, 'some-object', 'status'));
    }
  }
  return out;
}

for (const [label, user, objects, permissions] of [
  ['route agent', routeAgent, routeAgentRbac, routeAgentPermissions],
  ['gateway', gateway, gatewayRbac, gatewayPermissions],
] as const) {
  test(`Submariner's ${label} RBAC allows exactly what the research lists, in the scopes it lists`, () => {
    const policy = compilePolicy(objects());
    assert.deepEqual(policy.problems, []);
    const table = { cluster: parsePermissions(permissions.cluster), namespace: parsePermissions(permissions.namespace) };
    let allows = 0;
    let denials = 0;
    for (const a of requestsFor(user, [table.cluster, table.namespace])) {
      const decision = authorize(policy, a);
      assert.equal(decision.allowed, expected(table, a), JSON.stringify({ ...a, user: undefined }));
      if (decision.allowed) allows++;
      else denials++;
    }
    assert.ok(allows > 50 && denials > 500, `${allows} allowed, ${denials} denied`);
  });

  test(`Submariner's ${label} RBAC missing any one verb denies exactly that verb (unless another rule grants it)`, () => {
    const table = { cluster: parsePermissions(permissions.cluster), namespace: parsePermissions(permissions.namespace) };
    let shortened = 0;
    let denied = 0;
    for (const kind of ['clusterRoles', 'roles'] as const) {
      const base = objects();
      base[kind].forEach((r, roleIndex) => r.rules.forEach((rule, ruleIndex) => {
        for (const verb of rule.verbs) {
          for (const resource of rule.resources) {
            const copy = objects();
            const target = copy[kind][roleIndex]?.rules[ruleIndex];
            assert.ok(target);
            target.verbs = target.verbs.filter((v) => v !== verb);
            // The same cut in the written-out table.
            const scope = kind === 'clusterRoles' ? 'cluster' : 'namespace';
            const cut = {
              ...table,
              [scope]: table[scope].map((p) => (p.group === rule.apiGroups[0] && p.resource === resource
                ? { ...p, verbs: new Set([...p.verbs].filter((v) => v !== verb)) } : p)),
            };
            const name = rule.resourceNames ? rule.resourceNames[0] ?? '' : 'some-object';
            const a = res(user, verb, rule.apiGroups[0] ?? '', resource, submarinerNamespace, name);
            assert.equal(allowed(objects(), a), true, `the full ${r.metadata.name} allows ${verb} ${resource}`);
            // Every verb on that resource, in both scopes, is as the cut table says: the removed one is gone
            // (unless another rule grants it), the others stay.
            const policy = compilePolicy(copy);
            for (const v of allVerbs) {
              for (const namespace of [submarinerNamespace, '']) {
                const b = res(user, v, rule.apiGroups[0] ?? '', resource, namespace, name);
                assert.equal(authorize(policy, b).allowed, expected(cut, b), `${r.metadata.name} without ${verb} on ${resource}: ${v} in "${namespace}"`);
              }
            }
            if (!expected(cut, a)) denied++;
            shortened++;
          }
        }
      }));
    }
    assert.ok(shortened > 10 && denied > 10, `${shortened} cuts, ${denied} denied`);
  });
}

test('a verb cut from the gateway\'s Role is still allowed where its ClusterRole grants it too', () => {
  const objects = gatewayRbac();
  const podsRule = objects.roles[0]?.rules[0];
  assert.deepEqual(podsRule?.resources, ['pods']);
  podsRule.verbs = ['update', 'patch'];
  const policy = compilePolicy(objects);
  const get = authorize(policy, res(gateway, 'get', '', 'pods', submarinerNamespace, 'gw-pod'));
  assert.ok(get.allowed);
  assert.equal(get.grant?.binding.kind, 'ClusterRoleBinding');
  assert.equal(authorize(policy, res(gateway, 'patch', '', 'pods', submarinerNamespace, 'gw-pod')).allowed, true);
  assert.equal(authorize(policy, res(gateway, 'patch', '', 'pods', 'default', 'gw-pod')).allowed, false);
});

test('one verb short: the Forbidden the route agent gets for watching nodes, as a real API server words it', () => {
  const objects = routeAgentRbac();
  const nodesRule = objects.clusterRoles[0]?.rules[3];
  assert.deepEqual(nodesRule?.resources, ['nodes']);
  nodesRule.verbs = ['get', 'list'];
  const a = http(routeAgent, 'GET', '/api/v1/nodes?watch=true&resourceVersion=12&allowWatchBookmarks=true');
  const decision = authorize(compilePolicy(objects), a);
  assert.equal(decision.allowed, false);
  const status = forbidden(a, decision).toStatus();
  assert.deepEqual(status, {
    kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
    message: 'nodes is forbidden: User "system:serviceaccount:submariner-operator:submariner-routeagent" cannot watch resource "nodes" in API group "" at the cluster scope',
    reason: 'Forbidden', details: { kind: 'nodes' }, code: 403,
  });
  assert.equal(allowed(objects, http(routeAgent, 'GET', '/api/v1/nodes')), true, 'list is still allowed');
});

test('the route agent through real request paths: its informers are allowed, events are not (Submariner grants none)', () => {
  const objects = routeAgentRbac();
  for (const [method, target] of [
    ['GET', '/apis/submariner.io/v1/namespaces/submariner-operator/endpoints?limit=500'],
    ['GET', '/apis/submariner.io/v1/namespaces/submariner-operator/endpoints?watch=true&resourceVersion=5'],
    ['GET', '/api/v1/nodes?watch=1'],
    ['GET', '/api/v1/nodes/worker-1'],
    ['POST', '/apis/submariner.io/v1/namespaces/submariner-operator/routeagents'],
    ['PUT', '/apis/submariner.io/v1/namespaces/submariner-operator/routeagents/worker-1'],
    ['GET', '/api/v1/namespaces/openshift-ovn-kubernetes/secrets/ovn-cert'],
  ] as const) {
    assert.equal(allowed(objects, http(routeAgent, method, target)), true, `${method} ${target}`);
  }
  const denied: Array<[string, string, string]> = [
    ['POST', '/api/v1/namespaces/submariner-operator/events',
      'events is forbidden: User "system:serviceaccount:submariner-operator:submariner-routeagent" cannot create resource "events" in API group "" in the namespace "submariner-operator"'],
    ['PATCH', '/apis/submariner.io/v1/namespaces/submariner-operator/routeagents/worker-1',
      'routeagents.submariner.io "worker-1" is forbidden: User "system:serviceaccount:submariner-operator:submariner-routeagent" cannot patch resource "routeagents" in API group "submariner.io" in the namespace "submariner-operator"'],
    ['GET', '/apis/submariner.io/v1/namespaces/submariner-operator/routeagents?watch=true',
      'routeagents.submariner.io is forbidden: User "system:serviceaccount:submariner-operator:submariner-routeagent" cannot watch resource "routeagents" in API group "submariner.io" in the namespace "submariner-operator"'],
    ['GET', '/apis/submariner.io/v1/endpoints',
      'endpoints.submariner.io is forbidden: User "system:serviceaccount:submariner-operator:submariner-routeagent" cannot list resource "endpoints" in API group "submariner.io" at the cluster scope'],
    ['PATCH', '/api/v1/nodes/worker-1/status',
      'nodes "worker-1" is forbidden: User "system:serviceaccount:submariner-operator:submariner-routeagent" cannot patch resource "nodes/status" in API group "" at the cluster scope'],
    ['GET', '/api/v1/namespaces/kube-system/secrets/other',
      'secrets "other" is forbidden: User "system:serviceaccount:submariner-operator:submariner-routeagent" cannot get resource "secrets" in API group "" in the namespace "kube-system"'],
  ];
  for (const [method, target, message] of denied) {
    const a = http(routeAgent, method, target);
    const decision = authorize(compilePolicy(objects), a);
    assert.equal(decision.allowed, false, `${method} ${target}`);
    assert.equal(forbidden(a, decision).message, message);
  }
  // In another cluster's namespace the Role grants nothing, with the exact wording from the brief.
  const other = res(routeAgent, 'list', 'submariner.io', 'endpoints', 'submariner-k8s-broker');
  assert.equal(allowed(objects, other), false);
  assert.equal(forbidden(res(routeAgent, 'list', 'submariner.io', 'endpoints', submarinerNamespace)).message,
    'endpoints.submariner.io is forbidden: User "system:serviceaccount:submariner-operator:submariner-routeagent" cannot list resource "endpoints" in API group "submariner.io" in the namespace "submariner-operator"');
});

test('the decision names the binding, role, subject and rule that allowed, in Kubernetes\' words', () => {
  const policy = compilePolicy(routeAgentRbac());
  const viaCluster = authorize(policy, res(routeAgent, 'watch', '', 'nodes'));
  assert.deepEqual(viaCluster, {
    allowed: true,
    reason: 'RBAC: allowed by ClusterRoleBinding "submariner-routeagent" of ClusterRole "submariner-routeagent" to ServiceAccount "submariner-routeagent/submariner-operator"',
    grant: {
      binding: { kind: 'ClusterRoleBinding', name: 'submariner-routeagent', namespace: '' },
      role: { kind: 'ClusterRole', name: 'submariner-routeagent', namespace: '' },
      subject: { kind: 'ServiceAccount', name: 'submariner-routeagent', namespace: 'submariner-operator' },
      ruleIndex: 3,
      rule: { verbs: ['get', 'list', 'watch'], apiGroups: [''], resources: ['nodes'], resourceNames: [], nonResourceURLs: [] },
    },
  });
  const viaRole = authorize(policy, res(routeAgent, 'create', 'submariner.io', 'routeagents', submarinerNamespace));
  assert.ok(viaRole.allowed);
  assert.equal(viaRole.reason,
    'RBAC: allowed by RoleBinding "submariner-routeagent/submariner-operator" of Role "submariner-routeagent" to ServiceAccount "submariner-routeagent/submariner-operator"');
  assert.deepEqual([viaRole.grant?.role, viaRole.grant?.ruleIndex], [{ kind: 'Role', name: 'submariner-routeagent', namespace: submarinerNamespace }, 2]);

  const denied = authorize(policy, res(routeAgent, 'delete', 'submariner.io', 'endpoints', submarinerNamespace, 'e1'));
  assert.deepEqual(denied, {
    allowed: false,
    reason: 'RBAC: no rules authorize user "system:serviceaccount:submariner-operator:submariner-routeagent" with groups ' +
      '["system:serviceaccounts" "system:serviceaccounts:submariner-operator" "system:authenticated"] to "delete" resource ' +
      '"endpoints.submariner.io" named "e1" in namespace "submariner-operator"',
    errors: [],
  });
  const nonResource = authorize(policy, path(routeAgent, 'get', '/metrics'));
  assert.ok(!nonResource.allowed);
  assert.match(nonResource.reason, /to "get" nonResourceURL "\/metrics" cluster-wide$/);
});

test('a RoleBinding to a ClusterRole grants only in the binding\'s namespace', () => {
  const objects: RbacObjects = {
    clusterRoles: [{ metadata: { name: 'reader' }, rules: [{ apiGroups: [''], resources: ['pods', 'nodes'], verbs: ['get', 'list'] }] }],
    roleBindings: [{ metadata: { name: 'read-a', namespace: 'a' }, roleRef: { apiGroup: rbacGroup, kind: 'ClusterRole', name: 'reader' },
      subjects: [{ kind: 'User', name: 'alice' }] }],
  };
  assert.equal(allowed(objects, res(alice, 'list', '', 'pods', 'a')), true);
  assert.equal(allowed(objects, res(alice, 'get', '', 'pods', 'a', 'p')), true);
  assert.equal(allowed(objects, res(alice, 'list', '', 'pods', 'b')), false);
  assert.equal(allowed(objects, res(alice, 'list', '', 'pods')), false, 'not across all namespaces');
  assert.equal(allowed(objects, res(alice, 'get', '', 'nodes', '', 'n1')), false, 'not cluster-scoped resources');
  // The same ClusterRole through a ClusterRoleBinding grants everywhere.
  const cluster: RbacObjects = { ...objects, roleBindings: [], clusterRoleBindings: [{ metadata: { name: 'read-all' },
    roleRef: { apiGroup: rbacGroup, kind: 'ClusterRole', name: 'reader' }, subjects: [{ kind: 'User', name: 'alice' }] }] };
  for (const a of [res(alice, 'list', '', 'pods', 'b'), res(alice, 'list', '', 'pods'), res(alice, 'get', '', 'nodes', '', 'n1')]) {
    assert.equal(allowed(cluster, a), true);
  }
  // A RoleBinding in namespace a may read the Namespace object a itself (its namespace is a), not b.
  const ns: RbacObjects = { ...objects, clusterRoles: [{ metadata: { name: 'reader' }, rules: [{ apiGroups: [''], resources: ['namespaces'], verbs: ['get'] }] }] };
  assert.equal(allowed(ns, http(alice, 'GET', '/api/v1/namespaces/a')), true);
  assert.equal(allowed(ns, http(alice, 'GET', '/api/v1/namespaces/b')), false);
  // A RoleBinding refers to a Role in its own namespace only.
  const roleElsewhere: RbacObjects = {
    roles: [{ metadata: { name: 'r', namespace: 'b' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }] }],
    roleBindings: [{ metadata: { name: 'rb', namespace: 'a' }, roleRef: { kind: 'Role', name: 'r' }, subjects: [{ kind: 'User', name: 'alice' }] }],
  };
  const decision = authorize(compilePolicy(roleElsewhere), res(alice, 'get', '', 'pods', 'a', 'p'));
  assert.deepEqual([decision.allowed, !decision.allowed && decision.errors], [false, ['role.rbac.authorization.k8s.io "r" not found']]);
});

test('resourceNames restrict get/update/patch/delete to named objects and never allow create, deletecollection or an unfiltered list', () => {
  const objects: RbacObjects = {
    roles: [{ metadata: { name: 'one-config', namespace: 'ns' },
      rules: [{ apiGroups: [''], resources: ['configmaps'], resourceNames: ['cfg'], verbs: ['*'] }] }],
    roleBindings: [{ metadata: { name: 'b', namespace: 'ns' }, roleRef: { kind: 'Role', name: 'one-config' }, subjects: [{ kind: 'User', name: 'alice' }] }],
  };
  const base = '/api/v1/namespaces/ns/configmaps';
  const cases: Array<[string, string, boolean]> = [
    ['GET', `${base}/cfg`, true], ['PUT', `${base}/cfg`, true], ['PATCH', `${base}/cfg`, true], ['DELETE', `${base}/cfg`, true],
    ['GET', `${base}/other`, false], ['PUT', `${base}/other`, false], ['DELETE', `${base}/other`, false],
    ['POST', base, false], // create: the name is not known when authorizing
    ['DELETE', base, false], // deletecollection
    ['DELETE', `${base}?fieldSelector=metadata.name%3Dcfg`, false], // deletecollection is never named
    ['GET', base, false], // unfiltered list
    ['GET', `${base}?watch=true`, false],
    ['GET', `${base}?fieldSelector=metadata.name%3Dcfg`, true], // list of exactly that name
    ['GET', `${base}?fieldSelector=metadata.name%3Dcfg&watch=true`, true],
    ['GET', `${base}?fieldSelector=metadata.name%3Dother&watch=true`, false],
    ['GET', `${base}?fieldSelector=metadata.name%3Dcfg&limit=abc`, false], // options that fail to decode: unnamed
  ];
  for (const [method, target, want] of cases) assert.equal(allowed(objects, http(alice, method, target)), want, `${method} ${target}`);
  // A subresource is a different resource: configmaps does not cover configmaps/status.
  assert.equal(allowed(objects, http(alice, 'GET', `${base}/cfg/status`)), false);
  // The real quirk: resourceNames [""] matches unnamed requests.
  const empty: RbacObjects = { ...objects, roles: [{ metadata: { name: 'one-config', namespace: 'ns' },
    rules: [{ apiGroups: [''], resources: ['configmaps'], resourceNames: [''], verbs: ['create'] }] }] };
  assert.equal(allowed(empty, http(alice, 'POST', base)), true);
});

test('subresources: nodes/status is not nodes, */status covers every status, * covers all, nodes/* is no pattern', () => {
  const grant = (resources: string[], verbs = ['get', 'patch', 'update']): RbacObjects => ({
    clusterRoles: [{ metadata: { name: 'r' }, rules: [{ apiGroups: ['', 'submariner.io'], resources, verbs }] }],
    clusterRoleBindings: [{ metadata: { name: 'b' }, roleRef: { kind: 'ClusterRole', name: 'r' }, subjects: [{ kind: 'User', name: 'alice' }] }],
  });
  const nodeStatus = res(alice, 'patch', '', 'nodes', '', 'n1', 'status');
  const node = res(alice, 'patch', '', 'nodes', '', 'n1');
  const gatewayStatus = res(alice, 'update', 'submariner.io', 'gateways', 's', 'gw', 'status');
  const gw = res(alice, 'update', 'submariner.io', 'gateways', 's', 'gw');
  const cases: Array<[string[], boolean[]]> = [
    [['nodes'], [false, true, false, false]],
    [['nodes/status'], [true, false, false, false]],
    [['*/status'], [true, false, true, false]],
    [['*'], [true, true, true, true]],
    [['nodes/*'], [false, false, false, false]],
    [['*/sta'], [false, false, false, false]],
    [['*/*'], [false, false, false, false]],
    [['*/'], [false, false, false, false]], // '*/<sub>' needs a subresource to match
    [['gateways', 'gateways/status'], [false, false, true, true]],
  ];
  for (const [resources, want] of cases) {
    assert.deepEqual([nodeStatus, node, gatewayStatus, gw].map((a) => allowed(grant(resources), a)), want, resources.join(','));
  }
});

test('wildcard verbs and API groups', () => {
  const objects = (rule: object): RbacObjects => ({
    clusterRoles: [{ metadata: { name: 'r' }, rules: [rule] }],
    clusterRoleBindings: [{ metadata: { name: 'b' }, roleRef: { kind: 'ClusterRole', name: 'r' }, subjects: [{ kind: 'User', name: 'alice' }] }],
  });
  const anyVerb = objects({ apiGroups: ['submariner.io'], resources: ['endpoints'], verbs: ['*'] });
  for (const verb of allVerbs) assert.equal(allowed(anyVerb, res(alice, verb, 'submariner.io', 'endpoints', 's')), true, verb);
  assert.equal(allowed(anyVerb, res(alice, 'get', 'submariner.io', 'clusters', 's', 'c')), false);
  assert.equal(allowed(anyVerb, res(alice, 'get', '', 'endpoints', 's', 'e')), false, 'core endpoints are another group');
  const anyGroup = objects({ apiGroups: ['*'], resources: ['endpoints'], verbs: ['get'] });
  assert.equal(allowed(anyGroup, res(alice, 'get', '', 'endpoints', 's', 'e')), true);
  assert.equal(allowed(anyGroup, res(alice, 'get', 'submariner.io', 'endpoints', 's', 'e')), true);
  assert.equal(allowed(anyGroup, res(alice, 'list', 'submariner.io', 'endpoints', 's')), false);
  // Case matters, and "*" is only a whole-field wildcard.
  assert.equal(allowed(objects({ apiGroups: ['submariner.*'], resources: ['endpoints'], verbs: ['GET'] }), res(alice, 'get', 'submariner.io', 'endpoints', 's', 'e')), false);
  // A rule without apiGroups matches no resource request (as a decoded Kubernetes rule would not).
  assert.equal(allowed(objects({ resources: ['*'], verbs: ['*'] }), res(alice, 'get', '', 'pods', 's', 'p')), false);
});

test('non-resource URLs: exact, trailing-* prefix, verbs, and only through ClusterRoleBindings', () => {
  const role = { metadata: { name: 'paths' }, rules: [{ nonResourceURLs: ['/healthz', '/apis/*', '/metrics**'], verbs: ['get'] }] };
  const viaCluster: RbacObjects = { clusterRoles: [role],
    clusterRoleBindings: [{ metadata: { name: 'b' }, roleRef: { kind: 'ClusterRole', name: 'paths' }, subjects: [{ kind: 'User', name: 'alice' }] }] };
  const cases: Array<[string, string, boolean]> = [
    ['get', '/healthz', true], ['get', '/healthz/etcd', false], ['post', '/healthz', false],
    ['get', '/apis/submariner.io/v1', true], ['get', '/apis/', true], ['get', '/apis', false], ['get', '/api', false],
    ['get', '/metrics', true], ['get', '/metricsfoo', true],
  ];
  for (const [verb, p, want] of cases) assert.equal(allowed(viaCluster, path(alice, verb, p)), want, `${verb} ${p}`);
  // A resource request never matches a non-resource rule.
  assert.equal(allowed(viaCluster, res(alice, 'get', '', 'healthz')), false);
  // Through a RoleBinding: non-resource requests have no namespace, so no RoleBinding is consulted.
  const viaRoleBinding: RbacObjects = { clusterRoles: [role], roles: [{ ...role, metadata: { name: 'paths', namespace: 'a' } }],
    roleBindings: [
      { metadata: { name: 'b', namespace: 'a' }, roleRef: { kind: 'ClusterRole', name: 'paths' }, subjects: [{ kind: 'User', name: 'alice' }] },
      { metadata: { name: 'c', namespace: 'a' }, roleRef: { kind: 'Role', name: 'paths' }, subjects: [{ kind: 'User', name: 'alice' }] },
    ] };
  assert.equal(allowed(viaRoleBinding, path(alice, 'get', '/healthz')), false);
  const star: RbacObjects = { ...viaCluster, clusterRoles: [{ metadata: { name: 'paths' }, rules: [{ nonResourceURLs: ['*'], verbs: ['*'] }] }] };
  assert.equal(allowed(star, path(alice, 'delete', '/anything/at/all')), true);
});

test('ServiceAccount subjects: another namespace, the binding\'s namespace by default, never without one', () => {
  const readPods = { metadata: { name: 'read', namespace: 'app' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }] };
  const binding = (subject: object) => ({ roles: [readPods],
    roleBindings: [{ metadata: { name: 'b', namespace: 'app' }, roleRef: { kind: 'Role', name: 'read' }, subjects: [subject] }] });
  const inOther = serviceAccountUser('other', 'sa');
  const inApp = serviceAccountUser('app', 'sa');
  const list = (user: UserInfo) => res(user, 'list', '', 'pods', 'app');
  const cross = binding({ kind: 'ServiceAccount', name: 'sa', namespace: 'other' });
  assert.deepEqual([allowed(cross, list(inOther)), allowed(cross, list(inApp))], [true, false]);
  const cross2 = authorize(compilePolicy(cross), list(inOther));
  assert.ok(cross2.allowed);
  assert.equal(cross2.reason, 'RBAC: allowed by RoleBinding "b/app" of Role "read" to ServiceAccount "sa/other"');
  const local = binding({ kind: 'ServiceAccount', name: 'sa' });
  assert.deepEqual([allowed(local, list(inOther)), allowed(local, list(inApp))], [false, true]);
  assert.equal((authorize(compilePolicy(local), list(inApp)) as Decision).reason,
    'RBAC: allowed by RoleBinding "b/app" of Role "read" to ServiceAccount "sa/app"');
  // A ClusterRoleBinding's ServiceAccount subject needs its namespace.
  const clusterWide = (subject: object): RbacObjects => ({
    clusterRoles: [{ metadata: { name: 'read' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }] }],
    clusterRoleBindings: [{ metadata: { name: 'b' }, roleRef: { kind: 'ClusterRole', name: 'read' }, subjects: [subject] }],
  });
  assert.equal(allowed(clusterWide({ kind: 'ServiceAccount', name: 'sa' }), list(inApp)), false);
  assert.equal(allowed(clusterWide({ kind: 'ServiceAccount', name: 'sa', namespace: 'app' }), list(inApp)), true);
  // A User subject naming the service account's username also works; a look-alike username does not.
  assert.equal(allowed(clusterWide({ kind: 'User', name: 'system:serviceaccount:app:sa' }), list(inApp)), true);
  assert.equal(allowed(clusterWide({ kind: 'ServiceAccount', name: 'sa', namespace: 'app' }), list({ name: 'system:serviceaccount:app:sa2', groups: [] })), false);
  assert.equal(allowed(clusterWide({ kind: 'serviceaccount', name: 'sa', namespace: 'app' }), list(inApp)), false, 'kinds are case-sensitive');
});

test('Group subjects: service-account groups, system:authenticated, and groups the user is not in', () => {
  const bind = (group: string): RbacObjects => ({
    clusterRoles: [{ metadata: { name: 'read' }, rules: [{ apiGroups: ['submariner.io'], resources: ['clusters'], verbs: ['get'] }] }],
    clusterRoleBindings: [{ metadata: { name: 'b' }, roleRef: { kind: 'ClusterRole', name: 'read' }, subjects: [{ kind: 'Group', name: group }] }],
  });
  const get = (user: UserInfo) => res(user, 'get', 'submariner.io', 'clusters', 'broker', 'c1');
  const other = serviceAccountUser('elsewhere', 'x');
  assert.deepEqual([allowed(bind('system:serviceaccounts:submariner-operator'), get(routeAgent)), allowed(bind('system:serviceaccounts:submariner-operator'), get(other))], [true, false]);
  assert.deepEqual([allowed(bind('system:serviceaccounts'), get(routeAgent)), allowed(bind('system:serviceaccounts'), get(other)), allowed(bind('system:serviceaccounts'), get(alice))], [true, true, false]);
  assert.equal(allowed(bind('system:authenticated'), get(alice)), true);
  assert.equal(allowed(bind('system:authenticated'), get({ name: 'system:anonymous', groups: ['system:unauthenticated'] })), false);
  assert.equal(allowed(bind('alice'), get(alice)), false, 'a Group subject is not a user name');
  const decision = authorize(compilePolicy(bind('system:serviceaccounts')), get(routeAgent));
  assert.ok(decision.allowed);
  assert.equal(decision.reason, 'RBAC: allowed by ClusterRoleBinding "b" of ClusterRole "read" to Group "system:serviceaccounts"');
});

test('system:masters may do anything, with no RBAC objects at all', () => {
  const admin: UserInfo = { name: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] };
  const policy = compilePolicy({});
  for (const a of [res(admin, 'delete', 'submariner.io', 'endpoints', 's', 'e'), res(admin, 'escalate', rbacGroup, 'clusterroles'), path(admin, 'get', '/openapi/v3')]) {
    const decision = authorize(policy, a);
    assert.deepEqual(decision, { allowed: true, reason: 'allowed: user is in group "system:masters"' });
  }
  assert.equal(authorize(policy, res(alice, 'get', '', 'pods', 's', 'p')).allowed, false, 'default deny');
});

test('the default cluster policy: discovery for authenticated users, health for everyone, cluster-admin for system:masters only', () => {
  const objects: RbacObjects = { clusterRoles: defaultClusterRoles(), clusterRoleBindings: defaultClusterRoleBindings() };
  const policy = compilePolicy(objects);
  assert.deepEqual(policy.problems, []);
  const anonymous: UserInfo = { name: 'system:anonymous', groups: ['system:unauthenticated'] };
  for (const p of ['/api', '/api/v1', '/apis', '/apis/submariner.io/v1', '/openapi/v2', '/openapi/v3/apis/submariner.io/v1', '/version', '/healthz']) {
    assert.equal(authorize(policy, http(routeAgent, 'GET', p)).allowed, true, p);
  }
  for (const p of ['/healthz', '/livez', '/readyz', '/version']) assert.equal(authorize(policy, path(anonymous, 'get', p)).allowed, true, p);
  for (const p of ['/api', '/apis', '/openapi/v2', '/metrics']) assert.equal(authorize(policy, path(anonymous, 'get', p)).allowed, false, p);
  assert.equal(authorize(policy, http(routeAgent, 'GET', '/api/v1/nodes')).allowed, false);
  assert.equal(authorize(policy, path(routeAgent, 'post', '/api')).allowed, false);
  // The cluster-admin binding names the group, so it allows through RBAC as well as through the shortcut.
  assert.equal(authorize(policy, path(anonymous, 'get', '/')).allowed, false);
  assert.equal(forbidden(path(anonymous, 'get', '/')).toStatus().message, 'forbidden: User "system:anonymous" cannot get path "/"');
  // Each call returns fresh objects.
  (defaultClusterRoles()[0] as { rules: unknown[] }).rules.length = 0;
  assert.equal((defaultClusterRoles()[0] as { rules: unknown[] }).rules.length, 2);
});

test('Forbidden Status wording: cluster scope, core group, subresource, named, non-resource, resolution errors, sanitising', () => {
  const sa = serviceAccountUser('ns', 'sa');
  const u = '"system:serviceaccount:ns:sa"';
  const status = (a: RequestAttributes, d?: Decision) => forbidden(a, d).toStatus();
  assert.deepEqual(status(res(sa, 'list', 'submariner.io', 'endpoints', 'ns')), {
    kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'Forbidden', code: 403,
    message: `endpoints.submariner.io is forbidden: User ${u} cannot list resource "endpoints" in API group "submariner.io" in the namespace "ns"`,
    details: { group: 'submariner.io', kind: 'endpoints' },
  });
  assert.deepEqual(status(res(sa, 'create', 'coordination.k8s.io', 'leases', '')), {
    kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'Forbidden', code: 403,
    message: `leases.coordination.k8s.io is forbidden: User ${u} cannot create resource "leases" in API group "coordination.k8s.io" at the cluster scope`,
    details: { group: 'coordination.k8s.io', kind: 'leases' },
  });
  assert.deepEqual(status(res(sa, 'update', 'submariner.io', 'gateways', 'ns', 'gw', 'status')).message,
    `gateways.submariner.io "gw" is forbidden: User ${u} cannot update resource "gateways/status" in API group "submariner.io" in the namespace "ns"`);
  assert.deepEqual(status(res(sa, 'update', 'submariner.io', 'gateways', 'ns', 'gw', 'status')).details,
    { name: 'gw', group: 'submariner.io', kind: 'gateways' });
  assert.deepEqual(status(res(sa, 'get', '', 'configmaps', 'ns', 'cfg')).details, { name: 'cfg', kind: 'configmaps' });
  assert.deepEqual(status(path(sa, 'get', '/metrics')), {
    kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'Forbidden', code: 403,
    message: `forbidden: User ${u} cannot get path "/metrics"`, details: {},
  });
  // Rule-resolution errors are appended after "RBAC: ", several of them as an aggregate.
  const broken: RbacObjects = {
    clusterRoleBindings: [
      { metadata: { name: 'a' }, roleRef: { kind: 'ClusterRole', name: 'missing' }, subjects: [{ kind: 'User', name: 'system:serviceaccount:ns:sa' }] },
      { metadata: { name: 'b' }, roleRef: { kind: 'ClusterRole', name: 'missing' }, subjects: [{ kind: 'Group', name: 'system:serviceaccounts' }] },
    ],
    roleBindings: [{ metadata: { name: 'c', namespace: 'ns' }, roleRef: { kind: 'Role', name: 'gone' }, subjects: [{ kind: 'ServiceAccount', name: 'sa' }] }],
  };
  const a = res(sa, 'get', '', 'pods', 'ns', 'p');
  const decision = authorize(compilePolicy(broken), a);
  assert.deepEqual(!decision.allowed && decision.errors, [
    'clusterrole.rbac.authorization.k8s.io "missing" not found', 'clusterrole.rbac.authorization.k8s.io "missing" not found',
    'role.rbac.authorization.k8s.io "gone" not found',
  ]);
  assert.equal(forbidden(a, decision).message, `pods "p" is forbidden: User ${u} cannot get resource "pods" in API group "" in the namespace "ns": ` +
    'RBAC: [clusterrole.rbac.authorization.k8s.io "missing" not found, role.rbac.authorization.k8s.io "gone" not found]');
  const one = authorize(compilePolicy({ clusterRoleBindings: broken.clusterRoleBindings?.slice(0, 1) }), a);
  assert.equal(forbidden(a, one).message,
    `pods "p" is forbidden: User ${u} cannot get resource "pods" in API group "" in the namespace "ns": RBAC: clusterrole.rbac.authorization.k8s.io "missing" not found`);
  // Bindings that do not name the user contribute no errors.
  assert.deepEqual(authorize(compilePolicy(broken), res(alice, 'get', '', 'pods', 'ns', 'p')), {
    allowed: false, errors: [],
    reason: 'RBAC: no rules authorize user "alice" with groups ["system:authenticated"] to "get" resource "pods" named "p" in namespace "ns"',
  });
  // The message part is sanitised against HTML; the resource name prefix is not (as in Kubernetes).
  assert.equal(forbidden(path({ name: 'a<b>&c', groups: [] }, 'get', '/<x>')).message, 'forbidden: User "a&lt;b&gt;&amp;c" cannot get path "/&lt;x&gt;"');
  assert.equal(forbidden(res({ name: 'q"uote', groups: [] }, 'get', '', 'pods', 'ns', '<p>')).message,
    'pods "<p>" is forbidden: User "q\\"uote" cannot get resource "pods" in API group "" in the namespace "ns"');
});

test('malformed RBAC objects never grant anything and never throw; each is named in problems', () => {
  // A valid, fully permissive setup for alice, then one field broken at a time.
  const rule = () => ({ apiGroups: ['*'], resources: ['*'], verbs: ['*'], nonResourceURLs: ['*'] });
  const valid = () => ({
    clusterRoles: [{ metadata: { name: 'all' }, rules: [rule()] }] as unknown[],
    clusterRoleBindings: [{ metadata: { name: 'b' }, roleRef: { apiGroup: rbacGroup, kind: 'ClusterRole', name: 'all' },
      subjects: [{ kind: 'User', name: 'alice' }] }] as unknown[],
  });
  const requests = [res(alice, 'get', '', 'pods', 'ns', 'p'), res(alice, 'list', '', 'nodes'), path(alice, 'get', '/healthz')];
  for (const a of requests) assert.equal(allowed(valid(), a), true, 'the unbroken setup allows');

  type Objects = ReturnType<typeof valid>;
  const role = (o: Objects) => o.clusterRoles[0] as Record<string, unknown>;
  const binding = (o: Objects) => o.clusterRoleBindings[0] as Record<string, unknown>;
  const breakages: Array<[string, (o: Objects) => void, RegExp | null]> = [
    ['rules is a string', (o) => { role(o)['rules'] = 'all'; }, /ClusterRole "all": rules is not a list/],
    ['rules is an object', (o) => { role(o)['rules'] = rule(); }, /rules is not a list/],
    ['rules missing', (o) => { delete role(o)['rules']; }, null],
    ['rules null', (o) => { role(o)['rules'] = null; }, null],
    ['a rule is a string', (o) => { role(o)['rules'] = ['*']; }, /ClusterRole "all" rule 0: is not an object/],
    ['a rule is null', (o) => { role(o)['rules'] = [null]; }, /rule 0: is not an object/],
    ['verbs is a string', (o) => { role(o)['rules'] = [{ ...rule(), verbs: '*' }]; }, /rule 0: verbs is not a list of strings/],
    ['verbs holds a number', (o) => { role(o)['rules'] = [{ ...rule(), verbs: ['*', 1] }]; }, /verbs is not a list of strings/],
    ['verbs missing', (o) => { role(o)['rules'] = [{ apiGroups: ['*'], resources: ['*'], nonResourceURLs: ['*'] }]; }, null],
    ['resources is an object', (o) => { role(o)['rules'] = [{ ...rule(), resources: { '*': true }, nonResourceURLs: [] }]; }, /resources is not a list of strings/],
    ['apiGroups is a string', (o) => { role(o)['rules'] = [{ ...rule(), apiGroups: '*', nonResourceURLs: 'x' }]; }, /apiGroups is not a list of strings/],
    ['resourceNames holds null', (o) => { role(o)['rules'] = [{ ...rule(), resourceNames: [null] }]; }, /resourceNames is not a list of strings/],
    ['role metadata missing', (o) => { delete role(o)['metadata']; }, /ClusterRole #0: metadata.name is missing/],
    ['role name is a number', (o) => { role(o)['metadata'] = { name: 7 }; }, /ClusterRole #0: metadata/],
    ['role metadata is a string', (o) => { role(o)['metadata'] = 'all'; }, /ClusterRole #0: metadata/],
    ['role is a string', (o) => { o.clusterRoles[0] = 'all'; }, /ClusterRole #0: not an object/],
    ['role is null', (o) => { o.clusterRoles[0] = null; }, /ClusterRole #0: not an object/],
    ['role is an array', (o) => { o.clusterRoles[0] = [rule()]; }, /ClusterRole #0: not an object/],
    ['roleRef missing', (o) => { delete binding(o)['roleRef']; }, null],
    ['roleRef is a string', (o) => { binding(o)['roleRef'] = 'all'; }, /ClusterRoleBinding "b": roleRef is not an object/],
    ['roleRef kind is a number', (o) => { binding(o)['roleRef'] = { kind: 1, name: 'all' }; }, /roleRef apiGroup, kind or name is not a string/],
    ['roleRef kind is wrong', (o) => { binding(o)['roleRef'] = { kind: 'Role', name: 'all' }; }, null],
    ['roleRef name missing', (o) => { binding(o)['roleRef'] = { kind: 'ClusterRole' }; }, null],
    ['subjects missing', (o) => { delete binding(o)['subjects']; }, null],
    ['subjects is an object', (o) => { binding(o)['subjects'] = { kind: 'User', name: 'alice' }; }, /subjects is not a list; it applies to no one/],
    ['a subject is a string', (o) => { binding(o)['subjects'] = ['alice']; }, /ClusterRoleBinding "b" subject 0: is not an object/],
    ['a subject name is a list', (o) => { binding(o)['subjects'] = [{ kind: 'User', name: ['alice'] }]; }, /subject 0: kind, name or namespace is not a string/],
    ['a subject kind missing', (o) => { binding(o)['subjects'] = [{ name: 'alice' }]; }, null],
    ['binding is a number', (o) => { o.clusterRoleBindings[0] = 42; }, /ClusterRoleBinding #0: not an object/],
    ['binding metadata.name is an object', (o) => { binding(o)['metadata'] = { name: {} }; }, /ClusterRoleBinding #0: metadata/],
  ];
  for (const [what, breakIt, problem] of breakages) {
    const objects = valid();
    breakIt(objects);
    const policy = compilePolicy(objects);
    for (const a of requests) assert.equal(authorize(policy, a).allowed, false, `${what}: ${JSON.stringify({ ...a, user: undefined })}`);
    if (problem) assert.ok(policy.problems.some((p) => problem.test(p)), `${what}: ${JSON.stringify(policy.problems)}`);
    else assert.deepEqual(policy.problems, [], `${what}: a Kubernetes-shaped object with an empty field is not a problem, it just grants nothing`);
  }
  // A missing roleRef is reported as Kubernetes' resolver reports an empty kind.
  const noRef = valid();
  delete binding(noRef)['roleRef'];
  const decision = authorize(compilePolicy(noRef), requests[0] as RequestAttributes);
  assert.deepEqual(!decision.allowed && decision.errors, ['unsupported role reference kind: ""']);

  // Whole lists of the wrong type, and junk of every kind, neither throw nor grant.
  const junk: unknown[] = [undefined, null, 0, 1, '', 'x', true, [], {}, [[]], [{}], [null], { length: 1 }, () => 1, Symbol('s'), 10n];
  for (const j of junk) {
    const objects = { roles: j, clusterRoles: j, roleBindings: j, clusterRoleBindings: j } as unknown as RbacObjects;
    const policy = compilePolicy(objects);
    for (const a of requests) assert.equal(authorize(policy, a).allowed, false, String(j?.toString?.()));
    for (const j2 of junk) {
      const mixed = valid();
      role(mixed)['rules'] = [{ apiGroups: j2, resources: j2, verbs: j2, nonResourceURLs: j2, resourceNames: j2 }];
      binding(mixed)['subjects'] = [{ kind: 'User', name: 'alice', namespace: j2 }];
      const p = compilePolicy(mixed);
      for (const a of requests) {
        // Only an empty list or absence is well-formed, and that grants nothing either.
        assert.equal(authorize(p, a).allowed, false, `${String(j2?.toString?.())} ${JSON.stringify({ ...a, user: undefined })}`);
      }
    }
  }
  assert.match(compilePolicy({ roles: 'x' } as unknown as RbacObjects).problems.join('\n'), /roles: not a list; ignored/);
});

test('aggregationRule: the rules the aggregation controller would write, then authorized as stored', () => {
  const labelled = (name: string, labels: Record<string, string>, rules: object[]) => ({ metadata: { name, labels }, rules });
  const clusterRoles = [
    { metadata: { name: 'monitoring' }, aggregationRule: { clusterRoleSelectors: [{ matchLabels: { 'example.com/aggregate-to-monitoring': 'true' } }] }, rules: [] },
    labelled('b-endpoints', { 'example.com/aggregate-to-monitoring': 'true' }, [{ apiGroups: ['submariner.io'], resources: ['endpoints'], verbs: ['get', 'list'] }]),
    labelled('a-nodes', { 'example.com/aggregate-to-monitoring': 'true' }, [
      { apiGroups: [''], resources: ['nodes'], verbs: ['get'] },
      { apiGroups: ['submariner.io'], resources: ['endpoints'], verbs: ['get', 'list'] }, // a duplicate, kept once
    ]),
    labelled('unrelated', { 'example.com/aggregate-to-monitoring': 'false' }, [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }]),
  ];
  const bindings = [{ metadata: { name: 'mon' }, roleRef: { kind: 'ClusterRole', name: 'monitoring' }, subjects: [{ kind: 'User', name: 'alice' }] }];
  // As stored, the aggregated role has no rules: the authorizer does not aggregate.
  assert.equal(allowed({ clusterRoles, clusterRoleBindings: bindings }, res(alice, 'get', '', 'nodes', '', 'n')), false);
  const { clusterRoles: aggregated, problems } = aggregateClusterRoles(clusterRoles);
  assert.deepEqual(problems, []);
  assert.deepEqual((aggregated[0] as { rules: unknown }).rules, [
    { apiGroups: [''], resources: ['nodes'], verbs: ['get'] },
    { apiGroups: ['submariner.io'], resources: ['endpoints'], verbs: ['get', 'list'] },
  ], 'roles sorted by name, each rule once');
  assert.equal((clusterRoles[0] as { rules: unknown[] }).rules.length, 0, 'the input is not modified');
  const policy = { clusterRoles: aggregated, clusterRoleBindings: bindings };
  assert.equal(allowed(policy, res(alice, 'get', '', 'nodes', '', 'n')), true);
  assert.equal(allowed(policy, res(alice, 'list', 'submariner.io', 'endpoints', 's')), true);
  assert.equal(allowed(policy, res(alice, 'delete', 'submariner.io', 'endpoints', 's', 'e')), false, 'the unrelated role is not pulled in');

  // Chains settle; matchExpressions; an invalid selector keeps the stored rules and is reported.
  const chain = aggregateClusterRoles([
    { metadata: { name: 'top' }, aggregationRule: { clusterRoleSelectors: [{ matchExpressions: [{ key: 'tier', operator: 'In', values: ['mid'] }] }] } },
    { metadata: { name: 'mid', labels: { tier: 'mid' } }, aggregationRule: { clusterRoleSelectors: [{ matchExpressions: [{ key: 'leaf', operator: 'Exists' }] }] } },
    { metadata: { name: 'leaf', labels: { leaf: '' } }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }] },
    { metadata: { name: 'bad' }, aggregationRule: { clusterRoleSelectors: [{ matchExpressions: [{ key: 'x', operator: 'Like' }] }] }, rules: [{ verbs: ['keep'] }] },
    'not an object',
  ]);
  assert.deepEqual((chain.clusterRoles[0] as { rules: unknown }).rules, [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }]);
  assert.deepEqual((chain.clusterRoles[3] as { rules: unknown }).rules, [{ verbs: ['keep'] }]);
  assert.equal(chain.clusterRoles[4], 'not an object');
  assert.deepEqual(chain.problems, ['ClusterRole "bad": "Like" is not a valid label selector operator; rules kept as stored']);
  const notIn = aggregateClusterRoles([
    { metadata: { name: 'agg' }, aggregationRule: { clusterRoleSelectors: [{ matchExpressions: [{ key: 't', operator: 'NotIn', values: ['x'] }, { key: 'gone', operator: 'DoesNotExist' }] }] } },
    { metadata: { name: 'has-x', labels: { t: 'x' } }, rules: [{ verbs: ['a'] }] },
    { metadata: { name: 'has-y', labels: { t: 'y' } }, rules: [{ verbs: ['b'] }] },
    { metadata: { name: 'none' }, rules: [{ verbs: ['c'] }] },
    { metadata: { name: 'gone', labels: { gone: 'yes' } }, rules: [{ verbs: ['d'] }] },
  ]);
  assert.deepEqual((notIn.clusterRoles[0] as { rules: unknown }).rules, [{ verbs: ['b'] }, { verbs: ['c'] }]);
});

test('audit records: who, what, the decision, and the binding and rule used (so unused rules can be found)', () => {
  const policy = compilePolicy(gatewayRbac());
  const lease = http(gateway, 'PUT', '/apis/coordination.k8s.io/v1/namespaces/submariner-operator/leases/submariner-gateway-lock');
  assert.deepEqual(auditRecord(lease, authorize(policy, lease)), {
    user: 'system:serviceaccount:submariner-operator:submariner-gateway',
    groups: ['system:serviceaccounts', 'system:serviceaccounts:submariner-operator', 'system:authenticated'],
    verb: 'update', apiGroup: 'coordination.k8s.io', resource: 'leases', subresource: '', namespace: 'submariner-operator',
    name: 'submariner-gateway-lock', decision: 'allow',
    reason: 'RBAC: allowed by RoleBinding "submariner-gateway/submariner-operator" of Role "submariner-gateway" to ServiceAccount "submariner-gateway/submariner-operator"',
    binding: 'RoleBinding/submariner-operator/submariner-gateway', rule: 'Role/submariner-operator/submariner-gateway#2',
  });
  const nodes = http(gateway, 'GET', '/api/v1/nodes?watch=true');
  const allowedNodes = auditRecord(nodes, authorize(policy, nodes));
  assert.deepEqual([allowedNodes.binding, allowedNodes.rule], ['ClusterRoleBinding/submariner-gateway', 'ClusterRole/submariner-gateway#1']);
  const metrics = path(gateway, 'get', '/metrics');
  const refused = auditRecord(metrics, authorize(policy, metrics));
  assert.deepEqual([refused.decision, refused.path, refused.binding, refused.rule], ['forbid', '/metrics', undefined, undefined]);
  assert.match(refused.reason, /^RBAC: no rules authorize user/);
});
