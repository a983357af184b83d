import { setTimeout as sleep } from 'node:timers/promises';
import {
  decodeError, decodeMessages, encodeMessage, NETLINK_NETFILTER, NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR,
  type NetlinkMessage,
} from './netlink/codec.ts';
import { backoffDelay } from '../model/backoff.ts';
import { closeLater, rawNetlinkSocketFactory, type NetlinkSocket, type NetlinkSocketFactory } from './netlink/socket.ts';

const NFNETLINK_V0 = 0;
const ANSWER_TIMEOUT_MS = 2000;
const SEND_BUFFER_BYTES = 65536;
/** Bytes of messages per send: within the send buffer the kernel grants (twice SEND_BUFFER_BYTES), with room to spare. */
const SEND_GROUP_BYTES = 61440;
/**
 * The largest transaction sent, in bytes: the kernel reads a batch from one datagram, so the send
 * buffer is sized for the whole of it (the binding asks with SO_SNDBUFFORCE, which the agent's
 * CAP_NET_ADMIN lets past net.core.wmem_max). 1 MiB holds about 25,000 interval prefixes.
 */
export const TRANSACTION_MAX_BYTES = 1 << 20;
/** Interrupted dumps (the set or table changed while read) are retried this many times in all, after a growing delay. */
const DUMP_ATTEMPTS = 5;
const DUMP_RETRY_DELAY_MS = 10;

export interface NfnetlinkOptions {
  /** Opens the socket; a real NETLINK_NETFILTER socket by default. */
  socketFactory?: NetlinkSocketFactory;
  /** Without a complete answer by then, netlink "cannot answer" (null). */
  timeoutMs?: number;
  dumpAttempts?: number;
  dumpRetryDelayMs?: number;
  /**
   * A transaction's messages are encoded at once and sent once this fulfils (what they need, made
   * by another process meanwhile: encoding 10,000 elements takes a cold process longer than the
   * kernel takes to insert them); when it rejects, nothing is sent and its error passes on.
   */
  sendAfter?: Promise<unknown>;
}

/** One nfnetlink request: subsystem, command, family and its attributes (for a lookup, the object's name). */
export interface NfnetlinkRequest {
  subsystem: number;
  command: number;
  family: number;
  attributes: Buffer[];
  /** Flags beside NLM_F_REQUEST and the acknowledgement or dump flag (e.g. NLM_F_CREATE). */
  flags?: number;
}

const encodeRequest = (request: NfnetlinkRequest, flags: number, seq: number): Buffer => encodeMessage(
  (request.subsystem << 8) | request.command, NLM_F_REQUEST | flags | (request.flags ?? 0), seq,
  [Buffer.from([request.family, NFNETLINK_V0, 0, 0]), ...request.attributes],
);

/**
 * The messages in order, in groups of at most SEND_GROUP_BYTES (one alone when it is larger): one
 * sendmsg each, as the kernel refuses a send larger than the socket's send buffer (EMSGSIZE).
 */
function sendGroups(messages: readonly Buffer[]): Buffer[][] {
  const groups: Buffer[][] = [];
  let group: Buffer[] = [];
  let bytes = 0;
  for (const message of messages) {
    if (group.length > 0 && bytes + message.length > SEND_GROUP_BYTES) {
      groups.push(group);
      group = [];
      bytes = 0;
    }
    group.push(message);
    bytes += message.length;
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

/**
 * Sends the requests on a fresh NETLINK_NETFILTER socket and feeds every answer message to
 * `answer` until it returns a result; null when netlink cannot answer (no socket, a send error,
 * no result in time). The socket is closed either way.
 */
function exchange<T>(
  requests: Buffer[], answer: (message: NetlinkMessage) => T | undefined, options: NfnetlinkOptions,
  sends: Buffer[][] = sendGroups(requests), sendBufferBytes = SEND_BUFFER_BYTES,
): Promise<T | null> {
  let socket: NetlinkSocket;
  try {
    socket = (options.socketFactory ?? rawNetlinkSocketFactory(NETLINK_NETFILTER, sendBufferBytes))();
  } catch {
    return Promise.resolve(null);
  }
  return new Promise((resolve) => {
    let done = false;
    const finish = (result: T | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      closeLater(socket);
      resolve(result);
    };
    const timer = setTimeout(() => finish(null), options.timeoutMs ?? ANSWER_TIMEOUT_MS);
    socket.on('error', () => finish(null));
    socket.on('truncatedMessage', () => finish(null));
    socket.on('message', (datagram) => {
      let malformed = false;
      for (const message of decodeMessages(datagram, () => { malformed = true; })) {
        const result = answer(message);
        if (result !== undefined) return finish(result);
      }
      if (malformed) finish(null); // part of the answer is gone
    });
    try {
      for (const group of sends) socket.send(group, undefined, (error) => { if (error) finish(null); });
    } catch {
      finish(null);
    }
  });
}

/**
 * Sends the requests on one fresh NETLINK_NETFILTER socket, each asking for an acknowledgement,
 * and returns each one's errno (0: done, or for a lookup, the object exists), in order; null when
 * netlink cannot answer. Lookups are reads without starting a process (the callers skip a tool's
 * full dump when what it would show does not exist); ipset uses it to change members.
 */
export function nfnetlinkAcks(requests: readonly NfnetlinkRequest[], options: NfnetlinkOptions = {}): Promise<number[] | null> {
  if (requests.length === 0) return Promise.resolve([]);
  const errnos: number[] = new Array(requests.length).fill(-1);
  let unanswered = requests.length;
  return exchange(requests.map((request, i) => encodeRequest(request, NLM_F_ACK, i + 1)), (message) => {
    if (message.type !== NLMSG_ERROR) return undefined; // the object itself; its acknowledgement follows
    const index = message.seq - 1;
    if (errnos[index] !== -1) return undefined;
    errnos[index] = decodeError(message.payload).errno;
    return --unanswered === 0 ? errnos : undefined;
  }, options);
}

const NFNL_MSG_BATCH_BEGIN = 0x10;
const NFNL_MSG_BATCH_END = 0x11;

/**
 * The requests as one nftables transaction (between BATCH_BEGIN and BATCH_END for `subsystem`) on
 * a fresh NETLINK_NETFILTER socket, each asking for an acknowledgement: the kernel applies all of
 * them or none. Each one's errno (0: done), in order; null when netlink cannot answer or the
 * transaction is larger than TRANSACTION_MAX_BYTES.
 */
export async function nfnetlinkTransaction(subsystem: number, requests: readonly NfnetlinkRequest[], options: NfnetlinkOptions = {}): Promise<number[] | null> {
  if (requests.length === 0) return [];
  const marker = (type: number, seq: number) => {
    // The subsystem the batch is for, big-endian in the header's resource id.
    const header = Buffer.from([0, NFNETLINK_V0, subsystem >> 8, subsystem & 0xff]);
    return encodeMessage(type, NLM_F_REQUEST, seq, [header]);
  };
  const errnos: number[] = new Array(requests.length).fill(-1);
  let unanswered = requests.length;
  const messages = [marker(NFNL_MSG_BATCH_BEGIN, 1), ...requests.map((request, i) => encodeRequest(request, NLM_F_ACK, i + 2)), marker(NFNL_MSG_BATCH_END, requests.length + 2)];
  // A transaction is one send: the kernel reads a batch from one datagram, and refuses one larger
  // than the socket's send buffer (EMSGSIZE; the kernel grants twice what is asked).
  const bytes = messages.reduce((sum, message) => sum + message.length, 0);
  if (bytes > TRANSACTION_MAX_BYTES) return null;
  await options.sendAfter;
  return exchange(messages, (message) => {
    if (message.type !== NLMSG_ERROR) return undefined;
    const { errno } = decodeError(message.payload);
    const index = message.seq - 2;
    // An error against the batch itself (its BEGIN: a commit that failed and was rolled back, no
    // permission, no such subsystem) comes before the messages' own acknowledgements, which may all
    // read 0: the transaction failed as a whole.
    if (index < 0 || index >= requests.length) return errno === 0 ? undefined : new Array<number>(requests.length).fill(errno);
    if (errnos[index] !== -1) return undefined;
    errnos[index] = errno;
    return --unanswered === 0 ? errnos : undefined;
  }, options, [messages], Math.max(SEND_BUFFER_BYTES, bytes));
}

/**
 * One request on a fresh NETLINK_NETFILTER socket, asking for an acknowledgement: the messages the
 * kernel answered with before it, and its errno (0: done); null when netlink cannot answer. For
 * the commands that answer with one message rather than a dump (ipset's TYPE).
 */
export function nfnetlinkAsk(request: NfnetlinkRequest, options: NfnetlinkOptions = {}): Promise<NfnetlinkDumpResult | null> {
  const messages: NetlinkMessage[] = [];
  return exchange([encodeRequest(request, NLM_F_ACK, 1)], (message): NfnetlinkDumpResult | undefined => {
    if (message.type !== NLMSG_ERROR) { messages.push(message); return undefined; }
    const { errno } = decodeError(message.payload);
    return errno === 0 ? { errno: 0, messages } : { errno };
  }, options);
}

export type NfnetlinkDumpResult = { errno: 0; messages: NetlinkMessage[] } | { errno: number; messages?: undefined };

/**
 * One nfnetlink dump on a fresh NETLINK_NETFILTER socket: every message of the answer, or the
 * errno the kernel refused it with (ENOENT: no such object); null when netlink cannot answer.
 * An answer the kernel marked NLM_F_DUMP_INTR (the object changed while it was read, so the
 * messages may mix two states) is read again after a short, growing delay; still interrupted
 * after the last attempt, netlink cannot answer (null) and the caller reads with its tool.
 */
export async function nfnetlinkDump(request: NfnetlinkRequest, options: NfnetlinkOptions = {}): Promise<NfnetlinkDumpResult | null> {
  const attempts = options.dumpAttempts ?? DUMP_ATTEMPTS;
  const firstDelay = options.dumpRetryDelayMs ?? DUMP_RETRY_DELAY_MS;
  for (let attempt = 1; ; attempt++) {
    const answer = await dumpOnce(request, options);
    if (answer === null || !answer.interrupted) return answer?.result ?? null;
    if (attempt >= attempts) return null;
    await sleep(backoffDelay(attempt, { minMs: firstDelay, maxMs: firstDelay * 2 ** attempts }));
  }
}

function dumpOnce(request: NfnetlinkRequest, options: NfnetlinkOptions): Promise<{ result: NfnetlinkDumpResult; interrupted: boolean } | null> {
  const messages: NetlinkMessage[] = [];
  let interrupted = false;
  const ended = (errno: number) => ({ result: errno === 0 ? { errno: 0 as const, messages } : { errno }, interrupted });
  return exchange([encodeRequest(request, NLM_F_DUMP, 1)], (message) => {
    if (message.flags & NLM_F_DUMP_INTR) interrupted = true;
    if (message.type === NLMSG_DONE) return ended(message.payload.length >= 4 ? -message.payload.readInt32LE(0) : 0);
    if (message.type === NLMSG_ERROR) return ended(decodeError(message.payload).errno);
    messages.push(message);
    return undefined;
  }, options);
}

export { attr, cstring } from './netlink/codec.ts';
