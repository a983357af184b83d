/**
 * Probes for the kernel features seaway depends on, by behaviour rather than version strings
 * (distribution kernels backport): each reads only, in the agent's own network namespace.
 */
import { decodeAttributes } from './netlink/codec.ts';
import { NetlinkConnection } from './netlink/connection.ts';
import { errnoName } from './netlink/errors.ts';
import { nfnetlinkAcks } from './nfnetlink.ts';
import { NFNL_SUBSYS_NFTABLES, subscribeNftChanges } from './nft-events.ts';
import { FIB_RULE_HDR_LEN, FRA_PROTOCOL, RTM_GETRULE, encodeRuleDump } from './rules.ts';
import type { KernelFeatureProbes, NftNotificationsProbe, RuleProtocolProbe } from '../model/kernel-features.ts';
import { errorText } from '../model/error-text.ts';

const AF_INET = 2;
const NFT_MSG_GETGEN = 16;

/**
 * Whether a rule dump carries the rule protocol attribute: a kernel that has it puts it on every
 * rule, the default ones (`proto kernel`) included. Without an IPv4 rule to look at (someone
 * deleted them all) it cannot tell.
 */
export function ruleProtocolInDump(payloads: readonly Buffer[]): RuleProtocolProbe {
  const rules = payloads.filter((p) => p.length >= FIB_RULE_HDR_LEN && p[0] === AF_INET);
  if (rules.length === 0) return { result: 'unknown', reason: 'there is no IPv4 policy rule to look at' };
  return { result: rules.some((p) => decodeAttributes(p, FIB_RULE_HDR_LEN).has(FRA_PROTOCOL)) ? 'reported' : 'not-reported' };
}

async function probeRuleProtocol(timeoutMs: number): Promise<RuleProtocolProbe> {
  let connection: NetlinkConnection | undefined;
  try {
    connection = new NetlinkConnection({ timeoutMs });
    return ruleProtocolInDump((await connection.dump(RTM_GETRULE, encodeRuleDump())).map((m) => m.payload));
  } catch (error) {
    return { result: 'unknown', reason: `the rule dump failed: ${errorText(error)}` };
  } finally {
    connection?.close();
  }
}

/**
 * nf_tables change notifications: joining the multicast group (fails without nfnetlink), then
 * asking nf_tables for its generation (refused when the nf_tables subsystem is missing: joining
 * alone succeeds even then, the kernel only asks for the module).
 */
async function probeNftNotifications(timeoutMs: number): Promise<NftNotificationsProbe> {
  try {
    subscribeNftChanges(() => undefined, () => undefined).close();
  } catch (error) {
    return { available: false, reason: `joining the nf_tables notification group failed: ${errorText(error)}` };
  }
  const errnos = await nfnetlinkAcks([{ subsystem: NFNL_SUBSYS_NFTABLES, command: NFT_MSG_GETGEN, family: 0, attributes: [] }], { timeoutMs });
  if (errnos === null) return { available: false, reason: 'nf_tables did not answer a generation request' };
  return errnos[0] === 0 ? { available: true } : { available: false, reason: `nf_tables refused a generation request (${errnoName(errnos[0]!)})` };
}

/** Runs every probe; never rejects (a probe that cannot run says so in its result). */
export async function probeKernelFeatures(options: { timeoutMs: number }): Promise<KernelFeatureProbes> {
  const [ruleProtocol, nftNotifications] = await Promise.all([probeRuleProtocol(options.timeoutMs), probeNftNotifications(options.timeoutMs)]);
  return { ruleProtocol, nftNotifications };
}
