/**
 * The gateway's echo-request limit, with real packets: a flood of pings to the CNI address from a
 * remote pod address gets a bounded number of replies, one from a remote gateway's health-check
 * address (exempt) and one from a local address get every reply, each backend on a host that
 * accepts ICMP early in INPUT. The limit is short (10/s, burst 5) through the plan's input, so a
 * flood of a second shows it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runInsideNetns } from '../helpers/in-netns.ts';
import { requireTools } from '../helpers/prereq.ts';
import { withNetns, type TestNetns } from '../helpers/netns.ts';
import { run } from '../../src/kernel/exec.ts';
import { createFilterDriver, type FilterBackend } from '../../src/dataplane/filter.ts';
import type { DesiredFilter } from '../../src/model/desired-state.ts';
import { resetNamespace } from './filter-support.ts';

await runInsideNetns(import.meta.url, 'e-echo');
requireTools('ip', 'iptables-legacy', 'iptables-nft', 'nft', 'ipset', 'ping');

const CNI = '10.1.0.1';
const LOCAL_POD = '10.1.0.2';
const REMOTE_POD = '10.2.0.5';
const REMOTE_GATEWAY = '10.2.0.1';
const LIMIT = { perSecond: 10, burst: 5 };
const COUNT = 200;

const gatewayFilter = (): DesiredFilter => ({
  localCidrs: ['10.1.0.0/24'], remoteCidrs: ['10.2.0.0/24'], nodeAddresses: [`${CNI}/32`], cniAddress: CNI,
  vxlanDevice: 'vx-submariner', vxlanPort: 4800, mssClamp: { mode: 'pmtu' },
  echoLimit: { address: CNI, exempt: [`${REMOTE_GATEWAY}/32`], ...LIMIT },
});
const workerFilter = (): DesiredFilter => {
  const { echoLimit: _, ...rest } = gatewayFilter();
  return rest;
};

/**
 * The gateway is this test's own namespace (the driver's netlink reads are the process's): 10.1.0.1
 * on g1 is its CNI address, 10.2.0.0/24 routed back via the peer, a namespace holding a local pod
 * address, a remote pod address and a remote gateway's health-check address. The veth pair goes
 * with the peer.
 */
async function topology(peer: TestNetns): Promise<void> {
  await run('ip', ['link', 'add', 'g1', 'type', 'veth', 'peer', 'name', 'p1', 'netns', peer.name]);
  await run('ip', ['addr', 'add', `${CNI}/24`, 'dev', 'g1']);
  await run('ip', ['link', 'set', 'g1', 'up']);
  await run('ip', ['route', 'add', '10.2.0.0/24', 'via', LOCAL_POD]);
  await peer.exec('ip', ['addr', 'add', `${LOCAL_POD}/24`, 'dev', 'p1']);
  for (const address of [REMOTE_POD, REMOTE_GATEWAY]) await peer.exec('ip', ['addr', 'add', `${address}/32`, 'dev', 'p1']);
  await peer.exec('ip', ['link', 'set', 'p1', 'up']);
}

interface Flood { transmitted: number; received: number; seconds: number }

/** COUNT echo requests 2 ms apart from `source` to the CNI address; ping's own count of replies. */
async function flood(peer: TestNetns, source: string): Promise<Flood> {
  const started = performance.now();
  const ping = await peer.exec('ping', ['-n', '-q', '-c', String(COUNT), '-i', '0.002', '-W', '1', '-I', source, CNI], { allowFailure: true });
  const seconds = (performance.now() - started) / 1000;
  const counts = /(\d+) packets transmitted, (\d+) received/.exec(ping.stdout);
  assert.ok(counts, `ping from ${source} printed no summary (${ping.signal ?? `exit ${ping.code}`}): ${ping.stderr}${ping.stdout}`);
  return { transmitted: Number(counts[1]), received: Number(counts[2]), seconds };
}

/**
 * What a limit of perSecond with a bucket of burst can pass in `seconds` (ping's wall time, which
 * covers the whole flood; ping slows its sending while replies are missing, so the flood lasts
 * well over COUNT x 2 ms), with a second's worth to spare for the kernel's clock granularity:
 * still a small part of COUNT.
 */
const mostPassed = (seconds: number) => LIMIT.burst + Math.ceil(LIMIT.perSecond * (seconds + 1));

function assertLimited(result: Flood, what: string): void {
  assert.equal(result.transmitted, COUNT, what);
  assert.ok(result.received >= 1, `${what}: the limit passes some (${result.received})`);
  assert.ok(result.received <= mostPassed(result.seconds), `${what}: ${result.received} replies in ${result.seconds.toFixed(2)} s, more than ${mostPassed(result.seconds)}`);
  assert.ok(result.received < COUNT, `${what}: dropped some`);
}

const cases: [FilterBackend, 'legacy' | 'nft'][] = [['iptables', 'nft'], ['iptables', 'legacy'], ['nftables', 'nft']];
for (const [backend, mode] of cases) {
  test(`${backend} backend (iptables-${mode} host accepting ICMP early): echo requests to the CNI address from remote ranges are limited, the remote gateway's and local ones are not; without the limit all pass`, async () => {
    await resetNamespace();
    await withNetns('e-peer', async (peer) => {
      await topology(peer);
      // Many hosts accept ICMP first thing in INPUT; the nftables case also has a FORWARD DROP policy, which calls for the iptables shim.
      await run(`iptables-${mode}`, ['-A', 'INPUT', '-p', 'icmp', '-j', 'ACCEPT']);
      if (backend === 'nftables') await run(`iptables-${mode}`, ['-P', 'FORWARD', 'DROP']);
      const before = await flood(peer, REMOTE_POD);
      assert.equal(before.received, COUNT, 'without seaway every echo request is answered');

      const driver = await createFilterDriver(backend, { run, iptablesMode: mode });
      assert.ok((await driver.apply(gatewayFilter())).writes > 0);
      assert.deepEqual(await driver.apply(gatewayFilter()), { writes: 0 }, 'what the kernel lists back reads as exactly what was rendered');
      const saved = (await run(`iptables-${mode}-save`, ['-t', 'filter'])).stdout;
      if (backend === 'iptables') {
        assert.match(saved.split('\n').find((l) => l.startsWith('-A INPUT ')) ?? '', /-d 10\.1\.0\.1\/32 -p icmp -m icmp --icmp-type 8 .*-j SEAWAY-ECHO-LIMIT$/, 'the limiter\'s jump is first in INPUT, ahead of the host\'s accept');
      } else {
        assert.match(saved, /-j SUBMARINER-FORWARD/, 'the shim is in place');
        assert.doesNotMatch(saved, /SEAWAY-ECHO-LIMIT/, 'the shim has no second limiter: nft\'s drop holds');
      }

      // The remote pod floods while the remote gateway probes just as fast: one limit for the first, none for the second.
      const [remote, exempt] = await Promise.all([flood(peer, REMOTE_POD), flood(peer, REMOTE_GATEWAY)]);
      assertLimited(remote, 'a remote pod address');
      assert.equal(exempt.received, COUNT, 'the remote gateway\'s health-check address is exempt');
      const local = await flood(peer, LOCAL_POD);
      assert.equal(local.received, COUNT, 'a local source is not limited, even with the bucket just emptied');

      // The node stops being the gateway: the limit goes, with its chain or set.
      assert.ok((await driver.apply(workerFilter())).writes > 0);
      assert.equal((await flood(peer, REMOTE_POD)).received, COUNT, 'no limit on a worker');
      assert.doesNotMatch((await run(`iptables-${mode}-save`, ['-t', 'filter'])).stdout, /SEAWAY-ECHO-LIMIT/);
      if (backend === 'nftables') assert.doesNotMatch((await run('nft', ['list', 'table', 'ip', 'seaway'])).stdout, /gwhealth|limit/);
      assert.deepEqual(await driver.apply(workerFilter()), { writes: 0 });
    }).finally(resetNamespace);
  });
}
