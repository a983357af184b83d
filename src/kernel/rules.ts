import { NLM_F_CREATE, NLM_F_EXCL, attr, bufferToIpv4, decodeAttributes, u32, u8, dumpRequest } from './netlink/codec.ts';
import type { NetlinkRequest } from './netlink/connection.ts';
import { RT_TABLE_COMPAT } from './routes.ts';

export const RTM_NEWRULE = 32;
export const RTM_DELRULE = 33;
export const RTM_GETRULE = 34;
const AF_INET = 2;
const FRA_SRC = 2, FRA_IIFNAME = 3, FRA_PRIORITY = 6, FRA_FWMARK = 10, FRA_TABLE = 15, FRA_OIFNAME = 17;
/** linux/fib_rules.h; sent with every rule since Linux 4.17, never before. */
export const FRA_PROTOCOL = 21;
const FRA_L3MDEV = 19, FRA_UID_RANGE = 20, FRA_IP_PROTO = 22, FRA_SPORT_RANGE = 23, FRA_DPORT_RANGE = 24;
/** Selectors carried as attributes; the kernel sends each only when the rule has it. */
const SELECTOR_ATTRIBUTES = [FRA_IIFNAME, FRA_OIFNAME, FRA_FWMARK, FRA_L3MDEV, FRA_UID_RANGE, FRA_IP_PROTO, FRA_SPORT_RANGE, FRA_DPORT_RANGE];
/** fib_rule_hdr flags: `not` inverts the selectors. */
const FIB_RULE_INVERT = 0x2;
/** The rule action "lookup table": seaway's rules have it, and a rule with another action is not seaway's. */
export const FR_ACT_TO_TBL = 1;
export const FIB_RULE_HDR_LEN = 12;

/** An IPv4 policy rule "priority P lookup T" (no selectors: seaway's rules match all traffic). */
export interface RuleSpec {
  priority: number;
  table: number;
  /** Marks the rule as seaway's (shown as "proto 147" by ip rule). */
  protocol?: number;
}

export interface ObservedRule {
  priority: number;
  table: number;
  protocol: number;
  /** FR_ACT_* (1 = lookup table). */
  action: number;
  /** True when the rule has selectors (from, to, tos, iif, oif, fwmark, ports...), so it is not a plain "lookup". */
  selective: boolean;
  /** The `from` prefix as CIDR text, when the rule has one. */
  from?: string;
  /** True when it has selectors besides a plain `from` (or `not`): it does not take all traffic from a source. */
  narrowed: boolean;
}

export const describeRule = (rule: RuleSpec): string => `rule priority ${rule.priority} lookup ${rule.table}`;

export function encodeRuleRequest(write: 'create' | 'delete', rule: RuleSpec): NetlinkRequest {
  const header = Buffer.alloc(FIB_RULE_HDR_LEN);
  header[0] = AF_INET;
  header[4] = rule.table < 256 ? rule.table : RT_TABLE_COMPAT;
  header[7] = FR_ACT_TO_TBL;
  const attrs = [attr(FRA_PRIORITY, u32(rule.priority)), attr(FRA_TABLE, u32(rule.table))];
  if (rule.protocol !== undefined) attrs.push(attr(FRA_PROTOCOL, u8(rule.protocol)));
  return write === 'create'
    ? { type: RTM_NEWRULE, flags: NLM_F_CREATE | NLM_F_EXCL, body: [header, ...attrs] }
    : { type: RTM_DELRULE, flags: 0, body: [header, ...attrs] };
}

export const encodeRuleDump = (): Buffer[] => dumpRequest(FIB_RULE_HDR_LEN, AF_INET);

export function decodeRule(payload: Buffer): ObservedRule | undefined {
  if (payload.length < FIB_RULE_HDR_LEN || payload[0] !== AF_INET) return undefined;
  const attrs = decodeAttributes(payload, FIB_RULE_HDR_LEN);
  const table = attrs.get(FRA_TABLE);
  const priority = attrs.get(FRA_PRIORITY);
  const protocol = attrs.get(FRA_PROTOCOL);
  const src = attrs.get(FRA_SRC);
  // fib_rule_hdr: family, dst_len, src_len, tos, table, res1, res2, action, flags (u32).
  const narrowed = payload[1] !== 0 || payload[3] !== 0 || (payload.readUInt32LE(8) & FIB_RULE_INVERT) !== 0
    || SELECTOR_ATTRIBUTES.some((type) => attrs.has(type));
  const rule: ObservedRule = {
    priority: priority ? priority.readUInt32LE(0) : 0,
    table: table ? table.readUInt32LE(0) : payload[4]!,
    protocol: protocol ? protocol[0]! : 0,
    action: payload[7]!,
    selective: narrowed || payload[2] !== 0,
    narrowed,
  };
  if (payload[2] !== 0 && src && src.length === 4) rule.from = `${bufferToIpv4(src)}/${payload[2]}`;
  return rule;
}
