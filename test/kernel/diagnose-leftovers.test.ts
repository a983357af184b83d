/**
 * diagnose's leftovers and iptables-backend findings from a real kernel, in a throwaway namespace
 * (this file re-runs itself inside one): leftovers of an earlier install planted the way seaway and
 * Submariner leave them, read back through the real kernel reads (rtnetlink, iptables-save of both
 * flavours, nft, ipset, ip xfrm) and judged; then the host's iptables flavour against seaway's.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseConfig, type DiagnoseConfig } from '../../src/config.ts';
import { diagnoseNode } from '../../src/diagnose/node-diagnosis.ts';
import { realDiagnoseDeps } from '../../src/diagnose/real-deps.ts';
import { run } from '../../src/kernel/exec.ts';
import type { Finding } from '../../src/model/diagnose-finding.ts';
import { runInsideNetns } from '../helpers/in-netns.ts';
import { requireTools } from '../helpers/prereq.ts';

await runInsideNetns(import.meta.url, 'dgl');
requireTools('ip', 'iptables-legacy', 'iptables', 'nft', 'ipset');

const dir = await mkdtemp(join(tmpdir(), 'seaway-diag-'));
const lock = join(dir, 'xtables.lock');
after(() => rm(dir, { recursive: true, force: true }));
const sh = (file: string, args: string[]) => run(file, args, { env: { ...process.env, XTABLES_LOCKFILE: lock } });

const config = parseConfig(['diagnose', '--cluster-id', 'east', '--node-name', 'east-w1', '--pod-cidrs', '10.1.0.0/16', '--service-cidrs', '10.101.0.0/16',
  '--listen', '127.0.0.1:19082', '--status-socket', join(dir, 'route-agent.sock'), '--xtables-lock', lock, '--exec-timeout-seconds', '10'], {}) as DiagnoseConfig;

/** Diagnoses this namespace with no API (a finding of its own) and the real kernel. */
async function diagnoseHere(): Promise<Finding[]> {
  const { deps, close } = await realDiagnoseDeps(config, { connection: 'no API in this test', userAgent: 'seaway-test' });
  try {
    return await diagnoseNode(config, deps);
  } finally {
    close();
  }
}
const leftovers = (findings: Finding[]) => findings.filter((f) => f.id === 'leftovers');
const backendOf = (findings: Finding[]) => findings.filter((f) => f.id === 'iptables-backend');

/** A route agent's status socket that answers, as a running agent's does. */
async function fakeAgent(path: string): Promise<Server> {
  const server = createServer((_req, res) => res.end('ok\n'));
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return server;
}

test('an empty node has no leftovers, and says so', async () => {
  assert.deepEqual(leftovers(await diagnoseHere()).map((f) => [f.severity, f.target]), [['ok', 'kernel objects']]);
});

test('planted seaway-style and Submariner-style leftovers are each named, with what removes them; a running agent keeps its own', async () => {
  await sh('ip', ['link', 'add', 'under0', 'type', 'veth', 'peer', 'name', 'under1']);
  await sh('ip', ['addr', 'add', '192.168.1.12/24', 'dev', 'under0']);
  await sh('ip', ['link', 'set', 'under0', 'up']);
  // seaway's route agent datapath (as it leaves it on a worker): its VXLAN device, a route and a rule with protocol 147, its chains, table and sets.
  await sh('ip', ['link', 'add', 'vx-submariner', 'type', 'vxlan', 'id', '100', 'dstport', '4800', 'local', '192.168.1.12', 'remote', '192.168.1.11', 'dev', 'under0']);
  await sh('ip', ['addr', 'add', '240.168.1.12/8', 'dev', 'vx-submariner']);
  await sh('ip', ['link', 'set', 'vx-submariner', 'up']);
  await sh('ip', ['route', 'add', '10.2.0.0/16', 'via', '240.168.1.11', 'dev', 'vx-submariner', 'proto', '147', 'onlink']);
  await sh('ip', ['rule', 'add', 'pref', '150', 'lookup', '150', 'proto', '147']);
  await sh('iptables-nft', ['-t', 'nat', '-N', 'SUBMARINER-POSTROUTING']);
  await sh('iptables-nft', ['-t', 'nat', '-A', 'POSTROUTING', '-j', 'SUBMARINER-POSTROUTING']);
  await sh('nft', ['add', 'table', 'ip', 'seaway']);
  await sh('ipset', ['create', 'SUBMARINER-LOCALCIDRS', 'hash:net']);
  // Submariner's: a route agent route via a VTEP (proto static), its VXLAN cable's table 100 and device, libreswan's XFRM policy, a chain in iptables-legacy.
  await sh('ip', ['route', 'add', '10.3.0.0/16', 'via', '240.168.1.13', 'dev', 'vx-submariner', 'proto', 'static', 'onlink']);
  await sh('ip', ['rule', 'add', 'pref', '100', 'lookup', '100']);
  await sh('ip', ['route', 'add', '10.3.0.0/16', 'dev', 'under0', 'table', '100']);
  await sh('ip', ['link', 'add', 'vxlan-tunnel', 'type', 'vxlan', 'id', '1000', 'dstport', '4500', 'local', '192.168.1.12', 'dev', 'under0']);
  await sh('ip', ['xfrm', 'policy', 'add', 'src', '10.1.0.0/16', 'dst', '10.3.0.0/16', 'dir', 'out', 'tmpl', 'src', '192.168.1.12', 'dst', '198.18.3.1', 'proto', 'esp', 'mode', 'tunnel']);
  await sh('iptables-legacy', ['-t', 'filter', '-N', 'SUBMARINER-FORWARD']);

  const none = leftovers(await diagnoseHere());
  const by = (target: string) => none.find((f) => f.target === target);
  const agent = by('route agent datapath');
  assert.equal(agent?.severity, 'error', JSON.stringify(none, null, 2));
  for (const part of ['no seaway route agent answers', 'link vx-submariner', '10.2.0.0/16 via 240.168.1.11 dev vx-submariner table 254 proto 147', 'rule pref 150 lookup 150',
    'iptables-nft chains nat/SUBMARINER-POSTROUTING', 'iptables-legacy chains filter/SUBMARINER-FORWARD', 'nft table ip seaway', 'ipsets SUBMARINER-LOCALCIDRS',
    "1 route(s) of Submariner's route agent (10.3.0.0/16 via 240.168.1.13 dev vx-submariner table 254 proto 4)"]) {
    assert.ok(agent!.found.includes(part), `${part} in: ${agent!.found}`);
  }
  assert.match(agent!.fix ?? '', /seaway cleanup/);
  const cable = by('cable state');
  assert.equal(cable?.severity, 'error');
  assert.match(cable!.found, /no seaway gateway answers on this node, yet a cable's state is here: link vxlan-tunnel \(vxlan\)/);
  assert.match(cable!.fix ?? '', /ip link del vxlan-tunnel/);
  assert.equal(by('table 100')?.severity, 'error');
  assert.equal(by('table 100')!.fix, 'ip rule del pref 100 lookup 100; ip route flush table 100');
  assert.equal(by('XFRM policies')?.severity, 'warning');
  assert.match(by('XFRM policies')!.found, /1 XFRM policy \(10\.1\.0\.0\/16 -> 10\.3\.0\.0\/16 out\)/);

  // With the route agent running, its own objects are no leftovers; Submariner's route becomes a warning (adopted), its chain in the other flavour too.
  const server = await fakeAgent(config.statusSocket);
  try {
    const running = leftovers(await diagnoseHere());
    assert.deepEqual(running.map((f) => [f.severity, f.target]).sort(), [
      ['error', 'cable state'], ['error', 'table 100'], ['warning', 'Submariner route agent routes'], ['warning', 'XFRM policies'], ['warning', 'iptables-legacy chains'],
    ]);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }

  for (const args of [['link', 'del', 'vx-submariner'], ['link', 'del', 'vxlan-tunnel'], ['link', 'del', 'under0'], ['rule', 'del', 'pref', '150'], ['rule', 'del', 'pref', '100'], ['xfrm', 'policy', 'flush']]) await sh('ip', args);
  await sh('ip', ['route', 'flush', 'table', '100']);
  await sh('iptables-nft', ['-t', 'nat', '-F']);
  await sh('iptables-nft', ['-t', 'nat', '-X', 'SUBMARINER-POSTROUTING']);
  await sh('iptables-legacy', ['-t', 'filter', '-X', 'SUBMARINER-FORWARD']);
  await sh('nft', ['delete', 'table', 'ip', 'seaway']);
  await sh('ipset', ['destroy', 'SUBMARINER-LOCALCIDRS']);
  assert.deepEqual(leftovers(await diagnoseHere()).map((f) => f.severity), ['ok'], 'gone once removed');
});

test('the iptables backend: kube-proxy in iptables-legacy while stale rules make seaway pick iptables-nft is an error; kube-proxy in nft is fine', async () => {
  await sh('iptables-legacy', ['-t', 'nat', '-N', 'KUBE-SERVICES']);
  await sh('iptables-legacy', ['-t', 'nat', '-A', 'PREROUTING', '-j', 'KUBE-SERVICES']);
  // More foreign rules in iptables-nft than kube-proxy has in legacy: seaway's detection follows the count.
  for (let i = 0; i < 3; i++) await sh('iptables-nft', ['-t', 'filter', '-A', 'INPUT', '-s', `10.99.${i}.0/24`, '-j', 'ACCEPT']);
  const [mismatch] = backendOf(await diagnoseHere());
  assert.equal(mismatch?.severity, 'error', JSON.stringify(mismatch));
  assert.match(mismatch!.found, /iptables-legacy holds KUBE-SERVICES, but seaway writes iptables-nft/);
  assert.match(mismatch!.fix ?? '', /remove the stale rules in iptables-nft/);

  await sh('iptables-nft', ['-t', 'filter', '-F', 'INPUT']);
  await sh('iptables-legacy', ['-t', 'nat', '-F', 'PREROUTING']);
  await sh('iptables-legacy', ['-t', 'nat', '-X', 'KUBE-SERVICES']);
  await sh('iptables-nft', ['-t', 'nat', '-N', 'KUBE-SERVICES']);
  await sh('iptables-nft', ['-t', 'nat', '-A', 'PREROUTING', '-j', 'KUBE-SERVICES']);
  const [fine] = backendOf(await diagnoseHere());
  assert.equal(fine?.severity, 'ok', JSON.stringify(fine));
  assert.match(fine!.found, /iptables-nft holds KUBE-SERVICES; seaway writes iptables-nft/);
});
