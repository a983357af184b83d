import { decodeMessages, type NetlinkMessage } from './codec.ts';
import {
  bufferWarning, closeLater, processWarning, rawNetlinkSocketFactory, receiveBuffer,
  type NetlinkSocket, type NetlinkSocketError, type NetlinkSocketFactory,
} from './socket.ts';

/** First delay before retrying a reopen that failed (EMFILE, ENOMEM), doubled up to MAX_REOPEN_DELAY_MS. */
const REOPEN_DELAY_MS = 100;
const MAX_REOPEN_DELAY_MS = 5000;

/**
 * recvmsg reports ENOBUFS by name; an overrun seen first by epoll arrives as EPOLLERR, which libuv
 * turns into EBADF for every poll error, so that one is named for what it usually is.
 */
function errorCause(error: NetlinkSocketError): string {
  const code = error.code ?? error.message;
  return error.syscall && error.syscall !== 'recvmsg' ? `${error.syscall} reported ${code}, usually an overrun (ENOBUFS)` : code;
}

export interface NetlinkSubscription {
  close(): void;
}

export interface SubscriptionOptions {
  /** Opens the socket (and its replacements); a real socket of the protocol by default. */
  socketFactory?: NetlinkSocketFactory;
  /** Where the one warning about a capped receive buffer goes (a process warning by default). */
  warn?: (message: string) => void;
  reopenDelayMs?: number;
}

/**
 * A socket of its own joined to multicast groups: each datagram's messages go to onMessages.
 * Membership is in place when this returns, so a dump taken afterwards plus the notifications
 * cover every change. The socket keeps the process alive until closed.
 *
 * Any receive error (ENOBUFS, an overrun, is the expected one), a truncated or malformed datagram
 * means notifications are missing: the socket is replaced by a fresh one joined to the same groups,
 * and only then onLost is called with the reason, so the caller's full resync starts after the new
 * membership and misses nothing. Replacing instead of reading on matters because the binding
 * closes the socket itself on a poll error, and nothing tells which kind of error it was.
 */
export function subscribeNetlink(
  protocol: number, groups: Iterable<number>, onMessages: (messages: NetlinkMessage[]) => void, onLost: (reason: string) => void,
  options: SubscriptionOptions = {},
): NetlinkSubscription {
  const memberships = [...new Set(groups)];
  const openSocket = options.socketFactory ?? rawNetlinkSocketFactory(protocol, 0);
  const warn = options.warn ?? processWarning;
  const firstDelay = options.reopenDelayMs ?? REOPEN_DELAY_MS;
  let closed = false;
  let warned = false;
  let retry: NodeJS.Timeout | undefined;

  const open = (): NetlinkSocket => {
    const fresh = openSocket();
    try {
      fresh.on('message', (datagram) => {
        if (fresh !== socket) return;
        let malformed = false;
        const messages = decodeMessages(datagram, () => { malformed = true; });
        if (messages.length > 0) onMessages(messages);
        if (malformed) lost(fresh, 'a malformed notification datagram');
      });
      fresh.on('truncatedMessage', () => lost(fresh, 'a truncated notification'));
      fresh.on('error', (error) => lost(fresh, errorCause(error)));
      for (const group of memberships) fresh.addMembership(group);
    } catch (error) {
      closeLater(fresh);
      throw error;
    }
    if (!warned) {
      try {
        const message = bufferWarning(receiveBuffer(fresh), `netlink subscription (protocol ${protocol})`);
        if (message) { warned = true; warn(message); }
      } catch { /* reading the size back is diagnostics only */ }
    }
    return fresh;
  };

  const lost = (from: NetlinkSocket, cause: string) => {
    if (from !== socket || closed) return;
    socket = undefined;
    closeLater(from);
    reopen(`netlink events lost (${cause}): full resync`, firstDelay);
  };

  const reopen = (reason: string, delay: number) => {
    retry = undefined;
    if (closed) return;
    try {
      socket = open();
    } catch {
      // Keep trying: a subscription that silently stops would leave drift unrepaired forever.
      retry = setTimeout(() => reopen(reason, Math.min(delay * 2, MAX_REOPEN_DELAY_MS)), delay);
      return;
    }
    onLost(reason);
  };

  let socket: NetlinkSocket | undefined = open();
  return {
    close() {
      if (closed) return;
      closed = true;
      clearTimeout(retry);
      if (socket) closeLater(socket);
      socket = undefined;
    },
  };
}
