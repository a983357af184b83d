/**
 * `seaway diagnose` for people (pure): one line per finding (status, check, target, what was found),
 * errors first, then the fixes of everything that is not fine, numbered, and a count. With findings
 * from several nodes (`--all`) the node leads each line.
 */
import { sortFindings, type Finding } from '../model/diagnose-finding.ts';

/** Control characters (a hostile object name, an escape sequence in an error text) never reach a terminal. */
const printable = (text: string): string => text.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');

export function renderFindings(findings: readonly Finding[], options: { byNode?: boolean } = {}): string {
  const sorted = sortFindings(findings);
  const byNode = options.byNode ?? new Set(findings.map((f) => f.node)).size > 1;
  const header = [...(byNode ? ['NODE'] : []), 'STATUS', 'CHECK', 'TARGET', 'DETAIL'];
  const rows = sorted.map((f) => [...(byNode ? [f.node] : []), f.severity, f.id, f.target, f.found].map(printable));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const lines = [line(header), ...rows.map(line)];
  const fixes = sorted.filter((f) => f.severity !== 'ok' && f.fix !== null);
  if (fixes.length > 0) {
    lines.push('', 'To fix:');
    fixes.forEach((f, i) => {
      lines.push(`  ${i + 1}. ${byNode ? `${printable(f.node)} ` : ''}${f.id} ${printable(f.target)}: ${printable(f.fix!)}`);
    });
  }
  const count = (severity: Finding['severity']) => findings.filter((f) => f.severity === severity).length;
  lines.push('', `${count('error')} error(s), ${count('warning')} warning(s), ${count('ok')} ok`);
  return `${lines.join('\n')}\n`;
}

/** `--json`: the findings as an array, in the same order as the table, every key present in each. */
export function findingsJson(findings: readonly Finding[]): string {
  const ordered = sortFindings(findings).map((f) => ({ id: f.id, severity: f.severity, node: f.node, target: f.target, probe: f.probe, found: f.found, fix: f.fix }));
  return `${JSON.stringify(ordered, null, 2)}\n`;
}
