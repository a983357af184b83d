/**
 * Whether this node may stand for the gateway, and why not (pure). The election (model/gateway-ha.ts)
 * takes the answer as two facts: `labelled` (the operator's choice of gateway nodes) and `refusal`
 * (this node's own configuration is unusable: it must not take over a cluster it cannot serve).
 * Refusing is per node and changes nothing of the node's routing: the route agent goes on.
 */
import type { NodeObject } from '../model/snapshot.ts';

export interface CandidacyInputs {
  /** This node's Node object, or null while it is not known (not listed yet, or deleted). */
  node: Pick<NodeObject, 'labels'> | null;
  label: { key: string; value: string };
  /** Why the PSK cannot be used (missing, unreadable, too short), or null. */
  pskProblem: string | null;
  /** Why the broker credentials cannot be used (do not load, rejected by the broker), or null. */
  brokerProblem: string | null;
  /** Why the local Endpoint cannot be built from the node's facts, or null. */
  endpointProblem: string | null;
}

export interface Candidacy {
  labelled: boolean;
  refusal: string | null;
}

export function candidacy(inputs: CandidacyInputs): Candidacy {
  const labelled = inputs.node !== null && inputs.node.labels[inputs.label.key] === inputs.label.value;
  const problems = [
    inputs.pskProblem === null ? null : `IPsec PSK: ${inputs.pskProblem}`,
    inputs.brokerProblem === null ? null : `broker credentials: ${inputs.brokerProblem}`,
    inputs.endpointProblem === null ? null : `local Endpoint: ${inputs.endpointProblem}`,
  ].filter((p): p is string => p !== null);
  return { labelled, refusal: problems.length === 0 ? null : problems.join('; ') };
}

/**
 * Whether the broker's answer to this cluster's credentials makes them this node's problem (pure):
 * refused (401, 403) or a certificate that does not verify against the CA given. An unreachable or
 * failing broker is not: the datapath stays and the sync resumes by itself.
 */
export function brokerCredentialProblem(answer: { statusCode?: number; cause: string; category: string; detail: string } | null, server: string): string | null {
  if (answer === null) return null;
  if (answer.statusCode === 401 || answer.statusCode === 403) return `the broker at ${server} refuses them (${answer.cause})`;
  if (answer.category === 'unexpected' && /certificate|self[- ]signed|CERT/i.test(answer.detail)) {
    return `the broker's certificate does not verify against the CA given: ${answer.detail.slice(0, 200)}`;
  }
  return null;
}
