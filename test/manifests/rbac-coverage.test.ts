/**
 * compareRbac: RBAC rules against the requests an agent made, both ways (missing grants, unused grants),
 * on small cases of each RBAC rule of matching, on malformed input, and on the real RBAC files with
 * audit-shaped fixtures of what the route agent and the uninstall workload ask for.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readManifestDir } from './manifest-files.ts';
import { compareRbac, grantAllows, requestsFromAudit, type Grant, type RbacRequest } from './rbac-coverage.ts';
import { ROUTE_AGENT_AUDIT, ROUTE_AGENT_USER, UNINSTALL_AUDIT, UNINSTALL_USER } from './rbac-fixtures.ts';

const SA = 'system:serviceaccount:ns:agent';
const account = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'agent', namespace: 'ns' } };
const role = (rules: unknown[], kind = 'Role') => ({ apiVersion: 'rbac.authorization.k8s.io/v1', kind, metadata: kind === 'Role' ? { name: 'r', namespace: 'ns' } : { name: 'r' }, rules });
const binding = (roleKind = 'Role', kind = 'RoleBinding', subjectNamespace: string | undefined = 'ns') => ({
  apiVersion: 'rbac.authorization.k8s.io/v1', kind, metadata: kind === 'RoleBinding' ? { name: 'b', namespace: 'ns' } : { name: 'b' },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: roleKind, name: 'r' },
  subjects: [{ kind: 'ServiceAccount', name: 'agent', ...(subjectNamespace === undefined ? {} : { namespace: subjectNamespace }) }],
});
const request = (over: Partial<RbacRequest>): RbacRequest => ({ user: SA, verb: 'get', apiGroup: '', resource: 'pods', namespace: 'ns', name: '', ...over });
const messages = (result: ReturnType<typeof compareRbac>) => ({ missing: result.missing.map((m) => m.message), unused: result.unused.map((u) => u.message) });

describe('compareRbac', () => {
  test('exactly what was used: nothing missing, nothing unused', () => {
    const docs = [account, role([{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }]), binding()];
    assert.deepEqual(messages(compareRbac(docs, [request({ verb: 'get', name: 'p' }), request({ verb: 'list' })])), { missing: [], unused: [] });
  });

  test('a request no rule allows is a missing grant, once, naming user, verb, resource, name and namespace', () => {
    const docs = [account, role([{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }]), binding()];
    const result = compareRbac(docs, [request({ name: 'p' }), request({ verb: 'delete', name: 'p' }), request({ verb: 'delete', name: 'p' })]);
    assert.deepEqual(messages(result).missing, [`missing grant: ${SA} delete pods "p" in namespace ns: no rule bound to it allows this`]);
  });

  test('each verb, resource and name a rule grants and no request used is an unused grant', () => {
    const docs = [account, role([
      { apiGroups: ['apps'], resources: ['daemonsets'], resourceNames: ['a', 'b'], verbs: ['get', 'delete'] },
      { apiGroups: ['submariner.io'], resources: ['endpoints', 'clusters'], verbs: ['list'] },
    ]), binding()];
    const result = compareRbac(docs, [
      request({ verb: 'get', apiGroup: 'apps', resource: 'daemonsets', name: 'a' }), request({ verb: 'delete', apiGroup: 'apps', resource: 'daemonsets', name: 'a' }),
      request({ verb: 'get', apiGroup: 'apps', resource: 'daemonsets', name: 'b' }), request({ verb: 'list', apiGroup: 'submariner.io', resource: 'endpoints' }),
    ]);
    assert.deepEqual(messages(result), {
      missing: [],
      unused: [
        'unused grant: Role/ns/r rule 0 grants delete on daemonsets.apps "b", which no request used',
        'unused grant: Role/ns/r rule 1 grants list on clusters.submariner.io, which no request used',
      ],
    });
  });

  test('resourceNames: a named rule does not allow an unnamed request (list, create) nor another name', () => {
    const docs = [account, role([{ apiGroups: [''], resources: ['pods'], resourceNames: ['p'], verbs: ['get', 'list', 'create'] }]), binding()];
    const { missing } = messages(compareRbac(docs, [request({ name: 'p' }), request({ name: 'q' }), request({ verb: 'list' }), request({ verb: 'create' })]));
    assert.deepEqual(missing.map((m) => m.replace(/^missing grant: \S+ /, '').replace(/: no rule.*$/, '')), ['get pods "q" in namespace ns', 'list pods in namespace ns', 'create pods in namespace ns']);
  });

  test('scope: a RoleBinding grants in its namespace only, also for a ClusterRole; a ClusterRoleBinding everywhere', () => {
    const rules = [{ apiGroups: [''], resources: ['nodes'], verbs: ['list'] }];
    const elsewhere = request({ verb: 'list', resource: 'nodes', namespace: 'other' });
    const clusterWide = request({ verb: 'list', resource: 'nodes', namespace: '' });
    assert.equal(compareRbac([account, role(rules, 'ClusterRole'), binding('ClusterRole')], [elsewhere, clusterWide]).missing.length, 2);
    assert.equal(compareRbac([account, role(rules, 'ClusterRole'), binding('ClusterRole', 'ClusterRoleBinding')], [elsewhere, clusterWide]).missing.length, 0);
  });

  test('subresources are matched whole; wildcards match anything', () => {
    const status = request({ verb: 'update', resource: 'nodes', subresource: 'status', name: 'n' });
    assert.equal(compareRbac([account, role([{ apiGroups: [''], resources: ['nodes'], verbs: ['update'] }]), binding()], [status]).missing.length, 1);
    assert.equal(compareRbac([account, role([{ apiGroups: [''], resources: ['nodes/status'], verbs: ['update'] }]), binding()], [status]).missing.length, 0);
    assert.equal(compareRbac([account, role([{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }]), binding()], [status]).missing.length, 0);
    const grant: Grant = { role: 'Role/ns/r', ruleIndex: 0, verb: 'update', apiGroup: '', resource: '*/status', resourceName: null };
    assert.equal(grantAllows(grant, status), true);
    assert.equal(grantAllows(grant, request({ verb: 'update', resource: 'nodes', name: 'n' })), false);
  });

  test('who: a ServiceAccount subject without a namespace is the RoleBinding\'s; other users and unbound roles are not compared', () => {
    const docs = [account, role([{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }]), binding('Role', 'RoleBinding', undefined)];
    assert.deepEqual(messages(compareRbac(docs, [request({ name: 'p' }), request({ user: 'system:admin', verb: 'delete', name: 'p' })])), { missing: [], unused: [] });
    const unbound = [account, role([{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }])];
    assert.deepEqual(messages(compareRbac(unbound, [])), { missing: [], unused: [] });
    assert.equal(compareRbac(unbound, [request({ name: 'p' })]).missing.length, 1, 'bound to nothing: nothing allows it');
    assert.equal(compareRbac(docs, [request({ name: 'p' })], { users: ['system:serviceaccount:ns:other'] }).unused.length, 0, 'only the users asked about');
  });

  test('malformed RBAC grants nothing and never throws; a binding to a missing role grants nothing', () => {
    const docs = [account, null, 'x', { kind: 'Role', metadata: { name: 'r', namespace: 'ns' }, rules: [null, { verbs: 'get', apiGroups: [''], resources: ['pods'] }] },
      { kind: 'RoleBinding', metadata: { name: 'b', namespace: 'ns' }, roleRef: null, subjects: [null, { kind: 'ServiceAccount', name: 'agent' }] }, binding()];
    assert.equal(compareRbac(docs, [request({ name: 'p' })]).missing.length, 1);
    const missingRole = [account, { ...binding(), roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'gone' } }];
    assert.equal(compareRbac(missingRole, [request({ name: 'p' })]).missing.length, 1);
  });
});

describe('requestsFromAudit', () => {
  test('derives verb, group, resource, namespace and name as the API server does; leaves out the administrator and non-resource paths', () => {
    assert.deepEqual(requestsFromAudit(ROUTE_AGENT_AUDIT).slice(0, 3), [
      { user: ROUTE_AGENT_USER, verb: 'list', apiGroup: '', resource: 'nodes', namespace: '', name: '' },
      { user: ROUTE_AGENT_USER, verb: 'watch', apiGroup: '', resource: 'nodes', namespace: '', name: '' },
      { user: ROUTE_AGENT_USER, verb: 'list', apiGroup: 'submariner.io', resource: 'endpoints', namespace: 'submariner-operator', name: '' },
    ]);
    assert.equal(requestsFromAudit(ROUTE_AGENT_AUDIT).length, ROUTE_AGENT_AUDIT.length - 2, '/api (discovery) and the unix-socket admin are left out');
    assert.deepEqual(requestsFromAudit([{ method: 'PUT', path: '/api/v1/nodes/n/status', user: SA }]), [
      { user: SA, verb: 'update', apiGroup: '', resource: 'nodes', subresource: 'status', namespace: '', name: 'n' },
    ]);
    assert.deepEqual(requestsFromAudit([{ method: 'GET', path: '/api/v1/pods/%zz', user: SA }, { method: 'OPTIONS', path: '/api/v1/pods', user: SA }]), []);
  });
});

describe('the real RBAC against what the agents ask for', () => {
  const docs = readManifestDir().map((d) => d.object);
  test('the route agent\'s requests: every one granted, every grant used', () => {
    const result = compareRbac(docs, requestsFromAudit(ROUTE_AGENT_AUDIT), { users: [ROUTE_AGENT_USER] });
    assert.deepEqual(messages(result), { missing: [], unused: [] });
  });

  test('the uninstall workload\'s documented sequence: every request granted, every grant used', () => {
    const result = compareRbac(docs, requestsFromAudit(UNINSTALL_AUDIT), { users: [UNINSTALL_USER] });
    assert.deepEqual(messages(result), { missing: [], unused: [] });
  });

  test('the uninstall workload cannot touch another DaemonSet, or seaway\'s Lease under another name', () => {
    const result = compareRbac(docs, [
      { user: UNINSTALL_USER, verb: 'delete', apiGroup: 'apps', resource: 'daemonsets', namespace: 'submariner-operator', name: 'kube-proxy' },
      { user: UNINSTALL_USER, verb: 'delete', apiGroup: 'coordination.k8s.io', resource: 'leases', namespace: 'submariner-operator', name: 'submariner-gateway-lock' },
      { user: UNINSTALL_USER, verb: 'delete', apiGroup: 'apps', resource: 'daemonsets', namespace: 'kube-system', name: 'seaway-route-agent' },
    ], { users: [UNINSTALL_USER] });
    assert.equal(result.missing.length, 3, messages(result).missing.join('\n'));
  });
});
