/**
 * The active gateway's connections on the metrics, with the meaning and labels of Submariner's
 * gateway metrics (`submariner_gateway_rx_bytes`, `submariner_connections`, ...), under seaway_
 * names: each connection as the Gateway object reports it (its status proven by health checks),
 * its cable's byte counters, when its session was established and its last RTT. Endpoint IPs are
 * the public ones where there are, as Submariner's are. Everything is set afresh on each call, so
 * a connection that went is no longer exported.
 */
import type { CableStatus } from '../cable/cable.ts';
import type { GatewayConnection } from '../plan/gateway-status.ts';
import type { ConnectionLabel, Metrics } from '../telemetry/metrics.ts';

export interface LocalConnectionEnd {
  cableDriver: string;
  cluster: string;
  hostname: string;
  endpointIp: string;
}

export interface ConnectionSample {
  connection: GatewayConnection;
  cable?: CableStatus;
  /** The last answered health check's RTT (ns), if any. */
  lastRttNs?: number;
}

type ConnectionMetrics = Pick<Metrics, 'gatewayRxBytes' | 'gatewayTxBytes' | 'connections' | 'connectionsShort' | 'connectionEstablished' | 'connectionLatency'>;

export function recordConnections(metrics: ConnectionMetrics, local: LocalConnectionEnd, samples: readonly ConnectionSample[]): void {
  for (const gauge of [metrics.gatewayRxBytes, metrics.gatewayTxBytes, metrics.connections, metrics.connectionsShort, metrics.connectionEstablished, metrics.connectionLatency]) gauge.reset();
  const short = new Map<string, number>();
  for (const { connection, cable, lastRttNs } of samples) {
    const remote = connection.endpoint;
    const labels: Record<ConnectionLabel, string> = {
      cable_driver: local.cableDriver, local_cluster: local.cluster, local_hostname: local.hostname, local_endpoint_ip: local.endpointIp,
      remote_cluster: remote.cluster_id, remote_hostname: remote.hostname, remote_endpoint_ip: remote.public_ip || remote.private_ip,
    };
    metrics.connections.set({ ...labels, status: connection.status }, 1);
    short.set(connection.status, (short.get(connection.status) ?? 0) + 1);
    if (cable) {
      if (cable.bytesCounted !== false) {
        metrics.gatewayRxBytes.set(labels, cable.rxBytes);
        metrics.gatewayTxBytes.set(labels, cable.txBytes);
      }
      if (cable.establishedAt !== undefined) metrics.connectionEstablished.set(labels, Math.floor(cable.establishedAt / 1000));
    }
    if (lastRttNs !== undefined) metrics.connectionLatency.set(labels, lastRttNs / 1e9);
  }
  for (const [status, count] of short) metrics.connectionsShort.set({ cable_driver: local.cableDriver, status }, count);
}
