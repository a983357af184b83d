import type { Logger } from '../telemetry/logger.ts';
import type { Readiness } from '../server/readiness.ts';
import type { ComponentMetrics } from './component-metrics.ts';
import { createFailureLog, describeError } from './failure-log.ts';
import { retryForever, type RetryForeverOptions } from './retry-forever.ts';

export interface StepSpec<T> {
  /** The readiness condition and the metrics' component label, e.g. "state-dir". */
  name: string;
  /** What the step does, for readiness reasons and logs, e.g. "creating state directory /var/lib/seaway". */
  what: string;
  attempt: () => Promise<T> | T;
  /** Releases what the step made when the agent stops; also runs when the agent stopped while the attempt ran. */
  close?: (value: T) => Promise<void> | void;
}

export interface StartupStepsDeps {
  readiness: Readiness;
  metrics: ComponentMetrics;
  logger: Logger;
  /** Aborting it makes every pending step reject with the signal's reason. */
  signal: AbortSignal;
  /** Where successful steps register their close, in start order (the caller closes in reverse). */
  closers: Array<() => Promise<void> | void>;
  retry?: Pick<RetryForeverOptions, 'minDelayMs' | 'maxDelayMs'>;
  remindEveryMs?: number;
}

export type RunStep = <T>(spec: StepSpec<T>) => Promise<T>;

/**
 * A start-up step that may fail for reasons of the node, not of the configuration: retried
 * without limit with backoff and jitter, reported as a readiness condition naming what fails,
 * a metric, and a log line that is not repeated on every attempt.
 */
export function startupSteps(deps: StartupStepsDeps): RunStep {
  const { readiness, metrics, logger } = deps;
  return async function runStep<T>(spec: StepSpec<T>): Promise<T> {
    const log = createFailureLog({ logger, name: spec.name, what: spec.what, remindEveryMs: deps.remindEveryMs });
    const attempt = async () => {
      const made = await spec.attempt();
      // p-retry drops a result that arrives after the abort; release it here instead.
      if (deps.signal.aborted) await spec.close?.(made);
      return made;
    };
    const value = await retryForever(attempt, {
      ...deps.retry,
      signal: deps.signal,
      onFailure: (failure) => {
        metrics.failing.set({ component: spec.name }, 1);
        metrics.failures.inc({ component: spec.name });
        readiness.unmet(spec.name, `${spec.what} failed: ${describeError(failure.error)}; retrying (attempt ${failure.attempt}, next in ${((failure.retryInMs ?? 0) / 1000).toFixed(1)} s)`);
        log.failed(failure);
      },
    });
    if (deps.signal.aborted) {
      await spec.close?.(value);
      throw deps.signal.reason;
    }
    if (spec.close) {
      const close = spec.close;
      deps.closers.push(() => close(value));
    }
    metrics.failing.set({ component: spec.name }, 0);
    log.succeeded();
    readiness.met(spec.name);
    return value;
  };
}
