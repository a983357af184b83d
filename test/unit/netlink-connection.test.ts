/**
 * NetlinkConnection against a scripted socket: deadlines and reopening, DUMP_INTR retries,
 * socket errors, and per-request batch outcomes, without the kernel.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as afterCloseLater, setTimeout as pause } from 'node:timers/promises';
import { NLM_F_DUMP_INTR, type NetlinkMessage } from '../../src/kernel/netlink/codec.ts';
import { NetlinkConnection, NetlinkTimeoutError, type NetlinkConnectionOptions } from '../../src/kernel/netlink/connection.ts';
import { doneReply, errorReply, fakeFactory, objectReply, type FakeNetlinkSocket } from '../helpers/fake-netlink-socket.ts';
import { waitFor } from '../helpers/wait.ts';

const RTM_GETLINK = 18;
const RTM_NEWLINK = 16;
const RTM_NEWROUTE = 24;
const EEXIST = 17;
const ENOENT = 2;

/** Answers every dump with two objects and DONE, and every batch with its errors and final ACK. */
function answerAll(messages: NetlinkMessage[], socket: FakeNetlinkSocket): void {
  const first = messages[0]!;
  if (first.flags & 0x300) {
    socket.reply(objectReply(first.seq, RTM_NEWLINK), objectReply(first.seq, RTM_NEWLINK), doneReply(first.seq));
    return;
  }
  socket.reply(errorReply(messages.at(-1)!.seq, 0));
}

function connection(options: NetlinkConnectionOptions & { setup?: (socket: FakeNetlinkSocket, index: number) => void } = {}) {
  const { sockets, factory } = fakeFactory(options.setup);
  const warnings: string[] = [];
  const conn = new NetlinkConnection({ timeoutMs: 60, dumpRetryDelayMs: 5, warn: (m) => warnings.push(m), ...options, socketFactory: factory });
  return { conn, sockets, warnings };
}

const dump = (conn: NetlinkConnection) => conn.dump(RTM_GETLINK, [Buffer.alloc(16)]);
const route = () => ({ type: RTM_NEWROUTE, flags: 0, body: [Buffer.alloc(12)] });

describe('NetlinkConnection', () => {
  it('dumps through the socket and unrefs it once the reply is in', async () => {
    let referencedWhileWaiting = false;
    const { conn, sockets } = connection({ setup: (s) => { s.onSend = (m, socket) => { referencedWhileWaiting = socket.referenced; answerAll(m, socket); }; } });
    assert.equal(sockets[0]!.referenced, false, 'an idle socket does not keep the process alive');
    assert.equal((await dump(conn)).length, 2);
    assert.equal(referencedWhileWaiting, true, 'the socket keeps the process alive while a reply is awaited');
    assert.equal(sockets[0]!.referenced, false);
    conn.close();
  });

  it('a lost reply fails with ETIMEDOUT, the socket is reopened and the next dump succeeds', async () => {
    // The first socket never answers; its replacement does.
    const { conn, sockets } = connection({ setup: (s, i) => { if (i > 0) s.onSend = answerAll; } });
    const error = await dump(conn).then(() => assert.fail('resolved'), (e: unknown) => e);
    assert.ok(error instanceof NetlinkTimeoutError, String(error));
    assert.equal(error.code, 'ETIMEDOUT');
    assert.match(error.message, /no reply from the kernel within 60 ms/);
    await afterCloseLater();
    assert.equal(sockets[0]!.closed, true, 'the old socket is closed');
    assert.equal((await dump(conn)).length, 2);
    assert.equal(sockets.length, 2);
    conn.close();
  });

  it('the deadline is on silence: a dump that keeps answering outlives it, one that goes quiet fails', async () => {
    // The test answers. Replies 10 ms apart against a 400 ms deadline: only a stall of almost 400 ms
    // on a busy machine could make this half fail for a reason other than the deadline's.
    const { conn, sockets } = connection({ timeoutMs: 400 });
    const answering = dump(conn);
    await waitFor('the dump request', () => sockets[0]!.sent.length);
    const seq = sockets[0]!.sent[0]![0]!.seq;
    // Ninety objects: 900 ms in all, more than two deadlines, never 400 ms silent.
    for (let i = 0; i < 90; i++) {
      await pause(10);
      sockets[0]!.reply(objectReply(seq, RTM_NEWLINK));
    }
    sockets[0]!.reply(doneReply(seq));
    assert.equal((await answering).length, 90);

    const quiet = dump(conn);
    await waitFor('the second dump request', () => sockets[0]!.sent.length === 2);
    const quietSeq = sockets[0]!.sent[1]![0]!.seq;
    for (let i = 0; i < 3; i++) {
      await pause(10);
      sockets[0]!.reply(objectReply(quietSeq, RTM_NEWLINK));
    }
    await assert.rejects(quiet, { code: 'ETIMEDOUT' });
    conn.close();
  });

  it('a late reply on the old socket answers nothing', async () => {
    const { conn, sockets } = connection(); // nobody answers until the test does
    await assert.rejects(dump(conn), { code: 'ETIMEDOUT' });
    const next = dump(conn);
    let settled = false;
    next.then(() => { settled = true; }, () => { settled = true; });
    await waitFor('the request on the new socket', () => sockets[1]?.sent.length);
    const seq = sockets[1]!.sent[0]![0]!.seq;
    sockets[0]!.reply(objectReply(seq, RTM_NEWLINK), doneReply(seq));
    await afterCloseLater();
    assert.equal(settled, false, 'the old socket cannot answer the new request');
    sockets[1]!.reply(doneReply(seq));
    assert.deepEqual(await next, []);
    conn.close();
  });

  it('when one request times out, the others waiting on that socket fail saying it was reopened', async () => {
    const { conn } = connection({ timeoutMs: 100 });
    const first = conn.batch([route()]);
    first.catch(() => undefined);
    const second = conn.batch([route()]);
    await assert.rejects(first, NetlinkTimeoutError);
    const error = await second.then(() => assert.fail('resolved'), (e: unknown) => e);
    assert.ok(error instanceof Error && !(error instanceof NetlinkTimeoutError), String(error));
    assert.match(error.message, /reopened after another request got no reply/);
    conn.close();
  });

  it('retries an interrupted dump after a pause, not back to back, then returns the clean one', async () => {
    const pauses: number[] = [];
    let endPause = () => {};
    const { conn, sockets } = connection({
      dumpRetryDelayMs: 30,
      pause: (ms) => { pauses.push(ms); return new Promise((resolve) => { endPause = resolve; }); },
      setup: (s) => {
        s.onSend = (messages, socket) => {
          const seq = messages[0]!.seq;
          if (socket.sent.length === 1) socket.reply(objectReply(seq, RTM_NEWLINK, NLM_F_DUMP_INTR), doneReply(seq, NLM_F_DUMP_INTR));
          else answerAll(messages, socket);
        };
      },
    });
    const result = dump(conn);
    await waitFor('the pause after the interrupted dump', () => pauses.length === 1);
    assert.ok(pauses[0]! >= 15 && pauses[0]! <= 30, `first pause ${pauses[0]} ms is drawn from [15, 30]`);
    assert.equal(sockets[0]!.sent.length, 1, 'not retried before the pause ends');
    endPause();
    assert.equal((await result).length, 2);
    assert.equal(sockets[0]!.sent.length, 2, 'dumped twice');
    conn.close();
  });

  it('gives up on a dump that is interrupted every time, after the configured attempts', async () => {
    const { conn, sockets } = connection({
      dumpAttempts: 4,
      setup: (s) => { s.onSend = (messages, socket) => socket.reply(doneReply(messages[0]!.seq, NLM_F_DUMP_INTR)); },
    });
    await assert.rejects(dump(conn), /interrupted by concurrent changes \(NLM_F_DUMP_INTR\) 4 times/);
    assert.equal(sockets[0]!.sent.length, 4);
    conn.close();
  });

  it('a socket error fails the waiting request, and the next request opens a fresh socket', async () => {
    const { conn, sockets } = connection({ timeoutMs: 5000, setup: (s, i) => { if (i > 0) s.onSend = answerAll; } });
    const pending = dump(conn);
    await waitFor('the dump to be sent', () => sockets[0]?.sent.length);
    sockets[0]!.fail('ENOBUFS');
    await assert.rejects(pending, /socket error ENOBUFS; replies are lost and the socket is reopened/);
    await afterCloseLater();
    assert.equal(sockets[0]!.closed, true);
    assert.equal((await dump(conn)).length, 2);
    assert.equal(sockets.length, 2);
    conn.close();
  });

  it('a socket the binding closed on its own is replaced at the next request', async () => {
    const { conn, sockets } = connection({ setup: (s, i) => { if (i === 0) s.throwOnSend = true; else s.onSend = answerAll; } });
    await assert.rejects(dump(conn), /netlink socket unusable/);
    assert.equal((await dump(conn)).length, 2);
    assert.equal(sockets.length, 2);
    conn.close();
  });

  it('a send error fails that request only', async () => {
    const { conn, sockets } = connection({ setup: (s) => { s.sendError = Object.assign(new Error('x'), { code: 'EMSGSIZE' }); } });
    await assert.rejects(dump(conn), /netlink send failed: EMSGSIZE/);
    assert.equal(sockets.length, 1);
    assert.equal(sockets[0]!.closed, false);
    conn.close();
  });

  it('a malformed datagram is treated as lost replies', async () => {
    const { conn, sockets } = connection({ timeoutMs: 5000, setup: (s, i) => {
      s.onSend = i === 0 ? (_m, socket) => socket.emit('message', Buffer.alloc(8, 0xff)) : answerAll;
    } });
    await assert.rejects(dump(conn), /malformed at byte 0/);
    assert.equal((await dump(conn)).length, 2);
    assert.equal(sockets.length, 2);
    conn.close();
  });

  it('returns each request\'s outcome across chunks, in order', async () => {
    const failing = new Map([[3, EEXIST], [300, ENOENT], [599, EEXIST]]);
    const { conn, sockets } = connection({
      setup: (s) => {
        s.onSend = (messages, socket) => {
          const base = sockets[0]!.sent.flat()[0]!.seq;
          const replies: Buffer[] = [];
          for (const msg of messages) {
            const errno = failing.get(msg.seq - base);
            if (errno) replies.push(errorReply(msg.seq, errno));
            else if (msg === messages.at(-1)) replies.push(errorReply(msg.seq, 0));
          }
          socket.reply(...replies);
        };
      },
    });
    const outcomes = await conn.batch(Array.from({ length: 600 }, route));
    assert.equal(outcomes.length, 600);
    assert.equal(sockets[0]!.sent.length, 3, 'three datagrams of at most 256 requests');
    assert.deepEqual(sockets[0]!.sent.map((d) => d.filter((m) => m.flags & 0x4).length), [1, 1, 1], 'one ACK asked per chunk');
    for (let i = 0; i < 600; i++) assert.equal(outcomes[i], failing.get(i) ?? 0, `request ${i}`);
    conn.close();
  });

  it('a batch whose later chunk is lost rejects, with no unhandled rejection from the others', async () => {
    const { conn } = connection({
      setup: (s) => {
        let datagrams = 0;
        s.onSend = (messages, socket) => { if (++datagrams !== 2) socket.reply(errorReply(messages.at(-1)!.seq, 0)); };
      },
    });
    await assert.rejects(conn.batch(Array.from({ length: 256 * 6 }, route)), { code: 'ETIMEDOUT' });
    await afterCloseLater(); // an unhandled rejection of another chunk would surface here and fail the run
    conn.close();
  });

  it('reports a receive buffer the kernel capped, once', async () => {
    const { conn, warnings } = connection({ setup: (s) => { s.recvBufferSize = 425_984; } });
    assert.deepEqual(conn.receiveBuffer, { requested: 4 * 1024 * 1024, granted: 425_984, capped: true });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /receive buffer is 425984 bytes .*SO_RCVBUFFORCE/);
    conn.close();
  });

  it('after close, waiting requests fail and new ones are refused', async () => {
    const { conn, sockets } = connection({ timeoutMs: 5000 });
    const pending = dump(conn);
    await waitFor('the dump to be sent', () => sockets[0]?.sent.length);
    conn.close();
    await assert.rejects(pending, /connection closed/);
    await assert.rejects(dump(conn), /connection is closed/);
    await afterCloseLater();
    assert.equal(sockets[0]!.closed, true);
  });

  it('ignores replies for sequence numbers nobody waits for', async () => {
    const { conn, sockets } = connection({ setup: (s) => { s.onSend = (messages, socket) => { socket.reply(errorReply(99999, ENOENT)); answerAll(messages, socket); }; } });
    assert.equal((await dump(conn)).length, 2);
    assert.equal(sockets.length, 1);
    conn.close();
  });
});
