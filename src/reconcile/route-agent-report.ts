/**
 * After each pass, this node's RouteAgent object (plan/route-agent-status.ts builds it) is handed to
 * the publisher, which writes it within its budget (on change at most every 10 s, unchanged once a
 * minute, backing off after failures, one write at a time). The pass never waits for the API server:
 * report() returns at once, and a timer publishes a change the budget held back, a refresh, or a
 * retry, so neither a change nor a retry waits for the next pass.
 *
 * The node's health checks (when given) are read at each build: after a pass, when a verdict changes
 * (refresh(), with the last pass's plan), and again just before each write, so the refresh a
 * minute after the last write carries the RTT figures of that moment, not of the last pass.
 *
 * One log line when writing starts failing or fails differently, one when it works again (never per
 * retry); the failure's words are the API server's Status message or the error's own, never a
 * header or a credential.
 */
import type { Logger } from '../telemetry/logger.ts';
import { Streaks } from '../telemetry/streaks.ts';
import type { StatusPublisher, StatusWriteResult } from '../k8s/status-object-writer.ts';
import { routeAgentObject, type RouteAgentHealth, type RouteAgentObject, type RouteAgentPlan } from '../plan/route-agent-status.ts';
import { errorText } from '../model/error-text.ts';
import type { PassedReport } from './pass.ts';

/** The shortest wait the timer takes when the publisher says "now" but did not write (never a busy loop). */
const MIN_TIMER_MS = 1000;

export interface RouteAgentReporterDeps {
  nodeName: string;
  namespace: string;
  version: string;
  publisher: Pick<StatusPublisher<RouteAgentObject>, 'publish' | 'nextAttemptAt' | 'nextChangeAt'>;
  logger: Logger;
  now?: () => number;
  /** Counts failed writes (seaway_api_errors_total). */
  onWriteError?: () => void;
  /** What the node's health checks found now, for this plan's remotes (reconcile/node-health-checks.ts); absent: no health checks. */
  health?: (plan: RouteAgentPlan) => RouteAgentHealth;
  /** Timers (tests inject their own). */
  setTimer?: (run: () => void, ms: number) => unknown;
  clearTimer?: (timer: unknown) => void;
}

export interface RouteAgentReporter {
  /** Builds the object from a pass and publishes it when due. Returns at once; never throws. */
  report(passed: PassedReport): void;
  /** Builds the object again from the last pass (a health verdict changed) and publishes it when due. Never throws. */
  refresh(): void;
  /** Ends the timer and the write in flight (aborted); resolves when it has settled. */
  stop(): Promise<void>;
}

const BUILD = 'build';
const WRITE = 'write';

export function createRouteAgentReporter(deps: RouteAgentReporterDeps): RouteAgentReporter {
  const { logger, publisher } = deps;
  const now = deps.now ?? Date.now;
  const setTimer = deps.setTimer ?? ((run: () => void, ms: number) => {
    const timer = setTimeout(run, ms);
    timer.unref();
    return timer;
  });
  const clearTimer = deps.clearTimer ?? ((timer: unknown) => clearTimeout(timer as NodeJS.Timeout));
  const said = new Streaks();
  const notesSaid = new Streaks();
  const abort = new AbortController();
  let lastPlan: RouteAgentPlan | null = null;
  /** The last pass's report that had a plan to list (the plan may be an earlier pass's). */
  let lastPassed: { plan: RouteAgentPlan; unsettled: PassedReport['unsettled']; failure?: string } | null = null;
  let latest: RouteAgentObject | null = null;
  /** A pass reported since `latest` was built: it is built again when a write could take it. */
  let stale = false;
  let writing: Promise<void> | null = null;
  let timer: unknown;
  let timerAt: number | undefined;
  let stopped = false;

  const cancelTimer = () => {
    if (timer !== undefined) clearTimer(timer);
    timer = undefined;
    timerAt = undefined;
  };
  /** One timer, for `at` (unix ms), `delayMs` from now: it publishes the latest object if due. */
  const arm = (delayMs: number, at: number) => {
    cancelTimer();
    timerAt = at;
    timer = setTimer(() => { timer = undefined; timerAt = undefined; kick(); }, delayMs);
  };

  const logResult = (result: StatusWriteResult) => {
    if (result.ok) {
      if (said.clear(WRITE)) logger.info({ routeAgent: result.name, action: result.action }, 'RouteAgent written again');
      else logger[result.action === 'created' ? 'info' : 'debug']({ routeAgent: result.name, action: result.action }, 'RouteAgent written');
      return;
    }
    deps.onWriteError?.();
    const { problem } = result;
    if (said.mark(WRITE, `${result.step} ${problem.cause}`) === 'new') {
      logger.warn({ routeAgent: result.name, step: result.step, cause: problem.cause, err: problem.detail }, 'writing the RouteAgent failed; retrying with backoff');
    }
  };

  /** Publishes the latest object if due; afterwards sets the timer for when it is due next. */
  const kick = () => {
    if (stopped || latest === null || writing !== null) return;
    cancelTimer();
    // The health checks' figures as they are now (the refresh's RTT, a verdict that changed since).
    if (deps.health !== undefined || stale) build();
    const object = latest;
    let attempted = false;
    writing = publisher.publish(object, now(), abort.signal).then((outcome) => {
      attempted = outcome.attempted;
      // A write aborted by stop() is no failure worth a line.
      if (outcome.attempted && !stopped) logResult(outcome.result);
    }, (error: unknown) => {
      // The publisher never throws; should it, the timer still retries.
      if (said.mark(WRITE, errorText(error)) === 'new') logger.warn({ err: errorText(error) }, 'writing the RouteAgent failed; retrying with backoff');
    }).finally(() => {
      writing = null;
      try {
        schedule(attempted);
      } catch (error) {
        logger.warn({ err: errorText(error) }, 'scheduling the next RouteAgent write failed');
      }
    });
  };

  const schedule = (attempted: boolean) => {
    if (stopped || latest === null) return;
    const nowMs = now();
    const at = publisher.nextAttemptAt(latest, nowMs);
    if (at === undefined) return;
    arm(Math.max(at - nowMs, attempted ? 0 : MIN_TIMER_MS), at);
  };

  /** Builds the object from the last pass and the health checks now; false when it cannot be built (said once). Never throws. */
  function build(): boolean {
    if (lastPassed === null) return false;
    try {
      const { plan, unsettled, failure } = lastPassed;
      const health = deps.health?.(plan);
      const render = routeAgentObject({
        nodeName: deps.nodeName, namespace: deps.namespace, version: deps.version,
        plan, unsettled, ...(failure !== undefined ? { failure } : {}), ...(health !== undefined ? { health } : {}),
      });
      if (!render.ok) {
        if (said.mark(BUILD, render.message) === 'new') logger.warn({ reason: render.message }, 'the RouteAgent object cannot be built; it is not written');
        return false;
      }
      if (said.clear(BUILD)) logger.info('the RouteAgent object can be built again');
      stale = false;
      const notes = notesSaid.update(new Map(render.notes.map((note) => [note, note])));
      for (const note of [...notes.started, ...notes.changed]) logger.warn({ note }, 'RouteAgent status: a remote Endpoint is left out');
      latest = render.object;
      return true;
    } catch (error) {
      logger.warn({ err: errorText(error) }, 'building the RouteAgent object failed');
      return false;
    }
  }

  return {
    report(passed) {
      if (stopped) return;
      const plan = passed.plan ?? lastPlan;
      // Planning failed before any plan: there is nothing to list yet.
      if (plan === null) return;
      if (passed.plan !== null) lastPlan = passed.plan;
      lastPassed = { plan, unsettled: passed.unsettled, ...(passed.failure !== undefined ? { failure: passed.failure } : {}) };
      // While the budget holds any change back (passes every second under Endpoint churn), the object
      // of 1,000 remotes is built once, when it can be written, not after every pass.
      const nowMs = now();
      const changeAt = latest === null || writing !== null ? undefined : publisher.nextChangeAt(nowMs);
      if (changeAt !== undefined && changeAt > nowMs) {
        stale = true;
        if (timerAt === undefined || timerAt > changeAt) arm(changeAt - nowMs, changeAt);
        return;
      }
      if (build() && writing === null) kick();
    },
    refresh() {
      if (stopped) return;
      if (build() && writing === null) kick();
    },
    async stop() {
      stopped = true;
      cancelTimer();
      abort.abort(new Error('stopping'));
      await writing;
    },
  };
}
