import type { Informer } from './informer.ts';
import type { NodeProjection, ReadyCondition } from './projections.ts';

export interface NodeReadiness {
  ready: boolean;
  /** Why not, when not: "Node x not found", "Ready=False (KubeletNotReady: ...)". */
  reason: string;
}

/** `condition` undefined: no such Node; null: the Node has no Ready condition (pure). */
export function nodeReadiness(condition: ReadyCondition | null | undefined, nodeName: string): NodeReadiness {
  if (condition === undefined) return { ready: false, reason: `Node ${nodeName} not found` };
  if (condition === null) return { ready: false, reason: `Node ${nodeName} has no Ready condition yet` };
  if (condition.status === 'True') return { ready: true, reason: 'Ready=True' };
  const detail = [condition.reason, condition.message].filter(Boolean).join(': ');
  return { ready: false, reason: `Node ${nodeName} Ready=${condition.status}${detail ? ` (${detail})` : ''}` };
}

/** This node's own Node, as the init phase waits on it. */
export interface OwnNodeWatch {
  readiness(): NodeReadiness;
  /** Called when this Node's readiness may have changed (its Ready condition, or the first list). */
  onChange(listener: () => void): void;
  /**
   * Calls the listeners once with the state as it is now (the shared Nodes informer, which its
   * owner starts, may have listed long before), then on every change.
   */
  start(): void;
  /** Stops listening (the shared informer keeps running for its owner). */
  stop(): Promise<void>;
}

/**
 * The own Node's readiness from the agent's one Nodes informer: one Node watch per agent instead
 * of a second watch on this Node.
 */
export function ownNodeWatch(nodes: Informer<NodeProjection>, nodeName: string): OwnNodeWatch {
  const listeners: Array<() => void> = [];
  const unsubscribers: Array<() => void> = [];
  const call = () => { for (const listener of listeners) listener(); };
  return {
    readiness() {
      if (!nodes.synced) return { ready: false, reason: `Node ${nodeName}: the Nodes have not been listed yet` };
      const own = nodes.get(nodeName);
      return nodeReadiness(own === undefined ? undefined : own.ownReady ?? null, nodeName);
    },
    onChange(listener) {
      if (listeners.length === 0) {
        unsubscribers.push(nodes.onChange((changes) => { if (changes.some((c) => c.key === nodeName)) call(); }));
        nodes.onSynced(() => { if (unsubscribers.length > 0) call(); });
      }
      listeners.push(listener);
    },
    start() { call(); },
    async stop() {
      for (const unsubscribe of unsubscribers.splice(0)) unsubscribe();
      listeners.length = 0;
    },
  };
}
