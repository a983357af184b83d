/**
 * One verdict per Endpoint on every node (issue 9 item 4), in the lab: a cluster of a gateway and two
 * workers, the second worker with interfaces the others lack (a bridge on 172.17.0.0/16). Endpoints and
 * Cluster objects are created through the real client; `ip monitor route` runs in every node for the
 * whole file, so a route that appears even for a moment is seen. The agents learn the API server's
 * address from KUBERNETES_SERVICE_HOST (set to the lab API server, as kube-proxy-free clusters do).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { run } from '../../src/kernel/exec.ts';
import { requireTools } from '../helpers/prereq.ts';
import { waitFor } from '../helpers/wait.ts';
import { labDown, labUp } from '../lab/lab.ts';
import { planLab } from '../lab/addressing.ts';
import { SUBMARINER_NAMESPACE } from '../lab/agents.ts';
import type { ClusterStatus, LabStatus, NodeStatus } from '../lab/state.ts';
import { agentLog, agentMetrics, metricValue, nodeRouting, readyAgents, remoteSpec, submarinerApi, vtep, type NodeRouting } from './routing-support.ts';

const PREFIX = `swv${randomBytes(2).toString('hex')}`;
const LAB = { endpoints: true, prefix: PREFIX, clusters: 1, nodes: 3, gateways: 1, podsPerNode: 0, nodeReadyDelay: 0, cniDelay: 0 };
const API_SERVER_IP = planLab(LAB).clusters[0]!.controlPlane.ip;
const GOOD = '172.20.0.0/16';
/** Only the second worker has it. */
const BRIDGE = { name: 'swvbr0', address: '172.17.0.1/16' };

/** `ip` prints 0.0.0.0/0 as "default" and a host route without its /32 (/128). */
const prefixOf = (line: string) => {
  const first = line.split(' ')[0] ?? '';
  if (first === 'default') return '0.0.0.0/0';
  return first.includes('/') ? first : `${first}/${first.includes(':') ? 128 : 32}`;
};

/** Every route and link change in a namespace, for the whole file. */
function monitor(namespace: string): { lines: () => string[]; stop: () => Promise<void> } {
  const child: ChildProcess = spawn('ip', ['-n', namespace, 'monitor', 'route', 'link'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => { text += chunk.toString('utf8'); });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return { lines: () => text.split('\n').filter(Boolean), async stop() { child.kill('SIGTERM'); await exited; } };
}

const routed = (r: NodeRouting) => [...r.main, ...r.table150].map(prefixOf);

describe('one verdict per Endpoint on every node (issue 9 item 4)', () => {
  let lab: LabStatus;
  let cluster: ClusterStatus;
  let gateway: NodeStatus;
  let worker: NodeStatus;
  let oddWorker: NodeStatus;
  let api: ReturnType<typeof submarinerApi>;
  let custom: CustomObjectsApi;
  const monitors = new Map<string, ReturnType<typeof monitor>>();

  const createCluster = async (id: string, cidrs: string[]) => custom.createNamespacedCustomObject({
    group: 'submariner.io', version: 'v1', namespace: SUBMARINER_NAMESPACE, plural: 'clusters',
    body: { apiVersion: 'submariner.io/v1', kind: 'Cluster', metadata: { name: id }, spec: { cluster_id: id, color_codes: ['blue'], cluster_cidr: cidrs, service_cidr: [], global_cidr: [] } },
  }) as Promise<{ metadata: { creationTimestamp: string } }>;

  /** Every node counts `count` rejections for `reason` and has logged each of `names` once, with one message shared by all nodes. */
  const rejectedEverywhere = async (reason: string, count: number, names: string[]) => {
    await Promise.all(cluster.nodes.map((node) => waitFor(`${node.name}: seaway_rejected_endpoints{reason="${reason}"} ${count}`, async () =>
      metricValue(await agentMetrics(node), `seaway_rejected_endpoints{reason="${reason}"}`) === count, { timeoutMs: 15_000 })));
    for (const name of names) {
      const messages: string[] = [];
      for (const node of cluster.nodes) {
        // The log reaches its file a moment after the metric changes (pino writes asynchronously).
        const lines = await waitFor(`${node.name}: ${name} logged`, async () => {
          const found = (await agentLog(node)).filter((l) => l.msg === 'Endpoint rejected' && l.endpoint === `${SUBMARINER_NAMESPACE}/${name}`);
          return found.length > 0 ? found : undefined;
        }, { timeoutMs: 10_000 });
        assert.equal(lines.length, 1, `${node.name}: ${name} logged ${lines.length} times`);
        assert.equal(lines[0]?.reason, reason, `${node.name}: ${name}`);
        messages.push(String(lines[0]?.message));
      }
      assert.deepEqual(messages, [messages[0], messages[0], messages[0]], `${name}: the same verdict, word for word, on every node`);
    }
  };

  /** One Event per rejected Endpoint, from the gateway, whatever the number of nodes. */
  const oneEventEach = async (reason: string, names: string[]) => {
    const core = api.kubeConfig.makeApiClient(CoreV1Api);
    for (const name of names) {
      const events = await waitFor(`an Event on ${name}`, async () => {
        const found = (await core.listNamespacedEvent({ namespace: SUBMARINER_NAMESPACE, fieldSelector: `involvedObject.name=${name}` })).items;
        return found.length > 0 ? found : undefined;
      }, { timeoutMs: 10_000 });
      assert.deepEqual(events.map((e) => [e.reportingInstance, e.reason]), [[gateway.name, 'EndpointRejected']], name);
      assert.ok(events[0]?.message?.startsWith(`${reason}: `), events[0]?.message);
    }
  };

  before(async () => {
    requireTools('ip', 'iptables', 'sysctl', 'bridge');
    lab = await labUp({ ...LAB, wait: true, agentEnv: { SEAWAY_LOG_LEVEL: 'debug', KUBERNETES_SERVICE_HOST: API_SERVER_IP } });
    cluster = lab.clusters[0] as ClusterStatus;
    [gateway, worker, oddWorker] = cluster.nodes as [NodeStatus, NodeStatus, NodeStatus];
    await run('ip', ['-n', oddWorker.namespace, 'link', 'add', BRIDGE.name, 'type', 'bridge']);
    await run('ip', ['-n', oddWorker.namespace, 'addr', 'add', BRIDGE.address, 'dev', BRIDGE.name]);
    await run('ip', ['-n', oddWorker.namespace, 'link', 'set', BRIDGE.name, 'up']);
    for (const node of cluster.nodes) monitors.set(node.name, monitor(node.namespace));
    await readyAgents(lab);
    api = submarinerApi(cluster);
    custom = api.kubeConfig.makeApiClient(CustomObjectsApi);
    // A joined remote cluster, as the broker sync leaves it: its Cluster object and its Endpoint.
    await createCluster('west', [GOOD]);
    await api.create('west-submariner-cable-west-198-51-100-1', remoteSpec('west', [GOOD]));
    await Promise.all(cluster.nodes.map((node) => waitFor(`${node.name}: ${GOOD} routed`, async () => routed(await nodeRouting(node.namespace)).includes(GOOD), { timeoutMs: 15_000 })));
  });

  after(async () => {
    await Promise.all([...monitors.values()].map((m) => m.stop()));
    await labDown(PREFIX);
  });

  it('spoofed local Endpoints change nothing on any node and are rejected with a reason', async () => {
    const beforeSpoof = await Promise.all(cluster.nodes.map((node) => nodeRouting(node.namespace)));
    const monitored = new Map([...monitors].map(([name, m]) => [name, m.lines().length]));
    // Newer than the real one, the local cluster_id, a hostname that is no Node, a foreign private_ip.
    await api.create('spoof-nobody', remoteSpec(cluster.id, [cluster.podCidr], { hostname: 'nobody', private_ip: '203.0.113.66', public_ip: '203.0.113.67' }));
    // A real worker, with its own address, but without the gateway label.
    await api.create('spoof-worker', remoteSpec(cluster.id, [cluster.podCidr], { hostname: worker.name, private_ip: worker.ip, public_ip: '203.0.113.68' }));
    await rejectedEverywhere('untrusted-local-endpoint', 2, ['spoof-nobody', 'spoof-worker']);
    const log = await agentLog(worker);
    const message = (name: string) => String(log.find((l) => l.msg === 'Endpoint rejected' && l.endpoint === `${SUBMARINER_NAMESPACE}/${name}`)?.message);
    assert.match(message('spoof-nobody'), /hostname "nobody" names no Node of this cluster/);
    assert.match(message('spoof-worker'), new RegExp(`Node ${worker.name} does not carry the label submariner.io/gateway=true`));
    await oneEventEach('untrusted-local-endpoint', ['spoof-nobody', 'spoof-worker']);

    const afterSpoof = await Promise.all(cluster.nodes.map((node) => nodeRouting(node.namespace)));
    assert.deepEqual(afterSpoof, beforeSpoof, 'every node programs exactly what it did before');
    for (const [i, node] of cluster.nodes.entries()) {
      assert.equal(afterSpoof[i]!.vxlan?.remote ?? null, node === gateway ? null : gateway.ip, `${node.name}: VXLAN still goes to the real gateway`);
      const changes = monitors.get(node.name)!.lines().slice(monitored.get(node.name));
      // The kernel's own IPv6 link-local address on vx-submariner, done with its DAD, is nobody's change.
      assert.deepEqual(changes.filter((l) => /vx-submariner|203\.0\.113|240\./.test(l) && !/ fe80::/.test(l)), [], `${node.name}: no route or VXLAN change while the spoofs exist`);
    }
    assert.ok(afterSpoof[1]!.main.some((r) => r === `${GOOD} via ${vtep(gateway.ip)} dev vx-submariner`));
    await api.remove('spoof-nobody');
    await api.remove('spoof-worker');
  });

  it('a remote subnet covering a Node address, an Endpoint IP or the API server is rejected alike on nodes whose interfaces differ', async () => {
    const cases: Array<{ name: string; cluster: string; prefixes: string[]; reason: string }> = [
      { name: 'cover-node', cluster: 'north', prefixes: ['10.70.0.0/16', '192.168.1.8/29'], reason: 'covers-node-address' },
      { name: 'cover-local-public', cluster: 'south', prefixes: ['10.71.0.0/16', '198.18.1.0/24'], reason: 'covers-endpoint-address' },
      { name: 'cover-own-ip', cluster: 'east2', prefixes: ['10.72.0.0/16', '172.31.255.0/24'], reason: 'covers-endpoint-address' },
      { name: 'cover-api', cluster: 'api', prefixes: ['10.73.0.0/16', `${API_SERVER_IP}/32`], reason: 'covers-api-server' },
    ];
    for (const c of cases) await api.create(c.name, remoteSpec(c.cluster, c.prefixes));
    // A subnet only the odd worker's bridge collides with: accepted by every node, refused by that one alone.
    await api.create('local-only', remoteSpec('localonly', ['10.74.0.0/16', '172.17.0.0/16']));

    await rejectedEverywhere('covers-node-address', 1, ['cover-node']);
    await rejectedEverywhere('covers-endpoint-address', 2, ['cover-local-public', 'cover-own-ip']);
    await rejectedEverywhere('covers-api-server', 1, ['cover-api']);
    const log = await agentLog(oddWorker);
    const message = (name: string) => String(log.find((l) => l.msg === 'Endpoint rejected' && l.endpoint === `${SUBMARINER_NAMESPACE}/${name}`)?.message);
    assert.match(message('cover-node'), /subnet 192.168.1.8\/29 contains 192.168.1.11, an address of Node/);
    assert.match(message('cover-local-public'), /contains 198.18.1.1, the public IP of the local Endpoint/);
    assert.match(message('cover-own-ip'), /contains the Endpoint's own private IP 172.31.255.1/);
    assert.match(message('cover-api'), new RegExp(`contains ${API_SERVER_IP.replaceAll('.', '\\.')}, the API server address`));
    for (const reason of ['covers-node-address', 'covers-endpoint-address', 'covers-api-server']) {
      await oneEventEach(reason, cases.filter((c) => c.reason === reason).map((c) => c.name));
    }

    await Promise.all(cluster.nodes.map((node) => waitFor(`${node.name}: 10.74.0.0/16 routed`, async () => routed(await nodeRouting(node.namespace)).includes('10.74.0.0/16'), { timeoutMs: 15_000 })));
    const rejectedPrefixes = new Set(cases.flatMap((c) => c.prefixes));
    for (const node of cluster.nodes) {
      const now = routed(await nodeRouting(node.namespace));
      assert.deepEqual(now.filter((p) => rejectedPrefixes.has(p)), [], `${node.name} routes a rejected prefix`);
      assert.equal(now.includes('172.17.0.0/16'), node !== oddWorker, `${node.name}: 172.17.0.0/16 routed only where no interface of the node holds it`);
      const refused = metricValue(await agentMetrics(node), 'seaway_refused_routes{reason="overlaps-node-network"}') ?? 0;
      assert.equal(refused, node === oddWorker ? 1 : 0, `${node.name}: only the node holding 172.17.0.0/16 refuses it, and rejects nothing for it`);
    }
  });

  it('a dual-stack Endpoint programs its IPv4 subnets, and Globalnet\'s 242.0.0.0/8 is accepted', async () => {
    await api.create('dual', remoteSpec('dual', ['10.75.0.0/16', 'fd00:75::/64'], {
      private_ip: '172.31.254.1', privateIPs: ['172.31.254.1', 'fd00:75::1'], public_ip: 'fd00:75::2', publicIPs: ['fd00:75::2', '198.51.100.75'],
      healthCheckIP: 'fd00:75::3', healthCheckIPs: ['10.75.0.1', 'fd00:75::3'],
    }));
    await api.create('globalnet', remoteSpec('globalnet', ['242.0.0.0/8'], { private_ip: '172.31.253.1', public_ip: '198.51.100.76' }));
    await Promise.all(cluster.nodes.map((node) => waitFor(`${node.name}: 10.75.0.0/16 and 242.0.0.0/8 routed`, async () => {
      const now = routed(await nodeRouting(node.namespace));
      return now.includes('10.75.0.0/16') && now.includes('242.0.0.0/8');
    }, { timeoutMs: 15_000 })));
    for (const node of cluster.nodes) {
      const log = await waitFor(`${node.name}: the skipped IPv6 subnet noted`, async () => {
        const lines = await agentLog(node);
        return lines.some((l) => typeof l.msg === 'string' && l.msg.includes('fd00:75::/64 is IPv6; only the IPv4 subnets are routed')) ? lines : undefined;
      }, { timeoutMs: 10_000 });
      assert.ok(!log.some((l) => l.msg === 'Endpoint rejected' && (l.endpoint === `${SUBMARINER_NAMESPACE}/dual` || l.endpoint === `${SUBMARINER_NAMESPACE}/globalnet`)), node.name);
    }
  });

  it('the overlap owner stays the owner across its own failover (Endpoint deleted and recreated with a new name and cable)', async () => {
    // The owner's id sorts after the squatter's, so only the Cluster objects' ages can make the owner win.
    const owned = await createCluster('zowner', ['10.80.0.0/16']);
    const ownedAt = Date.parse(owned.metadata.creationTimestamp);
    await waitFor('a second after the owner\'s Cluster object', () => Date.now() >= ownedAt + 1000, { timeoutMs: 3000, intervalMs: 50 });
    await createCluster('asquat', ['10.80.0.0/16', '10.81.0.0/16']);
    await api.create('zowner-submariner-cable-zowner-198-51-100-80', remoteSpec('zowner', ['10.80.0.0/16'], { private_ip: '172.31.252.1', public_ip: '198.51.100.80' }));
    await Promise.all(cluster.nodes.map((node) => waitFor(`${node.name}: 10.80.0.0/16 routed`, async () => routed(await nodeRouting(node.namespace)).includes('10.80.0.0/16'), { timeoutMs: 15_000 })));
    await api.create('asquat-submariner-cable-asquat-198-51-100-81', remoteSpec('asquat', ['10.80.0.0/16', '10.81.0.0/16'], { private_ip: '172.31.251.1', public_ip: '198.51.100.81' }));
    await rejectedEverywhere('overlaps-other-endpoint', 1, ['asquat-submariner-cable-asquat-198-51-100-81']);

    // Failover as Submariner performs it: delete the owner's Endpoint, then create one with a new name and cable.
    await api.remove('zowner-submariner-cable-zowner-198-51-100-80');
    const seen = (node: NodeStatus) => agentLog(node).then((log) => log.filter((l) => l.msg === 'reconcile pass').length);
    const passes = await Promise.all(cluster.nodes.map(seen));
    await Promise.all(cluster.nodes.map((node, i) => waitFor(`${node.name}: a pass during the gap`, async () => (await seen(node)) > passes[i]!, { timeoutMs: 15_000 })));
    await api.create('zowner-submariner-cable-zowner-198-51-100-82', remoteSpec('zowner', ['10.80.0.0/16'], { private_ip: '172.31.252.2', public_ip: '198.51.100.82' }));
    await Promise.all(cluster.nodes.map((node) => waitFor(`${node.name}: 10.80.0.0/16 routed after the failover`, async () => routed(await nodeRouting(node.namespace)).includes('10.80.0.0/16'), { timeoutMs: 15_000 })));
    await rejectedEverywhere('overlaps-other-endpoint', 1, []);
    for (const node of cluster.nodes) {
      const rejections = (await agentLog(node)).filter((l) => l.msg === 'Endpoint rejected' && l.endpoint === `${SUBMARINER_NAMESPACE}/asquat-submariner-cable-asquat-198-51-100-81`);
      assert.ok(rejections.length >= 1 && rejections.every((l) => l.reason === 'overlaps-other-endpoint'), `${node.name}: the squatter is never accepted`);
      assert.match(String(rejections.at(-1)?.message), /cluster "zowner" joined first/);
      // Not for a moment: the squatter's other subnet was never added on any node.
      const added = monitors.get(node.name)!.lines().filter((l) => !l.startsWith('Deleted')).map(prefixOf);
      assert.ok(!added.includes('10.81.0.0/16'), `${node.name}: 10.81.0.0/16 was routed at some point`);
    }
  });

  it('no rejected prefix was ever installed on any node, not even for a moment', () => {
    const never = ['192.168.1.8/29', '198.18.1.0/24', '172.31.255.0/24', `${API_SERVER_IP}/32`, '10.70.0.0/16', '10.71.0.0/16', '10.72.0.0/16', '10.73.0.0/16', '10.81.0.0/16', 'fd00:75::/64'];
    for (const [name, m] of monitors) {
      const added = m.lines().filter((l) => !l.startsWith('Deleted')).map(prefixOf);
      assert.ok(added.includes(GOOD), `${name}: the monitor saw the good route being added (it works)`);
      assert.deepEqual(added.filter((p) => never.includes(p)), [], name);
      if (name === oddWorker.name) assert.ok(!added.includes('172.17.0.0/16'), 'the odd worker never routed its own bridge network');
    }
  });
});
