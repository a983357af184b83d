/**
 * The route agent's own diagnosis of its node, for its /diagnose: the same as `seaway diagnose` run
 * in its pod, with the agent's credentials. Loaded on the first request only (the agent's memory
 * is measured; most agents are never asked).
 */
import { ConfigError, type DiagnoseConfig } from '../config.ts';
import { loadKubeConfigChecked } from '../k8s/kubeconfig.ts';
import type { Finding } from '../model/diagnose-finding.ts';
import { diagnoseNode } from './node-diagnosis.ts';
import { realDiagnoseDeps } from './real-deps.ts';

/** `kubeconfig` is the agent's --kubeconfig: the client's KubeConfig is loaded here, not by the agent, which does without it. */
export async function diagnoseThisNode(config: DiagnoseConfig, options: { kubeconfig: string | null; userAgent: string; signal: AbortSignal }): Promise<Finding[]> {
  let kubeConfig;
  try {
    kubeConfig = loadKubeConfigChecked(options.kubeconfig, process.env);
  } catch (error) {
    // The agent loaded the same configuration at start; should it no longer load, that is a finding.
    kubeConfig = error instanceof ConfigError ? error.message : String(error);
  }
  const { deps, close } = await realDiagnoseDeps(config, { kubeConfig, userAgent: options.userAgent, signal: options.signal });
  try {
    return await diagnoseNode(config, deps);
  } finally {
    close();
  }
}
