import type { RunConfig } from '../config.ts';
import type { Rtnetlink } from '../kernel/rtnetlink.ts';
import type { Snapshot } from '../model/snapshot.ts';
import type { CniInterface } from '../init/cni-tracker.ts';
import { readNodeFacts } from '../dataplane/node-facts.ts';
import { planNode, type Plan } from '../plan/node-plan.ts';

export interface PlanningDeps {
  config: RunConfig;
  rtnl: Rtnetlink;
  snapshot: () => Snapshot;
  cniInterface: () => CniInterface | null;
}

export interface PlannedPass {
  plan: Plan;
  snapshot: Snapshot;
  /** The inputs (objects, node facts) are those of the last pass that programmed everything: writes now repair drift. */
  steady: boolean;
  /** Whether the filter had joined the pass that last programmed everything. */
  steadyFilter: boolean;
  /** Call when this pass programmed everything: later passes from the same inputs are steady. */
  accept(withFilter: boolean): void;
}

/** Thrown when the node cannot be planned for at all; the pass fails and the loop backs off. */
export class NotPlannableError extends Error {}

/** Reads the node's facts from the kernel and plans the desired state (the plan itself is pure). */
export function createPlanning(deps: PlanningDeps): () => Promise<PlannedPass> {
  let accepted: { snapshot: Snapshot; facts: string; filter: boolean } | null = null;
  return async () => {
    const cni = deps.cniInterface();
    const facts = await readNodeFacts(deps.rtnl, cni ? { name: cni.name, address: cni.address } : null);
    if (!facts) throw new NotPlannableError('the node has no IPv4 default route: cannot tell the VXLAN underlay');
    const snapshot = deps.snapshot();
    const factsText = JSON.stringify(facts);
    const steady = accepted !== null && accepted.snapshot === snapshot && accepted.facts === factsText;
    return {
      plan: planNode(snapshot, facts, deps.config),
      snapshot,
      steady,
      steadyFilter: steady && accepted!.filter,
      accept(withFilter) { accepted = { snapshot, facts: factsText, filter: withFilter }; },
    };
  };
}
