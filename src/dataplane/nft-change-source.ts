import { subscribeNftChanges } from '../kernel/nft-events.ts';
import type { NetlinkSubscription } from '../kernel/netlink/subscription.ts';
import type { Logger } from '../telemetry/logger.ts';
import { errorText } from '../model/error-text.ts';

/**
 * Change notifications for the drift watch: nf_tables notifications that touch one of the tables
 * `watched()` names now, and every notification loss. undefined, after
 * a warning, when the kernel offers no nf_tables notifications: the watch then polls.
 */
export function nftChangeSource(watched: () => readonly string[], logger: Logger): ((notify: () => void) => () => void) | undefined {
  let listener: (() => void) | undefined;
  let subscription: NetlinkSubscription;
  try {
    subscription = subscribeNftChanges((tables) => {
      if (watched().some((table) => tables.has(table))) listener?.();
    }, () => listener?.(), (message) => logger.warn(message));
  } catch (error) {
    logger.warn({ err: errorText(error) }, 'no nf_tables change notifications; the packet filter is polled for drift');
    return undefined;
  }
  return (notify) => {
    listener = notify;
    return () => subscription.close();
  };
}
