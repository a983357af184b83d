/**
 * The WireGuard cable end to end, below Kubernetes: two gateway namespaces joined by a WAN, a pod
 * behind each, seaway's cable (wireguard-go under supervision, this kernel has no WireGuard) in
 * each gateway. One capture on the WAN spans the file; the last test asserts it holds no packet
 * with a pod address in the clear. Also: a wireguard-go configured by hand the way Submariner's
 * driver configures it (`wg set`) is a peer seaway handshakes with.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CableEndpoint } from '../../src/cable/cable.ts';
import { run } from '../../src/kernel/exec.ts';
import { continuousPing, createGatewayPair, ping, WAN_IFACE, type ClusterSide, type GatewayPair } from '../helpers/gateway-pair.ts';
import { requireTools } from '../helpers/prereq.ts';
import { waitFor } from '../helpers/wait.ts';
import { cleartextHits, describePackets, startWanCapture, type WanCapture } from '../helpers/wan-capture.ts';
import { startWireguardGateway, type WireguardGateway } from '../helpers/wireguard-gateway.ts';
import type { WireguardGatewayConfig } from '../helpers/wireguard-gateway-child.ts';

const CONNECT_TIMEOUT_MS = 15_000;
const PSK = 'w'.repeat(48);
const SERVICES = { gw1: '10.96.0.0/16', gw2: '10.97.0.0/16' };

let pair: GatewayPair;
let dir: string;
let capture: WanCapture;
const gateways: { gw1?: WireguardGateway; gw2?: WireguardGateway } = {};
let pskFile: string;

const gw = (name: 'gw1' | 'gw2'): WireguardGateway => {
  const g = gateways[name];
  assert.ok(g, `${name}'s cable is running`);
  return g;
};

const configOf = (name: 'gw1' | 'gw2', side: ClusterSide): WireguardGatewayConfig => ({
  stateDir: join(dir, name), pskFile, privateIp: side.wanAddress, podCidrs: [side.clusterCidr], listenPort: 4500, tickMs: 200, logLevel: 'debug',
});

const endpointOf = (side: ClusterSide, cluster: string, publicKey: string, subnets = [side.clusterCidr]): CableEndpoint => ({
  cableName: `submariner-cable-${cluster}-${side.wanAddress.replaceAll('.', '-')}`,
  clusterId: cluster, privateIp: side.wanAddress, address: side.wanAddress, subnets, natTPort: 4500, publicKey,
});

async function trafficFlows(from: ClusterSide, to: ClusterSide): Promise<void> {
  await waitFor(`${from.podAddress} to reach ${to.podAddress}`, async () => (await ping(from.pod, to.podAddress, { count: 1, timeoutS: 1 })).received === 1, { timeoutMs: CONNECT_TIMEOUT_MS, intervalMs: 100 });
}

/** The handshake time (unix ms) of the peer with this public key on a gateway's device. */
async function handshakeOf(g: WireguardGateway, publicKey: string): Promise<number> {
  const peer = (await g.device()).peers.find((p) => p.publicKey.toString('base64') === publicKey);
  assert.ok(peer, `the peer ${publicKey} is on the device`);
  return peer.lastHandshakeMs;
}

async function withLogs(t: { diagnostic(message: string): void }, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    for (const name of ['gw1', 'gw2'] as const) t.diagnostic(`${name}:\n${gateways[name]?.log().split('\n').slice(-40).join('\n') ?? '(not running)'}`);
    throw error;
  }
}

describe('the WireGuard cable between two gateway namespaces', () => {
  before(async () => {
    requireTools('ip', 'tcpdump', 'ping', 'wireguard-go', 'wg', 'unshare');
    dir = await mkdtemp(join(tmpdir(), 'seaway-wg-'));
    pair = await createGatewayPair({ gw1ServiceAddresses: ['10.96.0.1/32'], gw2ServiceAddresses: ['10.97.0.1/32'] });
    // Without the cable's floor, pod traffic with the tunnel down would cross the WAN in the clear.
    await pair.exec(pair.gw1.gateway, 'ip', ['route', 'add', 'default', 'via', pair.gw2.wanAddress]);
    await pair.exec(pair.gw2.gateway, 'ip', ['route', 'add', 'default', 'via', pair.gw1.wanAddress]);
    capture = await startWanCapture(pair.gw2.gateway, WAN_IFACE, join(dir, 'wan.pcap'));
    pskFile = join(dir, 'psk');
    await writeFile(pskFile, `${PSK}\n`, { mode: 0o600 });
    gateways.gw1 = await startWireguardGateway(pair.gw1.gateway, configOf('gw1', pair.gw1));
    gateways.gw2 = await startWireguardGateway(pair.gw2.gateway, configOf('gw2', pair.gw2));
  });

  after(async () => {
    for (const g of Object.values(gateways)) await g?.stop().catch(() => {});
    await capture?.stop().catch(() => {});
    await pair?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('pods talk both ways; the cable reports connected with the device\'s counters', (t) => withLogs(t, async () => {
    // The runtime tries the kernel's first (the child passes the generic-netlink control, as the gateway does).
    assert.equal(gw('gw1').implementation, 'wireguard-go', 'this kernel refuses a wireguard link: userspace');
    assert.match(gw('gw1').log(), /the kernel refused a wireguard link/);
    await gw('gw1').connect(endpointOf(pair.gw2, 'east', gw('gw2').publicKey));
    await gw('gw2').connect(endpointOf(pair.gw1, 'west', gw('gw1').publicKey));
    await gw('gw1').waitConnected(endpointOf(pair.gw2, 'east', '').cableName, CONNECT_TIMEOUT_MS);
    assert.equal((await ping(pair.gw1.pod, pair.gw2.podAddress, { count: 3 })).received, 3);
    assert.equal((await ping(pair.gw2.pod, pair.gw1.podAddress, { count: 3 })).received, 3);
    const [status] = await gw('gw1').status();
    assert.equal(status?.state, 'connected');
    assert.ok((status?.rxBytes ?? 0) > 0 && (status?.txBytes ?? 0) > 0, JSON.stringify(status));
    const device = await gw('gw1').device();
    assert.equal(device.listenPort, 4500);
    assert.equal(device.peers.length, 1);
    assert.equal(device.peers[0]!.persistentKeepaliveSeconds, 10);
    assert.ok(device.peers[0]!.hasPresharedKey);
    assert.deepEqual(device.peers[0]!.allowedIps, [pair.gw2.clusterCidr]);
  }));

  it('routes into the device sit in seaway\'s cable table, with the floor behind them; the device MTU leaves room for WireGuard', (t) => withLogs(t, async () => {
    const rules = (await pair.exec(pair.gw1.gateway, 'ip', ['rule'])).stdout;
    assert.match(rules, /^218:\s+from all lookup 218 proto 147/m);
    assert.match(rules, /^221:\s+from all lookup 221 proto 147/m);
    const routes = (await pair.exec(pair.gw1.gateway, 'ip', ['route', 'show', 'table', '218'])).stdout;
    assert.match(routes, /^10\.2\.0\.0\/16 dev submariner proto 147 scope link src 10\.1\.1\.1/m);
    const floor = (await pair.exec(pair.gw1.gateway, 'ip', ['route', 'show', 'table', '221'])).stdout;
    assert.match(floor, /^blackhole 10\.2\.0\.0\/16 proto 147/m);
    assert.match((await pair.exec(pair.gw1.gateway, 'ip', ['link', 'show', 'submariner'])).stdout, /mtu 1420 .*state UNKNOWN|mtu 1420 /);
    // The gateway's own traffic leaves from its pod-range address and is accepted on the far side.
    assert.equal((await ping(pair.gw1.gateway, pair.gw2.podAddress, { count: 2 })).received, 2);
  }));

  it('the key is a 0600 file in the state directory', async () => {
    const file = join(dir, 'gw1', 'wireguard.key');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.match(await readFile(file, 'utf8'), /^[A-Za-z0-9+/]{43}=\n$/);
    assert.ok(!gw('gw1').log().includes((await readFile(file, 'utf8')).trim()), 'the private key is in no log line');
  });

  it('a changed remote subnet list updates the peer in place: no new handshake, no lost packet', (t) => withLogs(t, async () => {
    const toGw2 = endpointOf(pair.gw2, 'east', gw('gw2').publicKey);
    const before = await handshakeOf(gw('gw1'), gw('gw2').publicKey);
    const pinger = continuousPing(pair.gw1.pod, pair.gw2.podAddress, { intervalS: 0.02 });
    await waitFor('replies before the change', () => pinger.replies >= 10, { timeoutMs: 10_000 });
    await gw('gw1').connect({ ...toGw2, subnets: [pair.gw2.clusterCidr, SERVICES.gw2] });
    await gw('gw2').connect(endpointOf(pair.gw1, 'west', gw('gw1').publicKey, [pair.gw1.clusterCidr, SERVICES.gw1]));
    const repliesAtChange = pinger.replies;
    await waitFor('replies after the change', () => pinger.replies >= repliesAtChange + 10, { timeoutMs: 10_000 });
    const report = await pinger.stop();
    assert.deepEqual(report.lost, [], `no echo lost (late ones aside): ${JSON.stringify(report)}`);
    assert.equal(await handshakeOf(gw('gw1'), gw('gw2').publicKey), before, 'the session was kept (no new handshake)');
    assert.deepEqual((await gw('gw1').device()).peers[0]!.allowedIps.sort(), [pair.gw2.clusterCidr, SERVICES.gw2].sort());
    assert.equal((await ping(pair.gw1.pod, '10.97.0.1', { count: 2 })).received, 2, 'the new subnet is carried');
  }));

  it('a peer removed or a stray peer added by hand is put right by the repair', (t) => withLogs(t, async () => {
    const { socketPath } = await gw('gw1').info();
    const stray = Buffer.alloc(32, 7).toString('base64');
    // What `wg set submariner peer <key> remove` and `peer <stray> allowed-ips ...` would do, over the same socket.
    const { uapiWireguardControl } = await import('../../src/kernel/wireguard/uapi-control.ts');
    const { wireguardPublicKey } = await import('../../src/model/wireguard-keys.ts');
    const control = uapiWireguardControl({ socketPath, publicKeyOf: wireguardPublicKey });
    await control.set({ peers: [{ publicKey: Buffer.from(gw('gw2').publicKey, 'base64'), remove: true }, { publicKey: Buffer.from(stray, 'base64'), allowedIps: ['10.9.0.0/16'] }] });
    await gw('gw1').repair();
    const peers = (await gw('gw1').device()).peers.map((p) => p.publicKey.toString('base64'));
    assert.deepEqual(peers, [gw('gw2').publicKey]);
    await trafficFlows(pair.gw1, pair.gw2);
  }));

  it('the peer\'s agent restarted: its public key is unchanged and traffic returns', (t) => withLogs(t, async () => {
    const keyBefore = gw('gw2').publicKey;
    const pinger = continuousPing(pair.gw1.pod, pair.gw2.podAddress);
    await waitFor('replies before the restart', () => pinger.replies >= 5, { timeoutMs: 10_000 });
    await gw('gw2').stop();
    gateways.gw2 = undefined;
    gateways.gw2 = await startWireguardGateway(pair.gw2.gateway, configOf('gw2', pair.gw2));
    assert.equal(gw('gw2').publicKey, keyBefore, 'the key came from the state directory');
    await gw('gw2').connect(endpointOf(pair.gw1, 'west', gw('gw1').publicKey, [pair.gw1.clusterCidr, SERVICES.gw1]));
    const repliesAtRestart = pinger.replies;
    await waitFor('replies after the restart', () => pinger.replies >= repliesAtRestart + 5, { timeoutMs: CONNECT_TIMEOUT_MS });
    const report = await pinger.stop();
    t.diagnostic(`largest gap around the restart: ${report.maxGapS.toFixed(2)} s`);
  }));

  it('wireguard-go killed: the supervisor restarts it, reloads key and peers, traffic returns; nothing leaks meanwhile', (t) => withLogs(t, async () => {
    const { wireguardGoPid, restarts } = await gw('gw1').info();
    assert.ok(wireguardGoPid);
    process.kill(wireguardGoPid, 'SIGKILL');
    await waitFor('gw1\'s supervisor to restart wireguard-go', async () => (await gw('gw1').info()).restarts > restarts, { timeoutMs: 15_000, intervalMs: 50 });
    await trafficFlows(pair.gw1, pair.gw2);
    assert.equal((await gw('gw1').device()).peers.length, 1);
  }));

  it('a wireguard-go configured by hand as Submariner\'s driver configures it is a peer seaway handshakes with', (t) => withLogs(t, async () => {
    requireTools('wg');
    // gw2 becomes a Submariner gateway: seaway's cable stops, a bare wireguard-go takes the device name.
    await gw('gw2').stop();
    gateways.gw2 = undefined;
    // What `seaway cleanup` removes on uninstall: the floor would drop the replies to cluster 1.
    for (const pref of ['218', '221']) await pair.exec(pair.gw2.gateway, 'ip', ['rule', 'del', 'pref', pref]);
    const privateKey = (await run('wg', ['genkey'])).stdout.trim();
    const publicKey = (await run('wg', ['pubkey'], { input: `${privateKey}\n` })).stdout.trim();
    const keyFile = join(dir, 'submariner.key');
    const pskHexFile = join(dir, 'submariner.psk');
    await writeFile(keyFile, `${privateKey}\n`, { mode: 0o600 });
    // Submariner: PSK = SHA-256 of the PSK string, as the WireGuard key (base64).
    await writeFile(pskHexFile, `${createHash('sha256').update(PSK).digest('base64')}\n`, { mode: 0o600 });
    const wgRun = join(dir, 'submariner-run');
    await run('mkdir', ['-p', wgRun]);
    // Its own mount namespace with a private /run, as any pod has; `wg` runs in it too.
    // wireguard-go daemonizes; `wg` needs its socket, waited for (at most 5 s) rather than slept for.
    const script = 'mount -t tmpfs tmpfs /run && mkdir /run/wireguard && mount --bind "$0" /run/wireguard && wireguard-go submariner && '
      + 'for i in $(seq 100); do [ -S /run/wireguard/submariner.sock ] && break; sleep 0.05; done && '
      + 'wg set submariner private-key "$1" listen-port 4500 peer "$2" preshared-key "$3" endpoint 198.18.0.1:4500 persistent-keepalive 10 allowed-ips 10.1.0.0/16 && ip link set submariner up && ip route add 10.1.0.0/16 dev submariner src 10.2.1.1';
    await pair.exec(pair.gw2.gateway, 'unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, wgRun, keyFile, gw('gw1').publicKey, pskHexFile]);
    try {
      await gw('gw1').connect(endpointOf(pair.gw2, 'east', publicKey));
      await gw('gw1').waitConnected(endpointOf(pair.gw2, 'east', '').cableName, CONNECT_TIMEOUT_MS);
      assert.equal((await ping(pair.gw1.pod, pair.gw2.podAddress, { count: 3 })).received, 3);
      assert.equal((await ping(pair.gw2.pod, pair.gw1.podAddress, { count: 3 })).received, 3);
    } finally {
      // The socket's removal stops wireguard-go (its documented way out).
      await rm(join(wgRun, 'submariner.sock'), { force: true });
      await waitFor('the hand-made wireguard-go to exit', async () => !(await pair.exec(pair.gw2.gateway, 'ip', ['link', 'show', 'submariner'], { allowFailure: true })).stdout.includes('submariner'), { timeoutMs: 10_000 });
    }
  }));

  it('the WAN capture of the whole file holds no pod packet in the clear', async () => {
    await capture.stop();
    const report = await cleartextHits(capture.file, ['10.1.0.0/16', '10.2.0.0/16', SERVICES.gw1, SERVICES.gw2]);
    assert.ok(report.totals.total > 100, `the capture saw the tunnel's traffic (${JSON.stringify(report.totals)})`);
    assert.equal(report.hits.length, 0, `cleartext pod packets on the WAN:\n${describePackets(report.hits)}`);
  });
});
