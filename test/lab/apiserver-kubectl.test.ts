/**
 * Issue 11 item 4, as far as it goes: the kubectl on the machine against a lab API server, as an
 * operator uses it. With OpenAPI v3 served, `kubectl apply` validates on the server
 * (fieldValidation=Strict) and `explain` reads the CRD's schema; get, label, annotate, replace,
 * watch, delete and api-resources work on Submariner's kinds and on built-in kinds; server-side
 * apply keeps field managers and refuses conflicting applies until forced.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { run } from '../../src/kernel/exec.ts';
import { requireTools } from '../helpers/prereq.ts';
import { startApiServer, type RunningApiServer } from './apiserver/server.ts';
import { AdminClient } from './apiserver/admin-client.ts';
import { waitFor, writeKubeconfigFile } from './apiserver/test-support.ts';

let dir: string;
let server: RunningApiServer;
let kubeconfig: string;
let admin: AdminClient;

const kubectl = (args: string[], allowFailure = false) => run('kubectl', ['--kubeconfig', kubeconfig, ...args], { timeoutMs: 30_000, allowFailure });

const endpoint = (spec: Record<string, unknown> = {}) => JSON.stringify({
  apiVersion: 'submariner.io/v1', kind: 'Endpoint', metadata: { name: 'demo', namespace: 'submariner-operator' },
  spec: {
    cluster_id: 'east', cable_name: 'submariner-cable-east-192-168-1-1', hostname: 'gw', subnets: ['10.1.0.0/16'],
    private_ip: '192.168.1.1', public_ip: '203.0.113.1', nat_enabled: false, backend: 'libreswan', backend_config: {}, ...spec,
  },
});

before(async () => {
  requireTools('kubectl');
  dir = await mkdtemp(join(tmpdir(), 'seaway-kubectl-'));
  server = await startApiServer({ host: '127.0.0.1' });
  admin = new AdminClient(server.url);
  kubeconfig = await writeKubeconfigFile(dir, server.url);
});

after(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('kubectl apply validates on the server: created, unchanged, and an unknown field or a wrong type refused', async () => {
  const file = join(dir, 'endpoint.json');
  await writeFile(file, endpoint());
  assert.match((await kubectl(['apply', '-f', file])).stdout, /endpoint\.submariner\.io\/demo created/);
  assert.match((await kubectl(['apply', '-f', file])).stdout, /endpoint\.submariner\.io\/demo unchanged/);
  await writeFile(file, endpoint({ bogus: 1 }));
  const unknown = await kubectl(['apply', '-f', file], true);
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.stderr, /strict decoding error: unknown field "spec\.bogus"/);
  await writeFile(file, endpoint({ cable_name: 7 }));
  const wrongType = await kubectl(['apply', '-f', file], true);
  assert.notEqual(wrongType.code, 0);
  assert.match(wrongType.stderr, /spec\.cable_name: Invalid value: "integer": spec\.cable_name in body must be of type string/);
});

/** The managed-fields entries of an object, as `manager/operation: fields` lines (fields as dotted leaf paths). */
async function owners(args: string[]): Promise<string[]> {
  const object = JSON.parse((await kubectl(['get', ...args, '-o', 'json', '--show-managed-fields'])).stdout) as { metadata: { managedFields?: { manager: string; operation: string; fieldsV1: object }[] } };
  const leaves = (node: object, prefix: string): string[] => {
    const keys = Object.keys(node);
    return keys.length === 0 ? [prefix] : keys.flatMap((k) => leaves((node as Record<string, object>)[k] ?? {}, `${prefix}.${k.replace(/^f:/, '')}`));
  };
  return (object.metadata.managedFields ?? []).map((e) => `${e.manager}/${e.operation}: ${leaves(e.fieldsV1, '').sort().join(' ')}`).sort();
}

test('kubectl apply --server-side: field managers own what they set, a conflicting apply is refused until forced, dropped fields go', async () => {
  const file = join(dir, 'ssa.yaml');
  const config = (spec: Record<string, unknown>, labels: Record<string, string>) => JSON.stringify({
    ...JSON.parse(endpoint(spec)), metadata: { name: 'ssa', namespace: 'submariner-operator', labels },
  });
  await writeFile(file, config({}, { tier: 'gw', zone: 'a' }));
  assert.match((await kubectl(['apply', '--server-side', '-f', file])).stdout, /endpoint\.submariner\.io\/ssa serverside-applied/);
  const target = ['endpoints.submariner.io', 'ssa', '-n', 'submariner-operator'];
  const mine = (await owners(target))[0] ?? '';
  assert.match(mine, /^kubectl\/Apply: /);
  assert.match(mine, / \.metadata\.labels\.zone /);
  assert.match(mine, / \.spec\.hostname /);

  // kubectl label records its own Update: the new label is its alone.
  await kubectl(['label', ...target, 'owner=ops']);
  assert.ok((await owners(target)).includes('kubectl-label/Update: .metadata.labels.owner'));

  // Another manager changing the hostname conflicts with kubectl, and kubectl prints the server's words.
  const other = join(dir, 'ssa-other.yaml');
  await writeFile(other, JSON.stringify({ apiVersion: 'submariner.io/v1', kind: 'Endpoint', metadata: { name: 'ssa', namespace: 'submariner-operator' }, spec: { hostname: 'gw-2' } }));
  const refused = await kubectl(['apply', '--server-side', '--field-manager', 'operator', '-f', other], true);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /Apply failed with 1 conflict: conflict with "kubectl" using submariner\.io\/v1: \.spec\.hostname/);
  assert.match((await kubectl(['get', ...target, '-o', 'jsonpath={.spec.hostname}'])).stdout, /^gw$/, 'a refused apply changes nothing');

  await kubectl(['apply', '--server-side', '--field-manager', 'operator', '--force-conflicts', '-f', other]);
  assert.equal((await kubectl(['get', ...target, '-o', 'jsonpath={.spec.hostname}'])).stdout, 'gw-2');
  const after = await owners(target);
  assert.ok(after.includes('operator/Apply: .spec.hostname'), after.join('\n'));
  assert.doesNotMatch(after.find((l) => l.startsWith('kubectl/Apply')) ?? '', /hostname/, 'forcing took the field from kubectl');

  // kubectl applies again without the zone label (and the operator's hostname, shared): the label goes; the one kubectl-label set stays.
  await writeFile(file, config({ hostname: 'gw-2' }, { tier: 'gw' }));
  await kubectl(['apply', '--server-side', '-f', file]);
  const labels = JSON.parse((await kubectl(['get', ...target, '-o', 'jsonpath={.metadata.labels}'])).stdout) as Record<string, string>;
  assert.deepEqual(labels, { tier: 'gw', owner: 'ops' });
  await kubectl(['delete', ...target]);
});

test('client-side apply then server-side apply of the same file: no conflict (the fields are shared, as kubectl migrates)', async () => {
  const file = join(dir, 'migrate.json');
  await writeFile(file, endpoint({ hostname: 'gw-m' }).replace('"demo"', '"migrate"'));
  await kubectl(['apply', '-f', file]);
  assert.match((await kubectl(['apply', '--server-side', '-f', file])).stdout, /serverside-applied/);
  await kubectl(['delete', '-f', file]);
});

test('kubectl get, label, annotate, replace, watch and delete on an Endpoint; explain reads its CRD schema; api-resources lists the kinds', async () => {
  const file = join(dir, 'endpoint.json');
  await writeFile(file, endpoint());
  await kubectl(['apply', '-f', file]);
  const ns = ['-n', 'submariner-operator'];
  await kubectl(['label', 'endpoint', 'demo', ...ns, 'tier=gateway']);
  await kubectl(['annotate', 'endpoint', 'demo', ...ns, 'note=lab']);
  const got = JSON.parse((await kubectl(['get', 'endpoint', 'demo', ...ns, '-o', 'json'])).stdout) as { metadata: { labels: Record<string, string>; annotations: Record<string, string> } };
  assert.equal(got.metadata.labels.tier, 'gateway');
  assert.equal(got.metadata.annotations.note, 'lab');
  const replaced = join(dir, 'replaced.json');
  await writeFile(replaced, JSON.stringify({ ...got, spec: JSON.parse(endpoint({ hostname: 'gw-2' })).spec }));
  assert.match((await kubectl(['replace', '-f', replaced])).stdout, /replaced/);
  const watching = kubectl(['get', 'endpoints', ...ns, '-w', '--output-watch-events', '--request-timeout=3s']);
  // Changed once kubectl's watch is open (before, the change would be in its list, not an event).
  await waitFor('kubectl\'s watch to be open', async () => (await admin.watches()).some((w) => w.path.includes('/endpoints')), 5000);
  await kubectl(['annotate', 'endpoint', 'demo', ...ns, 'seen=yes']);
  const watched = (await watching).stdout;
  assert.match(watched, /ADDED +demo/);
  assert.match(watched, /MODIFIED +demo/);
  const explained = (await kubectl(['explain', 'endpoints.spec'])).stdout;
  assert.match(explained, /KIND: +Endpoint/);
  assert.match(explained, /cable_name\s+<string> -required-/);
  const resources = (await kubectl(['api-resources', '-o', 'name'])).stdout.split('\n');
  for (const name of ['endpoints.submariner.io', 'gateways.submariner.io', 'nodes', 'clusterroles.rbac.authorization.k8s.io']) assert.ok(resources.includes(name), name);
  assert.match((await kubectl(['delete', 'endpoint', 'demo', ...ns])).stdout, /deleted/);
  assert.match((await kubectl(['get', 'endpoints', ...ns], true)).stderr, /No resources found/);
});

test('kubectl on built-in kinds: apply client- and server-side, label, annotate, replace, watch, explain, delete; an unknown field is refused', async () => {
  const file = join(dir, 'configmap.json');
  const configMap = (extra: Record<string, unknown> = {}) => JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: 'default' }, data: { a: '1' }, ...extra });
  await writeFile(file, configMap());
  assert.match((await kubectl(['apply', '-f', file])).stdout, /configmap\/settings created/);
  assert.equal((await kubectl(['get', 'configmap', 'settings', '-o', 'jsonpath={.data.a}'])).stdout, '1');
  await kubectl(['label', 'configmap', 'settings', 'tier=lab']);
  await kubectl(['annotate', 'configmap', 'settings', 'note=kept']);
  const watching = kubectl(['get', 'configmaps', '-w', '--output-watch-events', '--request-timeout=3s']);
  await waitFor('kubectl\'s watch to be open', async () => (await admin.watches()).some((w) => w.path.includes('/configmaps')), 5000);
  await writeFile(file, configMap({ data: { a: '2' } }));
  assert.match((await kubectl(['apply', '--server-side', '--force-conflicts', '-f', file])).stdout, /configmap\/settings serverside-applied/);
  assert.match((await watching).stdout, /MODIFIED +settings/);
  const got = JSON.parse((await kubectl(['get', 'configmap', 'settings', '-o', 'json'])).stdout) as { data: Record<string, string>; metadata: { labels: Record<string, string>; annotations: Record<string, string> } };
  assert.deepEqual(got.data, { a: '2' });
  assert.equal(got.metadata.labels.tier, 'lab');
  assert.equal(got.metadata.annotations.note, 'kept');
  const replaced = join(dir, 'configmap-replaced.json');
  await writeFile(replaced, JSON.stringify({ ...got, data: { b: '3' } }));
  assert.match((await kubectl(['replace', '-f', replaced])).stdout, /configmap\/settings replaced/);
  assert.deepEqual(JSON.parse((await kubectl(['get', 'configmap', 'settings', '-o', 'jsonpath={.data}'])).stdout), { b: '3' });

  // A typo in a built-in kind is refused as a real API server refuses it (kubectl validates on the server, Strict).
  await writeFile(file, configMap({ dta: { a: '1' } }));
  const typo = await kubectl(['apply', '-f', file], true);
  assert.notEqual(typo.code, 0);
  assert.match(typo.stderr, /strict decoding error: unknown field "dta"/);
  const daemonSet = join(dir, 'daemonset.json');
  await writeFile(daemonSet, JSON.stringify({
    apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'agent', namespace: 'default' },
    spec: { selector: { matchLabels: { app: 'agent' } }, template: { metadata: { labels: { app: 'agent' } }, spec: { containers: [{ name: 'agent', image: 'seaway', imagePullPolcy: 'Never' }] } } },
  }));
  const nested = await kubectl(['apply', '-f', daemonSet], true);
  assert.notEqual(nested.code, 0);
  assert.match(nested.stderr, /unknown field "spec\.template\.spec\.containers\[0\]\.imagePullPolcy"/);

  const explained = (await kubectl(['explain', 'daemonset.spec.template.spec.containers.ports'])).stdout;
  assert.match(explained, /KIND: +DaemonSet/);
  assert.match(explained, /containerPort\s+<integer>/);
  assert.match((await kubectl(['explain', 'configmap.data'])).stdout, /FIELD: +data <map\[string\]string>/);
  assert.match((await kubectl(['delete', 'configmap', 'settings'])).stdout, /deleted/);
});

test('a CRD applied with kubectl makes its kind usable through kubectl', async () => {
  const crd = join(dir, 'crd.json');
  await writeFile(crd, JSON.stringify({
    apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'widgets.example.com' },
    spec: {
      group: 'example.com', scope: 'Namespaced', names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
      versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { size: { type: 'integer' } } } } } } }],
    },
  }));
  assert.match((await kubectl(['apply', '-f', crd])).stdout, /customresourcedefinition\.apiextensions\.k8s\.io\/widgets\.example\.com created/);
  await kubectl(['wait', '--for=condition=Established', 'crd/widgets.example.com', '--timeout=10s']);
  const widget = join(dir, 'widget.json');
  await writeFile(widget, JSON.stringify({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w1', namespace: 'default' }, spec: { size: 3 } }));
  assert.match((await kubectl(['apply', '-f', widget])).stdout, /widget\.example\.com\/w1 created/);
  assert.equal((await kubectl(['get', 'widget', 'w1', '-o', 'jsonpath={.spec.size}'])).stdout, '3');
  await writeFile(widget, JSON.stringify({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w2', namespace: 'default' }, spec: { size: 'big' } }));
  assert.match((await kubectl(['apply', '-f', widget], true)).stderr, /spec\.size in body must be of type integer/);
  await kubectl(['delete', 'crd', 'widgets.example.com']);
});

test('OpenAPI v2 and v3 documents: every served kind, custom resources with their CRD schema, tagged with their group-version-kind', async () => {
  const v2 = await (await fetch(`${server.url}/openapi/v2`)).json() as { swagger: string; paths: Record<string, Record<string, { 'x-kubernetes-group-version-kind': unknown; parameters?: Array<{ name: string; type?: string }> }>>; definitions: Record<string, { properties?: Record<string, unknown>; 'x-kubernetes-group-version-kind': unknown }> };
  assert.equal(v2.swagger, '2.0');
  const endpoint = v2.definitions['io.submariner.v1.Endpoint'];
  assert.deepEqual(endpoint?.['x-kubernetes-group-version-kind'], [{ group: 'submariner.io', version: 'v1', kind: 'Endpoint' }]);
  assert.ok(endpoint?.properties?.spec, 'the CRD\'s schema');
  const patch = v2.paths['/apis/submariner.io/v1/namespaces/{namespace}/endpoints/{name}']?.patch;
  assert.deepEqual(patch?.['x-kubernetes-group-version-kind'], { group: 'submariner.io', version: 'v1', kind: 'Endpoint' });
  assert.deepEqual(patch?.parameters?.find((p) => p.name === 'fieldValidation')?.type, 'string', 'Swagger 2.0 types a parameter on itself');
  for (const name of ['io.k8s.api.core.v1.Node', 'io.k8s.api.rbac.v1.ClusterRole', 'io.k8s.api.coordination.v1.Lease', 'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition', 'io.submariner.v1.Gateway']) assert.ok(v2.definitions[name], name);
  const root = await (await fetch(`${server.url}/openapi/v3`)).json() as { paths: Record<string, { serverRelativeURL: string }> };
  for (const key of ['api/v1', 'apis/submariner.io/v1', 'apis/rbac.authorization.k8s.io/v1']) assert.match(root.paths[key]?.serverRelativeURL ?? '', new RegExp(`^/openapi/v3/${key.replace(/[./]/g, '\\$&')}\\?hash=[0-9A-F]+$`), key);
  const document = await (await fetch(`${server.url}${root.paths['apis/submariner.io/v1']!.serverRelativeURL}`)).json() as { openapi: string; components: { schemas: Record<string, unknown> } };
  assert.equal(document.openapi, '3.0.0');
  assert.ok(document.components.schemas['io.submariner.v1.RouteAgent']);
  assert.equal((await fetch(`${server.url}/openapi/v3/apis/nothing.example/v9`)).status, 404);
});
