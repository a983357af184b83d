import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { Readiness } from '../server/readiness.ts';
import type { ObjectKind } from '../plan/desired-objects.ts';
import type { AttemptGate } from '../dataplane/report.ts';
import type { Component } from './component.ts';
import type { FilterReport } from './components.ts';
import type { Fight, TugOfWar } from './tug-of-war.ts';

/** Readiness condition while another agent keeps undoing seaway's repairs of an object. */
export const FIGHTING = 'fighting';

export const fightId = (kind: ObjectKind, key: string): string => `${kind}/${key}`;

/** The component with its repairs held back while its object is fought over (the gate says no until the hold ends). */
export function heldWhileFought<D, R extends FilterReport>(component: Component<D, R>, fights: TugOfWar): Component<D, R> {
  return {
    ...component,
    apply: (desired, gate: AttemptGate) => component.apply(desired, (kind, key) => gate(kind, key) && fights.mayRepair(fightId(kind, key))),
  };
}

function describeFight(fight: Fight): string {
  const rival = fight.rival ?? 'the change was not a foreign rule ahead of seaway\'s (someone rewrites seaway\'s own rules)';
  return `${fight.object}: another agent keeps undoing seaway's repairs (${rival}); repaired ${fight.repairs} time(s) since ${new Date(fight.since).toISOString()}, next repair not before ${new Date(fight.holdUntil).toISOString()}`;
}

export type FightReport = ReturnType<typeof createFightReport>;

/**
 * Turns what seaway saw of an object (a pass that wrote to it or found it intact; a read-only
 * check) into the tug-of-war's bookkeeping and its reports: seaway_fighting{object} 1 while a
 * fight lasts, one log line when it starts and one when it ends, and the `fighting` readiness
 * condition naming each rival while any fight lasts. Built once in main; the pass and the drift
 * check share it.
 */
export function createFightReport(deps: { war: TugOfWar; readiness: Readiness; metrics: Metrics; logger: Logger }) {
  const { war: fights, readiness, metrics, logger } = deps;
  const publish = (): void => {
    const now = fights.fights();
    if (now.length === 0) readiness.met(FIGHTING);
    else readiness.unmet(FIGHTING, now.map(describeFight).join('; '));
  };
  const intact = (id: string): void => {
    const ended = fights.intact(id);
    if (!ended) return;
    metrics.fighting.set({ object: id }, 0);
    logger.info({ object: id, rival: ended.rival, repairs: ended.repairs, since: new Date(ended.since).toISOString() }, 'tug-of-war over: the last repair stayed in place; normal repair resumes');
    publish();
  };
  return {
    war: fights,
    publish,
    /** A read-only check of object `id` found it changed (drift) or as wanted. */
    looked(id: string, drifted: boolean): void {
      if (drifted) fights.changed(id);
      else intact(id);
    },
    /** After a pass applied object `id` with the same desired state as before: a write repaired it, none found it intact. */
    observe(id: string, report: FilterReport): void {
      if (report.deferred.length > 0 || report.failures.length > 0) return; // held back or failed: nothing was seen
      if (report.writes > 0) {
        const rival = report.rivals && report.rivals.length > 0 ? report.rivals.join('; ') : null;
        if (fights.repaired(id, rival, report.changes?.join('\n') ?? '') === 'started') {
          metrics.fighting.set({ object: id }, 1);
          const { repairs, windowMs, backoff } = fights.policy;
          logger.warn({ object: id, rival, repairs, windowSeconds: windowMs / 1000, backoffMs: backoff },
            'another agent keeps undoing seaway\'s repairs (tug-of-war): repairs of this object now back off; see readiness and seaway_fighting');
        }
        return;
      }
      intact(id);
    },
  };
}
