import { isDeepStrictEqual } from 'node:util';
import type { RunConfig } from '../config.ts';
import type { Rtnetlink } from '../kernel/rtnetlink.ts';
import type { Snapshot } from '../model/snapshot.ts';
import type { CniInterface } from '../init/cni-tracker.ts';
import { createNodeFactsReader, type NodeFactsRead, type NodeFactsReader } from '../dataplane/node-facts.ts';
import type { KernelPart } from './kernel-changes.ts';
import { planNode, type Plan } from '../plan/node-plan.ts';
import type { LocalGateway } from '../plan/endpoint-verdict.ts';
import { newPlanMemo } from '../model/endpoint-set.ts';
import { clustersWithEndpoints, EMPTY_REMOTE_MEMORY, rememberRemotes, retainRemotes, type RemoteMemory, type RetainedCluster } from '../plan/remote-grace.ts';

export interface PlanningDeps {
  config: RunConfig;
  rtnl: Rtnetlink;
  snapshot: () => Snapshot;
  cniInterface: () => CniInterface | null;
  now?: () => number;
  /** Reads the node's facts; the agent passes its own, which tells its kernel-event watch the underlay. Made from rtnl and config if absent. */
  nodeFacts?: NodeFactsReader;
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
  /** Remote clusters with no Endpoint left whose subnets are still routed, until their grace ends. */
  retained: RetainedCluster[];
  /** When planning must run again by itself (a grace period ends). */
  wakeAt?: number;
}

/** Thrown when the node cannot be planned for at all; the pass fails and the loop backs off. */
export class NotPlannableError extends Error {}

/** Reads the node's facts from the kernel and plans the desired state (the plan itself is pure). */
export function createPlanning(deps: PlanningDeps): (quiet?: ReadonlySet<KernelPart>) => Promise<PlannedPass> {
  const now = deps.now ?? Date.now;
  let accepted: { snapshot: Snapshot; facts: string; retained: string; filter: boolean } | null = null;
  // Fail static across passes: the gateway last trusted, and what each remote cluster last had routed.
  let lastGoodLocal: LocalGateway | null = null;
  let remotes: RemoteMemory = EMPTY_REMOTE_MEMORY;
  // One configuration for the planner's life: a spec validated once stays valid until the informer replaces it.
  const memo = newPlanMemo();
  const nodeFacts = deps.nodeFacts ?? createNodeFactsReader(deps.rtnl, deps.config);
  // The last plan and what it was planned from: the same inputs give the same plan (planNode is pure),
  // so a pass with nothing new (a resync, a drift repair) neither plans nor validates again.
  let last: { snapshot: Snapshot; facts: string; retained: string; lastGoodLocal: LocalGateway | null; plan: Plan } | null = null;
  // The node's facts as last read, and from which inputs: while the host network's watch has seen
  // no change they still hold, and a pass reads nothing of the host's tables.
  let factsRead: { inputs: string; read: NodeFactsRead } | null = null;
  return async (quiet = new Set()) => {
    const cni = deps.cniInterface();
    const snapshot = deps.snapshot();
    // This Node's InternalIP is where the gateway's FDB sends: the underlay address unless configured otherwise.
    const internalIP = snapshot.nodes.find((n) => n.name === deps.config.nodeName)?.internalIP ?? null;
    const cniFacts = cni ? { name: cni.name, address: cni.address } : null;
    const inputs = JSON.stringify([cniFacts, internalIP]);
    if (!quiet.has('host-network') || factsRead?.inputs !== inputs) factsRead = null;
    const read = factsRead?.read ?? await nodeFacts.read(cniFacts, internalIP);
    if (!read.ok) throw new NotPlannableError(read.reason);
    factsRead = { inputs, read };
    const { facts } = read;
    const retained = retainRemotes(remotes, clustersWithEndpoints(snapshot), now(), deps.config.remoteGraceSeconds * 1000);
    const factsText = JSON.stringify(facts);
    const retainedText = JSON.stringify(retained.map((r) => r.subnets));
    const unchanged = last !== null && last.snapshot === snapshot && last.facts === factsText && last.retained === retainedText && isDeepStrictEqual(last.lastGoodLocal, lastGoodLocal);
    const plan = unchanged ? last!.plan : planNode(snapshot, facts, deps.config, { lastGoodLocal, retainedSubnets: retained.flatMap((r) => r.subnets), memo });
    if (!unchanged) last = { snapshot, facts: factsText, retained: retainedText, lastGoodLocal, plan };
    lastGoodLocal = plan.lastGoodLocal ?? lastGoodLocal;
    remotes = rememberRemotes(new Map(plan.remoteClusters.map((r) => [r.clusterId, r.subnets])), retained);
    const steady = accepted !== null && accepted.snapshot === snapshot && accepted.facts === factsText && accepted.retained === retainedText;
    const wakeAt = retained.length === 0 ? undefined : Math.min(...retained.map((r) => r.until));
    return {
      plan,
      snapshot,
      steady,
      steadyFilter: steady && accepted!.filter,
      accept(withFilter) { accepted = { snapshot, facts: factsText, retained: retainedText, filter: withFilter }; },
      retained,
      ...(wakeAt !== undefined ? { wakeAt } : {}),
    };
  };
}
