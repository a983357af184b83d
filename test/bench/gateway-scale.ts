/**
 * Benchmark (issue 16): the gateway with many tunnels, as the DaemonSet runs it (the image, started
 * by the lab's kubelet from manifests/, WireGuard cable). One lab cluster's gateway, and up to
 * --tunnels remote clusters (default 100) emulated in one namespace on the lab's WAN: each a
 * wireguard-go device of its own (its own key and UDP port, the address 198.18.200.k), whose
 * Endpoint is published on the broker as a remote gateway's would be, with its healthCheckIP on the
 * device. The remotes are added in four steps; after each, once the Gateway object reports every
 * connection `connected` (the gateway's health checks answered through each tunnel), the gateway
 * process is sampled for --seconds: VmRSS and RssAnon (median), CPU (% of one core), and what one
 * tunnel adds between steps. Goal: at most 128 MiB with 100 tunnels, and CPU growing linearly
 * (no per-tunnel polling beyond the health checks).
 *
 * The lab controller is stopped during the measurement, as in the footprint benchmark.
 *
 *   npm run bench -- gateway-scale     node test/bench/gateway-scale.ts [--tunnels 100] [--seconds 30]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { run } from '../../src/kernel/exec.ts';
import { WireguardGoSupervisor } from '../../src/kernel/wireguard-go.ts';
import { uapiWireguardControl } from '../../src/kernel/wireguard/uapi-control.ts';
import { clampPrivateKey, wireguardPresharedKey, wireguardPublicKey } from '../../src/model/wireguard-keys.ts';
import { pskFromFile } from '../../src/model/psk.ts';
import { requireTools } from '../helpers/prereq.ts';
import { waitFor } from '../helpers/wait.ts';
import { SUBMARINER_NAMESPACE } from '../lab/agents.ts';
import { loadImage } from '../lab/image.ts';
import { labDown, labStatus, labUp } from '../lab/lab.ts';
import { SocketApi, type ApiObject } from '../lab/socket-api.ts';
import type { ClusterStatus, NodeStatus } from '../lab/state.ts';
import { SUBMARINER_API } from '../lab/submariner-sim.ts';
import { BROKER_NS } from '../e2e/gateway-support.ts';
import { median, wholeNumber } from './bench-support.ts';
import { remoteSubnet } from './footprint-support.ts';
import { agentProcess, samplePhase } from './lab-agents.ts';

const { values } = parseArgs({
  options: {
    tunnels: { type: 'string', default: '100' }, seconds: { type: 'string', default: '30' },
    // The remote side's own process (inside its namespace): --inside FIRST --count N --spec JSON
    inside: { type: 'string' }, count: { type: 'string' }, spec: { type: 'string' },
  },
});
const TUNNELS = wholeNumber('tunnels', values.tunnels, 4, 250);
const SECONDS = wholeNumber('seconds', values.seconds, 5, 600);
const STEPS = 4;
const CONNECT_TIMEOUT_MS = 180_000;
const SAMPLE_MS = 2000;
const REMOTE_PORT_BASE = 4500;

/** Remote k (1-based): its WAN address, device, UDP port, subnet and healthCheckIP. */
function remote(k: number) {
  const subnet = remoteSubnet(k, 0);
  return {
    k, address: `198.18.200.${k}`, device: `wgr${k}`, port: REMOTE_PORT_BASE + k, subnet,
    healthCheckIP: subnet.replace(/\.(\d+)\/28$/, (_, last: string) => `.${Number(last) + 1}`), table: 1000 + k,
  };
}

/** What the remote side needs of the local gateway. */
interface RemoteSpec { gatewayKey: string; gatewayAddress: string; gatewayPort: number; psk: string; localCidrs: string[]; dir: string }

/**
 * Inside the remotes' namespace: a wireguard-go device per remote (a mount namespace of its own,
 * as the gateway's), keyed and peered with the local gateway, its healthCheckIP on it and replies
 * routed back into it by a rule of its own. Prints one JSON line of the public keys, then stops
 * its daemons once stdin closes.
 */
async function inside(first: number, count: number, spec: RemoteSpec): Promise<void> {
  const logger = pino({ level: 'warn' });
  const supervisors: WireguardGoSupervisor[] = [];
  const stop = async () => { await Promise.allSettled(supervisors.map((s) => s.stop())); };
  try {
    const keys: Record<number, string> = {};
    // As the gateway reads its PSK file (the Secret's text, its final newline not part of the key).
    const psk = wireguardPresharedKey(pskFromFile(Buffer.from(spec.psk, 'base64'), 'the Secret seaway-ipsec-psk'));
    const gatewayKey = Buffer.from(spec.gatewayKey, 'base64');
    for (let k = first; k < first + count; k++) {
      const r = remote(k);
      const privateKey = clampPrivateKey(randomBytes(32));
      const stateDir = join(spec.dir, r.device);
      // The daemon's private /run/wireguard is bound to this directory: it must exist first.
      await mkdir(join(stateDir, 'uapi'), { recursive: true, mode: 0o700 });
      const supervisor = new WireguardGoSupervisor({ stateDir, device: r.device, logger });
      supervisors.push(supervisor);
      await supervisor.start();
      const control = uapiWireguardControl({ socketPath: supervisor.socketPath, publicKeyOf: wireguardPublicKey });
      await control.set({
        privateKey, listenPort: r.port,
        peers: [{ publicKey: gatewayKey, presharedKey: psk, endpoint: { ip: spec.gatewayAddress, port: spec.gatewayPort }, allowedIps: spec.localCidrs }],
      });
      await run('ip', ['-batch', '-'], {
        input: [
          `addr add ${r.healthCheckIP}/32 dev ${r.device}`, `link set ${r.device} up`,
          `rule add from ${r.healthCheckIP} lookup ${r.table} pref ${r.table}`,
          ...spec.localCidrs.map((cidr) => `route add ${cidr} dev ${r.device} table ${r.table}`),
        ].join('\n') + '\n',
      });
      keys[k] = wireguardPublicKey(privateKey).toString('base64');
    }
    console.log(JSON.stringify(keys));
    await new Promise<void>((resolve) => { process.stdin.on('close', resolve); process.stdin.on('end', resolve); process.stdin.resume(); });
  } finally {
    await stop();
  }
}

/** One batch of remotes, run by its own process in the remotes' namespace until `stop`. */
async function startRemotes(namespace: string, first: number, count: number, spec: RemoteSpec): Promise<{ keys: Record<number, string>; stop: () => Promise<void> }> {
  const child: ChildProcess = spawn('ip', ['netns', 'exec', namespace, process.execPath, fileURLToPath(import.meta.url),
    '--inside', String(first), '--count', String(count), '--spec', JSON.stringify(spec)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const stop = async () => { child.stdin?.end(); await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]); if (child.exitCode === null) child.kill('SIGKILL'); await exited; };
  try {
    const line = await new Promise<string>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      lines.once('line', resolve);
      child.once('exit', (code) => reject(new Error(`the remotes' process exited (${code}) before it said its keys`)));
    });
    return { keys: JSON.parse(line) as Record<number, string>, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

function remoteEndpoint(k: number, publicKey: string): Record<string, unknown> {
  const r = remote(k);
  const id = `remote-${String(k).padStart(3, '0')}`;
  const cable = `submariner-cable-${id}-${r.address.replaceAll('.', '-')}`;
  return {
    apiVersion: 'submariner.io/v1', kind: 'Endpoint',
    metadata: { name: `${id}-${cable}`, namespace: BROKER_NS, labels: { 'submariner-io/clusterID': id } },
    spec: {
      cluster_id: id, cable_name: cable, hostname: `${id}-gw`, subnets: [r.subnet], private_ip: r.address, public_ip: r.address,
      nat_enabled: false, backend: 'wireguard', healthCheckIP: r.healthCheckIP,
      backend_config: { publicKey, 'udp-port': String(r.port), 'natt-discovery-port': '4490', 'public-ip': `ipv4:${r.address}` },
    },
  };
}

interface GatewayObject extends ApiObject {
  status?: { haStatus?: string; statusFailure?: string; connections?: Array<{ status?: string; statusMessage?: string; endpoint?: { cluster_id?: string } }> };
}

/** Whether the active Gateway object reports `want` connections connected; otherwise throws what it reports (the wait's last error). */
async function connected(api: SocketApi, want: number): Promise<true> {
  const gateways = await api.list<GatewayObject>(`${SUBMARINER_API}/namespaces/${SUBMARINER_NAMESPACE}/gateways`);
  const active = gateways.find((g) => g.status?.haStatus === 'active');
  const connections = active?.status?.connections ?? [];
  if (connections.filter((c) => c.status === 'connected').length >= want) return true;
  const endpoints = await api.list(`${SUBMARINER_API}/namespaces/${SUBMARINER_NAMESPACE}/endpoints`);
  const seen = connections.slice(0, 3).map((c) => `${c.endpoint?.cluster_id}: ${c.status} (${c.statusMessage})`).join('; ');
  throw new Error(`${endpoints.length} Endpoints in the cluster; Gateway objects ${gateways.map((g) => `${g.metadata.name} ${g.status?.haStatus}`).join(', ') || 'none'}`
    + `${active?.status?.statusFailure ? `, failure: ${active.status.statusFailure}` : ''}; ${connections.length} connections: ${seen}`);
}

async function main(): Promise<void> {
  requireTools('ip', 'wireguard-go', 'unshare', 'mount', 'kubectl', 'setpriv', 'chroot', 'getconf');
  loadImage();
  const prefix = `swgs${randomBytes(2).toString('hex')}`;
  const remotes = `${prefix}-remotes`;
  const dir = await mkdtemp(join(tmpdir(), 'seaway-gwscale-'));
  const batches: Array<{ stop: () => Promise<void> }> = [];
  let controllerPid: number | undefined;
  let namespaceMade = false;
  try {
    const lab = await labUp({ prefix, clusters: 1, nodes: 2, gateways: 1, podsPerNode: 0, nodeReadyDelay: 0, cniDelay: 0, cable: 'wireguard', deploy: 'manifests', wait: true });
    const cluster = lab.clusters[0] as ClusterStatus;
    const gatewayNode = cluster.nodes[0] as NodeStatus;
    const api = new SocketApi(cluster.apiserver.socket);
    const broker = new SocketApi(lab.broker.socket);
    // The gateway's own Endpoint on the broker: its WireGuard key and WAN address.
    const ours = await waitFor('the gateway\'s Endpoint on the broker', async () => {
      const endpoints = await broker.list<ApiObject & { spec: { cluster_id: string; public_ip: string; backend_config?: Record<string, string> } }>(`${SUBMARINER_API}/namespaces/${BROKER_NS}/endpoints`);
      return endpoints.find((e) => e.spec.cluster_id === cluster.id && e.spec.backend_config?.publicKey);
    }, { timeoutMs: 120_000, intervalMs: 500 });
    const gatewayPid = await waitFor('the gateway process', async () => (await labStatus(prefix)).clusters[0]?.nodes[0]?.gateway?.pid, { timeoutMs: 60_000, intervalMs: 500 });
    const secret = await api.get<ApiObject & { data: { psk: string } }>(`/api/v1/namespaces/${SUBMARINER_NAMESPACE}/secrets/seaway-ipsec-psk`);
    if (secret === undefined) throw new Error('the lab has no Secret seaway-ipsec-psk');
    const spec: RemoteSpec = {
      gatewayKey: ours.spec.backend_config!.publicKey!, gatewayAddress: gatewayNode.wanIp!, gatewayPort: REMOTE_PORT_BASE,
      psk: secret.data.psk, localCidrs: [cluster.podCidr, cluster.serviceCidr], dir,
    };

    // The remotes' namespace, on the lab's WAN bridge.
    await run('ip', ['netns', 'add', remotes]);
    namespaceMade = true;
    const port = `r${randomBytes(3).toString('hex')}`;
    await run('ip', ['-n', lab.wan.namespace, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'wan0', 'netns', remotes]);
    await run('ip', ['-n', lab.wan.namespace, 'link', 'set', port, 'master', 'br0', 'up']);
    await run('ip', ['-n', remotes, '-batch', '-'], {
      input: ['link set lo up', 'link set wan0 up', ...Array.from({ length: TUNNELS }, (_, i) => `addr add ${remote(i + 1).address}/16 dev wan0`)].join('\n') + '\n',
    });

    controllerPid = lab.controller.pid;
    process.kill(controllerPid, 'SIGSTOP');
    const gateway = agentProcess(gatewayPid);
    const rows: Array<{ tunnels: number; vmRss: number; anon: number; cpu: number; connectMs: number }> = [];
    const measure = async (tunnels: number, connectMs: number) => {
      const phase = await samplePhase(gateway, SAMPLE_MS, SECONDS * 1000);
      rows.push({
        tunnels, connectMs, cpu: phase.cpuPercent,
        vmRss: median(phase.samples.map((s) => s.vmRssKiB)) / 1024, anon: median(phase.samples.map((s) => s.rssAnonKiB)) / 1024,
      });
    };
    await measure(0, 0);
    const step = TUNNELS / STEPS;
    for (let s = 1; s <= STEPS; s++) {
      const first = Math.round((s - 1) * step) + 1;
      const last = Math.round(s * step);
      const batch = await startRemotes(remotes, first, last - first + 1, spec);
      batches.push(batch);
      const start = performance.now();
      for (let k = first; k <= last; k++) await broker.create(`${SUBMARINER_API}/namespaces/${BROKER_NS}/endpoints`, remoteEndpoint(k, batch.keys[k]!));
      await waitFor(`${last} tunnels connected in the Gateway object`, async () => {
        await gateway.memory(); // fails at once if the gateway died
        return connected(api, last);
      }, { timeoutMs: CONNECT_TIMEOUT_MS, intervalMs: 500 });
      await measure(last, performance.now() - start);
    }

    const f = (x: number, w = 9) => x.toFixed(1).padStart(w);
    console.log('');
    console.log(`gateway (${gatewayNode.name}, WireGuard cable) as the DaemonSet runs it; samples every ${SAMPLE_MS / 1000} s for ${SECONDS} s per step`);
    console.log(`  ${'tunnels'.padStart(7)} ${'VmRSS MiB'.padStart(10)} ${'RssAnon MiB'.padStart(12)} ${'CPU %'.padStart(7)} ${'connected in'.padStart(13)}`);
    for (const r of rows) console.log(`  ${String(r.tunnels).padStart(7)} ${f(r.vmRss, 10)} ${f(r.anon, 12)} ${f(r.cpu, 7)} ${r.tunnels === 0 ? '-'.padStart(13) : `${(r.connectMs / 1000).toFixed(1)} s`.padStart(13)}`);
    const base = rows[0]!;
    const top = rows[rows.length - 1]!;
    const perTunnelCpu = (top.cpu - base.cpu) / top.tunnels;
    const perTunnelMiB = (top.anon - base.anon) / top.tunnels;
    console.log(`  per tunnel: +${(perTunnelMiB * 1024).toFixed(0)} KiB RssAnon, +${perTunnelCpu.toFixed(3)} % CPU (from 0 to ${top.tunnels})`);
    // Linear: each step's CPU against the straight line from no tunnel to all of them.
    const deviation = Math.max(...rows.map((r) => Math.abs(r.cpu - (base.cpu + perTunnelCpu * r.tunnels))));
    console.log(`  CPU off the straight line by at most ${deviation.toFixed(2)} points of a core`);
    console.log(`  goal ${top.vmRss <= 128 ? 'met    ' : 'NOT met'}  VmRSS at most 128 MiB with ${top.tunnels} tunnels (${top.vmRss.toFixed(1)} MiB)`);
  } finally {
    for (const batch of batches.splice(0)) await batch.stop().catch(() => undefined);
    if (namespaceMade) {
      // Anything the batches left in the namespace goes with it, by pid.
      const pids = (await run('ip', ['netns', 'pids', remotes], { allowFailure: true })).stdout.split('\n').filter(Boolean).map(Number);
      for (const pid of pids) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      await run('ip', ['netns', 'del', remotes], { allowFailure: true });
    }
    if (controllerPid !== undefined) try { process.kill(controllerPid, 'SIGCONT'); } catch { /* gone */ }
    await labDown(prefix);
    await rm(dir, { recursive: true, force: true });
  }
}

if (values.inside !== undefined) {
  const first = Number(values.inside);
  const count = Number(values.count);
  await inside(first, count, JSON.parse(values.spec ?? '{}') as RemoteSpec);
} else {
  await main();
}
