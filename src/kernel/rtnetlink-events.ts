import { NETLINK_ROUTE } from './netlink/codec.ts';
import { subscribeNetlink, type NetlinkSubscription } from './netlink/subscription.ts';
import { RTM_DELADDR, RTM_NEWADDR, decodeAddress } from './addresses.ts';
import { RTM_DELNEIGH, RTM_NEWNEIGH, decodeFdbEntry } from './fdb.ts';
import { RTM_DELLINK, RTM_NEWLINK, decodeLink } from './links.ts';
import { RTM_DELROUTE, RTM_NEWROUTE, decodeRoute } from './routes.ts';
import { RTM_DELRULE, RTM_NEWRULE, decodeRule } from './rules.ts';
import type { Rtnetlink } from './rtnetlink.ts';
import { retryForever } from '../startup/retry-forever.ts';
import type { InterfaceChange, InterfaceEvent, InterfaceEventSource } from '../model/interface-events.ts';

const GROUP_NUMBERS = { link: 1, neighbour: 3, address: 5, route: 7, rule: 8 } as const;

export type EventGroup = keyof typeof GROUP_NUMBERS;
export type EventOp = 'new' | 'del';

export type LinkEvent = { type: 'link'; op: EventOp; index: number; name: string; kind?: string; up: boolean; mtu: number };
export type AddressEvent = { type: 'address'; op: EventOp; index: number; address: string; prefixLength: number };
export type RouteEvent = { type: 'route'; op: EventOp; table: number; protocol: number; dst: string; oif?: number; gateway?: string };
export type RuleEvent = { type: 'rule'; op: EventOp; priority: number; table: number; protocol: number };
/** Bridge FDB entries (AF_BRIDGE neighbours) only; ARP neighbours are not reported. */
export type FdbEvent = { type: 'fdb'; op: EventOp; ifindex: number; mac: string; dst?: string };
/**
 * The kernel dropped notifications (receive buffer overrun, ENOBUFS): whoever depends on them must
 * re-read the state. The subscription is already listening again when this arrives.
 */
export type OverflowEvent = { type: 'overflow'; reason?: string };

export type RtnetlinkEvent = LinkEvent | AddressEvent | RouteEvent | RuleEvent | FdbEvent | OverflowEvent;

export type RtnetlinkSubscription = NetlinkSubscription;

const op = (type: number, newType: number): EventOp => (type === newType ? 'new' : 'del');

export function decodeEvent(type: number, payload: Buffer): RtnetlinkEvent | undefined {
  switch (type) {
    case RTM_NEWLINK: case RTM_DELLINK: {
      const link = decodeLink(payload);
      if (!link) return undefined;
      const event: LinkEvent = { type: 'link', op: op(type, RTM_NEWLINK), index: link.index, name: link.name, up: link.up, mtu: link.mtu };
      if (link.kind) event.kind = link.kind;
      return event;
    }
    case RTM_NEWADDR: case RTM_DELADDR: {
      const a = decodeAddress(payload);
      return a && { type: 'address', op: op(type, RTM_NEWADDR), index: a.ifindex, address: a.address, prefixLength: a.prefixLength };
    }
    case RTM_NEWROUTE: case RTM_DELROUTE: {
      const r = decodeRoute(payload);
      if (!r) return undefined;
      const event: RouteEvent = { type: 'route', op: op(type, RTM_NEWROUTE), table: r.table, protocol: r.protocol, dst: r.dst };
      if (r.oif !== undefined) event.oif = r.oif;
      if (r.gateway) event.gateway = r.gateway;
      return event;
    }
    case RTM_NEWRULE: case RTM_DELRULE: {
      const r = decodeRule(payload);
      return r && { type: 'rule', op: op(type, RTM_NEWRULE), priority: r.priority, table: r.table, protocol: r.protocol };
    }
    case RTM_NEWNEIGH: case RTM_DELNEIGH: {
      const n = decodeFdbEntry(payload);
      if (!n) return undefined;
      const event: FdbEvent = { type: 'fdb', op: op(type, RTM_NEWNEIGH), ifindex: n.ifindex, mac: n.mac };
      if (n.dst) event.dst = n.dst;
      return event;
    }
    default:
      return undefined;
  }
}

/**
 * Subscribes to rtnetlink notifications on a socket of its own (see subscribeNetlink: subscribe first,
 * dump after); `warn` hears that the kernel capped the receive buffer (a process warning by default).
 */
export function subscribeRtnetlinkEvents(groups: readonly EventGroup[], onEvent: (event: RtnetlinkEvent) => void, warn?: (message: string) => void): RtnetlinkSubscription {
  return subscribeNetlink(NETLINK_ROUTE, groups.map((group) => GROUP_NUMBERS[group]), (messages) => {
    for (const msg of messages) {
      const event = decodeEvent(msg.type, msg.payload);
      if (event) onEvent(event);
    }
  }, (reason) => onEvent({ type: 'overflow', reason }), warn ? { warn } : {});
}

/** Bounds of the backoff between failed resync dumps. */
const RESYNC_DELAYS = { minMs: 100, maxMs: 5000 };

export type { InterfaceEventSource };

export function interfaceEventSource(rtnl: Rtnetlink, warn?: (message: string) => void): InterfaceEventSource {
  return {
    async subscribe(onEvent) {
      const resync = resyncer(rtnl, onEvent);
      const subscription = subscribeRtnetlinkEvents(['link', 'address'], (event) => {
        if (event.type === 'link' || event.type === 'address') onEvent(event);
        else if (event.type === 'overflow') resync.request();
      }, warn);
      return () => { void resync.stop(); subscription.close(); };
    },
    dump: () => dumpInterfaces(rtnl),
  };
}

/**
 * After lost notifications a fresh dump replaces what the consumer knew (deletions may be among
 * the lost). A failed dump (a timeout, DUMP_INTR every time) is retried with backoff until one
 * succeeds: otherwise the consumer would wait on a state it will never be told about. Overflows
 * during a dump ask for one more dump after it, since the running one may predate them.
 */
export function resyncer(
  rtnl: Pick<Rtnetlink, 'listLinks' | 'listAddresses'>,
  onEvent: (event: InterfaceEvent) => void,
  delays: { minMs: number; maxMs: number } = RESYNC_DELAYS,
) {
  const stopping = new AbortController();
  let running: Promise<void> | null = null;
  let again = false;
  const run = async (): Promise<void> => {
    do {
      again = false;
      const changes = await retryForever(() => dumpInterfaces(rtnl), { signal: stopping.signal, minDelayMs: delays.minMs, maxDelayMs: delays.maxMs });
      if (stopping.signal.aborted) return;
      onEvent({ type: 'snapshot', changes });
    } while (again);
  };
  return {
    request(): void {
      if (stopping.signal.aborted) return;
      if (running) again = true;
      else running = run().catch(() => undefined /* stopped */).finally(() => { running = null; });
    },
    /** Ends the retries; resolves once a dump in flight has finished (its result is dropped). */
    async stop(): Promise<void> {
      stopping.abort(new Error('interface resync stopped'));
      await running;
    },
  };
}

async function dumpInterfaces(rtnl: Pick<Rtnetlink, 'listLinks' | 'listAddresses'>): Promise<InterfaceChange[]> {
  const links = await rtnl.listLinks();
  const addresses = await rtnl.listAddresses();
  return [
    ...links.map((l): InterfaceChange => ({ type: 'link', op: 'new', index: l.index, name: l.name })),
    ...addresses.map((a): InterfaceChange => ({ type: 'address', op: 'new', index: a.ifindex, address: a.address, prefixLength: a.prefixLength })),
  ];
}
