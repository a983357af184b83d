import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { runInsideNetns } from '../helpers/in-netns.ts';
import { requireTools } from '../helpers/prereq.ts';
import { withNetns, type TestNetns } from '../helpers/netns.ts';
import { run } from '../../src/kernel/exec.ts';
import { createFilterDriver, type FilterBackend } from '../../src/dataplane/filter.ts';
import { TOOLS_ONLY_NETLINK } from './filter-support.ts';
import type { ProcessRunner } from '../../src/kernel/iptables.ts';
import type { DesiredFilter } from '../../src/model/desired-state.ts';

await runInsideNetns(import.meta.url, 'e-traffic');
requireTools('ip', 'iptables-legacy', 'iptables-nft', 'nft', 'ipset', 'ping');

const server = (address: string) => `require('net').createServer((s) => { s.on('error', () => {}); s.end(s.remoteAddress); }).listen(7000, '${address}', () => console.log('listening'));`;
const client = (address: string) => `const s = require('net').connect({ host: '${address}', port: 7000, timeout: 1500 }); let d = '';
s.on('data', (c) => { d += c; }); s.on('end', () => { console.log('seen-as ' + d); process.exit(0); });
s.on('timeout', () => { console.log('timeout'); process.exit(0); }); s.on('error', (e) => { console.log('error ' + e.code); process.exit(0); });`;

/**
 * pod1 (10.1.0.2) -- node -- pod2 (10.2.0.2, "remote", reached through a device named vx-submariner).
 * The node has FORWARD policy DROP, kube-proxy's accept of established connections and the CNI's
 * masquerade for pod egress, as real nodes do.
 */
async function topology(pod1: TestNetns, node: TestNetns, pod2: TestNetns, mode: 'legacy' | 'nft') {
  await run('ip', ['link', 'add', 'p1', 'netns', pod1.name, 'type', 'veth', 'peer', 'name', 'n1', 'netns', node.name]);
  await run('ip', ['link', 'add', 'p2', 'netns', pod2.name, 'type', 'veth', 'peer', 'name', 'vx-submariner', 'netns', node.name]);
  for (const [ns, dev, addr, via] of [[pod1, 'p1', '10.1.0.2/24', '10.1.0.1'], [pod2, 'p2', '10.2.0.2/24', '10.2.0.1']] as const) {
    await ns.exec('ip', ['addr', 'add', addr, 'dev', dev]);
    await ns.exec('ip', ['link', 'set', dev, 'up']);
    await ns.exec('ip', ['route', 'add', 'default', 'via', via]);
  }
  await node.exec('ip', ['addr', 'add', '10.1.0.1/24', 'dev', 'n1']);
  await node.exec('ip', ['addr', 'add', '10.2.0.1/24', 'dev', 'vx-submariner']);
  await node.exec('ip', ['link', 'set', 'n1', 'up']);
  await node.exec('ip', ['link', 'set', 'vx-submariner', 'up']);
  await node.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  await node.exec(`iptables-${mode}`, ['-t', 'nat', '-A', 'POSTROUTING', '-s', '10.1.0.0/24', '!', '-d', '10.1.0.0/24', '-j', 'MASQUERADE']);
  await node.exec(`iptables-${mode}`, ['-A', 'FORWARD', '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT']);
  await node.exec(`iptables-${mode}`, ['-P', 'FORWARD', 'DROP']);
}

async function startServer(pod: TestNetns, address: string) {
  const child = spawn('ip', ['netns', 'exec', pod.name, process.execPath, '-e', server(address)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const [first] = await Promise.race([
    once(lines, 'line') as Promise<[string]>,
    once(child, 'exit').then(() => { throw new Error('server exited before listening'); }),
  ]);
  assert.equal(first, 'listening');
  return child;
}

const connect = async (from: TestNetns, to = '10.2.0.2') => (await from.exec(process.execPath, ['-e', client(to)])).stdout.trim();
const ping = async (pod1: TestNetns) => (await pod1.exec('ping', ['-c', '1', '-W', '1', '10.2.0.2'], { allowFailure: true })).code === 0;

const cases: [FilterBackend, 'legacy' | 'nft'][] = [['iptables', 'legacy'], ['iptables', 'nft'], ['nftables', 'nft'], ['nftables', 'legacy']];
for (const [backend, mode] of cases) {
  test(`${backend} backend on an iptables-${mode} node with FORWARD DROP and masquerade: traffic into vx-submariner is forwarded with the pod's own source IP; new connections from it are left to the node's policy`, async () => {
    await withNetns('e-pod1', (pod1) => withNetns('e-node', (node) => withNetns('e-pod2', async (pod2) => {
      await topology(pod1, node, pod2, mode);
      const remoteServer = await startServer(pod2, '10.2.0.2');
      const localServer = await startServer(pod1, '10.1.0.2');
      try {
        assert.equal(await connect(pod1), 'timeout', 'without seaway the DROP policy stops forwarding');
        await node.exec(`iptables-${mode}`, ['-I', 'FORWARD', '1', '-j', 'ACCEPT']);
        assert.equal(await connect(pod1), 'seen-as 10.2.0.1', 'without seaway the CNI masquerades the pod');
        await node.exec(`iptables-${mode}`, ['-D', 'FORWARD', '-j', 'ACCEPT']);

        const inNode: ProcessRunner = (file, args, options) => run('ip', ['netns', 'exec', node.name, file, ...args], options);
        const driver = await createFilterDriver(backend, { run: inNode, iptablesMode: mode, netlink: TOOLS_ONLY_NETLINK });
        const desired = (): DesiredFilter => ({ localCidrs: ['10.1.0.0/24'], remoteCidrs: ['10.2.0.0/24'], nodeAddresses: ['10.1.0.1/32'], cniAddress: '10.1.0.1', vxlanDevice: 'vx-submariner', vxlanPort: 4800, mssClamp: { mode: 'pmtu' } });
        await driver.apply(desired());
        assert.equal(await connect(pod1), 'seen-as 10.1.0.2', 'forwarded, and the remote side sees the pod\'s own address');
        assert.ok(await ping(pod1), 'ping is forwarded too');
        assert.equal(await connect(pod2, '10.1.0.2'), 'timeout', 'a new connection from the remote side meets the node\'s own FORWARD policy: seaway does not accept it');

        // The CNI re-inserts its masquerade ahead of seaway after seaway started; the next pass repairs the order.
        await node.exec(`iptables-${mode}`, ['-t', 'nat', '-I', 'POSTROUTING', '1', '-s', '10.1.0.0/24', '!', '-d', '10.1.0.0/24', '-j', 'MASQUERADE']);
        await driver.apply(desired());
        assert.equal(await connect(pod1), 'seen-as 10.1.0.2', 'still the pod\'s own address');

        await driver.cleanup();
        assert.equal(await connect(pod1), 'timeout', 'after cleanup the node is as before: forwarding dropped again');
      } finally {
        remoteServer.kill('SIGKILL');
        localServer.kill('SIGKILL');
      }
    })));
  });
}
