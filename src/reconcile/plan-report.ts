import type { RunConfig } from '../config.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { Streaks } from '../telemetry/streaks.ts';
import type { Plan } from '../plan/node-plan.ts';
import { eventReporter } from '../plan/event-reporter.ts';
import type { Snapshot } from '../model/snapshot.ts';
import type { EndpointRef } from '../model/endpoint-set.ts';
import { SUBMARINER_API_VERSION } from '../model/submariner-api.ts';
import type { EventRecorder, InvolvedObject } from '../k8s/event-recorder.ts';
import { fullBucket, msUntilToken, takeToken, type TokenBucket, type TokenBucketLimits } from '../model/token-bucket.ts';

/** The Event rate limit from the settings (a burst, then one per interval); the rest wait for a later pass. */
export const eventLimits = (config: Pick<RunConfig, 'eventBurst' | 'eventIntervalSeconds'>): TokenBucketLimits =>
  ({ capacity: config.eventBurst, refillPerSecond: 1 / config.eventIntervalSeconds });

export const EVENT_REJECTED = 'EndpointRejected';
export const EVENT_DUPLICATE = 'DuplicateEndpoint';

export interface PlanReportDeps {
  config: Pick<RunConfig, 'nodeName' | 'eventBurst' | 'eventIntervalSeconds'>;
  logger: Logger;
  metrics: Metrics;
  /** Kubernetes Events on rejected and duplicate Endpoints, once per change, like the log lines. */
  events?: Pick<EventRecorder, 'warning'>;
  /** Monotonic milliseconds, for the Event rate limit. */
  now?: () => number;
}

export interface PlanReport {
  (plan: Plan, snapshot: Snapshot): void;
  /** When an Event held back by the rate limit can be posted (the caller plans again then), if any waits. */
  nextEventAt(): number | undefined;
}

const endpointObject = (ref: EndpointRef): InvolvedObject => ({ apiVersion: SUBMARINER_API_VERSION, kind: 'Endpoint', ...ref });

/**
 * What the planner decided about its input (rejected and duplicate Endpoints, routes this node
 * refuses, notes): logged and posted as Events once per change, never on every pass, and counted
 * in metrics. One node per cluster posts the Events (see eventReporter), every node logs. Events
 * are rate-limited: a thousand bad Endpoints must not become a thousand POSTs at once; one held
 * back is posted on a later pass, not lost.
 */
export function createPlanReport(deps: PlanReportDeps): PlanReport {
  const { logger, metrics } = deps;
  const limits = eventLimits(deps.config);
  const clock = deps.now ?? (() => performance.now());
  const said = new Streaks();
  const posted = new Streaks();
  let bucket: TokenBucket = fullBucket(limits, clock());
  let waiting = false;
  const report = (plan: Plan, snapshot: Snapshot) => {
    const postsEvents = eventReporter(snapshot, plan.gatewayNode) === deps.config.nodeName;
    const now = new Map<string, string>();
    const postedNow = new Map<string, string>();
    let heldBack = 0;
    const sayOnce = (key: string, say: () => void) => {
      now.set(key, '');
      if (!said.has(key)) say();
    };
    const postOnce = (key: string, post: () => void) => {
      if (!postsEvents || !deps.events) return;
      if (posted.has(key)) { postedNow.set(key, ''); return; }
      const taken = takeToken(bucket, limits, clock());
      bucket = taken.bucket;
      if (!taken.allowed) { heldBack++; return; }
      post();
      postedNow.set(key, '');
    };
    const byReason = new Map<string, number>();
    for (const r of plan.rejected) {
      byReason.set(r.reason, (byReason.get(r.reason) ?? 0) + 1);
      const key = `rejected/${r.endpoint.uid}/${r.endpoint.resourceVersion}/${r.reason}`;
      sayOnce(key, () => logger.warn({ endpoint: `${r.endpoint.namespace}/${r.endpoint.name}`, cluster: r.cluster, reason: r.reason, message: r.message }, 'Endpoint rejected'));
      postOnce(key, () => deps.events!.warning(endpointObject(r.endpoint), EVENT_REJECTED, `${r.reason}: ${r.message}; its subnets are not routed`));
    }
    for (const d of plan.duplicates) {
      const key = `duplicate/${d.endpoint.uid}/${d.winner.uid}`;
      sayOnce(key, () => logger.warn({ endpoint: `${d.endpoint.namespace}/${d.endpoint.name}`, cluster: d.cluster, newer: d.winner.name }, 'several Endpoints for one cluster; the newest is used'));
      postOnce(key, () => deps.events!.warning(endpointObject(d.endpoint), EVENT_DUPLICATE, `cluster "${d.cluster}" has a newer Endpoint ${d.winner.namespace}/${d.winner.name}, which is used; this one is ignored`));
    }
    // Routes only this node refuses (its own networks): the cluster-wide verdict accepted them.
    const refusedByReason = new Map<string, number>();
    for (const r of plan.refusedHere) {
      refusedByReason.set(r.reason, (refusedByReason.get(r.reason) ?? 0) + 1);
      sayOnce(`refused/${r.clusterId}/${r.subnet}/${r.reason}`, () => logger.warn({ cluster: r.clusterId, subnet: r.subnet, reason: r.reason }, r.message));
    }
    for (const n of plan.notes) sayOnce(`note/${n.code}/${n.message}`, () => logger.info({ code: n.code }, n.message));
    said.update(now);
    posted.update(postedNow);
    waiting = heldBack > 0;
    if (heldBack > 0) metrics.eventsHeldBack.inc(heldBack);
    metrics.refusedRoutes.reset();
    for (const [reason, count] of refusedByReason) metrics.refusedRoutes.set({ reason }, count);
    metrics.rejectedEndpoints.reset();
    for (const [reason, count] of byReason) metrics.rejectedEndpoints.set({ reason }, count);
    metrics.duplicateEndpoints.set(plan.duplicates.length);
    metrics.isGateway.set(plan.isGateway ? 1 : 0);
  };
  return Object.assign(report, {
    nextEventAt: () => (waiting ? clock() + msUntilToken(bucket, limits, clock()) : undefined),
  });
}
