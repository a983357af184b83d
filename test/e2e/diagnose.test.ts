/**
 * `seaway diagnose` on the lab: two clusters joined by seaway's gateways (IPsec over the WAN), one
 * gateway and one other node each. Diagnose runs inside a node's namespace as `kubectl exec` into
 * the route agent's pod would run it (the route agent's service account, its listen address and
 * local sockets), and:
 * - on a healthy lab exits 0 on every node, having probed for real (NAT discovery, IKE, the tunnel
 *   and its MTU from the gateways; VXLAN to the gateway from the others);
 * - with `--all` from one node gives every node of its cluster's findings, through each route
 *   agent's /diagnose;
 * - with UDP 4500 dropped on the WAN names the remote gateway's 4500 and exits 1;
 * - with a second, stale Endpoint for the other cluster names it with its kubectl delete and exits 1;
 * - with leftovers of an earlier install planted on a node names them and exits 1.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { run } from '../../src/kernel/exec.ts';
import { httpGet } from '../../src/kernel/http-get.ts';
import type { Finding } from '../../src/model/diagnose-finding.ts';
import { labDown, labStatus, labUp, startAgent } from '../lab/lab.ts';
import type { ClusterStatus, LabStatus, NodeStatus } from '../lab/state.ts';
import { requireTools } from '../helpers/prereq.ts';
import { waitFor } from '../helpers/wait.ts';

const PREFIX = 'swdiag';
const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
const NS = 'submariner-operator';
const RECOVERY_MS = 90_000;
const GATEWAY_ENV = { SEAWAY_LEASE_DURATION_SECONDS: '4', SEAWAY_LEASE_RETRY_MS: '500', SEAWAY_HEALTH_CHECK_INTERVAL_MS: '200' };

interface Diagnosis { code: number; findings: Finding[]; stderr: string }

const portOf = (url: string) => new URL(url).port;
const errorsOf = (d: Diagnosis) => d.findings.filter((f) => f.severity === 'error');
const show = (d: Diagnosis) => `exit ${d.code}; errors: ${JSON.stringify(errorsOf(d), null, 2)}${d.stderr ? `\nstderr: ${d.stderr}` : ''}`;

describe('seaway diagnose on a lab of two clusters joined by seaway gateways', () => {
  let lab: LabStatus;
  let c1: ClusterStatus;
  let c2: ClusterStatus;
  /** The gateways' HTTP port in this lab (every gateway has the same). */
  let gatewayPort: string;

  /** `seaway diagnose` inside the node, configured as the route agent's pod is (its env, its credentials, its sockets). */
  async function diagnose(cluster: ClusterStatus, node: NodeStatus, extra: string[] = []): Promise<Diagnosis> {
    if (!node.agent) throw new Error(`${node.name} runs no route agent`);
    const agentUrl = new URL(node.agent.healthUrl);
    const args = [
      MAIN, 'diagnose', '--json', '--listen', `${agentUrl.hostname}:${agentUrl.port}`, '--status-socket', node.agent.socket,
      '--gateway-listen', `${node.ip}:${gatewayPort}`, '--gateway-status-socket', node.gateway?.socket ?? `${lab.dir}/no-gateway-here.sock`, ...extra,
    ];
    const env = {
      ...process.env, NODE_NAME: node.name, SUBMARINER_CLUSTERID: cluster.id, SUBMARINER_NAMESPACE: NS,
      SUBMARINER_CLUSTERCIDR: cluster.podCidr, SUBMARINER_SERVICECIDR: cluster.serviceCidr, KUBECONFIG: cluster.agentKubeconfig,
    };
    const result = await run('ip', ['netns', 'exec', node.namespace, process.execPath, ...args], { env, allowFailure: true, timeoutMs: 180_000 });
    let findings: Finding[];
    try {
      findings = JSON.parse(result.stdout) as Finding[];
    } catch {
      throw new Error(`diagnose printed no JSON (exit ${result.code}): ${result.stdout}${result.stderr}`);
    }
    return { code: result.code, findings, stderr: result.stderr };
  }

  const gatewayOf = (cluster: ClusterStatus) => cluster.nodes.find((n) => n.gatewayCapable)!;
  const workerOf = (cluster: ClusterStatus) => cluster.nodes.find((n) => !n.gatewayCapable)!;
  const custom = (cluster: ClusterStatus) => {
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfig);
    return kc.makeApiClient(CustomObjectsApi);
  };

  /** Every agent and gateway ready, and each cluster's active gateway connected to the other cluster. */
  async function healthy(): Promise<void> {
    const nodes = (await labStatus(PREFIX)).clusters.flatMap((c) => c.nodes);
    for (const node of nodes) {
      for (const agent of [node.agent, node.gateway]) {
        if (!agent) continue;
        await waitFor(`${node.name}: ${agent.socket} ready`, async () => (await httpGet({ socketPath: agent.socket, path: '/readyz', timeoutMs: 2000 })).status === 200, { timeoutMs: RECOVERY_MS, intervalMs: 250 });
      }
    }
    type GatewayList = { items: Array<{ metadata?: { name?: string }; status?: { haStatus?: string; connections?: Array<{ status: string; statusMessage?: string }> } }> };
    const gatewaysOf = async (cluster: ClusterStatus) => (await custom(cluster).listNamespacedCustomObject({ group: 'submariner.io', version: 'v1', namespace: NS, plural: 'gateways' })) as GatewayList;
    for (const cluster of [c1, c2]) {
      await waitFor(`${cluster.id}: the active gateway connected`, async () => {
        const active = (await gatewaysOf(cluster)).items.filter((g) => g.status?.haStatus === 'active');
        return active.length === 1 && active[0]!.status?.connections?.length === 1 && active[0]!.status.connections[0]!.status === 'connected';
      }, { timeoutMs: RECOVERY_MS, intervalMs: 250 }).catch(async (error: Error) => {
        // What to look at when a tunnel does not come back (once, in CI, after UDP 4500 was dropped): both
        // clusters' Gateway statuses and the end of each gateway's log.
        const told: string[] = [error.message];
        for (const each of [c1, c2]) {
          told.push(`--- ${each.id} Gateways: ${JSON.stringify((await gatewaysOf(each).catch(() => ({ items: [] }))).items.map((g) => ({ name: g.metadata?.name, ...g.status })))}`);
          for (const node of each.nodes) {
            if (!node.gateway) continue;
            const log = await readFile(node.gateway.log, 'utf8').catch((e: Error) => `(unreadable: ${e.message})`);
            told.push(`--- ${node.name} gateway log, last 40 lines:\n${log.split('\n').slice(-41).join('\n')}`);
          }
        }
        throw new Error(told.join('\n'));
      });
    }
  }

  before(async () => {
    requireTools('ip', 'iptables', 'iptables-legacy', 'ping', 'nft', 'charon-systemd');
    lab = await labUp({ prefix: PREFIX, clusters: 2, nodes: 2, gateways: 1, podsPerNode: 1, nodeReadyDelay: 0, cniDelay: 0, wait: true, gatewayEnv: GATEWAY_ENV });
    [c1, c2] = lab.clusters as [ClusterStatus, ClusterStatus];
    gatewayPort = portOf(gatewayOf(c1).gateway!.healthUrl);
    await healthy();
  });

  after(async () => {
    await labDown(PREFIX);
  });

  it('on a healthy lab every node exits 0, having probed for real', async () => {
    for (const cluster of [c1, c2]) {
      const gateway = await diagnose(cluster, gatewayOf(cluster));
      assert.equal(gateway.code, 0, `${gatewayOf(cluster).name}: ${show(gateway)}`);
      const other = cluster === c1 ? c2 : c1;
      const ok = (id: string, target: RegExp) => gateway.findings.some((f) => f.id === id && f.severity === 'ok' && target.test(f.target));
      const publicIp = gatewayOf(other).publicIp!;
      assert.ok(ok('udp-4490', new RegExp(`public ${publicIp}:4490`)), `NAT discovery answered at ${other.id}'s public IP: ${JSON.stringify(gateway.findings)}`);
      assert.ok(ok('udp-4500', new RegExp(`public ${publicIp}:4500`)), 'IKE answered on 4500');
      assert.match(gateway.findings.find((f) => f.id === 'udp-4500' && f.target.includes(publicIp))!.found, /NO_PROPOSAL_CHOSEN/);
      assert.ok(ok('tunnel', /healthCheckIP/) && ok('mtu', /healthCheckIP/), 'the tunnel and its MTU');
      assert.ok(ok('http-gateway', /gateway http/) && ok('http-route-agent', /route agent http/), 'both agents\' HTTP ports');

      const worker = await diagnose(cluster, workerOf(cluster));
      assert.equal(worker.code, 0, `${workerOf(cluster).name}: ${show(worker)}`);
      assert.ok(worker.findings.some((f) => f.id === 'udp-4800' && f.severity === 'ok' && /replied/.test(f.found)), `VXLAN to the gateway: ${JSON.stringify(worker.findings)}`);
      for (const id of ['endpoints', 'cni-interface', 'iptables-backend', 'leftovers']) assert.ok(worker.findings.some((f) => f.id === id && f.severity === 'ok'), id);
    }
  });

  it('--all gives every node\'s findings, each route agent diagnosing its own node', async () => {
    // The lab's gateways listen on a port of their own: the route agents are told, as a DaemonSet would set SEAWAY_GATEWAY_LISTEN.
    for (const node of c1.nodes) await startAgent(PREFIX, node.name, { env: { SEAWAY_GATEWAY_LISTEN: `:${gatewayPort}` } });
    lab = await labStatus(PREFIX);
    [c1, c2] = lab.clusters as [ClusterStatus, ClusterStatus];
    await healthy();
    const all = await diagnose(c1, workerOf(c1), ['--all']);
    assert.equal(all.code, 0, show(all));
    for (const node of c1.nodes) {
      const mine = all.findings.filter((f) => f.node === node.name);
      for (const id of ['cni-interface', 'leftovers', 'endpoints', 'http-route-agent']) assert.ok(mine.some((f) => f.id === id && f.severity === 'ok'), `${node.name} ${id}: ${JSON.stringify(mine)}`);
    }
    assert.ok(all.findings.some((f) => f.node === gatewayOf(c1).name && f.id === 'udp-4500' && f.severity === 'ok'), 'the gateway node probed the remote gateway');
    assert.ok(all.findings.some((f) => f.node === workerOf(c1).name && f.id === 'udp-4800' && f.severity === 'ok'), 'the other node probed VXLAN');
    assert.deepEqual(new Set(all.findings.map((f) => f.node)), new Set(c1.nodes.map((n) => n.name)));
  });

  it('with UDP 4500 dropped between the gateways it names the remote gateway\'s 4500 and exits 1', async () => {
    await run('ip', ['netns', 'exec', lab.wan.namespace, 'nft', '-f', '-'], {
      input: 'table bridge seaway_diag_drop {\n chain forward {\n  type filter hook forward priority 0;\n  udp dport 4500 drop\n  udp sport 4500 drop\n }\n}\n',
    });
    let dropped: Diagnosis;
    try {
      dropped = await diagnose(c1, gatewayOf(c1));
    } finally {
      await run('ip', ['netns', 'exec', lab.wan.namespace, 'nft', 'delete', 'table', 'bridge', 'seaway_diag_drop']);
    }
    assert.equal(dropped.code, 1, show(dropped));
    const publicIp = gatewayOf(c2).publicIp!;
    const ike = dropped.findings.find((f) => f.id === 'udp-4500' && f.target.includes(`${publicIp}:4500`));
    assert.equal(ike?.severity, 'error', show(dropped));
    assert.match(ike!.found, /no answer to 3 send\(s\)/);
    assert.match(ike!.fix ?? '', /allow UDP 4500/);
    // NAT discovery on 4490 still answers: the finding tells the two ports apart.
    assert.equal(dropped.findings.find((f) => f.id === 'udp-4490' && f.target.includes(publicIp))?.severity, 'ok');
    await healthy();
  });

  it('with a second, stale Endpoint for the other cluster it names the object and its kubectl delete, and exits 1', async () => {
    const name = 'cluster2-submariner-cable-cluster2-198-18-2-99';
    await custom(c1).createNamespacedCustomObject({
      group: 'submariner.io', version: 'v1', namespace: NS, plural: 'endpoints',
      body: {
        apiVersion: 'submariner.io/v1', kind: 'Endpoint', metadata: { name, namespace: NS },
        spec: {
          cluster_id: c2.id, cable_name: 'submariner-cable-cluster2-198-18-2-99', hostname: 'reinstalled-away', subnets: [c2.podCidr, c2.serviceCidr],
          private_ip: '198.18.2.99', public_ip: '198.18.2.99', nat_enabled: false, backend: 'libreswan', backend_config: { 'udp-port': '4500' },
        },
      },
    });
    try {
      const stale = await diagnose(c1, workerOf(c1));
      assert.equal(stale.code, 1, show(stale));
      const named = stale.findings.find((f) => f.id === 'endpoints' && f.target === `Endpoint ${NS}/${name}`);
      assert.equal(named?.severity, 'error', show(stale));
      assert.match(named!.found, /2 Endpoints for cluster cluster2; this one is stale/);
      assert.equal(named!.fix, `kubectl delete endpoints.submariner.io -n ${NS} ${name}`);
    } finally {
      await custom(c1).deleteNamespacedCustomObject({ group: 'submariner.io', version: 'v1', namespace: NS, plural: 'endpoints', name });
    }
  });

  it('with leftovers of an earlier install planted on a node it names each and exits 1', async () => {
    await healthy();
    const node = workerOf(c1);
    const ip = (...args: string[]) => run('ip', ['-n', node.namespace, ...args]);
    // Submariner's gateway-side leftovers on a node that is no gateway: its VXLAN cable's device and table 100, an XFRM policy of libreswan.
    await ip('link', 'add', 'vxlan-tunnel', 'type', 'vxlan', 'id', '1000', 'dstport', '4500', 'local', node.ip, 'dev', 'eth0');
    await ip('rule', 'add', 'pref', '100', 'lookup', '100');
    await ip('route', 'add', c2.podCidr, 'dev', 'eth0', 'table', '100');
    await ip('xfrm', 'policy', 'add', 'src', c1.podCidr, 'dst', c2.podCidr, 'dir', 'out', 'tmpl', 'src', node.ip, 'dst', '198.18.2.1', 'proto', 'esp', 'mode', 'tunnel');
    try {
      const planted = await diagnose(c1, node);
      assert.equal(planted.code, 1, show(planted));
      const leftover = (target: string) => planted.findings.find((f) => f.id === 'leftovers' && f.target === target);
      assert.equal(leftover('cable state')?.severity, 'error', show(planted));
      assert.match(leftover('cable state')!.found, /link vxlan-tunnel \(vxlan\)/);
      assert.match(leftover('cable state')!.fix ?? '', /ip link del vxlan-tunnel/);
      assert.equal(leftover('table 100')?.fix, 'ip rule del pref 100 lookup 100; ip route flush table 100');
      assert.equal(leftover('XFRM policies')?.severity, 'warning');
    } finally {
      await ip('link', 'del', 'vxlan-tunnel');
      await ip('rule', 'del', 'pref', '100');
      await ip('route', 'flush', 'table', '100');
      await ip('xfrm', 'policy', 'flush');
    }
    const clean = await diagnose(c1, node);
    assert.equal(clean.code, 0, `clean again once removed: ${show(clean)}`);
  });
});
