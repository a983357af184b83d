/**
 * A VICI client for charon: commands one at a time over one connection, streamed commands, and
 * event subscriptions that survive a charon restart.
 *
 * Message contents are never logged (load-shared carries pre-shared keys): only command and event names.
 */
import { connect as netConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import { backoffDelay, type BackoffPolicy } from '../../model/backoff.ts';
import type { Logger } from '../../telemetry/logger.ts';
import { ViciCommandError, ViciConnectionError, ViciTimeoutError, ViciUnknownCommandError, ViciUnknownEventError } from './errors.ts';
import { ViciConnection, deadlineIn, remainingMs, tooLateToSend, type Deadline } from './connection.ts';
import { encodePacket, type ViciInputSection, type ViciSection } from './message.ts';
import { errorText } from '../../model/error-text.ts';

export {
  ViciCommandError, ViciConnectionError, ViciEncodeError, ViciProtocolError, ViciTimeoutError, ViciUnknownCommandError, ViciUnknownEventError,
} from './errors.ts';
export type { ViciInputSection, ViciSection, ViciValue } from './message.ts';

/** Where charon's vici plugin listens unless strongswan.conf says otherwise. */
const DEFAULT_VICI_SOCKET = '/var/run/charon.vici';
/** charon answers in milliseconds; ten seconds of silence means it is stuck or gone. */
const DEFAULT_VICI_TIMEOUT_MS = 10_000;
/** Pauses between background reconnects while subscriptions wait for charon to come back. */
const DEFAULT_VICI_RECONNECT: BackoffPolicy = { minMs: 200, maxMs: 30_000 };

export interface ViciClientOptions {
  /** Opens a new stream to charon; connectUnix(path) for the real socket. */
  connect: () => Duplex;
  /** Deadline of each request, stream and subscription, queueing included (default DEFAULT_VICI_TIMEOUT_MS). */
  timeoutMs?: number;
  logger?: Logger;
  reconnect?: BackoffPolicy;
}

export interface ViciRequestOptions {
  timeoutMs?: number;
}

export type ViciEventHandler = (message: ViciSection, event: string) => void | Promise<void>;

export interface ViciStreamResult {
  events: ViciSection[];
  response: ViciSection;
}

/** The default connector: charon's unix socket. */
export function connectUnix(path: string = DEFAULT_VICI_SOCKET): () => Duplex {
  return () => netConnect(path);
}

/** Throws ViciCommandError unless a {success, errmsg} answer says yes; returns the answer otherwise. */
export function expectSuccess(response: ViciSection, command: string): ViciSection {
  if (response.success === 'yes') return response;
  throw new ViciCommandError(command, typeof response.errmsg === 'string' ? response.errmsg : undefined);
}

interface Job {
  what: string;
  deadline: Deadline;
  /** Whether the job needs a connection opened for it, or is pointless without the current one. */
  open: boolean;
  work(connection: ViciConnection | undefined, deadline: Deadline): Promise<unknown>;
  resolve(value: unknown): void;
  reject(error: Error): void;
  queueTimer: NodeJS.Timeout | undefined;
}

/** A wrapper per subscribe call, so the same function subscribed twice is two subscriptions. */
interface Subscription {
  handler: ViciEventHandler;
}

/**
 * Commands are serialized: VICI has no sequence numbers, so an answer belongs to the one command
 * outstanding. Every operation has a deadline (its time in the queue included); one that passes
 * after the packet was sent destroys the connection, since a late answer would be taken for the
 * next command's, while one that (all but) passed before it was sent rejects without sending and
 * leaves the connection alone. The connection opens on first use and again after it was lost; subscriptions are
 * registered again on every new connection, and while any exist (or onConnect listeners) a lost
 * connection is reopened in the background with backoff, so events resume when charon is back.
 */
export class ViciClient {
  private readonly openSocket: () => Duplex;
  private readonly timeoutMs: number;
  private readonly logger: Logger | undefined;
  private readonly reconnectPolicy: BackoffPolicy;
  private connection: ViciConnection | undefined;
  private readonly queue: Job[] = [];
  private pumping = false;
  private closed = false;
  private readonly subscriptions = new Map<string, Set<Subscription>>();
  private readonly connectListeners = new Set<() => void>();
  /** The streamed command running now, collecting its events. */
  private collector: { event: string; events: ViciSection[] } | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectFailures = 0;

  constructor(options: ViciClientOptions) {
    this.openSocket = options.connect;
    this.timeoutMs = checkTimeout(options.timeoutMs ?? DEFAULT_VICI_TIMEOUT_MS);
    this.logger = options.logger;
    this.reconnectPolicy = options.reconnect ?? DEFAULT_VICI_RECONNECT;
  }

  /** Whether a connection is open now (it may still be connecting). */
  get connected(): boolean {
    return this.connection !== undefined && !this.connection.closed;
  }

  /** Sends a command and resolves with its answer; CMD_UNKNOWN rejects with ViciUnknownCommandError. */
  request(command: string, message: ViciInputSection = {}, options: ViciRequestOptions = {}): Promise<ViciSection> {
    let packet: Buffer;
    try {
      packet = encodePacket({ type: 'cmd-request', name: command, message });
    } catch (error) {
      return Promise.reject(error);
    }
    return this.enqueue(`command "${command}"`, options.timeoutMs, true, (connection, deadline) => this.command(connection!, command, packet, deadline));
  }

  /**
   * A streamed command: registers `event`, sends the command, collects the events it streams before
   * its answer, then unregisters. Events of that name arriving meanwhile are taken as the command's.
   */
  stream(command: string, event: string, message: ViciInputSection = {}, options: ViciRequestOptions = {}): Promise<ViciStreamResult> {
    let packet: Buffer;
    try {
      packet = encodePacket({ type: 'cmd-request', name: command, message });
      encodePacket({ type: 'event-register', name: event });
    } catch (error) {
      return Promise.reject(error);
    }
    return this.enqueue(`command "${command}" (streaming "${event}")`, options.timeoutMs, true, async (connection, deadline) => {
      const conn = connection!;
      // A subscription to the same event already has it registered; leave that registration alone.
      const ownRegistration = !conn.registered.has(event);
      if (ownRegistration) await this.register(conn, event, deadline);
      const events: ViciSection[] = [];
      this.collector = { event, events };
      let response: ViciSection;
      try {
        response = await this.command(conn, command, packet, deadline);
      } finally {
        this.collector = undefined;
        if (ownRegistration && !conn.closed) await this.unregister(conn, event, deadline).catch((error: unknown) => this.warnUnregister(event, error));
      }
      return { events, response };
    });
  }

  /**
   * Registers for an event and calls handler for each one, on this connection and every later one.
   * Resolves once charon confirmed the registration, with a function that ends the subscription.
   * A handler that throws (or rejects) is logged and does not disturb the client.
   */
  subscribe(event: string, handler: ViciEventHandler, options: ViciRequestOptions = {}): Promise<() => Promise<void>> {
    try {
      encodePacket({ type: 'event-register', name: event });
    } catch (error) {
      return Promise.reject(error);
    }
    const subscription: Subscription = { handler };
    return this.enqueue(`registration of event "${event}"`, options.timeoutMs, true, async (connection, deadline) => {
      if (!connection!.registered.has(event)) await this.register(connection!, event, deadline);
      let handlers = this.subscriptions.get(event);
      if (!handlers) this.subscriptions.set(event, handlers = new Set());
      handlers.add(subscription);
      return () => this.unsubscribe(event, subscription);
    });
  }

  /**
   * Calls listener each time a connection to charon is up (the first one too), after subscriptions
   * were registered on it: a new connection after a lost one usually means charon restarted and
   * forgot every loaded connection and secret. Returns a function that removes the listener.
   */
  onConnect(listener: () => void): () => void {
    const entry = () => listener();
    this.connectListeners.add(entry);
    return () => { this.connectListeners.delete(entry); };
  }

  /** Ends the connection and rejects everything pending; the client cannot be used afterwards. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const reason = new ViciConnectionError('vici client closed');
    for (const job of this.queue.splice(0)) {
      clearTimeout(job.queueTimer);
      job.reject(reason);
    }
    this.connection?.destroy(reason);
  }

  private async command(conn: ViciConnection, command: string, packet: Buffer, deadline: Deadline): Promise<ViciSection> {
    this.logger?.debug({ command }, 'vici command');
    const answer = await conn.exchange(packet, `command "${command}"`, ['cmd-response', 'cmd-unknown'], deadline);
    if (answer.type !== 'cmd-response') throw new ViciUnknownCommandError(command);
    return answer.message;
  }

  private async register(conn: ViciConnection, event: string, deadline: Deadline): Promise<void> {
    const answer = await conn.exchange(encodePacket({ type: 'event-register', name: event }), `registration of event "${event}"`, ['event-confirm', 'event-unknown'], deadline);
    if (answer.type !== 'event-confirm') throw new ViciUnknownEventError(event);
    conn.registered.add(event);
  }

  private async unregister(conn: ViciConnection, event: string, deadline: Deadline): Promise<void> {
    const answer = await conn.exchange(encodePacket({ type: 'event-unregister', name: event }), `unregistration of event "${event}"`, ['event-confirm', 'event-unknown'], deadline);
    conn.registered.delete(event);
    if (answer.type !== 'event-confirm') throw new ViciUnknownEventError(event);
  }

  /** Never rejects: once the handler is gone nothing is delivered to it, whatever becomes of the unregistration. */
  private async unsubscribe(event: string, subscription: Subscription): Promise<void> {
    const handlers = this.subscriptions.get(event);
    if (!handlers?.delete(subscription) || handlers.size > 0) return;
    this.subscriptions.delete(event);
    if (this.closed) return;
    // Without a connection nothing is registered; a new one only registers what is still subscribed.
    await this.enqueue(`unregistration of event "${event}"`, undefined, false, async (conn, deadline) => {
      if (conn && !this.subscriptions.has(event) && conn.registered.has(event)) await this.unregister(conn, event, deadline);
    }).catch((error: unknown) => this.warnUnregister(event, error));
  }

  private warnUnregister(event: string, error: unknown): void {
    this.logger?.warn({ event, err: errorText(error) }, 'vici: unregistering an event failed');
  }

  private enqueue<T>(what: string, timeoutMs: number | undefined, open: boolean, work: (connection: ViciConnection | undefined, deadline: Deadline) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new ViciConnectionError(`vici ${what}: vici client closed`));
    let ms: number;
    try {
      ms = checkTimeout(timeoutMs ?? this.timeoutMs);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<T>((resolve, reject) => {
      const job: Job = { what, deadline: deadlineIn(ms), open, work, resolve: resolve as (value: unknown) => void, reject, queueTimer: undefined };
      // Nothing was sent yet, so a job that times out in the queue leaves the connection alone.
      job.queueTimer = setTimeout(() => {
        const index = this.queue.indexOf(job);
        if (index < 0) return;
        this.queue.splice(index, 1);
        reject(new ViciTimeoutError(`vici ${what}: not started within ${ms} ms (queued behind earlier requests)`, ms));
      }, ms);
      this.queue.push(job);
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (let job = this.queue.shift(); job; job = this.queue.shift()) {
        clearTimeout(job.queueTimer);
        // Its queue timer may not have fired yet (the answer to the job ahead was handled first).
        // Sending it now would only have the connection reset by its deadline: reject it unsent.
        if (tooLateToSend(job.deadline)) {
          const ms = job.deadline.timeoutMs;
          job.reject(new ViciTimeoutError(`vici ${job.what}: expired while queued behind another command (timeout ${ms} ms); not sent`, ms));
          continue;
        }
        try {
          const connection = job.open ? await this.ready(job.what, job.deadline) : this.usableConnection();
          job.resolve(await job.work(connection, job.deadline));
        } catch (error) {
          job.reject(error instanceof Error ? error : new Error(String(error)));
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  private usableConnection(): ViciConnection | undefined {
    return this.connection && !this.connection.closed ? this.connection : undefined;
  }

  /** The current connection, or a new one with every subscription registered on it. */
  private async ready(what: string, deadline: Deadline): Promise<ViciConnection> {
    const current = this.usableConnection();
    if (current) return current;
    if (this.closed) throw new ViciConnectionError(`vici ${what}: vici client closed`);
    if (remainingMs(deadline) <= 0) throw new ViciTimeoutError(`vici ${what}: no time left to connect to charon within ${deadline.timeoutMs} ms`, deadline.timeoutMs);
    let socket: Duplex;
    try {
      socket = this.openSocket();
    } catch (error) {
      throw new ViciConnectionError(`vici ${what}: cannot connect to charon: ${errorText(error)}`, { cause: error });
    }
    let up = false;
    const conn: ViciConnection = new ViciConnection(socket, {
      onEvent: (name, message) => this.deliver(name, message),
      onClose: (reason) => this.lost(conn, reason, up),
    });
    this.connection = conn;
    try {
      await conn.waitConnected(what, deadline);
      for (const event of [...this.subscriptions.keys()]) {
        try {
          await this.register(conn, event, deadline);
        } catch (error) {
          if (!(error instanceof ViciUnknownEventError)) throw error;
          // A charon without this event (another version): the other subscriptions still work.
          this.logger?.error({ event }, 'vici: charon no longer knows a subscribed event');
        }
      }
    } catch (error) {
      conn.destroy(error as Error);
      throw error;
    }
    up = true;
    this.reconnectFailures = 0;
    this.logger?.info({ subscriptions: [...conn.registered] }, 'vici: connected to charon');
    for (const listener of [...this.connectListeners]) this.callSafely(() => listener(), 'vici: onConnect listener failed', {});
    return conn;
  }

  private lost(conn: ViciConnection, reason: Error, wasUp: boolean): void {
    if (this.connection === conn) this.connection = undefined;
    if (this.closed) return;
    if (wasUp) this.logger?.warn({ err: reason.message }, 'vici: connection to charon lost');
    else this.logger?.warn({ err: reason.message }, 'vici: could not connect to charon');
    this.scheduleReconnect();
  }

  /** Subscriptions (and connect listeners) wait for charon: reconnect without waiting for a request. */
  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer || (this.subscriptions.size === 0 && this.connectListeners.size === 0)) return;
    const delay = backoffDelay(++this.reconnectFailures, this.reconnectPolicy);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.usableConnection()) return;
      // A failure closes the connection, and that schedules the next attempt.
      this.enqueue('reconnect', undefined, true, async () => {}).catch((error: unknown) => {
        this.logger?.debug({ err: errorText(error) }, 'vici: reconnect failed');
        this.scheduleReconnect();
      });
    }, delay);
  }

  private deliver(event: string, message: ViciSection): void {
    let taken = false;
    if (this.collector?.event === event) {
      this.collector.events.push(message);
      taken = true;
    }
    for (const { handler } of this.subscriptions.get(event) ?? []) {
      taken = true;
      this.callSafely(() => handler(message, event), 'vici: event handler failed', { event });
    }
    if (!taken) this.logger?.debug({ event }, 'vici: event nobody listens to');
  }

  private callSafely(fn: () => unknown, failure: string, fields: Record<string, unknown>): void {
    const report = (error: unknown) => this.logger?.error({ ...fields, err: errorText(error) }, failure);
    try {
      const result = fn();
      if (result instanceof Promise) result.catch(report);
    } catch (error) {
      report(error);
    }
  }
}

function checkTimeout(ms: number): number {
  if (!(ms > 0) || !Number.isFinite(ms)) throw new RangeError(`vici timeoutMs must be a positive finite number, got ${ms}`);
  return ms;
}

