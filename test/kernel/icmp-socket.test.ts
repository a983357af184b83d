import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { runInsideNetns } from '../helpers/in-netns.ts';
import { createNetns } from '../helpers/netns.ts';
import { requireTools } from '../helpers/prereq.ts';
import { waitFor } from '../helpers/wait.ts';
import { run } from '../../src/kernel/exec.ts';
import { ICMP_ADDON_PATH, loadIcmpAddon, openIcmpSocket, type EchoReply, type IcmpSocket, type IcmpSocketOptions } from '../../src/kernel/icmp-socket.ts';

// This file runs in its own namespace ("self"); the targets live in a second one ("peer") joined by
// a veth, so every probe and reply is a real packet through the kernel, and nothing leaves them.
await runInsideNetns(import.meta.url, 'icmp');
requireTools('ip', 'ping');
const addon = loadIcmpAddon();

const peer = await createNetns('icmpp');
after(() => peer.destroy());
const inPeer = (args: string[], input?: string) => run('ip', ['-n', peer.name, ...args], { input });

/** 50 answering targets (10.77.1.1-50 on the peer's lo), routed through the peer. */
const TARGETS = Array.from({ length: 50 }, (_, i) => `10.77.1.${i + 1}`);
/** Routed to the peer, which has no such address and answers with ICMP host unreachable, never an echo reply. */
const SILENT = '10.77.2.1';
/** A source address of self that the peer can only answer by its own route (not the veth's subnet). */
const SOURCE = '10.77.3.1';
/** Reachable only through policy routing on a firewall mark. */
const MARKED_TARGET = '10.77.4.1';
const MARK = 0x5ea;

await run('ip', ['link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb', 'netns', peer.name]);
await run('ip', ['addr', 'add', '10.77.0.1/24', 'dev', 'va']);
await run('ip', ['addr', 'add', `${SOURCE}/32`, 'dev', 'lo']);
await run('ip', ['link', 'set', 'va', 'up']);
for (const prefix of ['10.77.1.0/24', '10.77.2.0/24']) await run('ip', ['route', 'add', prefix, 'via', '10.77.0.2']);
await run('ip', ['rule', 'add', 'fwmark', String(MARK), 'table', '77', 'pref', '100']);
await run('ip', ['route', 'add', '10.77.4.0/24', 'via', '10.77.0.2', 'table', '77']);
// The marked target's replies have no unmarked route back: reverse-path filtering (inherited from
// the root namespace's settings) must not drop them in this throwaway namespace.
for (const conf of ['all', 'va']) await run('sysctl', ['-qw', `net.ipv4.conf.${conf}.rp_filter=0`]);

await inPeer(['addr', 'add', '10.77.0.2/24', 'dev', 'vb']);
await inPeer(['link', 'set', 'vb', 'up']);
await inPeer(['-batch', '-'], [...TARGETS, MARKED_TARGET].map((a) => `addr add ${a}/32 dev lo\n`).join(''));
await inPeer(['route', 'add', `${SOURCE}/32`, 'via', '10.77.0.1']);
await inPeer(['route', 'add', 'unreachable', '10.77.2.0/24']);
// A host that does not forward drops an unroutable packet silently; forwarding makes the peer
// answer with ICMP host unreachable, which the socket's ICMP_FILTER must keep out.
await peer.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);

/** A socket whose replies accumulate in `replies`; closed after the test. */
function openCollecting(t: { after(fn: () => void): void }, options: Omit<IcmpSocketOptions, 'onReplies'> = {}): { socket: IcmpSocket; replies: EchoReply[]; batches: number } {
  const state = { replies: [] as EchoReply[], batches: 0, socket: undefined as unknown as IcmpSocket };
  state.socket = openIcmpSocket(addon, {
    ...options,
    onReplies: (batch) => {
      state.batches++;
      state.replies.push(...batch);
    },
  });
  t.after(() => state.socket.close());
  return state;
}

/** Sends one more probe and waits for its reply: everything queued on the socket before it has been handled. */
async function barrier(socket: IcmpSocket, replies: EchoReply[], id: number): Promise<void> {
  socket.send('10.77.0.2', id, 0xffff);
  await waitFor(`the barrier reply (id ${id})`, () => replies.some((r) => r.id === id && r.seq === 0xffff), { timeoutMs: 5000 });
}

/** Raw IPv4 ICMP sockets open in this namespace (/proc/net/raw is per namespace; the "port" is the protocol). */
function rawIcmpSockets(): number {
  return readFileSync('/proc/net/raw', 'utf8').split('\n').slice(1).filter((line) => /^\s*\d+: [0-9A-F]{8}:0001 /.test(line)).length;
}

/** This namespace's count of ICMP destination-unreachable messages received. */
function icmpInDestUnreachs(): number {
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((line) => line.startsWith('Icmp: '));
  const [names, values] = lines.map((line) => line.split(/\s+/).slice(1));
  return Number(values![names!.indexOf('InDestUnreachs')]);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

test('50 targets probed at once: every reply is matched to its id and seq, with a positive RTT; a target that does not answer gets none', async (t) => {
  const { socket, replies } = openCollecting(t);
  const unreachableBefore = icmpInDestUnreachs();
  socket.send(SILENT, 0x0999, 1);
  const sent = new Map<string, { dst: string; sentNs: bigint }>();
  TARGETS.forEach((dst, i) => {
    const id = 0x1000 + i;
    const seq = (i * 977) % 65536;
    sent.set(`${id}/${seq}`, { dst, sentNs: socket.send(dst, id, seq) });
  });
  await waitFor('50 echo replies', () => replies.length >= 50, { timeoutMs: 10_000 });
  // The silent target's answer (a host unreachable from the peer) has arrived and was no reply.
  await waitFor(`the peer's host unreachable for ${SILENT}`, () => icmpInDestUnreachs() > unreachableBefore, { timeoutMs: 5000 });
  await barrier(socket, replies, 0x0998);

  const answers = replies.filter((r) => r.id !== 0x0998);
  assert.equal(answers.length, 50, `exactly one reply per probe: ${answers.map((r) => `${r.src} ${r.id}/${r.seq}`).join(', ')}`);
  for (const reply of answers) {
    const probe = sent.get(`${reply.id}/${reply.seq}`);
    assert.ok(probe, `a reply for a probe that was sent: ${reply.id}/${reply.seq} from ${reply.src}`);
    assert.equal(reply.src, probe.dst, `id ${reply.id} answered by the address it was sent to`);
    assert.equal(reply.sentNs, probe.sentNs, 'the reply carries the send time send() returned');
    assert.ok(reply.receivedNs > reply.sentNs, `received after sent (${reply.sentNs} -> ${reply.receivedNs})`);
    assert.equal(reply.rttNs, Number(reply.receivedNs - reply.sentNs));
    assert.ok(reply.rttNs > 0 && reply.rttNs < 5e9, `a plausible RTT: ${reply.rttNs} ns`);
    assert.equal(reply.ttl, 64, 'one hop on the veth: the peer answers with TTL 64');
  }
  assert.equal(new Set(answers.map((r) => `${r.id}/${r.seq}`)).size, 50, 'no probe answered twice');
  assert.ok(!replies.some((r) => r.src === SILENT), `no reply from ${SILENT}`);
});

test('probes leave from the bound source address; a source that is not local is refused with a clear error', async (t) => {
  const { socket, replies } = openCollecting(t, { source: SOURCE });
  const unbound = openCollecting(t);
  socket.send('10.77.0.2', 0x2000, 1);
  unbound.socket.send('10.77.0.2', 0x2001, 1);
  // The peer answers to the probe's source address (its route to SOURCE is not the veth's subnet).
  await waitFor('the replies to both sockets', () => replies.length >= 1 && unbound.replies.length >= 1, { timeoutMs: 5000 });
  assert.deepEqual(replies.map((r) => [r.src, r.dst, r.id, r.seq]), [['10.77.0.2', SOURCE, 0x2000, 1]]);
  assert.deepEqual(unbound.replies.map((r) => [r.src, r.dst, r.id, r.seq]), [['10.77.0.2', '10.77.0.1', 0x2001, 1]], 'unbound: the routing source');

  assert.throws(() => openIcmpSocket(addon, { source: '10.99.99.99', onReplies: () => {} }), (error: NodeJS.ErrnoException) => {
    assert.equal(error.message, 'bind(10.99.99.99): Cannot assign requested address');
    assert.equal(error.code, 'EADDRNOTAVAIL');
    assert.equal(error.syscall, 'bind');
    return true;
  });
  for (const bad of ['not-an-address', '::1', '10.77.3', '10.77.3.1.5', '']) {
    assert.throws(() => openIcmpSocket(addon, { source: bad, onReplies: () => {} }), TypeError, bad);
  }
  assert.throws(() => openIcmpSocket(addon, { source: 0x0a4d0301 as unknown as string, onReplies: () => {} }), TypeError);
});

test('SO_MARK steers probes through policy routing; without the mark sendto fails with a clear error', async (t) => {
  const unmarked = openCollecting(t);
  assert.throws(() => unmarked.socket.send(MARKED_TARGET, 0x3000, 1), (error: NodeJS.ErrnoException) => {
    assert.equal(error.message, `sendto(${MARKED_TARGET}): Network is unreachable`);
    assert.equal(error.code, 'ENETUNREACH');
    return true;
  });
  const marked = openCollecting(t, { mark: MARK });
  marked.socket.send(MARKED_TARGET, 0x3001, 1);
  await waitFor('the reply through the marked route', () => marked.replies.length >= 1, { timeoutMs: 5000 });
  assert.deepEqual(marked.replies.map((r) => [r.src, r.id, r.seq]), [[MARKED_TARGET, 0x3001, 1]]);

  for (const bad of [-1, 2 ** 32, 1.5, Number.NaN]) {
    assert.throws(() => openIcmpSocket(addon, { mark: bad, onReplies: () => {} }), RangeError, String(bad));
  }
  assert.throws(() => openIcmpSocket(addon, { mark: '1' as unknown as number, onReplies: () => {} }), TypeError);
});

test('close() closes the fd and no callback runs after it, even for replies already on their way', async (t) => {
  const before = rawIcmpSockets();
  const closing = openCollecting(t);
  assert.equal(rawIcmpSockets(), before + 1);
  for (let i = 1; i <= 10; i++) closing.socket.send(TARGETS[i]!, 0x4000, i);
  closing.socket.close();
  assert.equal(closing.socket.closed, true);
  assert.equal(rawIcmpSockets(), before, 'the raw socket is gone from the namespace');
  assert.throws(() => closing.socket.send(TARGETS[0]!, 0x4000, 99), { code: 'ERR_SOCKET_CLOSED' });
  closing.socket.close(); // twice is fine

  // A socket that closes itself from its first batch gets no second one.
  const selfClosing = { batches: 0, socket: undefined as unknown as IcmpSocket };
  selfClosing.socket = openIcmpSocket(addon, { onReplies: () => { selfClosing.batches++; selfClosing.socket.close(); } });
  t.after(() => selfClosing.socket.close());
  for (let i = 1; i <= 10; i++) selfClosing.socket.send(TARGETS[i]!, 0x4001, i);
  await waitFor('the first batch', () => selfClosing.batches >= 1, { timeoutMs: 5000 });
  for (let i = 11; i <= 20; i++) assert.throws(() => selfClosing.socket.send(TARGETS[i]!, 0x4001, i), { code: 'ERR_SOCKET_CLOSED' });

  // Another socket's round trip through the same event loop: any pending callback would have run by now.
  const witness = openCollecting(t);
  await barrier(witness.socket, witness.replies, 0x4002);
  assert.equal(closing.batches, 0, 'no callback after close()');
  assert.equal(selfClosing.batches, 1, 'no callback after close() from inside a callback');
});

test('a socket dropped without close() is closed by its finalizer', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const before = rawIcmpSockets();
  (() => {
    openIcmpSocket(addon, { onReplies: () => {} }).send('10.77.0.2', 0x5000, 1);
  })();
  assert.equal(rawIcmpSockets(), before + 1);
  await waitFor('the finalizer to close the dropped socket', () => {
    gc();
    return rawIcmpSockets() === before;
  }, { timeoutMs: 10_000 });
});

test("replies to ping and to another seaway socket in the same namespace are not taken for one's own", async (t) => {
  const a = openCollecting(t);
  const b = openCollecting(t);
  const ping = await run('ping', ['-n', '-c', '5', '-i', '0.01', '-W', '2', '10.77.0.2'], { timeoutMs: 20_000, allowFailure: true });
  assert.equal(ping.code, 0, ping.stdout + ping.stderr);
  for (let seq = 1; seq <= 5; seq++) {
    a.socket.send('10.77.0.2', 0x6000, seq);
    b.socket.send('10.77.0.2', 0x6001, seq);
  }
  await waitFor('both sockets\' five replies', () => a.replies.length >= 5 && b.replies.length >= 5, { timeoutMs: 5000 });
  await barrier(a.socket, a.replies, 0x6000);
  await barrier(b.socket, b.replies, 0x6001);
  assert.deepEqual(a.replies.map((r) => `${r.id}/${r.seq}`), ['1', '2', '3', '4', '5', '65535'].map((seq) => `${0x6000}/${seq}`));
  assert.deepEqual(b.replies.map((r) => `${r.id}/${r.seq}`), ['1', '2', '3', '4', '5', '65535'].map((seq) => `${0x6001}/${seq}`));
});

test('malformed calls are refused before anything is sent', (t) => {
  const { socket } = openCollecting(t);
  assert.throws(() => socket.send('10.77.0.256', 1, 1), TypeError);
  assert.throws(() => socket.send('10.77.0.2', 65536, 1), RangeError);
  assert.throws(() => socket.send('10.77.0.2', 1, -1), RangeError);
  assert.throws(() => socket.send('10.77.0.2', 1.5, 1), RangeError);
  assert.throws(() => (socket.send as (...args: unknown[]) => bigint)('10.77.0.2', 1), TypeError);
  assert.throws(() => socket.send.call({} as IcmpSocket, '10.77.0.2', 1, 1), TypeError);
  assert.throws(() => openIcmpSocket(addon, {} as IcmpSocketOptions), /options\.onReplies must be a function/);
  assert.throws(() => openIcmpSocket(addon, { onReplies: () => {}, onError: 1 as unknown as () => void }), /options\.onError must be a function/);
  assert.throws(() => new (addon.IcmpSocket as unknown as new (o: unknown) => unknown)(null), /options must be an object/);
});

test('without CAP_NET_RAW opening fails with the errno text, not silently', async () => {
  try {
    execFileSync('sh', ['-c', 'command -v setpriv'], { stdio: 'ignore' });
  } catch {
    throw new Error('missing setpriv: install with apt-get install --no-install-recommends util-linux (or run npm run bootstrap)');
  }
  const script = `
    import { loadIcmpAddon, openIcmpSocket } from ${JSON.stringify(new URL('../../src/kernel/icmp-socket.ts', import.meta.url).href)};
    try { openIcmpSocket(loadIcmpAddon(${JSON.stringify(ICMP_ADDON_PATH)}), { onReplies() {} }); console.log('opened'); }
    catch (e) { console.log(JSON.stringify({ message: e.message, code: e.code })); }`;
  const result = await run('setpriv', ['--bounding-set=-net_raw', '--inh-caps=-net_raw', '--', process.execPath, '--input-type=module', '-e', script], { timeoutMs: 20_000 });
  assert.deepEqual(JSON.parse(result.stdout.trim()), { message: 'socket(): Operation not permitted', code: 'EPERM' });
});

test('sanity check against ping: median RTT of 100 probes over the veth is within a generous factor of ping -c 100 -i 0.01', async (t) => {
  const { socket, replies } = openCollecting(t);
  const ping = await run('ping', ['-n', '-c', '100', '-i', '0.01', '-W', '2', '10.77.0.2'], { timeoutMs: 30_000, allowFailure: true });
  assert.equal(ping.code, 0, ping.stdout + ping.stderr);
  const pingUs = [...ping.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]) * 1000);
  assert.equal(pingUs.length, 100, ping.stdout);
  // The same pacing as ping: one probe every 10 ms.
  for (let seq = 0; seq < 100; seq++) {
    socket.send('10.77.0.2', 0x7000, seq);
    await delay(10);
  }
  await waitFor('100 replies', () => replies.length >= 100, { timeoutMs: 10_000 });
  assert.equal(replies.length, 100);
  const oursUs = median(replies.map((r) => r.rttNs / 1000));
  const theirsUs = median(pingUs);
  console.log(`# median RTT over the veth, 100 probes each: seaway_icmp ${oursUs.toFixed(1)} µs, ping ${theirsUs.toFixed(1)} µs (ratio ${(oursUs / theirsUs).toFixed(2)})`);
  assert.ok(oursUs > 0);
  assert.ok(oursUs <= theirsUs * 10 + 200, `seaway_icmp's median ${oursUs} µs is far above ping's ${theirsUs} µs`);
  assert.ok(oursUs >= theirsUs / 10, `seaway_icmp's median ${oursUs} µs is implausibly below ping's ${theirsUs} µs`);
});
