/**
 * The built-in kinds Submariner's and seaway's manifests use, through the real @kubernetes/client-node:
 * served in discovery, created, read and updated; Pods start Pending, DaemonSets without the status a client sent.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AppsV1Api, CoreV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { startApiServer, type RunningApiServer } from './apiserver/server.ts';
import { expectStatus, kubeConfigFor } from './apiserver/test-support.ts';

const namespace = 'submariner-operator';
let server: RunningApiServer;
let core: CoreV1Api;
let apps: AppsV1Api;
let rbac: RbacAuthorizationV1Api;
before(async () => {
  server = await startApiServer();
  const kc = kubeConfigFor(server.url);
  core = kc.makeApiClient(CoreV1Api);
  apps = kc.makeApiClient(AppsV1Api);
  rbac = kc.makeApiClient(RbacAuthorizationV1Api);
});
after(() => server.close());

test('discovery lists the built-in kinds with their short names, categories and status subresources', async () => {
  const coreResources = new Map((await core.getAPIResources()).resources.map((r) => [r.name, r]));
  for (const [name, shortName] of [['configmaps', 'cm'], ['serviceaccounts', 'sa'], ['pods', 'po'], ['secrets', undefined]] as const) {
    assert.equal(coreResources.get(name)?.namespaced, true, name);
    assert.deepEqual(coreResources.get(name)?.shortNames, shortName ? [shortName] : undefined, name);
  }
  assert.deepEqual(coreResources.get('pods')?.categories, ['all']);
  assert.ok(coreResources.has('pods/status'));
  const appsResources = new Map((await apps.getAPIResources()).resources.map((r) => [r.name, r]));
  assert.deepEqual([...appsResources.keys()].sort(), ['daemonsets', 'daemonsets/status']);
  assert.deepEqual(appsResources.get('daemonsets')?.shortNames, ['ds']);
  const rbacResources = (await rbac.getAPIResources()).resources.map((r) => `${r.name}${r.namespaced ? '' : ' (cluster)'}`).sort();
  assert.deepEqual(rbacResources, ['clusterrolebindings (cluster)', 'clusterroles (cluster)', 'rolebindings', 'roles']);
});

test('ServiceAccount, ConfigMap and the RBAC kinds are created, read, replaced without a resourceVersion and deleted', async () => {
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'submariner-routeagent' } } });
  assert.equal((await core.readNamespacedServiceAccount({ namespace, name: 'submariner-routeagent' })).metadata?.namespace, namespace);
  await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'settings' }, data: { a: '1' } } });
  const replaced = await core.replaceNamespacedConfigMap({ namespace, name: 'settings', body: { metadata: { name: 'settings' }, data: { a: '2' } } });
  assert.deepEqual(replaced.data, { a: '2' }, 'built-in kinds may update unconditionally');

  const rule = { apiGroups: ['submariner.io'], resources: ['endpoints'], verbs: ['get', 'list', 'watch'] };
  await rbac.createClusterRole({ body: { metadata: { name: 'submariner-routeagent' }, rules: [rule] } });
  await rbac.createClusterRoleBinding({ body: { metadata: { name: 'submariner-routeagent' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'submariner-routeagent' },
    subjects: [{ kind: 'ServiceAccount', name: 'submariner-routeagent', namespace }] } });
  await rbac.createNamespacedRole({ namespace, body: { metadata: { name: 'leader-election' }, rules: [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['*'] }] } });
  await rbac.createNamespacedRoleBinding({ namespace, body: { metadata: { name: 'leader-election' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'leader-election' },
    subjects: [{ kind: 'ServiceAccount', name: 'submariner-routeagent', namespace }] } });
  assert.deepEqual((await rbac.readClusterRole({ name: 'submariner-routeagent' })).rules?.[0]?.resources, ['endpoints']);
  assert.deepEqual((await rbac.listNamespacedRoleBinding({ namespace })).items.map((b) => b.metadata?.name), ['leader-election']);
  await rbac.deleteClusterRole({ name: 'submariner-routeagent' });
  assert.equal((await expectStatus(() => rbac.readClusterRole({ name: 'submariner-routeagent' }))).httpCode, 404);
});

test('a Pod starts Pending with its QoS class whatever status it was sent with; its status changes through /status', async () => {
  const container = (name: string, resources?: Record<string, Record<string, string>>) => ({ name, image: 'routeagent', ...(resources ? { resources } : {}) });
  const besteffort = await core.createNamespacedPod({ namespace, body: { metadata: { name: 'p-1' }, spec: { containers: [container('a')] }, status: { phase: 'Running' } } });
  assert.deepEqual({ ...besteffort.status }, { phase: 'Pending', qosClass: 'BestEffort' });
  const guaranteed = await core.createNamespacedPod({ namespace, body: { metadata: { name: 'p-2' }, spec: { containers: [container('a', { limits: { cpu: '1', memory: '1Gi' } })] } } });
  assert.equal(guaranteed.status?.qosClass, 'Guaranteed');
  const burstable = await core.createNamespacedPod({ namespace, body: { metadata: { name: 'p-3' }, spec: { containers: [container('a', { requests: { cpu: '100m' } })] } } });
  assert.equal(burstable.status?.qosClass, 'Burstable');
  const running = await core.replaceNamespacedPodStatus({ namespace, name: 'p-1', body: { ...besteffort, status: { phase: 'Running', qosClass: 'BestEffort' } } });
  assert.equal(running.status?.phase, 'Running');
});

test('a DaemonSet drops the status of its create body; its status is written through /status only', async () => {
  const body = {
    metadata: { name: 'seaway' },
    spec: { selector: { matchLabels: { app: 'seaway' } }, template: { metadata: { labels: { app: 'seaway' } }, spec: { containers: [{ name: 'seaway', image: 'seaway' }] } } },
    status: { currentNumberScheduled: 3, desiredNumberScheduled: 3, numberMisscheduled: 0, numberReady: 3 },
  };
  const created = await apps.createNamespacedDaemonSet({ namespace, body });
  assert.equal(created.status, undefined);
  const withStatus = await apps.replaceNamespacedDaemonSetStatus({ namespace, name: 'seaway', body: { ...created, status: body.status } });
  assert.equal(withStatus.status?.numberReady, 3);
  const main = await apps.replaceNamespacedDaemonSet({ namespace, name: 'seaway', body: { ...withStatus, status: { ...body.status, numberReady: 0 } } });
  assert.equal(main.status?.numberReady, 3, 'the main resource ignores status');
});
