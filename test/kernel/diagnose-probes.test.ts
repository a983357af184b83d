/**
 * diagnose's probes of a remote gateway with real packets, in throwaway namespaces:
 *
 *   A (10.77.0.1, the prober) ══ veth ══ B (10.77.0.2, the "remote gateway")
 *
 * - UDP 4490: seaway's own NAT discovery responder (src/cable/nat-discovery.ts) in B answers a real
 *   request; a wrong cable name gets its UNKNOWN_DST_ENDPOINT answer; an address nobody has is silent.
 * - UDP 4500: a real charon in B answers the IKE_SA_INIT (NO_PROPOSAL_CHOSEN to the probe's
 *   private-use proposal); a port nobody listens on is silent.
 * - MTU: A ── R ── B with the R-B link at MTU 1300: the search finds 1300 below A's 1500 (an error),
 *   and with the link at 1500 the first probe settles it.
 *
 * The probes run in test/kernel/diagnose-probe-child.ts, started inside A with `ip netns exec`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { CHARON_SYSTEMD_PATH, CharonSupervisor } from '../../src/kernel/charon.ts';
import { run } from '../../src/kernel/exec.ts';
import { ICMP_ADDON_PATH } from '../../src/kernel/icmp-socket.ts';
import type { Finding } from '../../src/model/diagnose-finding.ts';
import type { EndpointFacts } from '../../src/plan/diagnose-endpoints.ts';
import { strongswanConf } from '../../src/plan/strongswan-conf.ts';
import { captureLogger } from '../helpers/capture-logger.ts';
import { createNetns, type TestNetns } from '../helpers/netns.ts';
import { requireTools } from '../helpers/prereq.ts';
import { within } from '../helpers/wait.ts';

requireTools('ip', 'ping', 'sysctl');
if (!existsSync(CHARON_SYSTEMD_PATH)) {
  throw new Error(`missing ${CHARON_SYSTEMD_PATH}: install with apt-get install --no-install-recommends charon-systemd libstrongswan-standard-plugins libcharon-extra-plugins`);
}
if (!existsSync(ICMP_ADDON_PATH)) throw new Error(`missing ${ICMP_ADDON_PATH}: build it with npm run bootstrap (scripts/build-native.sh)`);

const CHILD = fileURLToPath(new URL('./diagnose-probe-child.ts', import.meta.url));

const facts = (over: Partial<EndpointFacts>): EndpointFacts => ({
  name: 'x', namespace: 'submariner-operator', clusterId: 'c2', label: 'c2', refreshedAtMs: null, fencingToken: undefined,
  cableName: 'submariner-cable-c2-10-77-0-2', hostname: 'b', privateIp: '10.77.0.2', publicIp: '', healthCheckIp: '', backend: 'libreswan',
  natEnabled: false, udpPort: 4500, discoveryPort: 0, ...over,
});
const LOCAL = facts({ clusterId: 'c1', label: null, cableName: 'submariner-cable-c1-10-77-0-1', hostname: 'a', privateIp: '10.77.0.1' });

/** A and B joined by a veth (created inside A, its peer moved to B: nothing touches the root namespace). */
async function pair(fn: (a: TestNetns, b: TestNetns) => Promise<void>): Promise<void> {
  const a = await createNetns('dga');
  const b = await createNetns('dgb');
  try {
    await a.exec('ip', ['link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb', 'netns', b.name]);
    await a.exec('ip', ['addr', 'add', '10.77.0.1/24', 'dev', 'va']);
    await b.exec('ip', ['addr', 'add', '10.77.0.2/24', 'dev', 'vb']);
    await a.exec('ip', ['link', 'set', 'va', 'up']);
    await b.exec('ip', ['link', 'set', 'vb', 'up']);
    await fn(a, b);
  } finally {
    await a.destroy();
    await b.destroy();
  }
}

async function probe(ns: TestNetns, input: { local: EndpointFacts; remote: EndpointFacts; cniAddress?: string | null; fixedMss?: number | null }): Promise<Finding[]> {
  const result = await run('ip', ['netns', 'exec', ns.name, process.execPath, CHILD, JSON.stringify({ mode: 'probe', cniAddress: null, fixedMss: null, ...input })], { timeoutMs: 90_000 });
  return JSON.parse(result.stdout) as Finding[];
}

const only = (findings: Finding[], id: string, target: RegExp): Finding => {
  const found = findings.filter((f) => f.id === id && target.test(f.target));
  assert.equal(found.length, 1, `one ${id} finding for ${target}: ${JSON.stringify(findings, null, 2)}`);
  return found[0]!;
};

/** seaway's NAT discovery responder in `ns`, until the returned stop. */
async function natResponder(ns: TestNetns): Promise<() => Promise<void>> {
  const child = spawn('ip', ['netns', 'exec', ns.name, process.execPath, CHILD, JSON.stringify({
    mode: 'nat-responder', port: 4490, local: { clusterId: 'c2', endpointId: 'submariner-cable-c2-10-77-0-2', privateIp: '10.77.0.2' },
  })], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  await within(new Promise<void>((resolve, reject) => {
    lines.on('line', (line) => { if (line === 'ready') resolve(); });
    child.on('exit', (code) => reject(new Error(`the responder exited ${code}`)));
  }), 15_000, 'the NAT discovery responder to bind');
  return async () => {
    child.stdin!.end();
    await within(new Promise((resolve) => child.once('exit', resolve)), 10_000, 'the responder to exit');
  };
}

test('UDP 4490: seaway\'s responder answers the probe; a stale cable name and an address nobody holds are told apart', async () => {
  await pair(async (a, b) => {
    const stop = await natResponder(b);
    try {
      const findings = await probe(a, {
        local: { ...LOCAL, backend: 'wireguard' },
        remote: facts({ discoveryPort: 4490, publicIp: '10.77.0.99', natEnabled: false }),
      });
      const privateIp = only(findings, 'udp-4490', /private 10\.77\.0\.2:4490/);
      assert.equal(privateIp.severity, 'ok', JSON.stringify(privateIp));
      assert.match(privateIp.found, /NAT discovery answered in [\d.]+ ms: OK/);
      const publicIp = only(findings, 'udp-4490', /public 10\.77\.0\.99:4490/);
      assert.equal(publicIp.severity, 'warning', 'silent at the public IP while the private one answers (the remote says it is not behind NAT)');
      assert.match(publicIp.found, /no answer to 3 send\(s\) within 3000 ms.*10\.77\.0\.2 answered/);

      const stale = await probe(a, { local: { ...LOCAL, backend: 'wireguard' }, remote: facts({ discoveryPort: 4490, cableName: 'submariner-cable-c2-10-77-0-9' }) });
      const unknown = only(stale, 'udp-4490', /private 10\.77\.0\.2/);
      assert.equal(unknown.severity, 'warning');
      assert.match(unknown.found, /UNKNOWN_DST_ENDPOINT.*does not know itself as c2\/submariner-cable-c2-10-77-0-9/);
    } finally {
      await stop();
    }
    const closed = await probe(a, { local: { ...LOCAL, backend: 'wireguard' }, remote: facts({ discoveryPort: 4490 }) });
    const silent = only(closed, 'udp-4490', /private 10\.77\.0\.2/);
    assert.equal(silent.severity, 'error', 'nothing answers once the responder is gone');
    assert.match(silent.found, /no answer to 3 send\(s\)/);
    assert.ok(silent.fix?.includes('allow UDP 4490'));
  });
});

test('UDP 4500: a real charon answers the IKE_SA_INIT with NO_PROPOSAL_CHOSEN; a port nobody listens on stays silent', async () => {
  await pair(async (a, b) => {
    const dir = await mkdtemp(join(tmpdir(), 'seaway-diag-charon-'));
    const socket = join(dir, 'charon.vici');
    const charon = new CharonSupervisor({
      stateDir: join(dir, 'state'), conf: strongswanConf({ espMode: 'libipsec', viciSocketPath: socket }), viciSocketPath: socket,
      logger: captureLogger().logger, command: { file: 'ip', args: ['netns', 'exec', b.name, CHARON_SYSTEMD_PATH] },
    });
    try {
      await charon.start();
      const findings = await probe(a, { local: LOCAL, remote: facts({}) });
      const ike = only(findings, 'udp-4500', /private 10\.77\.0\.2:4500/);
      assert.equal(ike.severity, 'ok', JSON.stringify(ike));
      assert.match(ike.found, /NO_PROPOSAL_CHOSEN/);
      assert.match(ike.probe, /IKE_SA_INIT/);

      const wrongPort = await probe(a, { local: LOCAL, remote: facts({ udpPort: 4501 }) });
      const silent = only(wrongPort, 'udp-4500', /10\.77\.0\.2:4501/);
      assert.equal(silent.severity, 'error');
      assert.match(silent.found, /no answer/);
    } finally {
      await charon.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

test('MTU: DF echoes across a narrower hop find its MTU below the device\'s (an error); a path that carries the device MTU is fine at once', async () => {
  const a = await createNetns('dma');
  const r = await createNetns('dmr');
  const b = await createNetns('dmb');
  try {
    await a.exec('ip', ['link', 'add', 'xar', 'type', 'veth', 'peer', 'name', 'xra', 'netns', r.name]);
    await r.exec('ip', ['link', 'add', 'xrb', 'type', 'veth', 'peer', 'name', 'xbr', 'netns', b.name]);
    await a.exec('ip', ['addr', 'add', '10.78.1.2/24', 'dev', 'xar']);
    await r.exec('ip', ['addr', 'add', '10.78.1.1/24', 'dev', 'xra']);
    await r.exec('ip', ['addr', 'add', '10.78.2.1/24', 'dev', 'xrb']);
    await b.exec('ip', ['addr', 'add', '10.78.2.2/24', 'dev', 'xbr']);
    for (const [ns, dev] of [[a, 'xar'], [r, 'xra'], [r, 'xrb'], [b, 'xbr']] as const) await ns.exec('ip', ['link', 'set', dev, 'up']);
    await a.exec('ip', ['route', 'add', 'default', 'via', '10.78.1.1']);
    await b.exec('ip', ['route', 'add', 'default', 'via', '10.78.2.1']);
    await r.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    const remote = facts({ privateIp: '10.78.2.2', healthCheckIp: '10.78.2.2' });
    const local = { ...LOCAL, privateIp: '10.78.1.2', backend: 'wireguard' };

    const setMtu = async (mtu: number) => {
      await r.exec('ip', ['link', 'set', 'xrb', 'mtu', String(mtu)]);
      await b.exec('ip', ['link', 'set', 'xbr', 'mtu', String(mtu)]);
    };
    // Wide first: a narrow run leaves the learned 1300 cached for 10.78.2.2 in A, as the kernel keeps it for real traffic.
    const wide = await probe(a, { local, remote, cniAddress: '10.78.1.2' });
    const fits = only(wide, 'mtu', /10\.78\.2\.2/);
    assert.equal(fits.severity, 'ok', JSON.stringify(fits));
    assert.match(fits.found, /1500-byte packets pass .* 1 probe\(s\)/);

    await setMtu(1300);
    const narrow = await probe(a, { local, remote, cniAddress: '10.78.1.2' });
    const echo = only(narrow, 'udp-4500', /healthCheckIP 10\.78\.2\.2/);
    assert.equal(echo.severity, 'ok', `small echoes pass: ${JSON.stringify(echo)}`);
    assert.match(echo.probe, /answers nothing unauthenticated on the port itself/);
    const mtu = only(narrow, 'mtu', /10\.78\.2\.2/);
    assert.equal(mtu.severity, 'error', JSON.stringify(mtu));
    assert.match(mtu.found, /path MTU through the tunnel is 1300 bytes, below the 1500 bytes/);
    // The router's "frag needed" names 1300: tried next, then 1301 is refused by the learned path MTU.
    assert.match(mtu.found, /\(3 probes\)$/);
    assert.match(mtu.fix ?? '', /tcp-clamp-mss=1260/);

    const clamped = await probe(a, { local, remote, cniAddress: '10.78.1.2', fixedMss: 1200 });
    assert.equal(only(clamped, 'mtu', /10\.78\.2\.2/).severity, 'ok', 'a fixed MSS of 1200 (1240-byte packets) fits the 1300 path');
  } finally {
    await a.destroy();
    await r.destroy();
    await b.destroy();
  }
});
