/**
 * Every offline check of manifests/ in one call, for the tests that run them on the real files and on
 * deliberately broken copies: schemas, unknown fields (built-in and monitoring kinds), object
 * relations, the workloads against the code and the operator contract, and the alerts against the
 * metrics. RBAC against requests (rbac-coverage.ts) and promtool are separate: they need requests and a
 * process.
 */
import packageJson from '../../package.json' with { type: 'json' };
import { describeDoc, str, type ManifestDoc } from './manifest-files.ts';
import { schemaProblems } from './schema-validation.ts';
import { modelTypeFor, unknownFields } from './unknown-fields.ts';
import { loadMonitoringTypes, type MonitoringTypes } from './monitoring-fields.ts';
import { crossReferenceProblems } from './cross-references.ts';
import { workloadProblems, type WorkloadContext } from './workload-checks.ts';
import { agentSettings } from './agent-settings.ts';
import { alertProblems, alertRules, metricCatalogue, targetLabels, type MetricCatalogue } from './prometheus-rules.ts';

export const IMAGE = 'quay.io/seaway/seaway';

export interface CheckContext {
  workload: WorkloadContext;
  monitoring: MonitoringTypes;
  catalogue: MetricCatalogue;
}

/** Built once per test file: reading the monitoring declarations takes about a second. */
export function checkContext(): CheckContext {
  return {
    workload: { settings: agentSettings(), version: packageJson.version, image: IMAGE },
    monitoring: loadMonitoringTypes(),
    catalogue: metricCatalogue(),
  };
}

/** Fields no model of the kind has, for every document (a kind with no model at all is named too). */
export function unknownFieldProblems(docs: readonly ManifestDoc[], monitoring: MonitoringTypes): string[] {
  return docs.flatMap((doc) => {
    const kind = str(doc.object.kind);
    const type = modelTypeFor(str(doc.object.apiVersion), kind);
    const found = type !== null ? unknownFields(doc.object, type)
      : monitoring.kinds.includes(kind) ? monitoring.unknownFields(kind, doc.object)
        : [`/: no model of ${kind} to check its fields against`];
    return found.map((problem) => `${describeDoc(doc)}: ${problem}`);
  });
}

export function alertRuleProblems(docs: readonly ManifestDoc[], catalogue: MetricCatalogue): string[] {
  const podMonitor = docs.find((d) => d.object.kind === 'PodMonitor');
  const targets = targetLabels(podMonitor?.object);
  return docs.filter((d) => d.object.kind === 'PrometheusRule')
    .flatMap((doc) => alertRules(doc.object).flatMap((rule) => alertProblems(rule, catalogue, targets).map((p) => `${describeDoc(doc)}: ${p}`)));
}

export function manifestProblems(docs: readonly ManifestDoc[], context: CheckContext): string[] {
  return [
    ...docs.flatMap(schemaProblems),
    ...unknownFieldProblems(docs, context.monitoring),
    ...crossReferenceProblems(docs),
    ...workloadProblems(docs, context.workload),
    ...alertRuleProblems(docs, context.catalogue),
  ];
}
