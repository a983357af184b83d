import { reasonText, type ObjectState, type ObjectStatus } from '../reconcile/object-table.ts';

/** What the agent's local socket answers on /status, and what `seaway status` prints. */
export interface StatusDocument {
  node: string;
  ready: boolean;
  /** /readyz's reasons, one per unmet condition. */
  conditions: string[];
  generatedAt: string;
  objects: StatusObject[];
}

export interface StatusObject {
  component: string;
  kind: string;
  key: string;
  object: string;
  state: ObjectState;
  reason?: string;
  code?: string;
  since: string;
  attempts: number;
  retryAt?: string;
  desired: boolean;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** The status document, from the object table and readiness (pure). */
export function statusDocument(node: string, ready: boolean, conditions: readonly string[], objects: readonly ObjectStatus[], now: number): StatusDocument {
  return {
    node,
    ready,
    conditions: [...conditions],
    generatedAt: iso(now),
    objects: objects.map((o) => ({
      component: o.component, kind: o.kind, key: o.key, object: o.object, state: o.state,
      ...(o.reason !== undefined ? { reason: o.reason } : {}),
      ...(o.code !== undefined ? { code: o.code } : {}),
      since: iso(o.since), attempts: o.attempts,
      ...(o.retryAt !== undefined ? { retryAt: iso(o.retryAt) } : {}),
      desired: o.desired,
    })),
  };
}

const STATE_ORDER: Record<ObjectState, number> = { failed: 0, pending: 1, 'in-progress': 2, programmed: 3 };

/** A table for people: failing objects first, each with its reason; then a count per kind and state. */
export function formatStatus(doc: StatusDocument): string {
  const lines = [`node ${doc.node}: ${doc.ready ? 'ready' : 'not ready'}`];
  for (const condition of doc.conditions) lines.push(`  ${condition}`);
  const objects = [...doc.objects].sort((a, b) => STATE_ORDER[a.state] - STATE_ORDER[b.state]);
  const rows = objects.map((o) => [o.state, o.kind, o.object, o.since, o.state === 'programmed' ? '' : `${reasonText(o)}${o.retryAt ? ` (attempt ${o.attempts}, next ${o.retryAt})` : ''}`]);
  const header = ['STATE', 'KIND', 'OBJECT', 'SINCE', 'REASON'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const format = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  lines.push('', format(header), ...rows.map(format));
  const counts = new Map<string, number>();
  for (const o of doc.objects) counts.set(`${o.state}`, (counts.get(o.state) ?? 0) + 1);
  lines.push('', `${doc.objects.length} objects: ${[...counts].map(([state, n]) => `${n} ${state}`).join(', ') || 'none'}`);
  return `${lines.join('\n')}\n`;
}
