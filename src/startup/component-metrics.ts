import { Counter, Gauge, type Registry } from 'prom-client';

/** Parts of the agent that retry on their own after failing: start-up steps and the packet filter. */
export interface ComponentMetrics {
  failing: Gauge<'component'>;
  failures: Counter<'component'>;
}

export function createComponentMetrics(registry: Registry): ComponentMetrics {
  const registers = [registry];
  return {
    failing: new Gauge({
      name: 'seaway_component_failing', help: '1 while the component is failing and being retried with backoff', labelNames: ['component'], registers,
    }),
    failures: new Counter({
      name: 'seaway_component_failures_total', help: 'Failed attempts of the component (start-up or programming)', labelNames: ['component'], registers,
    }),
  };
}
