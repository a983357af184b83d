import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { Readiness } from '../server/readiness.ts';
import type { ObjectKind } from '../plan/desired-objects.ts';
import type { ApplyReport, AttemptGate } from '../dataplane/report.ts';
import type { Component } from './component.ts';
import type { FilterReport } from './components.ts';
import type { ComponentReport } from './object-table.ts';
import type { Fight, TugOfWar } from './tug-of-war.ts';

/** Readiness condition while another agent keeps undoing seaway's repairs of an object. */
export const FIGHTING = 'fighting';
/** How many fights readiness names one by one; the rest are counted. */
const NAMED_IN_READINESS = 5;

export const fightId = (kind: ObjectKind, key: string): string => `${kind}/${key}`;
const kindOf = (id: string): string => id.slice(0, id.indexOf('/'));

/**
 * The label of an object's seaway_fighting series: the packet filter by its id (one object);
 * routing objects by kind (`route/*`), so another agent deleting 10,000 routes makes one series, not 10,000.
 */
const metricObject = (id: string): string => (kindOf(id) === 'filter' ? id : `${kindOf(id)}/*`);

/** The component with its repairs held back while its object is fought over (the gate says no until the hold ends). */
export function heldWhileFought<D, R extends ComponentReport>(component: Component<D, R>, fights: TugOfWar): Component<D, R> {
  return {
    ...component,
    apply: (desired, gate: AttemptGate) => component.apply(desired, (kind, key) => gate(kind, key) && fights.mayRepair(fightId(kind, key))),
  };
}

function describeFight(fight: Fight): string {
  const rival = fight.rival ?? 'no foreign rule names it: something keeps changing or removing it';
  return `${fight.object}: another agent keeps undoing seaway's repairs (${rival}); repaired ${fight.repairs} time(s) since ${new Date(fight.since).toISOString()}, next repair not before ${new Date(fight.holdUntil).toISOString()}`;
}

export type FightReport = ReturnType<typeof createFightReport>;

/**
 * Turns what seaway saw of its objects (a pass that repaired them or found them intact; a
 * read-only check) into the tug-of-war's bookkeeping and its reports: seaway_fighting 1 while a
 * fight lasts, a log line when fights start and one when each ends, and the `fighting` readiness
 * condition naming the rivals while any fight lasts. Built once in main; the pass and the
 * packet filter's drift check share it.
 */
export function createFightReport(deps: { war: TugOfWar; readiness: Readiness; metrics: Metrics; logger: Logger }) {
  const { war, readiness, metrics, logger } = deps;
  /** Each series the objects fall in, set once (10,000 routes are one `route/*` series). */
  const publishMetric = (ids: Iterable<string>) => {
    const fought = new Set(war.fights().map((f) => metricObject(f.object)));
    for (const series of new Set([...ids].map(metricObject))) metrics.fighting.set({ object: series }, fought.has(series) ? 1 : 0);
  };
  const publish = (): void => {
    const now = war.fights();
    if (now.length === 0) { readiness.met(FIGHTING); return; }
    const named = now.slice(0, NAMED_IN_READINESS).map(describeFight);
    const more = now.length > named.length ? `; and ${now.length - named.length} more` : '';
    readiness.unmet(FIGHTING, `${named.join('; ')}${more}`);
  };
  const started = (ids: string[], rival: string | null): void => {
    if (ids.length === 0) return;
    publishMetric(ids);
    const { repairs, windowMs, backoff } = war.policy;
    logger.warn({ objects: ids.slice(0, NAMED_IN_READINESS), count: ids.length, rival, repairs, windowSeconds: windowMs / 1000, backoffMs: backoff },
      'another agent keeps undoing seaway\'s repairs (tug-of-war): repairs of these objects now back off; see readiness and seaway_fighting');
  };
  /** Whether a fight over `id` ended (logged); its metric and readiness are the caller's to publish. */
  const end = (id: string): boolean => {
    const ended = war.intact(id);
    if (ended) logger.info({ object: id, rival: ended.rival, repairs: ended.repairs, since: new Date(ended.since).toISOString() }, 'tug-of-war over: the last repair stayed in place; normal repair resumes');
    return ended !== null;
  };
  const intact = (id: string): void => {
    if (!end(id)) return;
    publishMetric([id]);
    publish();
  };
  return {
    war,
    publish,
    /** A read-only check of object `id` found it changed (drift) or as wanted. */
    looked(id: string, drifted: boolean): void {
      if (drifted) war.changed(id);
      else intact(id);
    },
    /** After a pass applied the packet filter `id` with the same desired state as before: a write repaired it, none found it intact. */
    observe(id: string, report: FilterReport): void {
      if (report.deferred.length > 0 || report.failures.length > 0) return; // held back or failed: nothing was seen
      if (report.writes === 0) { intact(id); return; }
      const rival = report.rivals && report.rivals.length > 0 ? report.rivals.join('; ') : null;
      if (war.repaired(id, rival, report.changes?.join('\n') ?? '') === 'started') started([id], rival);
    },
    /**
     * After a pass whose inputs had not changed applied the routing objects: each written one was
     * repaired; each fought-over one it neither wrote, held back nor failed is intact.
     */
    observeRouting(report: Pick<ApplyReport, 'written' | 'deferred' | 'failures'>): void {
      const written = new Set(report.written.map((r) => fightId(r.kind, r.key)));
      const fresh = [...written].filter((id) => war.repaired(id, null, 'rewritten') === 'started');
      started(fresh, null);
      const unseen = new Set([...report.deferred, ...report.failures].map((r) => fightId(r.kind, r.key)));
      // Ended fights are collected and published once (the pass publishes readiness right after), not once per route.
      const ended = war.fights().filter((f) => kindOf(f.object) !== 'filter' && !written.has(f.object) && !unseen.has(f.object) && end(f.object));
      if (ended.length > 0) publishMetric(ended.map((f) => f.object));
    },
  };
}
