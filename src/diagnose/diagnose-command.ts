/**
 * `seaway diagnose`: this node's findings (or, with --all, every node's), as a table or JSON. Exit
 * 0 when nothing is an error, 1 when something is; configuration that cannot be used at all (a
 * kubeconfig that does not load) is main's exit 2, before anything is probed. An API that cannot be
 * reached, a permission missing, a probe that fails: findings, never a crash.
 */
import type { DiagnoseConfig } from '../config.ts';
import { loadApiConnection } from '../k8s/api-connection.ts';
import { listNodes } from '../k8s/diagnose-reads.ts';
import { httpGet } from '../kernel/http-get.ts';
import { diagnoseExitCode, type Finding } from '../model/diagnose-finding.ts';
import { findingsJson, renderFindings } from '../plan/diagnose-table.ts';
import { diagnoseAllNodes } from './all-nodes.ts';
import { diagnoseNode } from './node-diagnosis.ts';
import { realDiagnoseDeps } from './real-deps.ts';
import packageJson from '../../package.json' with { type: 'json' };

export async function diagnose(config: DiagnoseConfig, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  // A kubeconfig that does not load is configuration (exit 2); one that loads but cannot reach the API is a finding.
  const connection = await loadApiConnection(config.kubeconfig, process.env);
  const userAgent = `seaway/${packageJson.version} diagnose`;
  let findings: Finding[];
  if (config.all) {
    const port = config.listen.find((l) => l.kind === 'tcp');
    if (!port || port.kind !== 'tcp') {
      err.write('seaway: diagnose --all needs the route agents\' TCP port: give --listen host:port (or SEAWAY_LISTEN) as the route agents have it\n');
      return 2;
    }
    findings = await diagnoseAllNodes({ port: port.port, namespace: config.namespace, askingNode: config.nodeName }, {
      nodes: () => listNodes(connection, { requestTimeoutMs: Math.min(config.apiTimeoutSeconds, 10) * 1000, userAgent }),
      http: httpGet,
    });
  } else {
    const { deps, close } = await realDiagnoseDeps(config, { connection, userAgent });
    try {
      findings = await diagnoseNode(config, deps);
    } finally {
      close();
    }
  }
  out.write(config.json ? findingsJson(findings) : renderFindings(findings, { byNode: config.all }));
  return diagnoseExitCode(findings);
}
