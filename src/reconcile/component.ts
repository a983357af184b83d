import type { DesiredObject } from '../plan/desired-objects.ts';
import type { AttemptGate } from '../dataplane/report.ts';
import type { ComponentReport, ObjectTable } from './object-table.ts';

/**
 * One part of the node's datapath as the engine drives it: the objects a desired state is made
 * of, and an apply that writes only what the gate allows and reports each object that did not
 * end up as wanted. Slow objects (a tunnel's IKE negotiation) are reported as started with a
 * completion, so they never hold up the pass or the fast objects of other components.
 */
export interface Component<D, R extends ComponentReport = ComponentReport> {
  readonly name: string;
  objects(desired: D): DesiredObject[];
  apply(desired: D, gate: AttemptGate): Promise<R>;
}

/** Applies one component against its objects' status: gate before, outcome after. */
export async function reconcileComponent<D, R extends ComponentReport>(table: ObjectTable, component: Component<D, R>, desired: D): Promise<R> {
  const objects = component.objects(desired);
  const gate = table.prepare(component.name, objects);
  const report = await component.apply(desired, gate);
  table.record(component.name, objects, report);
  return report;
}
