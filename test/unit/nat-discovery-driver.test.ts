/** The NAT discovery driver over a fake socket: answers, rate limits, drop counters, probes, routing of answers to their remote. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { openNatDiscovery, type NatDiscoveryOptions, type NatDropReason } from '../../src/cable/nat-discovery.ts';
import { routeSourceIp, type DatagramSocket } from '../../src/kernel/udp.ts';
import {
  NAT_DISCOVERY_MAX_DATAGRAM_BYTES, ResponseType, decodeNatDiscoveryMessage, encodeNatDiscoveryMessage,
  type NatDiscoveryMessage, type NatDiscoveryRequest, type NatDiscoveryResponse,
} from '../../src/model/nat-discovery-message.ts';
import type { NatRemote, NatView } from '../../src/plan/nat-discovery-requester.ts';
import { waitFor } from '../helpers/wait.ts';

type From = { address: string; port: number };

class FakeSocket implements DatagramSocket {
  readonly sent: Array<{ message: NatDiscoveryMessage; port: number; address: string }> = [];
  readonly #listeners: { message: Array<(m: Buffer, r: From) => void>; error: Array<(e: Error) => void> } = { message: [], error: [] };
  bound: { port: number; address: string | undefined } | undefined;
  closed = false;
  bindError: Error | undefined;

  on(event: 'message' | 'error', listener: ((m: Buffer, r: From) => void) | ((e: Error) => void)): this {
    (this.#listeners[event] as unknown[]).push(listener);
    return this;
  }

  bind(port: number, address: string | undefined, callback: () => void): void {
    const failure = this.bindError;
    if (failure) queueMicrotask(() => { for (const l of this.#listeners.error) l(failure); });
    else queueMicrotask(() => { this.bound = { port, address }; callback(); });
  }

  send(message: Buffer, port: number, address: string, callback: (error: Error | null) => void): void {
    const decoded = decodeNatDiscoveryMessage(message);
    assert.ok(decoded.ok, 'the driver sent something that does not decode');
    this.sent.push({ message: decoded.message, port, address });
    queueMicrotask(() => callback(null));
  }

  close(callback: () => void): void {
    this.closed = true;
    queueMicrotask(callback);
  }

  deliver(message: NatDiscoveryMessage | Buffer, from: From): void {
    const datagram = Buffer.isBuffer(message) ? message : encodeNatDiscoveryMessage(message);
    for (const l of this.#listeners.message) l(datagram, from);
  }

  responses(): Array<{ response: NatDiscoveryResponse; port: number; address: string }> {
    return this.sent.flatMap(({ message, port, address }) => (message.response ? [{ response: message.response, port, address }] : []));
  }

  requests(): Array<{ request: NatDiscoveryRequest; port: number; address: string }> {
    return this.sent.flatMap(({ message, port, address }) => (message.request ? [{ request: message.request, port, address }] : []));
  }
}

const local = { clusterId: 'east', endpointId: 'submariner-cable-east-10-0-0-1', privateIp: '10.0.0.1', natEnabled: false };
const west: NatRemote = {
  cableName: 'submariner-cable-west-192-168-1-2', clusterId: 'west', privateIp: '192.168.1.2', publicIp: '198.18.0.1',
  natEnabled: false, discoveryPort: 4490, usingLoadBalancer: false,
};
const north: NatRemote = {
  cableName: 'submariner-cable-north-172-16-0-2', clusterId: 'north', privateIp: '172.16.0.2', publicIp: '198.18.0.3',
  natEnabled: false, discoveryPort: 4491, usingLoadBalancer: false,
};

/** A request for this gateway (east), as a remote would send it from `src`. */
const requestFor = (requestNumber: bigint, src = '198.18.0.7'): NatDiscoveryMessage => ({
  version: 1,
  request: {
    requestNumber,
    sender: { clusterId: 'west', endpointId: west.cableName },
    receiver: { clusterId: 'east', endpointId: local.endpointId },
    usingSrc: { ip: src, port: 4490 },
    usingDst: { ip: '10.0.0.1', port: 4490 },
  },
});

/** An answer from `remote` to request `requestNumber`. */
const answerFrom = (remote: NatRemote, requestNumber: bigint, response: number = ResponseType.OK): NatDiscoveryMessage => ({
  version: 0,
  response: {
    requestNumber, response, srcIpNatDetected: false, srcPortNatDetected: false, dstIpNatDetected: response === ResponseType.NAT_DETECTED,
    sender: { clusterId: remote.clusterId, endpointId: remote.cableName }, receiver: { clusterId: 'east', endpointId: local.endpointId },
    receivedSrc: { ip: '10.0.0.1', port: 4490 },
  },
});

async function open(overrides: Partial<NatDiscoveryOptions> = {}) {
  const socket = new FakeSocket();
  let nowMs = 0;
  const drops: Record<NatDropReason, number> = { malformed: 0, oversized: 0, 'rate-limited': 0, unexpected: 0 };
  const counts = { received: 0, responded: 0 };
  const selected: Array<{ cableName: string; view: NatView }> = [];
  const discovery = await openNatDiscovery({
    port: 4490, local, createSocket: () => socket, requestCounterSeed: 100n,
    counters: { dropped: (reason) => { drops[reason]++; }, received: () => { counts.received++; }, responded: () => { counts.responded++; } },
    log: pino({ level: 'silent' }),
    onSelected: (cableName, view) => selected.push({ cableName, view }),
    sourceIpFor: async () => '10.0.0.1',
    now: () => nowMs,
    tickMs: 0,
    ...overrides,
  });
  /** Lets the driver's pending sends (source lookups, callbacks) run. */
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  return { socket, discovery, drops, counts, selected, settle, advance: (ms: number) => { nowMs += ms; } };
}

describe('responder', () => {
  it('binds the port and answers a request to its source with the responder\'s decision', async () => {
    const { socket, discovery, counts } = await open({ address: '10.0.0.1' });
    assert.deepEqual(socket.bound, { port: 4490, address: '10.0.0.1' });
    socket.deliver(requestFor(5n, '192.168.9.9'), { address: '198.18.0.7', port: 4490 });
    const [answer] = socket.responses();
    assert.ok(answer);
    assert.deepEqual([answer.address, answer.port], ['198.18.0.7', 4490]);
    assert.equal(answer.response.requestNumber, 5n);
    assert.equal(answer.response.response, ResponseType.NAT_DETECTED);
    assert.equal(answer.response.srcIpNatDetected, true);
    assert.deepEqual(answer.response.receivedSrc, { ip: '198.18.0.7', port: 4490 });
    assert.deepEqual(counts, { received: 1, responded: 1 });
    await discovery.close();
    assert.equal(socket.closed, true);
  });

  it('rate-limits a flood from one source: a burst, then the refill, and the drop counter says so', async () => {
    const limits = { global: { capacity: 1000, refillPerSecond: 1000 }, perSource: { capacity: 5, refillPerSecond: 2 }, maxSources: 16 };
    const { socket, discovery, drops, counts, advance } = await open({ limits });
    for (let i = 0; i < 1000; i++) socket.deliver(requestFor(BigInt(i)), { address: '203.0.113.9', port: 5000 });
    assert.equal(socket.responses().length, 5);
    assert.deepEqual(socket.responses().map((r) => r.response.requestNumber), [0n, 1n, 2n, 3n, 4n], 'the first ones are answered');
    assert.equal(drops['rate-limited'], 995);
    advance(1000);
    for (let i = 0; i < 10; i++) socket.deliver(requestFor(2000n + BigInt(i)), { address: '203.0.113.9', port: 5000 });
    assert.equal(socket.responses().length, 7, 'two more after a second');
    // Another source is not held back by the first one's flood.
    socket.deliver(requestFor(9n), { address: '203.0.113.10', port: 5000 });
    assert.equal(socket.responses().length, 8);
    assert.deepEqual({ ...counts, rateLimited: drops['rate-limited'] }, { received: 1011, responded: 8, rateLimited: 1003 });
    await discovery.close();
  });

  it('the global bucket caps many sources together', async () => {
    const limits = { global: { capacity: 3, refillPerSecond: 1 }, perSource: { capacity: 5, refillPerSecond: 1 }, maxSources: 1000 };
    const { socket, discovery, drops } = await open({ limits });
    for (let i = 0; i < 50; i++) socket.deliver(requestFor(BigInt(i)), { address: `203.0.113.${i}`, port: 4490 });
    assert.equal(socket.responses().length, 3);
    assert.equal(drops['rate-limited'], 47);
    await discovery.close();
  });

  it('remembers at most maxSources sources, forgetting the one heard from longest ago', async () => {
    const limits = { global: { capacity: 100, refillPerSecond: 1 }, perSource: { capacity: 1, refillPerSecond: 0.001 }, maxSources: 2 };
    const { socket, discovery } = await open({ limits });
    const from = (host: number) => ({ address: `203.0.113.${host}`, port: 4490 });
    socket.deliver(requestFor(1n), from(1)); //  answered: source 1 spends its only token
    socket.deliver(requestFor(2n), from(1)); //  refused
    socket.deliver(requestFor(3n), from(2)); //  answered
    socket.deliver(requestFor(4n), from(1)); //  refused: source 1 is remembered (two fit), and now the most recent
    socket.deliver(requestFor(5n), from(3)); //  answered; source 2, heard from longest ago, is forgotten
    socket.deliver(requestFor(6n), from(1)); //  refused: still remembered
    socket.deliver(requestFor(7n), from(2)); //  answered: forgotten, so a full bucket again
    assert.deepEqual(socket.responses().map((r) => r.response.requestNumber), [1n, 3n, 5n, 7n]);
    await discovery.close();
  });

  it('drops and counts what is oversized or malformed, without an answer', async () => {
    const { socket, discovery, drops, counts } = await open();
    const from = { address: '203.0.113.9', port: 4490 };
    socket.deliver(Buffer.alloc(NAT_DISCOVERY_MAX_DATAGRAM_BYTES + 1), from);
    socket.deliver(Buffer.from([0x08]), from);
    socket.deliver(Buffer.from([0xff, 0xff]), from);
    socket.deliver(Buffer.alloc(0), from);
    assert.deepEqual(drops, { malformed: 3, oversized: 1, 'rate-limited': 0, unexpected: 0 });
    assert.equal(socket.sent.length, 0);
    // A request that decodes but lacks fields is Submariner's MALFORMED answer, not a drop.
    socket.deliver({ version: 1, request: { requestNumber: 3n } }, from);
    assert.equal(socket.responses()[0]?.response.response, ResponseType.MALFORMED);
    assert.deepEqual(counts, { received: 5, responded: 1 });
    await discovery.close();
  });
});

describe('requester', () => {
  it('probes the private and public IP of a remote at once, naming both ends, the source and the target', async () => {
    const { socket, discovery, selected, settle } = await open();
    const view = discovery.discover(west);
    assert.deepEqual([view.ip, view.final, view.basis], ['192.168.1.2', false, 'provisional']);
    assert.deepEqual(selected.map((s) => [s.cableName, s.view.basis]), [[west.cableName, 'provisional']]);
    await settle();
    assert.deepEqual(socket.requests(), [
      {
        address: '192.168.1.2', port: 4490,
        request: {
          requestNumber: 101n, sender: { clusterId: 'east', endpointId: local.endpointId }, receiver: { clusterId: 'west', endpointId: west.cableName },
          usingSrc: { ip: '10.0.0.1', port: 4490 }, usingDst: { ip: '192.168.1.2', port: 4490 },
        },
      },
      {
        address: '198.18.0.1', port: 4490,
        request: {
          requestNumber: 102n, sender: { clusterId: 'east', endpointId: local.endpointId }, receiver: { clusterId: 'west', endpointId: west.cableName },
          usingSrc: { ip: '10.0.0.1', port: 4490 }, usingDst: { ip: '198.18.0.1', port: 4490 },
        },
      },
    ]);
    assert.equal(socket.sent.find((s) => s.message.request)?.message.version, 1);
    await discovery.close();
  });

  it('routes answers to the remote that sent them, by sender and request number', async () => {
    const { socket, discovery, selected, drops, settle } = await open();
    discovery.discover(west);
    discovery.discover(north);
    await settle();
    const numberOf = (remote: NatRemote, ip: string) => socket.requests().find((r) => r.request.receiver?.endpointId === remote.cableName && r.address === ip)!.request.requestNumber;
    // north's public answer: north selects public with NAT; west is untouched.
    socket.deliver(answerFrom(north, numberOf(north, '198.18.0.3'), ResponseType.NAT_DETECTED), { address: '198.18.0.3', port: 4491 });
    assert.deepEqual([discovery.selection(north.cableName)?.ip, discovery.selection(north.cableName)?.useNat], ['198.18.0.3', true]);
    assert.equal(discovery.selection(west.cableName)?.basis, 'provisional');
    // west's number under north's name does not count, nor an answer from a cable nobody asked.
    socket.deliver(answerFrom(north, numberOf(west, '192.168.1.2')), { address: '172.16.0.2', port: 4491 });
    socket.deliver(answerFrom({ ...west, cableName: 'submariner-cable-south-1-1-1-1' }, numberOf(west, '192.168.1.2')), { address: '192.168.1.2', port: 4490 });
    assert.equal(drops.unexpected, 2);
    // west's private answer from its private IP: west selects private.
    socket.deliver(answerFrom(west, numberOf(west, '192.168.1.2')), { address: '192.168.1.2', port: 4490 });
    assert.deepEqual(discovery.selection(west.cableName), { ip: '192.168.1.2', useNat: false, final: true, basis: 'private-reply', probing: false, lastError: undefined, errorCount: 0 });
    assert.deepEqual(selected.map((s) => `${s.cableName.split('-')[2]}:${s.view.basis}:${s.view.final}`), [
      'west:provisional:false', 'north:provisional:false', 'north:public-reply:false', 'west:private-reply:true',
    ]);
    await discovery.close();
  });

  it('error answers are kept for status, probing goes on, and the fallback comes at 6 s', async () => {
    const { socket, discovery, selected, advance, settle } = await open({ local: { ...local, natEnabled: true } });
    discovery.discover(west);
    await settle();
    socket.deliver(answerFrom(west, 102n, ResponseType.UNKNOWN_DST_CLUSTER), { address: '198.18.0.1', port: 4490 });
    assert.equal(discovery.selection(west.cableName)?.lastError?.response, ResponseType.UNKNOWN_DST_CLUSTER);
    for (let second = 1; second <= 5; second++) {
      advance(1000);
      discovery.tick();
    }
    await settle();
    assert.equal(socket.requests().length, 6, 'sent at 0, 2 and 4 s');
    assert.equal(discovery.selection(west.cableName)?.probing, true);
    advance(1000);
    discovery.tick();
    assert.deepEqual(discovery.selection(west.cableName), {
      ip: '198.18.0.1', useNat: true, final: true, basis: 'fallback', probing: false,
      lastError: { response: ResponseType.UNKNOWN_DST_CLUSTER, target: 'public', from: '198.18.0.1', atMs: 0 }, errorCount: 1,
    });
    assert.equal(selected.at(-1)?.view.basis, 'fallback');
    await discovery.close();
  });

  it('reprobe sends again keeping the selection; forget drops the remote; no discovery port means the legacy choice at once', async () => {
    const { socket, discovery, drops, settle } = await open();
    discovery.discover(west);
    await settle();
    socket.deliver(answerFrom(west, 101n), { address: '192.168.1.2', port: 4490 });
    discovery.reprobe(west.cableName);
    await settle();
    assert.deepEqual(socket.requests().map((r) => r.request.requestNumber), [101n, 102n, 103n, 104n]);
    assert.deepEqual([discovery.selection(west.cableName)?.ip, discovery.selection(west.cableName)?.final], ['192.168.1.2', false]);
    discovery.forget(west.cableName);
    assert.equal(discovery.selection(west.cableName), undefined);
    socket.deliver(answerFrom(west, 103n), { address: '192.168.1.2', port: 4490 });
    assert.equal(drops.unexpected, 1);
    const legacy = discovery.discover({ ...north, discoveryPort: 0, natEnabled: true });
    await settle();
    assert.deepEqual([legacy.ip, legacy.useNat, legacy.final, legacy.basis], ['198.18.0.3', true, true, 'no-discovery']);
    assert.equal(socket.requests().length, 4, 'nothing sent to it');
    await discovery.close();
  });

  it('the timer ticks the plans until close', async () => {
    let nowMs = 0;
    const { socket, discovery } = await open({ tickMs: 5, now: () => nowMs });
    discovery.discover(west);
    nowMs = 2000;
    await waitFor('a probe sent again by the timer', () => socket.requests().length >= 4, { timeoutMs: 5000 });
    await discovery.close();
    const sent = socket.sent.length;
    nowMs = 4000;
    discovery.tick();
    discovery.discover(north);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(socket.sent.length, sent, 'nothing goes out after close');
  });
});

describe('opening', () => {
  it('fails when the port cannot be bound, and refuses unusable limits', async () => {
    const socket = new FakeSocket();
    socket.bindError = Object.assign(new Error('bind EADDRINUSE 0.0.0.0:4490'), { code: 'EADDRINUSE' });
    await assert.rejects(open({ createSocket: () => socket }), /EADDRINUSE/);
    assert.equal(socket.closed, true);
    await assert.rejects(open({ limits: { global: { capacity: 0, refillPerSecond: 1 }, perSource: { capacity: 1, refillPerSecond: 1 }, maxSources: 1 } }), /rate limit global: capacity/);
  });
});

describe('source address lookup', () => {
  it('names the address the route leaves from (connecting a UDP socket sends nothing)', async () => {
    assert.equal(await routeSourceIp('127.0.0.1', 4490), '127.0.0.1');
    assert.equal(await routeSourceIp('127.0.0.53', 4490), '127.0.0.1', 'the loopback route leaves from 127.0.0.1');
  });
});
