/**
 * The agents on this node, as diagnose sees them: whether each runs (its local socket or its HTTP
 * port answers) and what its /healthz and /readyz say on the address the kubelet's probes and
 * Prometheus reach. Either sign of life counts, so an agent whose socket sits elsewhere than this
 * command was told is still seen running, and its kernel state is no leftover.
 */
import { DEFAULTS, type DiagnoseConfig, type ListenAddress } from '../config.ts';
import type { NodeSummary } from '../k8s/diagnose-reads.ts';
import type { Finding } from '../model/diagnose-finding.ts';
import { errorText } from '../model/error-text.ts';
import { httpFinding, noGatewayFinding, type HttpOutcome } from '../plan/diagnose-node-local.ts';
import type { DiagnoseNetwork } from './diagnose-deps.ts';

const HTTP_TIMEOUT_MS = 3000;
/** The local sockets answer at once when their agent runs; this only bounds a hung one. */
const SOCKET_TIMEOUT_MS = 2000;
/** Errors that mean nobody listens (rather than someone slow). */
const NOBODY = new Set(['ENOENT', 'ECONNREFUSED', 'ENOTSOCK', 'EACCES']);
const UNSPECIFIED = new Set(['0.0.0.0', '::', '']);

/** Whether something answers on a local socket: any HTTP status counts, and so does a hung agent (it still holds the socket). */
export async function socketAnswers(network: Pick<DiagnoseNetwork, 'http'>, socketPath: string): Promise<boolean> {
  try {
    await network.http({ socketPath, path: '/healthz', timeoutMs: SOCKET_TIMEOUT_MS });
    return true;
  } catch (error) {
    return !NOBODY.has((error as { code?: string }).code ?? '');
  }
}

function urlOf(listen: readonly ListenAddress[], fallbackHost: string): string | null {
  const tcp = listen.find((l) => l.kind === 'tcp');
  if (!tcp || tcp.kind !== 'tcp') return null;
  const host = UNSPECIFIED.has(tcp.host) ? fallbackHost : tcp.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${tcp.port}`;
}

export interface LocalAgents {
  routeAgent: boolean;
  gateway: boolean;
  findings: Finding[];
}

export async function localAgents(
  config: DiagnoseConfig, network: Pick<DiagnoseNetwork, 'http'>, self: NodeSummary | undefined, sockets: { routeAgent: boolean; gateway: boolean },
): Promise<LocalAgents> {
  const node = config.nodeName;
  const nodeIp = self?.internalIp || config.nodeIp || '127.0.0.1';
  const get = async (url: string, path: string): Promise<HttpOutcome> => {
    try {
      return await network.http({ url, path, timeoutMs: HTTP_TIMEOUT_MS });
    } catch (error) {
      const code = (error as { code?: string }).code;
      return { error: errorText(error), ...(code ? { code } : {}) };
    }
  };
  const agentTcp = config.listen.find((l) => l.kind === 'tcp');
  const agentUrl = urlOf(config.listen, nodeIp);
  // An unspecified gateway host (`:port`) is the route agent's host: both agents serve on the node's address.
  const agentHost = agentTcp?.kind === 'tcp' && !UNSPECIFIED.has(agentTcp.host) ? agentTcp.host : nodeIp;
  const gatewayUrl = urlOf(config.gatewayListen, agentHost);
  const [agentHealth, gatewayHealth] = await Promise.all([agentUrl ? get(agentUrl, '/healthz') : null, gatewayUrl ? get(gatewayUrl, '/healthz') : null]);
  const answered = (o: HttpOutcome | null) => o !== null && !('error' in o);
  const routeAgent = sockets.routeAgent || answered(agentHealth);
  const gateway = sockets.gateway || answered(gatewayHealth);
  const readiness = async (agent: 'route agent' | 'gateway', url: string, healthz: HttpOutcome) =>
    httpFinding(node, agent, url, healthz, 'error' in healthz ? healthz : await get(url, '/readyz'));
  const findings: Finding[] = [];
  if (agentUrl && agentHealth) findings.push(await readiness('route agent', agentUrl, agentHealth));
  const label = DEFAULTS.gatewayLabel;
  const gatewayExpected = gateway || self?.labels[label.key] === label.value;
  if (gatewayExpected && gatewayUrl && gatewayHealth) findings.push(await readiness('gateway', gatewayUrl, gatewayHealth));
  else if (!gatewayExpected) findings.push(noGatewayFinding(node, `${label.key}=${label.value}`));
  return { routeAgent, gateway, findings };
}
