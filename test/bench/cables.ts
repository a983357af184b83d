/**
 * Benchmark of each gateway cable (IPsec, WireGuard, VXLAN) against its bare tool configured by hand
 * (test/helpers/hand-tunnels.ts), in one run, on the same two-cluster topology
 * (test/helpers/gateway-pair.ts: pod1 - gw1 == WAN == gw2 - pod2):
 *
 *  1. connect -> first packet: the tunnel's daemons or devices up on both gateways but not pointed
 *     at each other; pings from pod1 to pod2 running (into "no route"); then, at t0, seaway's
 *     `connect` on both gateways at once, or the tool's own configuration commands by hand; the
 *     time from t0 to the first echo reply (ping's own -D timestamp). One ping process cannot probe
 *     faster than every 10 ms while its echoes go unanswered (iputils sleeps MININTERVAL then), so
 *     several run, started a little apart: together they probe about every 10/PINGS ms.
 *  2. throughput: iperf3 TCP from pod1 to pod2 (`iperf3 -s -1` in pod2) through the tunnel just
 *     made, in the first --iperf-runs trials.
 *
 * Every trial has a fresh pair of namespaces and fresh daemons, so each connect is a first one (a
 * fresh IKE negotiation, a fresh WireGuard handshake, cold neighbour caches) and nothing of one
 * variant is left for the other; the order of seaway and by-hand alternates per trial, so drift
 * (other load on the shared cores) falls on both. seaway's cables run as they do in the gateway (the
 * test children of test/helpers, over src/cable/*-runtime.ts) with the gateway's default tick.
 *
 *   npm run bench -- cables      node test/bench/cables.ts [--trials 7] [--iperf-runs 5] [--seconds 3] [--cables ipsec,wireguard,vxlan]
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { CableEndpoint } from '../../src/cable/cable.ts';
import { CABLES, type CableKind } from '../../src/config.ts';
import { run } from '../../src/kernel/exec.ts';
import { startCableChild, type CableChild } from '../helpers/cable-child.ts';
import { continuousPing, createGatewayPair, ping, type ClusterSide, type ContinuousPing, type GatewayPair } from '../helpers/gateway-pair.ts';
import { HAND_TUNNEL_PORT, ipsecAlgorithms, startHandIpsec, startHandVxlan, startHandWireguard, type HandTunnel } from '../helpers/hand-tunnels.ts';
import { startIpsecGateway, type IpsecGateway } from '../helpers/ipsec-gateway.ts';
import { requireTools } from '../helpers/prereq.ts';
import type { VxlanGatewayConfig } from '../helpers/vxlan-gateway-child.ts';
import { waitFor } from '../helpers/wait.ts';
import { startWireguardGateway, type WireguardGateway } from '../helpers/wireguard-gateway.ts';
import { median, pairThroughput } from './bench-support.ts';

const { values } = parseArgs({
  options: {
    trials: { type: 'string', default: '7' },
    'iperf-runs': { type: 'string', default: '5' },
    seconds: { type: 'string', default: '3' },
    cables: { type: 'string', default: CABLES.join(',') },
  },
});
const trials = Number(values.trials);
const iperfRuns = Number(values['iperf-runs']);
const iperfSeconds = Number(values.seconds);
if (!Number.isInteger(trials) || trials < 1) throw new Error('--trials must be a whole number >= 1');
if (!Number.isInteger(iperfRuns) || iperfRuns < 0 || iperfRuns > trials) throw new Error('--iperf-runs must be a whole number from 0 to --trials');
if (!Number.isInteger(iperfSeconds) || iperfSeconds < 1) throw new Error('--seconds must be a whole number >= 1');
const cables = values.cables.split(',').map((c) => c.trim()).filter(Boolean);
for (const cable of cables) if (!(CABLES as readonly string[]).includes(cable)) throw new Error(`--cables: "${cable}" is not one of ${CABLES.join(', ')}`);

/** Pings at once, each every 10 ms (the least iputils keeps to while echoes go unanswered), started STAGGER_MS apart. */
const PINGS = 5;
const PING_INTERVAL_S = 0.01;
const STAGGER_MS = 2;
const CONNECT_TIMEOUT_MS = 20_000;
const PORT = HAND_TUNNEL_PORT;
/** The gateway's default `ipsecTickMs` (src/config.ts), which every cable's repair tick runs at. */
const GATEWAY_TICK_MS = 2000;
/** The cluster PSK (its file's text); letters only, so the hand-written swanctl.conf can quote it as it is. */
const PSK = 'k'.repeat(48);
const VXLAN_CHILD = fileURLToPath(new URL('../helpers/vxlan-gateway-child.ts', import.meta.url));

type Side = 'gw1' | 'gw2';
const SIDES: readonly Side[] = ['gw1', 'gw2'];
const other = (side: Side): Side => (side === 'gw1' ? 'gw2' : 'gw1');
type Variant = 'seaway' | 'hand';

/** One tunnel under test between the pair's gateways: started, not yet connected. */
interface Subject {
  /** seaway: both gateways' connect calls at once; by hand: the tool's commands on both sides. */
  connect(): Promise<void>;
  /** IPsec by hand: when `swanctl --initiate` started (after both `--load-all`). */
  readonly initiatedAt: number | undefined;
  /** Waits until the tunnel is steady for a throughput run (seaway: the cable reports connected). */
  settle(): Promise<void>;
  crypto(): Promise<string>;
  stop(): Promise<void>;
  log(): string;
}

interface Context {
  pair: GatewayPair;
  dir: string;
  pskFile: string;
  trial: number;
}

interface CableBench {
  tools: string[];
  what: string;
  start: Record<Variant, (ctx: Context) => Promise<Subject>>;
  /** A protocol retry a first packet may have to wait for: first replies this late are counted apart, with why. */
  retry?: { afterMs: number; why: string };
}

/** The addresses of the pair, as the first trial's pair has them (every pair has the same). */
let topology = '';

/** Everything started, so cleanup can end it (by pid, or by deleting the namespaces) also when a trial fails. */
const live = {
  pairs: new Set<GatewayPair>(),
  subjects: new Set<Subject>(),
  pingers: new Set<ContinuousPing>(),
  servers: new Set<ChildProcess>(),
};

const endpointOf = (side: ClusterSide, name: Side, publicKey?: string): CableEndpoint => ({
  cableName: `submariner-cable-${name === 'gw1' ? 'west' : 'east'}-${side.wanAddress.replaceAll('.', '-')}`,
  clusterId: name === 'gw1' ? 'west' : 'east', privateIp: side.wanAddress, address: side.wanAddress, subnets: [side.clusterCidr], natTPort: PORT,
  ...(publicKey === undefined ? {} : { publicKey }),
});

/** Set once cleanup has begun (a signal): nothing new is started after it. */
let aborting = false;
/** A pair being made, so cleanup can wait for it and delete it too. */
let creating: Promise<GatewayPair | undefined> | undefined;
/** One deletion per pair, awaited by whoever asks (the trial's finally and cleanup may both). */
const destroying = new Map<GatewayPair, Promise<void>>();

async function newPair(): Promise<GatewayPair> {
  if (aborting) throw new Error('interrupted: no new gateway pair');
  const making = createGatewayPair();
  creating = making.catch(() => undefined);
  const pair = await making;
  live.pairs.add(pair);
  return pair;
}

function destroyPair(pair: GatewayPair): Promise<void> {
  let done = destroying.get(pair);
  if (!done) {
    done = pair.destroy().finally(() => live.pairs.delete(pair));
    destroying.set(pair, done);
  }
  return done;
}

/** Starts one thing per gateway at once; if either fails, stops the one that started and throws. */
async function onBoth<T extends { stop(): Promise<void> }>(start: (side: Side) => Promise<T>): Promise<Record<Side, T>> {
  const results = await Promise.allSettled(SIDES.map(start));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) {
    for (const r of results) if (r.status === 'fulfilled') await r.value.stop().catch(() => undefined);
    throw failed.reason;
  }
  const [gw1, gw2] = results.map((r) => (r as PromiseFulfilledResult<T>).value) as [T, T];
  return { gw1, gw2 };
}

const tails = (logs: Record<Side, () => string>): string => SIDES.map((side) => `${side}:\n${logs[side]().split('\n').slice(-25).join('\n')}`).join('\n');

// ---------------------------------------------------------------------------------------------
// seaway's cables, as the gateway runs them (one child process per gateway).

async function seawayIpsec({ pair, dir, pskFile, trial }: Context): Promise<Subject> {
  const gateways = await onBoth<IpsecGateway>((side) => startIpsecGateway(pair[side].gateway, {
    stateDir: join(dir, `seaway-ipsec-${side}-${trial}`), pskFile, privateIp: pair[side].wanAddress,
    // The pod range only: one CHILD_SA, as by hand.
    subnets: [{ cidr: pair[side].clusterCidr, kind: 'pods' }],
    natTPort: PORT, rotationWindowMs: 60_000, tickMs: GATEWAY_TICK_MS, logLevel: 'info',
  }));
  const toOther = (side: Side) => endpointOf(pair[other(side)], other(side));
  return {
    initiatedAt: undefined,
    connect: async () => { await Promise.all(SIDES.map((side) => gateways[side].connect(toOther(side)))); },
    settle: async () => { for (const side of SIDES) await gateways[side].waitConnected(toOther(side).cableName, CONNECT_TIMEOUT_MS); },
    async crypto() {
      const vici = join(dir, `seaway-ipsec-gw1-${trial}`, 'charon.vici');
      return `${ipsecAlgorithms((await run('swanctl', ['--list-sas', '--uri', `unix://${vici}`])).stdout)} (ESP mode ${gateways.gw1.espMode})`;
    },
    stop: async () => { for (const side of SIDES) await gateways[side].stop(); },
    log: () => tails({ gw1: gateways.gw1.log, gw2: gateways.gw2.log }),
  };
}

async function seawayWireguard({ pair, dir, pskFile, trial }: Context): Promise<Subject> {
  const gateways = await onBoth<WireguardGateway>((side) => startWireguardGateway(pair[side].gateway, {
    stateDir: join(dir, `seaway-wireguard-${side}-${trial}`), pskFile, privateIp: pair[side].wanAddress, podCidrs: [pair[side].clusterCidr],
    listenPort: PORT, tickMs: GATEWAY_TICK_MS, logLevel: 'info',
  }));
  const toOther = (side: Side) => endpointOf(pair[other(side)], other(side), gateways[other(side)].publicKey);
  return {
    initiatedAt: undefined,
    connect: async () => { await Promise.all(SIDES.map((side) => gateways[side].connect(toOther(side)))); },
    settle: async () => { for (const side of SIDES) await gateways[side].waitConnected(toOther(side).cableName, CONNECT_TIMEOUT_MS); },
    async crypto() {
      const peer = (await gateways.gw1.device()).peers[0];
      return `${gateways.gw1.implementation} (ChaCha20-Poly1305), preshared key ${peer?.hasPresharedKey ? 'set' : 'none'}`;
    },
    stop: async () => { for (const side of SIDES) await gateways[side].stop(); },
    log: () => tails({ gw1: gateways.gw1.log, gw2: gateways.gw2.log }),
  };
}

async function seawayVxlan({ pair, dir, trial }: Context): Promise<Subject> {
  const children = await onBoth<CableChild<unknown>>((side) => {
    const config: VxlanGatewayConfig = {
      stateDir: join(dir, `seaway-vxlan-${side}-${trial}`), privateIp: pair[side].wanAddress, podCidrs: [pair[side].clusterCidr], port: PORT, tickMs: GATEWAY_TICK_MS,
    };
    return startCableChild(pair[side].gateway, VXLAN_CHILD, config.stateDir, config);
  });
  return {
    initiatedAt: undefined,
    connect: async () => { await Promise.all(SIDES.map((side) => children[side].call({ op: 'connect', endpoint: endpointOf(pair[other(side)], other(side)) }))); },
    settle: async () => {},
    crypto: async () => 'none (VXLAN is unencrypted)',
    stop: async () => { for (const side of SIDES) await children[side].stop(); },
    log: () => tails({ gw1: children.gw1.log, gw2: children.gw2.log }),
  };
}

const byHand = (start: (ctx: Context) => Promise<HandTunnel>) => async (ctx: Context): Promise<Subject> => {
  const tunnel = await start(ctx);
  return {
    get initiatedAt() { return tunnel.initiatedAt; },
    connect: () => tunnel.connect(),
    settle: async () => {},
    crypto: () => tunnel.crypto(),
    stop: () => tunnel.stop(),
    log: () => tunnel.log(),
  };
};

const BENCHES: Record<CableKind, CableBench> = {
  ipsec: {
    tools: ['swanctl', 'charon-systemd'],
    what: 'charon-systemd, kernel-libipsec (userspace ESP), one CHILD_SA pods <-> pods; by hand: swanctl --load-all on both, swanctl --initiate on gw1',
    start: { seaway: seawayIpsec, hand: byHand(({ pair, dir }) => startHandIpsec(pair, dir, PSK)) },
  },
  wireguard: {
    tools: ['wireguard-go', 'wg', 'unshare', 'nsenter'],
    what: 'wireguard-go in a private /run; by hand: wg set peer + ip route add on both',
    start: { seaway: seawayWireguard, hand: byHand(({ pair, dir }) => startHandWireguard(pair, dir)) },
    // WireGuard's REKEY_TIMEOUT: when both sides send their first handshake initiation at once, each
    // answers the other's and drops the answer to its own; neither has a session until one retries.
    retry: { afterMs: 4500, why: 'WireGuard\'s 5 s handshake retry (both sides\' first initiations crossed)' },
  },
  vxlan: {
    tools: ['bridge'],
    what: 'kernel VXLAN vxlan-tunnel, VNI 1000, UDP 4500; by hand: bridge fdb append + ip route add on both',
    start: { seaway: seawayVxlan, hand: byHand(({ pair }) => startHandVxlan(pair)) },
    // The neighbour's 1 s retransmit: without learning, a gateway answering the first ARP for its VTEP
    // before its own FDB entry is in place has nowhere to send the answer.
    retry: { afterMs: 900, why: 'the 1 s ARP retry (the first ARP for the remote VTEP answered before that side had its FDB entry)' },
  },
};

// ---------------------------------------------------------------------------------------------
// Measurements.

/** Several pings from pod1 to pod2, each running (unanswered) before this resolves, started STAGGER_MS apart. */
async function startProbes(pair: GatewayPair): Promise<ContinuousPing[]> {
  const pingers: ContinuousPing[] = [];
  for (let i = 0; i < PINGS; i++) {
    if (i > 0) await sleep(STAGGER_MS);
    const pinger = continuousPing(pair.gw1.pod, pair.gw2.podAddress, { intervalS: PING_INTERVAL_S, timeoutS: 1 });
    live.pingers.add(pinger);
    pingers.push(pinger);
  }
  await waitFor('the pings to be running (unanswered: no route yet)', () => pingers.every((p) => p.unanswered >= 2), { timeoutMs: 10_000, intervalMs: 5 });
  return pingers;
}

/** Stops the pings; the earliest reply any of them saw (epoch ms). */
async function stopProbes(pingers: readonly ContinuousPing[]): Promise<number> {
  let first = Infinity;
  for (const pinger of pingers) {
    try {
      const report = await pinger.stop();
      if (report.replyTimes.length > 0) first = Math.min(first, report.replyTimes[0]! * 1000);
    } finally {
      live.pingers.delete(pinger);
    }
  }
  return first;
}

/** iperf3 from pod1 to pod2 (one-off server in pod2); received bits per second. */
const throughput = (pair: GatewayPair): Promise<number> => pairThroughput(pair, iperfSeconds, live.servers);

interface Trial {
  /** t0 (connect called) -> the first echo reply. */
  firstReplyMs: number;
  /** t0 -> connect returned. */
  connectMs: number;
  /** IPsec by hand: `swanctl --initiate` started -> the first echo reply. */
  fromInitiateMs?: number;
  bps?: number;
  crypto: string;
}

/** One variant of one cable on a fresh pair: connect -> first reply, then (when asked) throughput. */
async function runTrial(bench: CableBench, variant: Variant, base: Omit<Context, 'pair'>, withIperf: boolean): Promise<Trial> {
  const pair = await newPair();
  topology ||= `pod1 ${pair.gw1.podAddress} -> gw1 ${pair.gw1.wanAddress} == WAN == gw2 ${pair.gw2.wanAddress} -> pod2 ${pair.gw2.podAddress}`;
  let subject: Subject | undefined;
  try {
    subject = await bench.start[variant]({ ...base, pair });
    live.subjects.add(subject);
    const probes = await startProbes(pair);
    const t0 = Date.now();
    await subject.connect();
    const connectMs = Date.now() - t0;
    await waitFor('the first echo reply through the new tunnel', () => probes.some((p) => p.replies >= 1), { timeoutMs: CONNECT_TIMEOUT_MS, intervalMs: 5 });
    const first = await stopProbes(probes);
    const trial: Trial = { firstReplyMs: first - t0, connectMs, crypto: await subject.crypto() };
    if (subject.initiatedAt !== undefined) trial.fromInitiateMs = first - subject.initiatedAt;
    if (withIperf) {
      await subject.settle();
      await waitFor(`${pair.gw1.podAddress} to reach ${pair.gw2.podAddress}`, async () => (await ping(pair.gw1.pod, pair.gw2.podAddress, { count: 1, timeoutS: 1 })).received === 1, { timeoutMs: CONNECT_TIMEOUT_MS, intervalMs: 20 });
      trial.bps = await throughput(pair);
    }
    return trial;
  } catch (error) {
    throw new Error(`${variant} trial ${base.trial}: ${(error as Error).message}\n${subject?.log() ?? ''}`, { cause: error });
  } finally {
    for (const pinger of [...live.pingers]) { await pinger.stop().catch(() => undefined); live.pingers.delete(pinger); }
    if (subject) {
      await subject.stop().catch(() => undefined);
      live.subjects.delete(subject);
    }
    await destroyPair(pair);
  }
}

let cleaning: Promise<void> | undefined;
/** Ends everything still running and deletes the namespaces; safe to call twice. */
function cleanup(dir: string | undefined): Promise<void> {
  cleaning ??= (async () => {
    aborting = true;
    const pending = await creating;
    if (pending) live.pairs.add(pending);
    for (const pinger of live.pingers) await pinger.stop().catch(() => undefined);
    for (const server of live.servers) if (server.pid !== undefined && server.exitCode === null && server.signalCode === null) try { process.kill(server.pid, 'SIGKILL'); } catch { /* gone */ }
    for (const subject of live.subjects) await subject.stop().catch(() => undefined);
    // Kills whatever is left in the namespaces (daemons, children, iperf3) and deletes them.
    for (const pair of [...live.pairs]) await destroyPair(pair).catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  })();
  return cleaning;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  requireTools('ip', 'sysctl', 'ping', 'iperf3', ...cables.flatMap((c) => BENCHES[c as CableKind].tools));
  let dir: string | undefined;
  // Interrupted (Ctrl-C, a timeout's SIGTERM): the namespaces and daemons go before the exit.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => { void cleanup(dir).finally(() => process.exit(130)); });
  }
  dir = await mkdtemp(join(tmpdir(), 'seaway-bench-cables-'));
  const started = Date.now();
  const results = new Map<string, Record<Variant, Trial[]>>();
  try {
    const pskFile = join(dir, 'psk');
    await writeFile(pskFile, `${PSK}\n`, { mode: 0o600 });
    for (const cable of cables) {
      const bench = BENCHES[cable as CableKind];
      const runs: Record<Variant, Trial[]> = { seaway: [], hand: [] };
      for (let trial = 0; trial < trials; trial++) {
        const order: Variant[] = trial % 2 === 0 ? ['seaway', 'hand'] : ['hand', 'seaway'];
        for (const variant of order) runs[variant].push(await runTrial(bench, variant, { dir, pskFile, trial }, trial < iperfRuns));
      }
      results.set(cable, runs);
    }
  } finally {
    await cleanup(dir);
  }

  const ms = (x: number) => x.toFixed(0);
  const mbit = (x: number) => (x / 1e6).toFixed(0);
  const stats = (xs: number[], f: (x: number) => string, unit: string) => `median ${f(median(xs))} (${f(Math.min(...xs))}..${f(Math.max(...xs))}) ${unit}`.padEnd(34);
  const W = { cable: 10, measure: 30 };
  const indent = `  ${''.padEnd(W.cable)} `;
  console.log(`cables benchmark: ${trials} trials per cable and variant (--trials ${trials}), iperf3 -t ${iperfSeconds} in the first ${iperfRuns} of them (--iperf-runs ${iperfRuns}, --seconds ${iperfSeconds}); ${cpus().length} CPUs; whole run ${((Date.now() - started) / 1000).toFixed(0)} s`);
  console.log(`  ${topology}; a fresh pair of namespaces and fresh daemons per trial; order alternates (even trials seaway first)`);
  console.log(`  connect -> first reply: from t0 (seaway's connect called on both gateways, or the first hand command started) to the first echo reply of ${PINGS} pings every ${PING_INTERVAL_S * 1000} ms started ${STAGGER_MS} ms apart`);
  console.log(`  ${'cable'.padEnd(W.cable)} ${'measure'.padEnd(W.measure)} ${'seaway'.padEnd(34)} ${'by hand'.padEnd(34)} seaway/hand  runs`);
  for (const [cable, { seaway, hand }] of results) {
    const first = (ts: Trial[]) => ts.map((t) => t.firstReplyMs);
    const returned = (ts: Trial[]) => ts.map((t) => t.connectMs);
    const bps = (ts: Trial[]) => ts.flatMap((t) => (t.bps === undefined ? [] : [t.bps]));
    const row = (label: string, name: string, a: number[], b: number[], f: (x: number) => string, unit: string) =>
      console.log(`  ${label.padEnd(W.cable)} ${name.padEnd(W.measure)} ${stats(a, f, unit)} ${stats(b, f, unit)} ${(median(a) / median(b)).toFixed(2).padEnd(12)} ${a.length}+${b.length}`);
    row(cable, 'connect -> first reply', first(seaway), first(hand), ms, 'ms');
    row('', 'connect returned after', returned(seaway), returned(hand), ms, 'ms');
    if (iperfRuns > 0) {
      row('', 'iperf3 TCP pod1 -> pod2', bps(seaway), bps(hand), mbit, 'Mbit/s');
      // seaway's and the hand-made tunnel of one trial ran back to back: their ratio is the least touched by drift.
      const perTrial = bps(seaway).map((b, i) => b / bps(hand)[i]!);
      console.log(`${indent}${'  median of per-trial ratios'.padEnd(W.measure)} ${''.padEnd(34)} ${''.padEnd(34)} ${median(perTrial).toFixed(2).padEnd(12)} ${perTrial.length} (${perTrial.map((r) => r.toFixed(2)).join(', ')})`);
    }
    const fromInitiate = hand.flatMap((t) => (t.fromInitiateMs === undefined ? [] : [t.fromInitiateMs]));
    if (fromInitiate.length > 0) console.log(`${indent}${'  by hand: --initiate -> reply'.padEnd(W.measure)} ${''.padEnd(34)} ${stats(fromInitiate, ms, 'ms')}`);
    const retry = BENCHES[cable as CableKind].retry;
    if (retry) {
      const late = (t: Trial) => t.firstReplyMs >= retry.afterMs;
      const count = (ts: Trial[]) => `${ts.filter(late).length} of ${ts.length}`;
      const others = (ts: Trial[]) => {
        const rest = ts.filter((t) => !late(t)).map((t) => t.firstReplyMs);
        return rest.length > 0 ? `median ${ms(median(rest))} ms` : 'none';
      };
      console.log(`${indent}first reply only after ${retry.why}: seaway ${count(seaway)}, by hand ${count(hand)}; the other trials: seaway ${others(seaway)}, by hand ${others(hand)}`);
    }
    console.log(`${indent}${BENCHES[cable as CableKind].what}`);
    console.log(`${indent}crypto: seaway ${seaway[0]?.crypto}; by hand ${hand[0]?.crypto}`);
    console.log(`${indent}per trial, first reply (ms): seaway ${first(seaway).map(ms).join(', ')}; by hand ${first(hand).map(ms).join(', ')}`);
    if (iperfRuns > 0) console.log(`${indent}per trial, throughput (Mbit/s): seaway ${bps(seaway).map(mbit).join(', ')}; by hand ${bps(hand).map(mbit).join(', ')}`);
  }
}

await main();
