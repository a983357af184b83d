/**
 * What no schema sees: how the objects of manifests/ refer to each other and where they live. Names are
 * RFC 1123, every namespaced object is in its namespace (Submariner's, or the broker's for
 * manifests/broker), the top-level files are what a member cluster gets, a DaemonSet's selector matches
 * its pods, every binding's role and service accounts exist, every pod's service account exists, and the
 * PodMonitor selects pods that declare its port. Each problem names the document. Pure.
 */
import { dns1123Label, dns1123Subdomain } from '../../src/model/names.ts';
import { isRecord } from '../../src/model/compare.ts';
import { describeDoc, isTopLevel, metadataOf, str, type ManifestDoc } from './manifest-files.ts';
import { BROKER_NAMESPACE, SUBMARINER_NAMESPACE } from './operator-objects.ts';

const NAMESPACED = new Set(['ServiceAccount', 'Role', 'RoleBinding', 'DaemonSet', 'PodMonitor', 'PrometheusRule']);
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition']);
/** Kinds a member cluster may lack the CRDs of: never in the top-level files. */
const MONITORING_KINDS = new Set(['PodMonitor', 'PrometheusRule']);

export const NAME_LABEL = 'app.kubernetes.io/name';
export const PART_OF_LABEL = 'app.kubernetes.io/part-of';
export const COMPONENT_LABEL = 'app.kubernetes.io/component';
export const COMPONENTS = ['route-agent', 'gateway', 'uninstall'] as const;

const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const record = (value: unknown): Record<string, unknown> => (isRecord(value) ? value : {});

/** A pod template of a workload in the manifests. */
export interface PodTemplate {
  doc: ManifestDoc;
  namespace: string;
  labels: Record<string, string>;
  spec: Record<string, unknown>;
}

export function podTemplates(docs: readonly ManifestDoc[]): PodTemplate[] {
  return docs.filter((d) => d.object.kind === 'DaemonSet').map((doc) => {
    const template = record(record(doc.object.spec).template);
    return { doc, namespace: metadataOf(doc.object).namespace, labels: metadataOf(template).labels, spec: record(template.spec) };
  });
}

/** Kubernetes label selector semantics: every matchLabels pair and every matchExpressions requirement holds. */
export function selectorMatches(selector: unknown, labels: Readonly<Record<string, string>>): boolean {
  const s = record(selector);
  for (const [key, value] of Object.entries(record(s.matchLabels))) if (labels[key] !== value) return false;
  for (const expression of list(s.matchExpressions)) {
    const e = record(expression);
    const key = str(e.key);
    const values = list(e.values).map(str);
    const has = Object.hasOwn(labels, key);
    switch (e.operator) {
      case 'In': if (!has || !values.includes(labels[key]!)) return false; break;
      case 'NotIn': if (has && values.includes(labels[key]!)) return false; break;
      case 'Exists': if (!has) return false; break;
      case 'DoesNotExist': if (has) return false; break;
      default: return false;
    }
  }
  return true;
}

/** A selector that selects nothing in particular (no labels, no expressions) matches everything: refused. */
const emptySelector = (selector: unknown) => Object.keys(record(record(selector).matchLabels)).length === 0 && list(record(selector).matchExpressions).length === 0;

function nameProblems(docs: readonly ManifestDoc[]): string[] {
  const problems: string[] = [];
  const seen = new Map<string, ManifestDoc>();
  for (const doc of docs) {
    const { name, namespace } = metadataOf(doc.object);
    const kind = str(doc.object.kind);
    const wrong = kind === 'Namespace' ? dns1123Label(name) : dns1123Subdomain(name);
    if (wrong !== null) problems.push(`${describeDoc(doc)}: metadata.name "${name}" ${wrong}`);
    const key = `${kind}/${namespace}/${name}`;
    const earlier = seen.get(key);
    if (earlier) problems.push(`${describeDoc(doc)}: the same object as ${describeDoc(earlier)}`);
    seen.set(key, doc);
  }
  return problems;
}

/** Namespaced objects in Submariner's namespace (the broker's under broker/), cluster-scoped ones in none. */
function namespaceProblems(docs: readonly ManifestDoc[]): string[] {
  const problems: string[] = [];
  // Earlier in its own file; or, for a top-level file, in an earlier top-level file (applied first); for
  // monitoring/ and uninstall/, applied to an installed cluster, in any top-level file. The broker is
  // another cluster: its namespace must come with it.
  const created = (namespace: string, doc: ManifestDoc) => docs.some((d) => d.object.kind === 'Namespace' && metadataOf(d.object).name === namespace
    && ((d.file === doc.file && d.index < doc.index)
      || (isTopLevel(d) && (isTopLevel(doc) ? d.file < doc.file : !doc.file.startsWith('broker/')))));
  for (const doc of docs) {
    const kind = str(doc.object.kind);
    const { namespace } = metadataOf(doc.object);
    if (CLUSTER_SCOPED.has(kind)) {
      if (namespace !== '') problems.push(`${describeDoc(doc)}: a ${kind} is cluster-scoped; it has no namespace (found "${namespace}")`);
      continue;
    }
    if (!NAMESPACED.has(kind)) { problems.push(`${describeDoc(doc)}: whether a ${kind} is namespaced is not known here`); continue; }
    const expected = doc.file.startsWith('broker/') ? BROKER_NAMESPACE : SUBMARINER_NAMESPACE;
    if (namespace !== expected) problems.push(`${describeDoc(doc)}: in namespace "${namespace}", expected "${expected}"`);
    else if (!created(namespace, doc)) problems.push(`${describeDoc(doc)}: namespace ${namespace} is not created before it (a Namespace in an earlier top-level file, or earlier in its own)`);
  }
  return problems;
}

/** `kubectl apply -f manifests/` on a member: no monitoring kinds, no uninstall workload, nothing of the broker's. */
function topLevelProblems(docs: readonly ManifestDoc[]): string[] {
  const problems: string[] = [];
  for (const doc of docs.filter(isTopLevel)) {
    if (!/^\d\d-[a-z0-9-]+\.yaml$/.test(doc.file)) problems.push(`${describeDoc(doc)}: top-level files are applied in name order and are named NN-what.yaml`);
    if (MONITORING_KINDS.has(str(doc.object.kind))) problems.push(`${describeDoc(doc)}: needs prometheus-operator's CRDs, which a cluster may lack: it belongs in manifests/monitoring/`);
    if (metadataOf(doc.object).labels[COMPONENT_LABEL] === 'uninstall') problems.push(`${describeDoc(doc)}: the uninstall workload belongs in manifests/uninstall/, not in what installs seaway`);
    if (metadataOf(doc.object).namespace === BROKER_NAMESPACE) problems.push(`${describeDoc(doc)}: the broker's objects belong in manifests/broker/`);
  }
  return problems;
}

/** The labels every seaway workload and its pods carry, and a selector on name and component that matches the pods. */
function daemonSetProblems(docs: readonly ManifestDoc[]): string[] {
  const problems: string[] = [];
  for (const template of podTemplates(docs)) {
    const { doc } = template;
    const selector = record(doc.object.spec).selector;
    const component = template.labels[COMPONENT_LABEL] ?? '';
    if (!(COMPONENTS as readonly string[]).includes(component)) problems.push(`${describeDoc(doc)}: pod label ${COMPONENT_LABEL} "${component}" is not one of ${COMPONENTS.join(', ')}`);
    for (const [key, value] of [[NAME_LABEL, 'seaway'], [PART_OF_LABEL, 'seaway']] as const) {
      if (template.labels[key] !== value) problems.push(`${describeDoc(doc)}: pod label ${key} must be "${value}"`);
    }
    const own = metadataOf(doc.object).labels;
    for (const key of [NAME_LABEL, PART_OF_LABEL, COMPONENT_LABEL]) {
      if (own[key] !== template.labels[key]) problems.push(`${describeDoc(doc)}: metadata label ${key} "${own[key] ?? ''}" differs from its pods' "${template.labels[key] ?? ''}"`);
    }
    if (emptySelector(selector)) problems.push(`${describeDoc(doc)}: spec.selector selects every pod`);
    else if (!selectorMatches(selector, template.labels)) problems.push(`${describeDoc(doc)}: spec.selector ${JSON.stringify(selector)} does not match the template's labels ${JSON.stringify(template.labels)}`);
    const matchLabels = record(record(selector).matchLabels);
    if (matchLabels[NAME_LABEL] !== 'seaway' || matchLabels[COMPONENT_LABEL] !== component) {
      problems.push(`${describeDoc(doc)}: spec.selector must match on ${NAME_LABEL}=seaway and ${COMPONENT_LABEL}=${component}, or it may take another component's pods`);
    }
    // Another DaemonSet's pods must not match this selector (they would be counted, and fought over).
    for (const other of podTemplates(docs)) {
      if (other.doc !== doc && other.namespace === template.namespace && selectorMatches(selector, other.labels)) {
        problems.push(`${describeDoc(doc)}: spec.selector also matches the pods of ${describeDoc(other.doc)}`);
      }
    }
  }
  return problems;
}

function find(docs: readonly ManifestDoc[], kind: string, name: string, namespace = ''): ManifestDoc | undefined {
  return docs.find((d) => d.object.kind === kind && metadataOf(d.object).name === name && metadataOf(d.object).namespace === namespace);
}

/** Every binding's role exists, and every ServiceAccount it names; every pod's service account exists. */
function referenceProblems(docs: readonly ManifestDoc[]): string[] {
  const problems: string[] = [];
  for (const doc of docs.filter((d) => d.object.kind === 'RoleBinding' || d.object.kind === 'ClusterRoleBinding')) {
    const { namespace } = metadataOf(doc.object);
    const roleRef = record(doc.object.roleRef);
    const roleKind = str(roleRef.kind);
    if (str(roleRef.apiGroup) !== 'rbac.authorization.k8s.io') problems.push(`${describeDoc(doc)}: roleRef.apiGroup must be rbac.authorization.k8s.io`);
    if (roleKind === 'Role' && doc.object.kind === 'ClusterRoleBinding') problems.push(`${describeDoc(doc)}: a ClusterRoleBinding can only refer to a ClusterRole`);
    else if (roleKind !== 'Role' && roleKind !== 'ClusterRole') problems.push(`${describeDoc(doc)}: roleRef.kind "${roleKind}" is not Role or ClusterRole`);
    else if (!find(docs, roleKind, str(roleRef.name), roleKind === 'Role' ? namespace : '')) {
      problems.push(`${describeDoc(doc)}: roleRef ${roleKind} ${roleKind === 'Role' ? `${namespace}/` : ''}${str(roleRef.name)} is not in the manifests`);
    }
    const subjects = list(doc.object.subjects);
    if (subjects.length === 0) problems.push(`${describeDoc(doc)}: binds no subject`);
    for (const subject of subjects.map(record)) {
      if (subject.kind !== 'ServiceAccount') { problems.push(`${describeDoc(doc)}: subject ${str(subject.kind)} ${str(subject.name)}: seaway binds only its ServiceAccounts`); continue; }
      const subjectNamespace = str(subject.namespace) || namespace;
      if (!find(docs, 'ServiceAccount', str(subject.name), subjectNamespace)) problems.push(`${describeDoc(doc)}: subject ServiceAccount ${subjectNamespace}/${str(subject.name)} is not in the manifests`);
    }
  }
  for (const template of podTemplates(docs)) {
    const account = str(template.spec.serviceAccountName);
    if (account === '') problems.push(`${describeDoc(template.doc)}: no serviceAccountName (the namespace's default account would run it)`);
    else if (!find(docs, 'ServiceAccount', account, template.namespace)) problems.push(`${describeDoc(template.doc)}: serviceAccountName ${template.namespace}/${account} is not in the manifests`);
  }
  return problems;
}

/** Verbs a rule's resourceNames can never narrow: such a rule allows nothing (or was meant to allow more). */
const UNNAMED_VERBS = new Set(['list', 'watch', 'create', 'deletecollection']);

function ruleProblems(docs: readonly ManifestDoc[]): string[] {
  const problems: string[] = [];
  for (const doc of docs.filter((d) => d.object.kind === 'Role' || d.object.kind === 'ClusterRole')) {
    list(doc.object.rules).map(record).forEach((rule, i) => {
      const verbs = list(rule.verbs).map(str);
      if (verbs.includes('*') || list(rule.resources).map(str).includes('*') || list(rule.apiGroups).map(str).includes('*')) {
        problems.push(`${describeDoc(doc)}: rule ${i} uses a wildcard; grant what the code uses, by name`);
      }
      if (list(rule.resourceNames).length > 0) {
        const unnamed = verbs.filter((v) => UNNAMED_VERBS.has(v));
        if (unnamed.length > 0) problems.push(`${describeDoc(doc)}: rule ${i} narrows ${unnamed.join(', ')} with resourceNames, which those verbs never carry: they are not granted at all`);
      }
    });
  }
  return problems;
}

/** The PodMonitor selects seaway's pods in its namespace, and each of its ports is a named container port of every one of them. */
function podMonitorProblems(docs: readonly ManifestDoc[]): string[] {
  const problems: string[] = [];
  for (const doc of docs.filter((d) => d.object.kind === 'PodMonitor')) {
    const spec = record(doc.object.spec);
    const { namespace } = metadataOf(doc.object);
    if (spec.namespaceSelector !== undefined) problems.push(`${describeDoc(doc)}: seaway's pods are in its own namespace; no namespaceSelector`);
    if (emptySelector(spec.selector)) { problems.push(`${describeDoc(doc)}: spec.selector selects every pod of the namespace`); continue; }
    const selected = podTemplates(docs).filter((t) => t.namespace === namespace && selectorMatches(spec.selector, t.labels));
    if (selected.length === 0) { problems.push(`${describeDoc(doc)}: spec.selector selects no pod of the manifests`); continue; }
    const endpoints = list(spec.podMetricsEndpoints).map(record);
    if (endpoints.length === 0) problems.push(`${describeDoc(doc)}: no podMetricsEndpoints`);
    for (const endpoint of endpoints) {
      const port = str(endpoint.port);
      if (port === '') { problems.push(`${describeDoc(doc)}: a podMetricsEndpoint names no port (by name: numbers change, names do not)`); continue; }
      for (const template of selected) {
        const declared = list(template.spec.containers).flatMap((c) => list(record(c).ports)).map((p) => str(record(p).name));
        if (!declared.includes(port)) problems.push(`${describeDoc(doc)}: port "${port}" is declared by no container of ${describeDoc(template.doc)} (it declares ${declared.join(', ') || 'none'}): Prometheus would find no target there`);
      }
    }
  }
  return problems;
}

/** Every problem of the object relations; [] when there are none. */
export function crossReferenceProblems(docs: readonly ManifestDoc[]): string[] {
  return [
    ...nameProblems(docs), ...namespaceProblems(docs), ...topLevelProblems(docs), ...daemonSetProblems(docs),
    ...referenceProblems(docs), ...ruleProblems(docs), ...podMonitorProblems(docs),
  ];
}
