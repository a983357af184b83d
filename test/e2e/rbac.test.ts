/**
 * Issues 11 and 15 in the lab, whose API servers authenticate and authorize as a cluster does: seaway
 * installed from manifests/ (`kubectl apply`), the route agents run by the nodes' kubelets from the
 * image with their service account's token, under manifests/02-rbac-route-agent.yaml.
 * - With it as it is, every request the agents make in a run (informers, an Event about a spoofed
 *   Endpoint) is allowed, and every rule of it is used: the RBAC is as small as the code's needs.
 * - With a copy missing one verb (watch on Nodes), the agents fail with a Forbidden they report on
 *   /readyz and in one log line, however often they retry.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CoreV1Api } from '@kubernetes/client-node';
import { requireTools } from '../helpers/prereq.ts';
import { waitFor } from '../helpers/wait.ts';
import { AdminClient } from '../lab/apiserver/admin-client.ts';
import { httpGetUnix } from '../lab/http-unix.ts';
import { MANIFESTS_DIR } from '../lab/deploy.ts';
import { labDown, labUp } from '../lab/lab.ts';
import { ROUTE_AGENT_ACCOUNT, ROUTE_AGENT_RBAC, rulesOf } from '../lab/manifests.ts';
import { agentLog, agentMetrics, metricValue, readyAgents, remoteSpec, submarinerApi } from './routing-support.ts';

const AGENT_USER = `system:serviceaccount:${ROUTE_AGENT_ACCOUNT.namespace}:${ROUTE_AGENT_ACCOUNT.name}`;
const LAB = { endpoints: true, clusters: 1, nodes: 2, gateways: 1, podsPerNode: 0, nodeReadyDelay: 0, cniDelay: 0, wait: true, deploy: 'manifests' } as const;


describe('the route agent under RBAC', () => {
  const prefixes: string[] = [];
  let dir: string | undefined;
  after(async () => {
    for (const prefix of prefixes) await labDown(prefix);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('with manifests/ as it is: every request of a run is allowed, and every rule is used', async () => {
    requireTools('ip', 'iptables', 'sysctl', 'openssl');
    const prefix = `swr${randomBytes(2).toString('hex')}`;
    prefixes.push(prefix);
    const lab = await labUp({ ...LAB, prefix });
    await readyAgents(lab);
    const cluster = lab.clusters[0]!;
    // A spoofed local Endpoint: the gateway's agent reports it with an Event (the Role's events rule).
    await submarinerApi(cluster).create('spoof', remoteSpec(cluster.id, [cluster.podCidr], { hostname: 'nobody', private_ip: '203.0.113.66', public_ip: '203.0.113.67' }));
    const core = submarinerApi(cluster).kubeConfig.makeApiClient(CoreV1Api);
    await waitFor('an Event about the spoofed Endpoint', async () =>
      (await core.listNamespacedEvent({ namespace: ROUTE_AGENT_ACCOUNT.namespace, fieldSelector: 'involvedObject.name=spoof' })).items.length > 0, { timeoutMs: 15_000 });
    const { entries } = await new AdminClient({ socketPath: cluster.apiserver.socket }).requests();
    const agents = entries.filter((e) => e.user === AGENT_USER);
    assert.ok(agents.length > 0, 'the agents made their requests with the route agent\'s token');
    assert.deepEqual(agents.filter((e) => e.decision !== 'allow').map((e) => `${e.verb} ${e.path} ${e.decision}`), [], 'every agent request allowed');
    assert.deepEqual([...new Set(agents.map((e) => e.rule))].sort(), await rulesOf(ROUTE_AGENT_RBAC), 'every rule of the RBAC used');
  });

  it('with a copy missing watch on Nodes: Forbidden on /readyz and in one log line, however often the agent retries', async () => {
    // A copy of manifests/ whose route agent RBAC lost one verb.
    dir = await mkdtemp(join(tmpdir(), 'seaway-rbac-'));
    await cp(MANIFESTS_DIR, dir, { recursive: true });
    const narrowed = join(dir, basename(ROUTE_AGENT_RBAC));
    const original = await readFile(ROUTE_AGENT_RBAC, 'utf8');
    const withoutWatch = original.replace('verbs: ["list", "watch"]', 'verbs: ["list"]');
    assert.notEqual(withoutWatch, original, 'the copy really lost a verb');
    await writeFile(narrowed, withoutWatch);
    const prefix = `swr${randomBytes(2).toString('hex')}`;
    prefixes.push(prefix);
    const lab = await labUp({ ...LAB, prefix, manifestsDir: dir });
    const node = lab.clusters[0]!.nodes[1]!;
    const readyz = await waitFor('the agent naming the Forbidden watch on /readyz', async () => {
      const response = await httpGetUnix(node.agent!.socket, '/readyz');
      return response.status === 503 && /HTTP 403 Forbidden/.test(response.body) ? response.body : undefined;
    }, { timeoutMs: 30_000, intervalMs: 100 });
    assert.match(readyz, /^api: .*nodes: HTTP 403 Forbidden/m);
    await waitFor('three failed watches', async () => (metricValue(await agentMetrics(node), 'seaway_api_errors_total{operation="nodes"}') ?? 0) >= 3, { timeoutMs: 30_000, intervalMs: 200 });
    const lines = (await agentLog(node)).filter((l) => String(l.cause ?? '').includes('403'));
    assert.equal(lines.length, 1, `one log line for the streak: ${JSON.stringify(lines)}`);
    assert.match(String(lines[0]!.err), new RegExp(`nodes is forbidden: User "${AGENT_USER}" cannot watch resource "nodes" in API group "" at the cluster scope`));
  });
});
