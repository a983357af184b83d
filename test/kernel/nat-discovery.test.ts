/**
 * NAT discovery over real sockets, across a real NAT, in throwaway namespaces:
 *
 *   A (192.168.1.2) ── lan0 NAT (192.168.1.1 | 198.18.0.1) wan0 ══ WAN ══ wan0 B (198.18.0.2; clients 198.18.0.3, .4)
 *
 * The NAT namespace masquerades A's LAN behind 198.18.0.1 and forwards UDP 4490 on that address to A
 * (A's "public IP"). B sits directly on the WAN (private IP = public IP). Both gateways run the real
 * driver (src/cable/nat-discovery.ts) in child processes inside their namespaces; two more children in
 * B's namespace play foreign clients (one of them the flooder, so it starts with a full bucket)
 * whose datagrams are built and read with protobufjs from
 * test/fixtures/natdiscovery.proto, independently of seaway's codec.
 *
 * Malformed input, as Submariner does it: a datagram that does not decode is dropped without an
 * answer (and counted); a request that decodes but lacks a required part gets a MALFORMED answer.
 *
 * This file is also its own child process: run with SEAWAY_NAT_CHILD set, it serves one gateway or
 * client over JSON lines on stdin/stdout instead of registering tests.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { pino } from 'pino';
import protobuf from 'protobufjs';
import { openNatDiscovery, type NatDropReason, type NatRateLimits } from '../../src/cable/nat-discovery.ts';
import { udp4Socket } from '../../src/kernel/udp.ts';
import { run } from '../../src/kernel/exec.ts';
import type { NatDiscoveryIdentity } from '../../src/plan/nat-discovery-responder.ts';
import type { NatRemote, NatView } from '../../src/plan/nat-discovery-requester.ts';
import { createNetns, type TestNetns } from '../helpers/netns.ts';
import { requireTools } from '../helpers/prereq.ts';
import { waitFor, within } from '../helpers/wait.ts';

const CHILD_ENV = 'SEAWAY_NAT_CHILD';
const PORT = 4490;

type ChildConfig =
  | { role: 'gateway'; local: NatDiscoveryIdentity & { natEnabled: boolean }; limits: NatRateLimits }
  | { role: 'client'; bindAddress: string };

interface Counters {
  received: number;
  responded: number;
  dropped: Record<NatDropReason, number>;
}

interface Datagram {
  hex: string;
  address: string;
  port: number;
}

// ---------------------------------------------------------------------------------------------
// Child side

async function gatewayOps(config: Extract<ChildConfig, { role: 'gateway' }>) {
  const counters: Counters = { received: 0, responded: 0, dropped: { malformed: 0, oversized: 0, 'rate-limited': 0, unexpected: 0 } };
  const wake = new Set<() => void>();
  const discovery = await openNatDiscovery({
    port: PORT, local: config.local, createSocket: udp4Socket, requestCounterSeed: randomBytes(8).readBigUInt64BE(),
    counters: { received: () => { counters.received++; }, responded: () => { counters.responded++; }, dropped: (reason) => { counters.dropped[reason]++; } },
    log: pino({ level: 'debug' }, pino.destination(2)),
    onSelected: () => { for (const w of [...wake]) w(); },
    limits: config.limits,
  });
  return {
    ops: {
      discover: (r: { remote: NatRemote }) => discovery.discover(r.remote),
      counters: () => counters,
      'wait-final': (r: { cableName: string }) => new Promise<NatView>((resolve) => {
        const check = () => {
          const view = discovery.selection(r.cableName);
          if (view?.final) { wake.delete(check); resolve(view); }
        };
        wake.add(check);
        check();
      }),
    } as Record<string, (request: never) => unknown>,
    close: () => discovery.close(),
  };
}

async function clientOps(config: Extract<ChildConfig, { role: 'client' }>) {
  const socket = createSocket('udp4');
  const received: Datagram[] = [];
  socket.on('message', (message, from) => received.push({ hex: message.toString('hex'), address: from.address, port: from.port }));
  await new Promise<void>((resolve, reject) => { socket.once('error', reject); socket.bind(0, config.bindAddress, () => resolve()); });
  return {
    ops: {
      send: async (r: { hex: string[]; address: string; port: number }) => {
        for (const hex of r.hex) {
          await new Promise<void>((resolve, reject) => socket.send(Buffer.from(hex, 'hex'), r.port, r.address, (error) => (error ? reject(error) : resolve())));
        }
        return r.hex.length;
      },
      received: () => received,
      address: () => socket.address(),
    } as Record<string, (request: never) => unknown>,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

async function runChild(config: ChildConfig): Promise<void> {
  const { ops, close } = config.role === 'gateway' ? await gatewayOps(config) : await clientOps(config);
  const reply = (message: object) => process.stdout.write(`${JSON.stringify(message)}\n`);
  reply({ ready: true });
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const request = JSON.parse(line) as { id: number; op: string };
    Promise.resolve()
      .then(() => { const op = ops[request.op]; if (!op) throw new Error(`unknown op ${request.op}`); return op(request as never); })
      .then((result) => reply({ id: request.id, ok: true, result: result ?? null }), (error: Error) => reply({ id: request.id, ok: false, error: error.message }));
  });
  lines.on('close', () => { void close().finally(() => process.exit(0)); });
}

// ---------------------------------------------------------------------------------------------
// Test side

interface Child {
  call<T>(op: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  stop(): Promise<void>;
  log(): string;
}

async function startChild(ns: string, config: ChildConfig): Promise<Child> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, fileURLToPath(import.meta.url), JSON.stringify(config)], {
    stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, [CHILD_ENV]: '1' },
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); if (stderr.length > 200_000) stderr = stderr.slice(-100_000); });
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let ready!: () => void;
  const isReady = new Promise<void>((resolve) => { ready = resolve; });
  createInterface({ input: child.stdout }).on('line', (line) => {
    const message = JSON.parse(line) as { ready?: boolean; id?: number; ok?: boolean; result?: unknown; error?: string };
    if (message.ready) return ready();
    const waiter = pending.get(message.id!);
    pending.delete(message.id!);
    if (message.ok) waiter?.resolve(message.result);
    else waiter?.reject(new Error(`${message.error}; child log:\n${stderr.slice(-3000)}`));
  });
  void exited.then(() => { for (const w of pending.values()) w.reject(new Error(`child exited; its log:\n${stderr.slice(-3000)}`)); });
  const describe = () => `${config.role} child in ${ns} to start; its log:\n${stderr.slice(-3000)}`;
  await within(Promise.race([isReady, exited.then(() => { throw new Error(`child exited early; its log:\n${stderr.slice(-3000)}`); })]), 20_000, describe)
    .catch((error: unknown) => { child.kill('SIGKILL'); throw error; });
  let nextId = 1;
  return {
    call: <T>(op: string, args: Record<string, unknown> = {}, timeoutMs = 20_000) => within(new Promise<T>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.stdin.write(`${JSON.stringify({ ...args, op, id })}\n`);
    }), timeoutMs, () => `${config.role} child in ${ns} to answer ${op}; its log:\n${stderr.slice(-3000)}`),
    async stop() {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
    log: () => stderr,
  };
}

interface Topology {
  a: TestNetns;
  nat: TestNetns;
  b: TestNetns;
  destroy(): Promise<void>;
}

async function createTopology(): Promise<Topology> {
  const made: TestNetns[] = [];
  const destroy = async () => { for (const ns of made.reverse()) await ns.destroy(); };
  try {
    for (const label of ['nda', 'ndn', 'ndb']) made.push(await createNetns(label));
    const [a, nat, b] = made as [TestNetns, TestNetns, TestNetns];
    const ip = (ns: TestNetns, args: string[]) => run('ip', ['-n', ns.name, ...args]);
    await ip(nat, ['link', 'add', 'lan0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', a.name]);
    await ip(nat, ['link', 'add', 'wan0', 'type', 'veth', 'peer', 'name', 'wan0', 'netns', b.name]);
    await ip(a, ['addr', 'add', '192.168.1.2/24', 'dev', 'eth0']);
    await ip(nat, ['addr', 'add', '192.168.1.1/24', 'dev', 'lan0']);
    await ip(nat, ['addr', 'add', '198.18.0.1/24', 'dev', 'wan0']);
    await ip(b, ['addr', 'add', '198.18.0.2/24', 'dev', 'wan0']);
    await ip(b, ['addr', 'add', '198.18.0.3/24', 'dev', 'wan0']);
    await ip(b, ['addr', 'add', '198.18.0.4/24', 'dev', 'wan0']);
    for (const [ns, dev] of [[a, 'eth0'], [nat, 'lan0'], [nat, 'wan0'], [b, 'wan0']] as const) await ip(ns, ['link', 'set', dev, 'up']);
    await ip(a, ['route', 'add', 'default', 'via', '192.168.1.1']);
    // Inside the NAT namespace only (net.* sysctls and iptables tables are per namespace).
    await nat.exec('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
    await nat.exec('iptables', ['-t', 'nat', '-A', 'POSTROUTING', '-s', '192.168.1.0/24', '-o', 'wan0', '-j', 'MASQUERADE']);
    await nat.exec('iptables', ['-t', 'nat', '-A', 'PREROUTING', '-i', 'wan0', '-p', 'udp', '--dport', String(PORT), '-j', 'DNAT', '--to-destination', `192.168.1.2:${PORT}`]);
    return { a, nat, b, destroy };
  } catch (error) {
    await destroy();
    throw error;
  }
}

/** The UDP counters of a namespace (/proc/net/snmp is per network namespace). */
async function udpStats(ns: TestNetns): Promise<Record<string, number>> {
  const lines = (await ns.exec('cat', ['/proc/net/snmp'])).stdout.split('\n').filter((l) => l.startsWith('Udp:'));
  const [names, values] = lines.map((l) => l.split(/\s+/).slice(1));
  return Object.fromEntries((names ?? []).map((name, i) => [name, Number(values?.[i])]));
}

/** Bytes waiting in the receive queue of the discovery socket. */
async function receiveQueue(ns: TestNetns): Promise<number> {
  const { stdout } = await ns.exec('ss', ['-H', '-u', '-a', '-n', `sport = :${PORT}`]);
  return stdout.trim().split('\n').filter(Boolean).reduce((sum, line) => sum + Number(line.trim().split(/\s+/)[1] ?? 0), 0);
}

const identityA = { clusterId: 'cluster-a', endpointId: 'submariner-cable-cluster-a-192-168-1-2', privateIp: '192.168.1.2', natEnabled: false };
const identityB = { clusterId: 'cluster-b', endpointId: 'submariner-cable-cluster-b-198-18-0-2', privateIp: '198.18.0.2', natEnabled: false };
/** A as B's Endpoint copy says: behind NAT, public IP 198.18.0.1 (its Endpoint does not say nat_enabled: discovery finds out). */
const remoteA: NatRemote = { cableName: identityA.endpointId, clusterId: 'cluster-a', privateIp: '192.168.1.2', publicIp: '198.18.0.1', natEnabled: false, discoveryPort: PORT, usingLoadBalancer: false };
const remoteB: NatRemote = { cableName: identityB.endpointId, clusterId: 'cluster-b', privateIp: '198.18.0.2', publicIp: '198.18.0.2', natEnabled: false, discoveryPort: PORT, usingLoadBalancer: false };
/** Per-source limit of the test (the global one is set out of the way). */
const PER_SOURCE = { capacity: 20, refillPerSecond: 10 };
const limits: NatRateLimits = { global: { capacity: 10_000, refillPerSecond: 10_000 }, perSource: PER_SOURCE, maxSources: 64 };

if (process.env[CHILD_ENV]) {
  await runChild(JSON.parse(process.argv[2]!) as ChildConfig);
} else {
  const root = protobuf.loadSync(fileURLToPath(new URL('../fixtures/natdiscovery.proto', import.meta.url)));
  const Message = root.lookupType('SubmarinerNATDiscoveryMessage');
  const encode = (plain: Record<string, unknown>) => Buffer.from(Message.encode(Message.fromObject(plain)).finish()).toString('hex');
  const decode = (hex: string) => Message.toObject(Message.decode(Buffer.from(hex, 'hex')), { longs: String, enums: String, defaults: true }) as {
    response?: { requestNumber: string; response: string; srcIpNatDetected: boolean; dstIpNatDetected: boolean; receiver: { clusterId: string } | null; receivedSrc: { IP: string; port: number } };
  };
  /** A request to A as the foreign client sends it (protobufjs field names). */
  const requestToA = (requestNumber: number, overrides: Record<string, unknown> = {}) => encode({
    version: 1,
    request: {
      requestNumber: String(requestNumber),
      sender: { clusterId: 'cluster-c', endpointId: 'submariner-cable-cluster-c-198-18-0-3' },
      receiver: { clusterId: 'cluster-a', endpointId: identityA.endpointId },
      usingSrc: { IP: '198.18.0.3', port: 0 },
      usingDst: { IP: '198.18.0.1', port: PORT },
      ...overrides,
    },
  });

  test('NAT discovery across a masquerading NAT, between two real drivers and a foreign client', async (t) => {
    requireTools('ip', 'iptables', 'sysctl', 'ss');
    const topology = await createTopology();
    t.after(() => topology.destroy());
    const gatewayA = await startChild(topology.a.name, { role: 'gateway', local: identityA, limits });
    t.after(() => gatewayA.stop());
    const gatewayB = await startChild(topology.b.name, { role: 'gateway', local: identityB, limits });
    t.after(() => gatewayB.stop());
    const client = await startChild(topology.b.name, { role: 'client', bindAddress: '198.18.0.3' });
    t.after(() => client.stop());
    const flooder = await startChild(topology.b.name, { role: 'client', bindAddress: '198.18.0.4' });
    t.after(() => flooder.stop());
    const countersA = () => gatewayA.call<Counters>('counters');

    await t.test('B probing A: the public address answers NAT_DETECTED, B selects it with NAT', async () => {
      const provisional = await gatewayB.call<NatView>('discover', { remote: remoteA });
      assert.deepEqual([provisional.ip, provisional.final, provisional.basis], ['192.168.1.2', false, 'provisional'], 'the legacy choice meanwhile');
      const view = await gatewayB.call<NatView>('wait-final', { cableName: remoteA.cableName }, 20_000);
      assert.deepEqual([view.ip, view.useNat, view.basis], ['198.18.0.1', true, 'public-reply'], gatewayB.log().slice(-2000));
    });

    await t.test('A probing B (from behind the NAT): B\'s private address answers and is selected', async () => {
      await gatewayA.call<NatView>('discover', { remote: remoteB });
      const view = await gatewayA.call<NatView>('wait-final', { cableName: remoteB.cableName }, 20_000);
      // A's source address changed on the way, so the answer says NAT: the cable must use NAT-T.
      assert.deepEqual([view.ip, view.useNat, view.basis], ['198.18.0.2', true, 'private-reply'], gatewayA.log().slice(-2000));
    });

    await t.test('a foreign client: NAT_DETECTED for a good request, UNKNOWN_DST_CLUSTER for a wrong cluster, MALFORMED or nothing for bad ones', async () => {
      const before = await countersA();
      const hex = [
        requestToA(11),
        requestToA(12, { receiver: { clusterId: 'cluster-x', endpointId: identityA.endpointId } }),
        'ffffffff', // does not decode: dropped without an answer
        requestToA(13, { usingSrc: null }), // decodes, lacks using_src: MALFORMED
      ];
      await client.call('send', { hex, address: '198.18.0.1', port: PORT });
      const received = await waitFor('three answers at the client', async () => {
        const got = await client.call<Datagram[]>('received');
        return got.length >= 3 ? got : undefined;
      });
      const after = await countersA();
      assert.equal(after.dropped.malformed - before.dropped.malformed, 1, 'the undecodable datagram was counted');
      assert.equal(after.responded - before.responded, 3, 'and not answered');
      const answers = new Map(received.map((d) => { const r = decode(d.hex).response!; return [r.requestNumber, { ...r, from: `${d.address}:${d.port}` }]; }));
      const { port: clientPort } = await client.call<{ port: number }>('address');
      const good = answers.get('11');
      assert.ok(good, JSON.stringify([...answers.keys()]));
      assert.equal(good.response, 'NAT_DETECTED');
      assert.equal(good.dstIpNatDetected, true, 'sent to the public address, received on the private one');
      assert.deepEqual(good.receivedSrc, { IP: '198.18.0.3', port: clientPort });
      assert.equal(good.from, `198.18.0.1:${PORT}`, 'the answer comes back through the NAT');
      assert.equal(answers.get('12')?.response, 'UNKNOWN_DST_CLUSTER');
      assert.equal(answers.get('13')?.response, 'MALFORMED');
      assert.equal(answers.get('13')?.receiver?.clusterId, 'cluster-c');
    });

    await t.test('a flood of 5000 requests from one source gets no more answers than the rate limit allows, and the drops are counted', async () => {
      const hex = Array.from({ length: 5000 }, (_, i) => requestToA(100_000 + i));
      const answered = (datagrams: Datagram[]) => datagrams.filter((d) => Number(decode(d.hex).response?.requestNumber) >= 100_000).length;
      const before = await countersA();
      const snmpBefore = await udpStats(topology.a);
      const started = performance.now();
      await flooder.call('send', { hex, address: '198.18.0.1', port: PORT }, 60_000);
      // Settled: nothing left queued on A's socket, and A's count of datagrams stopped moving.
      let previous = -1;
      const after = await waitFor('A to have read every datagram that reached it', async () => {
        const counters = await countersA();
        const settled = (await receiveQueue(topology.a)) === 0 && counters.received === previous;
        previous = counters.received;
        return settled ? counters : undefined;
      }, { timeoutMs: 30_000, intervalMs: 200 });
      const elapsedS = (performance.now() - started) / 1000;
      const snmpAfter = await udpStats(topology.a);
      const received = after.received - before.received;
      const responded = after.responded - before.responded;
      const rateLimited = after.dropped['rate-limited'] - before.dropped['rate-limited'];
      const allowed = PER_SOURCE.capacity + Math.ceil(PER_SOURCE.refillPerSecond * elapsedS);
      const detail = JSON.stringify({ received, responded, rateLimited, allowed, elapsedS, kernelDrops: (snmpAfter.RcvbufErrors ?? 0) - (snmpBefore.RcvbufErrors ?? 0) });
      assert.equal(received, (snmpAfter.InDatagrams ?? 0) - (snmpBefore.InDatagrams ?? 0), `every datagram the kernel handed A was counted: ${detail}`);
      assert.ok(received > allowed, `the flood reached A well past the limit: ${detail}`);
      assert.ok(responded >= PER_SOURCE.capacity, `the burst was answered: ${detail}`);
      assert.ok(responded <= allowed, `no more answers than the limit: ${detail}`);
      assert.equal(rateLimited, received - responded, `every datagram not answered was counted as rate-limited: ${detail}`);
      assert.equal(after.dropped.malformed - before.dropped.malformed, 0);
      const atClient = await waitFor('the flooder to hold every answer A sent', async () => {
        const got = answered(await flooder.call<Datagram[]>('received'));
        return got >= responded ? got : undefined;
      });
      assert.equal(atClient, responded, detail);
    });
  });
}
