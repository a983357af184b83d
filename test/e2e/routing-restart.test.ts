/**
 * Restart in the middle of programming (issue 4): with 300 remote Endpoints x 10 subnets, the worker's agent is
 * killed with SIGKILL while its first pass is writing the 3,000 routes, one remote Endpoint whose routes were
 * already installed is deleted while it is down, and it is started again: the kernel ends exactly at the desired
 * set computed from the Endpoints, nothing stale, nothing duplicated.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { run } from '../../src/kernel/exec.ts';
import { requireTools } from '../helpers/prereq.ts';
import { waitFor } from '../helpers/wait.ts';
import { labDown, labStatus, labUp, startAgent, stopAgent } from '../lab/lab.ts';
import type { ClusterStatus, LabStatus, NodeStatus } from '../lab/state.ts';
import { msUntil, nodeRouting, ownedRoutes, readyAgents, remoteSpec, submarinerApi, vtep } from './routing-support.ts';

const PREFIX = `swf${randomBytes(2).toString('hex')}`;
// 9,000 routes, written in batches of 256: a kill at the first route lands well before the last batch even on a loaded machine (3,000 were once all written first).
const ENDPOINTS = 900;
const SUBNETS = 10;
const CANARY = '203.0.113.0/24';

const subnet = (i: number, j: number) => {
  const k = i * SUBNETS + j;
  return `100.${64 + (k >> 8)}.${k & 255}.0/24`;
};
const endpointOf = (prefix: string) => {
  const [, second, third] = prefix.split('.').map(Number) as [number, number, number];
  return Math.floor((((second - 64) << 8) + third) / SUBNETS);
};

describe('agent killed mid-programming and restarted (issue 4)', () => {
  let lab: LabStatus;
  let cluster: ClusterStatus;
  let gateway: NodeStatus;
  let worker: NodeStatus;

  before(async () => {
    requireTools('ip', 'iptables', 'sysctl');
    lab = await labUp({ endpoints: true, prefix: PREFIX, clusters: 1, nodes: 2, podsPerNode: 0, nodeReadyDelay: 0, cniDelay: 0, wait: true });
    cluster = lab.clusters[0] as ClusterStatus;
    [gateway, worker] = cluster.nodes as [NodeStatus, NodeStatus];
    await readyAgents(lab);
  });

  after(async () => {
    await labDown(PREFIX);
  });

  it('ends exactly at the desired routes: nothing stale, nothing duplicated', async () => {
    const api = submarinerApi(cluster);
    await stopAgent(PREFIX, worker.name);
    const names = Array.from({ length: ENDPOINTS }, (_, i) => `remote-${i}`);
    for (let i = 0; i < ENDPOINTS; i += 25) {
      await Promise.all(names.slice(i, i + 25).map((name, k) => api.create(name, remoteSpec(name, Array.from({ length: SUBNETS }, (_, j) => subnet(i + k, j))))));
    }
    assert.deepEqual(await ownedRoutes(worker.namespace, 254), [], 'no remote routes yet on the stopped worker');

    // Start the agent and kill it at its first route write, seen live through `ip monitor`.
    const monitor = spawn('ip', ['-n', worker.namespace, 'monitor', 'route'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let agentPid = 0;
    let killed = false;
    let seen = '';
    const killedAtFirstRoute = new Promise<void>((resolve) => {
      monitor.stdout.on('data', (chunk: Buffer) => {
        seen += chunk.toString('utf8');
        if (killed || agentPid === 0 || !/ dev vx-submariner proto 147/.test(chunk.toString('utf8'))) return;
        killed = true;
        process.kill(agentPid, 'SIGKILL');
        resolve();
      });
    });
    const monitorExited = new Promise<void>((resolve) => monitor.on('exit', () => resolve()));
    try {
      // `ip monitor` must be subscribed before the agent starts: wait until it reports a canary route (not seaway's table).
      await waitFor('ip monitor to report a canary route', async () => {
        await run('ip', ['-n', worker.namespace, 'route', 'add', CANARY, 'dev', 'lo', 'table', '99'], { allowFailure: true });
        await run('ip', ['-n', worker.namespace, 'route', 'del', CANARY, 'dev', 'lo', 'table', '99'], { allowFailure: true });
        return seen.includes(CANARY);
      }, { timeoutMs: 5000 });
      agentPid = (await startAgent(PREFIX, worker.name)).pid;
      await Promise.race([killedAtFirstRoute, waitFor('the agent to write its first route', () => killed, { timeoutMs: 30_000 })]);
    } finally {
      monitor.kill('SIGTERM');
      await monitorExited;
    }
    await stopAgent(PREFIX, worker.name, { signal: 'SIGKILL' }); // records the death; the process is gone already
    const partial = await ownedRoutes(worker.namespace, 254);
    console.log(`killed with ${partial.length} of ${ENDPOINTS * SUBNETS} routes written`);
    assert.ok(partial.length > 0 && partial.length < ENDPOINTS * SUBNETS, `killed mid-programming: ${partial.length} routes`);

    // While it is down, remove a remote Endpoint whose routes are already in the kernel.
    const victim = endpointOf(partial[0]!.split(' ')[0]!);
    await api.remove(`remote-${victim}`);

    const expected: string[] = [];
    for (let i = 0; i < ENDPOINTS; i++) {
      if (i === victim) continue;
      for (let j = 0; j < SUBNETS; j++) expected.push(`${subnet(i, j)} via ${vtep(gateway.ip)} dev vx-submariner`);
    }
    expected.sort();
    const start = performance.now();
    const restarted = await startAgent(PREFIX, worker.name);
    const ms = await msUntil(start, 'the restarted agent to reach exactly the desired routes', async () => {
      const routes = await ownedRoutes(worker.namespace, 254);
      return routes.length === expected.length && JSON.stringify(routes) === JSON.stringify(expected);
    }, 30_000);
    console.log(`restarted agent converged in ${ms.toFixed(0)} ms`);
    await readyAgents(await labStatus(PREFIX));
    const rss = (await readFile(`/proc/${restarted.pid}/status`, 'utf8')).match(/^VmRSS:\s+(\d+) kB/m)?.[1];
    console.log(`agent resident memory with ${expected.length} remote routes: ${Math.round(Number(rss) / 1024)} MiB`);

    const final = await nodeRouting(worker.namespace);
    assert.deepEqual(final.main, expected, 'exactly the desired routes');
    assert.equal(new Set(final.main.map((r) => r.split(' ')[0])).size, final.main.length, 'no destination twice');
    assert.ok(!final.main.some((r) => endpointOf(r.split(' ')[0]!) === victim), 'nothing of the deleted Endpoint');
    assert.deepEqual(final.rules, [], 'workers route in the main table: no rule');
    assert.deepEqual(final.table150, []);
    assert.equal(final.vxlan?.remote, gateway.ip);
  });
});
