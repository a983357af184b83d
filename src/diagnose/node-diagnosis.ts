/**
 * One node's diagnosis: read the API, the kernel and the local agents (concurrently), judge what
 * needs no packet (Endpoints, CNI interface, iptables backend, leftovers), then send the probes a
 * few at a time: the agents' HTTP port, VXLAN to the gateway from other nodes, and from the active
 * gateway every remote gateway's ports, tunnel and MTU. Nothing here throws for a failure of what
 * it looks at: every read or probe that fails is a finding.
 */
import type { DiagnoseConfig } from '../config.ts';
import type { NodeSummary } from '../k8s/diagnose-reads.ts';
import type { Finding } from '../model/diagnose-finding.ts';
import { errorText } from '../model/error-text.ts';
import { OWNERSHIP } from '../model/ownership.ts';
import { diagnoseBackend } from '../plan/diagnose-backend.ts';
import { diagnoseEndpoints, type ApiRead } from '../plan/diagnose-endpoints.ts';
import { chainNames, diagnoseLeftovers, type IptablesFlavour, type LeftoverView } from '../plan/diagnose-leftovers.ts';
import { gatewayRole, notGatewayFinding, vxlanFinding, vxlanTargets, type EchoOutcome, type GatewayRole } from '../plan/diagnose-network.ts';
import { diagnoseCni } from '../plan/diagnose-node-local.ts';
import { mssClampFromAnnotations } from '../plan/mss-clamp.ts';
import { runBounded } from './bounded.ts';
import type { DiagnoseDeps, DiagnoseNetwork, KernelAddress, KernelLink, KernelRoute, KernelRule } from './diagnose-deps.ts';
import { localAgents, socketAnswers } from './local-agents.ts';
import { PROBE_LIMITS, probeRemote } from './remote-probes.ts';

/** The hostnames of the local cluster's Endpoints (the gateway Nodes they name). */
function localHostnames(raw: readonly unknown[], clusterId: string): string[] {
  const names = new Set<string>();
  for (const item of raw) {
    const spec = (item as { spec?: { cluster_id?: unknown; hostname?: unknown } })?.spec;
    if (spec?.cluster_id === clusterId && typeof spec.hostname === 'string' && spec.hostname !== '') names.add(spec.hostname);
  }
  return [...names].slice(0, 16);
}

/** Probes at once: enough to finish a node with a few remote clusters in seconds, never a burst. */
export const PROBE_CONCURRENCY = 4;

type Read<T> = { ok: true; value: T } | { ok: false; problem: string };

async function attempt<T>(work: () => Promise<T>): Promise<Read<T>> {
  try {
    return { ok: true, value: await work() };
  } catch (error) {
    return { ok: false, problem: errorText(error) };
  }
}

const failedRead = <T>(problem: string): ApiRead<T> => ({ ok: false, problem, forbidden: false });

export async function diagnoseNode(config: DiagnoseConfig, deps: DiagnoseDeps): Promise<Finding[]> {
  const node = config.nodeName;
  const findings: Finding[] = [];
  const api = 'problem' in deps.api ? null : deps.api;
  const apiProblem = 'problem' in deps.api ? deps.api.problem : null;
  const { kernel, network } = deps;

  const [endpoints, selfRead, lease, broker, links, addresses, routes, rules, legacy, nft, nftTables, ipsets, xfrm, backend, routeAgentSocket, gatewaySocket] = await Promise.all([
    api ? api.endpoints(config.namespace) : failedRead<unknown[]>(apiProblem!),
    api ? api.node(node) : failedRead<NodeSummary | null>(apiProblem!),
    api ? api.leaseHolder(config.namespace, config.leaseName) : failedRead<string>(apiProblem!),
    api ? (api.brokerEndpoints ? api.brokerEndpoints(config.brokerNamespace) : null) : (config.broker ? failedRead<unknown[]>(apiProblem!) : null),
    attempt(() => kernel.links()), attempt(() => kernel.addresses()), attempt(() => kernel.routes()), attempt(() => kernel.rules()),
    attempt(() => kernel.iptablesSave('legacy')), attempt(() => kernel.iptablesSave('nft')), attempt(() => kernel.nftTables()),
    attempt(() => kernel.ipsets(Object.values(OWNERSHIP.ipsets))), attempt(() => kernel.xfrmPolicies()),
    attempt(() => kernel.seawayBackend(config.filterBackend)),
    socketAnswers(network, config.statusSocket), socketAnswers(network, config.gatewayStatusSocket),
  ]);

  const kernelProblems = ([['links', links], ['addresses', addresses], ['routes', routes], ['rules', rules]] as const)
    .flatMap(([what, read]) => (read.ok ? [] : [`${what}: ${read.problem}`]));
  if (kernelProblems.length > 0) {
    findings.push({
      id: 'kernel', node, severity: 'error', target: 'this node\'s network namespace', probe: 'rtnetlink dumps', found: `cannot read ${kernelProblems.join('; ')}`,
      fix: 'run diagnose where the route agent runs (its hostNetwork pod: kubectl exec), as root or with CAP_NET_ADMIN',
    });
  }
  const linkList: KernelLink[] = links.ok ? links.value : [];
  const addressList: KernelAddress[] = addresses.ok ? addresses.value : [];

  // Whether each local Endpoint's gateway Node still exists: one small read per hostname, never the whole Node list.
  const hostnames = endpoints.ok ? localHostnames(endpoints.value, config.clusterId) : [];
  const nodeReads = api ? await Promise.all(hostnames.map((h) => api.node(h))) : [];
  const failedNodeRead = nodeReads.find((r) => !r.ok);
  const nodes: ApiRead<string[]> = failedNodeRead && !failedNodeRead.ok
    ? failedNodeRead
    : { ok: true, value: nodeReads.flatMap((r) => (r.ok && r.value ? [r.value.name] : [])) };
  const judged = diagnoseEndpoints({
    node, clusterId: config.clusterId, namespace: config.namespace, local: endpoints, broker, brokerNamespace: config.brokerNamespace,
    nodes: api ? nodes : failedRead(apiProblem!),
    leaseName: config.leaseName, lease, nowMs: deps.now(), staleAfterMs: config.remoteStaleSeconds * 1000,
  });
  findings.push(...judged.findings);
  const self = selfRead.ok ? selfRead.value ?? undefined : undefined;
  if (selfRead.ok && !self) {
    findings.push({ id: 'api', node, severity: 'error', target: `Node ${node}`, probe: 'listed Nodes through the API', found: `no Node named ${node}: the agents on this node wait for it`, fix: 'set NODE_NAME (--node-name) to this node\'s name as the API knows it (the DaemonSet takes it from spec.nodeName)' });
  }

  const cni = diagnoseCni(node, config.podCidrs, config.cniInterface, linkList, addressList);
  if (links.ok && addresses.ok) findings.push(cni.finding);
  const role = gatewayRole(node, judged.local, endpoints.ok ? null : endpoints.problem);

  const agents = await localAgents(config, network, self, { routeAgent: routeAgentSocket, gateway: gatewaySocket });
  findings.push(...agents.findings);

  if (routes.ok && rules.ok && links.ok && addresses.ok) {
    const lo = linkList.find((l) => l.name === 'lo');
    const chains = (read: Read<string | null>): LeftoverView['iptables'][IptablesFlavour] => (read.ok && read.value !== null ? chainNames(read.value) : null);
    findings.push(...diagnoseLeftovers(node, {
      links: linkList, routes: routes.value as KernelRoute[], rules: rules.value as KernelRule[],
      loAddresses: addressList.filter((a) => a.ifindex === lo?.index).map((a) => ({ address: a.address, ...(a.label ? { label: a.label } : {}) })),
      iptables: { legacy: chains(legacy), nft: chains(nft) },
      nftTables: nftTables.ok ? nftTables.value : [],
      ipsets: ipsets.ok ? ipsets.value : null,
      xfrmPolicies: xfrm.ok ? xfrm.value : null,
    }, {
      routeAgent: agents.routeAgent, gateway: agents.gateway,
      activeGatewayHere: role.role === 'gateway' ? true : role.role === 'worker' ? false : null,
      cableBackend: judged.local?.backend ?? null,
      seawayIptables: backend.ok ? backend.value.iptablesMode : null,
    }));
  }
  findings.push(...diagnoseBackend(node, {
    saves: { legacy: legacy.ok ? legacy.value : null, nft: nft.ok ? nft.value : null },
    nftTables: nftTables.ok ? nftTables.value : [],
    configured: config.filterBackend,
    seaway: backend.ok ? backend.value : { problem: backend.problem },
  }));

  const tasks: Array<() => Promise<Finding[]>> = [];
  if (role.role === 'worker') {
    tasks.push(async () => [await probeVxlan(network, node, role, linkList, addressList)]);
  } else {
    findings.push(vxlanFinding(node, role, null, null));
  }

  if (role.role === 'gateway' && judged.local) {
    const mss = mssClampFromAnnotations(self?.annotations);
    const ctx = { node, local: judged.local, cniAddress: cni.address, links: linkList, fixedMss: mss.clamp.mode === 'fixed' ? mss.clamp.mss : null };
    for (const remote of judged.remotes) tasks.push(() => probeRemote(deps, ctx, remote));
    if (judged.remotes.length === 0) {
      findings.push({ id: 'remote-gateways', node, severity: 'ok', target: 'remote clusters', probe: 'listed Endpoints', found: 'no remote cluster\'s Endpoint here yet: nothing to probe', fix: null });
    }
  } else {
    findings.push(notGatewayFinding(node, role));
  }

  for (const result of await runBounded(tasks, PROBE_CONCURRENCY)) {
    if (result.status === 'fulfilled') findings.push(...result.value);
    else findings.push({ id: 'diagnose', node, severity: 'warning', target: 'a probe', probe: 'as above', found: `the probe failed to run: ${errorText(result.reason)}`, fix: null });
  }
  return findings;
}

/** UDP 4800 from a node that is not the gateway: an echo from its VTEP to the gateway's, across vx-submariner. */
async function probeVxlan(network: DiagnoseNetwork, node: string, role: Extract<GatewayRole, { role: 'worker' }>, links: readonly KernelLink[], addresses: readonly KernelAddress[]): Promise<Finding> {
  const vx = links.find((l) => l.name === OWNERSHIP.vxlanDevice);
  const vtep = vx ? addresses.find((a) => a.ifindex === vx.index && a.address.startsWith(`${OWNERSHIP.vtepFirstOctet}.`))?.address ?? null : null;
  const targets = vxlanTargets(role.gatewayIp, vx ? { up: vx.up, ...(vx.vxlan?.local ? { local: vx.vxlan.local } : {}), ...(vx.vxlan?.remote ? { remote: vx.vxlan.remote } : {}) } : null, vtep);
  let outcome: EchoOutcome | null = null;
  if (targets.ok) {
    try {
      outcome = await network.echo({ source: targets.source, target: targets.target, sends: PROBE_LIMITS.echoSends, timeoutMs: PROBE_LIMITS.echoTimeoutMs });
    } catch (error) {
      outcome = { replied: false, sends: 0, waitedMs: 0, error: errorText(error) };
    }
  }
  return vxlanFinding(node, role, targets, outcome);
}
