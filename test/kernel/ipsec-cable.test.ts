/**
 * The IPsec cable end to end, below Kubernetes: two gateway namespaces joined by a WAN, a pod
 * behind each, seaway's cable (supervised charon-systemd with kernel-libipsec, driven over VICI) in
 * each gateway. One capture on the WAN spans the whole file — setup, traffic, charon SIGKILL and
 * restart, the peer's restart, rekeying, PSK rotation, a stopped daemon, teardown — and the last
 * test asserts it holds no packet with a pod address in the clear.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CableEndpoint } from '../../src/cable/cable.ts';
import { run } from '../../src/kernel/exec.ts';
import { childName } from '../../src/plan/ipsec-connections.ts';
import { continuousPing, createGatewayPair, ping, WAN_IFACE, type ClusterSide, type GatewayPair } from '../helpers/gateway-pair.ts';
import { startIpsecGateway, type IpsecGateway, type SaEvent } from '../helpers/ipsec-gateway.ts';
import type { IpsecGatewayConfig } from '../helpers/ipsec-gateway-child.ts';
import { requireTools } from '../helpers/prereq.ts';
import { waitFor } from '../helpers/wait.ts';
import { cleartextHits, describePackets, startWanCapture, type WanCapture } from '../helpers/wan-capture.ts';

const SERVICES = { gw1: '10.96.0.0/16', gw2: '10.97.0.0/16' };
const ROTATION_WINDOW_MS = 3000;
const CONNECT_TIMEOUT_MS = 20_000;

let pair: GatewayPair;
let dir: string;
let capture: WanCapture;
const gateways: { gw1?: IpsecGateway; gw2?: IpsecGateway } = {};
const pskFiles = { gw1: '', gw2: '' };
/** The logs of cable processes already stopped (a restart replaces the process), for the secret check. */
const retiredLogs: string[] = [];
const PSKS = ['k'.repeat(48), 'n'.repeat(48)];

const endpointOf = (side: ClusterSide, services: string, cluster: string): CableEndpoint => ({
  cableName: `submariner-cable-${cluster}-${side.wanAddress.replaceAll('.', '-')}`,
  clusterId: cluster, privateIp: side.wanAddress, address: side.wanAddress, subnets: [side.clusterCidr, services], natTPort: 4500,
});
let toGw2: CableEndpoint;
let toGw1: CableEndpoint;

function configOf(name: 'gw1' | 'gw2', side: ClusterSide): IpsecGatewayConfig {
  return {
    stateDir: join(dir, name), pskFile: pskFiles[name], privateIp: side.wanAddress,
    subnets: [{ cidr: side.clusterCidr, kind: 'pods' }, { cidr: SERVICES[name], kind: 'services' }],
    natTPort: 4500, rotationWindowMs: ROTATION_WINDOW_MS, tickMs: 200, dpdDelayS: 2, logLevel: 'debug',
    // charon delays a reauthentication while a rekeyed CHILD_SA is kept for late packets: the rekey test's stay short.
    deleteRekeyedDelayS: 1,
  };
}

const gw = (name: 'gw1' | 'gw2'): IpsecGateway => {
  const g = gateways[name];
  assert.ok(g, `${name}'s cable is running`);
  return g;
};

/** The installed children of a cable on one gateway: child name -> inbound SPIs (both sides initiate, so a child may briefly be there twice). */
async function installedChildren(g: IpsecGateway, cableName: string): Promise<Map<string, Set<string>>> {
  const children = new Map<string, Set<string>>();
  for (const event of await g.sas()) {
    const ike: SaEvent | undefined = event[cableName];
    if (ike?.state !== 'ESTABLISHED') continue;
    for (const child of Object.values(ike['child-sas'] ?? {})) {
      if (child.state === 'INSTALLED') children.set(child.name, (children.get(child.name) ?? new Set()).add(child['spi-in']));
    }
  }
  return children;
}

/** The unique ids of a cable's IKE SAs on one gateway. */
const ikeSaIds = async (g: IpsecGateway, cableName: string): Promise<string[]> =>
  (await g.sas()).flatMap((e) => (e[cableName] ? [e[cableName].uniqueid] : []));

/** Waits for an ESTABLISHED IKE SA of the cable that was not there before (a reauthentication went through). */
async function newIkeSa(g: IpsecGateway, cableName: string, before: readonly string[], what: string): Promise<void> {
  await waitFor(what, async () => (await g.sas()).some((e) => e[cableName]?.state === 'ESTABLISHED' && !before.includes(e[cableName].uniqueid)), { timeoutMs: 15_000, intervalMs: 100 });
}

/** Whether a child kept one of its SAs (an inbound SPI it had before is still installed). */
const keptSa = (before: Set<string> | undefined, after: Set<string> | undefined): boolean => [...(before ?? [])].some((spi) => after?.has(spi));

async function bothConnected(): Promise<void> {
  await gw('gw1').waitConnected(toGw2.cableName, CONNECT_TIMEOUT_MS);
  await gw('gw2').waitConnected(toGw1.cableName, CONNECT_TIMEOUT_MS);
}

/** Pings until a reply comes back (the tunnel carries traffic again), with a deadline. */
async function trafficFlows(from: ClusterSide, to: ClusterSide): Promise<void> {
  await waitFor(`${from.podAddress} to reach ${to.podAddress}`, async () => (await ping(from.pod, to.podAddress, { count: 1, timeoutS: 1 })).received === 1, { timeoutMs: CONNECT_TIMEOUT_MS, intervalMs: 100 });
}

/** The cables' charon lines about IKE and keys, for a failing test's diagnostics (charon does not log keys at these levels). */
function charonLines(g: IpsecGateway | undefined, last = 80): string {
  if (!g) return '(not running)';
  const lines = g.log().split('\n').flatMap((line) => {
    try { return [(JSON.parse(line) as { msg: string }).msg]; } catch { return []; }
  });
  return lines.filter((m) => /IKE_SA|CHILD_SA|auth|AUTH|rekey|reauth|shared key|DELETE|PSK|failed|error/i.test(m)).slice(-last).join('\n');
}

/** Runs a test body; when it fails, both gateways' recent charon lines go to the test's diagnostics. */
async function withLogs(t: { diagnostic(message: string): void }, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    t.diagnostic(`gw1 charon:\n${charonLines(gateways.gw1)}`);
    t.diagnostic(`gw2 charon:\n${charonLines(gateways.gw2)}`);
    throw error;
  }
}

describe('the IPsec cable between two gateway namespaces', () => {
  before(async () => {
    requireTools('ip', 'tcpdump', 'ping', 'charon-systemd', 'promtool');
    dir = await mkdtemp(join(tmpdir(), 'seaway-ipsec-'));
    pair = await createGatewayPair();
    // Each gateway's default route leads over the WAN to the other: without the cable's floor, pod
    // traffic with the tunnel down would cross the WAN in the clear (and the capture would show it).
    await pair.exec(pair.gw1.gateway, 'ip', ['route', 'add', 'default', 'via', pair.gw2.wanAddress]);
    await pair.exec(pair.gw2.gateway, 'ip', ['route', 'add', 'default', 'via', pair.gw1.wanAddress]);
    capture = await startWanCapture(pair.gw2.gateway, WAN_IFACE, join(dir, 'wan.pcap'));
    for (const name of ['gw1', 'gw2'] as const) {
      pskFiles[name] = join(dir, `${name}.psk`);
      await writeFile(pskFiles[name], `${PSKS[0]}\n`, { mode: 0o600 });
    }
    toGw2 = endpointOf(pair.gw2, SERVICES.gw2, 'east');
    toGw1 = endpointOf(pair.gw1, SERVICES.gw1, 'west');
    gateways.gw1 = await startIpsecGateway(pair.gw1.gateway, configOf('gw1', pair.gw1));
    gateways.gw2 = await startIpsecGateway(pair.gw2.gateway, configOf('gw2', pair.gw2));
  });

  after(async () => {
    for (const g of Object.values(gateways)) await g?.stop().catch(() => {});
    await capture?.stop().catch(() => {});
    await pair?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('pods talk both ways through the tunnel; the cable reports connected with the daemon\'s counters', (t) => withLogs(t, async () => {
    assert.equal(gw('gw1').espMode, 'libipsec', 'this kernel has no ESP: userspace ESP through kernel-libipsec');
    await gw('gw1').connect(toGw2);
    await gw('gw2').connect(toGw1);
    await bothConnected();
    assert.equal((await ping(pair.gw1.pod, pair.gw2.podAddress, { count: 3 })).received, 3);
    assert.equal((await ping(pair.gw2.pod, pair.gw1.podAddress, { count: 3 })).received, 3);
    const [status] = await gw('gw1').status();
    assert.equal(status?.cableName, toGw2.cableName);
    assert.equal(status?.state, 'connected');
    assert.ok((status?.rxBytes ?? 0) > 0 && (status?.txBytes ?? 0) > 0, JSON.stringify(status));
    assert.ok(status?.establishedAt !== undefined && status.establishedAt <= Date.now() + 1000);
    // One child per local x remote subnet pair, the service range's source address on lo.
    assert.equal((await installedChildren(gw('gw1'), toGw2.cableName)).size, 4);
    const lo = (await pair.exec(pair.gw1.gateway, 'ip', ['-4', 'addr', 'show', 'dev', 'lo'])).stdout;
    assert.match(lo, /inet 10\.96\.255\.255\/32/);
  }));

  it('traffic for the remote subnets meets a blackhole behind charon\'s table (fail closed)', (t) => withLogs(t, async () => {
    const rules = (await pair.exec(pair.gw1.gateway, 'ip', ['rule'])).stdout;
    assert.match(rules, /^220:\s+from all lookup 220/m);
    assert.match(rules, /^221:\s+from all lookup 221 proto 147/m);
    const blackholes = (await pair.exec(pair.gw1.gateway, 'ip', ['route', 'show', 'table', '221'])).stdout;
    for (const subnet of toGw2.subnets) assert.match(blackholes, new RegExp(`blackhole ${subnet.replace(/\./g, '\\.')} proto 147`));
  }));

  it('a changed subnet list terminates and initiates only the children of the subnets that went and came', (t) => withLogs(t, async () => {
    const before = await installedChildren(gw('gw1'), toGw2.cableName);
    const kept = childName(pair.gw1.clusterCidr, pair.gw2.clusterCidr);
    const servicesToPods = childName(SERVICES.gw1, pair.gw2.clusterCidr);
    try {
      await gw('gw1').connect({ ...toGw2, subnets: [pair.gw2.clusterCidr] });
      // Both children toward the remote service range go (charon terminates them one after the other);
      // at no point may the ones that stay be missing.
      let last: string[] = [];
      const keptMissing: string[] = [];
      const narrowed = await waitFor('the two children toward the remote service range to go while the others stay', async () => {
        const now = await installedChildren(gw('gw1'), toGw2.cableName);
        last = [...now.keys()].sort();
        if (!now.has(kept) || !now.has(servicesToPods)) keptMissing.push(last.join(', '));
        return last.join() === [kept, servicesToPods].sort().join() ? now : false;
      }, { timeoutMs: 10_000, intervalMs: 100 }).catch((error: Error) => { throw new Error(`${error.message}; installed: ${last.join(', ')}`); });
      assert.deepEqual(keptMissing, [], 'a child that stays was missing while the others went');
      assert.ok(keptSa(before.get(kept), narrowed.get(kept)), 'the pod-to-pod child kept its SA (same inbound SPI)');
    } finally {
      // Whatever happened above, the later tests need the whole cable back.
      await gw('gw1').connect(toGw2);
    }
    await gw('gw1').waitConnected(toGw2.cableName, CONNECT_TIMEOUT_MS);
    // The two children come back one after the other, as they went.
    const widened = await waitFor('all four children back', async () => {
      const now = await installedChildren(gw('gw1'), toGw2.cableName);
      return now.size === 4 ? now : false;
    }, { timeoutMs: 10_000, intervalMs: 100 });
    assert.ok(keptSa(before.get(kept), widened.get(kept)), 'still the same SA');
    assert.equal((await ping(pair.gw1.pod, pair.gw2.podAddress, { count: 2 })).received, 2);
  }));

  for (const [victim, label] of [['gw1', 'charon SIGKILLed'], ['gw2', 'the peer\'s charon SIGKILLed']] as const) {
    it(`${label}: seaway restarts it, reloads keys and connections, and traffic comes back`, (t) => withLogs(t, async () => {
      const pinger = continuousPing(pair.gw1.pod, pair.gw2.podAddress);
      await waitFor('replies before the kill', () => pinger.replies >= 5, { timeoutMs: 10_000 });
      const { charonPid, restarts } = await gw(victim).info();
      assert.ok(charonPid);
      process.kill(charonPid, 'SIGKILL');
      await waitFor(`${victim}'s supervisor to restart charon`, async () => (await gw(victim).info()).restarts > restarts, { timeoutMs: 15_000, intervalMs: 50 });
      const repliesAtRestart = pinger.replies;
      await waitFor('replies after the restart', () => pinger.replies > repliesAtRestart + 5, { timeoutMs: CONNECT_TIMEOUT_MS, intervalMs: 50 });
      const report = await pinger.stop();
      t.diagnostic(`outage (largest gap between replies): ${report.maxGapS.toFixed(3)} s; ${report.transmitted - report.received} of ${report.transmitted} lost`);
      await bothConnected();
    }));
  }

  it('the ESP mode, charon\'s restarts and each cable\'s state and counters are on the metrics', (t) => withLogs(t, async () => {
    const text = await gw('gw1').metrics();
    assert.match(text, /^seaway_ipsec_esp_mode_info\{mode="libipsec"\} 1$/m);
    assert.match(text, /^seaway_charon_restarts_total 1$/m, 'the one SIGKILL above');
    assert.match(text, new RegExp(`^seaway_cable_connected\\{cable="${toGw2.cableName}",backend="ipsec"\\} 1$`, 'm'));
    const rx = new RegExp(`^seaway_cable_bytes\\{cable="${toGw2.cableName}",backend="ipsec",direction="rx"\\} (\\d+)$`, 'm').exec(text);
    assert.ok(rx && Number(rx[1]) > 0, text);
    const lint = await run('promtool', ['check', 'metrics'], { input: text, allowFailure: true });
    assert.equal(lint.code, 0, `promtool check metrics: ${lint.stdout}${lint.stderr}`);
  }));

  it('rekeying under continuous traffic loses no packet (make-before-break)', (t) => withLogs(t, async () => {
    const kept = childName(pair.gw1.clusterCidr, pair.gw2.clusterCidr);
    const pinger = continuousPing(pair.gw1.pod, pair.gw2.podAddress);
    await waitFor('replies before the rekeys', () => pinger.replies >= 5, { timeoutMs: 10_000 });
    // Two rekeys of the pod-to-pod child, as charon's timer does them (rekey_time), each to a new inbound SPI.
    for (let round = 0; round < 2; round++) {
      const before = (await installedChildren(gw('gw1'), toGw2.cableName)).get(kept) ?? new Set<string>();
      await gw('gw1').rekeyChild(toGw2.cableName, kept);
      await waitFor(`rekey ${round + 1} of the pod-to-pod child`, async () => {
        const now = (await installedChildren(gw('gw1'), toGw2.cableName)).get(kept) ?? new Set<string>();
        return [...now].some((spi) => !before.has(spi));
      }, { timeoutMs: 10_000, intervalMs: 100 });
      const repliesNow = pinger.replies;
      await waitFor('replies after the rekey', () => pinger.replies >= repliesNow + 10, { timeoutMs: 10_000 });
    }
    const report = await pinger.stop();
    t.diagnostic(`${report.received} of ${report.transmitted} replies through two rekeys`);
    // The last request may still be in flight when ping is interrupted.
    assert.ok(report.received >= report.transmitted - 1, `lost ${report.transmitted - report.received} of ${report.transmitted} during rekeying: unanswered ${report.unanswered.join(',')}`);
  }));

  it('PSK rotation: each side picks up its new file, reauthenticates make-before-break, loses no packet; the old key goes after the window', (t) => withLogs(t, async () => {
    const pinger = continuousPing(pair.gw1.pod, pair.gw2.podAddress);
    await waitFor('replies before the rotation', () => pinger.replies >= 5, { timeoutMs: 10_000 });
    const ikeIdsBefore = await ikeSaIds(gw('gw2'), toGw1.cableName);
    const rotated = `${PSKS[1]}\n`;
    // gw1 first: its reauthentication with the new key is refused by gw2 (old key only), its SA stays.
    await writeFile(pskFiles.gw1, rotated);
    await waitFor('gw1 to load the new key', async () => (await gw('gw1').sharedKeys()).includes('seaway-psk-2'), { timeoutMs: 10_000, intervalMs: 100 });
    // Then gw2: its reauthentication with the new key is accepted by gw1.
    await writeFile(pskFiles.gw2, rotated);
    await waitFor('gw2 to load the new key', async () => (await gw('gw2').sharedKeys()).includes('seaway-psk-2'), { timeoutMs: 10_000, intervalMs: 100 });
    await newIkeSa(gw('gw2'), toGw1.cableName, ikeIdsBefore, 'a new IKE SA between the gateways (reauthenticated with the new key)');
    await bothConnected();
    // The window ends: only the new key is left on both sides, and a fresh reauthentication still succeeds.
    for (const name of ['gw1', 'gw2'] as const) {
      await waitFor(`${name} to drop the old key`, async () => {
        const keys = await gw(name).sharedKeys();
        return keys.length === 1 && keys[0] === 'seaway-psk-2';
      }, { timeoutMs: ROTATION_WINDOW_MS + 10_000, intervalMs: 100 });
    }
    const beforeReauth = await ikeSaIds(gw('gw1'), toGw2.cableName);
    await gw('gw1').reauthenticate(toGw2.cableName);
    await newIkeSa(gw('gw1'), toGw2.cableName, beforeReauth, 'a reauthentication with the new key alone');
    await bothConnected();
    const report = await pinger.stop();
    t.diagnostic(`${report.received} of ${report.transmitted} replies through the rotation`);
    assert.ok(report.received >= report.transmitted - 1, `lost ${report.transmitted - report.received} of ${report.transmitted} during the rotation: unanswered ${report.unanswered.join(',')}`);
  }));

  it('with charon stopped, pod traffic is dropped at the blackhole, never sent in the clear; a new start reconnects', (t) => withLogs(t, async () => {
    await gw('gw1').stop();
    retiredLogs.push(gw('gw1').log());
    gateways.gw1 = undefined;
    // SIGTERM made charon delete its SAs, routes and TUN device; seaway's blackholes stay.
    assert.doesNotMatch((await pair.exec(pair.gw1.gateway, 'ip', ['route', 'show', 'table', '220'], { allowFailure: true })).stdout, /10\.2\.0\.0/);
    const route = (await pair.exec(pair.gw1.gateway, 'ip', ['route', 'get', pair.gw2.podAddress, 'from', pair.gw1.podAddress, 'iif', 'lan0'], { allowFailure: true }));
    assert.doesNotMatch(route.stdout, /via 198\.18\.0\.2/, `the default route over the WAN is not taken: ${route.stdout}${route.stderr}`);
    assert.match(route.stdout + route.stderr, /blackhole|Invalid argument/, 'the lookup ends at the blackhole (which ip reports as EINVAL for a forwarded packet)');
    const dropped = await ping(pair.gw1.pod, pair.gw2.podAddress, { count: 5, intervalS: 0.1, timeoutS: 1 });
    assert.equal(dropped.received, 0, 'nothing gets through without the tunnel');
    gateways.gw1 = await startIpsecGateway(pair.gw1.gateway, configOf('gw1', pair.gw1));
    await gw('gw1').connect(toGw2);
    await bothConnected();
    await trafficFlows(pair.gw1, pair.gw2);
    await trafficFlows(pair.gw2, pair.gw1);
    // The restarted cable found its source address on lo and kept it (the service children need it).
    assert.match((await pair.exec(pair.gw1.gateway, 'ip', ['-4', 'addr', 'show', 'dev', 'lo'])).stdout, /inet 10\.96\.255\.255\/32 scope global lo:seaway/);
    assert.equal((await installedChildren(gw('gw1'), toGw2.cableName)).size, 4);
  }));

  it('neither PSK appears in any log line (charon\'s included), metric or status of either gateway, as text or hex', (t) => withLogs(t, async () => {
    const texts = [...retiredLogs];
    for (const name of ['gw1', 'gw2'] as const) texts.push(gw(name).log(), await gw(name).metrics(), JSON.stringify(await gw(name).status()));
    assert.ok(texts.join('').length > 10_000, 'there is a lot to look through (debug logs of the whole file)');
    for (const psk of PSKS) {
      for (const needle of [psk.slice(0, 16), Buffer.from(psk).toString('hex').slice(0, 32), Buffer.from(psk).toString('base64').slice(0, 16)]) {
        assert.ok(!texts.some((text) => text.includes(needle)), `a PSK appears (as ${needle.slice(0, 6)}...) in a log, metric or status`);
      }
    }
  }));

  it('the WAN capture of the whole file holds no packet with a pod address in the clear', (t) => withLogs(t, async () => {
    // Teardown belongs to the file: stop both cables (DELETE exchanged) before reading the capture.
    for (const name of ['gw1', 'gw2'] as const) {
      await gateways[name]?.stop();
      gateways[name] = undefined;
    }
    await capture.stop();
    const wan = await cleartextHits(capture.file, [pair.gw1.clusterCidr, pair.gw2.clusterCidr, SERVICES.gw1, SERVICES.gw2]);
    t.diagnostic(`WAN totals: ${JSON.stringify(wan.totals)}`);
    assert.ok(wan.totals.espInUdp > 100, `the pod traffic crossed as ESP in UDP: ${JSON.stringify(wan.totals)}`);
    assert.deepEqual(wan.hits, [], describePackets(wan.hits));
  }));
});
