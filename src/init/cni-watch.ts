import type { Logger } from '../telemetry/logger.ts';
import type { InterfaceEventSource } from '../model/interface-events.ts';
import { CniTracker, type CniInterface, type CniMatch } from './cni-tracker.ts';

export interface CniWatchOptions {
  source: InterfaceEventSource;
  match: CniMatch;
  /** For the waiting log: what the agent looks for. */
  lookingFor: string;
  logger: Logger;
  logIntervalMs: number;
  onChange: (cni: CniInterface | null) => void;
}

export interface CniWatch {
  current(): CniInterface | null;
  stop(): void;
}

const same = (a: CniInterface | null, b: CniInterface | null) =>
  a === b || (a !== null && b !== null && a.name === b.name && a.index === b.index && a.address === b.address && a.prefixLength === b.prefixLength);

/**
 * Follows the CNI interface for as long as the agent runs: subscribe first, dump after, so an
 * interface created in between is seen either way. No polling and no deadline; while nothing
 * matches, it says every so often what it waits for and what it sees.
 */
export async function watchCniInterface(options: CniWatchOptions): Promise<CniWatch> {
  const tracker = new CniTracker(options.match);
  let current: CniInterface | null = null;
  let waitingSince = Date.now();
  const evaluate = () => {
    const next = tracker.current();
    if (same(current, next)) return;
    current = next;
    if (next === null) waitingSince = Date.now();
    options.onChange(next);
  };
  const unsubscribe = await options.source.subscribe((event) => {
    tracker.apply(event);
    evaluate();
  });
  try {
    for (const event of await options.source.dump()) tracker.apply(event);
  } catch (error) {
    unsubscribe();
    throw error;
  }
  evaluate();
  const timer = setInterval(() => {
    if (current !== null) return;
    options.logger.info(
      { waitingSeconds: Math.round((Date.now() - waitingSince) / 1000), lookingFor: options.lookingFor, interfaces: tracker.describe() },
      'still waiting for the CNI interface',
    );
  }, options.logIntervalMs);
  timer.unref();
  return {
    current: () => current,
    stop() {
      clearInterval(timer);
      unsubscribe();
    },
  };
}
