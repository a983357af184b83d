/**
 * What `seaway diagnose` reports: one finding per thing it probed, each saying what was probed,
 * what was found and, when something is wrong, what fixes it. Plain data with a stable shape (the
 * `--json` output and the route agent's `/diagnose` answer are arrays of these), and the exit code
 * they make.
 */

export const SEVERITIES = ['error', 'warning', 'ok'] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface Finding {
  /** Stable check id, e.g. `udp-4500`, `endpoints`, `leftovers` (scripts match on it). */
  id: string;
  severity: Severity;
  /** The node the finding is about. */
  node: string;
  /** What was probed, for people: an address and port, an object, a device. */
  target: string;
  /** How it was probed (a real packet, an API read, a kernel dump), so a reader knows what it proves. */
  probe: string;
  /** What came back. */
  found: string;
  /** What fixes it; null when nothing needs fixing. */
  fix: string | null;
}

/** Exit codes of `seaway diagnose`: 2 (bad configuration) is main's, before anything is probed. */
export const DIAGNOSE_OK = 0;
export const DIAGNOSE_ERRORS = 1;
export const DIAGNOSE_CANNOT_RUN = 2;

export function diagnoseExitCode(findings: readonly Finding[]): number {
  return findings.some((f) => f.severity === 'error') ? DIAGNOSE_ERRORS : DIAGNOSE_OK;
}

const ORDER: Record<Severity, number> = { error: 0, warning: 1, ok: 2 };

/** Errors first, then warnings, then what is fine; within a severity by node, check and target (a stable order for diffs). */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  return [...findings].sort((a, b) => ORDER[a.severity] - ORDER[b.severity]
    || a.node.localeCompare(b.node) || a.id.localeCompare(b.id) || a.target.localeCompare(b.target));
}

/**
 * A finding read back from JSON (another node's `/diagnose` answer): anything that is not one, or
 * has an unknown severity, is refused with the reason, so a confused or hostile answer cannot pass
 * for "ok".
 */
export function readFinding(value: unknown): { ok: true; finding: Finding } | { ok: false; reason: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, reason: 'is not an object' };
  const v = value as Record<string, unknown>;
  for (const key of ['id', 'node', 'target', 'probe', 'found'] as const) {
    if (typeof v[key] !== 'string') return { ok: false, reason: `has no string ${key}` };
  }
  if (!SEVERITIES.includes(v.severity as Severity)) return { ok: false, reason: `has severity ${JSON.stringify(v.severity)}, not one of ${SEVERITIES.join(', ')}` };
  if (v.fix !== null && typeof v.fix !== 'string') return { ok: false, reason: 'has a fix that is neither a string nor null' };
  return {
    ok: true,
    finding: {
      id: v.id as string, severity: v.severity as Severity, node: v.node as string, target: v.target as string,
      probe: v.probe as string, found: v.found as string, fix: v.fix as string | null,
    },
  };
}
