/**
 * The route agent's `/diagnose` (what `seaway diagnose --all` asks every node for): this node's
 * findings, from a diagnosis run at most once per `minIntervalMs` whatever the requests. Requests
 * while one runs share it; requests within the interval get the last result (with its age). So the
 * unauthenticated port (it already serves /metrics) can never be made to send probes faster than
 * that, and nothing in a request chooses what is probed: the targets come from the API's objects.
 */
import type { Finding } from '../model/diagnose-finding.ts';
import { errorText } from '../model/error-text.ts';

/** One diagnosis per 30 s per node at most: `--all` over a cluster stays a few probes a second per gateway. */
export const DIAGNOSE_MIN_INTERVAL_MS = 30_000;

export interface DiagnoseAnswer { status: number; body: string }

/** What /diagnose answers: this node's findings (the shape `--all` reads back). */
export interface DiagnoseDocument {
  node: string;
  generatedAt: string;
  /** Seconds since the diagnosis ran (a cached answer is older than 0). */
  ageSeconds: number;
  findings: Finding[];
}

export interface DiagnoseServiceOptions {
  node: string;
  diagnose: () => Promise<Finding[]>;
  minIntervalMs?: number;
  /** Monotonic ms. */
  now?: () => number;
  /** Wall clock, unix ms. */
  wallClock?: () => number;
}

export function createDiagnoseService(options: DiagnoseServiceOptions): { handle(): Promise<DiagnoseAnswer> } {
  const now = options.now ?? (() => performance.now());
  const wallClock = options.wallClock ?? Date.now;
  const minIntervalMs = options.minIntervalMs ?? DIAGNOSE_MIN_INTERVAL_MS;
  let last: { atMs: number; atWall: number; outcome: { findings: Finding[] } | { error: string } } | undefined;
  let running: Promise<void> | undefined;

  const answer = (): DiagnoseAnswer => {
    const done = last!;
    if ('error' in done.outcome) return { status: 500, body: `${JSON.stringify({ node: options.node, error: done.outcome.error })}\n` };
    const doc: DiagnoseDocument = {
      node: options.node, generatedAt: new Date(done.atWall).toISOString(), ageSeconds: Math.max(0, Math.round((now() - done.atMs) / 1000)), findings: done.outcome.findings,
    };
    return { status: 200, body: `${JSON.stringify(doc)}\n` };
  };

  return {
    async handle() {
      if (running === undefined && (last === undefined || now() - last.atMs >= minIntervalMs)) {
        running = (async () => {
          const atWall = wallClock();
          let outcome: { findings: Finding[] } | { error: string };
          try {
            outcome = { findings: await options.diagnose() };
          } catch (error) {
            outcome = { error: errorText(error) };
          }
          // Stamped at the end: the interval counts from when the probes stopped.
          last = { atMs: now(), atWall, outcome };
        })().finally(() => { running = undefined; });
      }
      if (running !== undefined) await running;
      return answer();
    },
  };
}
