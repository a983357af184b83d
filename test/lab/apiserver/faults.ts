import { ApiError, reasonForCode } from './status.ts';

/** Which requests a fault applies to: a substring of path+query, and an HTTP method or Kubernetes verb. */
export interface RequestMatch {
  path?: string;
  verb?: string;
}

export interface RequestInfo {
  method: string;
  verb: string;
  path: string;
}

export type PauseMode = 'hold' | 'refuse';

interface FailRule {
  remaining: number;
  code: number;
  message: string;
  match: RequestMatch;
  retryAfterSeconds: number | undefined;
}

function matches(match: RequestMatch, request: RequestInfo): boolean {
  if (match.path !== undefined && !request.path.includes(match.path)) return false;
  if (match.verb !== undefined) {
    const verb = match.verb.toLowerCase();
    if (verb !== request.method.toLowerCase() && verb !== request.verb) return false;
  }
  return true;
}

/**
 * Injected faults: failing the next N matching requests, pausing, and slowness. A pause either holds
 * matching requests until resume (the default: the server looks hung) or refuses them with 503 at once;
 * a latency delays every matching request before it is served (an overloaded server), until cleared.
 */
export class Faults {
  #rules: FailRule[] = [];
  #pause: { mode: PauseMode; match: RequestMatch } | undefined;
  #held: Array<(refuse: boolean) => void> = [];
  #latency: { ms: number; match: RequestMatch } | undefined;

  /** Every matching request waits this long before it is served; 0 ends it. */
  slow(ms: number, match: RequestMatch = {}): void {
    this.#latency = ms > 0 ? { ms, match } : undefined;
  }

  /** With retryAfterSeconds, each failure carries Retry-After (header and Status details), as API priority and fairness sends with 429. */
  failNext(count: number, code: number, match: RequestMatch = {}, message?: string, retryAfterSeconds?: number): void {
    this.#rules.push({ remaining: count, code, match, message: message ?? `injected fault: ${reasonForCode(code)}`, retryAfterSeconds });
  }

  /** The injected failure for this request, if a rule matches (using up one of its count). */
  takeFailure(request: RequestInfo): ApiError | undefined {
    const rule = this.#rules.find((r) => matches(r.match, request));
    if (!rule) return undefined;
    if (--rule.remaining <= 0) this.#rules = this.#rules.filter((r) => r !== rule);
    return new ApiError(rule.code, rule.message, reasonForCode(rule.code), rule.retryAfterSeconds === undefined ? undefined : { retryAfterSeconds: rule.retryAfterSeconds });
  }

  pause(mode: PauseMode, match: RequestMatch = {}): void {
    this.#pause = { mode, match };
  }

  /** Ends a pause; held requests carry on. */
  resume(): number {
    this.#pause = undefined;
    return this.#release(false);
  }

  /** Releases held requests with a 503 and forgets every fault (used on shutdown). */
  shutdown(): void {
    this.#pause = undefined;
    this.#latency = undefined;
    this.#rules = [];
    this.#release(true);
  }

  clearFailures(): void {
    this.#rules = [];
  }

  /** Waits while a hold-pause applies to the request; throws 503 while a refuse-pause does. */
  async gate(request: RequestInfo): Promise<void> {
    const latency = this.#latency;
    if (latency && matches(latency.match, request)) await new Promise((resolve) => setTimeout(resolve, latency.ms));
    while (this.#pause && matches(this.#pause.match, request)) {
      if (this.#pause.mode === 'refuse') throw new ApiError(503, 'the server is paused (injected fault)', 'ServiceUnavailable');
      const refuse = await new Promise<boolean>((resolve) => this.#held.push(resolve));
      if (refuse) throw new ApiError(503, 'the server is shutting down', 'ServiceUnavailable');
    }
  }

  state(): { paused: PauseMode | false; held: number; pendingFailures: number; latencyMs: number } {
    return {
      paused: this.#pause?.mode ?? false,
      latencyMs: this.#latency?.ms ?? 0,
      held: this.#held.length,
      pendingFailures: this.#rules.reduce((n, r) => n + r.remaining, 0),
    };
  }

  #release(refuse: boolean): number {
    const held = this.#held;
    this.#held = [];
    for (const resume of held) resume(refuse);
    return held.length;
  }
}
