/**
 * What `seaway status` shows for the gateway (pure): the same document as the route agent's, read
 * over the gateway's own socket. Its conditions say the election's state and why, and each remote
 * cluster's liveness on the broker (a stale one is still routed); its objects are the cables, as the
 * daemon reports them.
 */
import type { CableStatus } from '../cable/cable.ts';
import type { HaDecision } from '../model/gateway-ha.ts';
import type { ClusterLiveness } from '../plan/broker-sync.ts';
import type { StatusDocument, StatusObject } from '../server/status.ts';

export interface GatewayStatusInputs {
  node: string;
  ready: boolean;
  /** Readiness reasons, one per unmet condition. */
  reasons: readonly string[];
  decision: HaDecision | undefined;
  liveness: readonly ClusterLiveness[];
  cables: readonly CableStatus[];
  /** When each cable was first seen in its current state (unix ms), by cable name. */
  since: ReadonlyMap<string, number>;
  now: number;
}

const STATES: Record<CableStatus['state'], StatusObject['state']> = { connected: 'programmed', connecting: 'in-progress', error: 'failed' };

function livenessLine(remote: ClusterLiveness): string {
  const age = remote.ageMs === null ? '' : ` (last refresh ${Math.round(remote.ageMs / 1000)} s ago)`;
  switch (remote.state) {
    case 'fresh': return `remote cluster ${remote.clusterId}: fresh${age}`;
    case 'stale': return `remote cluster ${remote.clusterId}: STALE${age}: its gateway no longer refreshes its broker copies; still routed`;
    case 'unknown': return `remote cluster ${remote.clusterId}: liveness unknown (it never stamps its broker copies: a Submariner gateway)`;
  }
}

export function gatewayStatusDocument(inputs: GatewayStatusInputs): StatusDocument {
  const election = inputs.decision ? `gateway ${inputs.decision.state}: ${inputs.decision.reason}` : 'gateway starting: no election round yet';
  return {
    node: inputs.node,
    ready: inputs.ready,
    conditions: [...inputs.reasons, election, ...inputs.liveness.map(livenessLine)],
    generatedAt: new Date(inputs.now).toISOString(),
    objects: inputs.cables.map((cable) => ({
      component: 'cable', kind: 'cable', key: cable.cableName, object: cable.cableName, state: STATES[cable.state],
      ...(cable.state === 'connected' ? {} : { reason: cable.message || cable.lastError || cable.state }),
      since: new Date(inputs.since.get(cable.cableName) ?? inputs.now).toISOString(), attempts: 0, desired: true,
    })),
  };
}
