import { Registry, Gauge, Counter, Histogram, collectDefaultMetrics } from 'prom-client';

/** All of seaway's own metrics, built once in main on one registry and passed to whoever records. */
/** Submariner's connection labels: the local and the remote end of one connection. */
export const CONNECTION_LABELS = ['cable_driver', 'local_cluster', 'local_hostname', 'local_endpoint_ip', 'remote_cluster', 'remote_hostname', 'remote_endpoint_ip'] as const;
export type ConnectionLabel = (typeof CONNECTION_LABELS)[number];

export interface Metrics {
  registry: Registry;
  ready: Gauge;
  initWaitSeconds: Gauge<'wait'>;
  initWaitCompletedTimestamp: Gauge<'wait'>;
  initWaitPending: Gauge<'wait'>;
  cniInterfaceInfo: Gauge<'interface' | 'address'>;
  nodeReady: Gauge;
  apiErrors: Counter<'operation'>;
  informerFailing: Gauge<'informer'>;
  informerRestarts: Counter<'informer'>;
  informerLastList: Gauge<'informer'>;
  reconcilePassSeconds: Histogram<'result'>;
  reconcilePasses: Counter<'result'>;
  lastSuccessfulPassTimestamp: Gauge;
  kernelOperations: Counter<'kind' | 'op' | 'result'>;
  ownedObjects: Gauge<'kind'>;
  objects: Gauge<'kind' | 'state'>;
  rejectedEndpoints: Gauge<'reason'>;
  duplicateEndpoints: Gauge;
  isGateway: Gauge;
  refusedRoutes: Gauge<'reason'>;
  eventsHeldBack: Counter;
  driftRepairs: Counter;
  fighting: Gauge<'object'>;
  filterChecks: Counter<'result'>;
  ipsecEspMode: Gauge<'mode'>;
  charonRestarts: Counter;
  wireguardImplementation: Gauge<'implementation'>;
  wireguardGoRestarts: Counter;
  cableConnected: Gauge<'cable' | 'backend'>;
  cableBytes: Gauge<'cable' | 'backend' | 'direction'>;
  gatewayHaState: Gauge<'state'>;
  gatewayTransitions: Counter<'to'>;
  remoteClusterLiveness: Gauge<'cluster' | 'state'>;
  rejectedCables: Gauge<'cluster'>;
  natDiscoveryDropped: Counter<'reason'>;
  natDiscoveryResponses: Counter<'response'>;
  natSelection: Gauge<'cable' | 'basis' | 'nat'>;
  gatewayRxBytes: Gauge<ConnectionLabel>;
  gatewayTxBytes: Gauge<ConnectionLabel>;
  connections: Gauge<ConnectionLabel | 'status'>;
  connectionsShort: Gauge<'cable_driver' | 'status'>;
  connectionEstablished: Gauge<ConnectionLabel>;
  connectionLatency: Gauge<ConnectionLabel>;
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) {
    collectDefaultMetrics({ register: registry });
    // prom-client names these gauges *_total, which promtool rejects; the per-type gauges without the suffix stay.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name);
  }
  const registers = [registry];
  const lastPass = new Gauge({
    name: 'seaway_reconcile_last_success_timestamp_seconds',
    help: 'Unix time of the last reconcile pass that succeeded (time since = now - this)',
    registers,
  });
  return {
    registry,
    ready: new Gauge({ name: 'seaway_ready', help: '1 when the node is fully programmed and /readyz answers 200', registers }),
    initWaitSeconds: new Gauge({
      name: 'seaway_init_wait_seconds', help: 'Time spent in each init wait so far (final once it completed)', labelNames: ['wait'], registers,
    }),
    initWaitCompletedTimestamp: new Gauge({
      name: 'seaway_init_wait_completed_timestamp_seconds', help: 'Unix time at which each init wait last completed', labelNames: ['wait'], registers,
    }),
    initWaitPending: new Gauge({
      name: 'seaway_init_wait_pending', help: '1 while the init wait is pending', labelNames: ['wait'], registers,
    }),
    cniInterfaceInfo: new Gauge({
      name: 'seaway_cni_interface_info', help: 'The CNI interface in use (value 1)', labelNames: ['interface', 'address'], registers,
    }),
    nodeReady: new Gauge({ name: 'seaway_node_ready', help: '1 when this node\'s Node object reports Ready=True', registers }),
    apiErrors: new Counter({
      name: 'seaway_api_errors_total', help: 'Errors talking to the Kubernetes API, by operation', labelNames: ['operation'], registers,
    }),
    informerFailing: new Gauge({
      name: 'seaway_informer_failing', help: '1 while the informer\'s list or watch keeps failing (it keeps retrying with backoff)', labelNames: ['informer'], registers,
    }),
    informerRestarts: new Counter({
      name: 'seaway_informer_restarts_total', help: 'List or watch requests an informer made to recover from an error or an expired resource version', labelNames: ['informer'], registers,
    }),
    informerLastList: new Gauge({
      name: 'seaway_informer_last_list_timestamp_seconds', help: 'Unix time of the informer\'s last complete list (age = now - this)', labelNames: ['informer'], registers,
    }),
    reconcilePassSeconds: new Histogram({
      name: 'seaway_reconcile_pass_duration_seconds', help: 'Duration of reconcile passes', labelNames: ['result'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers,
    }),
    reconcilePasses: new Counter({ name: 'seaway_reconcile_passes_total', help: 'Reconcile passes by result', labelNames: ['result'], registers }),
    lastSuccessfulPassTimestamp: lastPass,
    kernelOperations: new Counter({
      name: 'seaway_kernel_operations_total', help: 'Kernel writes by object kind, operation and result', labelNames: ['kind', 'op', 'result'], registers,
    }),
    ownedObjects: new Gauge({ name: 'seaway_owned_objects', help: 'Objects seaway has programmed in the kernel as wanted, by kind', labelNames: ['kind'], registers }),
    objects: new Gauge({
      name: 'seaway_objects', help: 'Objects seaway reconciles, by kind and state (pending, in-progress, programmed, failed)', labelNames: ['kind', 'state'], registers,
    }),
    rejectedEndpoints: new Gauge({
      name: 'seaway_rejected_endpoints', help: 'Endpoints currently rejected, by reason', labelNames: ['reason'], registers,
    }),
    duplicateEndpoints: new Gauge({
      name: 'seaway_duplicate_endpoints', help: 'Endpoints ignored because a newer one exists for the same cluster', registers,
    }),
    isGateway: new Gauge({ name: 'seaway_is_gateway', help: '1 when this node is the active gateway of its cluster', registers }),
    refusedRoutes: new Gauge({
      name: 'seaway_refused_routes', help: 'Remote subnets accepted cluster-wide that this node alone does not route (they overlap its own networks), by reason', labelNames: ['reason'], registers,
    }),
    eventsHeldBack: new Counter({
      name: 'seaway_events_held_back_total', help: 'Kubernetes Events about Endpoints held back by the rate limit (posted on a later pass)', registers,
    }),
    driftRepairs: new Counter({
      name: 'seaway_drift_repairs_total',
      help: 'Kernel writes that put back what someone else changed: made by a pass whose inputs (objects, node facts) had not changed since the last successful one',
      labelNames: ['component'], registers,
    }),
    filterChecks: new Counter({
      name: 'seaway_filter_checks_total',
      help: 'Read-only checks of the packet filter against what seaway last applied, by what they found (intact, drift)',
      labelNames: ['result'], registers,
    }),
    fighting: new Gauge({
      name: 'seaway_fighting',
      help: '1 while another agent keeps undoing seaway\'s repairs of an object and its repairs back off (a tug-of-war), by object',
      labelNames: ['object'], registers,
    }),
    ipsecEspMode: new Gauge({
      name: 'seaway_ipsec_esp_mode_info',
      help: 'How ESP is done on this gateway (value 1): xfrm (the kernel) or libipsec (charon in userspace, a TUN device)',
      labelNames: ['mode'], registers,
    }),
    charonRestarts: new Counter({ name: 'seaway_charon_restarts_total', help: 'Times the supervised charon died and was started again', registers }),
    wireguardImplementation: new Gauge({
      name: 'seaway_wireguard_implementation_info',
      help: 'Which WireGuard holds the cable\'s device (value 1): kernel, or wireguard-go (userspace) where the kernel has none',
      labelNames: ['implementation'], registers,
    }),
    wireguardGoRestarts: new Counter({ name: 'seaway_wireguard_go_restarts_total', help: 'Times the supervised wireguard-go died and was started again', registers }),
    cableConnected: new Gauge({
      name: 'seaway_cable_connected', help: '1 when the cable to a remote cluster is connected by its daemon\'s own account, 0 while connecting or failed',
      labelNames: ['cable', 'backend'], registers,
    }),
    cableBytes: new Gauge({
      name: 'seaway_cable_bytes', help: 'Bytes through the cable\'s current SAs (as the daemon counts them), by direction (rx, tx)',
      labelNames: ['cable', 'backend', 'direction'], registers,
    }),
    gatewayHaState: new Gauge({
      name: 'seaway_gateway_ha_state', help: 'The gateway election\'s state on this node (value 1 for the current one): starting, refused, standby, acquiring, active, active-unconfirmed, handing-over, stopped',
      labelNames: ['state'], registers,
    }),
    gatewayTransitions: new Counter({ name: 'seaway_gateway_transitions_total', help: 'Changes of the gateway election\'s state, by the state entered', labelNames: ['to'], registers }),
    remoteClusterLiveness: new Gauge({
      name: 'seaway_remote_cluster_liveness', help: 'Each remote cluster\'s liveness on the broker (value 1): fresh, stale (its gateway stopped refreshing its broker copy; still routed) or unknown (never refreshed: a Submariner peer)',
      labelNames: ['cluster', 'state'], registers,
    }),
    // Submariner's gateway metrics (pkg/cable/metrics.go), with its labels, under seaway_ names.
    gatewayRxBytes: new Gauge({ name: 'seaway_gateway_rx_bytes', help: 'Bytes received from the remote gateway through the connection\'s cable (its daemon\'s counters)', labelNames: CONNECTION_LABELS, registers }),
    gatewayTxBytes: new Gauge({ name: 'seaway_gateway_tx_bytes', help: 'Bytes sent to the remote gateway through the connection\'s cable (its daemon\'s counters)', labelNames: CONNECTION_LABELS, registers }),
    connections: new Gauge({
      name: 'seaway_connections', help: '1 for each connection of the active gateway, with its status (connected, connecting, error) as the Gateway object reports it',
      labelNames: [...CONNECTION_LABELS, 'status'], registers,
    }),
    connectionsShort: new Gauge({ name: 'seaway_connections_short', help: 'Connections of the active gateway by cable driver and status', labelNames: ['cable_driver', 'status'], registers }),
    connectionEstablished: new Gauge({
      name: 'seaway_connection_established_timestamp', help: 'Unix time (seconds) the connection\'s current session (IKE SA, handshake, VXLAN setup) was established',
      labelNames: CONNECTION_LABELS, registers,
    }),
    connectionLatency: new Gauge({
      name: 'seaway_connection_latency_seconds', help: 'Round-trip time of the last answered health check through the connection (seconds)', labelNames: CONNECTION_LABELS, registers,
    }),
    natDiscoveryDropped: new Counter({
      name: 'seaway_nat_discovery_dropped_total', help: 'NAT discovery datagrams dropped unanswered, by reason (malformed, oversized, rate-limited, unexpected)',
      labelNames: ['reason'], registers,
    }),
    natDiscoveryResponses: new Counter({ name: 'seaway_nat_discovery_responses_total', help: 'NAT discovery answers sent, by response type', labelNames: ['response'], registers }),
    natSelection: new Gauge({
      name: 'seaway_nat_selection', help: '1 for each remote cable with how its address was chosen (basis: provisional, private-reply, public-reply, fallback, no-discovery) and whether through NAT',
      labelNames: ['cable', 'basis', 'nat'], registers,
    }),
    rejectedCables: new Gauge({ name: 'seaway_rejected_cables', help: '1 for each remote cluster whose Endpoint the gateway cannot build a cable to (unknown backend, malformed backend_config)', labelNames: ['cluster'], registers }),
  };
}
