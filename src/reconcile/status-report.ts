import type { Metrics } from '../telemetry/metrics.ts';
import type { Readiness } from '../server/readiness.ts';
import { reasonText, type ObjectState, type ObjectStatus, type ObjectTable } from './object-table.ts';
import type { ObjectFailureLog } from './object-failure-log.ts';

export const PROGRAMMED = 'programmed';

/** How many unsettled objects /readyz names one by one; the rest are counted. */
const NAMED_IN_READINESS = 5;
const STATES: readonly ObjectState[] = ['pending', 'in-progress', 'programmed', 'failed'];

export interface StatusReportDeps {
  readiness: Readiness;
  metrics: Metrics;
  failureLog: ObjectFailureLog;
}

/**
 * One object as /readyz says it: what, state, why, and when it is tried again (a time, not a
 * countdown: readiness text is written once per pass and read any time after).
 */
export function describeStatus(status: ObjectStatus): string {
  const why = status.reason ? `: ${reasonText(status)}` : '';
  const retry = status.state === 'failed' && status.retryAt !== undefined ? ` (attempt ${status.attempts}, next at ${new Date(status.retryAt).toISOString()})` : '';
  return `${status.object} ${status.state}${why}${retry}`;
}

/**
 * Everything that reports the datapath reads the object table (passFailed: the reason a pass
 * failed as a whole, which readiness then names instead): the `programmed` readiness
 * condition (met only when every object is as wanted, otherwise naming the ones that are not),
 * seaway_owned_objects (programmed objects, not desired ones), seaway_objects{kind,state}, and
 * the failure log. Returns how many objects are not programmed.
 */
export function publishStatus(table: ObjectTable, deps: StatusReportDeps, passFailed?: string): number {
  const unsettled = table.unsettled();
  // Synchronous reset and refill: no scrape can see the gap, and a kind that is gone reads 0 no more.
  deps.metrics.ownedObjects.reset();
  deps.metrics.objects.reset();
  for (const [kind, byState] of table.counts()) {
    deps.metrics.ownedObjects.set({ kind }, byState.programmed);
    for (const state of STATES) deps.metrics.objects.set({ kind, state }, byState[state]);
  }
  deps.failureLog.record(unsettled.filter((s) => s.state === 'failed'));
  // A pass that failed as a whole says so; readiness must not flicker to ready on the way.
  if (passFailed !== undefined) {
    deps.readiness.unmet(PROGRAMMED, passFailed);
    return unsettled.length;
  }
  if (unsettled.length === 0) {
    deps.readiness.met(PROGRAMMED);
    return 0;
  }
  // Failures first: they are what an operator must act on; pending objects usually follow them.
  const order = (s: ObjectStatus) => (s.state === 'failed' ? 0 : s.state === 'pending' ? 1 : 2);
  const named = [...unsettled].sort((a, b) => order(a) - order(b)).slice(0, NAMED_IN_READINESS).map(describeStatus);
  const more = unsettled.length > named.length ? `; and ${unsettled.length - named.length} more` : '';
  deps.readiness.unmet(PROGRAMMED, `${unsettled.length} object(s) not programmed: ${named.join('; ')}${more}`);
  return unsettled.length;
}
