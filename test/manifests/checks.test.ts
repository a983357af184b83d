/**
 * The checkers themselves, each on inputs made to fail it (copies of the real documents with one thing
 * changed, and malformed input): a checker that cannot fail proves nothing about manifests/.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseManifestText, readManifestDir, type ManifestDoc } from './manifest-files.ts';
import { schemaProblems } from './schema-validation.ts';
import { modelTypeFor, unknownFields } from './unknown-fields.ts';
import { crossReferenceProblems, selectorMatches } from './cross-references.ts';
import { portNameProblem, workloadProblems } from './workload-checks.ts';
import { parseAgentSettings, variablesOf } from './agent-settings.ts';
import { alertProblems, targetLabels, type AlertRule } from './prometheus-rules.ts';
import { checkContext, unknownFieldProblems } from './check-manifests.ts';

const real = readManifestDir();
const context = checkContext();

/** Parsed YAML being edited: any, so a test reads like the path it changes. */
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The real documents with one changed (a deep copy; the real ones stay as read). */
function changed(file: string, index: number, edit: (object: Json) => void): ManifestDoc[] {
  return real.map((doc) => {
    if (doc.file !== file || doc.index !== index) return doc;
    const object = structuredClone(doc.object) as Json;
    edit(object);
    return { ...doc, object };
  });
}

const only = (docs: ManifestDoc[], file: string, index: number) => docs.find((d) => d.file === file && d.index === index)!;
const routeAgent = (o: Json) => o.spec.template.spec;
const container = (o: Json) => o.spec.template.spec.containers[0];
const env = (o: Json, name: string) => container(o).env.find((e: Json) => e.name === name);
/** Asserts some problem matches each pattern (and shows them all when none does). */
function assertFound(problems: string[], ...patterns: RegExp[]): void {
  for (const pattern of patterns) assert.ok(problems.some((p) => pattern.test(p)), `no problem matches ${pattern}; found:\n  ${problems.join('\n  ') || '(none)'}`);
}

describe('manifest files', () => {
  test('documents are objects; empty documents are skipped; a parse error or a scalar document names the file', () => {
    assert.deepEqual(parseManifestText('a.yaml', '---\n# only a comment\n---\nkind: X\n---\n').map((d) => [d.index, d.object.kind]), [[0, 'X']]);
    assert.throws(() => parseManifestText('bad.yaml', 'kind: [unclosed'), /^Error: bad\.yaml: not valid YAML/);
    assert.throws(() => parseManifestText('scalar.yaml', 'kind: X\n---\njust text\n'), /scalar\.yaml#1: a manifest document must be an object/);
    assert.throws(() => parseManifestText('list.yaml', '- a\n- b\n'), /list\.yaml#0: a manifest document must be an object/);
  });
});

describe('schemas (kubernetes-models)', () => {
  test('a missing required field, a wrong type and a malformed quantity are each reported with their path', () => {
    const docs = changed('10-route-agent.yaml', 0, (o) => {
      delete o.spec.selector;
      container(o).ports[0].containerPort = '9082';
      container(o).resources.limits.memory = '256 Mi';
    });
    const problems = schemaProblems(only(docs, '10-route-agent.yaml', 0));
    assertFound(problems, /10-route-agent\.yaml#0 DaemonSet submariner-operator\/seaway-route-agent: \/spec must have required property selector/,
      /\/ports\/0\/containerPort must be integer/, /limits\/memory must match format "quantity"/);
  });

  test('a kind seaway does not ship is refused, naming the kinds it knows', () => {
    assertFound(schemaProblems({ file: 'x.yaml', index: 0, object: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' } } }), /"v1 Secret" is not a kind seaway ships/);
    assertFound(schemaProblems({ file: 'x.yaml', index: 0, object: { kind: 'DaemonSet' } }), /" DaemonSet" is not a kind seaway ships/);
  });
});

describe('unknown fields', () => {
  test('model types come from apiVersion and kind; custom and malformed kinds have none', () => {
    assert.equal(modelTypeFor('apps/v1', 'DaemonSet'), 'V1DaemonSet');
    assert.equal(modelTypeFor('v1', 'Namespace'), 'V1Namespace');
    assert.equal(modelTypeFor('apiextensions.k8s.io/v1', 'CustomResourceDefinition'), 'V1CustomResourceDefinition');
    assert.equal(modelTypeFor('monitoring.coreos.com/v1', 'PodMonitor'), null);
    assert.equal(modelTypeFor('v1', 'daemonset'), null);
    assert.equal(modelTypeFor('', ''), null);
    assert.equal(modelTypeFor('v1', '__proto__'), null);
  });

  test('a typo anywhere in a DaemonSet is named by its path: pod spec, list items, nested objects', () => {
    const docs = changed('10-route-agent.yaml', 0, (o) => {
      routeAgent(o).hostNetwrok = true;
      container(o).ports[0].hostport = 9082;
      container(o).securityContext.privilged = true;
      o.metadata.lables = {};
    });
    assert.deepEqual(unknownFields(only(docs, '10-route-agent.yaml', 0).object, 'V1DaemonSet').sort(), [
      '.metadata.lables: unknown field (not in V1ObjectMeta)',
      '.spec.template.spec.containers[0].ports[0].hostport: unknown field (not in V1ContainerPort)',
      '.spec.template.spec.containers[0].securityContext.privilged: unknown field (not in V1SecurityContext)',
      '.spec.template.spec.hostNetwrok: unknown field (not in V1PodSpec)',
    ]);
  });

  test('a CRD schema is walked through properties, items and additionalProperties', () => {
    const docs = changed('01-crds.yaml', 1, (o) => {
      const schema = o.spec.versions[0].schema.openAPIV3Schema;
      schema.properties.spec.properties.subnets.items.tpye = 'string';
      schema.properties.spec.properties.backend_config.additionalProperties.formt = 'x';
      schema.properties.spec.requird = ['x'];
    });
    assert.deepEqual(unknownFields(only(docs, '01-crds.yaml', 1).object, 'V1CustomResourceDefinition').map((p) => p.replace(/:.*$/, '')).sort(), [
      '.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.backend_config.additionalProperties.formt',
      '.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.subnets.items.tpye',
      '.spec.versions[0].schema.openAPIV3Schema.properties.spec.requird',
    ]);
  });

  test('values of the wrong shape are left to the schema check, never a crash; labels\' values are data', () => {
    assert.deepEqual(unknownFields({ metadata: 'x', spec: [1, 2], kind: { a: 1 } }, 'V1DaemonSet'), []);
    assert.deepEqual(unknownFields({ metadata: { labels: { anything: 'goes', 'a.b/c': 'd' } } }, 'V1DaemonSet'), []);
    assert.deepEqual(unknownFields(null, 'V1DaemonSet'), []);
    assert.deepEqual(unknownFields({ a: 1 }, 'V1NoSuchThing'), ['/: client-node has no model V1NoSuchThing to check it against']);
  });

  test('monitoring kinds are walked along prometheus-operator\'s declarations; a kind with no model at all is named', () => {
    const docs = changed('monitoring/pod-monitor.yaml', 0, (o) => { o.spec.podMetricsEndpoints[0].intervall = '5s'; o.spec.selecter = {}; });
    assertFound(unknownFieldProblems(docs, context.monitoring),
      /pod-monitor\.yaml#0 PodMonitor submariner-operator\/seaway: \.spec\.podMetricsEndpoints\[0\]\.intervall: unknown field/,
      /pod-monitor\.yaml#0 PodMonitor submariner-operator\/seaway: \.spec\.selecter: unknown field/);
    const rules = changed('monitoring/prometheus-rule.yaml', 0, (o) => { o.spec.groups[0].rules[0].fore = '5m'; });
    assertFound(unknownFieldProblems(rules, context.monitoring), /\.spec\.groups\[0\]\.rules\[0\]\.fore: unknown field/);
    assertFound(unknownFieldProblems([{ file: 'x.yaml', index: 0, object: { apiVersion: 'example.com/v1', kind: 'Widget' } }], context.monitoring), /no model of Widget/);
  });
});

describe('label selectors', () => {
  const labels = { app: 'seaway', component: 'gateway' };
  test('matchLabels and every operator of matchExpressions, as Kubernetes evaluates them', () => {
    assert.equal(selectorMatches({ matchLabels: { app: 'seaway' } }, labels), true);
    assert.equal(selectorMatches({ matchLabels: { app: 'seaway', component: 'route-agent' } }, labels), false);
    assert.equal(selectorMatches({ matchExpressions: [{ key: 'component', operator: 'In', values: ['gateway', 'route-agent'] }] }, labels), true);
    assert.equal(selectorMatches({ matchExpressions: [{ key: 'component', operator: 'NotIn', values: ['gateway'] }] }, labels), false);
    assert.equal(selectorMatches({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['x'] }] }, labels), true);
    assert.equal(selectorMatches({ matchExpressions: [{ key: 'app', operator: 'Exists' }] }, labels), true);
    assert.equal(selectorMatches({ matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }, labels), false);
  });
  test('malformed selectors never match by accident', () => {
    assert.equal(selectorMatches({ matchExpressions: [{ key: 'app', operator: 'Equals', values: ['seaway'] }] }, labels), false);
    assert.equal(selectorMatches({ matchExpressions: [{ key: 'app', operator: 'In' }] }, labels), false);
    assert.equal(selectorMatches({ matchLabels: { app: 1 } }, labels), false);
  });
});

describe('cross-references', () => {
  const problemsOf = (file: string, index: number, edit: (o: Json) => void) => crossReferenceProblems(changed(file, index, edit));

  test('names must be RFC 1123; an object twice is named', () => {
    assertFound(problemsOf('02-rbac-route-agent.yaml', 3, (o) => { o.metadata.name = 'Seaway_Route'; }), /Role submariner-operator\/Seaway_Route: metadata\.name "Seaway_Route" is not a DNS-1123 subdomain/);
    const twice = [...real, { ...real.find((d) => d.file === '10-route-agent.yaml')!, index: 1 }];
    assertFound(crossReferenceProblems(twice), /10-route-agent\.yaml#1 DaemonSet .*: the same object as 10-route-agent\.yaml#0/);
  });

  test('namespaced objects are in Submariner\'s namespace (the broker\'s in broker/), cluster-scoped ones in none', () => {
    assertFound(problemsOf('11-gateway.yaml', 0, (o) => { o.metadata.namespace = 'default'; }), /11-gateway\.yaml#0 DaemonSet default\/seaway-gateway: in namespace "default", expected "submariner-operator"/);
    assertFound(problemsOf('02-rbac-route-agent.yaml', 1, (o) => { o.metadata.namespace = 'submariner-operator'; }), /ClusterRole is cluster-scoped; it has no namespace/);
    assertFound(problemsOf('broker/rbac.yaml', 1, (o) => { o.metadata.namespace = 'submariner-operator'; }), /in namespace "submariner-operator", expected "submariner-k8s-broker"/);
    const noNamespace = real.filter((d) => d.file !== '00-namespace.yaml');
    assertFound(crossReferenceProblems(noNamespace), /10-route-agent\.yaml#0 .*namespace submariner-operator is not created before it/);
  });

  test('the top-level files install nothing that belongs elsewhere', () => {
    const moved = real.map((d) => (d.file === 'monitoring/pod-monitor.yaml' ? { ...d, file: '20-pod-monitor.yaml' } : d));
    assertFound(crossReferenceProblems(moved), /20-pod-monitor\.yaml#0 PodMonitor .*needs prometheus-operator's CRDs/);
    const uninstall = real.map((d) => (d.file === 'uninstall/uninstall.yaml' ? { ...d, file: '90-uninstall.yaml' } : d));
    assertFound(crossReferenceProblems(uninstall), /90-uninstall\.yaml#3 DaemonSet .*belongs in manifests\/uninstall/);
  });

  test('a DaemonSet\'s selector matches its pods, on name and component, and no other DaemonSet\'s', () => {
    assertFound(problemsOf('11-gateway.yaml', 0, (o) => { o.spec.selector.matchLabels['app.kubernetes.io/component'] = 'gateways'; }), /11-gateway\.yaml#0 DaemonSet .*: spec\.selector .* does not match the template's labels/);
    assertFound(problemsOf('11-gateway.yaml', 0, (o) => { delete o.spec.selector.matchLabels['app.kubernetes.io/component']; }),
      /spec\.selector must match on app\.kubernetes\.io\/name=seaway and app\.kubernetes\.io\/component=gateway/, /spec\.selector also matches the pods of 10-route-agent\.yaml#0/);
    assertFound(problemsOf('11-gateway.yaml', 0, (o) => { o.spec.selector = {}; }), /spec\.selector selects every pod/);
    assertFound(problemsOf('11-gateway.yaml', 0, (o) => { o.metadata.labels['app.kubernetes.io/component'] = 'route-agent'; }), /metadata label app\.kubernetes\.io\/component "route-agent" differs from its pods' "gateway"/);
  });

  test('bindings refer to roles and service accounts that exist; pods run as accounts that exist', () => {
    assertFound(problemsOf('02-rbac-route-agent.yaml', 4, (o) => { o.roleRef.name = 'seaway-route'; }), /RoleBinding submariner-operator\/seaway-route-agent: roleRef Role submariner-operator\/seaway-route is not in the manifests/);
    assertFound(problemsOf('02-rbac-route-agent.yaml', 2, (o) => { o.subjects[0].name = 'seaway-routeagent'; }), /subject ServiceAccount submariner-operator\/seaway-routeagent is not in the manifests/);
    assertFound(problemsOf('02-rbac-route-agent.yaml', 2, (o) => { o.roleRef.kind = 'Role'; }), /a ClusterRoleBinding can only refer to a ClusterRole/);
    assertFound(problemsOf('02-rbac-route-agent.yaml', 4, (o) => { o.subjects = [{ kind: 'User', name: 'alice' }]; }), /subject User alice: seaway binds only its ServiceAccounts/);
    assertFound(problemsOf('10-route-agent.yaml', 0, (o) => { routeAgent(o).serviceAccountName = 'seaway-agent'; }), /serviceAccountName submariner-operator\/seaway-agent is not in the manifests/);
    assertFound(problemsOf('10-route-agent.yaml', 0, (o) => { delete routeAgent(o).serviceAccountName; }), /no serviceAccountName/);
  });

  test('resourceNames on verbs that never carry a name, and wildcards, are refused', () => {
    assertFound(problemsOf('uninstall/uninstall.yaml', 1, (o) => { o.rules[0].verbs.push('list'); }), /Role submariner-operator\/seaway-uninstall: rule 0 narrows list with resourceNames/);
    assertFound(problemsOf('02-rbac-route-agent.yaml', 3, (o) => { o.rules[0].verbs = ['*']; }), /rule 0 uses a wildcard/);
  });

  test('the PodMonitor selects seaway\'s pods, and each of them declares its port', () => {
    assertFound(problemsOf('monitoring/pod-monitor.yaml', 0, (o) => { o.spec.podMetricsEndpoints[0].port = 'http-metrics'; }),
      /PodMonitor submariner-operator\/seaway: port "http-metrics" is declared by no container of 10-route-agent\.yaml#0/);
    assertFound(problemsOf('monitoring/pod-monitor.yaml', 0, (o) => { o.spec.selector.matchLabels['app.kubernetes.io/name'] = 'submariner'; }), /spec\.selector selects no pod of the manifests/);
    assertFound(problemsOf('monitoring/pod-monitor.yaml', 0, (o) => { o.spec.selector = {}; }), /selects every pod of the namespace/);
    assertFound(problemsOf('monitoring/pod-monitor.yaml', 0, (o) => { delete o.spec.podMetricsEndpoints[0].port; o.spec.podMetricsEndpoints[0].portNumber = 9082; }), /names no port/);
    // One component without the port is enough to lose its targets.
    assertFound(problemsOf('11-gateway.yaml', 0, (o) => { container(o).ports[0].name = 'http'; }), /port "metrics" is declared by no container of 11-gateway\.yaml#0/);
  });
});

describe('workloads', () => {
  const problemsOf = (file: string, index: number, edit: (o: Json) => void) => workloadProblems(changed(file, index, edit), context.workload);

  test('port names follow IANA_SVC_NAME', () => {
    for (const good of ['metrics', 'cable-encaps', 'natt-discovery', 'a1']) assert.equal(portNameProblem(good), null, good);
    for (const bad of ['', 'natt-discovery-port', 'Metrics', 'metrics_', '9082', '-metrics', 'a--b']) assert.notEqual(portNameProblem(bad), null, bad);
  });

  test('the entry point: no command, the component\'s subcommand, the version\'s image', () => {
    assertFound(problemsOf('10-route-agent.yaml', 0, (o) => { container(o).command = ['node', '/app/seaway.mjs']; }), /route-agent: sets command; the image's ENTRYPOINT/);
    assertFound(problemsOf('11-gateway.yaml', 0, (o) => { container(o).args = ['run']; }), /args must be \["gateway"\] for the gateway/);
    assertFound(problemsOf('11-gateway.yaml', 0, (o) => { container(o).image = 'quay.io/seaway/seaway:latest'; }), /image must be quay\.io\/seaway\/seaway:0\.\d+\.\d+/);
    assertFound(problemsOf('11-gateway.yaml', 0, (o) => { container(o).imagePullPolicy = 'Always'; }), /imagePullPolicy must be IfNotPresent/);
  });

  test('placement of a node agent: host network, its DNS policy, every taint, node-critical, no surge', () => {
    const problems = problemsOf('10-route-agent.yaml', 0, (o) => {
      delete routeAgent(o).hostNetwork; routeAgent(o).dnsPolicy = 'ClusterFirst'; routeAgent(o).tolerations = [{ key: 'x', operator: 'Exists' }];
      delete routeAgent(o).priorityClassName; o.spec.updateStrategy.rollingUpdate.maxSurge = 1;
    });
    assertFound(problems, /hostNetwork: true/, /dnsPolicy ClusterFirstWithHostNet/, /tolerate every taint/, /system-node-critical/, /maxSurge must be 0/);
  });

  test('environment: only seaway\'s settings, only the operator\'s ConfigMap keys and downward API fields the agents read', () => {
    assertFound(problemsOf('10-route-agent.yaml', 0, (o) => { container(o).env.push({ name: 'SEAWAY_LISTEN_ADDRESS', value: ':9082' }); }), /env SEAWAY_LISTEN_ADDRESS is not a setting of "seaway run"/);
    // A gateway-only setting in the route agent is ignored by it: refused here.
    assertFound(problemsOf('10-route-agent.yaml', 0, (o) => { container(o).env.push({ name: 'SEAWAY_CABLE', value: 'ipsec' }); }), /env SEAWAY_CABLE is not a setting of "seaway run"/);
    assertFound(problemsOf('10-route-agent.yaml', 0, (o) => { env(o, 'SUBMARINER_CLUSTERID').valueFrom.configMapKeyRef.key = 'clusterId'; }), /ConfigMap seaway-cluster has no key "clusterId"/);
    assertFound(problemsOf('10-route-agent.yaml', 0, (o) => { env(o, 'SUBMARINER_CLUSTERID').valueFrom.configMapKeyRef.name = 'submariner-cluster'; }), /ConfigMap "submariner-cluster" is not one the operator creates/);
    assertFound(problemsOf('11-gateway.yaml', 0, (o) => { delete env(o, 'SEAWAY_CABLE').valueFrom.configMapKeyRef.optional; }), /key cable of ConfigMap seaway-cluster is optional/);
    assertFound(problemsOf('10-route-agent.yaml', 0, (o) => { env(o, 'SUBMARINER_CLUSTERID').valueFrom.configMapKeyRef.optional = true; }), /always there: the reference must not be optional/);
    assertFound(problemsOf('10-route-agent.yaml', 0, (o) => { env(o, 'NODE_NAME').valueFrom.fieldRef.fieldPath = 'metadata.name'; }), /reads metadata\.name, which is not one the agents need/);
    assertFound(problemsOf('10-route-agent.yaml', 0, (o) => { container(o).env.push({ name: 'NODE_NAME', value: 'x' }); }), /env NODE_NAME is set twice/);
    assertFound(problemsOf('10-route-agent.yaml', 0, (o) => { container(o).env.push({ name: 'SEAWAY_LOG_LEVEL' }); }), /env SEAWAY_LOG_LEVEL has neither a value nor/);
  });

  test('the settings the container ends up with: accepted, on the declared ports, paths and Secrets', () => {
    assertFound(problemsOf('10-route-agent.yaml', 0, (o) => { container(o).env.push({ name: 'SEAWAY_LOG_LEVEL', value: 'verbose' }); }), /"seaway run" refuses the environment: --log-level/);
    assertFound(problemsOf('10-route-agent.yaml', 0, (o) => { container(o).ports[0].containerPort = 9090; }), /the agent listens on 192\.0\.2\.10:9082, not on the metrics port 9090/);
    assertFound(problemsOf('11-gateway.yaml', 0, (o) => { container(o).ports[1].containerPort = 4501; container(o).ports[1].hostPort = 4501; }), /the gateway uses UDP 4500 for cable-encaps, the container declares 4501/);
    assertFound(problemsOf('11-gateway.yaml', 0, (o) => { env(o, 'SEAWAY_PSK_FILE').value = '/etc/seaway/psk/key'; }), /the PSK file \/etc\/seaway\/psk\/key: no item of Secret seaway-ipsec-psk is mounted at that path/);
    assertFound(problemsOf('11-gateway.yaml', 0, (o) => { env(o, 'SEAWAY_BROKER_KUBECONFIG').value = '/etc/seaway/psk/psk'; }), /the broker kubeconfig \/etc\/seaway\/psk\/psk is not in a mount of Secret seaway-broker/);
    assertFound(problemsOf('10-route-agent.yaml', 0, (o) => { env(o, 'SEAWAY_STATUS_SOCKET').value = '/tmp/route-agent.sock'; }), /the status socket \/tmp\/route-agent\.sock is on no hostPath mount/);
    assertFound(problemsOf('10-route-agent.yaml', 0, (o) => { routeAgent(o).terminationGracePeriodSeconds = 10; }), /SEAWAY_SHUTDOWN_TIMEOUT_SECONDS 10 s, not less than terminationGracePeriodSeconds 10 s/);
    assertFound(problemsOf('10-route-agent.yaml', 0, (o) => { container(o).volumeMounts = container(o).volumeMounts.filter((m: Json) => m.name !== 'xtables-lock'); }),
      /the xtables lock \/run\/xtables\.lock is not the host's file mounted there/, /volume xtables-lock is mounted nowhere/);
    assertFound(problemsOf('uninstall/uninstall.yaml', 3, (o) => { env(o, 'SEAWAY_BROKER_KUBECONFIG').value = '/etc/seaway/broker/config'; }), /env SEAWAY_BROKER_KUBECONFIG \/etc\/seaway\/broker\/config: no item of Secret seaway-broker/);
  });

  test('volumes: operator Secrets by key, mode 0400, read-only; host paths at the same path inside', () => {
    assertFound(problemsOf('11-gateway.yaml', 0, (o) => { routeAgent(o).volumes.find((v: Json) => v.name === 'ipsec-psk').secret.defaultMode = 0o644; }), /volume ipsec-psk: Secret files must be mode 0400/);
    assertFound(problemsOf('11-gateway.yaml', 0, (o) => { container(o).volumeMounts.find((m: Json) => m.name === 'broker').readOnly = false; }), /volumeMount broker: a Secret is mounted readOnly/);
    assertFound(problemsOf('11-gateway.yaml', 0, (o) => { routeAgent(o).volumes.find((v: Json) => v.name === 'broker').secret.secretName = 'submariner-broker-secret'; }), /volume broker: Secret "submariner-broker-secret" is not one the operator creates/);
    assertFound(problemsOf('10-route-agent.yaml', 0, (o) => { routeAgent(o).volumes.find((v: Json) => v.name === 'state').hostPath.path = '/var/lib/seaway-state'; }), /host path \/var\/lib\/seaway-state mounted at \/var\/lib\/seaway/);
    assertFound(problemsOf('11-gateway.yaml', 0, (o) => { delete routeAgent(o).volumes.find((v: Json) => v.name === 'broker').secret.items; }), /name the keys it needs with items/);
  });

  test('probes use declared named ports; two hostNetwork pods never share a port', () => {
    assertFound(problemsOf('10-route-agent.yaml', 0, (o) => { container(o).readinessProbe.httpGet.port = 'metric'; }), /readinessProbe port "metric" is not a declared port of the container \(metrics\)/);
    assertFound(problemsOf('10-route-agent.yaml', 0, (o) => { container(o).livenessProbe.httpGet.port = 9082; }), /livenessProbe names its port by number/);
    assertFound(problemsOf('10-route-agent.yaml', 0, (o) => { delete container(o).livenessProbe; }), /no livenessProbe/);
    assertFound(problemsOf('11-gateway.yaml', 0, (o) => { container(o).ports[0].containerPort = 9082; }), /TCP 9082 is also 10-route-agent\.yaml#0 .* port metrics/);
    assertFound(problemsOf('11-gateway.yaml', 0, (o) => { container(o).ports[1].hostPort = 14500; }), /port cable-encaps: a hostNetwork pod's hostPort must equal its containerPort/);
  });
});

describe('agent settings from the help text', () => {
  test('both line forms are read, per section; a help text without the sections fails loudly', () => {
    const text = ['Settings of run and gateway:', '  --cluster-id VALUE', '      help', '      env: SEAWAY_CLUSTER_ID, SUBMARINER_CLUSTERID',
      'Settings of run only:', '  --x VALUE', '      env: SEAWAY_X', 'Settings of gateway only:', '  env BROKER_K8S_CA', '      help'].join('\n');
    const settings = parseAgentSettings(text);
    assert.deepEqual([...settings.shared], ['SEAWAY_CLUSTER_ID', 'SUBMARINER_CLUSTERID']);
    assert.deepEqual([...variablesOf(settings, 'gateway')], ['SEAWAY_CLUSTER_ID', 'SUBMARINER_CLUSTERID', 'BROKER_K8S_CA']);
    assert.equal(variablesOf(settings, 'run').has('BROKER_K8S_CA'), false);
    assert.throws(() => parseAgentSettings('Usage: seaway <command>\n'), /no settings in its "shared" section/);
    assert.throws(() => parseAgentSettings(text.replace('Settings of gateway only:', 'Gateway:')), /"gateway" section/);
    // A header over two lines; another header ends a section; uninstall may read every command's.
    const more = parseAgentSettings(`${text}\nSettings of uninstall only (it also reads\nthe others):\n  --t VALUE\n      env: SEAWAY_T\nFlags:\n      env: NOT_A_SETTING`);
    assert.deepEqual([...more.uninstall], ['SEAWAY_T']);
    assert.equal(more.gateway.has('SEAWAY_T'), false);
    assert.equal(more.all.has('NOT_A_SETTING'), false);
    assert.ok(variablesOf(more, 'uninstall').has('SEAWAY_T') && variablesOf(more, 'uninstall').has('BROKER_K8S_CA'));
  });

  test('the real help text lists the variables the DaemonSets use, in the right sections', () => {
    const settings = context.workload.settings;
    for (const name of ['SUBMARINER_CLUSTERID', 'NODE_NAME', 'SEAWAY_HOST_IP', 'SEAWAY_STATUS_SOCKET', 'SEAWAY_SHUTDOWN_TIMEOUT_SECONDS']) assert.ok(settings.shared.has(name), name);
    for (const name of ['SEAWAY_PSK_FILE', 'SEAWAY_BROKER_KUBECONFIG', 'SEAWAY_CABLE', 'BROKER_K8S_CA']) assert.ok(settings.gateway.has(name), name);
    assert.ok(settings.run.has('SEAWAY_XTABLES_LOCK'));
  });
});

describe('alert rules', () => {
  const catalogue = context.catalogue;
  const targets = targetLabels({ spec: { podTargetLabels: ['app.kubernetes.io/component'] } });
  const rule = (over: Partial<AlertRule>): AlertRule => ({
    alert: 'A', expr: 'max by (namespace, pod) (seaway_ready) == 0', for: '5m', labels: { severity: 'warning' },
    annotations: { summary: '{{ $labels.pod }} not ready', description: 'do this' }, ...over,
  });

  test('a well-formed alert has no problem; target labels include the sanitised podTargetLabels', () => {
    assert.deepEqual(alertProblems(rule({}), catalogue, targets), []);
    assert.ok(targets.includes('app_kubernetes_io_component'));
    assert.deepEqual(targetLabels(undefined), ['namespace', 'pod', 'container', 'endpoint', 'job', 'instance']);
  });

  test('an invented metric, a label the series lack, and an annotation label the aggregation drops are each named', () => {
    assertFound(alertProblems(rule({ expr: 'seaway_gateway_up == 0' }), catalogue, targets), /seaway_gateway_up is not a metric seaway exports/);
    assertFound(alertProblems(rule({ expr: 'rate(seaway_connection_errors_total[5m]) > 0' }), catalogue, targets), /seaway_connection_errors_total is not a metric/);
    assertFound(alertProblems(rule({ expr: 'seaway_connections{state="error"} == 1' }), catalogue, targets), /seaway_connections has no label "state"/);
    assertFound(alertProblems(rule({ expr: 'max by (namespace, node) (seaway_ready) == 0' }), catalogue, targets), /groups by "node", which none of its series carries/);
    assertFound(alertProblems(rule({ annotations: { summary: '{{ $labels.instance }}', description: 'x' } }), catalogue, targets), /renders \$labels\.instance, which the expression does not keep/);
    assertFound(alertProblems(rule({ expr: 'nodejs_heap_size_used_bytes{job="x"} > 1e9' }), catalogue, targets), /nodejs_heap_size_used_bytes is not a metric seaway exports/);
  });

  test('an alert without for, severity, summary or description, or with no expr, is refused', () => {
    const bare = alertProblems({ alert: 'B', expr: 'seaway_ready == 0' }, catalogue, targets);
    assertFound(bare, /give a "for:" duration/, /labels\.severity must be one of warning, critical/, /no summary annotation/, /no description annotation/);
    assertFound(alertProblems(rule({ labels: { severity: 'page' } }), catalogue, targets), /severity must be one of/);
    assert.deepEqual(alertProblems({ alert: 'C' } as AlertRule, catalogue, targets), ['alert C: no expr']);
  });
});
