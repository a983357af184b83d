import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { dfPing, pingMtuHint } from '../../src/kernel/df-ping.ts';
import { echoProbe } from '../../src/kernel/echo-probe.ts';
import { httpGet } from '../../src/kernel/http-get.ts';
import type { EchoReply, IcmpSocket, IcmpSocketOptions } from '../../src/kernel/icmp-socket.ts';
import { parseRouteGet } from '../../src/kernel/route-lookup.ts';
import { udpExchange, type ExchangeSocket } from '../../src/kernel/udp-exchange.ts';
import { parseXfrmPolicies } from '../../src/kernel/xfrm-policies.ts';
import type { ExecResult } from '../../src/kernel/exec.ts';

/** A UDP socket that records sends and lets the test deliver datagrams or errors. */
function fakeUdp(onSend: (message: Buffer, socket: { deliver(m: Buffer): void; fail(e: Error): void }) => Error | null = () => null) {
  const handlers: { message?: (m: Buffer, from: { address: string; port: number }) => void; error?: (e: Error) => void } = {};
  const sent: Buffer[] = [];
  let closed = false;
  const api = { deliver: (m: Buffer) => handlers.message?.(m, { address: '10.0.0.2', port: 4500 }), fail: (e: Error) => handlers.error?.(e) };
  const socket: ExchangeSocket = {
    on: ((event: string, listener: never) => { (handlers as Record<string, unknown>)[event] = listener; return socket; }) as ExchangeSocket['on'],
    bind: (_port, _address, callback) => { setImmediate(callback); return socket; },
    send: (message, _port, _address, callback) => { sent.push(message); const error = onSend(message, api); setImmediate(() => callback(error)); return socket; },
    close: (callback) => { closed = true; callback(); return socket; },
    address: () => ({ address: '0.0.0.0', port: 40001 }),
  };
  return { socket, sent, isClosed: () => closed, ...api };
}

test('udpExchange: the payload knows its source port; a retransmission goes out when the first is lost; only an accepted datagram ends it', async () => {
  let sends = 0;
  const fake = fakeUdp((_m, s) => {
    sends++;
    if (sends === 2) setImmediate(() => { s.deliver(Buffer.from('noise')); s.deliver(Buffer.from('answer')); });
    return null;
  });
  const result = await udpExchange({
    target: '10.0.0.2', port: 4500, sends: 3, timeoutMs: 300, createSocket: () => fake.socket,
    payload: ({ port }) => Buffer.from(`from ${port}`), accept: (m) => m.toString() === 'answer',
  });
  assert.equal(result.answered, true);
  assert.deepEqual(fake.sent.map((m) => m.toString()), ['from 40001', 'from 40001']);
  assert.ok(fake.isClosed());
});

test('udpExchange: silence until the deadline after every send; datagrams that are not the answer are counted and kept', async () => {
  const fake = fakeUdp((_m, s) => { setImmediate(() => s.deliver(Buffer.from('junk'))); return null; });
  const result = await udpExchange({ target: '10.0.0.2', port: 4500, sends: 2, timeoutMs: 100, createSocket: () => fake.socket, payload: () => Buffer.alloc(1), accept: () => false });
  assert.equal(result.answered, false);
  assert.ok(!result.answered && result.sends === 2 && result.waitedMs === 100 && result.rejected === 2 && result.lastRejected?.toString() === 'junk');
  assert.ok(fake.isClosed());
});

test('udpExchange: every send refused locally ends it at once with the error; a payload that throws too', async () => {
  const fake = fakeUdp(() => Object.assign(new Error('send ENETUNREACH 10.0.0.2:4500'), { code: 'ENETUNREACH' }));
  const started = performance.now();
  const result = await udpExchange({ target: '10.0.0.2', port: 4500, sends: 1, timeoutMs: 5000, createSocket: () => fake.socket, payload: () => Buffer.alloc(1), accept: () => true });
  assert.ok(!result.answered && /ENETUNREACH/.test(result.error ?? ''));
  assert.ok(performance.now() - started < 2000, 'not the whole deadline');
  const bad = await udpExchange({ target: 'x', port: 1, sends: 1, timeoutMs: 5000, createSocket: () => fakeUdp().socket, payload: () => { throw new Error('cannot encode'); }, accept: () => true });
  assert.ok(!bad.answered && bad.error === 'cannot encode' && bad.sends === 0);
});

function fakeIcmp(reply: (dst: string, id: number, seq: number) => EchoReply | 'throw' | null) {
  const opened: IcmpSocketOptions[] = [];
  let closed = 0;
  const open = (options: IcmpSocketOptions): IcmpSocket => {
    opened.push(options);
    const socket: IcmpSocket = {
      send(dst, id, seq) {
        const answer = reply(dst, id, seq);
        if (answer === 'throw') throw Object.assign(new Error('sendto(): Network is unreachable'), { code: 'ENETUNREACH' });
        if (answer) setImmediate(() => options.onReplies([answer]));
        return 0n;
      },
      close() { closed++; }, closed: false, ref: () => socket, unref: () => socket,
    };
    return socket;
  };
  return { open, opened, closed: () => closed };
}
const echoReply = (src: string, id: number, seq: number): EchoReply => ({ src, dst: '10.1.1.1', id, seq, ttl: 64, sentNs: 0n, receivedNs: 0n, rttNs: 0 });

test('echoProbe: a reply with our id from the target ends it; replies for others do not; the socket is closed', async () => {
  const fake = fakeIcmp((dst, id, seq) => (seq === 2 ? echoReply(dst, id, seq) : echoReply('10.9.9.9', id, seq)));
  const result = await echoProbe({ open: fake.open, source: '10.1.1.1', target: '10.2.1.1', sends: 3, timeoutMs: 300, id: 77 });
  assert.equal(result.replied, true);
  assert.equal(fake.opened[0]!.source, '10.1.1.1');
  assert.equal(fake.closed(), 1);
  const other = fakeIcmp((dst, _id, seq) => echoReply(dst, 78, seq));
  const silent = await echoProbe({ open: other.open, target: '10.2.1.1', sends: 2, timeoutMs: 80, id: 77 });
  assert.deepEqual(silent, { replied: false, sends: 2, waitedMs: 80 });
});

test('echoProbe: sends the kernel refuses, and a socket that cannot open, are reported, not thrown', async () => {
  const refusing = fakeIcmp(() => 'throw');
  const result = await echoProbe({ open: refusing.open, target: '10.2.1.1', sends: 2, timeoutMs: 5000 });
  assert.ok(!result.replied && result.sends === 0 && /Network is unreachable/.test(result.error ?? ''));
  const cannot = await echoProbe({ open: () => { throw new Error('socket(): Operation not permitted'); }, target: '10.2.1.1', sends: 1, timeoutMs: 100 });
  assert.deepEqual(cannot, { replied: false, sends: 0, waitedMs: 0, error: 'socket(): Operation not permitted' });
});

test('dfPing: DF set, the payload size is the packet less 28, ping\'s MTU report is the hint; only ping failing to run throws', async () => {
  const calls: string[][] = [];
  const runner = (answer: Partial<ExecResult>) => (async (file: string, args: readonly string[]) => { calls.push([file, ...args]); return { code: 0, stdout: '', stderr: '', ...answer }; }) as never;
  assert.deepEqual(await dfPing(runner({ code: 0 }), { source: '10.1.1.1', target: '10.2.1.1', size: 1400, timeoutMs: 1000 }), { replied: true });
  assert.deepEqual(calls[0], ['ping', '-n', '-c', '1', '-W', '1.0', '-M', 'do', '-s', '1372', '-I', '10.1.1.1', '10.2.1.1']);
  assert.deepEqual(await dfPing(runner({ code: 1, stdout: 'From 10.0.0.1 icmp_seq=1 Frag needed and DF set (mtu = 1300)' }), { source: 's', target: 't', size: 1400, timeoutMs: 1000 }), { replied: false, mtuHint: 1300 });
  assert.deepEqual(await dfPing(runner({ code: 2, stderr: 'ping: local error: message too long, mtu=1400' }), { source: 's', target: 't', size: 1500, timeoutMs: 1000 }), { replied: false, mtuHint: 1400 });
  await assert.rejects(dfPing(runner({ code: 2, stderr: 'ping: bind icmp socket: Cannot assign requested address' }), { source: 's', target: 't', size: 1500, timeoutMs: 1000 }), /ping exited 2: ping: bind icmp socket/);
  assert.equal(pingMtuHint('no mtu here'), undefined);
});

test('route lookup and XFRM policy listings are read from the tools\' output; garbage reads as nothing', () => {
  assert.deepEqual(parseRouteGet('[{"dst":"10.2.1.1","dev":"ipsec0","prefsrc":"10.1.1.1","flags":[],"uid":0,"cache":[]}]'), { dev: 'ipsec0' });
  assert.deepEqual(parseRouteGet('[{"dst":"10.2.1.1","dev":"eth0","metrics":[{"mtu":1300}],"cache":["expires"]}]'), { dev: 'eth0', mtu: 1300 });
  for (const garbage of ['', 'not json', '[]', '[1]', '[{"dst":"x"}]', '{"dev":"x"}']) assert.equal(parseRouteGet(garbage), null, garbage);
  const listing = 'src 10.0.0.0/24 dst 10.1.0.0/24 \n\tdir out priority 0 ptype main \n\ttmpl src 1.1.1.1 dst 2.2.2.2\n\t\tproto esp reqid 0 mode tunnel\nsrc 10.1.0.0/24 dst 10.0.0.0/24 \n\tdir fwd priority 0\n';
  assert.deepEqual(parseXfrmPolicies(listing), { count: 2, sample: ['10.0.0.0/24 -> 10.1.0.0/24 out', '10.1.0.0/24 -> 10.0.0.0/24 fwd'] });
  assert.deepEqual(parseXfrmPolicies(listing, 1).sample.length, 1);
  assert.deepEqual(parseXfrmPolicies(''), { count: 0, sample: [] });
});

test('httpGet (on loopback): status and body; refused with its code; a slow answer times out; an oversized one is refused', async () => {
  const server = createServer((req, res) => {
    if (req.url === '/slow') return; // never answers
    if (req.url === '/big') { res.end(Buffer.alloc(5000, 97)); return; }
    res.writeHead(503).end('not ready\nreason\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  try {
    const answer = await httpGet({ url: `http://127.0.0.1:${port}`, path: '/readyz', timeoutMs: 2000 });
    assert.deepEqual([answer.status, answer.body], [503, 'not ready\nreason\n']);
    await assert.rejects(httpGet({ url: `http://127.0.0.1:${port}`, path: '/slow', timeoutMs: 100 }), (e: Error & { code?: string }) => e.code === 'ETIMEDOUT');
    await assert.rejects(httpGet({ url: `http://127.0.0.1:${port}`, path: '/big', timeoutMs: 2000, maxBytes: 1000 }), (e: Error & { code?: string }) => e.code === 'E2BIG');
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  await assert.rejects(httpGet({ url: `http://127.0.0.1:${port}`, path: '/', timeoutMs: 2000 }), (e: Error & { code?: string }) => e.code === 'ECONNREFUSED');
  await assert.rejects(httpGet({ socketPath: '/nonexistent/seaway.sock', path: '/healthz', timeoutMs: 2000 }), (e: Error & { code?: string }) => e.code === 'ENOENT');
});
