/**
 * The route agent's health checks (pure): which remote gateways this node probes, and with what
 * settings. On every node that is not the local gateway, the route agent sends ICMP echo to each
 * remote Endpoint's `healthCheckIP` from the node's CNI address, so the probe takes the node's real
 * path (vx-submariner to the gateway, the cable, the remote gateway) and so does the reply. The
 * gateway node probes nothing here: the gateway role's own checks through its cables
 * (cable/health-checker.ts) are in its Gateway object, as Submariner's route agent says ("Health
 * check is not performed on gateway nodes").
 *
 * The rates. Submariner's route agent pings each remote every 60 s, one pinger per cable, however
 * many. Here the default is one probe per remote every 10 s: a broken path shows within
 * ROUTE_AGENT_HEALTH_MAX_LOSS x 10 s = 30 s instead of minutes, and a node still sends next to
 * nothing. The node's whole rate is held to ROUTE_AGENT_MAX_PROBES_PER_SECOND whatever the number of
 * remote clusters (the interval stretches instead: 1000 remotes are each probed every 500 s), so a
 * cluster of N nodes sends a remote gateway at most N / 10 probes a second, and never more than
 * 2 N over all remotes. What bounds the sum over every remote cluster's nodes is the receiving
 * gateway's own limit (the packet filter's echo-request limit), not anything a sender can promise.
 */
import { ownHealthCheckIp, type HealthSettings } from './health-probes.ts';
import type { Plan } from './node-plan.ts';

/** Between two probes of one remote, by default (seconds). */
export const ROUTE_AGENT_HEALTH_INTERVAL_SECONDS = 10;
/**
 * Probes lost in a row that make a remote an error. Fewer than the gateway's 5 (one a second): at one
 * probe per 10 s, three in a row are half a minute without a reply, which is an outage, not jitter.
 */
export const ROUTE_AGENT_HEALTH_MAX_LOSS = 3;
/** The node's probe budget over every remote: small and constant, so a node's load never grows with the number of clusters. */
export const ROUTE_AGENT_MAX_PROBES_PER_SECOND = 2;

/** The health checker's settings for an interval in seconds; null when health checks are disabled (0). */
export function routeAgentHealthSettings(intervalSeconds: number): HealthSettings | null {
  if (intervalSeconds === 0) return null;
  return { intervalMs: intervalSeconds * 1000, maxLoss: ROUTE_AGENT_HEALTH_MAX_LOSS, maxProbesPerSecond: ROUTE_AGENT_MAX_PROBES_PER_SECOND };
}

export const HEALTH_DISABLED_REASON = 'health checks are disabled on this node (--health-check-interval-seconds 0)';
export const GATEWAY_NODE_REASON = 'health checks are not performed on the gateway node: the gateway\'s own, through its cables, are in its Gateway object';

/** One remote to probe: key is what the status finds its results by (probeKey). */
export interface ProbeTarget {
  key: string;
  ip: string;
}

export interface NodeHealthPlan {
  /** Why this node probes no remote at all; absent when it probes. */
  off?: string;
  /** The remotes to probe, by key, sorted. */
  targets: ProbeTarget[];
  /** Remotes not probed, by key, with the reason (no healthCheckIP, one outside its own subnets). */
  skipped: ReadonlyMap<string, string>;
}

/** The key of one remote's probes: its cluster and cable, as the status tells remotes apart. */
export const probeKey = (clusterId: string, cableName: string): string => `${clusterId}/${cableName}`;

/** What of the planner's result the health plan is built from. */
export type HealthPlanInput = Pick<Plan, 'isGateway' | 'localEndpoint' | 'remoteClusters'>;

/** One remote's target, or why it is not probed. */
type RemoteProbe = { key: string; target?: ProbeTarget; skipped?: string };

/** What nodeHealthPlan made of one remote (the plan's entry for it), to be kept by that entry: the plan memo keeps an unchanged remote's entry the same object. */
export type HealthPlanMemo = WeakMap<object, RemoteProbe>;

/** Whether `ip` lies in one of `subnets` (CIDR texts; unparseable ones match nothing). */
const inside = (ip: string, subnets: readonly string[]): boolean => ownHealthCheckIp([ip], subnets) !== undefined;

/**
 * Which remotes this node probes (pure). None on the gateway node, none when disabled, none while
 * the local gateway is unknown (nothing is routed, so no probe could take the path it is meant to
 * prove). A remote is probed at its first healthCheckIP only when that address lies inside one of
 * its own subnets: that is where a remote gateway's CNI address is, it is what this node routes
 * through the gateway, and it keeps a remote Endpoint from pointing every node of this cluster at
 * an address of its choosing (the API server, a host on the underlay).
 */
export function nodeHealthPlan(plan: HealthPlanInput, options: { disabled: boolean; memo?: HealthPlanMemo }): NodeHealthPlan {
  const skipped = new Map<string, string>();
  if (options.disabled) return { off: HEALTH_DISABLED_REASON, targets: [], skipped };
  if (plan.isGateway) return { off: GATEWAY_NODE_REASON, targets: [], skipped };
  if (plan.localEndpoint === null || plan.localEndpoint === undefined) return { targets: [], skipped };
  const targets: ProbeTarget[] = [];
  const seen = new Set<string>();
  for (const remote of Array.isArray(plan.remoteClusters) ? plan.remoteClusters : []) {
    if (remote === null || typeof remote !== 'object') continue;
    let probe = options.memo?.get(remote);
    if (probe === undefined) {
      const made = remoteProbe(remote);
      if (made === null) continue;
      probe = made;
      options.memo?.set(remote, probe);
    }
    if (seen.has(probe.key)) continue;
    seen.add(probe.key);
    if (probe.target !== undefined) targets.push(probe.target);
    else if (probe.skipped !== undefined) skipped.set(probe.key, probe.skipped);
  }
  targets.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { targets, skipped };
}

/** null when the remote's spec is unusable (it is left out). */
function remoteProbe(remote: HealthPlanInput['remoteClusters'][number]): RemoteProbe | null {
  const spec = remote.spec;
  if (spec === null || typeof spec !== 'object' || typeof spec.clusterId !== 'string' || typeof spec.cableName !== 'string') return null;
  const key = probeKey(spec.clusterId, spec.cableName);
  const ip = Array.isArray(spec.healthCheckIps) ? spec.healthCheckIps[0] : undefined;
  if (typeof ip !== 'string' || ip === '') return { key, skipped: 'the remote Endpoint names no healthCheckIP' };
  const subnets = Array.isArray(remote.subnets) ? remote.subnets : [];
  if (!inside(ip, subnets)) return { key, skipped: `the remote Endpoint's healthCheckIP ${ip} is not inside its subnets, so it is not probed` };
  return { key, target: { key, ip } };
}
