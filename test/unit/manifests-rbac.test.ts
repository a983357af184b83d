import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { loadAll } from 'js-yaml';
import { createAccessControl } from '../lab/apiserver/access.ts';
import type { RbacObjects } from '../lab/apiserver/rbac-policy.ts';

type Manifest = { kind: string; metadata: { name: string; namespace?: string } };

async function rbacOf(file: string): Promise<{ objects: RbacObjects; manifests: Manifest[] }> {
  const manifests = loadAll(await readFile(new URL(`../../manifests/rbac/${file}`, import.meta.url), 'utf8')) as Manifest[];
  const of = (kind: string) => manifests.filter((m) => m.kind === kind);
  return { manifests, objects: { roles: of('Role'), clusterRoles: of('ClusterRole'), roleBindings: of('RoleBinding'), clusterRoleBindings: of('ClusterRoleBinding') } };
}

test('manifests/rbac/route-agent.yaml grants the route agent exactly what its informers and Event recorder ask for', async () => {
  const { objects, manifests } = await rbacOf('route-agent.yaml');
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
  ] as const) {
    const rule = ask(method, target);
    assert.notEqual(rule, 'forbidden', `${method} ${target}`);
    used.add(rule);
  }
  assert.deepEqual([...used].sort(), ['ClusterRole/seaway-route-agent#0', 'Role/submariner-operator/seaway-route-agent#0', 'Role/submariner-operator/seaway-route-agent#1'], 'every rule is used');
  for (const [method, target] of [
    ['GET', '/api/v1/nodes/node-1'], ['POST', `${ns}/endpoints`], ['GET', '/apis/submariner.io/v1/namespaces/other/endpoints'],
    ['GET', '/api/v1/namespaces/submariner-operator/secrets'], ['PATCH', '/api/v1/namespaces/submariner-operator/events/x'],
  ] as const) assert.equal(ask(method, target), 'forbidden', `${method} ${target}`);
});
