/**
 * A scripted stand-in for the netlink binding's socket: records what is sent, lets a test answer
 * (or not), raise errors, and see refs and closes. Replies are built with the real codec.
 */
import { EventEmitter } from 'node:events';
import { NLMSG_DONE, NLMSG_ERROR, decodeMessages, encodeMessage, type NetlinkMessage } from '../../src/kernel/netlink/codec.ts';
import type { NetlinkSocket, NetlinkSocketError } from '../../src/kernel/netlink/socket.ts';

export class FakeNetlinkSocket extends EventEmitter implements NetlinkSocket {
  readonly sent: NetlinkMessage[][] = [];
  readonly groups: number[] = [];
  closed = false;
  referenced = true;
  /** Called for each datagram sent; answer with reply()/emit, or leave it unanswered. */
  onSend: (messages: NetlinkMessage[], socket: FakeNetlinkSocket) => void = () => {};
  sendError: NetlinkSocketError | undefined;
  /** Set to make send throw as the binding does after it closed the socket itself. */
  throwOnSend = false;
  recvBufferSize = 8 * 1024 * 1024;

  send(data: Buffer | Buffer[], _options: undefined, callback: (error?: NetlinkSocketError) => void): void {
    if (this.closed || this.throwOnSend) throw new Error('Netlink socket is closed');
    const messages = decodeMessages(Array.isArray(data) ? Buffer.concat(data) : data);
    this.sent.push(messages);
    const error = this.sendError;
    setImmediate(() => {
      callback(error);
      if (!error) this.onSend(messages, this);
    });
  }

  close(): void { this.closed = true; }
  ref(): void { this.referenced = true; }
  unref(): void { this.referenced = false; }
  addMembership(group: number): void {
    if (this.closed) throw new Error('Netlink socket is closed');
    this.groups.push(group);
  }
  getRecvBufferSize(): number { return this.recvBufferSize; }

  /** Delivers one datagram made of these messages. */
  reply(...messages: Buffer[]): void {
    this.emit('message', Buffer.concat(messages));
  }

  fail(code: string): void {
    const error: NetlinkSocketError = Object.assign(new Error(`recvmsg failed: ${code}`), { code, syscall: 'recvmsg' });
    this.emit('error', error);
  }
}

/** NLMSG_ERROR answering seq: errno 0 is an acknowledgement. */
export function errorReply(seq: number, errno: number): Buffer {
  const payload = Buffer.alloc(4 + 16);
  payload.writeInt32LE(-errno, 0);
  payload.writeUInt32LE(seq, 4 + 8);
  return encodeMessage(NLMSG_ERROR, 0, seq, [payload]);
}

export function doneReply(seq: number, flags = 0): Buffer {
  return encodeMessage(NLMSG_DONE, 0x2 | flags, seq, [Buffer.alloc(4)]);
}

export function objectReply(seq: number, type: number, flags = 0, body = Buffer.from([1, 2, 3, 4])): Buffer {
  return encodeMessage(type, 0x2 | flags, seq, [body]);
}

/** A factory handing out fresh fakes, each prepared by setup; keeps them all for inspection. */
export function fakeFactory(setup: (socket: FakeNetlinkSocket, index: number) => void = () => {}) {
  const sockets: FakeNetlinkSocket[] = [];
  return {
    sockets,
    factory: (): NetlinkSocket => {
      const socket = new FakeNetlinkSocket();
      setup(socket, sockets.length);
      sockets.push(socket);
      return socket;
    },
  };
}
