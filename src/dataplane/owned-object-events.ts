import { subscribeRtnetlinkEvents, type RtnetlinkEvent, type RtnetlinkSubscription } from '../kernel/rtnetlink-events.ts';
import { RT_TABLE_MAIN } from '../kernel/routes.ts';
import { OWNED_RULE_PRIORITIES, OWNERSHIP } from '../model/ownership.ts';
import { ALL_ZEROS_MAC } from '../model/desired-state.ts';
import { routeKey } from '../plan/desired-objects.ts';

const VTEP_PREFIX = `${OWNERSHIP.vtepFirstOctet}.`;
const NO_DESTINATIONS: ReadonlySet<string> = new Set();

/**
 * Why a kernel event should wake the reconcile loop, or null when it concerns nothing seaway owns
 * or reads. `routeDestinations` are the routeKeys (table and CIDR) of the routes seaway wants: a
 * route of another protocol added there (`ip route replace` sends only this, no delete of the
 * route it replaced) may have taken seaway's place, and one deleted there may have freed it.
 * Other routes, the bulk of a busy node's changes, wake nothing. `underlayDevice` is the interface
 * vx-submariner runs over (plan/underlay.ts): its MTU less 50 is vx-submariner's, so its changes count.
 */
export function ownedObjectChange(event: RtnetlinkEvent, routeDestinations: ReadonlySet<string> = NO_DESTINATIONS, underlayDevice: string | null = null): string | null {
  switch (event.type) {
    case 'route':
      // One of seaway's routes deleted where seaway no longer wants one is its own removal (or someone
      // else's doing what seaway would do): not drift, and not worth reading the kernel again for.
      if (event.protocol === OWNERSHIP.routeProtocol) return event.op === 'del' && routeDestinations.has(routeKey(event)) ? `owned route ${event.dst} table ${event.table} deleted` : null;
      if (routeDestinations.has(routeKey(event))) {
        return `route ${event.dst} table ${event.table} of protocol ${event.protocol} ${event.op === 'del' ? 'deleted' : 'added or replaced'} at a destination of seaway's`;
      }
      if (event.table === RT_TABLE_MAIN && event.dst === '0.0.0.0/0') return 'default route changed';
      return null;
    case 'rule':
      if (!OWNED_RULE_PRIORITIES.includes(event.priority)) return null;
      if (event.op === 'del') return `rule priority ${event.priority} deleted`;
      // Someone else's rule at seaway's priority (Submariner's rule 150 comes back): seaway replaces it.
      return event.protocol !== OWNERSHIP.routeProtocol ? `foreign rule added at priority ${event.priority}` : null;
    case 'address':
      // The VTEP address (240/8) is seaway's; losing it also takes the routes via the gateway's VTEP.
      return event.op === 'del' && event.address.startsWith(VTEP_PREFIX) ? `VTEP address ${event.address} deleted` : null;
    case 'fdb':
      // seaway's FDB entries are all-zeros entries towards a node: only VXLAN devices have those.
      return event.op === 'del' && event.mac === ALL_ZEROS_MAC && event.dst !== undefined ? `FDB entry towards ${event.dst} deleted` : null;
    case 'link':
      if (event.name === OWNERSHIP.vxlanDevice) return `${event.name} ${event.op === 'del' ? 'deleted' : 'changed'}`;
      return event.name === underlayDevice ? `underlay ${event.name} ${event.op === 'del' ? 'deleted' : 'changed'}` : null;
    case 'overflow':
      // The subscription has rejoined its groups already; a full pass re-reads everything.
      return `kernel events were lost${event.reason ? ` (${event.reason})` : ''}: full resync`;
    default:
      return null;
  }
}

/**
 * Whether an event may change what the node's facts are read from (readHostNetwork: links,
 * addresses, default routes of every table, rules). Such a change alone wakes nothing (a pod's
 * veth coming and going is not seaway's business) but the next pass reads the facts again.
 */
export function hostNetworkChange(event: RtnetlinkEvent): boolean {
  switch (event.type) {
    case 'link': case 'address': case 'rule': case 'overflow': return true;
    case 'route': return event.dst === '0.0.0.0/0';
    default: return false;
  }
}

/**
 * Subscribes to kernel changes that touch owned objects, so drift is repaired without waiting for
 * a resync. `routeDestinations` is read on every route event: the destinations of the last pass;
 * `underlayDevice` on every link event: the underlay last chosen. `onHostNetworkChange` hears the
 * events of hostNetworkChange.
 */
export function watchOwnedObjects(
  onChange: (reason: string) => void, routeDestinations: () => ReadonlySet<string>, warn?: (message: string) => void,
  underlayDevice: () => string | null = () => null, onHostNetworkChange: () => void = () => {},
): RtnetlinkSubscription {
  return subscribeRtnetlinkEvents(['link', 'route', 'rule', 'address', 'neighbour'], (event) => {
    if (hostNetworkChange(event)) onHostNetworkChange();
    const reason = ownedObjectChange(event, routeDestinations(), event.type === 'link' ? underlayDevice() : null);
    if (reason) onChange(reason);
  }, warn);
}
