/**
 * The VXLAN cable between two gateway namespaces: Submariner's `vxlan-tunnel` (VNI 1000 on the
 * udp-port, VTEPs 241.x/8), kept by seaway in its cable table with the fail-closed floor behind it.
 * Unencrypted by design: the WAN shows VXLAN on UDP 4500 carrying the pods' packets.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CableEndpoint, CableStatus } from '../../src/cable/cable.ts';
import { createGatewayPair, ping, WAN_IFACE, type ClusterSide, type GatewayPair } from '../helpers/gateway-pair.ts';
import { cleartextHits, startWanCapture, type WanCapture } from '../helpers/wan-capture.ts';
import { startCableChild, type CableChild } from '../helpers/cable-child.ts';
import { requireTools } from '../helpers/prereq.ts';
import { waitFor } from '../helpers/wait.ts';
import type { VxlanGatewayConfig } from '../helpers/vxlan-gateway-child.ts';

const CHILD = fileURLToPath(new URL('../helpers/vxlan-gateway-child.ts', import.meta.url));

let pair: GatewayPair;
let dir: string;
const children: CableChild<unknown>[] = [];

const endpointOf = (side: ClusterSide, cluster: string, subnets = [side.clusterCidr]): CableEndpoint => ({
  cableName: `submariner-cable-${cluster}-${side.wanAddress.replaceAll('.', '-')}`,
  clusterId: cluster, privateIp: side.wanAddress, address: side.wanAddress, subnets, natTPort: 4500,
});

async function start(side: ClusterSide, name: string): Promise<CableChild<unknown>> {
  const config: VxlanGatewayConfig = { stateDir: join(dir, name), privateIp: side.wanAddress, podCidrs: [side.clusterCidr], port: 4500, tickMs: 200 };
  const child = await startCableChild(side.gateway, CHILD, config.stateDir, config);
  children.push(child);
  return child;
}

describe('the VXLAN cable between two gateway namespaces', () => {
  let gw1: CableChild<unknown>;
  let gw2: CableChild<unknown>;
  let capture: WanCapture;
  before(async () => {
    requireTools('ip', 'ping', 'bridge');
    dir = await mkdtemp(join(tmpdir(), 'seaway-vxlan-'));
    pair = await createGatewayPair();
    await pair.exec(pair.gw1.gateway, 'ip', ['route', 'add', 'default', 'via', pair.gw2.wanAddress]);
    await pair.exec(pair.gw2.gateway, 'ip', ['route', 'add', 'default', 'via', pair.gw1.wanAddress]);
    capture = await startWanCapture(pair.gw2.gateway, WAN_IFACE, join(dir, 'wan.pcap'));
    gw1 = await start(pair.gw1, 'gw1');
    gw2 = await start(pair.gw2, 'gw2');
  });

  after(async () => {
    for (const child of children) await child.stop().catch(() => {});
    await capture?.stop().catch(() => {});
    await pair?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('pods talk both ways through vxlan-tunnel, Submariner\'s device: VNI 1000 on UDP 4500, VTEP 241.x/8, MTU less 50', async () => {
    await gw1.call({ op: 'connect', endpoint: endpointOf(pair.gw2, 'east') });
    await gw2.call({ op: 'connect', endpoint: endpointOf(pair.gw1, 'west') });
    assert.equal((await ping(pair.gw1.pod, pair.gw2.podAddress, { count: 3 })).received, 3);
    assert.equal((await ping(pair.gw2.pod, pair.gw1.podAddress, { count: 3 })).received, 3);
    const link = (await pair.exec(pair.gw1.gateway, 'ip', ['-d', 'link', 'show', 'vxlan-tunnel'])).stdout;
    assert.match(link, /mtu 1450 /);
    assert.match(link, /vxlan id 1000 local 198\.18\.0\.1 dev wan0 .*dstport 4500/);
    assert.match((await pair.exec(pair.gw1.gateway, 'ip', ['-4', 'addr', 'show', 'dev', 'vxlan-tunnel'])).stdout, /inet 241\.18\.0\.1\/8/);
    assert.equal((await pair.exec(pair.gw1.gateway, 'sysctl', ['-n', 'net.ipv4.neigh.vxlan-tunnel.retrans_time_ms'])).stdout.trim(), '100', 'ARP for a far VTEP retried every 100 ms');
    assert.match((await pair.exec(pair.gw1.gateway, 'bridge', ['fdb', 'show', 'dev', 'vxlan-tunnel'])).stdout, /^00:00:00:00:00:00 dst 198\.18\.0\.2 self permanent/m);
    assert.match((await pair.exec(pair.gw1.gateway, 'ip', ['route', 'show', 'table', '218'])).stdout, /^10\.2\.0\.0\/16 via 241\.18\.0\.2 dev vxlan-tunnel proto 147 src 10\.1\.1\.1/m);
    assert.match((await pair.exec(pair.gw1.gateway, 'ip', ['route', 'show', 'table', '221'])).stdout, /^blackhole 10\.2\.0\.0\/16 proto 147/m);
    const [status] = await gw1.call<CableStatus[]>({ op: 'status' });
    assert.equal(status?.state, 'connected');
    assert.match(status?.message ?? '', /unencrypted/);
  });

  it('the WAN shows the pods\' packets inside VXLAN on UDP 4500, in the clear (what the capture check of the encrypted cables would catch)', async () => {
    await capture.stop();
    const report = await cleartextHits(capture.file, [pair.gw1.clusterCidr, pair.gw2.clusterCidr]);
    const carried = report.hits.filter((p) => p.dstPort === 4500 && p.inner !== undefined);
    assert.ok(carried.length >= 6, `the pings crossed inside VXLAN: ${carried.length} packets`);
    assert.ok(report.hits.every((p) => p.src === pair.gw1.wanAddress || p.src === pair.gw2.wanAddress), 'outside, only the gateways\' addresses');
  });

  it('a deleted device comes back with its FDB entry and routes on the next repair tick', async () => {
    await pair.exec(pair.gw1.gateway, 'ip', ['link', 'del', 'vxlan-tunnel']);
    await waitFor('traffic through the rebuilt device', async () => (await ping(pair.gw1.pod, pair.gw2.podAddress, { count: 1, timeoutS: 1 })).received === 1, { timeoutMs: 10_000, intervalMs: 100 });
  });

  it('a disconnected cable takes its FDB entry and routes away; subnets still held stay dropped', async () => {
    await gw1.call({ op: 'hold', subnets: [pair.gw2.clusterCidr] });
    await gw1.call({ op: 'disconnect', cableName: endpointOf(pair.gw2, 'east').cableName });
    assert.equal((await pair.exec(pair.gw1.gateway, 'bridge', ['fdb', 'show', 'dev', 'vxlan-tunnel'])).stdout.includes('198.18.0.2'), false);
    assert.equal((await pair.exec(pair.gw1.gateway, 'ip', ['route', 'show', 'table', '218'])).stdout.trim(), '');
    // Held: dropped, never sent out of the default route over the WAN.
    assert.match((await pair.exec(pair.gw1.gateway, 'ip', ['route', 'show', 'table', '221'])).stdout, /^blackhole 10\.2\.0\.0\/16/m);
    assert.equal((await ping(pair.gw1.pod, pair.gw2.podAddress, { count: 1, timeoutS: 1 })).received, 0);
  });

  it('stopping takes the device away; the floor stays for a restarted gateway', async () => {
    await gw1.stop();
    assert.equal((await pair.exec(pair.gw1.gateway, 'ip', ['link', 'show', 'vxlan-tunnel'], { allowFailure: true })).code !== 0, true);
    assert.match((await pair.exec(pair.gw1.gateway, 'ip', ['route', 'show', 'table', '221'])).stdout, /blackhole/);
  });
});
