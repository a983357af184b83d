import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { loadAll } from 'js-yaml';
import { createAccessControl } from '../lab/apiserver/access.ts';
import type { RbacObjects } from '../lab/apiserver/rbac-policy.ts';
import { BROKER_RBAC, brokerClusterAccess, GATEWAY_RBAC, ROUTE_AGENT_RBAC } from '../lab/manifests.ts';

type Manifest = { kind: string; metadata: { name: string; namespace?: string } };

async function rbacOf(file: string): Promise<{ objects: RbacObjects; manifests: Manifest[] }> {
  const manifests = loadAll(await readFile(file, 'utf8')) as Manifest[];
  const of = (kind: string) => manifests.filter((m) => m.kind === kind);
  return { manifests, objects: { roles: of('Role'), clusterRoles: of('ClusterRole'), roleBindings: of('RoleBinding'), clusterRoleBindings: of('ClusterRoleBinding') } };
}

test('manifests/02-rbac-route-agent.yaml grants the route agent exactly what its informers, Event recorder and RouteAgent writer ask for', async () => {
  const { objects, manifests } = await rbacOf(ROUTE_AGENT_RBAC);
  assert.deepEqual(manifests.filter((m) => m.kind === 'ServiceAccount').map((m) => `${m.metadata.namespace}/${m.metadata.name}`), ['submariner-operator/seaway-route-agent']);
  const access = createAccessControl({ rbacObjects: () => objects, version: () => 1 });
  const token = access.tokens.issueServiceAccount('submariner-operator', 'seaway-route-agent');
  const ask = (method: string, target: string) => {
    const admitted = access.admit({ method, target, headers: { authorization: `Bearer ${token}` } }, false);
    return admitted.refusal?.code === 403 ? 'forbidden' : admitted.audit.rule ?? 'allowed';
  };
  const ns = '/apis/submariner.io/v1/namespaces/submariner-operator';
  const used = new Set<string>();
  for (const [method, target] of [
    ['GET', '/api/v1/nodes?limit=500'], ['GET', '/api/v1/nodes?watch=true&resourceVersion=5&allowWatchBookmarks=true'],
    ['GET', `${ns}/endpoints?limit=500`], ['GET', `${ns}/endpoints?watch=true`], ['GET', `${ns}/clusters?limit=500`], ['GET', `${ns}/clusters?watch=1`],
    ['POST', '/api/v1/namespaces/submariner-operator/events'],
    // The RouteAgent writer (k8s/status-object-writer.ts): get, then create or replace its node's object.
    ['GET', `${ns}/routeagents/east-worker`], ['POST', `${ns}/routeagents?fieldManager=seaway`], ['PUT', `${ns}/routeagents/east-worker?fieldManager=seaway`],
  ] as const) {
    const rule = ask(method, target);
    assert.notEqual(rule, 'forbidden', `${method} ${target}`);
    used.add(rule);
  }
  assert.deepEqual([...used].sort(), [
    'ClusterRole/seaway-route-agent#0', 'Role/submariner-operator/seaway-route-agent#0', 'Role/submariner-operator/seaway-route-agent#1', 'Role/submariner-operator/seaway-route-agent#2',
  ], 'every rule is used');
  for (const [method, target] of [
    ['GET', '/api/v1/nodes/node-1'], ['POST', `${ns}/endpoints`], ['GET', '/apis/submariner.io/v1/namespaces/other/endpoints'],
    ['GET', '/api/v1/namespaces/submariner-operator/secrets'], ['PATCH', '/api/v1/namespaces/submariner-operator/events/x'],
    ['GET', `${ns}/routeagents`], ['GET', `${ns}/routeagents?watch=true`], ['PATCH', `${ns}/routeagents/east-worker`], ['DELETE', `${ns}/routeagents/east-worker`],
    ['PUT', `${ns}/routeagents/east-worker/status`], ['GET', '/apis/submariner.io/v1/namespaces/other/routeagents/east-worker'], ['PUT', `${ns}/gateways/east-worker`],
  ] as const) assert.equal(ask(method, target), 'forbidden', `${method} ${target}`);
});

test('manifests/03-rbac-gateway.yaml: the gateway reads Nodes, writes Endpoints, Clusters, Gateways and Leases in the Submariner namespace, and nothing else', async () => {
  const { objects } = await rbacOf(GATEWAY_RBAC);
  const access = createAccessControl({ rbacObjects: () => objects, version: () => 1 });
  const token = access.tokens.issueServiceAccount('submariner-operator', 'seaway-gateway');
  const allowed = (method: string, target: string) => access.admit({ method, target, headers: { authorization: `Bearer ${token}` } }, false).refusal === undefined;
  const ns = '/apis/submariner.io/v1/namespaces/submariner-operator';
  for (const [method, target] of [
    ['GET', '/api/v1/nodes/gw-1'], ['GET', '/api/v1/nodes?watch=true&fieldSelector=metadata.name%3Dgw-1'],
    ['POST', `${ns}/endpoints`], ['PUT', `${ns}/endpoints/e`], ['DELETE', `${ns}/endpoints/e`], ['GET', `${ns}/clusters?watch=true`],
    ['PUT', `${ns}/gateways/gw-1`],
    ['POST', '/apis/coordination.k8s.io/v1/namespaces/submariner-operator/leases'], ['PUT', '/apis/coordination.k8s.io/v1/namespaces/submariner-operator/leases/seaway-gateway-lock'],
    ['GET', '/apis/coordination.k8s.io/v1/namespaces/submariner-operator/leases/submariner-gateway-lock'],
    ['POST', '/api/v1/namespaces/submariner-operator/events'],
  ] as const) assert.ok(allowed(method, target), `${method} ${target}`);
  for (const [method, target] of [
    ['PUT', '/api/v1/nodes/gw-1'], ['GET', `${ns}/routeagents`], ['PUT', `${ns}/routeagents/r`], ['DELETE', '/apis/coordination.k8s.io/v1/namespaces/submariner-operator/leases/x'],
    ['GET', '/api/v1/namespaces/submariner-operator/secrets'], ['GET', '/apis/submariner.io/v1/namespaces/kube-system/endpoints'],
  ] as const) assert.ok(!allowed(method, target), `${method} ${target} must be refused`);
});

test('manifests/broker/rbac.yaml: a joined cluster\'s account reads and writes Endpoints and Clusters in the broker namespace only', async () => {
  const { objects } = await rbacOf(BROKER_RBAC);
  const joined = brokerClusterAccess('east');
  assert.deepEqual(joined.account, { namespace: 'submariner-k8s-broker', name: 'cluster-east' });
  const binding = joined.manifests.find((m) => m.kind === 'RoleBinding') as Manifest;
  const access = createAccessControl({ rbacObjects: () => ({ ...objects, roleBindings: [binding] }), version: () => 1 });
  const token = access.tokens.issueServiceAccount('submariner-k8s-broker', 'cluster-east');
  const allowed = (method: string, target: string) => access.admit({ method, target, headers: { authorization: `Bearer ${token}` } }, false).refusal === undefined;
  const ns = '/apis/submariner.io/v1/namespaces/submariner-k8s-broker';
  for (const [method, target] of [['GET', `${ns}/endpoints?watch=true`], ['POST', `${ns}/clusters`], ['PUT', `${ns}/endpoints/e`], ['DELETE', `${ns}/endpoints/e`]] as const) {
    assert.ok(allowed(method, target), `${method} ${target}`);
  }
  for (const [method, target] of [['GET', '/api/v1/namespaces/submariner-k8s-broker/secrets'], ['GET', '/apis/submariner.io/v1/namespaces/other/endpoints'], ['POST', `${ns}/gateways`]] as const) {
    assert.ok(!allowed(method, target), `${method} ${target} must be refused`);
  }
  const other = access.tokens.issueServiceAccount('submariner-k8s-broker', 'cluster-west');
  assert.ok(access.admit({ method: 'GET', target: `${ns}/endpoints`, headers: { authorization: `Bearer ${other}` } }, false).refusal, 'an account with no binding is refused');
});
