import { RawNetlinkSocket } from 'netlink';
import { decodeError, decodeMessages, encodeMessage, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, type NetlinkMessage } from './netlink/codec.ts';

const NETLINK_NETFILTER = 12;
const NFNETLINK_V0 = 0;
const ANSWER_TIMEOUT_MS = 2000;
const RECEIVE_BUFFER_BYTES = 1024 * 1024;

/** One nfnetlink request that names an object: subsystem, command, and the object's name attributes. */
export interface NfnetlinkLookup {
  subsystem: number;
  command: number;
  family: number;
  attributes: Buffer[];
}

const encodeRequest = (request: NfnetlinkLookup, flags: number, seq: number): Buffer => encodeMessage(
  (request.subsystem << 8) | request.command, NLM_F_REQUEST | flags, seq,
  [Buffer.from([request.family, NFNETLINK_V0, 0, 0]), ...request.attributes],
);

/**
 * Sends the requests on a fresh NETLINK_NETFILTER socket and feeds every answer message to
 * `answer` until it returns a result; null when netlink cannot answer (no socket, a send error,
 * no result in time). The socket is closed either way.
 */
function exchange<T>(requests: Buffer[], answer: (message: NetlinkMessage) => T | undefined): Promise<T | null> {
  let socket: RawNetlinkSocket;
  try {
    socket = new RawNetlinkSocket(NETLINK_NETFILTER, { recvBufferSize: RECEIVE_BUFFER_BYTES, sendBufferSize: 65536 });
  } catch {
    return Promise.resolve(null);
  }
  return new Promise((resolve) => {
    const finish = (result: T | null) => {
      clearTimeout(timer);
      socket.close();
      resolve(result);
    };
    const timer = setTimeout(() => finish(null), ANSWER_TIMEOUT_MS);
    socket.on('error', () => finish(null));
    socket.on('message', (datagram) => {
      for (const message of decodeMessages(datagram)) {
        const result = answer(message);
        if (result !== undefined) return finish(result);
      }
    });
    socket.send(requests, {}, (error) => { if (error) finish(null); });
  });
}

/**
 * Sends the lookups on one fresh NETLINK_NETFILTER socket and returns each one's errno (0: the
 * object exists), in order; null when netlink cannot answer. A read without starting a process:
 * the callers use it to skip a tool's full dump when what it would show does not exist.
 */
export function nfnetlinkLookup(lookups: readonly NfnetlinkLookup[]): Promise<number[] | null> {
  if (lookups.length === 0) return Promise.resolve([]);
  const errnos: number[] = new Array(lookups.length).fill(-1);
  let unanswered = lookups.length;
  return exchange(lookups.map((lookup, i) => encodeRequest(lookup, NLM_F_ACK, i + 1)), (message) => {
    if (message.type !== NLMSG_ERROR) return undefined; // the object itself; its acknowledgement follows
    const index = message.seq - 1;
    if (errnos[index] !== -1) return undefined;
    errnos[index] = decodeError(message.payload).errno;
    return --unanswered === 0 ? errnos : undefined;
  });
}

export type NfnetlinkDumpResult = { errno: 0; messages: NetlinkMessage[] } | { errno: number; messages?: undefined };

/**
 * One nfnetlink dump on a fresh NETLINK_NETFILTER socket: every message of the answer, or the
 * errno the kernel refused it with (ENOENT: no such object); null when netlink cannot answer.
 */
export function nfnetlinkDump(request: NfnetlinkLookup): Promise<NfnetlinkDumpResult | null> {
  const messages: NetlinkMessage[] = [];
  const ended = (errno: number): NfnetlinkDumpResult => (errno === 0 ? { errno: 0, messages } : { errno });
  return exchange([encodeRequest(request, NLM_F_DUMP, 1)], (message) => {
    if (message.type === NLMSG_DONE) return ended(message.payload.length >= 4 ? -message.payload.readInt32LE(0) : 0);
    if (message.type === NLMSG_ERROR) return ended(decodeError(message.payload).errno);
    messages.push(message);
    return undefined;
  });
}

export { attr, cstring } from './netlink/codec.ts';
