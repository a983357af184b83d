/**
 * nfnetlinkTransaction against a scripted socket: the batch goes as one send, framed by BEGIN and
 * END for its subsystem; each request's acknowledgement is its errno; an error against the batch
 * itself fails every request even when their own acknowledgements read 0; too large a batch is not sent;
 * one past a request group still goes as one send; sendAfter holds the send.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NLM_F_ACK } from '../../src/kernel/netlink/codec.ts';
import { nfnetlinkTransaction, TRANSACTION_MAX_BYTES } from '../../src/kernel/nfnetlink.ts';
import { errorReply, fakeFactory } from '../helpers/fake-netlink-socket.ts';

const NFTABLES = 10;
const request = (command: number, bytes = 8) => ({ subsystem: NFTABLES, command, family: 2, attributes: [Buffer.alloc(bytes, 1)] });
const EEXIST = 17, ENOMEM = 12;

describe('nfnetlinkTransaction', () => {
  it('frames the requests with BEGIN and END in one send and returns each one\'s errno', async () => {
    const sends: { type: number; seq: number; flags: number; resId: number }[][] = [];
    const { factory } = fakeFactory((s) => {
      s.onSend = (messages, socket) => {
        sends.push(messages.map((m) => ({ type: m.type, seq: m.seq, flags: m.flags, resId: m.payload.readUInt16BE(2) })));
        socket.reply(errorReply(2, 0), errorReply(3, EEXIST));
      };
    });
    // (+ 0: an errno decoded from a 0 reads -0)
    assert.deepEqual((await nfnetlinkTransaction(NFTABLES, [request(12), request(14)], { timeoutMs: 200, socketFactory: factory }))?.map((errno) => errno + 0), [0, EEXIST]);
    assert.equal(sends.length, 1, 'one send');
    assert.deepEqual(sends[0]!.map((m) => [m.type, m.seq]), [[0x10, 1], [(NFTABLES << 8) | 12, 2], [(NFTABLES << 8) | 14, 3], [0x11, 4]]);
    assert.equal(sends[0]![0]!.resId, NFTABLES, 'BEGIN names the subsystem (big-endian)');
    assert.equal(sends[0]![3]!.resId, NFTABLES);
    assert.ok(sends[0]!.slice(1, 3).every((m) => (m.flags & NLM_F_ACK) !== 0), 'every request asks for its acknowledgement');
    assert.ok([sends[0]![0]!, sends[0]![3]!].every((m) => (m.flags & NLM_F_ACK) === 0), 'the frame does not');
  });

  it('an error against the batch (a commit rolled back) fails every request, though their acknowledgements read 0', async () => {
    const { factory } = fakeFactory((s) => { s.onSend = (_m, socket) => socket.reply(errorReply(1, ENOMEM), errorReply(2, 0), errorReply(3, 0)); });
    assert.deepEqual(await nfnetlinkTransaction(NFTABLES, [request(12), request(12)], { timeoutMs: 200, socketFactory: factory }), [ENOMEM, ENOMEM]);
  });

  it('is null, sending nothing, when the batch is larger than TRANSACTION_MAX_BYTES; empty asks nothing', async () => {
    let sent = 0;
    const { factory } = fakeFactory((s) => { s.onSend = () => { sent++; }; });
    const half = TRANSACTION_MAX_BYTES / 2;
    assert.equal(await nfnetlinkTransaction(NFTABLES, [request(12, half), request(12, half)], { timeoutMs: 200, socketFactory: factory }), null);
    assert.deepEqual(await nfnetlinkTransaction(NFTABLES, [], { timeoutMs: 200, socketFactory: factory }), []);
    assert.equal(sent, 0);
  });

  it('a batch larger than a request group (61,440 bytes) still goes as one send: the kernel reads a batch from one datagram', async () => {
    const sends: number[] = [];
    const { factory } = fakeFactory((s) => {
      s.onSend = (messages, socket) => {
        sends.push(messages.length);
        socket.reply(errorReply(2, 0), errorReply(3, 0), errorReply(4, 0));
      };
    });
    assert.deepEqual((await nfnetlinkTransaction(NFTABLES, [request(12, 60_000), request(12, 60_000), request(12, 60_000)], { timeoutMs: 200, socketFactory: factory }))?.map((errno) => errno + 0), [0, 0, 0]);
    assert.deepEqual(sends, [5], 'BEGIN, three requests and END in one send');
  });

  it('with sendAfter, sends only once it fulfils; when it rejects, sends nothing and passes its error on', async () => {
    const events: string[] = [];
    const { factory } = fakeFactory((s) => {
      s.onSend = (_m, socket) => {
        events.push('sent');
        socket.reply(errorReply(2, 0));
      };
    });
    let release!: () => void;
    const ready = new Promise<void>((resolve) => { release = resolve; });
    const answer = nfnetlinkTransaction(NFTABLES, [request(12)], { timeoutMs: 200, socketFactory: factory, sendAfter: ready });
    await new Promise((resolve) => setImmediate(resolve));
    events.push('released');
    release();
    assert.deepEqual((await answer)?.map((errno) => errno + 0), [0]);
    assert.deepEqual(events, ['released', 'sent']);
    const failed = Promise.reject(new Error('nft exited 1'));
    failed.catch(() => {});
    await assert.rejects(nfnetlinkTransaction(NFTABLES, [request(12)], { timeoutMs: 200, socketFactory: factory, sendAfter: failed }), /nft exited 1/);
    assert.deepEqual(events, ['released', 'sent'], 'nothing more sent');
  });
});
