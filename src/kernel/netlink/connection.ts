import { setTimeout as sleep } from 'node:timers/promises';
import {
  NETLINK_ROUTE, NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR,
  decodeError, decodeMessages, encodeMessage, messageLength, writeMessage, type NetlinkMessage,
} from './codec.ts';
import { backoffDelay } from '../../model/backoff.ts';
import { errnoName } from './errors.ts';
import {
  bufferWarning, closeLater, processWarning, rawNetlinkSocketFactory, receiveBuffer, NETLINK_RECEIVE_BUFFER_BYTES,
  type NetlinkSocket, type NetlinkSocketFactory, type ReceiveBuffer,
} from './socket.ts';
import { errorText } from '../../model/error-text.ts';

/** Requests packed into one datagram; only the last asks for an ACK (errors always come back). */
const CHUNK_SIZE = 256;
/** Chunks sent before waiting for the oldest one's ACK, bounding unread replies in the receive buffer. */
const CHUNKS_IN_FLIGHT = 4;
const MAX_SEQ = 0xfffffff0;
/** Calico Felix's netlink timeout: the kernel answers in microseconds, so 10 s of silence means the reply is lost. */
export const DEFAULT_NETLINK_TIMEOUT_MS = 10_000;
/** Interrupted dumps (the table changed while it was read) are retried this many times in all... */
const DUMP_ATTEMPTS = 10;
/** ...after a backoff from this delay up to MAX_DUMP_RETRY_DELAY_MS: back to back, a veth storm outlasts every attempt. */
const DUMP_RETRY_DELAY_MS = 10;
const MAX_DUMP_RETRY_DELAY_MS = 1000;

export interface NetlinkRequest {
  type: number;
  /** Extra flags beyond REQUEST (e.g. CREATE|REPLACE); ACK is managed by the connection. */
  flags: number;
  body: readonly Buffer[];
}

/** 0 when the kernel accepted the request, otherwise its positive errno. */
export type RequestOutcome = number;

export interface NetlinkConnectionOptions {
  /** Opens the socket (and its replacements); a real NETLINK_ROUTE socket by default. */
  socketFactory?: NetlinkSocketFactory;
  /** A request whose reply stops for this long fails with NetlinkTimeoutError and the socket is reopened. */
  timeoutMs?: number;
  dumpAttempts?: number;
  /** First delay before retrying an interrupted dump. */
  dumpRetryDelayMs?: number;
  /** Waits between dump attempts; a seam so tests can hold the pause and see what was asked. */
  pause?: (ms: number) => Promise<void>;
  /** Where the one warning about a capped receive buffer goes (a process warning by default). */
  warn?: (message: string) => void;
}

/** No reply within the deadline: the request may or may not have been applied by the kernel. */
export class NetlinkTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  readonly timeoutMs: number;
  constructor(message: string, timeoutMs: number) {
    super(message);
    this.name = 'NetlinkTimeoutError';
    this.timeoutMs = timeoutMs;
  }
}

interface ReplyHandler {
  first: number;
  last: number;
  onMessage(msg: NetlinkMessage): void;
  /** Fails the request; reason says what happened to the socket. */
  onFailure(reason: string): void;
}

/** One socket and the requests awaiting replies on it. Once retired it is never used again. */
interface Channel {
  socket: NetlinkSocket;
  handlers: Set<ReplyHandler>;
  open: boolean;
}

/**
 * One NETLINK_ROUTE socket for requests: dumps, and pipelined batches of changes whose
 * per-request outcome is collected without waiting for each acknowledgement in turn.
 *
 * Every request has a deadline. A lost reply, a socket error or a mangled datagram retires the
 * socket: its waiting requests fail, and the next request opens a fresh socket, so nothing queues
 * behind a reply that will never come and no late reply of the old socket can answer a new request.
 */
export class NetlinkConnection {
  private readonly openSocket: NetlinkSocketFactory;
  private readonly timeoutMs: number;
  private readonly dumpAttempts: number;
  private readonly dumpRetryDelayMs: number;
  private readonly pause: (ms: number) => Promise<void>;
  private readonly warn: (message: string) => void;
  private channel: Channel | undefined;
  private seq = 1;
  private dumpQueue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private warned = false;
  private buffer: ReceiveBuffer | undefined;

  constructor(options: NetlinkConnectionOptions = {}) {
    this.openSocket = options.socketFactory ?? rawNetlinkSocketFactory(NETLINK_ROUTE, NETLINK_RECEIVE_BUFFER_BYTES);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_NETLINK_TIMEOUT_MS;
    this.dumpAttempts = options.dumpAttempts ?? DUMP_ATTEMPTS;
    this.dumpRetryDelayMs = options.dumpRetryDelayMs ?? DUMP_RETRY_DELAY_MS;
    this.pause = options.pause ?? ((ms) => sleep(ms));
    this.warn = options.warn ?? processWarning;
    // Open now so a missing capability or protocol fails at startup, not at the first request.
    this.current();
  }

  /** The receive buffer of the current socket as the kernel granted it. */
  get receiveBuffer(): ReceiveBuffer | undefined {
    return this.buffer;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.channel) this.retire(this.channel, 'netlink connection closed');
  }

  /** Dumps every object of one kind (type is an RTM_GET* message type). */
  dump(type: number, body: readonly Buffer[]): Promise<NetlinkMessage[]> {
    // One dump at a time: the kernel runs a single dump per socket.
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
      const chunk = this.sendChunk(requests, start, Math.min(start + CHUNK_SIZE, requests.length), outcomes);
      // Handled here too: when an earlier chunk fails, the batch rejects with that one and the rest must not go unhandled.
      chunk.catch(() => undefined);
      chunks.push(chunk);
    }
    await Promise.all(chunks);
    return outcomes;
  }

  private sendChunk(requests: readonly NetlinkRequest[], start: number, end: number, outcomes: RequestOutcome[]): Promise<void> {
    return this.exchange<void>(`netlink batch of ${end - start} requests`, end - start, (first) => {
      let length = 0;
      for (let i = start; i < end; i++) length += messageLength(requests[i]!.body);
      const out = Buffer.alloc(length);
      for (let i = start, at = 0; i < end; i++) {
        const request = requests[i]!;
        const ack = i === end - 1 ? NLM_F_ACK : 0;
        at = writeMessage(out, at, request.type, NLM_F_REQUEST | ack | request.flags, first + (i - start), request.body);
      }
      return out;
    }, (msg, first, last, finish) => {
      if (msg.type !== NLMSG_ERROR) return;
      const { errno } = decodeError(msg.payload);
      if (errno !== 0) outcomes[start + (msg.seq - first)] = errno;
      if (msg.seq === last) finish();
    });
  }

  private async dumpWithRetry(type: number, body: readonly Buffer[]): Promise<NetlinkMessage[]> {
    for (let attempt = 1; ; attempt++) {
      const { messages, interrupted } = await this.dumpOnce(type, body);
      if (!interrupted) return messages;
      if (attempt >= this.dumpAttempts) {
        throw new Error(`netlink dump of type ${type} was interrupted by concurrent changes (NLM_F_DUMP_INTR) ${attempt} times in a row; giving up until the next pass`);
      }
      // Let the burst of changes settle before reading the whole table again.
      await this.pause(backoffDelay(attempt, { minMs: this.dumpRetryDelayMs, maxMs: MAX_DUMP_RETRY_DELAY_MS }));
    }
  }

  private dumpOnce(type: number, body: readonly Buffer[]): Promise<{ messages: NetlinkMessage[]; interrupted: boolean }> {
    const messages: NetlinkMessage[] = [];
    let interrupted = false;
    return this.exchange(`netlink dump of type ${type}`, 1, (seq) => encodeMessage(type, NLM_F_REQUEST | NLM_F_DUMP, seq, body), (msg, _first, _last, finish, fail) => {
      if (msg.flags & NLM_F_DUMP_INTR) interrupted = true;
      if (msg.type === NLMSG_DONE) return finish({ messages, interrupted });
      if (msg.type === NLMSG_ERROR) {
        const { errno } = decodeError(msg.payload);
        if (errno === 0) finish({ messages, interrupted });
        else fail(new Error(`netlink dump of type ${type}: ${errnoName(errno)}`));
        return;
      }
      messages.push(msg);
    });
  }

  /**
   * Sends `count` requests with consecutive sequence numbers and feeds their replies to onReply
   * until it finishes or fails; fails on its own when the replies stop for timeoutMs.
   */
  private exchange<T>(
    what: string, count: number, encode: (first: number) => Buffer,
    onReply: (msg: NetlinkMessage, first: number, last: number, finish: (result: T) => void, fail: (error: Error) => void) => void,
  ): Promise<T> {
    let channel: Channel;
    try {
      channel = this.current();
    } catch (error) {
      return Promise.reject(error);
    }
    const first = this.reserveSeqs(count);
    const last = first + count - 1;
    const data = encode(first);
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const settle = (action: () => void) => {
        if (!channel.handlers.delete(handler)) return;
        clearTimeout(timer);
        // The socket keeps the process alive only while replies are awaited.
        if (channel.handlers.size === 0 && channel.open) channel.socket.unref();
        action();
      };
      const finish = (result: T) => settle(() => resolve(result));
      const fail = (error: Error) => settle(() => reject(error));
      // The deadline is on silence: a long dump that keeps answering is not lost. Each reply notes
      // when it came, and the one timer, when it fires, waits out the rest of the silence: not a timer
      // cleared and set again for each of a dump's 10,000 messages.
      let heardAt = performance.now();
      const arm = (delayMs: number) => {
        timer = setTimeout(() => {
          const silentMs = performance.now() - heardAt;
          if (silentMs < this.timeoutMs) return arm(this.timeoutMs - silentMs);
          fail(new NetlinkTimeoutError(`${what}: no reply from the kernel within ${this.timeoutMs} ms; the netlink socket is reopened`, this.timeoutMs));
          this.retire(channel, `the netlink socket was reopened after another request got no reply within ${this.timeoutMs} ms; this one's reply is lost with it`);
        }, delayMs);
      };
      const handler: ReplyHandler = {
        first, last,
        onMessage: (msg) => {
          heardAt = performance.now();
          onReply(msg, first, last, finish, fail);
        },
        onFailure: (reason) => fail(new Error(`${what}: ${reason}`)),
      };
      if (channel.handlers.size === 0) channel.socket.ref();
      channel.handlers.add(handler);
      arm(this.timeoutMs);
      try {
        channel.socket.send(data, undefined, (error) => {
          if (error) fail(new Error(`${what}: netlink send failed: ${error.code ?? error.message}`));
        });
      } catch (error) {
        // The binding throws once it has closed the socket itself (it does so on a poll error).
        this.retire(channel, `netlink socket unusable (${errorText(error)}); it is reopened for the next request`);
      }
    });
  }

  /** The open socket, or a fresh one when the last was retired. */
  private current(): Channel {
    if (this.closed) throw new Error('netlink connection is closed');
    if (this.channel?.open) return this.channel;
    const socket = this.openSocket();
    const channel: Channel = { socket, handlers: new Set(), open: true };
    socket.on('message', (datagram) => {
      if (channel.open) this.receive(channel, datagram);
    });
    // The binding sizes its read buffer by peeking, so truncation means a reply was cut: treat it as lost.
    socket.on('truncatedMessage', () => this.retire(channel, 'a netlink reply was truncated; the socket is reopened'));
    // ENOBUFS (replies dropped) or a poll error (after which the binding closes the socket): either way
    // the waiting replies are gone, and a fresh socket serves the next request.
    socket.on('error', (error) => this.retire(channel, `netlink socket error ${error.code ?? error.message}; replies are lost and the socket is reopened`));
    socket.unref();
    this.channel = channel;
    this.checkBuffer(socket);
    return channel;
  }

  private checkBuffer(socket: NetlinkSocket): void {
    try {
      this.buffer = receiveBuffer(socket);
    } catch {
      return; // reading the size back is diagnostics only
    }
    const warning = bufferWarning(this.buffer, 'netlink request socket');
    if (warning && !this.warned) {
      this.warned = true;
      this.warn(warning);
    }
  }

  private retire(channel: Channel, reason: string): void {
    if (!channel.open) return;
    channel.open = false;
    closeLater(channel.socket);
    for (const handler of [...channel.handlers]) handler.onFailure(reason);
  }

  private receive(channel: Channel, datagram: Buffer): void {
    let malformedAt: number | undefined;
    const messages = decodeMessages(datagram, (offset) => { malformedAt = offset; });
    for (const msg of messages) {
      for (const handler of channel.handlers) {
        if (msg.seq >= handler.first && msg.seq <= handler.last) { handler.onMessage(msg); break; }
      }
    }
    // The intact messages answered what they could; whatever the rest carried is lost.
    if (malformedAt !== undefined) this.retire(channel, `a netlink datagram of ${datagram.length} bytes is malformed at byte ${malformedAt}; replies are lost and the socket is reopened`);
  }

  private reserveSeqs(count: number): number {
    if (this.seq + count > MAX_SEQ) this.seq = 1;
    const first = this.seq;
    this.seq += count;
    return first;
  }
}
