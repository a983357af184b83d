import { isDeepStrictEqual } from 'node:util';
import type { RunConfig } from '../config.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { Readiness } from '../server/readiness.ts';
import type { Rtnetlink } from '../kernel/rtnetlink.ts';
import type { RoutingDataplane } from '../dataplane/routing-dataplane.ts';
import type { FilterDriver } from '../dataplane/filter.ts';
import type { Snapshot } from '../model/snapshot.ts';
import type { CniInterface } from '../init/cni-tracker.ts';
import type { NodeFactsReader } from '../dataplane/node-facts.ts';
import type { EventRecorder } from '../k8s/event-recorder.ts';
import { describeError } from '../startup/failure-log.ts';
import type { ObjectStatus, ObjectTable } from './object-table.ts';
import type { Plan } from '../plan/node-plan.ts';
import type { PassOutcome } from './loop.ts';
import { reconcileComponent } from './component.ts';
import { filterComponent, filterKey, routingComponent } from './components.ts';
import { createPlanning, type PlannedPass } from './planning.ts';
import { Streaks } from '../telemetry/streaks.ts';
import { createPlanReport } from './plan-report.ts';
import { createObjectFailureLog } from './object-failure-log.ts';
import { PROGRAMMED, publishStatus } from './status-report.ts';
import { fightId, heldWhileFought, type FightReport } from './fight-report.ts';
import type { DesiredFilter, DesiredState } from '../model/desired-state.ts';
import type { KernelChanges, KernelPart } from './kernel-changes.ts';
import { PERIODIC_RESYNC } from './loop.ts';

export { PROGRAMMED };

/** A component the pass left alone: nothing written, nothing failed. */
const UNTOUCHED = { failures: [], deferred: [], writes: 0 } as const;

/** Readiness condition while the last trusted local Endpoint is held (fail static): the datapath is intact, its input is not. */
export const LOCAL_ENDPOINT = 'local-endpoint';

export interface PassDeps {
  config: RunConfig;
  logger: Logger;
  metrics: Metrics;
  readiness: Readiness;
  rtnl: Rtnetlink;
  routing: RoutingDataplane;
  filter: FilterDriver | null;
  /** Every object's status: what the pass gates on and reports from. */
  table: ObjectTable;
  /** Repairs someone keeps undoing: held on a backoff, and reported. */
  fights: FightReport;
  informersSynced: () => boolean;
  snapshot: () => Snapshot;
  nodeReady: () => boolean;
  cniInterface: () => CniInterface | null;
  events?: Pick<EventRecorder, 'warning'>;
  /** The clock of fail-static grace periods (tests inject one). */
  now?: () => number;
  /** See PlanningDeps.nodeFacts. */
  nodeFacts?: NodeFactsReader;
  /**
   * What the kernel watches saw since the last pass: a part nobody changed, whose desired state is
   * the one last programmed there, is neither read nor written. Without it every pass reads all.
   */
  kernelChanges?: KernelChanges;
  /**
   * Told after every pass that planned or failed (not one waiting for sync or init): what it planned,
   * what is not programmed, and why it failed. Must not throw or wait (the RouteAgent reporter).
   */
  onPassed?: (passed: PassedReport) => void;
}

/** What one pass leaves for the status objects: the plan, the objects not programmed, and a failure. */
export interface PassedReport {
  /** null when planning itself failed (the node's facts could not be read). */
  plan: Plan | null;
  /** The object table's unsettled objects after the pass: every desired object not listed is programmed. */
  unsettled: readonly ObjectStatus[];
  /** Why the pass failed as a whole (absent when it did not): what is programmed cannot be vouched for. */
  failure?: string;
}

const NOTHING_QUIET: ReadonlySet<KernelPart> = new Set();

/** The routing half of two desired states is the same (each part compared by identity first: a reused plan shares them). */
const sameRouting = (a: DesiredState, b: DesiredState): boolean =>
  (['links', 'routes', 'rules', 'fdb', 'sysctls'] as const).every((part) => a[part] === b[part] || isDeepStrictEqual(a[part], b[part]));

/** A component's report that leaves every one of its objects programmed. */
const settled = (report: { failures: readonly unknown[]; deferred: readonly unknown[]; started?: readonly unknown[] }): boolean =>
  report.failures.length === 0 && report.deferred.length === 0 && (report.started?.length ?? 0) === 0;

const passFailedReason = (why: string): string => `reconcile pass failed: ${why}; retrying`;

/**
 * Why programming must wait, or null. An unsynced, empty snapshot would plan the removal of
 * everything, and the init phase guards the CNI race; both are states, not failures.
 */
export function programmingBlockedBy(deps: Pick<PassDeps, 'informersSynced' | 'nodeReady' | 'cniInterface'>): string | null {
  if (!deps.informersSynced()) return 'waiting for the Endpoint, Cluster and Node informers to sync';
  if (!deps.nodeReady() || deps.cniInterface() === null) return 'waiting for init (Node Ready and the CNI interface) before programming';
  return null;
}

/**
 * One pass: gate, plan (node facts and snapshot), apply each component against its objects'
 * status, report. A component that throws does not stop the others; the pass then throws, so
 * the loop backs off and readiness names the reason.
 */
export function createPass(deps: PassDeps): (reasons: readonly string[]) => Promise<PassOutcome> {
  const { logger, metrics, readiness, table } = deps;
  const planning = createPlanning(deps);
  const reportPlan = createPlanReport(deps);
  const failureLog = createObjectFailureLog(logger);
  // What the kernel holds untouched since a clean apply left it so: the routing desired state, and
  // whether the filter is still lastFilter. Forgotten as soon as a pass takes a change of that part.
  let routingHolds: DesiredState | null = null;
  let filterHolds = false;
  // A quiet kernel holds what the last clean apply left: a changed plan is written as its difference from that.
  const routing = routingComponent(deps.routing, () => routingHolds);
  let filter: { driver: FilterDriver | null; component: ReturnType<typeof filterComponent> } | null = null;
  const failStaticSaid = new Streaks();
  const fightReport = deps.fights;
  // The filter the last pass applied, and with which driver: the same again is a repair, not new work.
  let lastFilter: { driver: FilterDriver; desired: DesiredFilter | null } | null = null;

  /** What is held in place of missing input: a readiness condition for the local Endpoint, one log line per change. */
  const reportFailStatic = (planned: PlannedPass) => {
    if (planned.plan.localHeld) readiness.unmet(LOCAL_ENDPOINT, 'no trusted local Endpoint (gateway takeover, spoof or deletion): the last trusted gateway stays in use');
    else readiness.met(LOCAL_ENDPOINT);
    const now = new Map(planned.retained.map((r) => [r.clusterId, r.subnets.join(',')]));
    const changes = failStaticSaid.update(now);
    for (const r of planned.retained.filter((x) => changes.started.includes(x.clusterId) || changes.changed.includes(x.clusterId))) {
      logger.warn({ cluster: r.clusterId, subnets: r.subnets, until: new Date(r.until).toISOString() }, 'remote cluster has no Endpoint: its routes stay for the grace period (fail static)');
    }
    for (const clusterId of changes.ended) logger.info({ cluster: clusterId }, 'remote cluster no longer held: an Endpoint came back, or its grace ended');
  };

  const tell = (plan: Plan | null, failure?: string) => {
    if (deps.onPassed === undefined) return;
    try {
      deps.onPassed({ plan, unsettled: table.unsettled(), ...(failure !== undefined ? { failure } : {}) });
    } catch (error) {
      logger.warn({ err: describeError(error instanceof Error ? error : new Error(String(error))) }, 'reporting the pass failed');
    }
  };

  return async function pass(reasons) {
    const waiting = programmingBlockedBy(deps);
    if (waiting) {
      readiness.unmet(PROGRAMMED, waiting);
      metrics.reconcilePasses.inc({ result: 'waiting' });
      return {};
    }
    const end = metrics.reconcilePassSeconds.startTimer();
    let told = false;
    // The watches' news is taken before any read, so a change during this pass's reads is the next one's.
    const taken = deps.kernelChanges?.take() ?? NOTHING_QUIET;
    // The periodic resync reads everything: the backstop for whatever no watch reports (a sysctl written over).
    const quiet = reasons.includes(PERIODIC_RESYNC) ? NOTHING_QUIET : taken;
    if (!quiet.has('routing')) routingHolds = null;
    if (!quiet.has('filter')) filterHolds = false;
    try {
      const planned = await planning(quiet);
      const { plan } = planned;
      reportPlan(plan, planned.snapshot);
      reportFailStatic(planned);
      const errors: string[] = [];
      const skipRouting = routingHolds !== null && sameRouting(routingHolds, plan.desired);
      // Inputs unchanged: a routing write is a repair, held back for an object someone keeps undoing.
      const routed = skipRouting ? null : await reconcileComponent(table, planned.steady ? heldWhileFought(routing, fightReport.war) : routing, plan.desired).catch((error: unknown) => {
        errors.push(`routing: ${describeError(error instanceof Error ? error : new Error(String(error)))}`);
        return null;
      });
      if (!skipRouting) routingHolds = routed !== null && settled(routed) ? plan.desired : null;
      if (planned.steady && routed) fightReport.observeRouting(routed);
      const driver = deps.filter;
      // A quiet filter holds what the driver last wrote: a changed desired state is written as its difference from that.
      if (filter === null || filter.driver !== driver) filter = { driver, component: filterComponent(driver, () => filterHolds && lastFilter?.driver === driver) };
      // The same filter as last time: a write would be a repair, held back while the filter is fought
      // over. (Any other change of the inputs, a Node's heartbeat projection, an unrelated Endpoint,
      // does not lift the hold; a changed filter is new work and is written at once.)
      const repairing = driver !== null && lastFilter !== null && lastFilter.driver === driver && isDeepStrictEqual(lastFilter.desired, plan.desired.filter);
      const skipFilter = repairing && filterHolds;
      const filtered = skipFilter ? UNTOUCHED : await reconcileComponent(table, repairing ? heldWhileFought(filter.component, fightReport.war) : filter.component, plan.desired.filter);
      if (!skipFilter) {
        if (driver !== null && settled(filtered)) lastFilter = { driver, desired: plan.desired.filter };
        filterHolds = driver !== null && settled(filtered);
        if (repairing && plan.desired.filter !== null) fightReport.observe(fightId('filter', filterKey(driver)), filtered);
      }
      fightReport.publish();

      for (const [kind, count] of Object.entries(routed?.writesByKind ?? {})) {
        if (count.ok) metrics.kernelOperations.inc({ kind, op: 'write', result: 'ok' }, count.ok);
        if (count.failed) metrics.kernelOperations.inc({ kind, op: 'write', result: 'error' }, count.failed);
      }
      const filterWrites = filtered.writes;
      if (filterWrites) metrics.kernelOperations.inc({ kind: 'filter', op: 'write', result: 'ok' }, filterWrites);
      if (filtered.failures.length) metrics.kernelOperations.inc({ kind: 'filter', op: 'write', result: 'error' }, filtered.failures.length);
      if (planned.steady && routed && routed.writes > 0) metrics.driftRepairs.inc({ component: 'routing' }, routed.writes);
      if (planned.steadyFilter && filterWrites > 0) metrics.driftRepairs.inc({ component: 'packet-filter' }, filterWrites);

      const failed = errors.length > 0 ? passFailedReason(errors.join('; ')) : undefined;
      const unsettled = publishStatus(table, { readiness, metrics, failureLog }, failed);
      told = true;
      tell(plan, errors.length > 0 ? errors.join('; ') : undefined);
      const writes = (routed?.writes ?? 0) + filterWrites;
      logger[writes > 0 ? 'info' : 'debug']({
        reasons, writes, ...(skipRouting || skipFilter ? { untouched: [...(skipRouting ? ['routing'] : []), ...(skipFilter ? ['packet-filter'] : [])] } : {}), notProgrammed: unsettled, deferred: (routed?.deferred.length ?? 0) + filtered.deferred.length,
        gateway: plan.gatewayNode, isGateway: plan.isGateway, routes: plan.desired.routes.length,
      }, 'reconcile pass');
      if (errors.length > 0) throw new Error(errors.join('; '));
      if (unsettled === 0) {
        planned.accept(driver !== null);
        metrics.lastSuccessfulPassTimestamp.set(Date.now() / 1000);
      }
      end({ result: unsettled === 0 ? 'ok' : 'partial' });
      metrics.reconcilePasses.inc({ result: unsettled === 0 ? 'ok' : 'partial' });
      // Woken by itself for the first of: an object's retry, a grace period's end, a held-back Event, a fight's hold.
      const due = [table.nextRetryAt(), planned.wakeAt, reportPlan.nextEventAt(), fightReport.war.nextHoldEnd()].filter((t) => t !== undefined);
      return due.length === 0 ? {} : { retryAt: Math.min(...due) };
    } catch (error) {
      end({ result: 'error' });
      metrics.reconcilePasses.inc({ result: 'error' });
      const why = describeError(error instanceof Error ? error : new Error(String(error)));
      readiness.unmet(PROGRAMMED, passFailedReason(why));
      // Planning failed (no plan): the reporter keeps the last plan it saw and says why.
      if (!told) tell(null, why);
      throw error;
    }
  };
}
