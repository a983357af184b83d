/**
 * subscribeNetlink against a scripted socket: a receive error (ENOBUFS) replaces the socket,
 * rejoins the groups, reports the loss for a full resync, and notifications keep flowing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as afterCloseLater } from 'node:timers/promises';
import { subscribeNetlink } from '../../src/kernel/netlink/subscription.ts';
import type { NetlinkMessage } from '../../src/kernel/netlink/codec.ts';
import { fakeFactory, objectReply, FakeNetlinkSocket } from '../helpers/fake-netlink-socket.ts';
import { waitFor } from '../helpers/wait.ts';

const RTM_NEWLINK = 16;
const GROUPS = [1, 5, 7, 1];

function subscription(options: { failOpens?: Set<number>; recvBufferSize?: number } = {}) {
  const { sockets, factory } = fakeFactory((s) => { if (options.recvBufferSize) s.recvBufferSize = options.recvBufferSize; });
  let opens = 0;
  const received: NetlinkMessage[] = [];
  const lost: Array<{ reason: string; groupsOfCurrent: number[] }> = [];
  const warnings: string[] = [];
  const sub = subscribeNetlink(0, GROUPS, (messages) => received.push(...messages), (reason) => {
    lost.push({ reason, groupsOfCurrent: [...sockets.at(-1)!.groups] });
  }, {
    socketFactory: () => {
      if (options.failOpens?.has(opens++)) throw Object.assign(new Error('socket failed: EMFILE'), { code: 'EMFILE' });
      return factory();
    },
    warn: (m) => warnings.push(m),
    reopenDelayMs: 5,
  });
  return { sub, sockets, received, lost, warnings };
}

describe('subscribeNetlink', () => {
  it('joins each group once and delivers the messages of each datagram', () => {
    const { sub, sockets, received } = subscription();
    assert.deepEqual(sockets[0]!.groups, [1, 5, 7]);
    sockets[0]!.reply(objectReply(0, RTM_NEWLINK), objectReply(0, RTM_NEWLINK));
    assert.equal(received.length, 2);
    sub.close();
  });

  it('after ENOBUFS it reopens, rejoins the groups, asks for a full resync, and messages keep flowing', async () => {
    const { sub, sockets, received, lost } = subscription();
    sockets[0]!.fail('ENOBUFS');
    assert.equal(lost.length, 1);
    assert.match(lost[0]!.reason, /netlink events lost \(ENOBUFS\): full resync/);
    assert.deepEqual(lost[0]!.groupsOfCurrent, [1, 5, 7], 'membership is back before the caller resyncs');
    assert.equal(sockets.length, 2);
    await afterCloseLater();
    assert.equal(sockets[0]!.closed, true);
    sockets[0]!.reply(objectReply(0, RTM_NEWLINK)); // a straggler of the old socket
    sockets[1]!.reply(objectReply(0, RTM_NEWLINK, 0, Buffer.from([9, 9, 9, 9])));
    assert.equal(received.length, 1);
    assert.deepEqual([...received[0]!.payload], [9, 9, 9, 9]);
    sockets[1]!.fail('ENOBUFS');
    assert.equal(lost.length, 2, 'every loss is reported');
    sub.close();
  });

  it('keeps retrying a reopen that fails, and reports the loss once it is back', async () => {
    const { sub, sockets, lost } = subscription({ failOpens: new Set([1, 2, 3]) });
    sockets[0]!.fail('ENOBUFS');
    assert.equal(lost.length, 0, 'no resync before the new socket listens');
    await waitFor('the reopen to succeed and report the loss', () => lost.length === 1);
    assert.equal(sockets.length, 2);
    assert.deepEqual(sockets[1]!.groups, [1, 5, 7]);
    sub.close();
  });

  it('a truncated or malformed datagram counts as lost notifications', () => {
    const { sub, sockets, lost, received } = subscription();
    sockets[0]!.emit('truncatedMessage', Buffer.alloc(16));
    assert.match(lost[0]!.reason, /truncated/);
    sockets[1]!.emit('message', Buffer.concat([objectReply(0, RTM_NEWLINK), Buffer.alloc(8, 0xff)]));
    assert.equal(received.length, 1, 'the intact message still arrives');
    assert.match(lost[1]!.reason, /malformed/);
    sub.close();
  });

  it('close stops a pending reopen and closes the socket', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { sub, sockets, lost } = subscription({ failOpens: new Set([1]) });
    sockets[0]!.fail('ENOBUFS'); // the first reopen fails; the retry, due in 5 ms, would succeed
    sub.close();
    t.mock.timers.tick(1000);
    assert.equal(sockets.length, 1, 'no socket opened after close');
    assert.equal(lost.length, 0);
    t.mock.timers.reset();
    const { sub: other, sockets: others } = subscription();
    other.close();
    await afterCloseLater();
    assert.equal(others[0]!.closed, true);
  });

  it('fails at once when a group cannot be joined, closing the socket', async () => {
    let socket: FakeNetlinkSocket | undefined;
    assert.throws(() => subscribeNetlink(12, [7], () => {}, () => {}, {
      socketFactory: () => {
        socket = new FakeNetlinkSocket();
        socket.addMembership = () => { throw new Error('setsockopt failed: ENOENT'); };
        return socket;
      },
    }), /ENOENT/);
    await afterCloseLater();
    assert.equal(socket?.closed, true);
  });

  it('reports a receive buffer the kernel capped, once', () => {
    const { sub, sockets, warnings } = subscription({ recvBufferSize: 425_984 });
    sockets[0]!.fail('ENOBUFS');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /netlink subscription \(protocol 0\): receive buffer is 425984 bytes/);
    sub.close();
  });
});
