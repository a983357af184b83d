/**
 * `seaway diagnose --all`: every node's findings without `kubectl exec`. The Nodes come from the
 * API; each node's route agent runs its own diagnosis (its node's network namespace, sockets and
 * kernel) and serves it on /diagnose at its InternalIP and its listen port, the port it serves
 * /metrics on; a few nodes are asked at a time. A node that does not answer is a finding about it.
 */
import type { NodeSummary } from '../k8s/diagnose-reads.ts';
import type { HttpGetOptions, HttpGetResult } from '../kernel/http-get.ts';
import { readFinding, type Finding } from '../model/diagnose-finding.ts';
import { errorText } from '../model/error-text.ts';
import type { ApiRead } from '../plan/diagnose-endpoints.ts';
import { runBounded } from './bounded.ts';

/** Nodes asked at once: each runs its own probes, so this bounds only what this command waits on, not a node's load. */
export const ALL_NODES_CONCURRENCY = 16;
/** A node's diagnosis takes seconds (a gateway with unreachable remotes up to about 40 s); this bounds one that hangs. */
export const NODE_ANSWER_TIMEOUT_MS = 120_000;

export interface AllNodesDeps {
  nodes(): Promise<ApiRead<NodeSummary[]>>;
  http(options: HttpGetOptions): Promise<HttpGetResult>;
}

export async function diagnoseAllNodes(options: { port: number; namespace: string; askingNode: string }, deps: AllNodesDeps): Promise<Finding[]> {
  const nodes = await deps.nodes();
  if (!nodes.ok) {
    return [{
      id: 'diagnose-all', node: options.askingNode, severity: 'error', target: 'Nodes', probe: 'listed through the API with this node\'s credentials',
      found: `cannot list the Nodes: ${nodes.problem}`, fix: nodes.forbidden ? 'grant this node\'s service account list on nodes' : 'check that the API server is reachable from this node',
    }];
  }
  const tasks = nodes.value.map((n) => () => askNode(n, options, deps));
  const settled = await runBounded(tasks, ALL_NODES_CONCURRENCY);
  return settled.flatMap((s, i) => (s.status === 'fulfilled' ? s.value : [{
    id: 'diagnose-all', node: nodes.value[i]!.name, severity: 'error' as const, target: 'its /diagnose', probe: 'HTTP GET', found: errorText(s.reason), fix: null,
  }]));
}

async function askNode(node: NodeSummary, options: { port: number; namespace: string }, deps: AllNodesDeps): Promise<Finding[]> {
  const url = `http://${node.internalIp}:${options.port}`;
  const base = { id: 'diagnose-all', node: node.name, target: `${url}/diagnose`, probe: `HTTP GET ${url}/diagnose (the node's route agent runs its own diagnosis, at most once per 30 s)` };
  if (node.internalIp === '') return [{ ...base, target: 'its route agent', severity: 'error', found: 'the Node has no IPv4 InternalIP to reach its route agent at', fix: null }];
  const fix = `check the route agent on ${node.name} (kubectl -n ${options.namespace} get pods -o wide --field-selector spec.nodeName=${node.name}) and that TCP ${options.port} reaches it from this node; or kubectl exec into it and run seaway diagnose`;
  let answer: HttpGetResult;
  try {
    answer = await deps.http({ url, path: '/diagnose', timeoutMs: NODE_ANSWER_TIMEOUT_MS });
  } catch (error) {
    return [{ ...base, severity: 'error', found: `no answer: ${errorText(error)}`, fix }];
  }
  if (answer.status !== 200) return [{ ...base, severity: 'error', found: `answered ${answer.status}: ${answer.body.trim().slice(0, 300)}`, fix }];
  let doc: unknown;
  try {
    doc = JSON.parse(answer.body);
  } catch {
    return [{ ...base, severity: 'error', found: 'answered something that is not JSON (another program on that port?)', fix }];
  }
  const list = (doc as { findings?: unknown })?.findings;
  if (!Array.isArray(list)) return [{ ...base, severity: 'error', found: 'answered JSON without a findings list (an older seaway without /diagnose?)', fix }];
  const findings: Finding[] = [];
  for (const item of list) {
    const read = readFinding(item);
    if (read.ok) findings.push({ ...read.finding, node: node.name });
    else findings.push({ ...base, severity: 'warning', found: `a finding that does not read: it ${read.reason}`, fix: null });
  }
  return findings;
}
