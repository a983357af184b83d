/**
 * nfnetlinkDump against a scripted socket: NLM_F_DUMP_INTR is retried after a delay, a dump that
 * stays interrupted or never ends is "netlink cannot answer" (null), and each socket is closed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as afterCloseLater } from 'node:timers/promises';
import { NLM_F_DUMP_INTR } from '../../src/kernel/netlink/codec.ts';
import { nfnetlinkDump, type NfnetlinkOptions } from '../../src/kernel/nfnetlink.ts';
import { doneReply, errorReply, fakeFactory, objectReply, type FakeNetlinkSocket } from '../helpers/fake-netlink-socket.ts';

const REQUEST = { subsystem: 6, command: 7, family: 2, attributes: [] };
const IPSET_LIST_REPLY = (6 << 8) | 7;
const ENOENT = 2;

function dumpWith(answer: (seq: number, socket: FakeNetlinkSocket, attempt: number) => void, options: NfnetlinkOptions = {}) {
  const { sockets, factory } = fakeFactory((s, index) => { s.onSend = (messages, socket) => answer(messages[0]!.seq, socket, index); });
  return { result: nfnetlinkDump(REQUEST, { timeoutMs: 100, dumpRetryDelayMs: 5, ...options, socketFactory: factory }), sockets };
}

describe('nfnetlinkDump', () => {
  it('returns every message of the answer and closes the socket', async () => {
    const { result, sockets } = dumpWith((seq, s) => s.reply(objectReply(seq, IPSET_LIST_REPLY), objectReply(seq, IPSET_LIST_REPLY), doneReply(seq)));
    const answer = await result;
    assert.equal(answer?.errno, 0);
    assert.equal(answer?.messages?.length, 2);
    await afterCloseLater();
    assert.equal(sockets[0]!.closed, true);
  });

  it('reads an interrupted dump again, on a fresh socket, and returns the clean answer', async () => {
    const { result, sockets } = dumpWith((seq, s, attempt) => {
      if (attempt === 0) s.reply(objectReply(seq, IPSET_LIST_REPLY, NLM_F_DUMP_INTR), doneReply(seq, NLM_F_DUMP_INTR));
      else s.reply(objectReply(seq, IPSET_LIST_REPLY), doneReply(seq));
    });
    const answer = await result;
    assert.equal(answer?.messages?.length, 1);
    assert.equal(sockets.length, 2);
  });

  it('is null when every attempt is interrupted', async () => {
    const { result, sockets } = dumpWith((seq, s) => s.reply(doneReply(seq, NLM_F_DUMP_INTR)), { dumpAttempts: 3 });
    assert.equal(await result, null);
    assert.equal(sockets.length, 3);
  });

  it('passes on the kernel\'s refusal', async () => {
    const { result } = dumpWith((seq, s) => s.reply(errorReply(seq, ENOENT)));
    assert.deepEqual(await result, { errno: ENOENT });
  });

  it('is null when the answer never ends, or the socket fails', async () => {
    const silent = dumpWith(() => {});
    assert.equal(await silent.result, null);
    await afterCloseLater();
    assert.equal(silent.sockets[0]!.closed, true);
    const failing = dumpWith((_seq, s) => s.fail('ENOBUFS'));
    assert.equal(await failing.result, null);
  });
});
