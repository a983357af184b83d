import type { run } from './exec.ts';
import type { IptablesMode } from '../model/node-facts.ts';

export type { IptablesMode } from '../model/node-facts.ts';

/** How the filter code reaches programs; the real one is exec.ts's run, tests may wrap it to count. */
export type ProcessRunner = typeof run;

/** Seconds to wait for the xtables lock another agent (kube-proxy, the CNI) may hold; never forever. */
const LOCK_WAIT_SECONDS = '5';

export async function iptablesSave(runner: ProcessRunner, mode: IptablesMode): Promise<string> {
  return (await runner(`iptables-${mode}-save`, [])).stdout;
}

/** One atomic transaction per table section; --noflush leaves every chain not named in the input alone. */
export async function iptablesRestore(runner: ProcessRunner, mode: IptablesMode, input: string): Promise<void> {
  await runner(`iptables-${mode}-restore`, ['--noflush', '--wait', LOCK_WAIT_SECONDS], { input });
}

/**
 * One flavour's iptables-save output, or null when that flavour is not usable on this host (its
 * tools missing, its kernel side absent, the save failing): finding which flavour the host speaks
 * reads both, and one that cannot be read simply holds no rules. Which to choose is plan's call.
 */
export async function iptablesSaveIfUsable(runner: ProcessRunner, mode: IptablesMode): Promise<string | null> {
  try {
    const result = await runner(`iptables-${mode}-save`, [], { allowFailure: true });
    return result.code === 0 ? result.stdout : null;
  } catch {
    return null;
  }
}
