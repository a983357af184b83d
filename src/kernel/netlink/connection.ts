import { RawNetlinkSocket } from 'netlink';
import {
  NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR,
  decodeError, decodeMessages, encodeMessage, type NetlinkMessage,
} from './codec.ts';
import { errnoName } from './errors.ts';

const NETLINK_ROUTE = 0;
/** Requests packed into one datagram; only the last asks for an ACK (errors always come back). */
const CHUNK_SIZE = 256;
/** Chunks sent before waiting for the oldest one's ACK, bounding unread replies in the receive buffer. */
const CHUNKS_IN_FLIGHT = 4;
const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;
const MAX_SEQ = 0xfffffff0;
const DUMP_ATTEMPTS = 5;

export interface NetlinkRequest {
  type: number;
  /** Extra flags beyond REQUEST (e.g. CREATE|REPLACE); ACK is managed by the connection. */
  flags: number;
  body: readonly Buffer[];
}

/** 0 when the kernel accepted the request, otherwise its positive errno. */
export type RequestOutcome = number;

interface ReplyHandler {
  first: number;
  last: number;
  onMessage(msg: NetlinkMessage): void;
  onFailure(error: Error): void;
}

/**
 * One NETLINK_ROUTE socket for requests: dumps, and pipelined batches of changes whose
 * per-request outcome is collected without waiting for each acknowledgement in turn.
 */
export class NetlinkConnection {
  private readonly socket: RawNetlinkSocket;
  private readonly handlers = new Set<ReplyHandler>();
  private seq = 1;
  private dumpQueue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor() {
    this.socket = new RawNetlinkSocket(NETLINK_ROUTE, { recvBufferSize: RECEIVE_BUFFER_BYTES, sendBufferSize: RECEIVE_BUFFER_BYTES });
    this.socket.on('message', (datagram) => this.receive(datagram));
    this.socket.on('error', (error) => this.failAll(new Error(`netlink socket error: ${error.code ?? error.message}; replies may be lost`)));
    this.socket.unref();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.failAll(new Error('netlink connection closed'));
    this.socket.close();
  }

  /** Dumps every object of one kind (type is an RTM_GET* message type). */
  dump(type: number, body: readonly Buffer[]): Promise<NetlinkMessage[]> {
    const next = this.dumpQueue.then(() => this.dumpWithRetry(type, body));
    this.dumpQueue = next.catch(() => undefined);
    return next;
  }

  /** Sends all requests back to back and returns each one's outcome, in order. */
  async batch(requests: readonly NetlinkRequest[]): Promise<RequestOutcome[]> {
    const outcomes: RequestOutcome[] = new Array(requests.length).fill(0);
    const chunks: Promise<void>[] = [];
    for (let start = 0; start < requests.length; start += CHUNK_SIZE) {
      if (chunks.length >= CHUNKS_IN_FLIGHT) await chunks[chunks.length - CHUNKS_IN_FLIGHT];
      chunks.push(this.sendChunk(requests, start, Math.min(start + CHUNK_SIZE, requests.length), outcomes));
    }
    await Promise.all(chunks);
    return outcomes;
  }

  private sendChunk(requests: readonly NetlinkRequest[], start: number, end: number, outcomes: RequestOutcome[]): Promise<void> {
    this.assertOpen();
    const first = this.reserveSeqs(end - start);
    const last = first + (end - start) - 1;
    const messages: Buffer[] = [];
    for (let i = start; i < end; i++) {
      const request = requests[i]!;
      const ack = i === end - 1 ? NLM_F_ACK : 0;
      messages.push(encodeMessage(request.type, NLM_F_REQUEST | ack | request.flags, first + (i - start), request.body));
    }
    return new Promise<void>((resolve, reject) => {
      const handler: ReplyHandler = {
        first, last,
        onMessage: (msg) => {
          if (msg.type !== NLMSG_ERROR) return;
          const { errno } = decodeError(msg.payload);
          if (errno !== 0) outcomes[start + (msg.seq - first)] = errno;
          if (msg.seq === last) { this.untrack(handler); resolve(); }
        },
        onFailure: (error) => { this.untrack(handler); reject(error); },
      };
      this.track(handler);
      this.socket.send(Buffer.concat(messages), undefined, (error) => {
        if (error) handler.onFailure(new Error(`netlink send failed: ${error.code ?? error.message}`));
      });
    });
  }

  private async dumpWithRetry(type: number, body: readonly Buffer[]): Promise<NetlinkMessage[]> {
    for (let attempt = 1; ; attempt++) {
      const { messages, interrupted } = await this.dumpOnce(type, body);
      if (!interrupted) return messages;
      if (attempt >= DUMP_ATTEMPTS) throw new Error(`netlink dump of type ${type} kept changing under us (${attempt} attempts)`);
    }
  }

  private dumpOnce(type: number, body: readonly Buffer[]): Promise<{ messages: NetlinkMessage[]; interrupted: boolean }> {
    this.assertOpen();
    const seq = this.reserveSeqs(1);
    return new Promise((resolve, reject) => {
      const messages: NetlinkMessage[] = [];
      let interrupted = false;
      const handler: ReplyHandler = {
        first: seq, last: seq,
        onMessage: (msg) => {
          if (msg.flags & NLM_F_DUMP_INTR) interrupted = true;
          if (msg.type === NLMSG_DONE) { this.untrack(handler); resolve({ messages, interrupted }); return; }
          if (msg.type === NLMSG_ERROR) {
            const { errno } = decodeError(msg.payload);
            this.untrack(handler);
            if (errno === 0) resolve({ messages, interrupted });
            else reject(new Error(`netlink dump of type ${type}: ${errnoName(errno)}`));
            return;
          }
          messages.push(msg);
        },
        onFailure: (error) => { this.untrack(handler); reject(error); },
      };
      this.track(handler);
      this.socket.send(encodeMessage(type, NLM_F_REQUEST | NLM_F_DUMP, seq, body), undefined, (error) => {
        if (error) handler.onFailure(new Error(`netlink send failed: ${error.code ?? error.message}`));
      });
    });
  }

  private receive(datagram: Buffer): void {
    for (const msg of decodeMessages(datagram)) {
      for (const handler of this.handlers) {
        if (msg.seq >= handler.first && msg.seq <= handler.last) { handler.onMessage(msg); break; }
      }
    }
  }

  /** The socket keeps the process alive only while replies are awaited. */
  private track(handler: ReplyHandler): void {
    if (this.handlers.size === 0) this.socket.ref();
    this.handlers.add(handler);
  }

  private untrack(handler: ReplyHandler): void {
    if (this.handlers.delete(handler) && this.handlers.size === 0 && !this.closed) this.socket.unref();
  }

  private reserveSeqs(count: number): number {
    if (this.seq + count > MAX_SEQ) this.seq = 1;
    const first = this.seq;
    this.seq += count;
    return first;
  }

  private failAll(error: Error): void {
    for (const handler of [...this.handlers]) handler.onFailure(error);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('netlink connection is closed');
  }
}
