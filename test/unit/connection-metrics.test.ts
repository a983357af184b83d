/**
 * The active gateway's connections as Submariner's gateway metrics (with seaway_ names): labels,
 * values, a connection that went, and the exposition promtool accepts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { run } from '../../src/kernel/exec.ts';
import { recordConnections } from '../../src/gateway/connection-metrics.ts';
import type { GatewayConnection } from '../../src/plan/gateway-status.ts';
import { createMetrics } from '../../src/telemetry/metrics.ts';
import { requireTools } from '../helpers/prereq.ts';

const local = { cableDriver: 'wireguard', cluster: 'east', hostname: 'east-gw', endpointIp: '203.0.113.11' };
const connection = (cluster: string, status: GatewayConnection['status'], publicIp?: string): GatewayConnection => ({
  status, statusMessage: '',
  endpoint: { cluster_id: cluster, cable_name: `cable-${cluster}`, hostname: `${cluster}-gw`, subnets: ['10.2.0.0/16'], private_ip: '192.168.2.10', nat_enabled: false, backend: 'wireguard', ...(publicIp ? { public_ip: publicIp } : {}) },
});
const labels = (cluster: string, ip: string) => `cable_driver="wireguard",local_cluster="east",local_hostname="east-gw",local_endpoint_ip="203.0.113.11",remote_cluster="${cluster}",remote_hostname="${cluster}-gw",remote_endpoint_ip="${ip}"`;

test('each connection: status, bytes, established time and latency with Submariner\'s labels; the public IP where there is one', async () => {
  const metrics = createMetrics({ defaultMetrics: false });
  recordConnections(metrics, local, [
    { connection: connection('west', 'connected', '198.51.100.2'), cable: { cableName: 'cable-west', state: 'connected', message: '', rxBytes: 1000, txBytes: 2000, establishedAt: 1_800_000_000_500 }, lastRttNs: 1_500_000 },
    { connection: connection('north', 'error') },
  ]);
  const text = await metrics.registry.metrics();
  assert.match(text, new RegExp(`^seaway_connections\\{${labels('west', '198.51.100.2')},status="connected"\\} 1$`, 'm'));
  assert.match(text, new RegExp(`^seaway_connections\\{${labels('north', '192.168.2.10')},status="error"\\} 1$`, 'm'));
  assert.match(text, new RegExp(`^seaway_gateway_rx_bytes\\{${labels('west', '198.51.100.2')}\\} 1000$`, 'm'));
  assert.match(text, new RegExp(`^seaway_gateway_tx_bytes\\{${labels('west', '198.51.100.2')}\\} 2000$`, 'm'));
  assert.match(text, new RegExp(`^seaway_connection_established_timestamp\\{${labels('west', '198.51.100.2')}\\} 1800000000$`, 'm'));
  assert.match(text, new RegExp(`^seaway_connection_latency_seconds\\{${labels('west', '198.51.100.2')}\\} 0.0015$`, 'm'));
  assert.match(text, /^seaway_connections_short\{cable_driver="wireguard",status="connected"\} 1$/m);
  assert.match(text, /^seaway_connections_short\{cable_driver="wireguard",status="error"\} 1$/m);
  assert.ok(!/seaway_gateway_rx_bytes\{[^}]*remote_cluster="north"/.test(text), 'no bytes for a connection without a cable');

  requireTools('promtool');
  const lint = await run('promtool', ['check', 'metrics'], { input: text, allowFailure: true });
  assert.equal(lint.code, 0, `promtool check metrics: ${lint.stdout}${lint.stderr}`);

  recordConnections(metrics, local, []);
  const after = await metrics.registry.metrics();
  assert.ok(!/remote_cluster="west"/.test(after), 'a connection that went is no longer exported');
});

test('a cable that counts no bytes (VXLAN) exports no byte counters rather than a misleading 0', async () => {
  const metrics = createMetrics({ defaultMetrics: false });
  recordConnections(metrics, local, [{ connection: connection('west', 'connected'), cable: { cableName: 'cable-west', state: 'connected', message: '', rxBytes: 0, txBytes: 0, bytesCounted: false, establishedAt: 1_800_000_000_000 } }]);
  const text = await metrics.registry.metrics();
  assert.ok(!/seaway_gateway_(rx|tx)_bytes\{/.test(text));
  assert.match(text, /^seaway_connection_established_timestamp\{[^}]*remote_cluster="west"[^}]*\} 1800000000$/m);
});
