/**
 * The small surface of a netlink socket that the request connection and the subscriptions use,
 * so units can drive lost replies, errors and overruns without the kernel, plus the one place
 * that opens real sockets with seaway's receive buffer size.
 */
// The raw socket alone: the package's index also loads its nl80211, WireGuard, generic and rtnetlink
// struct tables, which seaway does not use (4.4 MiB more anonymous memory, measured by loading each).
import { RawNetlinkSocket } from 'netlink/dist/raw.js';

/**
 * Receive buffer asked for on every seaway netlink socket. Event sockets need room for bursts
 * (a CNI creating hundreds of veths); request sockets for the error replies of pipelined batches.
 */
export const NETLINK_RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

export interface NetlinkSocketError extends Error {
  code?: string;
  syscall?: string;
}

export interface NetlinkSocket {
  send(data: Buffer | Buffer[], options: undefined, callback: (error?: NetlinkSocketError) => void): void;
  on(event: 'message' | 'truncatedMessage', listener: (datagram: Buffer) => void): unknown;
  on(event: 'error', listener: (error: NetlinkSocketError) => void): unknown;
  close(): void;
  ref(): void;
  unref(): void;
  addMembership(group: number): void;
  /** getsockopt(SO_RCVBUF): what the kernel granted, doubled for its bookkeeping. */
  getRecvBufferSize(): number;
}

export type NetlinkSocketFactory = () => NetlinkSocket;

export interface ReceiveBuffer {
  requested: number;
  /** The kernel's SO_RCVBUF read back (it doubles what it grants). */
  granted: number;
  /** True when the kernel capped the request (net.core.rmem_max): an overrun comes sooner than planned. */
  capped: boolean;
}

/**
 * Opens a real socket. The project's build of the `netlink` binding (scripts/patch-netlink.sh) sets
 * the buffer with SO_RCVBUFFORCE, which ignores rmem_max under CAP_NET_ADMIN, and falls back to
 * SO_RCVBUF (capped at rmem_max) without it; receiveBuffer() reads back what was granted.
 */
export function rawNetlinkSocketFactory(protocol: number, sendBufferBytes: number, receiveBufferBytes = NETLINK_RECEIVE_BUFFER_BYTES): NetlinkSocketFactory {
  return () => new RawNetlinkSocket(protocol, { recvBufferSize: receiveBufferBytes, sendBufferSize: sendBufferBytes });
}

export function receiveBuffer(socket: NetlinkSocket, requested = NETLINK_RECEIVE_BUFFER_BYTES): ReceiveBuffer {
  const granted = socket.getRecvBufferSize();
  return { requested, granted, capped: granted < 2 * requested };
}

/** One warning per owner when the buffer came out smaller than asked: saying it once is enough to explain ENOBUFS later. */
export function bufferWarning(buffer: ReceiveBuffer, what: string): string | undefined {
  if (!buffer.capped) return undefined;
  return `${what}: receive buffer is ${buffer.granted} bytes (kernel-doubled), asked ${buffer.requested}; `
    + 'the kernel refused SO_RCVBUFFORCE (no CAP_NET_ADMIN) and net.core.rmem_max caps SO_RCVBUF, so notification bursts may overrun (ENOBUFS, then a full resync)';
}

/**
 * Closes the socket outside the binding's callbacks: after a message or error callback returns,
 * the binding goes on using the socket (it polls for pending writes next), and promise reactions
 * run inside those callbacks, so closing there could pull the socket from under it.
 */
export function closeLater(socket: NetlinkSocket): void {
  setImmediate(() => {
    try {
      socket.close();
    } catch { /* the binding closed it already */ }
  });
}

/** The default sink for that warning when the caller passes no logger: never silent. */
export const processWarning = (message: string): void => { process.emitWarning(message, 'SeawayNetlinkWarning'); };
