import type { RunConfig } from '../config.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { Readiness } from '../server/readiness.ts';
import type { Rtnetlink } from '../kernel/rtnetlink.ts';
import type { RoutingDataplane } from '../dataplane/routing-dataplane.ts';
import type { FilterDriver } from '../dataplane/filter.ts';
import type { ApplyReport } from '../dataplane/report.ts';
import { readNodeFacts } from '../dataplane/node-facts.ts';
import { planNode, type Plan } from '../plan/node-plan.ts';
import { eventReporter } from '../plan/event-reporter.ts';
import type { Snapshot } from '../model/snapshot.ts';
import type { CniInterface } from '../init/cni-tracker.ts';
import type { EventRecorder, InvolvedObject } from '../k8s/event-recorder.ts';
import type { EndpointRef } from '../model/endpoint-set.ts';
import { createObjectFailureLog } from './object-failure-log.ts';

export const PROGRAMMED = 'programmed';

export interface PassDeps {
  config: RunConfig;
  logger: Logger;
  metrics: Metrics;
  readiness: Readiness;
  rtnl: Rtnetlink;
  routing: RoutingDataplane;
  filter: FilterDriver | null;
  informersSynced: () => boolean;
  snapshot: () => Snapshot;
  nodeReady: () => boolean;
  cniInterface: () => CniInterface | null;
  /** Kubernetes Events on rejected and duplicate Endpoints, once per change, like the log lines. */
  events?: Pick<EventRecorder, 'warning'>;
}

export const EVENT_REJECTED = 'EndpointRejected';
export const EVENT_DUPLICATE = 'DuplicateEndpoint';

const endpointObject = (ref: EndpointRef): InvolvedObject => ({ apiVersion: 'submariner.io/v1', kind: 'Endpoint', ...ref });

/**
 * One reconcile pass: (snapshot, kernel facts) -> plan -> drivers. Programming waits for the
 * informers' first sync (an unsynced, empty snapshot would plan the removal of everything) and
 * for the init phase; both are states, not failures.
 */
export function createPass(deps: PassDeps): (reasons: readonly string[]) => Promise<boolean> {
  const { logger, metrics, readiness } = deps;
  const reported = new Set<string>();
  const failureLog = createObjectFailureLog(logger);
  // What the last successful pass planned from: writes made from the same inputs repair drift.
  let lastInputs: { snapshot: Snapshot; facts: string; filter: boolean } | null = null;

  const report = (plan: Plan, reportsEvents: boolean) => {
    const current = new Set<string>();
    const byReason = new Map<string, number>();
    for (const r of plan.rejected) {
      byReason.set(r.reason, (byReason.get(r.reason) ?? 0) + 1);
      const key = `rejected/${r.endpoint.uid}/${r.endpoint.resourceVersion}/${r.reason}`;
      current.add(key);
      if (!reported.has(key)) {
        logger.warn({ endpoint: `${r.endpoint.namespace}/${r.endpoint.name}`, cluster: r.cluster, reason: r.reason, message: r.message }, 'Endpoint rejected');
        if (reportsEvents) deps.events?.warning(endpointObject(r.endpoint), EVENT_REJECTED, `${r.reason}: ${r.message}; its subnets are not routed`);
      }
    }
    for (const d of plan.duplicates) {
      const key = `duplicate/${d.endpoint.uid}/${d.winner.uid}`;
      current.add(key);
      if (!reported.has(key)) {
        logger.warn({ endpoint: `${d.endpoint.namespace}/${d.endpoint.name}`, cluster: d.cluster, newer: d.winner.name }, 'several Endpoints for one cluster; the newest is used');
        if (reportsEvents) deps.events?.warning(endpointObject(d.endpoint), EVENT_DUPLICATE, `cluster "${d.cluster}" has a newer Endpoint ${d.winner.namespace}/${d.winner.name}, which is used; this one is ignored`);
      }
    }
    for (const n of plan.notes) {
      const key = `note/${n.code}/${n.message}`;
      current.add(key);
      if (!reported.has(key)) logger.info({ code: n.code }, n.message);
    }
    reported.clear();
    for (const key of current) reported.add(key);
    metrics.rejectedEndpoints.reset();
    for (const [reason, count] of byReason) metrics.rejectedEndpoints.set({ reason }, count);
    metrics.duplicateEndpoints.set(plan.duplicates.length);
    metrics.isGateway.set(plan.isGateway ? 1 : 0);
  };

  const record = (applied: ApplyReport) => {
    for (const [kind, count] of Object.entries(applied.writesByKind)) {
      if (count.ok) metrics.kernelOperations.inc({ kind, op: 'write', result: 'ok' }, count.ok);
      if (count.failed) metrics.kernelOperations.inc({ kind, op: 'write', result: 'error' }, count.failed);
    }
    failureLog.record(applied.failures);
  };

  return async function pass(reasons) {
    if (!deps.informersSynced()) {
      readiness.unmet(PROGRAMMED, 'waiting for the Endpoint, Cluster and Node informers to sync');
      return true;
    }
    const cni = deps.cniInterface();
    if (!deps.nodeReady() || cni === null) {
      readiness.unmet(PROGRAMMED, 'waiting for init (Node Ready and the CNI interface) before programming');
      return true;
    }
    const end = metrics.reconcilePassSeconds.startTimer();
    const facts = await readNodeFacts(deps.rtnl, { name: cni.name, address: cni.address });
    if (!facts) {
      readiness.unmet(PROGRAMMED, 'the node has no IPv4 default route: cannot tell the VXLAN underlay');
      end({ result: 'error' });
      metrics.reconcilePasses.inc({ result: 'error' });
      return false;
    }
    const snapshot = deps.snapshot();
    const inputs = { snapshot, facts: JSON.stringify(facts), filter: deps.filter !== null };
    const steady = lastInputs !== null && lastInputs.snapshot === snapshot && lastInputs.facts === inputs.facts;
    const plan = planNode(snapshot, facts, deps.config);
    report(plan, eventReporter(snapshot, plan.gatewayNode) === deps.config.nodeName);
    const applied = await deps.routing.apply(plan.desired);
    record(applied);
    let filterWrites = 0;
    if (deps.filter) {
      const before = deps.filter.writes;
      await deps.filter.apply(plan.desired.filter);
      filterWrites = deps.filter.writes - before;
      if (filterWrites) metrics.kernelOperations.inc({ kind: 'filter', op: 'write', result: 'ok' }, filterWrites);
    }
    const d = plan.desired;
    metrics.ownedObjects.set({ kind: 'link' }, d.links.length);
    metrics.ownedObjects.set({ kind: 'route' }, d.routes.length);
    metrics.ownedObjects.set({ kind: 'rule' }, d.rules.length);
    metrics.ownedObjects.set({ kind: 'fdb' }, d.fdb.length);
    const ok = applied.failures.length === 0;
    end({ result: ok ? 'ok' : 'error' });
    metrics.reconcilePasses.inc({ result: ok ? 'ok' : 'error' });
    if (steady && applied.writes > 0) metrics.driftRepairs.inc({ component: 'routing' }, applied.writes);
    if (steady && lastInputs?.filter && filterWrites > 0) metrics.driftRepairs.inc({ component: 'packet-filter' }, filterWrites);
    const writes = applied.writes + filterWrites;
    logger[writes > 0 ? 'info' : 'debug']({ reasons, writes, failures: applied.failures.length, gateway: plan.gatewayNode, isGateway: plan.isGateway, routes: d.routes.length }, 'reconcile pass');
    if (!ok) {
      readiness.unmet(PROGRAMMED, `${applied.failures.length} kernel object(s) could not be programmed; retrying`);
      return false;
    }
    lastInputs = inputs;
    metrics.lastSuccessfulPassTimestamp.set(Date.now() / 1000);
    readiness.met(PROGRAMMED);
    return true;
  };
}
