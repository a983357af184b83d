import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EndpointFacts } from '../../src/plan/diagnose-endpoints.ts';
import {
  cableProbeKind, gatewayRole, mtuFinding, notGatewayFinding, portFindings, remoteAddresses, tunnelFinding, vxlanFinding, vxlanTargets, type UdpOutcome,
} from '../../src/plan/diagnose-network.ts';

const REMOTE: EndpointFacts = {
  name: 'w', namespace: 'ns', clusterId: 'west', label: 'west', refreshedAtMs: null, fencingToken: undefined, cableName: 'cable-w', hostname: 'west-gw',
  privateIp: '192.168.2.11', publicIp: '198.18.2.1', healthCheckIp: '10.2.1.1', backend: 'libreswan', natEnabled: true, udpPort: 4500, discoveryPort: 4490,
};
const answer: UdpOutcome = { kind: 'answer', rttMs: 1.25, what: 'OK' };
const silent: UdpOutcome = { kind: 'silent', sends: 3, waitedMs: 3000 };

test('addresses: private then public, each valid one once', () => {
  assert.deepEqual(remoteAddresses(REMOTE), [{ which: 'private', ip: '192.168.2.11' }, { which: 'public', ip: '198.18.2.1' }]);
  assert.deepEqual(remoteAddresses({ ...REMOTE, publicIp: '192.168.2.11' }), [{ which: 'private', ip: '192.168.2.11' }]);
  assert.deepEqual(remoteAddresses({ ...REMOTE, privateIp: 'garbage', publicIp: '' }), []);
});

test('the cable decides how UDP 4500 is proven: IKE for IPsec, the tunnel echo otherwise', () => {
  assert.equal(cableProbeKind('libreswan'), 'ike');
  assert.equal(cableProbeKind('strongswan'), 'ike');
  assert.equal(cableProbeKind('wireguard'), 'tunnel-echo');
  assert.equal(cableProbeKind('vxlan'), 'tunnel-echo');
});

function ports(outcomes: [UdpOutcome, UdpOutcome], natEnabled = true) {
  return portFindings('n', 'udp-4500', 'IKE', 'probe', { ...REMOTE, natEnabled }, [
    { which: 'private', ip: '192.168.2.11', port: 4500, outcome: outcomes[0] }, { which: 'public', ip: '198.18.2.1', port: 4500, outcome: outcomes[1] },
  ], 'allow UDP 4500');
}

test('a port silent at every address is an error per address with the fix; an answer is ok with its round trip', () => {
  const both = ports([silent, silent]);
  assert.deepEqual(both.map((f) => f.severity), ['error', 'error']);
  assert.match(both[0]!.found, /no answer to 3 send\(s\) within 3000 ms: the port is blocked on the way/);
  assert.equal(both[0]!.fix, 'allow UDP 4500');
  assert.match(both[1]!.target, /cluster west gateway west-gw public 198\.18\.2\.1:4500\/udp/);
  const ok = ports([answer, answer]);
  assert.deepEqual(ok.map((f) => [f.severity, f.found]), [['ok', 'IKE answered in 1.3 ms: OK'], ['ok', 'IKE answered in 1.3 ms: OK']]);
});

test('behind NAT a silent private IP is expected when the public one answers; without NAT it is a warning', () => {
  assert.deepEqual(ports([silent, answer], true).map((f) => f.severity), ['ok', 'ok']);
  assert.match(ports([silent, answer], true)[0]!.found, /behind NAT: its private IP is not expected/);
  const noNat = ports([silent, answer], false);
  assert.deepEqual(noNat.map((f) => f.severity), ['warning', 'ok']);
  assert.match(noNat[0]!.fix ?? '', /only needed if the cable uses 192\.168\.2\.11/);
  assert.equal(ports([answer, silent], true)[1]!.severity, 'warning', 'a silent public IP is never "expected"');
});

test('an answer with a concern, garbage and local send errors are told apart', () => {
  const [concern] = ports([{ kind: 'answer', rttMs: 12, what: 'UNKNOWN_DST_ENDPOINT', concern: 'the copy is stale' }, silent]);
  assert.equal(concern!.severity, 'warning');
  assert.match(concern!.found, /answered in 12 ms: UNKNOWN_DST_ENDPOINT; but the copy is stale/);
  const [garbage, error] = ports([{ kind: 'garbage', reason: 'an ESP packet' }, { kind: 'error', message: 'send ENETUNREACH' }]);
  assert.match(garbage!.found, /something answered that is not IKE: an ESP packet/);
  assert.match(error!.found, /could not be sent: send ENETUNREACH/);
});

test('the tunnel echo: its own finding for IPsec, the UDP 4500 finding for cables without an unauthenticated answer', () => {
  const ok = tunnelFinding('n', REMOTE, '10.1.1.1', { replied: true, rttMs: 0.42 }, false);
  assert.deepEqual([ok.id, ok.severity, ok.found], ['tunnel', 'ok', 'replied in 0.4 ms: the tunnel carries traffic both ways']);
  const wg = tunnelFinding('n', { ...REMOTE, backend: 'wireguard' }, '10.1.1.1', { replied: false, sends: 3, waitedMs: 3000 }, true);
  assert.equal(wg.id, 'udp-4500');
  assert.equal(wg.severity, 'error');
  assert.match(wg.probe, /wireguard answers nothing unauthenticated on the port itself, so this echo is the 4500 probe/);
  assert.match(wg.found, /UDP 4500 blocked between the gateways, or the cable is down/);
  const unsent = tunnelFinding('n', REMOTE, '10.1.1.1', { replied: false, sends: 0, waitedMs: 0, error: 'EPERM' }, false);
  assert.match(unsent.found, /could not be sent \(EPERM\)/);
});

test('MTU: at or above the assumption ok; below it an error with the MSS to clamp to; a range when inexact; unmeasured a warning', () => {
  const assumed = { bytes: 1400, why: 'MSS clamped to the path MTU: ipsec0\'s MTU 1400' };
  assert.equal(mtuFinding('n', REMOTE, 's', assumed, { pathMtu: 1400, firstSilent: null, exact: true, probes: 1, end: 'max-fits' }).severity, 'ok');
  const low = mtuFinding('n', REMOTE, 's', assumed, { pathMtu: 1300, firstSilent: 1301, exact: true, probes: 3, end: 'converged' });
  assert.equal(low.severity, 'error');
  assert.match(low.found, /path MTU through the tunnel is 1300 bytes, below the 1400 bytes the MSS clamp assumes \(MSS clamped to the path MTU: ipsec0's MTU 1400\)/);
  assert.match(low.fix ?? '', /submariner\.io\/tcp-clamp-mss=1260/);
  const range = mtuFinding('n', REMOTE, 's', assumed, { pathMtu: 1200, firstSilent: 1350, exact: false, probes: 20, end: 'budget' });
  assert.match(range.found, /at least 1200 and below 1350 bytes/);
  assert.equal(mtuFinding('n', REMOTE, 's', assumed, { pathMtu: null, firstSilent: 576, exact: false, probes: 4, end: 'unreachable' }).severity, 'warning');
  assert.match(mtuFinding('n', REMOTE, 's', assumed, { problem: 'ping is missing' }).found, /not measured: ping is missing/);
});

test('the role: the gateway named by the local Endpoint, another node, or unknown', () => {
  assert.deepEqual(gatewayRole('east-gw', { ...REMOTE, hostname: 'east-gw' }, null), { role: 'gateway' });
  assert.deepEqual(gatewayRole('east-w', { ...REMOTE, hostname: 'east-gw', privateIp: '192.168.1.11' }, null), { role: 'worker', gatewayNode: 'east-gw', gatewayIp: '192.168.1.11' });
  assert.deepEqual(gatewayRole('east-w', null, 'HTTP 403'), { role: 'unknown', why: 'HTTP 403' });
  assert.equal(notGatewayFinding('n', { role: 'worker', gatewayNode: 'g', gatewayIp: 'x' }).severity, 'ok');
  assert.equal(notGatewayFinding('n', { role: 'unknown', why: 'x' }).severity, 'warning');
});

test('VXLAN 4800: targets from vx-submariner and the gateway IP; every reason it cannot be probed; the echo\'s outcome', () => {
  const link = { up: true, local: '192.168.1.12', remote: '192.168.1.11' };
  assert.deepEqual(vxlanTargets('192.168.1.11', link, '240.168.1.12'), { ok: true, source: '240.168.1.12', target: '240.168.1.11', remoteMismatch: null });
  assert.match((vxlanTargets('192.168.1.11', null, null) as { problem: string }).problem, /does not exist/);
  assert.match((vxlanTargets('192.168.1.11', { ...link, up: false }, '240.168.1.12') as { problem: string }).problem, /is down/);
  assert.match((vxlanTargets('', link, '240.168.1.12') as { problem: string }).problem, /not an IPv4 address/);
  assert.match((vxlanTargets('192.168.1.11', link, null) as { problem: string }).problem, /no 240\.0\.0\.0\/8 VTEP/);
  const moved = vxlanTargets('192.168.1.13', link, '240.168.1.12');
  assert.ok(moved.ok && /sends to 192\.168\.1\.11, not to the gateway's 192\.168\.1\.13/.test(moved.remoteMismatch ?? ''));

  const worker = { role: 'worker' as const, gatewayNode: 'east-gw', gatewayIp: '192.168.1.11' };
  const targets = vxlanTargets('192.168.1.11', link, '240.168.1.12');
  assert.equal(vxlanFinding('n', worker, targets, { replied: true, rttMs: 0.3 }).severity, 'ok');
  const lost = vxlanFinding('n', worker, targets, { replied: false, sends: 3, waitedMs: 3000 });
  assert.equal(lost.severity, 'error');
  assert.match(lost.fix ?? '', /allow UDP 4800 between the nodes/);
  assert.equal(vxlanFinding('n', worker, moved, { replied: true, rttMs: 0.3 }).severity, 'warning');
  assert.equal(vxlanFinding('n', { role: 'gateway' }, null, null).severity, 'ok');
  assert.equal(vxlanFinding('n', worker, vxlanTargets('192.168.1.11', null, null), null).severity, 'error');
});

test('NAT discovery answers in words: the NAT seen, and answers for another identity or a malformed request flagged', async () => {
  const { describeNatAnswer } = await import('../../src/plan/diagnose-network.ts');
  const response = (type: number, flags: Partial<Record<'srcIpNatDetected' | 'srcPortNatDetected' | 'dstIpNatDetected', boolean>> = {}) => ({
    ok: true as const, message: { version: 0, response: { requestNumber: 1n, response: type, srcIpNatDetected: false, srcPortNatDetected: false, dstIpNatDetected: false, ...flags } },
  });
  assert.deepEqual(describeNatAnswer(response(0), REMOTE), { what: 'OK' });
  assert.deepEqual(describeNatAnswer(response(1, { srcPortNatDetected: true, dstIpNatDetected: true }), REMOTE), { what: 'NAT_DETECTED (our source port rewritten, reached at an address other than its private IP)' });
  assert.match(describeNatAnswer(response(3), REMOTE).concern ?? '', /does not know itself as west\/cable-w/);
  assert.match(describeNatAnswer(response(2), REMOTE).concern ?? '', /out of date/);
  assert.match(describeNatAnswer(response(4), REMOTE).concern ?? '', /malformed/);
  assert.deepEqual(describeNatAnswer(response(99), REMOTE), { what: '99' }, 'an enum value from a newer peer is kept as its number');
  assert.deepEqual(describeNatAnswer({ ok: false, problem: 'malformed', reason: 'x' }, REMOTE), { what: 'an answer' });
});
