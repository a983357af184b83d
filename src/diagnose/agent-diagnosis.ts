/**
 * The route agent's own diagnosis of its node, for its /diagnose: the same as `seaway diagnose` run
 * in its pod, with the agent's credentials. Loaded on the first request only (the agent's memory
 * is measured; most agents are never asked).
 */
import type { DiagnoseConfig } from '../config.ts';
import type { ApiConnection } from '../k8s/api-connection.ts';
import type { Finding } from '../model/diagnose-finding.ts';
import { diagnoseNode } from './node-diagnosis.ts';
import { realDiagnoseDeps } from './real-deps.ts';

/** With the agent's own connection: a diagnosis loads no client. */
export async function diagnoseThisNode(config: DiagnoseConfig, options: { connection: ApiConnection; userAgent: string; signal: AbortSignal }): Promise<Finding[]> {
  const { deps, close } = await realDiagnoseDeps(config, options);
  try {
    return await diagnoseNode(config, deps);
  } finally {
    close();
  }
}
