/**
 * Measuring agents against the lab's API server, as an operator would: requests per client and
 * informer from the API server's audit log, open watches per client, the agents' informer log
 * lines and metrics.
 */
import { run } from '../../src/kernel/exec.ts';
import type { AuditEntry } from '../lab/apiserver/audit.ts';
import type { WatchInfo } from '../lab/apiserver/watch.ts';
import type { NodeStatus } from '../lab/state.ts';
import { agentLog, agentMetrics } from './routing-support.ts';

export const INFORMERS = ['endpoints', 'clusters', 'nodes'] as const;
export type InformerName = (typeof INFORMERS)[number];

/** Which informer a request path belongs to (the collection it lists or watches). */
export function informerOf(path: string): InformerName | undefined {
  const pathname = path.split('?')[0] ?? '';
  if (pathname === '/api/v1/nodes') return 'nodes';
  if (/^\/apis\/submariner\.io\/v1\/namespaces\/[^/]+\/endpoints$/.test(pathname)) return 'endpoints';
  if (/^\/apis\/submariner\.io\/v1\/namespaces\/[^/]+\/clusters$/.test(pathname)) return 'clusters';
  return undefined;
}

/** Requests of `verb` per "<client address> <informer>". */
export function requestsPerInformer(entries: readonly AuditEntry[], verb: 'watch' | 'list'): Map<string, number> {
  const counts = new Map<string, number>();
  for (const entry of entries) {
    const informer = informerOf(entry.path);
    if (entry.verb !== verb || informer === undefined) continue;
    const key = `${entry.remote} ${informer}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** Open watches per "<client address> <informer>" (everything else under "<client address> other"). */
export function watchesPerInformer(watches: readonly WatchInfo[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const watch of watches) {
    const key = `${watch.remote} ${informerOf(watch.path) ?? 'other'}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** The agent's log lines naming an informer, written at or after `since` (ms). */
export async function informerLines(node: NodeStatus, since: number): Promise<Array<Record<string, unknown>>> {
  return (await agentLog(node)).filter((l) => typeof l.informer === 'string' && Date.parse(String(l.time)) >= since);
}

/** A labelled sample's value from an agent's /metrics (0 when absent). */
export async function sample(node: NodeStatus, name: string, labels: Record<string, string>): Promise<number> {
  const text = await agentMetrics(node);
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const labelText = line.slice(name.length + 1, line.indexOf('}'));
    const parts = labelText.split(',');
    if (wanted.every((w) => parts.includes(w)) && parts.length === wanted.length) return Number(line.slice(line.indexOf('}') + 2));
  }
  return 0;
}

/** Sum of every sample of one metric name (all label sets). */
export async function total(node: NodeStatus, name: string): Promise<number> {
  const text = await agentMetrics(node);
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `)).reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

/** Destinations of the routes seaway (protocol 147) holds on a node, in any table. */
export async function ownedDestinations(node: NodeStatus): Promise<string[]> {
  const { stdout } = await run('ip', ['-n', node.namespace, '-j', 'route', 'show', 'table', 'all', 'proto', '147']);
  return (stdout.trim() === '' ? [] : JSON.parse(stdout) as Array<{ dst: string }>).map((r) => r.dst);
}
