/** What rtnetlink tells about interfaces and their IPv4 addresses, as the CNI wait consumes it. */
export type InterfaceChange =
  | { type: 'link'; op: 'new' | 'del'; index: number; name: string }
  | { type: 'address'; op: 'new' | 'del'; index: number; address: string; prefixLength: number };

/** A change, or (after lost notifications) the complete current picture that replaces all state. */
export type InterfaceEvent = InterfaceChange | { type: 'snapshot'; changes: InterfaceChange[] };

/** Link and IPv4 address events, plus a dump of the current ones. */
export interface InterfaceEventSource {
  /** Resolves once subscribed: events after this moment are delivered. */
  subscribe(onEvent: (event: InterfaceEvent) => void): Promise<() => void>;
  dump(): Promise<InterfaceChange[]>;
}
