import type { Logger } from '../telemetry/logger.ts';
import type { Readiness } from '../server/readiness.ts';
import { judgeKernelFeatures, type KernelFeatureProbes } from '../model/kernel-features.ts';

/** Readiness condition while the kernel lacks a feature seaway cannot work without. */
export const KERNEL_FEATURES = 'kernel-features';

export interface KernelFeatureCheckDeps {
  readiness: Pick<Readiness, 'unmet'>;
  logger: Pick<Logger, 'error' | 'warn'>;
  /** The probes (kernel/kernel-features.ts); must not reject. */
  probe: () => Promise<KernelFeatureProbes>;
}

/**
 * Checks once at start what the kernel offers and says plainly what is missing: one log line per
 * missing feature, and a readiness condition that stays unmet (a kernel does not grow features
 * while it runs) when seaway cannot work right without it. Programming goes on either way.
 */
export async function checkKernelFeatures(deps: KernelFeatureCheckDeps): Promise<void> {
  const verdict = judgeKernelFeatures(await deps.probe());
  for (const problem of verdict.problems) deps.logger[problem.level]({ feature: problem.feature }, problem.message);
  if (verdict.unmet !== null) deps.readiness.unmet(KERNEL_FEATURES, verdict.unmet);
}
