/**
 * The PrometheusRule's alerts against seaway's real metrics: every metric an expression names is one
 * the agents export (the catalogue is built by the code that registers them), every label it matches or
 * groups by is one those series carry (their own labels, or the labels the PodMonitor's targets add),
 * every `$labels.x` an annotation renders survives the expression's aggregation (or it renders empty),
 * and every alert says how long, how bad and what to do. promtool checks the PromQL itself (see
 * prometheus-rules.test.ts). Pure, except metricCatalogue, which builds prom-client metrics in memory.
 */
import { Registry } from 'prom-client';
import { createMetrics } from '../../src/telemetry/metrics.ts';
import { createComponentMetrics } from '../../src/startup/component-metrics.ts';
import { isRecord } from '../../src/model/compare.ts';

/** Metric name -> its label names. */
export type MetricCatalogue = ReadonlyMap<string, readonly string[]>;

/** Every metric seaway registers (its own, not prom-client's process metrics), with its labels. */
export function metricCatalogue(): MetricCatalogue {
  const { registry } = createMetrics({ defaultMetrics: false });
  createComponentMetrics(registry as Registry);
  return new Map(registry.getMetricsAsArray().map((m) => {
    const metric = m as unknown as { name: string; labelNames?: readonly string[] };
    return [metric.name, [...(metric.labelNames ?? [])]];
  }));
}

/** Series Prometheus itself makes for every target. */
export const PROMETHEUS_METRICS: MetricCatalogue = new Map([['up', []]]);
/** The labels prometheus-operator's PodMonitor targets carry besides the metric's own. */
const POD_TARGET_LABELS = ['namespace', 'pod', 'container', 'endpoint', 'job', 'instance'];
export const SEVERITIES = ['warning', 'critical'];

/** A PodMonitor's target labels: the standard ones plus its podTargetLabels, sanitised as Prometheus does. */
export function targetLabels(podMonitor: unknown): string[] {
  const spec = isRecord(podMonitor) && isRecord(podMonitor.spec) ? podMonitor.spec : {};
  const extra = Array.isArray(spec.podTargetLabels) ? spec.podTargetLabels.filter((l): l is string => typeof l === 'string') : [];
  return [...POD_TARGET_LABELS, ...extra.map((l) => l.replace(/[^a-zA-Z0-9_]/g, '_'))];
}

export interface AlertRule { alert: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }

/** The alerting rules of a PrometheusRule object (recording rules are not alerts). */
export function alertRules(prometheusRule: unknown): AlertRule[] {
  const spec = isRecord(prometheusRule) && isRecord(prometheusRule.spec) ? prometheusRule.spec : {};
  const groups = Array.isArray(spec.groups) ? spec.groups : [];
  return groups.flatMap((g) => (isRecord(g) && Array.isArray(g.rules) ? g.rules : []))
    .filter((r): r is Record<string, unknown> => isRecord(r) && typeof r.alert === 'string')
    .map((r) => r as unknown as AlertRule);
}

/** Label names in `{a="x", b=~"y"}` matcher lists. */
function matcherLabels(matchers: string): string[] {
  return [...matchers.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/g)].map((m) => m[1]!);
}

/** One problem per metric, label or annotation of an alert that is not what the agents export. */
export function alertProblems(rule: AlertRule, catalogue: MetricCatalogue, targets: readonly string[]): string[] {
  const problems: string[] = [];
  const name = `alert ${rule.alert}`;
  const expr = typeof rule.expr === 'string' ? rule.expr : '';
  if (expr === '') return [`${name}: no expr`];
  const known = (metric: string) => catalogue.get(metric) ?? PROMETHEUS_METRICS.get(metric);
  const used = new Set<string>();
  for (const match of expr.matchAll(/\bseaway_[a-z0-9_]+\b/g)) used.add(match[0]);
  for (const match of expr.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}/g)) {
    const metric = match[1]!;
    used.add(metric);
    const labels = known(metric);
    if (labels === undefined) continue;
    for (const label of matcherLabels(match[2]!)) {
      if (!labels.includes(label) && !targets.includes(label)) problems.push(`${name}: ${metric} has no label "${label}" (its labels: ${[...labels, ...targets].join(', ')})`);
    }
  }
  for (const metric of used) {
    if (known(metric) === undefined) problems.push(`${name}: ${metric} is not a metric seaway exports (src/telemetry/metrics.ts, src/startup/component-metrics.ts)`);
  }
  const available = new Set([...targets, ...[...used].flatMap((m) => known(m) ?? [])]);
  const groupings = [...expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)].map((m) => ({ without: m[0].startsWith('without'), labels: m[1]!.split(',').map((l) => l.trim()).filter((l) => l !== '') }));
  for (const label of groupings.flatMap((g) => g.labels)) {
    if (!available.has(label)) problems.push(`${name}: groups by "${label}", which none of its series carries`);
  }
  // After `by (...)` only those labels are left; annotations can only render what is left.
  const by = groupings.filter((g) => !g.without);
  const rendered = by.length > 0 ? new Set(by.flatMap((g) => g.labels)) : available;
  for (const text of Object.values(rule.annotations ?? {})) {
    for (const match of String(text).matchAll(/\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)/g)) {
      if (!rendered.has(match[1]!)) problems.push(`${name}: an annotation renders $labels.${match[1]!}, which the expression does not keep (it would be empty)`);
    }
  }
  if (typeof rule.for !== 'string' || !/^\d+[smh]$/.test(rule.for)) problems.push(`${name}: give a "for:" duration, so a blip does not page`);
  if (!SEVERITIES.includes(rule.labels?.severity ?? '')) problems.push(`${name}: labels.severity must be one of ${SEVERITIES.join(', ')}`);
  for (const annotation of ['summary', 'description']) {
    if (typeof rule.annotations?.[annotation] !== 'string' || rule.annotations[annotation]!.trim() === '') problems.push(`${name}: no ${annotation} annotation`);
  }
  return problems;
}
