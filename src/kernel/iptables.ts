import type { run } from './exec.ts';
import { countForeignRules, parseIptablesSave } from '../plan/filter-iptables.ts';

/** How the filter code reaches programs; the real one is exec.ts's run, tests may wrap it to count. */
export type ProcessRunner = typeof run;
export type IptablesMode = 'legacy' | 'nft';

/** Seconds to wait for the xtables lock another agent (kube-proxy, the CNI) may hold; never forever. */
const LOCK_WAIT_SECONDS = '5';

export async function iptablesSave(runner: ProcessRunner, mode: IptablesMode): Promise<string> {
  return (await runner(`iptables-${mode}-save`, [])).stdout;
}

/** One atomic transaction per table section; --noflush leaves every chain not named in the input alone. */
export async function iptablesRestore(runner: ProcessRunner, mode: IptablesMode, input: string): Promise<void> {
  await runner(`iptables-${mode}-restore`, ['--noflush', '--wait', LOCK_WAIT_SECONDS], { input });
}

export interface IptablesModeDetection {
  mode: IptablesMode;
  /** Rules that are not seaway's, per flavour. */
  foreignRules: Record<IptablesMode, number>;
}

/**
 * The flavour the host's other rules (kube-proxy, the CNI) live in: the one with more rules that are
 * not seaway's; nft when neither has any. Rules written with the other flavour would be silently
 * ignored by whoever reads this one, so seaway follows the host.
 */
export async function detectIptablesMode(runner: ProcessRunner): Promise<IptablesModeDetection> {
  const [legacy, nft] = await Promise.all((['legacy', 'nft'] as const).map(async (mode) => {
    try {
      const result = await runner(`iptables-${mode}-save`, [], { allowFailure: true });
      return result.code === 0 ? countForeignRules(parseIptablesSave(result.stdout)) : 0;
    } catch {
      return 0;
    }
  })) as [number, number];
  return { mode: legacy > nft ? 'legacy' : 'nft', foreignRules: { legacy, nft } };
}
