import { decodeAttributes, NETLINK_NETFILTER, type NetlinkMessage } from './netlink/codec.ts';
import { subscribeNetlink, type NetlinkSubscription } from './netlink/subscription.ts';

const NFNLGRP_NFTABLES = 7;
export const NFNL_SUBSYS_NFTABLES = 10;
const NFT_MSG_NEWGEN = 15;
const NFGENMSG_LEN = 4;
/** Every nf_tables object message (table, chain, rule, set, element, object, flowtable) names its table in attribute 1. */
const NFTA_OBJECT_TABLE = 1;
const FAMILY_NAMES: Readonly<Record<number, string>> = { 1: 'inet', 2: 'ip', 3: 'arp', 5: 'netdev', 7: 'bridge', 10: 'ip6' };

/**
 * The tables ("ip seaway", "ip filter", ...) that the nf_tables notifications in these messages
 * changed. Generation markers and messages of other netfilter subsystems name none.
 */
export function nftChangedTables(messages: readonly NetlinkMessage[]): Set<string> {
  const tables = new Set<string>();
  for (const message of messages) {
    if (message.type >> 8 !== NFNL_SUBSYS_NFTABLES || (message.type & 0xff) === NFT_MSG_NEWGEN) continue;
    if (message.payload.length < NFGENMSG_LEN) continue;
    const name = decodeAttributes(message.payload, NFGENMSG_LEN).get(NFTA_OBJECT_TABLE);
    if (!name) continue;
    const family = FAMILY_NAMES[message.payload[0]!] ?? `family${message.payload[0]}`;
    tables.add(`${family} ${name.toString('utf8').replace(/\0+$/, '')}`);
  }
  return tables;
}

/**
 * Calls onChange with the tables each batch of nf_tables notifications touched (iptables-nft's
 * tables included), and onLost with the reason when notifications were dropped (receive buffer
 * overrun, ENOBUFS): then any table may have changed, and the caller must re-read all it watches.
 * The subscription is listening again by then. Throws when the kernel offers no nf_tables notifications.
 */
export function subscribeNftChanges(onChange: (tables: Set<string>) => void, onLost: (reason: string) => void, warn?: (message: string) => void): NetlinkSubscription {
  return subscribeNetlink(NETLINK_NETFILTER, [NFNLGRP_NFTABLES], (messages) => {
    const tables = nftChangedTables(messages);
    if (tables.size > 0) onChange(tables);
  }, onLost, warn ? { warn } : {});
}
