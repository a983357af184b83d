import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { SpawnAddon } from './spawner.ts';

/**
 * ICMP echo probes for tunnel health and RTT, through the `native/` addon (native/icmp_probe.c):
 * one raw socket sends to any number of targets and hands back batches of replies with the kernel's
 * receive time. Node has no raw sockets, and a `ping` per probe per remote would be hundreds of
 * processes a second on a gateway. The addon is built from source by scripts/build-native.sh
 * (run by `npm run bootstrap`); there is no fallback: without it probing fails with a clear error.
 */

/**
 * Defined only when this file is bundled (scripts/bundle.ts): the addon's path relative to the
 * bundle, which ships it beside itself. There import.meta.url is the bundle's, so the repository's
 * relative path below would point nowhere. Undefined (never declared at run time) for the `.ts` sources.
 */
declare const SEAWAY_BUNDLE_ICMP_ADDON: string | undefined;

/** Where the addon is: beside the bundle in the image, else where scripts/build-native.sh puts it, relative to this file in the repository. */
export const ICMP_ADDON_PATH = fileURLToPath(new URL(
  typeof SEAWAY_BUNDLE_ICMP_ADDON === 'string' ? SEAWAY_BUNDLE_ICMP_ADDON : '../../native/build/Release/seaway_icmp.node',
  import.meta.url,
));

export interface EchoReply {
  /** The address that answered (the reply's IP source). */
  src: string;
  /** The local address the reply came to (its IP destination): the probe's source address. */
  dst: string;
  id: number;
  seq: number;
  /** The reply's IP TTL. */
  ttl: number;
  /** The send time carried in the probe (CLOCK_REALTIME ns, the value send() returned). */
  sentNs: bigint;
  /** The kernel's receive time (SO_TIMESTAMPNS, CLOCK_REALTIME ns): unaffected by a busy event loop. */
  receivedNs: bigint;
  /** receivedNs - sentNs. Negative or absurd only when the realtime clock stepped in between. */
  rttNs: number;
}

export interface IcmpSocketOptions {
  /**
   * Source address of every probe (an address of this namespace). The gateway probes from its CNI
   * address so the probe is routed through the tunnel. The socket then receives only replies
   * addressed to it.
   */
  source?: string;
  /** SO_MARK for policy routing of the probes (CAP_NET_ADMIN or, since Linux 5.17, CAP_NET_RAW). */
  mark?: number;
  /** Replies as they arrive, one batch per socket wake-up; never called after close(). */
  onReplies: (batch: EchoReply[]) => void;
  /** A receive failure; without a handler it is thrown as an uncaught exception. */
  onError?: (error: Error) => void;
}

export interface IcmpSocket {
  /**
   * Sends one echo request (id and seq 0-65535) and returns its send time (the reply's sentNs).
   * Throws synchronously, with the errno code, when the kernel refuses it (ENETUNREACH, a full
   * send buffer: EAGAIN/ENOBUFS), or ERR_SOCKET_CLOSED after close().
   */
  send(dst: string, id: number, seq: number): bigint;
  /** Stops the poll and closes the fd; idempotent. A finalizer does the same if the object is dropped open. */
  close(): void;
  readonly closed: boolean;
  /** Whether the open socket keeps the process alive (it does by default, like Node's own sockets). */
  ref(): IcmpSocket;
  unref(): IcmpSocket;
}

/** The addon's exports: seaway's one native module, so it carries posix_spawn (kernel/spawner) too. */
export interface IcmpAddon extends SpawnAddon {
  IcmpSocket: new (options: IcmpSocketOptions) => IcmpSocket;
  /** Bytes of an echo request after the IP header. */
  ECHO_BYTES: number;
  /** glibc's malloc_trim(0) (native/malloc_trim.c, see kernel/malloc-trim.ts): true when pages were given back. */
  mallocTrim(): boolean;
}

export class IcmpAddonError extends Error {
  readonly path: string;
  constructor(message: string, path: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'IcmpAddonError';
    this.path = path;
  }
}

/**
 * Loads the addon from an explicit path (never a search: a missing build must not find something
 * else). Throws IcmpAddonError when it is not built or cannot be loaded.
 */
export function loadIcmpAddon(path: string = ICMP_ADDON_PATH): IcmpAddon {
  if (!existsSync(path)) {
    throw new IcmpAddonError(`the ICMP probe addon is not built: run \`npm run bootstrap\` (scripts/build-native.sh); expected ${path}`, path);
  }
  let addon: unknown;
  try {
    addon = createRequire(import.meta.url)(path);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new IcmpAddonError(`the ICMP probe addon at ${path} could not be loaded (${reason}); rebuild it: rm -rf native/build && bash scripts/build-native.sh`, path, { cause: error });
  }
  const exports = addon as Partial<IcmpAddon> | null;
  if (typeof exports?.IcmpSocket !== 'function' || typeof exports.mallocTrim !== 'function' || typeof exports.spawn !== 'function' || typeof exports.reap !== 'function') {
    throw new IcmpAddonError(`${path} is not the ICMP probe addon of this version (it exports no IcmpSocket, mallocTrim, spawn or reap); rebuild it: rm -rf native/build && bash scripts/build-native.sh`, path);
  }
  return exports as IcmpAddon;
}

/**
 * Opens a raw ICMP socket in the calling thread's network namespace (needs CAP_NET_RAW). Throws an
 * Error with the errno code and text on failure, e.g. "socket(): Operation not permitted" (EPERM),
 * "bind(10.1.2.3): Cannot assign requested address" (EADDRNOTAVAIL) for a source that is not local;
 * a TypeError for malformed options.
 */
export function openIcmpSocket(addon: IcmpAddon, options: IcmpSocketOptions): IcmpSocket {
  return new addon.IcmpSocket(options);
}
