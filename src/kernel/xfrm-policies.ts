/**
 * The XFRM policies of this network namespace (`ip xfrm policy list`), summarised for `seaway
 * diagnose`'s leftovers check: how many, and the selectors of a few. Read only.
 */
import type { ProcessRunner } from './iptables.ts';

export interface XfrmPolicySummary { count: number; sample: string[] }

/** Each policy starts with a `src ... dst ...` line; its `dir` follows on the next. */
export function parseXfrmPolicies(text: string, keep = 4): XfrmPolicySummary {
  const sample: string[] = [];
  let count = 0;
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    const m = /^src (\S+) dst (\S+)/.exec(line);
    if (!m) return;
    count++;
    const dir = /\bdir (\w+)/.exec(lines[i + 1] ?? '')?.[1];
    if (sample.length < keep) sample.push(`${m[1]} -> ${m[2]}${dir ? ` ${dir}` : ''}`);
  });
  return { count, sample };
}

export async function xfrmPolicies(run: ProcessRunner, timeoutMs: number): Promise<XfrmPolicySummary> {
  return parseXfrmPolicies((await run('ip', ['xfrm', 'policy', 'list'], { timeoutMs })).stdout);
}
