/**
 * Fakes for the informer's unit tests: a virtual clock (minutes of backoff run in microseconds,
 * and every wait the informer asks for is recorded), and a scripted list/watch source that counts
 * requests and open watches and lets a test decide how each one goes.
 */
import { ApiStatusError } from '../../src/k8s/api-problem.ts';
import type { Clock } from '../../src/k8s/clock.ts';
import type { ApiObject, ListPage, ListRequest, ListWatch, WatchEvent, WatchRequest } from '../../src/k8s/list-watch.ts';
import { createMetrics, type Metrics } from '../../src/telemetry/metrics.ts';

/** Lets the code woken by a resolved promise (and what it schedules) run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

interface Sleeper {
  at: number;
  resolve: () => void;
}

export class VirtualClock implements Clock {
  #now = 0;
  #sleepers: Sleeper[] = [];
  /** Every wait asked for, in ms, in order. */
  readonly requested: number[] = [];

  now(): number {
    return this.#now;
  }

  sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      this.requested.push(ms);
      const sleeper: Sleeper = {
        at: this.#now + Math.max(0, ms),
        resolve: () => { signal.removeEventListener('abort', onAbort); resolve(); },
      };
      const onAbort = () => {
        this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#sleepers.push(sleeper);
    });
  }

  get sleeping(): number {
    return this.#sleepers.length;
  }

  /** Moves virtual time to `until`, waking each sleeper at its time and letting what it resumes run. */
  async runUntil(until: number): Promise<void> {
    for (;;) {
      await settle();
      const next = this.#sleepers.reduce<Sleeper | undefined>((earliest, s) => (earliest === undefined || s.at < earliest.at ? s : earliest), undefined);
      if (next === undefined || next.at > until) break;
      this.#now = Math.max(this.#now, next.at);
      this.#sleepers = this.#sleepers.filter((s) => s !== next);
      next.resolve();
    }
    this.#now = Math.max(this.#now, until);
    await settle();
  }

  async advance(ms: number): Promise<void> {
    await this.runUntil(this.#now + ms);
  }
}

export interface TestObject extends ApiObject {
  metadata: { name: string; namespace?: string; resourceVersion: string };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

export function object(name: string, resourceVersion: string, spec: Record<string, unknown> = {}, status: Record<string, unknown> = {}): TestObject {
  return { metadata: { name, resourceVersion }, spec, status };
}

/** An open watch the test drives: events, a clean end, or a failure. */
export interface OpenWatch<T extends ApiObject = TestObject> {
  request: WatchRequest<T>;
  emit(event: WatchEvent<T>): void;
  end(): void;
  fail(error: unknown): void;
}

export interface Call {
  at: number;
  op: 'list' | 'watch';
  resourceVersion?: string;
  continueToken?: string;
  timeoutSeconds?: number;
  silenceMs?: number;
}

type ListBehaviour<T> = (request: ListRequest, call: Call) => Promise<ListPage<T>> | ListPage<T>;
/** Return an error to fail the watch at once, or nothing to open it (the test then drives it through `current`). */
type WatchBehaviour<T> = (request: WatchRequest<T>, call: Call) => unknown;

/** A list/watch source whose every answer the test decides; it never opens a second watch on its own. */
export class ScriptedSource<T extends ApiObject = TestObject> implements ListWatch<T> {
  readonly calls: Call[] = [];
  open = 0;
  maxOpen = 0;
  current: OpenWatch<T> | undefined;
  onList: ListBehaviour<T>;
  onWatch: WatchBehaviour<T>;
  readonly #clock: Clock;

  constructor(clock: Clock, items: T[] = [], resourceVersion = '10') {
    this.#clock = clock;
    this.onList = () => ({ items, resourceVersion });
    this.onWatch = () => undefined;
  }

  count(op: 'list' | 'watch', from = -Infinity, to = Infinity): number {
    return this.calls.filter((c) => c.op === op && c.at >= from && c.at <= to).length;
  }

  async list(request: ListRequest): Promise<ListPage<T>> {
    const call: Call = { at: this.#clock.now(), op: 'list', ...(request.continueToken ? { continueToken: request.continueToken } : {}) };
    this.calls.push(call);
    return this.onList(request, call);
  }

  watch(request: WatchRequest<T>): Promise<void> {
    const call: Call = { at: this.#clock.now(), op: 'watch', resourceVersion: request.resourceVersion, timeoutSeconds: request.timeoutSeconds, silenceMs: request.silenceMs };
    this.calls.push(call);
    let failure: unknown;
    try {
      failure = this.onWatch(request, call);
    } catch (error) {
      // A client that throws synchronously (a TypeError from a bug) behaves like one that rejects.
      return Promise.reject(error);
    }
    if (failure !== undefined) return Promise.reject(failure);
    this.open++;
    this.maxOpen = Math.max(this.maxOpen, this.open);
    return new Promise<void>((resolve, reject) => {
      const close = (error?: unknown) => {
        if (this.current !== watch) return;
        this.current = undefined;
        this.open--;
        request.signal.removeEventListener('abort', onAbort);
        if (error === undefined) resolve();
        else reject(error);
      };
      const onAbort = () => close(request.signal.reason);
      request.signal.addEventListener('abort', onAbort, { once: true });
      const watch: OpenWatch<T> = {
        request,
        emit: (event) => { if (this.current === watch) request.onEvent(event); },
        end: () => close(),
        fail: (error) => close(error),
      };
      this.current = watch;
      request.onOpen();
    });
  }
}

export { captureLogger, type LogLine } from '../helpers/capture-logger.ts';

export function testMetrics(): Metrics {
  return createMetrics({ defaultMetrics: false });
}

/** The value of a labelled counter or gauge (0 when never set). */
export async function metricValue(metrics: Metrics, name: keyof Metrics, labels: Record<string, string>): Promise<number> {
  const metric = metrics[name] as { get(): Promise<{ values: Array<{ value: number; labels: Record<string, string | number> }> }> };
  const { values } = await metric.get();
  const found = values.find((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want));
  return found?.value ?? 0;
}

/** A limiter that never waits (the rate limit has its own tests). */
export const unlimited = { take: async (signal: AbortSignal) => { signal.throwIfAborted(); } };

/** What the real source throws for an HTTP error or an ERROR event. */
export function httpError(statusCode: number, reason: string, retryAfterMs?: number): ApiStatusError {
  return new ApiStatusError(statusCode, reason, `injected ${statusCode} ${reason}`, retryAfterMs);
}
