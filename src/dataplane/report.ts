import type { ObjectKind, ObjectRef } from '../plan/desired-objects.ts';

export type { ObjectKind, ObjectRef };

/** Asked before each object's writes: false while the object waits out its backoff (or is in progress). */
export type AttemptGate = (kind: ObjectKind, key: string) => boolean;

export const ALWAYS_ATTEMPT: AttemptGate = () => true;

export interface ObjectFailure {
  kind: ObjectKind;
  /** The object's identity (see plan/desired-objects.ts), shared with its status. */
  key: string;
  /** Human-readable identity of the object, e.g. "route 10.2.0.0/16 via 240.1.0.3 table 100". */
  object: string;
  reason: string;
  /** errno name when the kernel refused (EEXIST, ENODEV, ...). */
  code?: string;
  /** It waits on another object (its device does not exist yet) rather than failing on its own. */
  blocked?: boolean;
}

export interface KindCount { ok: number; failed: number }

/** What one apply or cleanup did: every kernel write attempted, and each object that failed. */
export interface ApplyReport {
  writes: number;
  writesByKind: Partial<Record<ObjectKind, KindCount>>;
  failures: ObjectFailure[];
  /** Objects not attempted because the gate held them back; their earlier status stands. */
  deferred: ObjectRef[];
  /** Objects a write went through for (once per write): what a pass with unchanged inputs repaired. */
  written: ObjectRef[];
}

export const emptyReport = (): ApplyReport => ({ writes: 0, writesByKind: {}, failures: [], deferred: [], written: [] });

/**
 * Counts one write of object `ref`; one that went through is also listed as written, `ref` itself
 * (a first pass counts 10,000 route writes: no copy of each).
 */
export function countWrite(report: ApplyReport, ref: ObjectRef, ok: boolean): void {
  report.writes += 1;
  const count = (report.writesByKind[ref.kind] ??= { ok: 0, failed: 0 });
  if (ok) {
    count.ok += 1;
    report.written.push(ref);
  } else count.failed += 1;
}

export function mergeReports(...reports: ApplyReport[]): ApplyReport {
  const merged = emptyReport();
  for (const report of reports) {
    merged.writes += report.writes;
    merged.failures.push(...report.failures);
    merged.deferred.push(...report.deferred);
    merged.written.push(...report.written);
    for (const [kind, count] of Object.entries(report.writesByKind) as [ObjectKind, KindCount][]) {
      const into = (merged.writesByKind[kind] ??= { ok: 0, failed: 0 });
      into.ok += count.ok;
      into.failed += count.failed;
    }
  }
  return merged;
}
