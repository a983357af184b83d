import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createAccessControl, LAB_ADMIN } from '../lab/apiserver/access.ts';
import { ApiError } from '../lab/apiserver/status.ts';
import type { RbacObjects } from '../lab/apiserver/rbac-policy.ts';
import { routeAgentRbac, submarinerNamespace } from './submariner-rbac-fixtures.ts';

const NS = submarinerNamespace;

function control(objects: RbacObjects = routeAgentRbac(), anonymous = true) {
  let version = 1;
  let current = objects;
  const access = createAccessControl({ rbacObjects: () => current, version: () => version, anonymous });
  return { access, replace(next: RbacObjects) { current = next; version++; } };
}

const request = (method: string, target: string, token?: string) => ({ method, target, headers: token ? { authorization: `Bearer ${token}` } : {} });
/** The error a request is refused with: thrown (400, 401) or the admission's 403. */
const refusal = (fn: () => { refusal?: ApiError }): ApiError => {
  let admitted: { refusal?: ApiError };
  try {
    admitted = fn();
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  if (admitted.refusal) return admitted.refusal;
  throw new Error('expected a refusal');
};

test('a service account\'s token admits what its RBAC grants, and is refused the rest with the real 403 wording', () => {
  const { access } = control();
  const token = access.tokens.issueServiceAccount(NS, 'submariner-routeagent');
  const admitted = access.admit(request('GET', `/apis/submariner.io/v1/namespaces/${NS}/endpoints?watch=true`, token), false);
  assert.equal(admitted.user.name, `system:serviceaccount:${NS}:submariner-routeagent`);
  assert.equal(admitted.audit.decision, 'allow');
  assert.equal(admitted.audit.verb, 'watch');
  assert.match(admitted.audit.rule ?? '', new RegExp(`^Role/${NS}/submariner-routeagent#\\d+$`));
  const denied = refusal(() => access.admit(request('POST', `/apis/submariner.io/v1/namespaces/${NS}/endpoints`, token), false));
  assert.equal(denied.code, 403);
  assert.equal(denied.message, `endpoints.submariner.io is forbidden: User "system:serviceaccount:${NS}:submariner-routeagent" cannot create resource "endpoints" in API group "submariner.io" in the namespace "${NS}"`);
  const nodes = access.admit(request('GET', '/api/v1/nodes', token), false);
  assert.match(nodes.audit.rule ?? '', /^ClusterRole\/submariner-routeagent#\d+$/);
});

test('an unknown token is 401, never anonymous; no token is system:anonymous, who may read health but not discovery', () => {
  const { access } = control();
  assert.equal(refusal(() => access.admit(request('GET', '/api', 'not-a-token'), false)).code, 401);
  assert.equal(access.admit(request('GET', '/healthz'), false).user.name, 'system:anonymous');
  assert.equal(refusal(() => access.admit(request('GET', '/api'), false)).code, 403);
  const strict = control(undefined, false);
  assert.equal(refusal(() => strict.access.admit(request('GET', '/healthz'), false)).code, 401, 'anonymous off: no credential is 401');
});

test('any authenticated user reads discovery (Kubernetes\' bootstrap roles); the lab\'s trusted socket and admin tokens may do anything', () => {
  const { access } = control({});
  const token = access.tokens.issueServiceAccount('other', 'nobody');
  assert.equal(access.admit(request('GET', '/apis', token), false).audit.decision, 'allow');
  assert.equal(refusal(() => access.admit(request('GET', '/api/v1/nodes', token), false)).code, 403);
  assert.deepEqual(access.admit(request('DELETE', '/api/v1/nodes/n1'), true).user, LAB_ADMIN);
  const admin = access.tokens.issueAdmin();
  assert.equal(access.admit(request('DELETE', '/api/v1/nodes/n1', admin), false).audit.decision, 'allow');
});

test('a changed policy takes effect on the next request', () => {
  const lab = control();
  const token = lab.access.tokens.issueServiceAccount(NS, 'submariner-routeagent');
  assert.equal(lab.access.admit(request('GET', '/api/v1/nodes', token), false).audit.decision, 'allow');
  const withoutNodes = routeAgentRbac();
  withoutNodes.clusterRoles = withoutNodes.clusterRoles.map((role) => ({ ...role, rules: role.rules.filter((rule) => !rule.resources.includes('nodes')) }));
  lab.replace(withoutNodes);
  assert.equal(refusal(() => lab.access.admit(request('GET', '/api/v1/nodes', token), false)).code, 403);
});

test('a URL Go would refuse is 400 before anything else is decided', () => {
  const { access } = control();
  assert.equal(refusal(() => access.admit(request('GET', '/api/v1/namespaces/%zz/pods'), true)).code, 400);
});
