/**
 * A lab with one cluster's gateways behind a NAT namespace (option nat), proved with real packets and
 * no seaway running: what leaves through the NAT carries its public address, UDP 4500 and 4490 at the
 * public address reach gateway node 1, nothing else from the WAN gets behind the NAT, the other
 * cluster stays on the WAN itself, and `down` removes the NAT namespace too.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { run } from '../../src/kernel/exec.ts';
import { requireTools } from '../helpers/prereq.ts';
import { NAT_FORWARDED_UDP_PORTS } from './addressing.ts';
import { httpGetUnix } from './http-unix.ts';
import { PUBLIC_IP_ANNOTATION } from './kubelet-sim.ts';
import { labDown, labUp } from './lab.ts';
import { waitFor } from './processes.ts';
import type { LabStatus } from './state.ts';
import { listNetns } from './topology.ts';

const PREFIX = `swnat${randomBytes(2).toString('hex')}`;
const NAT_PUBLIC_IP = '198.18.2.254';
/** How long a probe process may run: it ends as soon as its answer comes. */
const PROBE_DEADLINE_MS = 10_000;

/**
 * Echoes every datagram on the given sockets and exits once each expected text has arrived (printing
 * what came, from where, to which socket), or fails at its deadline naming what did not.
 */
const LISTENER = `
import dgram from 'node:dgram';
const { binds, expect, deadlineMs } = JSON.parse(process.argv[1]);
const seen = [];
const missing = new Set(expect);
for (const { address, port } of binds) {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (message, from) => {
    const text = String(message);
    seen.push({ local: address + ':' + port, from: from.address, fromPort: from.port, text });
    socket.send('echo ' + text, from.port, from.address, () => {
      missing.delete(text);
      if (missing.size === 0) { process.stdout.write(JSON.stringify(seen)); process.exit(0); }
    });
  });
  socket.bind(port, address);
}
setTimeout(() => { process.stderr.write('never received ' + [...missing].join(', ') + '; received ' + JSON.stringify(seen)); process.exit(3); }, deadlineMs);
`;

/**
 * Sends one text to host:port from a connected socket, again every 200 ms, until a reply (from whom);
 * ECONNREFUSED (an ICMP port unreachable came back: the listener may still be starting) ends it only
 * when asked to (stopOnRefusal), other errors always.
 */
const SENDER = `
import dgram from 'node:dgram';
const { host, port, bind, text, deadlineMs, stopOnRefusal } = JSON.parse(process.argv[1]);
const socket = dgram.createSocket('udp4');
const done = (result) => { process.stdout.write(JSON.stringify(result)); process.exit(0); };
socket.on('message', (message, from) => done({ reply: String(message), from: from.address, fromPort: from.port }));
socket.on('error', (error) => { if (stopOnRefusal || error.code !== 'ECONNREFUSED') done({ error: error.code }); });
socket.bind(bind?.port ?? 0, bind?.address, () => socket.connect(port, host, () => {
  const send = () => socket.send(text);
  send();
  setInterval(send, 200);
}));
setTimeout(() => done({ timeout: true }), deadlineMs);
`;

interface Datagram { local: string; from: string; fromPort: number; text: string }
type SendResult = { reply: string; from: string; fromPort: number } | { error: string } | { timeout: true };

async function inNamespace(namespace: string, script: string, input: unknown, signal?: AbortSignal): Promise<string> {
  const result = await run('ip', ['netns', 'exec', namespace, process.execPath, '--input-type=module', '-e', script, JSON.stringify(input)], { timeoutMs: PROBE_DEADLINE_MS + 5000, signal });
  return result.stdout;
}

function listen(namespace: string, binds: Array<{ address: string; port: number }>, expect: string[]): Promise<Datagram[]> {
  return inNamespace(namespace, LISTENER, { binds, expect, deadlineMs: PROBE_DEADLINE_MS }).then((stdout) => JSON.parse(stdout) as Datagram[]);
}

interface SendOptions { bind?: { address: string; port: number }; stopOnRefusal?: boolean }

async function send(namespace: string, host: string, port: number, text: string, options: SendOptions = {}): Promise<SendResult> {
  return JSON.parse(await inNamespace(namespace, SENDER, { host, port, text, deadlineMs: PROBE_DEADLINE_MS, ...options })) as SendResult;
}

async function pings(namespace: string, ip: string, deadlineSeconds: number): Promise<boolean> {
  const result = await run('ip', ['netns', 'exec', namespace, 'ping', '-n', '-q', '-c', '1', '-w', String(deadlineSeconds), ip], { allowFailure: true });
  return result.code === 0;
}

async function ipv4Of(namespace: string, device: string): Promise<string[]> {
  const { stdout } = await run('ip', ['-n', namespace, '-o', '-4', 'addr', 'show', 'dev', device]);
  return [...stdout.matchAll(/inet (\S+)/g)].map((match) => match[1] as string);
}

async function rootLinks(): Promise<string[]> {
  const { stdout } = await run('ip', ['-o', 'link', 'show']);
  return stdout.split('\n').filter(Boolean).map((line) => line.split(':')[1]?.trim() ?? '').sort();
}

describe('lab with cluster2 behind NAT', () => {
  let lab: LabStatus;
  let linksBefore: string[] = [];
  let linksAfterUp: string[] = [];
  const node = (cluster: number, index: number) => {
    const found = lab.clusters[cluster - 1]?.nodes[index - 1];
    assert.ok(found, `cluster${cluster}-node${index}`);
    return found;
  };

  before(async () => {
    requireTools('ip', 'ping', 'iptables', 'sysctl', 'openssl');
    linksBefore = await rootLinks();
    // Two gateway-capable nodes per cluster: the forwarded ports must go to node 1, and node 2 goes out through the NAT too.
    lab = await labUp({ prefix: PREFIX, clusters: 2, nodes: 2, gateways: 2, podsPerNode: 0, nodeReadyDelay: 0, cniDelay: 0, agents: false, nat: ['cluster2'] });
    linksAfterUp = await rootLinks();
  });

  after(async () => {
    await labDown(PREFIX);
  });

  it('puts only the NAT on the WAN: cluster2\'s gateways sit on its segment, cluster1\'s stay on the WAN; nothing in the root namespace', async () => {
    assert.deepEqual(linksAfterUp, linksBefore);
    const nat = lab.clusters[1]?.nat;
    assert.deepEqual(nat, {
      namespace: `${PREFIX}-c2-nat`, publicIp: NAT_PUBLIC_IP, segmentCidr: '172.31.2.0/24', segmentIp: '172.31.2.1', wanPort: 'c2nat', forwardTo: '192.168.2.11',
    });
    assert.equal(lab.clusters[0]?.nat, null);
    assert.deepEqual(await ipv4Of(nat.namespace, 'wan0'), [`${NAT_PUBLIC_IP}/16`]);
    assert.deepEqual(await ipv4Of(nat.namespace, 'br0'), ['172.31.2.1/24']);
    for (const n of [1, 2]) {
      assert.deepEqual(await ipv4Of(node(2, n).namespace, 'eth1'), [`172.31.2.${10 + n}/24`], `cluster2-node${n}`);
      assert.deepEqual(await ipv4Of(node(2, n).namespace, 'eth0'), [`192.168.2.${10 + n}/24`], `cluster2-node${n} keeps its InternalIP`);
      assert.deepEqual(await ipv4Of(node(1, n).namespace, 'eth1'), [`198.18.1.${n}/16`], `cluster1-node${n} is unchanged`);
      assert.deepEqual([node(2, n).wanIp, node(2, n).publicIp], [`172.31.2.${10 + n}`, NAT_PUBLIC_IP]);
      assert.deepEqual([node(1, n).wanIp, node(1, n).publicIp], [`198.18.1.${n}`, `198.18.1.${n}`]);
    }
    const wanPorts = (await run('ip', ['-n', lab.wan.namespace, '-o', 'link', 'show', 'master', 'br0'])).stdout.split('\n')
      .map((line) => /^\d+: ([^@:]+)/.exec(line)?.[1]).filter((name): name is string => name !== undefined).sort();
    assert.deepEqual(wanPorts, ['broker', 'c1n1', 'c1n2', 'c2nat']);
  });

  it('publishes the NAT\'s address as cluster2\'s gateways\' public IP, and cluster1\'s own WAN addresses', async () => {
    for (const [cluster, n, expected] of [[2, 1, NAT_PUBLIC_IP], [2, 2, NAT_PUBLIC_IP], [1, 1, '198.18.1.1'], [1, 2, '198.18.1.2']] as const) {
      const name = `cluster${cluster}-node${n}`;
      const socket = lab.clusters[cluster - 1]?.apiserver.socket;
      assert.ok(socket);
      const object = await waitFor(`Node ${name} registered`, async () => {
        const response = await httpGetUnix(socket, `/api/v1/nodes/${name}`);
        return response.status === 200 ? JSON.parse(response.body) as { metadata: { annotations?: Record<string, string> }; status: { addresses: Array<{ type: string; address: string }> } } : undefined;
      }, 20_000, 50);
      assert.equal(object.metadata.annotations?.[PUBLIC_IP_ANNOTATION], `ipv4:${expected}`, name);
      assert.equal(object.status.addresses.find((a) => a.type === 'InternalIP')?.address, `192.168.${cluster}.${10 + n}`, `${name}: the InternalIP (seaway's private IP) stays the LAN address`);
    }
  });

  it('a datagram from a gateway behind the NAT reaches cluster1\'s gateway from the NAT\'s public address, and the reply finds its way back', async () => {
    const target = node(1, 1);
    assert.ok(target.wanIp);
    const texts = ['from node1 bound to its private IP:4500, as IKE sends', 'from node2 with the source the kernel picks'];
    const listening = listen(target.namespace, [{ address: target.wanIp, port: 4500 }], texts);
    const [fromNode1, fromNode2] = await Promise.all([
      send(node(2, 1).namespace, target.wanIp, 4500, texts[0] as string, { bind: { address: '192.168.2.11', port: 4500 } }),
      send(node(2, 2).namespace, target.wanIp, 4500, texts[1] as string),
    ]);
    const arrived = await listening;
    assert.deepEqual(fromNode1, { reply: `echo ${texts[0]}`, from: target.wanIp, fromPort: 4500 });
    assert.deepEqual(fromNode2, { reply: `echo ${texts[1]}`, from: target.wanIp, fromPort: 4500 });
    const first = (text: string) => arrived.find((datagram) => datagram.text === text);
    assert.equal(first(texts[0] as string)?.from, NAT_PUBLIC_IP, 'node 1\'s datagram carries the NAT\'s public address');
    assert.equal(first(texts[0] as string)?.fromPort, 4500, 'its source port is kept (nothing else holds it on the NAT)');
    assert.equal(first(texts[1] as string)?.from, NAT_PUBLIC_IP, 'node 2\'s datagram carries the NAT\'s public address');
    assert.ok(arrived.every((datagram) => datagram.from === NAT_PUBLIC_IP), JSON.stringify(arrived));
  });

  it('UDP 4500 and 4490 at the public address reach gateway node 1\'s private IP, from the sender\'s own address', async () => {
    assert.deepEqual([...NAT_FORWARDED_UDP_PORTS], [4500, 4490]);
    const texts = NAT_FORWARDED_UDP_PORTS.map((port) => `to the NAT at ${port}`);
    // Bound to node 1's InternalIP: only what the NAT forwards there arrives.
    const listening = listen(node(2, 1).namespace, NAT_FORWARDED_UDP_PORTS.map((port) => ({ address: '192.168.2.11', port })), texts);
    const replies = await Promise.all(NAT_FORWARDED_UDP_PORTS.map((port, i) => send(node(1, 1).namespace, NAT_PUBLIC_IP, port, texts[i] as string)));
    const arrived = await listening;
    for (const [i, port] of NAT_FORWARDED_UDP_PORTS.entries()) {
      assert.deepEqual(replies[i], { reply: `echo ${texts[i]}`, from: NAT_PUBLIC_IP, fromPort: port }, 'the reply comes back from the public address');
      const datagram = arrived.find((d) => d.text === texts[i]);
      assert.equal(datagram?.local, `192.168.2.11:${port}`);
      assert.equal(datagram?.from, '198.18.1.1', 'the sender\'s address is not rewritten on the way in');
    }
  });

  it('a port the NAT does not forward is answered by the NAT itself (port unreachable), not by gateway node 1', async () => {
    // Were UDP 4800 forwarded, node 1's listener would echo it: the sender would get a reply, not the NAT's ICMP error.
    const stop = new AbortController();
    const listening = inNamespace(node(2, 1).namespace, LISTENER, { binds: [{ address: '0.0.0.0', port: 4800 }], expect: ['never sent'], deadlineMs: PROBE_DEADLINE_MS }, stop.signal);
    const outcome = listening.then(() => 'the listener exited', (error: Error) => error.name);
    try {
      // Listening before the probe: node 1 itself answers a datagram to it.
      assert.deepEqual(await send(node(2, 1).namespace, '192.168.2.11', 4800, 'ready?'), { reply: 'echo ready?', from: '192.168.2.11', fromPort: 4800 });
      assert.deepEqual(await send(node(1, 1).namespace, NAT_PUBLIC_IP, 4800, 'to an unforwarded port', { stopOnRefusal: true }), { error: 'ECONNREFUSED' });
    } finally {
      stop.abort();
    }
    assert.equal(await outcome, 'AbortError', 'the listener ran until stopped');
  });

  it('the addresses behind the NAT are unreachable from cluster1, even with routes to them via the NAT\'s public address', async () => {
    const from = node(1, 1).namespace;
    const privateAddresses = ['192.168.2.11', '172.31.2.11', '172.31.2.12'];
    const reached = async (deadlineSeconds: number) => (await Promise.all(privateAddresses.map(async (address) => ((await pings(from, address, deadlineSeconds)) ? [address] : [])))).flat();
    assert.deepEqual(await reached(1), [], 'without a route');
    const routes = ['172.31.2.0/24', '192.168.2.0/24'].map((cidr) => ['route', 'add', cidr, 'via', NAT_PUBLIC_IP, 'dev', 'eth1']);
    try {
      for (const route of routes) await run('ip', ['-n', from, ...route]);
      assert.equal(await pings(from, NAT_PUBLIC_IP, 5), true, 'the path to the NAT works (it answers itself)');
      assert.deepEqual(await reached(2), [], 'with routes via the NAT');
    } finally {
      for (const route of routes) await run('ip', ['-n', from, 'route', 'del', ...route.slice(2)], { allowFailure: true });
    }
    // And the other way: a gateway behind the NAT does not reach cluster1's gateways' private IPs either.
    assert.equal(await pings(node(2, 1).namespace, '192.168.1.11', 1), false);
  });

  it('a gateway behind the NAT reaches the broker over TCP through the NAT', async () => {
    const script = `import net from 'node:net';
      const { host, port, localAddress } = JSON.parse(process.argv[1]);
      const socket = net.connect({ host, port, localAddress, timeout: 5000 }, () => { process.stdout.write('connected'); socket.destroy(); });
      socket.on('timeout', () => { process.stdout.write('timeout'); socket.destroy(); });
      socket.on('error', (error) => process.stdout.write(error.code));`;
    for (const localAddress of [undefined, '192.168.2.11']) {
      assert.equal(await inNamespace(node(2, 1).namespace, script, { host: '198.18.0.1', port: 6443, localAddress }), 'connected', `from ${localAddress ?? 'the segment address'}`);
    }
  });

  it('`down` removes the NAT namespace with the rest of the lab', async () => {
    const natNamespace = `${PREFIX}-c2-nat`;
    assert.ok((await listNetns()).includes(natNamespace));
    const report = await labDown(PREFIX);
    assert.ok(report.namespaces.includes(natNamespace), report.namespaces.join(' '));
    assert.equal(report.namespaces.length, 11, 'wan, broker, 2 x (lan, cp, 2 nodes), the NAT');
    assert.deepEqual((await listNetns()).filter((name) => name.startsWith(`${PREFIX}-`)), []);
  });
});
