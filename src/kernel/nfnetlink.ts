import { RawNetlinkSocket } from 'netlink';
import { decodeError, decodeMessages, encodeMessage, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, type NetlinkMessage } from './netlink/codec.ts';

const NETLINK_NETFILTER = 12;
const NFNETLINK_V0 = 0;
const ANSWER_TIMEOUT_MS = 2000;
const DUMP_BUFFER_BYTES = 1024 * 1024;

/** One nfnetlink request that names an object: subsystem, command, and the object's name attributes. */
export interface NfnetlinkLookup {
  subsystem: number;
  command: number;
  family: number;
  attributes: Buffer[];
}

/**
 * Sends the lookups on one fresh NETLINK_NETFILTER socket and returns each one's errno (0: the
 * object exists), in order; null when netlink cannot answer (no socket, a send error, no answer in
 * time). A read without starting a process: the callers use it to skip a tool's full dump when
 * what it would show does not exist.
 */
export function nfnetlinkLookup(lookups: readonly NfnetlinkLookup[]): Promise<number[] | null> {
  if (lookups.length === 0) return Promise.resolve([]);
  let socket: RawNetlinkSocket;
  try {
    socket = new RawNetlinkSocket(NETLINK_NETFILTER, { recvBufferSize: 65536, sendBufferSize: 65536 });
  } catch {
    return Promise.resolve(null);
  }
  return new Promise((resolve) => {
    const errnos: number[] = new Array(lookups.length).fill(-1);
    let unanswered = lookups.length;
    const finish = (result: number[] | null) => {
      clearTimeout(timer);
      socket.close();
      resolve(result);
    };
    const timer = setTimeout(() => finish(null), ANSWER_TIMEOUT_MS);
    socket.on('error', () => finish(null));
    socket.on('message', (datagram) => {
      for (const message of decodeMessages(datagram)) {
        if (message.type !== NLMSG_ERROR) continue; // the object itself; its acknowledgement follows
        const index = message.seq - 1;
        if (errnos[index] !== -1) continue;
        errnos[index] = decodeError(message.payload).errno;
        if (--unanswered === 0) return finish(errnos);
      }
    });
    socket.send(lookups.map((lookup, i) => encodeMessage(
      (lookup.subsystem << 8) | lookup.command, NLM_F_REQUEST | NLM_F_ACK, i + 1,
      [Buffer.from([lookup.family, NFNETLINK_V0, 0, 0]), ...lookup.attributes],
    )), {}, (error) => { if (error) finish(null); });
  });
}

export type NfnetlinkDumpResult = { errno: 0; messages: NetlinkMessage[] } | { errno: number; messages?: undefined };

/**
 * One nfnetlink dump on a fresh NETLINK_NETFILTER socket: every message of the answer, or the
 * errno the kernel refused it with (ENOENT: no such object); null when netlink cannot answer
 * (no socket, a send error, no end of the dump in time).
 */
export function nfnetlinkDump(request: NfnetlinkLookup): Promise<NfnetlinkDumpResult | null> {
  let socket: RawNetlinkSocket;
  try {
    socket = new RawNetlinkSocket(NETLINK_NETFILTER, { recvBufferSize: DUMP_BUFFER_BYTES, sendBufferSize: 65536 });
  } catch {
    return Promise.resolve(null);
  }
  return new Promise((resolve) => {
    const messages: NetlinkMessage[] = [];
    const finish = (result: NfnetlinkDumpResult | null) => {
      clearTimeout(timer);
      socket.close();
      resolve(result);
    };
    const timer = setTimeout(() => finish(null), ANSWER_TIMEOUT_MS);
    socket.on('error', () => finish(null));
    socket.on('message', (datagram) => {
      for (const message of decodeMessages(datagram)) {
        if (message.type === NLMSG_DONE) {
          const errno = message.payload.length >= 4 ? -message.payload.readInt32LE(0) : 0;
          return finish(errno === 0 ? { errno: 0, messages } : { errno });
        }
        if (message.type === NLMSG_ERROR) {
          const { errno } = decodeError(message.payload);
          return finish(errno === 0 ? { errno: 0, messages } : { errno });
        }
        messages.push(message);
      }
    });
    socket.send([encodeMessage(
      (request.subsystem << 8) | request.command, NLM_F_REQUEST | NLM_F_DUMP, 1,
      [Buffer.from([request.family, NFNETLINK_V0, 0, 0]), ...request.attributes],
    )], {}, (error) => { if (error) finish(null); });
  });
}

export { attr, cstring } from './netlink/codec.ts';
