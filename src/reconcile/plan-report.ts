import type { RunConfig } from '../config.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { Streaks } from '../telemetry/streaks.ts';
import type { Plan } from '../plan/node-plan.ts';
import { eventReporter } from '../plan/event-reporter.ts';
import type { Snapshot } from '../model/snapshot.ts';
import type { EndpointRef } from '../model/endpoint-set.ts';
import type { EventRecorder, InvolvedObject } from '../k8s/event-recorder.ts';

export const EVENT_REJECTED = 'EndpointRejected';
export const EVENT_DUPLICATE = 'DuplicateEndpoint';

export interface PlanReportDeps {
  config: Pick<RunConfig, 'nodeName'>;
  logger: Logger;
  metrics: Metrics;
  /** Kubernetes Events on rejected and duplicate Endpoints, once per change, like the log lines. */
  events?: Pick<EventRecorder, 'warning'>;
}

const endpointObject = (ref: EndpointRef): InvolvedObject => ({ apiVersion: 'submariner.io/v1', kind: 'Endpoint', ...ref });

/**
 * What the planner decided about its input (rejected and duplicate Endpoints, notes): logged and
 * posted as Events once per change, never on every pass, and counted in metrics. One node per
 * cluster posts the Events (see eventReporter), every node logs.
 */
export function createPlanReport(deps: PlanReportDeps): (plan: Plan, snapshot: Snapshot) => void {
  const { logger, metrics } = deps;
  const said = new Streaks();
  return (plan, snapshot) => {
    const postsEvents = eventReporter(snapshot, plan.gatewayNode) === deps.config.nodeName;
    const now = new Map<string, string>();
    const sayOnce = (key: string, say: () => void) => {
      now.set(key, '');
      if (!said.has(key)) say();
    };
    const byReason = new Map<string, number>();
    for (const r of plan.rejected) {
      byReason.set(r.reason, (byReason.get(r.reason) ?? 0) + 1);
      sayOnce(`rejected/${r.endpoint.uid}/${r.endpoint.resourceVersion}/${r.reason}`, () => {
        logger.warn({ endpoint: `${r.endpoint.namespace}/${r.endpoint.name}`, cluster: r.cluster, reason: r.reason, message: r.message }, 'Endpoint rejected');
        if (postsEvents) deps.events?.warning(endpointObject(r.endpoint), EVENT_REJECTED, `${r.reason}: ${r.message}; its subnets are not routed`);
      });
    }
    for (const d of plan.duplicates) {
      sayOnce(`duplicate/${d.endpoint.uid}/${d.winner.uid}`, () => {
        logger.warn({ endpoint: `${d.endpoint.namespace}/${d.endpoint.name}`, cluster: d.cluster, newer: d.winner.name }, 'several Endpoints for one cluster; the newest is used');
        if (postsEvents) deps.events?.warning(endpointObject(d.endpoint), EVENT_DUPLICATE, `cluster "${d.cluster}" has a newer Endpoint ${d.winner.namespace}/${d.winner.name}, which is used; this one is ignored`);
      });
    }
    for (const n of plan.notes) sayOnce(`note/${n.code}/${n.message}`, () => logger.info({ code: n.code }, n.message));
    said.update(now);
    metrics.rejectedEndpoints.reset();
    for (const [reason, count] of byReason) metrics.rejectedEndpoints.set({ reason }, count);
    metrics.duplicateEndpoints.set(plan.duplicates.length);
    metrics.isGateway.set(plan.isGateway ? 1 : 0);
  };
}
