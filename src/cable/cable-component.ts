/**
 * Cables on the per-object engine: one object per remote cable, keyed by its cable name. A connect
 * that charon accepted is "started": the object stays in progress until the cable is connected (or
 * fails at the deadline with what is missing), without holding up the pass or other objects. A cable
 * no longer wanted is disconnected. An unchanged endpoint is not sent to the daemon again: charon
 * keeps the tunnel (and restarts it on DPD) without being asked every pass.
 */
import type { DesiredObject, ObjectRef } from '../plan/desired-objects.ts';
import type { AttemptGate } from '../dataplane/report.ts';
import type { Component } from '../reconcile/component.ts';
import type { ComponentReport } from '../reconcile/object-table.ts';
import type { Cable, CableEndpoint } from './cable.ts';
import { errorText } from '../model/error-text.ts';

export interface DesiredCables {
  endpoints: readonly CableEndpoint[];
}

export interface ConnectableCable extends Cable {
  waitConnected(cableName: string, timeoutMs: number): Promise<void>;
}

const describeCable = (e: CableEndpoint, backend: string): string =>
  `${backend} cable ${e.cableName} to ${e.address}:${e.natTPort} (id ${e.privateIp}, cluster ${e.clusterId}, subnets ${e.subnets.join(',')})`;

export function cableComponent(cable: ConnectableCable, connectTimeoutMs: number): Component<DesiredCables> {
  /** What each cable was last connected with (its description), so an unchanged one is left alone. */
  const applied = new Map<string, string>();
  /** Every cable a connect was tried for and no disconnect has gone through: what to take down when it is no longer wanted. */
  const known = new Set<string>();
  const name = `cable-${cable.backend}`;
  return {
    name,
    objects: (desired) => desired.endpoints.map((e): DesiredObject => ({ kind: 'cable', key: e.cableName, object: describeCable(e, cable.backend) })),
    async apply(desired: DesiredCables, gate: AttemptGate): Promise<ComponentReport> {
      const failures: Array<ObjectRef & { object: string; reason: string }> = [];
      const deferred: ObjectRef[] = [];
      const started: Array<ObjectRef & { completion: Promise<void> }> = [];
      const wanted = new Set(desired.endpoints.map((e) => e.cableName));
      for (const cableName of known) {
        if (wanted.has(cableName)) continue;
        try {
          await cable.disconnect(cableName);
          known.delete(cableName);
          applied.delete(cableName);
        } catch (error) {
          failures.push({ kind: 'cable', key: cableName, object: `${cable.backend} cable ${cableName} (being removed)`, reason: errorText(error) });
        }
      }
      for (const endpoint of desired.endpoints) {
        const ref = { kind: 'cable' as const, key: endpoint.cableName };
        const object = describeCable(endpoint, cable.backend);
        if (applied.get(endpoint.cableName) === object) continue;
        if (!gate(ref.kind, ref.key)) {
          deferred.push(ref);
          continue;
        }
        known.add(endpoint.cableName);
        try {
          await cable.connect(endpoint);
          applied.set(endpoint.cableName, object);
          // A cable that does not come up is connected again on its retry, not taken for done.
          const completion = cable.waitConnected(endpoint.cableName, connectTimeoutMs).catch((error: unknown) => {
            applied.delete(endpoint.cableName);
            throw error;
          });
          started.push({ ...ref, completion });
        } catch (error) {
          applied.delete(endpoint.cableName);
          failures.push({ ...ref, object, reason: errorText(error) });
        }
      }
      return { failures, deferred, started };
    },
  };
}
