import { RawNetlinkSocket } from 'netlink';
import { decodeMessages, type NetlinkMessage } from './codec.ts';

const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

export interface NetlinkSubscription {
  close(): void;
}

/**
 * A socket of its own joined to multicast groups: each datagram's messages go to onMessages, and
 * any receive error to onLost (ENOBUFS, an overrun, is the expected one: notifications are
 * missing). Membership is in place when this returns, so a dump taken afterwards plus the
 * notifications cover every change. The socket keeps the process alive until closed.
 */
export function subscribeNetlink(
  protocol: number, groups: Iterable<number>, onMessages: (messages: NetlinkMessage[]) => void, onLost: () => void,
): NetlinkSubscription {
  const socket = new RawNetlinkSocket(protocol, { recvBufferSize: RECEIVE_BUFFER_BYTES, sendBufferSize: 0 });
  socket.on('message', (datagram: Buffer) => onMessages(decodeMessages(datagram)));
  socket.on('error', () => onLost());
  try {
    for (const group of new Set(groups)) socket.addMembership(group);
  } catch (error) {
    socket.close();
    throw error;
  }
  let closed = false;
  return {
    close() {
      if (closed) return;
      closed = true;
      socket.close();
    },
  };
}
