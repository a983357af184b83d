/**
 * The lab starting seaway in every node: each agent runs inside its node's namespace with the
 * DaemonSet environment, answers on its socket and its node address, logs to its file, becomes
 * ready once the lab's Node and CNI are up, and is gone after `down`.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { run } from '../../src/kernel/exec.ts';
import { requireTools } from '../helpers/prereq.ts';
import { AGENT_ENTRY } from './agents.ts';
import { httpGetUnix } from './http-unix.ts';
import { labDown, labStatus, labUp, startAgent, stopAgent } from './lab.ts';
import { isAlive, waitFor } from './processes.ts';
import type { LabStatus } from './state.ts';

const PREFIX = `swbg${randomBytes(2).toString('hex')}`;

describe('lab with agents', () => {
  let lab: LabStatus;

  before(async () => {
    requireTools('ip', 'iptables', 'sysctl');
    assert.ok(existsSync(AGENT_ENTRY), `${AGENT_ENTRY} is missing: the agent is needed for this test`);
    lab = await labUp({ endpoints: true, prefix: PREFIX, clusters: 1, nodes: 2, nodeReadyDelay: 0, cniDelay: 0, agents: true });
  });

  after(async () => {
    await labDown(PREFIX);
  });

  it('starts one agent per node, inside the node namespace, with the DaemonSet environment', async () => {
    const cluster = lab.clusters[0];
    assert.ok(cluster);
    for (const node of cluster.nodes) {
      const agent = node.agent;
      assert.ok(agent, `${node.name} has no agent in the status`);
      assert.equal(agent.healthUrl, `http://${node.ip}:8080`);
      assert.ok(isAlive(agent.pid), `${node.name} agent ${agent.pid} is not running`);
      const { stdout } = await run('ip', ['netns', 'pids', node.namespace]);
      assert.ok(stdout.split(/\s+/).includes(String(agent.pid)), `agent ${agent.pid} is not in ${node.namespace}`);
      const environ = (await readFile(`/proc/${agent.pid}/environ`, 'latin1')).split('\0');
      for (const entry of [
        `NODE_NAME=${node.name}`,
        `SUBMARINER_CLUSTERID=${cluster.id}`,
        'SUBMARINER_NAMESPACE=submariner-operator',
        `SUBMARINER_CLUSTERCIDR=${cluster.podCidr}`,
        `SUBMARINER_SERVICECIDR=${cluster.serviceCidr}`,
        `KUBECONFIG=${cluster.agentKubeconfig}`,
        `SEAWAY_LISTEN=${node.ip}:8080,unix:${agent.socket}`,
      ]) assert.ok(environ.includes(entry), `${node.name}: ${entry} missing`);
    }
  });

  it('answers /healthz on its socket and on its node address, and writes its log file', async () => {
    for (const node of lab.clusters.flatMap((c) => c.nodes)) {
      const agent = node.agent;
      assert.ok(agent);
      const health = await waitFor(`${node.name} /healthz`, async () => {
        const response = await httpGetUnix(agent.socket, '/healthz').catch(() => undefined);
        return response?.status === 200 ? response : undefined;
      }, 20_000, 50);
      assert.equal(health.status, 200);
      const script = `const r = await fetch(${JSON.stringify(`${agent.healthUrl}/healthz`)}); process.stdout.write(String(r.status));`;
      const inNode = await run('ip', ['netns', 'exec', node.namespace, process.execPath, '--input-type=module', '-e', script]);
      assert.equal(inNode.stdout, '200');
      assert.ok(statSync(agent.log).size > 0, `${agent.log} is empty`);
    }
  });

  it('agents turn ready once their Node is Ready and the lab CNI is up', async () => {
    for (const node of lab.clusters.flatMap((c) => c.nodes)) {
      const agent = node.agent;
      assert.ok(agent);
      await waitFor(`${node.name} /readyz 200`, async () => {
        const response = await httpGetUnix(agent.socket, '/readyz').catch(() => undefined);
        return response?.status === 200 ? true : undefined;
      }, 30_000, 50);
    }
  });

  it('kills one agent (SIGKILL) and starts it again: a new process, recorded in the status, healthy', async () => {
    const node = lab.clusters[0]?.nodes[1];
    assert.ok(node?.agent);
    const old = node.agent.pid;
    await stopAgent(PREFIX, node.name, { signal: 'SIGKILL' });
    assert.equal(isAlive(old), false);
    assert.equal((await labStatus(PREFIX)).clusters[0]?.nodes[1]?.agent, undefined);
    const started = await startAgent(PREFIX, node.name, { env: { SEAWAY_LOG_LEVEL: 'debug' } });
    assert.notEqual(started.pid, old);
    assert.deepEqual((await labStatus(PREFIX)).clusters[0]?.nodes[1]?.agent, started);
    assert.ok((await readFile(`/proc/${started.pid}/environ`, 'latin1')).split('\0').includes('SEAWAY_LOG_LEVEL=debug'));
    await waitFor('restarted agent /healthz', async () => ((await httpGetUnix(started.socket, '/healthz').catch(() => undefined))?.status === 200 ? true : undefined), 20_000, 50);
    await assert.rejects(startAgent(PREFIX, 'cluster9-node9'), /has no node "cluster9-node9"/);
    lab = await labStatus(PREFIX);
  });

  it('down stops every agent', async () => {
    const pids = lab.clusters.flatMap((c) => c.nodes).map((n) => n.agent?.pid).filter((pid): pid is number => pid !== undefined);
    assert.equal(pids.length, 2);
    const report = await labDown(PREFIX);
    assert.ok(pids.every((pid) => report.processes.includes(pid) && !isAlive(pid)), `agents left: ${pids.filter(isAlive).join(' ')}`);
  });
});
