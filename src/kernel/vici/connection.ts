/**
 * One stream to charon: packets out, packets in, at most one answer awaited at a time (VICI has no
 * sequence numbers, so an answer belongs to whatever was asked last). Events go to onEvent whenever
 * they arrive, also in the middle of a command. Anything that breaks the exchange (a deadline, a
 * protocol error, the peer closing) destroys the connection for good; the client opens a new one.
 */
import type { Duplex } from 'node:stream';
import { ViciConnectionError, ViciProtocolError, ViciTimeoutError } from './errors.ts';
import { PacketReader, type ViciPacket, type ViciPacketType, type ViciSection } from './message.ts';

/** When the whole operation must be over; timeoutMs is kept for the error message. */
export interface Deadline {
  expiresAt: number;
  timeoutMs: number;
}

export const deadlineIn = (timeoutMs: number): Deadline => ({ expiresAt: performance.now() + timeoutMs, timeoutMs });
export const remainingMs = (deadline: Deadline): number => deadline.expiresAt - performance.now();

/** Below this much time left (or half the timeout, if that is shorter) a packet is not worth sending. */
export const MIN_SEND_MARGIN_MS = 5;

/**
 * Whether a deadline has passed, or so nearly that charon could not answer in time: sending then
 * would only get the connection reset by the timer (and maybe lose the answer to a command charon
 * did run). A fresh deadline never qualifies, however short its timeout.
 */
export const tooLateToSend = (deadline: Deadline): boolean => remainingMs(deadline) < Math.min(MIN_SEND_MARGIN_MS, deadline.timeoutMs / 2);

export interface ConnectionEvents {
  onEvent(name: string, message: ViciSection): void;
  /** Called once, when the connection is destroyed for whatever reason. */
  onClose(reason: Error): void;
}

interface Waiter {
  what: string;
  expect: readonly ViciPacketType[];
  resolve(packet: ViciPacket): void;
  reject(error: Error): void;
}

export class ViciConnection {
  /** Events registered on this connection (by subscriptions and running streams). */
  readonly registered = new Set<string>();
  private readonly socket: Duplex;
  private readonly events: ConnectionEvents;
  private readonly reader = new PacketReader();
  private waiter: Waiter | undefined;
  private reason: Error | undefined;
  private readonly closeListeners = new Set<(reason: Error) => void>();

  constructor(socket: Duplex, events: ConnectionEvents) {
    this.socket = socket;
    this.events = events;
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (error: Error) => this.destroy(new ViciConnectionError(`connection to charon failed: ${error.message}`, { cause: error })));
    socket.on('end', () => this.destroy(this.peerClosed()));
    socket.on('close', () => this.destroy(this.peerClosed()));
  }

  get closed(): boolean {
    return this.reason !== undefined;
  }

  /** For a socket still connecting (net.Socket), waits for it; other streams count as connected. `what` is the job that needs it. */
  waitConnected(what: string, deadline: Deadline): Promise<void> {
    if ((this.socket as { connecting?: boolean }).connecting !== true) return Promise.resolve();
    return this.wait(what, deadline, (done) => {
      this.socket.once('connect', done);
      return () => this.socket.off('connect', done);
    });
  }

  /**
   * Writes one packet and resolves with the first answer of an expected type. With the deadline
   * (all but) passed already, rejects with ViciTimeoutError without writing: nothing is outstanding
   * then, so the connection stays as it was.
   */
  exchange(packet: Buffer, what: string, expect: readonly ViciPacketType[], deadline: Deadline): Promise<ViciPacket> {
    if (this.waiter) return Promise.reject(new Error(`vici ${what}: another exchange (${this.waiter.what}) is in progress`));
    if (!this.reason && tooLateToSend(deadline)) {
      return Promise.reject(new ViciTimeoutError(`vici ${what}: the ${deadline.timeoutMs} ms deadline (all but) passed before it could be sent; not sent`, deadline.timeoutMs));
    }
    return this.wait<ViciPacket>(what, deadline, (done, fail) => {
      this.waiter = { what, expect, resolve: done, reject: fail };
      this.socket.write(packet);
      return () => { this.waiter = undefined; };
    });
  }

  /** Ends the connection; whoever waits gets the reason (wrapped to say what it was waiting for). */
  destroy(reason: Error): void {
    if (this.reason) return;
    this.reason = reason;
    this.socket.destroy();
    for (const listener of [...this.closeListeners]) listener(reason);
    this.events.onClose(reason);
  }

  /**
   * Runs start (which arms whatever settles the wait and returns its undo) under the deadline;
   * the connection closing fails the wait, and a missed deadline destroys the connection.
   */
  private wait<T = void>(what: string, deadline: Deadline, start: (done: (value: T) => void, fail: (error: Error) => void) => () => void): Promise<T> {
    if (this.reason) return Promise.reject(waitFailure(what, this.reason));
    return new Promise<T>((resolve, reject) => {
      let undo = () => {};
      const finish = () => {
        clearTimeout(timer);
        this.closeListeners.delete(onClose);
        undo();
      };
      const onClose = (reason: Error) => { finish(); reject(waitFailure(what, reason)); };
      const timer = setTimeout(() => {
        this.destroy(new ViciTimeoutError(`vici ${what}: no answer from charon within ${deadline.timeoutMs} ms; connection reset`, deadline.timeoutMs));
      }, Math.max(0, remainingMs(deadline)));
      this.closeListeners.add(onClose);
      undo = start((value) => { finish(); resolve(value); }, (error) => { finish(); reject(error); });
    });
  }

  private receive(chunk: Buffer): void {
    if (this.reason) return;
    try {
      for (const packet of this.reader.feed(chunk)) {
        this.dispatch(packet);
        if (this.reason) return;
      }
    } catch (error) {
      // Thrown from a 'data' listener, anything else would take the process down: reset instead.
      this.destroy(error instanceof ViciProtocolError ? error : new ViciConnectionError(`handling a packet from charon failed: ${String(error)}`, { cause: error }));
    }
  }

  private dispatch(packet: ViciPacket): void {
    if (packet.type === 'event') {
      this.events.onEvent(packet.name, packet.message);
      return;
    }
    const waiter = this.waiter;
    if (!waiter || !waiter.expect.includes(packet.type)) {
      const waiting = waiter ? `while waiting for the answer to ${waiter.what}` : 'with nothing asked';
      this.destroy(new ViciProtocolError(`unexpected ${packet.type} packet ${waiting}`, this.reader.lastPacketOffset, ' of the stream'));
      return;
    }
    waiter.resolve(packet);
  }

  private peerClosed(): ViciConnectionError {
    const partial = this.reader.pendingBytes;
    return new ViciConnectionError(partial > 0
      ? `charon closed the connection in the middle of a packet (${partial} bytes of it received)`
      : 'charon closed the connection');
  }
}

/** Timeouts and protocol errors keep their type; a lost connection is reported with what was awaited. */
function waitFailure(what: string, reason: Error): Error {
  if (reason instanceof ViciTimeoutError || reason instanceof ViciProtocolError) return reason;
  return new ViciConnectionError(`vici ${what}: ${reason.message}`, { cause: reason });
}
