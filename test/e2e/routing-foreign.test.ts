/**
 * Someone else's route at a destination seaway routes (issue 10 item 4), in the lab: seaway's route replaced by
 * another protocol (`ip route replace ... proto boot`), a route prepended ahead of seaway's, one appended behind it
 * or at another metric, and a replacement in Submariner's own shape. seaway never edits or deletes a route it does
 * not own (DESIGN.md section 2): where the kernel uses the foreign route, seaway's route is reported failed naming
 * it (readiness, the log), and once it is gone seaway's route comes back. Submariner's shape is a leftover seaway
 * adopts, so that one is made seaway's again.
 *
 * The agents' periodic resync is a day away, so what happens here comes from kernel events: a route of another
 * protocol added or deleted at a destination seaway wants wakes the loop. The retry backoff is capped at 1 s so the
 * route held by a foreign one is retried soon after that route goes; time bounds only catch a hang.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { run } from '../../src/kernel/exec.ts';
import { requireTools } from '../helpers/prereq.ts';
import { waitFor } from '../helpers/wait.ts';
import { httpGetUnix } from '../lab/http-unix.ts';
import { labDown, labUp } from '../lab/lab.ts';
import { SUBMARINER_NAMESPACE } from '../lab/agents.ts';
import type { ClusterStatus, LabStatus, NodeStatus } from '../lab/state.ts';
import { agentLog, nodeRouting, readyAgents, remoteSpec, submarinerApi, vtep } from './routing-support.ts';

const PREFIX = `swr${randomBytes(2).toString('hex')}`;
const REMOTE = '172.21.0.0/16';
/** Catches a hang (a report or repair that never comes); not a speed goal. */
const HANG_MS = 15_000;

type RouteJson = { dst: string; gateway?: string; dev?: string; protocol?: string; metric?: number };

/** Every route at REMOTE in a table, in the kernel's order, as `ip` shows it. */
async function routesAt(node: NodeStatus, table: number): Promise<string[]> {
  const { stdout } = await run('ip', ['-n', node.namespace, '-j', 'route', 'show', 'table', String(table), REMOTE]);
  return (JSON.parse(stdout || '[]') as RouteJson[])
    .map((r) => [r.gateway ? `via ${r.gateway}` : '', `dev ${r.dev}`, `proto ${r.protocol ?? 'boot'}`, r.metric ? `metric ${r.metric}` : ''].filter(Boolean).join(' '));
}

const readyz = async (node: NodeStatus) => {
  if (!node.agent) throw new Error(`${node.name} has no agent`);
  return httpGetUnix(node.agent.socket, '/readyz');
};

const passes = async (node: NodeStatus) => (await agentLog(node)).filter((l) => l.msg === 'reconcile pass').length;

describe('foreign routes at seaway\'s destinations (issue 10)', () => {
  let lab: LabStatus;
  let gateway: NodeStatus;
  let worker: NodeStatus;
  let seawayWorkerRoute: string;
  let seawayGatewayRoute: string;

  /** The node is ready again and has seaway's route (alone) at REMOTE. */
  const restored = async (node: NodeStatus, table: number, route: string) =>
    (await readyz(node)).status === 200 && JSON.stringify(await routesAt(node, table)) === JSON.stringify([route]);

  /** /readyz names seaway's route at REMOTE as failed because the kernel uses `foreign` there. */
  const reported = async (node: NodeStatus, foreign: string) => {
    const { status, body } = await readyz(node);
    return status === 503 && body.includes(`route ${REMOTE} `) && body.includes(`failed: the kernel uses ${foreign} for this destination, a route seaway does not own`);
  };

  before(async () => {
    requireTools('ip', 'iptables', 'sysctl');
    lab = await labUp({
      endpoints: true, prefix: PREFIX, clusters: 1, nodes: 2, podsPerNode: 0, nodeReadyDelay: 0, cniDelay: 0, wait: true,
      agentEnv: { SEAWAY_RESYNC_SECONDS: '86400', SEAWAY_RETRY_MAX_MS: '1000', SEAWAY_LOG_LEVEL: 'debug' },
    });
    const cluster = lab.clusters[0] as ClusterStatus;
    [gateway, worker] = cluster.nodes as [NodeStatus, NodeStatus];
    await readyAgents(lab);
    const api = submarinerApi(cluster);
    await api.kubeConfig.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
      group: 'submariner.io', version: 'v1', namespace: SUBMARINER_NAMESPACE, plural: 'clusters',
      body: { apiVersion: 'submariner.io/v1', kind: 'Cluster', metadata: { name: 'remote' }, spec: { cluster_id: 'remote', color_codes: ['blue'], cluster_cidr: [REMOTE], service_cidr: [], global_cidr: [] } },
    });
    await api.create('remote', remoteSpec('remote', [REMOTE]));
    seawayWorkerRoute = `via ${vtep(gateway.ip)} dev vx-submariner proto 147`;
    seawayGatewayRoute = `dev eth0 proto 147`;
    await waitFor('REMOTE routed on both nodes', async () => (await restored(worker, 254, seawayWorkerRoute)) && (await restored(gateway, 150, seawayGatewayRoute)), { timeoutMs: 10_000 });
  });

  after(async () => {
    await labDown(PREFIX);
  });

  it('seaway\'s route replaced by another protocol: reported at once naming the foreign route, which is never touched; removed, seaway\'s route returns', async () => {
    await run('ip', ['-n', worker.namespace, 'route', 'replace', REMOTE, 'dev', 'eth0', 'proto', 'boot']);
    const foreign = `${REMOTE} dev eth0 table 254 proto 3 (boot)`;
    await waitFor('the worker to report the foreign route', () => reported(worker, foreign), { timeoutMs: HANG_MS });
    // The held route is retried (every second here) and each retry leaves the foreign route alone.
    const seen = await passes(worker);
    await waitFor('two more passes on the worker', async () => (await passes(worker)) >= seen + 2, { timeoutMs: HANG_MS });
    assert.deepEqual(await routesAt(worker, 254), ['dev eth0 proto boot']);
    const warned = (await agentLog(worker)).filter((l) => l.msg === 'kernel object not programmed' && String(l.reason).includes(foreign));
    assert.equal(warned.length, 1, 'logged once, not on every retry');

    await run('ip', ['-n', worker.namespace, 'route', 'del', REMOTE, 'proto', 'boot']);
    await waitFor('seaway\'s route back and the worker ready', () => restored(worker, 254, seawayWorkerRoute), { timeoutMs: HANG_MS });
  });

  it('a route prepended ahead of seaway\'s is reported; behind it or at another metric it is left alone and not reported', async () => {
    await run('ip', ['-n', worker.namespace, 'route', 'prepend', REMOTE, 'dev', 'eth0', 'proto', 'boot']);
    await waitFor('the worker to report the prepended route', () => reported(worker, `${REMOTE} dev eth0 table 254 proto 3 (boot)`), { timeoutMs: HANG_MS });
    assert.deepEqual(await routesAt(worker, 254), ['dev eth0 proto boot', seawayWorkerRoute], 'seaway\'s own route stays behind it');
    await run('ip', ['-n', worker.namespace, 'route', 'del', REMOTE, 'proto', 'boot']);
    await waitFor('the worker ready again', () => restored(worker, 254, seawayWorkerRoute), { timeoutMs: HANG_MS });

    // Each of these wakes a pass (a change at a destination of seaway's), which finds nothing to report.
    await run('ip', ['-n', worker.namespace, 'route', 'append', REMOTE, 'dev', 'eth0', 'proto', 'boot']);
    await run('ip', ['-n', worker.namespace, 'route', 'add', REMOTE, 'dev', 'eth0', 'metric', '50', 'proto', 'boot']);
    // One more change, made after both are in place, so the pass it wakes surely sees both.
    const seen = await passes(worker);
    await run('ip', ['-n', worker.namespace, 'route', 'add', REMOTE, 'dev', 'eth0', 'metric', '60', 'proto', 'boot']);
    await run('ip', ['-n', worker.namespace, 'route', 'del', REMOTE, 'metric', '60', 'proto', 'boot']);
    await waitFor('a pass woken after both foreign routes are in place', async () => (await passes(worker)) > seen, { timeoutMs: HANG_MS });
    assert.equal((await readyz(worker)).status, 200);
    assert.deepEqual(await routesAt(worker, 254), [seawayWorkerRoute, 'dev eth0 proto boot', 'dev eth0 proto boot metric 50']);
    await run('ip', ['-n', worker.namespace, 'route', 'del', REMOTE, 'metric', '50', 'proto', 'boot']);
    await run('ip', ['-n', worker.namespace, 'route', 'del', REMOTE, 'proto', 'boot']);
    assert.deepEqual(await routesAt(worker, 254), [seawayWorkerRoute]);
  });

  it('replaced in the shape Submariner\'s route agent leaves (proto static via the gateway\'s VTEP): adopted and made seaway\'s again', async () => {
    await run('ip', ['-n', worker.namespace, 'route', 'replace', REMOTE, 'via', vtep(gateway.ip), 'dev', 'vx-submariner', 'proto', 'static']);
    await waitFor('seaway\'s route back', async () => JSON.stringify(await routesAt(worker, 254)) === JSON.stringify([seawayWorkerRoute]), { timeoutMs: HANG_MS });
    assert.ok((await nodeRouting(worker.namespace)).main.some((r) => r.startsWith(REMOTE)));
  });

  it('the gateway\'s table 150: a foreign replacement is reported and left alone; removed, seaway\'s route returns', async () => {
    await run('ip', ['-n', gateway.namespace, 'route', 'replace', REMOTE, 'dev', 'eth0', 'table', '150', 'proto', 'boot']);
    await waitFor('the gateway to report the foreign route', () => reported(gateway, `${REMOTE} dev eth0 table 150 proto 3 (boot)`), { timeoutMs: HANG_MS });
    assert.deepEqual(await routesAt(gateway, 150), ['dev eth0 proto boot']);
    await run('ip', ['-n', gateway.namespace, 'route', 'del', REMOTE, 'table', '150', 'proto', 'boot']);
    await waitFor('seaway\'s table-150 route back and the gateway ready', () => restored(gateway, 150, seawayGatewayRoute), { timeoutMs: HANG_MS });
  });
});
