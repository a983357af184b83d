/**
 * Benchmark of the IPsec cable (strongSwan's charon-systemd driven over VICI, userspace ESP through
 * kernel-libipsec on this kernel) between two gateway namespaces with a pod behind each
 * (test/helpers/gateway-pair.ts), in one run:
 *
 *  1. connect -> first packet: both cables started (charon up), not connected; a ping from pod1 to
 *     pod2 every 10 ms; the time from the connect calls (gw1, then gw2 at once) to the first echo
 *     reply (ping's own -D timestamp). Fresh gateways per trial, so each is a fresh negotiation.
 *  2. throughput: iperf3 from pod1 to pod2 through the seaway-managed tunnel, and through the same
 *     charon configured by hand (`swanctl --load-all`) in the same namespaces after seaway's cables
 *     are stopped: the same strongswan.conf (strongswanConf) and the same connection and children
 *     (planConnection's load-conn, rendered as swanctl.conf). The order alternates per trial.
 *  3. loss on charon SIGKILL: with the tunnel up and a ping every 10 ms, gw1's charon is SIGKILLed
 *     (seaway's supervisor restarts it and reloads everything); the largest gap between replies.
 *
 *   npm run bench -- ipsec            node test/bench/ipsec.ts [--trials 5] [--seconds 3]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { CableEndpoint } from '../../src/cable/cable.ts';
import { run, type ExecResult } from '../../src/kernel/exec.ts';
import { defaultCharonCommand } from '../../src/kernel/charon.ts';
import {
  DEFAULT_IPSEC_SETTINGS, libipsecAddresses, planConnection, type LocalSubnet, type PlannedConnection, type ViciConfig,
} from '../../src/plan/ipsec-connections.ts';
import { strongswanConf, type EspMode } from '../../src/plan/strongswan-conf.ts';
import { OWNERSHIP } from '../../src/model/ownership.ts';
import { continuousPing, createGatewayPair, ping, type ClusterSide, type ContinuousPing, type GatewayPair } from '../helpers/gateway-pair.ts';
import { startIpsecGateway, type IpsecGateway } from '../helpers/ipsec-gateway.ts';
import type { IpsecGatewayConfig } from '../helpers/ipsec-gateway-child.ts';
import { requireTools } from '../helpers/prereq.ts';
import { waitFor, within } from '../helpers/wait.ts';
import { median, pairThroughput } from './bench-support.ts';

const { values } = parseArgs({ options: { trials: { type: 'string', default: '5' }, seconds: { type: 'string', default: '3' } } });
const trials = Number(values.trials);
const iperfSeconds = Number(values.seconds);
if (!Number.isInteger(trials) || trials < 1) throw new Error('--trials must be a whole number >= 1');
if (!Number.isInteger(iperfSeconds) || iperfSeconds < 1) throw new Error('--seconds must be a whole number >= 1');

const PING_INTERVAL_S = 0.01;
const CONNECT_TIMEOUT_MS = 20_000;
const NAT_T_PORT = 4500;
const SERVICES = { gw1: '10.96.0.0/16', gw2: '10.97.0.0/16' } as const;
const PSK = `${'k'.repeat(48)}\n`;
/** charon's routes and the rule to them, as the cable's gateway child configures it. */
const ROUTING = { routingTable: OWNERSHIP.charonTable, routingTablePriority: OWNERSHIP.charonRulePriority } as const;
type Side = 'gw1' | 'gw2';
const SIDES: readonly Side[] = ['gw1', 'gw2'];

const other = (side: Side): Side => (side === 'gw1' ? 'gw2' : 'gw1');
const subnetsOf = (side: ClusterSide, name: Side): LocalSubnet[] => [{ cidr: side.clusterCidr, kind: 'pods' }, { cidr: SERVICES[name], kind: 'services' }];
const endpointOf = (side: ClusterSide, name: Side): CableEndpoint => ({
  cableName: `submariner-cable-${name === 'gw1' ? 'west' : 'east'}-${side.wanAddress.replaceAll('.', '-')}`,
  clusterId: name === 'gw1' ? 'west' : 'east', privateIp: side.wanAddress, address: side.wanAddress, subnets: [side.clusterCidr, SERVICES[name]], natTPort: NAT_T_PORT,
});

/** Everything started, so the finally block can end it (by pid) also when a trial fails. */
const live = {
  gateways: new Set<IpsecGateway>(),
  charons: new Set<HandCharon>(),
  pingers: new Set<ContinuousPing>(),
  servers: new Set<ChildProcess>(),
};

// ---------------------------------------------------------------------------------------------
// charon by hand: charon-systemd with seaway's strongswan.conf, loaded by swanctl --load-all.

interface HandCharon {
  pid: number;
  socket: string;
  log(): string;
  stop(): Promise<void>;
}

const connects = (path: string) => new Promise<boolean>((resolve) => {
  const socket = createConnection({ path });
  socket.once('connect', () => { socket.destroy(); resolve(true); });
  socket.once('error', () => { socket.destroy(); resolve(false); });
});

/** charon-systemd inside the namespace (`ip netns exec` execs it in place: the child's pid is charon's). */
async function startHandCharon(ns: string, stateDir: string, conf: string): Promise<HandCharon> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const confPath = join(stateDir, 'strongswan.conf');
  const socket = join(stateDir, 'charon.vici');
  await writeFile(confPath, conf, { mode: 0o600 });
  await rm(socket, { force: true });
  const { file, args } = defaultCharonCommand();
  // The environment seaway's supervisor gives charon: PATH and STRONGSWAN_CONF only.
  const child = spawn('ip', ['netns', 'exec', ns, file, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', STRONGSWAN_CONF: confPath },
  });
  let log = '';
  const keep = (chunk: Buffer) => { log = (log + chunk.toString('utf8')).slice(-16_384); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let running = true;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => { running = false; resolve(); });
    child.once('error', (error) => { log += `\nspawn failed: ${error.message}`; running = false; resolve(); });
  });
  let stopping: Promise<void> | undefined;
  const charon: HandCharon = {
    pid: child.pid ?? -1,
    socket,
    log: () => log,
    stop() {
      stopping ??= (async () => {
        if (!running || child.pid === undefined) return;
        process.kill(child.pid, 'SIGTERM');
        try {
          await within(exited, 5000, 'charon (by hand) to exit after SIGTERM');
        } catch {
          if (running) try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
          await within(exited, 2000, 'charon (by hand) to exit after SIGKILL');
        }
      })();
      return stopping;
    },
  };
  live.charons.add(charon);
  await waitFor('charon (by hand) to take connections on its VICI socket', async () => {
    if (!running) throw new Error(`charon exited before its VICI socket took a connection; its log:\n${log.slice(-3000)}`);
    return connects(socket);
  }, { timeoutMs: 15_000, intervalMs: 25 }).catch((error: Error) => { throw new Error(`${error.message}\ncharon's log:\n${log.slice(-3000)}`); });
  return charon;
}

/**
 * swanctl.conf cannot name a section with a dot (its parser reads a dot as a path separator), and
 * seaway's child names hold the subnets' dots: by hand they are named with dashes instead.
 */
const handName = (name: string): string => name.replaceAll('.', '-');

/** A load-conn message as swanctl.conf text: strings as they are, lists comma-separated, sections nested. */
function swanctlSection(config: ViciConfig, indent: string): string[] {
  const lines: string[] = [];
  for (const [key, value] of Object.entries(config)) {
    if (typeof value === 'string') lines.push(`${indent}${key} = ${value}`);
    else if (Array.isArray(value)) lines.push(`${indent}${key} = ${value.join(',')}`);
    else lines.push(`${indent}${handName(key)} {`, ...swanctlSection(value, `${indent}  `), `${indent}}`);
  }
  return lines;
}

/** swanctl.conf with seaway's planned connection and the PSK as the cable loads it (owned by both identities). */
function swanctlConf(planned: PlannedConnection, localId: string, remoteId: string): string {
  const psk = Buffer.from(PSK.trimEnd());
  return [
    'connections {',
    ...swanctlSection(planned.loadConn, '  '),
    '}',
    'secrets {',
    '  ike-seaway {',
    `    id-local = ${localId}`,
    `    id-remote = ${remoteId}`,
    `    secret = 0x${psk.toString('hex')}`,
    '  }',
    '}',
    '',
  ].join('\n');
}

const swanctl = (pair: GatewayPair, ns: string, socket: string, args: readonly string[], timeoutMs = 30_000): Promise<ExecResult> =>
  pair.exec(ns, 'swanctl', [...args, '--uri', `unix://${socket}`], { timeoutMs });

/** The ESP algorithm of the installed pod-to-pod CHILD_SA, as `swanctl --list-sas` shows it. */
async function espAlgorithm(pair: GatewayPair, ns: string, socket: string): Promise<string> {
  const out = (await swanctl(pair, ns, socket, ['--list-sas'])).stdout;
  return /INSTALLED, (\S+), ESP:(\S+)/.exec(out)?.slice(1).join(' ESP:') ?? '(none installed)';
}

// ---------------------------------------------------------------------------------------------
// Measurements.

/** iperf3 from pod1 to pod2 (one-off server in pod2); received bits per second. */
const throughput = (pair: GatewayPair): Promise<number> => pairThroughput(pair, iperfSeconds, live.servers);

function startPinger(pair: GatewayPair): ContinuousPing {
  const pinger = continuousPing(pair.gw1.pod, pair.gw2.podAddress, { intervalS: PING_INTERVAL_S, timeoutS: 1 });
  live.pingers.add(pinger);
  return pinger;
}

async function stopPinger(pinger: ContinuousPing) {
  try {
    return await pinger.stop();
  } finally {
    live.pingers.delete(pinger);
  }
}

async function trafficFlows(pair: GatewayPair): Promise<void> {
  await waitFor(`${pair.gw1.podAddress} to reach ${pair.gw2.podAddress}`, async () => (await ping(pair.gw1.pod, pair.gw2.podAddress, { count: 1, timeoutS: 1 })).received === 1, { timeoutMs: CONNECT_TIMEOUT_MS, intervalMs: 50 });
}

interface SeawayTrial {
  firstReplyMs: number;
  connectCallsMs: number;
  killGapS: number;
  killLost: number;
  killSent: number;
  restartMs: number;
  bps: number;
  esp: string;
}

interface Context {
  pair: GatewayPair;
  dir: string;
  pskFile: string;
  espMode?: EspMode;
}

/** Fresh seaway cables in both gateways: connect -> first reply, throughput on the fresh tunnel, then charon SIGKILL on gw1. */
async function seawayTrial(ctx: Context, trial: number): Promise<SeawayTrial> {
  const { pair } = ctx;
  const configOf = (name: Side): IpsecGatewayConfig => ({
    stateDir: join(ctx.dir, `seaway-${name}-${trial}`), pskFile: ctx.pskFile, privateIp: pair[name].wanAddress, subnets: subnetsOf(pair[name], name),
    natTPort: NAT_T_PORT, rotationWindowMs: 60_000, tickMs: 60_000, logLevel: 'info',
  });
  const gateways = {} as Record<Side, IpsecGateway>;
  try {
    for (const name of SIDES) {
      gateways[name] = await startIpsecGateway(pair[name].gateway, configOf(name));
      live.gateways.add(gateways[name]);
    }
    ctx.espMode ??= gateways.gw1.espMode as EspMode;
    const toGw2 = endpointOf(pair.gw2, 'gw2');
    const toGw1 = endpointOf(pair.gw1, 'gw1');

    // 1. connect -> first reply. The ping runs (into "no route") before the connect calls.
    const first = startPinger(pair);
    await waitFor('the ping to be running (unanswered, no route yet)', () => first.unanswered >= 3, { timeoutMs: 10_000, intervalMs: 5 });
    const t0 = Date.now();
    await Promise.all([gateways.gw1.connect(toGw2), gateways.gw2.connect(toGw1)]);
    const connectCallsMs = Date.now() - t0;
    await waitFor('the first echo reply through the new tunnel', () => first.replies >= 1, { timeoutMs: CONNECT_TIMEOUT_MS, intervalMs: 5 });
    const firstReport = await stopPinger(first);
    const firstReplyMs = firstReport.replyTimes[0]! * 1000 - t0;
    await gateways.gw1.waitConnected(toGw2.cableName, CONNECT_TIMEOUT_MS);
    await gateways.gw2.waitConnected(toGw1.cableName, CONNECT_TIMEOUT_MS);

    // 2a. throughput through seaway's tunnel.
    await trafficFlows(pair);
    const esp = await espAlgorithm(pair, pair.gw1.gateway, join(configOf('gw1').stateDir, 'charon.vici'));
    const bps = await throughput(pair);

    // 3. charon SIGKILL on gw1 under a 10 ms ping.
    const pinger = startPinger(pair);
    await waitFor('replies before the kill', () => pinger.replies >= 20, { timeoutMs: 10_000 });
    const { charonPid, restarts } = await gateways.gw1.info();
    if (charonPid === undefined) throw new Error('gw1 reports no charon pid');
    const killedAt = Date.now();
    process.kill(charonPid, 'SIGKILL');
    await waitFor('gw1\'s supervisor to restart charon', async () => (await gateways.gw1.info()).restarts > restarts, { timeoutMs: 15_000, intervalMs: 20 });
    const restartMs = Date.now() - killedAt;
    const repliesAtRestart = pinger.replies;
    await waitFor('replies after the restart', () => pinger.replies > repliesAtRestart + 20, { timeoutMs: CONNECT_TIMEOUT_MS, intervalMs: 20 });
    const kill = await stopPinger(pinger);
    await gateways.gw1.waitConnected(toGw2.cableName, CONNECT_TIMEOUT_MS);
    await gateways.gw2.waitConnected(toGw1.cableName, CONNECT_TIMEOUT_MS);

    return { firstReplyMs, connectCallsMs, killGapS: kill.maxGapS, killLost: kill.transmitted - kill.received, killSent: kill.transmitted, restartMs, bps, esp };
  } finally {
    for (const name of SIDES) {
      const g = gateways[name];
      if (!g) continue;
      await g.stop();
      live.gateways.delete(g);
    }
  }
}

/** 2b. The same charon configured by hand: seaway's strongswan.conf and plan, loaded with swanctl --load-all, initiated from gw1. */
async function handTrial(ctx: Context, trial: number): Promise<{ bps: number; esp: string }> {
  const { pair } = ctx;
  const espMode = ctx.espMode;
  if (!espMode) throw new Error('the ESP mode is not known yet (a seaway trial runs first)');
  const charons = {} as Record<Side, HandCharon>;
  const plans = {} as Record<Side, PlannedConnection>;
  try {
    for (const name of SIDES) {
      const side = pair[name];
      const ns = side.gateway;
      const stateDir = join(ctx.dir, `hand-${name}-${trial}`);
      const local = { privateIp: side.wanAddress, subnets: subnetsOf(side, name), natTPort: NAT_T_PORT, addresses: [side.wanAddress, side.lanAddress] };
      const remote = pair[other(name)];
      plans[name] = planConnection(local, endpointOf(remote, other(name)), { ...DEFAULT_IPSEC_SETTINGS, espMode });
      if (plans[name].dropped.length > 0) throw new Error(`${name}: the plan dropped children: ${JSON.stringify(plans[name].dropped)}`);
      // The source address kernel-libipsec needs in the service range, as the cable adds it (a /32 on lo).
      for (const address of libipsecAddresses(local, espMode)) await run('ip', ['-n', ns, 'addr', 'replace', `${address}/32`, 'dev', 'lo']);
      const conf = strongswanConf({ espMode, viciSocketPath: join(stateDir, 'charon.vici'), natTPort: NAT_T_PORT, ...ROUTING });
      charons[name] = await startHandCharon(ns, stateDir, conf);
      const swanctlFile = join(stateDir, 'swanctl.conf');
      await writeFile(swanctlFile, swanctlConf(plans[name], side.wanAddress, remote.wanAddress), { mode: 0o600 });
      const loaded = await swanctl(pair, ns, charons[name].socket, ['--load-all', '--noprompt', '--file', swanctlFile]);
      if (!/loaded connection '/.test(loaded.stdout)) throw new Error(`${name}: swanctl --load-all loaded no connection: ${loaded.stdout.trim()} ${loaded.stderr.split('\n').filter((l) => !/^plugin '/.test(l)).join(' ').trim()}`);
    }
    for (const child of plans.gw1.children) {
      await swanctl(pair, pair.gw1.gateway, charons.gw1.socket, ['--initiate', '--ike', handName(plans.gw1.name), '--child', handName(child.name), '--timeout', '20'], 30_000);
    }
    await trafficFlows(pair);
    const esp = await espAlgorithm(pair, pair.gw1.gateway, charons.gw1.socket);
    return { bps: await throughput(pair), esp };
  } catch (error) {
    const logs = SIDES.map((name) => `${name} charon (by hand):\n${charons[name]?.log().split('\n').slice(-30).join('\n') ?? '(not started)'}`).join('\n');
    throw new Error(`${(error as Error).message}\n${logs}`, { cause: error });
  } finally {
    for (const name of SIDES) {
      const c = charons[name];
      if (!c) continue;
      await c.stop();
      live.charons.delete(c);
    }
  }
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  requireTools('ip', 'sysctl', 'ping', 'iperf3', 'swanctl', 'charon-systemd');
  const dir = await mkdtemp(join(tmpdir(), 'seaway-bench-ipsec-'));
  let pair: GatewayPair | undefined;
  const seaway: SeawayTrial[] = [];
  const hand: Array<{ bps: number; esp: string }> = [];
  const ratios: number[] = [];
  const started = Date.now();
  let espMode: string | undefined;
  let topology = '';
  try {
    pair = await createGatewayPair();
    const pskFile = join(dir, 'psk');
    await writeFile(pskFile, PSK, { mode: 0o600 });
    const ctx: Context = { pair, dir, pskFile };
    topology = `pod1 ${pair.gw1.podAddress} -> gw1 ${pair.gw1.wanAddress} == WAN == gw2 ${pair.gw2.wanAddress} -> pod2 ${pair.gw2.podAddress}`;
    for (let trial = 0; trial < trials; trial++) {
      // Alternate which tunnel is measured first, so drift (other load on the shared cores) cancels.
      if (trial % 2 === 0) {
        seaway.push(await seawayTrial(ctx, trial));
        hand.push(await handTrial(ctx, trial));
      } else {
        hand.push(await handTrial(ctx, trial));
        seaway.push(await seawayTrial(ctx, trial));
      }
      ratios.push(seaway[trial]!.bps / hand[trial]!.bps);
    }
    espMode = ctx.espMode;
  } finally {
    for (const pinger of live.pingers) await pinger.stop().catch(() => undefined);
    for (const server of live.servers) if (server.pid !== undefined && server.exitCode === null && server.signalCode === null) try { process.kill(server.pid, 'SIGKILL'); } catch { /* gone */ }
    for (const g of live.gateways) await g.stop().catch(() => undefined);
    for (const c of live.charons) await c.stop().catch(() => undefined);
    await pair?.destroy();
    await rm(dir, { recursive: true, force: true });
  }

  const stats = (xs: number[], f: (x: number) => string) => `median ${f(median(xs))}  (min ${f(Math.min(...xs))}, max ${f(Math.max(...xs))})`;
  const ms = (x: number) => `${x.toFixed(0)} ms`;
  const mbit = (x: number) => `${(x / 1e6).toFixed(0)} Mbit/s`;
  const sec = (x: number) => `${x.toFixed(3)} s`;
  const met = (ok: boolean) => (ok ? 'met' : 'NOT met');
  const first = seaway.map((t) => t.firstReplyMs);
  const gaps = seaway.map((t) => t.killGapS);
  const seawayBps = median(seaway.map((t) => t.bps));
  const handBps = median(hand.map((t) => t.bps));
  console.log(`ipsec benchmark: ${trials} trials (--trials ${trials}), iperf3 -t ${iperfSeconds} (--seconds ${iperfSeconds}), ping -i ${PING_INTERVAL_S}; ESP mode ${espMode}; ${cpus().length} CPUs; whole run ${((Date.now() - started) / 1000).toFixed(0)} s`);
  console.log(`  ${topology}; 4 CHILD_SAs per cable (pods+services x pods+services); seaway ${seaway[0]?.esp}, by hand ${hand[0]?.esp}`);
  console.log(`  connect -> first echo reply (fresh charons)     ${stats(first, ms)}  goal < 100 ms: ${met(median(first) < 100)}`);
  console.log(`    the two connect calls returned after          ${stats(seaway.map((t) => t.connectCallsMs), ms)}`);
  console.log(`  throughput, seaway's tunnel                     ${stats(seaway.map((t) => t.bps), mbit)}`);
  console.log(`  throughput, same charon by hand (swanctl)       ${stats(hand.map((t) => t.bps), mbit)}`);
  console.log(`  ratio seaway/hand (medians)                     ${(seawayBps / handBps).toFixed(2)}  goal >= 0.95: ${met(seawayBps / handBps >= 0.95)}`);
  console.log(`  ratio seaway/hand (median of per-trial ratios)  ${stats(ratios, (x) => x.toFixed(2))}`);
  console.log(`  gw1 charon SIGKILL: largest gap between replies ${stats(gaps, sec)}  goal < 1 s: ${met(median(gaps) < 1)}`);
  console.log(`    restart seen by the supervisor after          ${stats(seaway.map((t) => t.restartMs), ms)}; lost ${seaway.map((t) => `${t.killLost}/${t.killSent}`).join(', ')} pings`);
  console.log(`  per trial (order alternates: even seaway first): first ${first.map(ms).join(', ')}; seaway ${seaway.map((t) => mbit(t.bps)).join(', ')}; hand ${hand.map((t) => mbit(t.bps)).join(', ')}; gap ${gaps.map(sec).join(', ')}`);
}

await main();
