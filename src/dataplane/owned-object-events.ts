import { subscribeRtnetlinkEvents, type RtnetlinkEvent, type RtnetlinkSubscription } from '../kernel/rtnetlink-events.ts';
import { RT_TABLE_MAIN } from '../kernel/routes.ts';
import { OWNED_RULE_PRIORITIES, OWNERSHIP } from '../model/ownership.ts';

/** Why a kernel event should wake the reconcile loop, or null when it concerns nothing seaway owns or reads. */
export function ownedObjectChange(event: RtnetlinkEvent): string | null {
  switch (event.type) {
    case 'route':
      if (event.protocol === OWNERSHIP.routeProtocol && event.op === 'del') return `owned route ${event.dst} table ${event.table} deleted`;
      if (event.table === RT_TABLE_MAIN && event.dst === '0.0.0.0/0') return 'default route changed';
      return null;
    case 'rule':
      return OWNED_RULE_PRIORITIES.includes(event.priority) && event.op === 'del' ? `rule priority ${event.priority} deleted` : null;
    case 'link':
      return event.name === OWNERSHIP.vxlanDevice ? `${event.name} ${event.op === 'del' ? 'deleted' : 'changed'}` : null;
    case 'overflow':
      // The subscription has rejoined its groups already; a full pass re-reads everything.
      return `kernel events were lost${event.reason ? ` (${event.reason})` : ''}: full resync`;
    default:
      return null;
  }
}

/** Subscribes to kernel changes that touch owned objects, so drift is repaired without waiting for a resync. */
export function watchOwnedObjects(onChange: (reason: string) => void): RtnetlinkSubscription {
  return subscribeRtnetlinkEvents(['link', 'route', 'rule'], (event) => {
    const reason = ownedObjectChange(event);
    if (reason) onChange(reason);
  });
}
