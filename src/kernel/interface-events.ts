import { openRtnetlink } from './rtnetlink.ts';
import { interfaceEventSource, type InterfaceEventSource } from './rtnetlink-events.ts';

export interface InterfaceEvents extends InterfaceEventSource {
  /** Closes the request socket used for dumps (subscriptions are closed by their own unsubscribe). */
  close(): void;
}

/** The link + IPv4 address event source the CNI wait uses, on a request socket of its own. */
export async function openInterfaceEvents(warn?: (message: string) => void): Promise<InterfaceEvents> {
  const rtnl = openRtnetlink();
  return { ...interfaceEventSource(rtnl, warn), close: () => rtnl.close() };
}
