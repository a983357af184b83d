/**
 * What the kernel features seaway depends on mean for this node, decided from probe results
 * (kernel/kernel-features.ts) so the wording and the readiness consequence are tested without a kernel.
 */

export type RuleProtocolProbe = { result: 'reported' | 'not-reported' } | { result: 'unknown'; reason: string };
export type NftNotificationsProbe = { available: true } | { available: false; reason: string };

export interface KernelFeatureProbes {
  /** Whether rule dumps carry FRA_PROTOCOL (Linux 4.17 and later). */
  ruleProtocol: RuleProtocolProbe;
  /** Whether nf_tables change notifications (NFNLGRP_NFTABLES) can be had. */
  nftNotifications: NftNotificationsProbe;
}

export interface KernelFeatureProblem {
  feature: string;
  /** error: seaway cannot work right without it; warn: it works, less well, or the check could not tell. */
  level: 'error' | 'warn';
  message: string;
}

export interface KernelFeatureVerdict {
  /** The readiness reason while a feature seaway cannot work without is missing; null when none is. */
  unmet: string | null;
  problems: KernelFeatureProblem[];
}

export const RULE_PROTOCOL = 'rule protocol (FRA_PROTOCOL)';
export const NFT_NOTIFICATIONS = 'nf_tables change notifications (NFNLGRP_NFTABLES)';

export function judgeKernelFeatures(probes: KernelFeatureProbes): KernelFeatureVerdict {
  const problems: KernelFeatureProblem[] = [];
  const rule = probes.ruleProtocol;
  if (rule.result === 'not-reported') {
    // Every rule then reads as protocol 0: seaway's own rule 150 looks like Submariner's leftover,
    // which it adopts by deleting and re-creating it, on every pass.
    problems.push({
      feature: RULE_PROTOCOL, level: 'error',
      message: 'this kernel does not report ip rule protocols (needs Linux 4.17): seaway cannot tell its policy rules from others\', '
        + 'so on a gateway it would take its own rule 150 for a leftover of Submariner and delete and re-create it on every pass; run a newer kernel',
    });
  } else if (rule.result === 'unknown') {
    problems.push({ feature: RULE_PROTOCOL, level: 'warn', message: `could not check whether this kernel reports ip rule protocols (needs Linux 4.17): ${rule.reason}` });
  }
  const nft = probes.nftNotifications;
  if (!nft.available) {
    // Not a readiness matter: without nf_tables the iptables-legacy backend still works, and the
    // drift watch falls back to a periodic check; the nftables backends fail on their own, saying why.
    problems.push({
      feature: NFT_NOTIFICATIONS, level: 'warn',
      message: `this kernel offers no nf_tables change notifications (${nft.reason}): packet filter drift is found by a periodic check instead of at once, `
        + 'and only the iptables-legacy backend can work',
    });
  }
  const blocking = problems.filter((p) => p.level === 'error');
  return { unmet: blocking.length === 0 ? null : blocking.map((p) => `${p.feature} missing: ${p.message}`).join('; '), problems };
}
