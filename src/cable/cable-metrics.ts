/** A cable's status on the metrics: connected or not, and its byte counters; cables gone are dropped. */
import type { Metrics } from '../telemetry/metrics.ts';
import type { CableStatus } from './cable.ts';

export function recordCableStatus(metrics: Pick<Metrics, 'cableConnected' | 'cableBytes'>, backend: string, statuses: readonly CableStatus[]): void {
  metrics.cableConnected.reset();
  metrics.cableBytes.reset();
  for (const status of statuses) {
    metrics.cableConnected.set({ cable: status.cableName, backend }, status.state === 'connected' ? 1 : 0);
    metrics.cableBytes.set({ cable: status.cableName, backend, direction: 'rx' }, status.rxBytes);
    metrics.cableBytes.set({ cable: status.cableName, backend, direction: 'tx' }, status.txBytes);
  }
}
