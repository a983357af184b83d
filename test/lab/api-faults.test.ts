/**
 * Lab faults that really cut the API (issue 9 item 7): from a node of the lab, through the route
 * agent's own connection and requests (src/k8s/api-connection.ts, api-request.ts), a request to the blackholed API server gets no answer until its
 * deadline, one to the reset API server is refused at once, an open watch goes dead in both, and
 * everything works again once the fault is lifted. Pure parts (the rules, the CLI) too.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { run } from '../../src/kernel/exec.ts';
import { requireTools } from '../helpers/prereq.ts';
import { currentApiFault, cutApi, faultRules, FAULT_CHAIN, liftApiFault } from './api-faults.ts';
import { parseLabArgs } from './cli-args.ts';
import { labDown, labUp } from './lab.ts';
import type { ClusterStatus, LabStatus } from './state.ts';

const PREFIX = `swaf${randomBytes(2).toString('hex')}`;
/** A request's own deadline in the probes: the blackhole must run into it; nothing else may. */
const DEADLINE_MS = 3000;

/** Modules the probes import, by absolute URL: a probe runs with `-e` wherever the test runs from. */
const source = (file: string) => new URL(`../../src/k8s/${file}`, import.meta.url).href;

/** One list of Nodes from inside a node's namespace through the route agent's own connection, with the deadline; how it ended, as the agent would classify it. */
const LIST = `
import { loadApiConnection } from '${source('api-connection.ts')}';
import { apiRequest } from '${source('api-request.ts')}';
import { classifyApiError } from '${source('api-problem.ts')}';
const [file, deadline] = process.argv.slice(1);
const connection = await loadApiConnection(file, {});
const started = performance.now();
try {
  const list = await apiRequest(connection, { method: 'GET', path: '/api/v1/nodes' }, { userAgent: 'fault-probe', timeoutMs: Number(deadline), what: 'listing Nodes' });
  console.log(JSON.stringify({ ok: true, items: list.items.length, ms: performance.now() - started }));
} catch (error) {
  const problem = classifyApiError(error, Date.now());
  console.log(JSON.stringify({ ok: false, category: problem.category, detail: problem.detail, ms: performance.now() - started }));
}`;

/** A watch opened before the fault (the agent's own watch request and connection), then the fault: how the watch ends. */
const WATCH = `
import { loadApiConnection } from '${source('api-connection.ts')}';
import { watchStream } from '${source('watch-request.ts')}';
import { classifyApiError } from '${source('api-problem.ts')}';
const [file, silenceMs] = process.argv.slice(1);
const done = watchStream(await loadApiConnection(file, {}), '/api/v1/nodes', {
  params: { allowWatchBookmarks: 'true', timeoutSeconds: '600' }, connectTimeoutMs: 5000, silenceMs: Number(silenceMs), userAgent: 'fault-probe',
  signal: new AbortController().signal, onOpen: () => console.log('open'), onEvent: () => {},
});
done.then(() => console.log(JSON.stringify({ ended: 'cleanly' })), (error) => console.log(JSON.stringify({ ended: classifyApiError(error, Date.now()).category, detail: String(error.message) })));
`;

interface ListResult { ok: boolean; category?: string; detail?: string; ms: number }

async function listFromNode(namespace: string, kubeconfig: string): Promise<ListResult> {
  const { stdout } = await run('ip', ['netns', 'exec', namespace, process.execPath, '--input-type=module', '-e', LIST, kubeconfig, String(DEADLINE_MS)], { timeoutMs: DEADLINE_MS + 20_000 });
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as ListResult;
}

/** Starts a watch in the node's namespace; resolves once it is open, with a promise of how it ended. */
async function watchFromNode(namespace: string, kubeconfig: string, silenceMs: number): Promise<Promise<{ ended: string; detail?: string }>> {
  const { spawn } = await import('node:child_process');
  const child = spawn('ip', ['netns', 'exec', namespace, process.execPath, '--input-type=module', '-e', WATCH, kubeconfig, String(silenceMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  let output = '';
  const ended = new Promise<{ ended: string; detail?: string }>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => { output += String(chunk); });
    child.on('exit', () => {
      clearTimeout(killer);
      const last = output.trim().split('\n').at(-1) ?? '';
      last.startsWith('{') ? resolve(JSON.parse(last) as { ended: string }) : reject(new Error(`watch probe ended without a result: ${output}`));
    });
  });
  await new Promise<void>((resolve, reject) => {
    const check = () => { if (output.includes('open')) resolve(); };
    child.stdout.on('data', check);
    child.on('exit', () => reject(new Error(`watch probe never opened: ${output}`)));
  });
  return ended;
}

describe('API faults in the lab', () => {
  let lab: LabStatus;
  let cluster: ClusterStatus;
  let nodeNs: string;

  before(async () => {
    requireTools('ip', 'iptables');
    lab = await labUp({ prefix: PREFIX, clusters: 1, nodes: 1, nodeReadyDelay: 0, cniDelay: 0, agents: false, endpoints: false, wait: true });
    cluster = lab.clusters[0] as ClusterStatus;
    nodeNs = cluster.nodes[0]!.namespace;
  });

  after(async () => {
    await labDown(PREFIX);
  });

  it('blackhole: a request gets no answer and fails at its own deadline; an open watch goes silent; lifted, requests work again', async () => {
    assert.deepEqual((await listFromNode(nodeNs, cluster.agentKubeconfig)).ok, true, 'works before the fault');
    const watchEnded = await watchFromNode(nodeNs, cluster.agentKubeconfig, 2000);
    await cutApi(PREFIX, cluster.id, 'blackhole');
    assert.equal(await currentApiFault(PREFIX, cluster.id), 'blackhole');
    const cut = await listFromNode(nodeNs, cluster.agentKubeconfig);
    assert.equal(cut.ok, false);
    assert.equal(cut.category, 'timeout', `blackholed request: ${cut.detail}`);
    const watch = await watchEnded;
    assert.equal(watch.ended, 'timeout', `the open watch: ${watch.detail}`);
    assert.match(watch.detail ?? '', /silent/);
    await liftApiFault(PREFIX, cluster.id);
    assert.equal(await currentApiFault(PREFIX, cluster.id), null);
    assert.equal((await listFromNode(nodeNs, cluster.agentKubeconfig)).ok, true, 'works after the fault');
  });

  it('reset: a request is refused at once (not at its deadline); an open watch dies; lifted, requests work again', async () => {
    const watchEnded = await watchFromNode(nodeNs, cluster.agentKubeconfig, 4000);
    await cutApi(PREFIX, cluster.id, 'reset');
    assert.equal(await currentApiFault(PREFIX, cluster.id), 'reset');
    const cut = await listFromNode(nodeNs, cluster.agentKubeconfig);
    assert.equal(cut.ok, false);
    assert.equal(cut.category, 'unreachable', `reset request: ${cut.detail}`);
    assert.match(cut.detail ?? '', /ECONNREFUSED|ECONNRESET/);
    const watch = await watchEnded;
    assert.ok(['unreachable', 'timeout'].includes(watch.ended), `the open watch ended ${watch.ended}: ${watch.detail}`);
    await liftApiFault(PREFIX, cluster.id);
    assert.equal((await listFromNode(nodeNs, cluster.agentKubeconfig)).ok, true, 'works after the fault');
  });

  it('a fault touches only the API server\'s namespace, and a new fault replaces the old one', async () => {
    await cutApi(PREFIX, cluster.id, 'blackhole');
    await cutApi(PREFIX, cluster.id, 'reset');
    const { stdout } = await run('ip', ['netns', 'exec', cluster.apiserver.namespace, 'iptables', '-S', FAULT_CHAIN]);
    assert.equal(stdout.split('\n').filter((l) => l.startsWith('-A')).length, 2, stdout);
    const nodeRules = await run('ip', ['netns', 'exec', nodeNs, 'iptables', '-S', FAULT_CHAIN], { allowFailure: true });
    assert.notEqual(nodeRules.code, 0, 'no fault chain in the node');
    await liftApiFault(PREFIX, cluster.id);
    await assert.rejects(cutApi(PREFIX, 'cluster9', 'reset'), /has no API server "cluster9"/);
  });
});

describe('API fault rules and CLI (pure)', () => {
  it('blackhole drops and reset rejects with a TCP reset, both ways on the API port', () => {
    assert.deepEqual(faultRules('blackhole', 6443), [
      ['-A', FAULT_CHAIN, '-p', 'tcp', '--dport', '6443', '-j', 'DROP'],
      ['-A', FAULT_CHAIN, '-p', 'tcp', '--sport', '6443', '-j', 'DROP'],
    ]);
    assert.deepEqual(faultRules('reset', 6443)[0], ['-A', FAULT_CHAIN, '-p', 'tcp', '--dport', '6443', '!', '--tcp-flags', 'RST', 'RST', '-j', 'REJECT', '--reject-with', 'tcp-reset']);
  });

  it('npm run lab -- fault parses its action, target and duration', () => {
    assert.deepEqual(parseLabArgs(['fault', 'blackhole', '--target', 'broker', '--seconds', '30', '--prefix', 'swx']),
      { command: 'fault', prefix: 'swx', action: 'blackhole', target: 'broker', seconds: 30 });
    assert.deepEqual(parseLabArgs(['fault', 'lift']), { command: 'fault', prefix: 'sw', action: 'lift', target: 'cluster1', seconds: undefined });
    assert.throws(() => parseLabArgs(['fault', 'explode']), /fault needs one of blackhole, reset, lift/);
    assert.throws(() => parseLabArgs(['fault', 'reset', '--seconds', 'soon']), /--seconds needs a positive number/);
    assert.throws(() => parseLabArgs(['fault', 'lift', '--seconds', '3']), /--seconds goes with blackhole or reset/);
  });
});
