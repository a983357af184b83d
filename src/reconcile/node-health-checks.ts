/**
 * The route agent's health checks on this node: after each pass the health checker
 * (cable/health-checker.ts, the gateway's own, with the route agent's settings) is given the
 * remotes plan/route-agent-health.ts says to probe, and the RouteAgent reporter reads back what the
 * probes found, per remote. When probing is impossible on this node altogether (the ICMP addon is
 * not built), every remote that would be probed carries that as its problem, so its status says so
 * instead of waiting forever for a first reply.
 */
import type { HealthChecker } from '../cable/health-checker.ts';
import type { ConnectionHealth } from '../plan/gateway-status.ts';
import type { HealthSettings } from '../plan/health-probes.ts';
import { nodeHealthPlan, type HealthPlanInput, type HealthPlanMemo, type NodeHealthPlan } from '../plan/route-agent-health.ts';
import type { RouteAgentHealth } from '../plan/route-agent-status.ts';

export interface NodeHealthChecksDeps {
  /** The checker's settings; null: health checks are disabled on this node. */
  settings: HealthSettings | null;
  /** The checker, when probing is possible (never called for when disabled). */
  checker: Pick<HealthChecker, 'setTargets' | 'health' | 'close'> | null;
  /** Why there is no checker although checks are enabled (the ICMP addon failed to load). */
  unavailable?: string;
}

export interface NodeHealthChecks {
  /** A pass planned: probe the remotes its plan says to (null: planning failed, the targets stay). */
  update(plan: HealthPlanInput | null): void;
  /** What the probes found now, for the status of this plan's remotes. */
  view(plan: HealthPlanInput): RouteAgentHealth;
  close(): void;
}

export function createNodeHealthChecks(deps: NodeHealthChecksDeps): NodeHealthChecks {
  const disabled = deps.settings === null;
  const { checker } = deps;
  const unavailable = deps.unavailable ?? 'this node has no health checker';
  // Worked out once per plan (its pass's update and every status built from it read the same), and
  // each remote once while its Endpoint is unchanged.
  const memo: HealthPlanMemo = new WeakMap();
  let last: { plan: HealthPlanInput; planned: NodeHealthPlan } | undefined;
  const healthPlan = (plan: HealthPlanInput) => {
    if (last?.plan !== plan) last = { plan, planned: nodeHealthPlan(plan, { disabled, memo }) };
    return last.planned;
  };
  return {
    update(plan) {
      if (plan === null || checker === null) return;
      checker.setTargets(healthPlan(plan).targets);
    },
    view(plan) {
      const planned = healthPlan(plan);
      const probes = new Map<string, ConnectionHealth>();
      for (const target of planned.targets) {
        const found = checker !== null
          ? checker.health(target.key)
          : { ip: target.ip, verdict: 'unknown' as const, lostInARow: 0, maxLoss: deps.settings?.maxLoss ?? 0, rtt: null, problem: unavailable };
        // The checker knows a target only from the pass that set it; the ip must be the one planned now.
        if (found !== undefined && found.ip === target.ip) probes.set(target.key, found);
      }
      return { ...(planned.off !== undefined ? { off: planned.off } : {}), skipped: planned.skipped, probes };
    },
    close() {
      checker?.close();
    },
  };
}
