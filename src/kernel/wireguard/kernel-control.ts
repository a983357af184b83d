/**
 * WireguardControl for the kernel's WireGuard, over generic netlink. The transport is the
 * request connection seaway already uses for rtnetlink (deadlines, reopening a socket whose reply
 * was lost, retrying dumps interrupted by a concurrent change), opened on a NETLINK_GENERIC
 * socket: generic netlink is ordinary netlink whose message type is the family's id.
 *
 * The `wireguard` family's id is assigned when the module registers, so it is looked up (a dump
 * of the controller's families) on first use and kept; any failed request forgets it, so a
 * reloaded module with a new id is found again on the next call.
 *
 * The device itself is created with rtnetlink (RTM_NEWLINK, IFLA_INFO_KIND "wireguard"), which
 * also loads the module; a kernel without WireGuard refuses that with EOPNOTSUPP ("Unknown device
 * type"), which is how seaway tells it has none.
 */
import type { NetlinkMessage } from '../netlink/codec.ts';
import { NetlinkConnection, type NetlinkConnectionOptions, type NetlinkRequest, type RequestOutcome } from '../netlink/connection.ts';
import { NetlinkError } from '../netlink/errors.ts';
import { rawNetlinkSocketFactory } from '../netlink/socket.ts';
import { errorText } from '../../model/error-text.ts';
import type { WgDeviceChange, WgDeviceState, WireguardControl } from '../../model/wireguard-device.ts';
import {
  DEFAULT_SET_MESSAGE_BYTES, WG_GENL_NAME, decodeDeviceDump, decodeFamilyId, encodeDeviceDump, encodeFamilyDump, encodeSetDevice,
} from './genl-messages.ts';

/** socket(AF_NETLINK, SOCK_RAW, NETLINK_GENERIC). */
export const NETLINK_GENERIC = 16;
/** Room for a few SET_DEVICE messages (at most 64 KiB each) in flight; netlink refuses a send larger than the buffer. */
const GENL_SEND_BUFFER_BYTES = 256 * 1024;

/** What the control needs of a netlink connection; a NetlinkConnection on a NETLINK_GENERIC socket is one. */
export interface GenlTransport {
  dump(type: number, body: readonly Buffer[]): Promise<NetlinkMessage[]>;
  batch(requests: readonly NetlinkRequest[]): Promise<RequestOutcome[]>;
}

export interface KernelWireguardOptions {
  ifname: string;
  transport: GenlTransport;
  /** Bytes per SET_DEVICE message before a change is split (genl-messages' default otherwise). */
  setMessageBytes?: number;
}

/** The kernel has no `wireguard` generic netlink family: no module loaded (or none built). */
export class WireguardFamilyMissingError extends Error {
  readonly code = 'EPROTONOSUPPORT';
  constructor() {
    super(`the kernel has no generic netlink family "${WG_GENL_NAME}": the WireGuard module is not loaded `
      + '(creating a link of kind wireguard loads it when the kernel has it)');
    this.name = 'WireguardFamilyMissingError';
  }
}

/**
 * Opens the real transport: a request connection on a NETLINK_GENERIC socket in the calling
 * process's network namespace. The caller closes it.
 */
export function openGenericNetlink(options: Pick<NetlinkConnectionOptions, 'timeoutMs' | 'warn'> = {}): NetlinkConnection {
  return new NetlinkConnection({ ...options, socketFactory: rawNetlinkSocketFactory(NETLINK_GENERIC, GENL_SEND_BUFFER_BYTES) });
}

export function kernelWireguardControl(options: KernelWireguardOptions): WireguardControl {
  const { ifname, transport } = options;
  const setMessageBytes = options.setMessageBytes ?? DEFAULT_SET_MESSAGE_BYTES;
  // Checked now, so a bad name fails at construction rather than at the first request.
  encodeDeviceDump(0, ifname);
  let familyId: Promise<number> | undefined;

  const resolveFamily = (): Promise<number> => {
    familyId ??= (async () => {
      const { type, body } = encodeFamilyDump();
      let families: NetlinkMessage[];
      try {
        families = await transport.dump(type, body);
      } catch (error) {
        throw new Error(`looking up the ${WG_GENL_NAME} generic netlink family: ${errorText(error)}`, { cause: error });
      }
      const id = decodeFamilyId(families, WG_GENL_NAME);
      if (id === undefined) throw new WireguardFamilyMissingError();
      return id;
    })();
    return familyId;
  };

  /** Runs one operation; on failure the family id is looked up again next time. */
  async function withFamily<T>(operation: (id: number) => Promise<T>): Promise<T> {
    try {
      return await operation(await resolveFamily());
    } catch (error) {
      familyId = undefined;
      throw error;
    }
  }

  return {
    implementation: 'kernel',

    set: (change: WgDeviceChange) => withFamily(async (id) => {
      const requests = encodeSetDevice(id, ifname, change, setMessageBytes);
      // One message at a time, in order, stopping at the first refusal, as wireguard-tools does:
      // a later fragment must not be applied after an earlier one failed.
      for (const [index, request] of requests.entries()) {
        const [errno = 0] = await transport.batch([request]);
        if (errno !== 0) {
          const part = requests.length > 1 ? ` (message ${index + 1} of ${requests.length}; the ones before it were applied)` : '';
          throw new NetlinkError(errno, 'set', `wireguard device ${ifname}${part}`);
        }
      }
    }),

    get: () => withFamily(async (id): Promise<WgDeviceState> => {
      const { type, body } = encodeDeviceDump(id, ifname);
      let messages: NetlinkMessage[];
      try {
        messages = await transport.dump(type, body);
      } catch (error) {
        throw new Error(`get wireguard device ${ifname}: ${errorText(error)}`, { cause: error });
      }
      return decodeDeviceDump(messages, { familyId: id, ifname });
    }),
  };
}
