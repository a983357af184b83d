/**
 * `seaway diagnose`, the Endpoints (pure): several Endpoints for one cluster, and stale ones, as an
 * interrupted reinstall leaves them, judged from what the API shows this node, each named with the
 * `kubectl delete` that removes it. Also which Endpoints the probes go to: the active gateway's
 * local one, and the current one of each remote cluster.
 *
 * - The local cluster: the current Endpoint is the one whose hostname holds seaway's election Lease;
 *   without the Lease (not readable here) the only one, or the one with the highest fencing token
 *   (the Lease transition count the gateway published it under). Any other is stale, and so is one
 *   whose gateway Node no longer exists.
 * - A remote cluster: the current Endpoint is its broker copy (it carries the clusterID label) with
 *   the newest `seaway.io/refreshed-at`; any other is stale. The current one is stale too once it
 *   has not been refreshed within the stale window (`--remote-stale-seconds`, as the gateway judges
 *   it); one that is never stamped belongs to a Submariner gateway and its liveness is unknown.
 * - The broker namespace, when this node has the broker's credentials: several Endpoints for one cluster.
 */
import { isRecord } from '../model/compare.ts';
import type { Finding } from '../model/diagnose-finding.ts';
import { CLUSTER_ID_LABEL, refreshedAtMs } from './broker-sync.ts';
import { fencingTokenOf } from './exclusive-endpoint.ts';

/** An API read: its value, or why it failed (forbidden: the credentials lack a permission). */
export type ApiRead<T> = { ok: true; value: T } | { ok: false; problem: string; forbidden: boolean };

export interface EndpointFacts {
  name: string;
  namespace: string;
  clusterId: string;
  /** The submariner-io/clusterID label: set on broker copies. */
  label: string | null;
  refreshedAtMs: number | null;
  fencingToken: number | undefined;
  cableName: string;
  hostname: string;
  /** '' when the Endpoint gives none. */
  privateIp: string;
  publicIp: string;
  healthCheckIp: string;
  backend: string;
  natEnabled: boolean;
  /** backend_config udp-port (IKE/NAT-T, WireGuard, VXLAN cable); Submariner's 4500 when absent. */
  udpPort: number;
  /** backend_config natt-discovery-port; 0 when absent (the remote does not answer NAT discovery). */
  discoveryPort: number;
}

const DEFAULT_UDP_PORT = 4500;
const text = (value: unknown): string => (typeof value === 'string' ? value : '');
const firstOf = (single: unknown, plural: unknown): string => text(single) || (Array.isArray(plural) ? text(plural[0]) : '');

function port(value: unknown, fallback: number): number {
  const t = text(value);
  return /^\d{1,5}$/.test(t) && Number(t) >= 1 && Number(t) <= 65535 ? Number(t) : fallback;
}

/** Reads an Endpoint leniently (diagnose must describe a broken object, not refuse it); only a name and a cluster_id are required. */
export function readEndpointFacts(raw: unknown): { ok: true; facts: EndpointFacts } | { ok: false; name: string; reason: string } {
  const meta = isRecord(raw) && isRecord(raw.metadata) ? raw.metadata : null;
  const name = text(meta?.name);
  if (!isRecord(raw) || meta === null || name === '') return { ok: false, name, reason: 'is not an object with metadata.name' };
  const spec = isRecord(raw.spec) ? raw.spec : null;
  if (spec === null) return { ok: false, name, reason: 'has no spec' };
  const clusterId = text(spec.cluster_id);
  if (clusterId === '') return { ok: false, name, reason: 'has no spec.cluster_id' };
  const labels = isRecord(meta.labels) ? meta.labels : {};
  const annotations = isRecord(meta.annotations) ? meta.annotations : {};
  const stringAnnotations = Object.fromEntries(Object.entries(annotations).filter(([, v]) => typeof v === 'string')) as Record<string, string>;
  const backendConfig = isRecord(spec.backend_config) ? spec.backend_config : {};
  const label = text(labels[CLUSTER_ID_LABEL]);
  return {
    ok: true,
    facts: {
      name, namespace: text(meta.namespace), clusterId, label: label === '' ? null : label,
      refreshedAtMs: refreshedAtMs(annotations), fencingToken: fencingTokenOf({ annotations: stringAnnotations }),
      cableName: text(spec.cable_name), hostname: text(spec.hostname),
      privateIp: firstOf(spec.private_ip, spec.privateIPs), publicIp: firstOf(spec.public_ip, spec.publicIPs),
      healthCheckIp: firstOf(spec.healthCheckIP, spec.healthCheckIPs), backend: text(spec.backend),
      natEnabled: spec.nat_enabled === true,
      udpPort: port(backendConfig['udp-port'], DEFAULT_UDP_PORT), discoveryPort: port(backendConfig['natt-discovery-port'], 0),
    },
  };
}

export interface EndpointDiagnosisInput {
  node: string;
  clusterId: string;
  namespace: string;
  /** Every Endpoint of the Submariner namespace, as listed. */
  local: ApiRead<readonly unknown[]>;
  /** The broker namespace's Endpoints; null when this node has no broker credentials. */
  broker: ApiRead<readonly unknown[]> | null;
  brokerNamespace: string;
  /** The names of this cluster's Nodes. */
  nodes: ApiRead<readonly string[]>;
  leaseName: string;
  /** The election Lease's holder ('' when nobody holds it). */
  lease: ApiRead<string>;
  nowMs: number;
  staleAfterMs: number;
}

export interface EndpointDiagnosis {
  findings: Finding[];
  /** The active gateway's Endpoint, as far as this node can tell; null when there is none or the API cannot say. */
  local: EndpointFacts | null;
  /** The current Endpoint of each remote cluster, by cluster id. */
  remotes: EndpointFacts[];
}

const ageText = (ms: number): string => `${Math.round(ms / 1000)} s`;

export function diagnoseEndpoints(input: EndpointDiagnosisInput): EndpointDiagnosis {
  const findings: Finding[] = [];
  const { node, namespace } = input;
  const add = (f: Omit<Finding, 'node'>) => findings.push({ node, ...f });
  const deleteLocal = (e: EndpointFacts) => `kubectl delete endpoints.submariner.io -n ${namespace} ${e.name}`;
  const LIST_PROBE = 'listed through the API with this node\'s credentials';

  if (!input.local.ok) {
    add({
      id: 'api', severity: 'error', target: `Endpoints in ${namespace}`, probe: LIST_PROBE, found: `cannot list them: ${input.local.problem}`,
      fix: input.local.forbidden
        ? `grant this node's service account list on endpoints.submariner.io in ${namespace} (manifests: the route agent's Role)`
        : 'check that the API server is reachable from this node (the kubeconfig or the in-cluster service)',
    });
    // The broker is another API server: it is judged whatever this cluster's says.
    if (input.broker !== null) judgeBroker(input, input.broker, add);
    return { findings, local: null, remotes: [] };
  }

  const all: EndpointFacts[] = [];
  for (const raw of input.local.value) {
    const read = readEndpointFacts(raw);
    if (read.ok) all.push(read.facts);
    else add({ id: 'endpoints', severity: 'warning', target: `Endpoint ${namespace}/${read.name || '(unnamed)'}`, probe: LIST_PROBE, found: `malformed: ${read.reason}; every agent ignores it`, fix: read.name ? `kubectl delete endpoints.submariner.io -n ${namespace} ${read.name}` : null });
  }
  const groups = new Map<string, EndpointFacts[]>();
  for (const e of all) groups.set(e.clusterId, [...(groups.get(e.clusterId) ?? []), e]);

  const nodeNames = input.nodes.ok ? new Set(input.nodes.value) : null;
  if (!input.nodes.ok) {
    add({ id: 'api', severity: 'warning', target: 'Nodes', probe: LIST_PROBE, found: `cannot list them (${input.nodes.problem}): whether each Endpoint's gateway Node still exists is not checked`, fix: input.nodes.forbidden ? 'grant this node\'s service account list on nodes' : null });
  }
  let holder: string | undefined;
  if (input.lease.ok) holder = input.lease.value;
  else {
    add({
      id: 'api', severity: 'warning', target: `Lease ${namespace}/${input.leaseName}`, probe: 'read through the API with this node\'s credentials',
      found: `cannot read it (${input.lease.problem}): the active gateway is judged from the Endpoints alone`,
      fix: input.lease.forbidden ? `grant this node's service account get on leases named ${input.leaseName} in ${namespace} (coordination.k8s.io)` : null,
    });
  }

  const local = judgeLocal(groups.get(input.clusterId) ?? [], input, holder, nodeNames, add, deleteLocal);
  const remotes: EndpointFacts[] = [];
  for (const [clusterId, group] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
    if (clusterId === input.clusterId) continue;
    const current = judgeRemote(clusterId, group, input, add, deleteLocal);
    remotes.push(current);
  }
  if (input.broker !== null) judgeBroker(input, input.broker, add);
  return { findings, local, remotes };
}

function judgeLocal(
  group: EndpointFacts[], input: EndpointDiagnosisInput, holder: string | undefined, nodeNames: Set<string> | null,
  add: (f: Omit<Finding, 'node'>) => void, deleteLocal: (e: EndpointFacts) => string,
): EndpointFacts | null {
  const { clusterId, namespace } = input;
  const probe = `listed Endpoints of cluster ${clusterId} in ${namespace}${holder !== undefined ? ` and read the Lease ${input.leaseName}` : ''}`;
  if (group.length === 0) {
    add({
      id: 'endpoints', severity: 'error', target: `cluster ${clusterId} (local)`, probe,
      found: `no Endpoint of this cluster in ${namespace}: no gateway is active, so no traffic to other clusters leaves this cluster`,
      fix: `check that a node is labelled submariner.io/gateway=true and that its seaway gateway pod runs and is ready (kubectl -n ${namespace} get pods -o wide)`,
    });
    return null;
  }
  let current: EndpointFacts | null = null;
  if (holder !== undefined && holder !== '') current = group.find((e) => e.hostname === holder) ?? null;
  else if (group.length === 1) current = group[0]!;
  else {
    const tokens = group.map((e) => e.fencingToken ?? -1);
    const top = Math.max(...tokens);
    const leaders = group.filter((e) => (e.fencingToken ?? -1) === top);
    if (top >= 0 && leaders.length === 1) current = leaders[0]!;
  }
  for (const e of group) {
    if (e === current) continue;
    const why: string[] = [];
    if (holder) why.push(`its hostname ${e.hostname || '(none)'} does not hold the Lease ${input.leaseName} (${holder} does)`);
    if (nodeNames !== null && !nodeNames.has(e.hostname)) why.push(`its gateway Node ${e.hostname || '(none)'} does not exist`);
    if (current && current.fencingToken !== undefined && (e.fencingToken ?? -1) < current.fencingToken) {
      why.push(`published under Lease transition ${e.fencingToken ?? 'none'}, before ${current.name}'s ${current.fencingToken}`);
    }
    if (why.length === 0) why.push(current ? `a second Endpoint of this cluster beside ${current.name}` : `one of ${group.length} Endpoints of this cluster, and nothing tells which gateway is active`);
    add({
      id: 'endpoints', severity: 'error', target: `Endpoint ${namespace}/${e.name}`, probe,
      found: `stale Endpoint of the local cluster ${clusterId}: ${why.join('; ')}. Every cluster's agents may route to its gateway`,
      fix: current ? deleteLocal(e) : `find the active gateway (kubectl -n ${namespace} get gateways.submariner.io) and delete the other Endpoints: ${group.map(deleteLocal).join('; ')}`,
    });
  }
  if (current === null) {
    if (holder === '') {
      add({
        id: 'endpoints', severity: 'error', target: `Lease ${namespace}/${input.leaseName}`, probe,
        found: `nobody holds the election Lease: no gateway is active (the Endpoints are what the last one left)`,
        fix: `check the seaway gateway pods on the nodes labelled submariner.io/gateway=true (kubectl -n ${namespace} get pods -o wide)`,
      });
    } else if (holder) {
      add({
        id: 'endpoints', severity: 'error', target: `cluster ${clusterId} (local)`, probe,
        found: `the Lease holder ${holder} has published no Endpoint (it may be starting, or unable to: see its /readyz)`,
        fix: `kubectl -n ${namespace} logs the seaway gateway pod on ${holder}`,
      });
    }
    return null;
  }
  if (nodeNames !== null && !nodeNames.has(current.hostname)) {
    add({
      id: 'endpoints', severity: 'error', target: `Endpoint ${namespace}/${current.name}`, probe,
      found: `the local Endpoint names gateway Node ${current.hostname || '(none)'}, which does not exist: traffic goes to a gateway that is gone`,
      fix: `${deleteLocal(current)} (an active gateway publishes its own)`,
    });
    return current;
  }
  if (holder === '') {
    add({
      id: 'endpoints', severity: 'error', target: `Endpoint ${namespace}/${current.name}`, probe,
      found: `nobody holds the election Lease ${input.leaseName}: ${current.hostname}'s Endpoint is what the last active gateway left`,
      fix: `check the seaway gateway pods on the nodes labelled submariner.io/gateway=true (kubectl -n ${namespace} get pods -o wide)`,
    });
    return current;
  }
  add({
    id: 'endpoints', severity: 'ok', target: `Endpoint ${namespace}/${current.name}`, probe,
    found: `the local cluster's one current Endpoint, published by gateway ${current.hostname}${holder ? ' (the Lease holder)' : ''}${group.length > 1 ? `; ${group.length - 1} stale beside it (above)` : ''}`,
    fix: null,
  });
  return current;
}

/** The current one of a remote cluster's Endpoints: a broker copy, freshest first; then any, freshest first, by name. */
function pickRemote(group: readonly EndpointFacts[]): EndpointFacts {
  const rank = (e: EndpointFacts): [number, number] => [e.label === e.clusterId ? 1 : 0, e.refreshedAtMs ?? -Infinity];
  return [...group].sort((a, b) => {
    const [la, ra] = rank(a);
    const [lb, rb] = rank(b);
    return lb - la || (rb > ra ? 1 : rb < ra ? -1 : 0) || a.name.localeCompare(b.name);
  })[0]!;
}

function judgeRemote(
  clusterId: string, group: EndpointFacts[], input: EndpointDiagnosisInput, add: (f: Omit<Finding, 'node'>) => void, deleteLocal: (e: EndpointFacts) => string,
): EndpointFacts {
  const { namespace, nowMs, staleAfterMs } = input;
  const probe = `listed Endpoints of cluster ${clusterId} in ${namespace}`;
  const current = pickRemote(group);
  for (const e of group) {
    if (e === current) continue;
    let why: string;
    if (e.label !== clusterId) why = `it has no ${CLUSTER_ID_LABEL}=${clusterId} label, so it is no copy from the broker: the broker sync never updates nor removes it (left by an earlier install, or made by hand)`;
    else if (e.refreshedAtMs === null) why = `it was never refreshed, while ${current.name} is`;
    else why = `it was last refreshed ${ageText(nowMs - e.refreshedAtMs)} ago, ${current.name} more recently`;
    add({
      id: 'endpoints', severity: 'error', target: `Endpoint ${namespace}/${e.name}`, probe,
      found: `${group.length} Endpoints for cluster ${clusterId}; this one is stale: ${why}. Agents may route to the wrong gateway`,
      fix: deleteLocal(e),
    });
  }
  const where = `Endpoint ${namespace}/${current.name}`;
  if (current.refreshedAtMs === null) {
    // The broker sync leaves seaway.io/refreshed-at off the copies it imports (a refresh would rewrite every copy in every cluster).
    const liveness = input.broker === null ? ': its liveness is judged on the broker (diagnose with the broker\'s credentials, in the gateway\'s pod, checks it)' : '';
    add({ id: 'endpoints', severity: 'ok', target: where, probe, found: `cluster ${clusterId}'s one Endpoint here (gateway ${current.hostname || '?'})${liveness}`, fix: null });
  } else if (nowMs - current.refreshedAtMs > staleAfterMs) {
    add({
      id: 'endpoints', severity: 'error', target: where, probe,
      found: `cluster ${clusterId}'s Endpoint was last refreshed ${ageText(nowMs - current.refreshedAtMs)} ago (stale after ${ageText(staleAfterMs)}): its gateway is gone or no longer syncs with the broker; it is still routed`,
      fix: `if cluster ${clusterId} is gone for good, delete its Endpoint and Cluster on the broker (kubectl delete endpoints.submariner.io,clusters.submariner.io -n ${input.brokerNamespace} with the broker's credentials; the copies here follow); otherwise look at cluster ${clusterId}'s gateway`,
    });
  } else {
    add({ id: 'endpoints', severity: 'ok', target: where, probe, found: `cluster ${clusterId}'s Endpoint (gateway ${current.hostname || '?'}), refreshed ${ageText(Math.max(0, nowMs - current.refreshedAtMs))} ago`, fix: null });
  }
  return current;
}

function judgeBroker(input: EndpointDiagnosisInput, broker: ApiRead<readonly unknown[]>, add: (f: Omit<Finding, 'node'>) => void): void {
  const ns = input.brokerNamespace;
  const probe = `listed Endpoints in the broker's ${ns} with the broker credentials`;
  if (!broker.ok) {
    add({
      id: 'broker', severity: 'error', target: `Endpoints in the broker's ${ns}`, probe, found: `cannot list them: ${broker.problem}`,
      fix: broker.forbidden ? `the broker refuses this cluster's credentials: check the broker Secret (its token's account may list endpoints.submariner.io in ${ns})` : 'check that the broker\'s API server is reachable from this node',
    });
    return;
  }
  const groups = new Map<string, EndpointFacts[]>();
  for (const raw of broker.value) {
    const read = readEndpointFacts(raw);
    if (!read.ok) {
      add({ id: 'broker', severity: 'warning', target: `broker Endpoint ${ns}/${read.name || '(unnamed)'}`, probe, found: `malformed: ${read.reason}; every cluster ignores it`, fix: null });
      continue;
    }
    const id = read.facts.label ?? read.facts.clusterId;
    groups.set(id, [...(groups.get(id) ?? []), read.facts]);
  }
  let clean = true;
  for (const [clusterId, group] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
    const current = pickRemote(group);
    // Each cluster's liveness, from its gateway's stamp on its broker copies (as the gateways judge it; a Submariner gateway stamps none).
    if (current.refreshedAtMs !== null && input.nowMs - current.refreshedAtMs > input.staleAfterMs) {
      clean = false;
      const own = clusterId === input.clusterId;
      add({
        id: 'broker', severity: 'error', target: `broker Endpoint ${ns}/${current.name}`, probe,
        found: `cluster ${clusterId}'s broker copy was last refreshed ${ageText(input.nowMs - current.refreshedAtMs)} ago (stale after ${ageText(input.staleAfterMs)}): `
          + (own ? 'this cluster\'s active gateway does not sync with the broker (see its /readyz: broker-sync)' : 'its gateway is gone or no longer syncs; every cluster still routes to it'),
        fix: own ? `kubectl -n ${input.namespace} logs the seaway gateway pod on the active gateway node`
          : `if cluster ${clusterId} is gone for good: kubectl delete endpoints.submariner.io,clusters.submariner.io -n ${ns} (its objects there, with the broker's credentials); otherwise look at cluster ${clusterId}'s gateway`,
      });
    }
    if (group.length < 2) continue;
    clean = false;
    for (const e of group) {
      if (e === current) continue;
      const why = e.refreshedAtMs === null
        ? 'it was never refreshed'
        : `it was last refreshed ${ageText(input.nowMs - e.refreshedAtMs)} ago`;
      add({
        id: 'broker', severity: 'error', target: `broker Endpoint ${ns}/${e.name}`, probe,
        found: `${group.length} Endpoints for cluster ${clusterId} on the broker; this one is stale (${why}; ${current.name} is the current one): every cluster imports it`,
        fix: `kubectl delete endpoints.submariner.io -n ${ns} ${e.name} (with the broker's credentials)`,
      });
    }
  }
  if (clean) add({ id: 'broker', severity: 'ok', target: `Endpoints in the broker's ${ns}`, probe, found: `one Endpoint per cluster (${groups.size} cluster(s)), none stale`, fix: null });
}
