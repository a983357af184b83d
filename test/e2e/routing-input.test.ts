/**
 * Bad Endpoints in the lab: for each rejection reason, an Endpoint is created through the API; no route is ever
 * installed for its prefixes (an `ip monitor route` runs in both nodes for the whole test), the good Endpoint stays
 * programmed, each agent logs the rejection once, counts it in seaway_rejected_endpoints{reason}, and posts one
 * Kubernetes Event on the Endpoint. Several Endpoints for one cluster: the newest wins and the older is reported.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { run } from '../../src/kernel/exec.ts';
import { requireTools } from '../helpers/prereq.ts';
import { httpGetUnix } from '../lab/http-unix.ts';
import { waitFor } from '../helpers/wait.ts';
import { labDown, labUp } from '../lab/lab.ts';
import { SUBMARINER_NAMESPACE } from '../lab/agents.ts';
import type { ClusterStatus, LabStatus, NodeStatus } from '../lab/state.ts';
import { join } from 'node:path';
import { labPaths } from '../lab/paths.ts';
import type { StatusDocument } from '../../src/server/status.ts';
import { agentLog, agentMetrics, metricValue, nodeRouting, readyAgents, remoteSpec, submarinerApi } from './routing-support.ts';

const PREFIX = `swf${randomBytes(2).toString('hex')}`;
const GOOD = '172.20.0.0/16';

interface BadCase {
  reason: string;
  name: string;
  /** Prefixes the Endpoint lists that must never reach the kernel. */
  prefixes: string[];
  spec: Record<string, unknown>;
}

const many = Array.from({ length: 65 }, (_, i) => `10.57.${i}.0/24`);
const CASES: BadCase[] = [
  // A wrong type (subnets as a string) is refused by the API server itself (Submariner's CRD schema, 422); what
  // the schema lets through yet seaway cannot use is malformed to seaway: no IPv4 private address at all.
  { reason: 'malformed', name: 'bad-malformed', prefixes: ['10.50.0.0/16'], spec: remoteSpec('bad-malformed', ['10.50.0.0/16'], { private_ip: '' }) },
  { reason: 'invalid-ip', name: 'bad-invalid-ip', prefixes: ['10.49.0.0/16'], spec: remoteSpec('bad-invalid-ip', ['10.49.0.0/16'], { private_ip: '10.0.0.300' }) },
  { reason: 'invalid-cidr', name: 'bad-invalid-cidr', prefixes: ['10.51.0.0/16'], spec: remoteSpec('bad-invalid-cidr', ['10.51.0.0/16', '10.51.300.0/24']) },
  // IPv6 subnets of a dual-stack Endpoint are skipped, not rejected; an Endpoint with no IPv4 private address is.
  { reason: 'ipv6-unsupported', name: 'bad-ipv6', prefixes: ['10.52.0.0/16'], spec: remoteSpec('bad-ipv6', ['10.52.0.0/16'], { private_ip: 'fd00:52::1' }) },
  { reason: 'default-route', name: 'bad-default', prefixes: ['10.53.0.0/16', '0.0.0.0/0'], spec: remoteSpec('bad-default', ['10.53.0.0/16', '0.0.0.0/0']) },
  { reason: 'too-broad', name: 'bad-broad', prefixes: ['10.54.0.0/16', '12.0.0.0/7'], spec: remoteSpec('bad-broad', ['10.54.0.0/16', '12.0.0.0/7']) },
  { reason: 'reserved-range', name: 'bad-reserved', prefixes: ['10.48.0.0/16', '169.254.0.0/16'], spec: remoteSpec('bad-reserved', ['10.48.0.0/16', '169.254.0.0/16']) },
  { reason: 'overlaps-local', name: 'bad-local', prefixes: ['10.55.0.0/16', '10.1.5.0/24'], spec: remoteSpec('bad-local', ['10.55.0.0/16', '10.1.5.0/24']) },
  // Cluster-wide: 192.168.1.8/29 holds the Nodes' addresses (a node's own networks only refuse a route on that node).
  { reason: 'covers-node-address', name: 'bad-node-addr', prefixes: ['10.56.0.0/16', '192.168.1.8/29'], spec: remoteSpec('bad-node-addr', ['10.56.0.0/16', '192.168.1.8/29']) },
  { reason: 'too-many-subnets', name: 'bad-many', prefixes: many, spec: remoteSpec('bad-many', many) },
  { reason: 'overlaps-other-endpoint', name: 'bad-overlap', prefixes: ['10.47.0.0/16', '172.20.5.0/24'], spec: remoteSpec('bad-overlap', ['10.47.0.0/16', '172.20.5.0/24']) },
];

/** `ip` prints 0.0.0.0/0 as "default". */
const prefixOf = (line: string) => { const first = line.split(' ')[0] ?? ''; return first === 'default' ? '0.0.0.0/0' : first; };

/** Records every route the kernel adds in a namespace, for the whole test. */
function monitorRoutes(namespace: string): { lines: () => string[]; stop: () => Promise<void> } {
  const child: ChildProcess = spawn('ip', ['-n', namespace, 'monitor', 'route'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => { text += chunk.toString('utf8'); });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return {
    lines: () => text.split('\n').filter(Boolean),
    async stop() { child.kill('SIGTERM'); await exited; },
  };
}

/** `seaway status` on a lab node, as an operator runs it: the CLI reading the agent's local socket. */
async function seawayStatus(node: NodeStatus, json: boolean): Promise<{ code: number; stdout: string }> {
  const socket = join(labPaths(PREFIX).node(node.name).dir, 'state', 'seaway.sock');
  const args = ['src/main.ts', 'status', '--status-socket', socket, ...(json ? ['--json'] : [])];
  const { code, stdout, stderr } = await run(process.execPath, args, { allowFailure: true, timeoutMs: 20_000 });
  assert.ok(code === 0 || code === 1, `seaway status exited ${code}: ${stderr}`);
  return { code, stdout };
}
const statusDoc = async (node: NodeStatus) => JSON.parse((await seawayStatus(node, true)).stdout) as StatusDocument;

describe('bad Endpoints in the lab (issue 4)', () => {
  let lab: LabStatus;
  let cluster: ClusterStatus;
  let gateway: NodeStatus;
  let worker: NodeStatus;
  let api: ReturnType<typeof submarinerApi>;
  const monitors: Array<ReturnType<typeof monitorRoutes>> = [];

  const goodProgrammed = async () => {
    const [w, g] = await Promise.all([nodeRouting(worker.namespace), nodeRouting(gateway.namespace)]);
    return w.main.some((r) => r.startsWith(`${GOOD} via`)) && g.table150.some((r) => r.startsWith(`${GOOD} dev`));
  };

  before(async () => {
    requireTools('ip', 'iptables', 'sysctl');
    lab = await labUp({ endpoints: true, prefix: PREFIX, clusters: 1, nodes: 2, podsPerNode: 0, nodeReadyDelay: 0, cniDelay: 0, wait: true, agentEnv: { SEAWAY_LOG_LEVEL: 'debug', SEAWAY_EVENT_BURST: '100' } });
    cluster = lab.clusters[0] as ClusterStatus;
    [gateway, worker] = cluster.nodes as [NodeStatus, NodeStatus];
    for (const node of cluster.nodes) monitors.push(monitorRoutes(node.namespace));
    await readyAgents(lab);
    api = submarinerApi(cluster);
    // As the broker sync would: a joined cluster has a Cluster object, and its age gives it precedence over
    // clusters that claim the same addresses later (or have none, as the bad-* ones here).
    const custom = api.kubeConfig.makeApiClient(CustomObjectsApi);
    await custom.createNamespacedCustomObject({
      group: 'submariner.io', version: 'v1', namespace: SUBMARINER_NAMESPACE, plural: 'clusters',
      body: { apiVersion: 'submariner.io/v1', kind: 'Cluster', metadata: { name: 'good' }, spec: { cluster_id: 'good', color_codes: ['blue'], cluster_cidr: [GOOD], service_cidr: [], global_cidr: [] } },
    });
    await api.create('good', remoteSpec('good', [GOOD]));
    await waitFor('the good Endpoint programmed on both nodes', goodProgrammed, { timeoutMs: 10_000 });
  });

  after(async () => {
    await Promise.all(monitors.map((m) => m.stop()));
    await labDown(PREFIX);
  });

  it('each rejection reason: no route for its prefixes, the good Endpoint stays, a metric, one log line per node and one Event from the gateway', async () => {
    for (const c of CASES) {
      await api.create(c.name, c.spec);
      await Promise.all(cluster.nodes.map((node) => waitFor(`${node.name}: seaway_rejected_endpoints{reason="${c.reason}"} 1`, async () =>
        metricValue(await agentMetrics(node), `seaway_rejected_endpoints{reason="${c.reason}"}`) === 1, { timeoutMs: 10_000 })));
      assert.equal(await goodProgrammed(), true, `after ${c.name} the good Endpoint must still be routed`);
    }
    // One more change, so every rejection has lived through several passes before the log is counted.
    // (A spec change: a label-only update is no change of anything seaway reads, and costs no pass.)
    await api.patchSpec('good', { backend_config: { touched: 'yes' } });
    for (const node of cluster.nodes) {
      await waitFor(`${node.name}: a pass after the last change`, async () => {
        const log = await agentLog(node);
        const lastBad = log.findLastIndex((l) => l.msg === 'Endpoint rejected');
        return log.slice(lastBad + 1).filter((l) => l.msg === 'reconcile pass').length >= 2;
      }, { timeoutMs: 10_000 });
    }

    const core = api.kubeConfig.makeApiClient(CoreV1Api);
    const events = (await core.listNamespacedEvent({ namespace: SUBMARINER_NAMESPACE })).items;
    const allPrefixes = new Set(CASES.flatMap((c) => c.prefixes));
    for (const node of cluster.nodes) {
      const log = await agentLog(node);
      const routing = await nodeRouting(node.namespace);
      for (const c of CASES) {
        const lines = log.filter((l) => l.msg === 'Endpoint rejected' && l.endpoint === `${SUBMARINER_NAMESPACE}/${c.name}`);
        assert.equal(lines.length, 1, `${node.name}: ${c.name} logged ${lines.length} times`);
        assert.equal(lines[0]?.reason, c.reason, `${node.name}: ${c.name}`);
        // One Event per cluster, from the gateway (node 1), not one per node.
        const posted = events.filter((e) => e.involvedObject.name === c.name);
        assert.equal(posted.length, 1, `${posted.length} Events on ${c.name}`);
        assert.equal(posted[0]?.reportingInstance, gateway.name);
        assert.equal(posted[0]?.reason, 'EndpointRejected');
        assert.equal(posted[0]?.type, 'Warning');
        assert.equal(posted[0]?.reportingComponent, 'seaway');
        assert.equal(posted[0]?.involvedObject.kind, 'Endpoint');
        assert.equal(posted[0]?.involvedObject.apiVersion, 'submariner.io/v1');
        assert.ok(posted[0]?.message?.startsWith(`${c.reason}: `), posted[0]?.message);
      }
      const installed = [...routing.main, ...routing.table150].map(prefixOf);
      assert.deepEqual(installed.filter((p) => allPrefixes.has(p)), [], `${node.name} has a rejected prefix`);
      assert.ok(installed.includes(GOOD), `${node.name} routes the good Endpoint`);
    }
  });

  it('several Endpoints for one cluster: the newest wins, the older one is reported once (log, metric, Event)', async () => {
    await api.create('dup-a', remoteSpec('dup', ['10.58.0.0/16']));
    await waitFor('dup-a routed', async () => (await nodeRouting(worker.namespace)).main.some((r) => r.startsWith('10.58.0.0/16 ')), { timeoutMs: 10_000 });
    // Creation timestamps have one-second resolution; on a tie the greater name wins, so dup-b wins either way.
    await api.create('dup-b', remoteSpec('dup', ['10.59.0.0/16']));
    for (const node of cluster.nodes) {
      await waitFor(`${node.name}: 10.59.0.0/16 instead of 10.58.0.0/16`, async () => {
        const r = await nodeRouting(node.namespace);
        const routes = [...r.main, ...r.table150].map((x) => x.split(' ')[0]);
        return routes.includes('10.59.0.0/16') && !routes.includes('10.58.0.0/16');
      }, { timeoutMs: 10_000 });
      await waitFor(`${node.name}: seaway_duplicate_endpoints 1`, async () => metricValue(await agentMetrics(node), 'seaway_duplicate_endpoints') === 1, { timeoutMs: 5000 });
      const lines = (await agentLog(node)).filter((l) => typeof l.msg === 'string' && l.msg.startsWith('several Endpoints') && l.endpoint === `${SUBMARINER_NAMESPACE}/dup-a`);
      assert.equal(lines.length, 1, `${node.name}: ${lines.length} log lines`);
    }
    const core = api.kubeConfig.makeApiClient(CoreV1Api);
    await waitFor('one DuplicateEndpoint Event on dup-a, from the gateway', async () => {
      const events = (await core.listNamespacedEvent({ namespace: SUBMARINER_NAMESPACE, fieldSelector: 'involvedObject.name=dup-a' })).items;
      return JSON.stringify(events.map((e) => `${e.reportingInstance} ${e.reason}`)) === JSON.stringify([`${gateway.name} DuplicateEndpoint`]);
    }, { timeoutMs: 5000 });
  });

  it('a route someone else left in the main table at a wanted destination: untouched, the rest programmed, readiness says so, logged once while retried, programmed once it is gone', async () => {
    const LEFTOVER = '10.60.1.0/24';
    await run('ip', ['-n', worker.namespace, 'route', 'add', 'blackhole', LEFTOVER]);
    const foreign = async () => (await run('ip', ['-n', worker.namespace, 'route', 'show', LEFTOVER])).stdout.trim();
    try {
      await api.create('leftover', remoteSpec('leftover', ['10.60.0.0/24', LEFTOVER]));
      await waitFor('the conflict-free subnet routed on the worker', async () => (await nodeRouting(worker.namespace)).main.some((r) => r.startsWith('10.60.0.0/24 via')), { timeoutMs: 10_000 });
      await waitFor('the gateway routes both subnets in its own table', async () => {
        const t150 = (await nodeRouting(gateway.namespace)).table150;
        return t150.some((r) => r.startsWith('10.60.0.0/24 dev')) && t150.some((r) => r.startsWith(`${LEFTOVER} dev`));
      }, { timeoutMs: 10_000 });
      const readyz = await waitFor('the worker not ready, naming the failed object', async () => {
        const response = await httpGetUnix(worker.agent!.socket, '/readyz');
        return response.status === 503 && /not programmed/.test(response.body) ? response.body : undefined;
      }, { timeoutMs: 10_000 });
      assert.match(readyz, new RegExp(`1 object\\(s\\) not programmed: route ${LEFTOVER.replace(/[./]/g, '\\$&')} via \\S+ dev vx-submariner table 254 failed: the kernel uses blackhole ${LEFTOVER.replace(/[./]/g, '\\$&')} table 254 proto 3 \\(boot\\) for this destination, a route seaway does not own`));
      // Retried on its own backoff (the lab's agents: 200 ms doubling to 30 s), seen in its status.
      const retried = await waitFor('three attempts at the failing route', async () => {
        const doc = await statusDoc(worker);
        const failing = doc.objects.filter((o) => o.state !== 'programmed');
        return failing.length === 1 && failing[0]!.attempts >= 3 ? doc : undefined;
      }, { timeoutMs: 15_000 });
      // `seaway status`: exactly that object failed, with the kernel's reason; everything else programmed.
      const [failing] = retried.objects.filter((o) => o.state !== 'programmed');
      assert.deepEqual({ kind: failing!.kind, key: failing!.key, state: failing!.state, code: failing!.code },
        { kind: 'route', key: `254 ${LEFTOVER}`, state: 'failed', code: undefined });
      assert.match(failing!.reason!, /a route seaway does not own: seaway leaves it alone/);
      assert.ok(retried.objects.filter((o) => o.kind === 'route').length >= 2, 'the other routes are listed as programmed');
      assert.equal(retried.ready, false);
      const table = await seawayStatus(worker, false);
      assert.equal(table.code, 1, 'not all programmed: exit 1');
      assert.match(table.stdout, new RegExp(`^failed +route +route ${LEFTOVER.replace(/[./]/g, '\\$&')} .*a route seaway does not own`, 'm'));
      const gatewayStatus = await seawayStatus(gateway, false);
      assert.equal(gatewayStatus.code, 0, `the gateway has everything programmed:\n${gatewayStatus.stdout}`);
      assert.doesNotMatch(gatewayStatus.stdout, /^(failed|pending)/m);
      assert.equal(await foreign(), `blackhole ${LEFTOVER}`, 'the route seaway did not make is never touched');
      const failureLines = (await agentLog(worker)).filter((l) => l.msg === 'kernel object not programmed' && String(l.object).includes(LEFTOVER));
      assert.equal(failureLines.length, 1, `the failure is logged once, not on every retry: ${failureLines.length} lines`);
      assert.match(String(failureLines[0]?.reason), /the kernel uses blackhole/);

      await run('ip', ['-n', worker.namespace, 'route', 'del', 'blackhole', LEFTOVER]);
      await waitFor('seaway\'s own route once the leftover is gone, and the worker ready', async () =>
        (await nodeRouting(worker.namespace)).main.some((r) => r.startsWith(`${LEFTOVER} via`)) && (await httpGetUnix(worker.agent!.socket, '/readyz')).status === 200, { timeoutMs: 20_000 });
      assert.ok((await agentLog(worker)).some((l) => l.msg === 'kernel objects programmed after failing'), 'the recovery is logged');
    } finally {
      await run('ip', ['-n', worker.namespace, 'route', 'del', 'blackhole', LEFTOVER], { allowFailure: true });
      await api.remove('leftover');
    }
  });

  it('no rejected prefix was ever installed, not even for a moment (ip monitor route on both nodes)', () => {
    const prefixes = new Set(CASES.flatMap((c) => c.prefixes));
    for (const monitor of monitors) {
      const added = monitor.lines().filter((l) => !l.startsWith('Deleted')).map(prefixOf);
      assert.ok(added.includes(GOOD), 'the monitor saw the good route being added (it works)');
      assert.deepEqual(added.filter((p) => prefixes.has(p)), []);
    }
  });
});
