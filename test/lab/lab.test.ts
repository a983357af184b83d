/**
 * The lab for real: two labs side by side (one with zero delays, one whose CNI never comes),
 * real pings between pod namespaces, Node objects read through the root kubeconfig with the real
 * @kubernetes/client-node, the CLI's status document, crash clean-up and `down`.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { run } from '../../src/kernel/exec.ts';
import { requireTools } from '../helpers/prereq.ts';
import { isLabNamespace } from './addressing.ts';
import { httpGetUnix } from './http-unix.ts';
import { labDown, labStatus, labUp, waitForLab } from './lab.ts';
import { labPaths } from './paths.ts';
import { isAlive, waitFor } from './processes.ts';
import type { LabStatus } from './state.ts';
import { listNetns } from './topology.ts';

const CLI = fileURLToPath(new URL('./cli.ts', import.meta.url));
const suffix = randomBytes(2).toString('hex');
const A = `swba${suffix}`;
const B = `swbb${suffix}`;

async function rootLinks(): Promise<string[]> {
  const { stdout } = await run('ip', ['-o', 'link', 'show']);
  return stdout.split('\n').filter(Boolean).map((line) => line.split(':')[1]?.trim() ?? '').sort();
}

async function pings(namespace: string, ip: string, deadlineSeconds: number): Promise<boolean> {
  const result = await run('ip', ['netns', 'exec', namespace, 'ping', '-n', '-q', '-c', '1', '-w', String(deadlineSeconds), ip], { allowFailure: true });
  return result.code === 0;
}

function labPids(status: LabStatus): number[] {
  return [status.controller.pid, status.broker.pid, ...status.clusters.map((c) => c.apiserver.pid)].filter((pid): pid is number => pid !== null);
}

async function readyNodes(kubeconfigPath: string): Promise<k8s.V1Node[]> {
  const config = new k8s.KubeConfig();
  config.loadFromFile(kubeconfigPath);
  const list = await config.makeApiClient(k8s.CoreV1Api).listNode();
  return list.items.filter((node) => node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
}

describe('lab', () => {
  let a: LabStatus;
  let b: LabStatus;
  let linksBefore: string[] = [];
  let linksAfterUp: string[] = [];

  before(async () => {
    requireTools('ip', 'ping', 'iptables', 'sysctl', 'kubectl', 'openssl');
    linksBefore = await rootLinks();
    // No bound on how long this takes but the suite's --test-timeout, which catches a hang: speed
    // belongs in a benchmark, not in an assertion on a shared machine.
    [a, b] = await Promise.all([
      labUp({ prefix: A, agents: false, endpoints: false, nodeReadyDelay: 0, cniDelay: 0 }),
      labUp({ endpoints: true, prefix: B, agents: false, clusters: 1, nodes: 2, nodeReadyDelay: 1, cniDelay: null }),
    ]);
    linksAfterUp = await rootLinks();
  });

  after(async () => {
    // Always tear down, whatever failed; then prove nothing is left.
    await Promise.allSettled([labDown(A), labDown(B)]);
  });

  it('comes up with defaults, without attaching anything to the root namespace', () => {
    assert.equal(a.clusters.length, 2);
    assert.ok(a.clusters.every((c) => c.nodes.length === 3 && c.pods.length === 3));
    assert.deepEqual(linksAfterUp, linksBefore);
  });

  it('turns every Node Ready, read through the root kubeconfig with @kubernetes/client-node', async () => {
    for (const cluster of a.clusters) {
      const nodes = await waitFor(`${cluster.id} Nodes Ready`, async () => {
        const ready = await readyNodes(cluster.kubeconfig);
        return ready.length === cluster.nodes.length ? ready : undefined;
      }, 20_000, 100);
      for (const planned of cluster.nodes) {
        const node = nodes.find((n) => n.metadata?.name === planned.name);
        assert.ok(node, planned.name);
        assert.equal(node.spec?.podCIDR, planned.podCidr);
        assert.deepEqual(node.status?.addresses?.find((x) => x.type === 'InternalIP')?.address, planned.ip);
        assert.equal(node.metadata?.labels?.['submariner.io/gateway'], planned.gatewayCapable ? 'true' : undefined);
      }
    }
  });

  it('with zero delays, records Ready and then CNI for every node', async () => {
    const status = await waitForLab(A, { timeoutMs: 20_000 });
    for (const node of status.clusters.flatMap((c) => c.nodes)) {
      assert.ok(node.readyAt !== null && node.cniAt !== null, node.name);
      assert.ok(Date.parse(node.cniAt) >= Date.parse(node.readyAt), `${node.name}: CNI before Ready`);
      const { stdout } = await run('ip', ['-n', node.namespace, '-o', '-4', 'addr', 'show', 'dev', node.cniInterface]);
      assert.match(stdout, new RegExp(`inet ${node.cniIp.replaceAll('.', '\\.')}/24`), node.name);
      const nat = await run('ip', ['netns', 'exec', node.namespace, 'iptables', '-w', '-t', 'nat', '-S', 'POSTROUTING']);
      assert.ok(nat.stdout.includes(`-s ${status.clusters.find((c) => c.nodes.includes(node))?.podCidr}`) && nat.stdout.includes('MASQUERADE'), nat.stdout);
    }
  });

  it('pods of one cluster reach each other across nodes (ping)', async () => {
    await waitForLab(A, { timeoutMs: 20_000 });
    const attempts = a.clusters.flatMap((cluster) =>
      cluster.pods.flatMap((from) => cluster.pods.filter((to) => to !== from).map(async (to) => ({ from: from.name, to: to.name, ok: await pings(from.namespace, to.ip, 5) }))));
    const results = await Promise.all(attempts);
    assert.deepEqual(results.filter((r) => !r.ok), []);
    assert.equal(results.length, 12);
  });

  it('pods of different clusters do not reach each other', async () => {
    await waitForLab(A, { timeoutMs: 20_000 });
    const [c1, c2] = a.clusters as [LabStatus['clusters'][0], LabStatus['clusters'][0]];
    const pairs = [[c1.pods[0], c2.pods[0]], [c1.pods[1], c2.pods[2]], [c2.pods[1], c1.pods[0]]];
    const results = await Promise.all(pairs.map(async ([from, to]) => {
      assert.ok(from && to);
      return { from: from.name, to: to.name, reached: await pings(from.namespace, to.ip, 2) };
    }));
    assert.deepEqual(results.filter((r) => r.reached), []);
  });

  it('joins the gateway-capable nodes and the broker on the WAN, and only those', async () => {
    const [c1, c2] = a.clusters as [LabStatus['clusters'][0], LabStatus['clusters'][0]];
    const [g1, w1] = c1.nodes as [LabStatus['clusters'][0]['nodes'][0], LabStatus['clusters'][0]['nodes'][0]];
    const g2 = c2.nodes[0];
    assert.ok(g1.gatewayCapable && g2?.gatewayCapable && !w1.gatewayCapable && g2.wanIp);
    assert.equal(await pings(g1.namespace, g2.wanIp, 5), true, 'gateway to gateway over the WAN');
    assert.equal(await pings(g1.namespace, '198.18.0.1', 5), true, 'gateway to broker');
    assert.equal(await pings(w1.namespace, g2.wanIp, 1), false, 'a worker must not reach the WAN');
    const { stdout } = await run('ip', ['-n', w1.namespace, '-o', 'link', 'show']);
    assert.ok(!stdout.includes('eth1'), 'a worker has no WAN interface');
  });

  it('reaches the API servers from the nodes (agent kubeconfig URL) and through the socket (httpGetUnix)', async () => {
    const cluster = a.clusters[0];
    const node = cluster?.nodes[1];
    assert.ok(cluster && node);
    // As the agent asks: a list of Nodes narrowed to its own, with its service account's token (get is not granted).
    const tokenOf = async (file: string) => (JSON.parse(await readFile(file, 'utf8')) as { users: Array<{ user: { token: string } }> }).users[0]!.user.token;
    const list = `${cluster.apiserver.url}/api/v1/nodes?fieldSelector=metadata.name%3D${node.name}`;
    const fetchScript = (url: string, token: string | null) => `const r = await fetch(${JSON.stringify(url)}${token === null ? '' : `, { headers: { authorization: 'Bearer ${token}' } }`}); const b = await r.json(); process.stdout.write(String(r.status) + ' ' + (b.items?.map((i) => i.metadata.name).join(',') ?? b.reason));`;
    const inNodeNs = (script: string, options = {}) => run('ip', ['netns', 'exec', node.namespace, process.execPath, '--input-type=module', '-e', script], options);
    const agentToken = await tokenOf(cluster.agentKubeconfig);
    // Plain fetch trusts only the system's roots: it is given the lab CA, as an operator's client would be.
    const trusting = { env: { ...process.env, NODE_EXTRA_CA_CERTS: a.caCert } };
    const untrusting = await inNodeNs(fetchScript(list, agentToken), { allowFailure: true });
    assert.notEqual(untrusting.code, 0, 'a client that does not trust the lab CA is refused');
    assert.match(untrusting.stderr, /SELF_SIGNED_CERT_IN_CHAIN|self-signed certificate in certificate chain|unable to verify/i);
    assert.equal((await inNodeNs(fetchScript(list, agentToken), trusting)).stdout, `200 ${node.name}`);
    assert.equal((await inNodeNs(fetchScript(list, null), trusting)).stdout, '403 Forbidden', 'without a token: system:anonymous, refused');
    assert.equal((await inNodeNs(fetchScript(`${cluster.apiserver.url}/api/v1/namespaces/submariner-operator/secrets`, agentToken), trusting)).stdout, '403 Forbidden', 'what the route agent\'s RBAC does not grant');
    const gateway = a.clusters[1]?.nodes[0];
    assert.ok(gateway?.gatewayCapable);
    // A gateway node with its cluster's broker credentials: the broker's Endpoints are its to read, the broker's Secrets are not.
    const gatewayCluster = a.clusters[1];
    assert.ok(gatewayCluster);
    const brokerToken = await tokenOf(gatewayCluster.brokerKubeconfig);
    const inGatewayNs = (url: string, token: string) => run('ip', ['netns', 'exec', gateway.namespace, process.execPath, '--input-type=module', '-e', fetchScript(url, token)], trusting);
    const brokerNs = `${a.broker.url}/api/v1/namespaces/submariner-k8s-broker`;
    assert.match((await inGatewayNs(`${a.broker.url}/apis/submariner.io/v1/namespaces/submariner-k8s-broker/endpoints`, brokerToken)).stdout, /^200 /);
    assert.equal((await inGatewayNs(`${brokerNs}/secrets`, brokerToken)).stdout, '403 Forbidden');
    // The gateway's own token on its cluster: the Leases of the Submariner namespace, and not its Secrets.
    const gatewayToken = await tokenOf(gatewayCluster.gatewayKubeconfig);
    const submarinerNs = `${gatewayCluster.apiserver.url}/apis/coordination.k8s.io/v1/namespaces/submariner-operator/leases`;
    assert.match((await inGatewayNs(submarinerNs, gatewayToken)).stdout, /^200 /);
    assert.equal((await inGatewayNs(`${gatewayCluster.apiserver.url}/api/v1/namespaces/submariner-operator/secrets`, gatewayToken)).stdout, '403 Forbidden');
    // The KUBECONFIG the lab prints, as kubectl uses it: HTTPS through the loopback forwarder, verified with the lab CA.
    const nodes = await run('kubectl', ['--kubeconfig', cluster.kubeconfig, 'get', 'nodes', '-o', 'name'], { timeoutMs: 30_000 });
    assert.ok(nodes.stdout.split('\n').includes(`node/${node.name}`), nodes.stdout);
    const viaSocket = await httpGetUnix(cluster.apiserver.socket, `/api/v1/nodes/${node.name}`);
    assert.equal(viaSocket.status, 200);
    assert.equal((JSON.parse(viaSocket.body) as { metadata: { name: string } }).metadata.name, node.name);
  });

  it('`status --json` prints one document with the documented fields', async () => {
    const { stdout } = await run(process.execPath, [CLI, 'status', '--prefix', A, '--json']);
    const doc = JSON.parse(stdout) as LabStatus;
    assert.equal(doc.prefix, A);
    assert.equal(doc.controllerRunning, true);
    assert.equal(doc.broker.namespace, `${A}-broker`);
    assert.equal(doc.broker.url, 'https://198.18.0.1:6443');
    for (const cluster of doc.clusters) {
      for (const key of ['id', 'podCidr', 'serviceCidr', 'kubeconfig', 'agentKubeconfig', 'gatewayKubeconfig', 'brokerKubeconfig'] as const) assert.equal(typeof cluster[key], 'string', key);
      for (const file of [cluster.kubeconfig, cluster.agentKubeconfig, cluster.gatewayKubeconfig, cluster.brokerKubeconfig]) assert.ok(existsSync(file), file);
      assert.equal(cluster.apiserver.namespace, `${A}-c${cluster.id.slice('cluster'.length)}-cp`);
      assert.match(cluster.apiserver.url, /^https:\/\/192\.168\.\d+\.1:6443$/);
      assert.match(cluster.apiserver.localUrl ?? '', /^https:\/\/127\.0\.0\.1:\d+$/);
      for (const node of cluster.nodes) {
        for (const key of ['name', 'namespace', 'ip', 'podCidr'] as const) assert.equal(typeof node[key], 'string', key);
        assert.equal(typeof node.gatewayCapable, 'boolean');
        assert.ok('readyAt' in node && 'cniAt' in node);
        assert.equal(node.agent, undefined, 'agents were disabled');
      }
      for (const pod of cluster.pods) {
        for (const key of ['name', 'namespace', 'ip', 'node'] as const) assert.equal(typeof pod[key], 'string', key);
      }
    }
    const text = await run(process.execPath, [CLI, 'status', '--prefix', A]);
    assert.match(text.stdout, new RegExp(`lab ${A} `));
    assert.match(text.stdout, /cluster1-node2 .* Ready \+/);
  });

  it('runs a second lab side by side: its Nodes turn Ready after the delay, its CNI never comes', async () => {
    assert.equal(b.prefix, B, 'labUp answers with the status of the lab it started');
    const status = await waitForLab(B, { cni: false, timeoutMs: 20_000 });
    const [cluster] = status.clusters;
    assert.ok(cluster);
    const ready = await readyNodes(cluster.kubeconfig);
    assert.deepEqual(ready.map((n) => n.metadata?.name).sort(), ['cluster1-node1', 'cluster1-node2']);
    for (const node of cluster.nodes) {
      assert.ok(node.readyAt !== null && Date.parse(node.readyAt) - Date.parse(status.createdAt) >= 1000, `${node.name} Ready before its 1 s delay`);
      assert.equal(node.cniAt, null);
      const links = await run('ip', ['-n', node.namespace, '-o', 'link', 'show']);
      assert.ok(!links.stdout.includes(node.cniInterface), `${node.name} has a CNI interface`);
    }
    // Same addresses in both labs, separate namespaces: A's first cluster still has its own three Nodes.
    assert.equal((await readyNodes(a.clusters[0]?.kubeconfig ?? '')).length, 3);
    assert.notEqual(cluster.apiserver.localUrl, a.clusters[0]?.apiserver.localUrl);
  });

  it('cleans up after a crashed run (no state, pid files or controller left): the next up, then down', async () => {
    const paths = labPaths(B);
    const crashed = await labStatus(B);
    process.kill(crashed.controller.pid, 'SIGKILL');
    await waitFor('the killed controller to be gone', async () => (isAlive(crashed.controller.pid) ? undefined : true), 5000);
    assert.equal((await labStatus(B)).controllerRunning, false);
    // Waiting for a lab whose controller is gone fails at once (not at the bound: no "timed out"), saying what was still awaited.
    await assert.rejects(waitForLab(B, { cni: true, timeoutMs: 60_000 }), (error: Error) => {
      assert.doesNotMatch(error.message, /timed out/);
      assert.match(error.message, /its controller \(pid \d+\) is not running/);
      assert.match(error.message, /not Ready: none; CNI not up: cluster1-node1, cluster1-node2/);
      assert.match(error.message, /the last lines of its log:\n.*cluster1-node2: Ready/s);
      return true;
    });
    await rm(paths.dir, { recursive: true, force: true });
    // The API servers (in B's namespaces) survived the crash; up must clear them first.
    assert.ok(crashed.clusters.every((c) => c.apiserver.pid !== null && isAlive(c.apiserver.pid)));
    const again = await labUp({ endpoints: true, prefix: B, agents: false, clusters: 1, nodes: 1, nodeReadyDelay: 0, cniDelay: 0, wait: true });
    assert.ok(labPids(crashed).every((pid) => !isAlive(pid)), 'processes of the crashed run are gone');
    assert.equal(again.clusters[0]?.nodes.length, 1);
    assert.ok(again.clusters[0]?.nodes[0]?.cniAt);
    // Crash again, now also losing every file: down finds the processes by namespace and by marker.
    await rm(paths.dir, { recursive: true, force: true });
    const report = await labDown(B);
    assert.ok(labPids(again).every((pid) => report.processes.includes(pid) && !isAlive(pid)), `down killed ${report.processes.join(' ')}`);
    assert.deepEqual((await listNetns()).filter((name) => name.startsWith(`${B}-`)), []);
  });

  it('a node whose CNI fails (it is not retried): waiting for the lab fails at once with the controller\'s error', async () => {
    try {
      // The CNI comes 10 s after Ready: time enough to put the clashing interface there first on a loaded machine.
      const status = await labUp({ endpoints: true, prefix: B, agents: false, clusters: 1, nodes: 1, nodeReadyDelay: 0, cniDelay: 10 });
      const node = status.clusters[0]!.nodes[0]!;
      // Another interface of the CNI's name, made before the CNI comes: its `link add` fails.
      await run('ip', ['-n', node.namespace, 'link', 'add', node.cniInterface, 'type', 'bridge']);
      await assert.rejects(waitForLab(B, { timeoutMs: 60_000 }), (error: Error) => {
        assert.doesNotMatch(error.message, /timed out/);
        assert.match(error.message, /a node's CNI failed, and it is not retried/);
        assert.match(error.message, /CNI not up: cluster1-node1/);
        assert.match(error.message, /CNI on cluster1-node1: .*File exists/);
        return true;
      });
    } finally {
      await labDown(B);
    }
  });

  it('`down` removes every namespace, process and file of the lab and is idempotent', async () => {
    const before = await labStatus(A);
    const { stdout } = await run(process.execPath, [CLI, 'down', '--prefix', A]);
    assert.match(stdout, /removed 18 namespace\(s\)/);
    assert.deepEqual((await listNetns()).filter((name) => name.startsWith(`${A}-`) || isLabNamespace(A, name)), []);
    assert.ok(labPids(before).every((pid) => !isAlive(pid)), 'a lab process survived down');
    assert.equal(existsSync(labPaths(A).dir), false);
    const second = await labDown(A);
    assert.deepEqual(second, { namespaces: [], processes: [] });
    await assert.rejects(labStatus(A), /no lab with prefix/);
  });
});
