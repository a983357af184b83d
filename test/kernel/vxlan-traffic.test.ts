import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { runInsideNetns } from '../helpers/in-netns.ts';
import { requireTools } from '../helpers/prereq.ts';
import { run } from '../../src/kernel/exec.ts';
import { openRtnetlink } from '../../src/kernel/rtnetlink.ts';
import { applyOne, linkNamed } from '../helpers/rtnetlink.ts';

const self = await runInsideNetns(import.meta.url, 'dvx');
requireTools('ip', 'ping');

const peer = `swd-vx-${randomBytes(3).toString('hex')}`;
const rtnl = openRtnetlink();
after(async () => {
  rtnl.close();
  await run('ip', ['netns', 'del', peer], { allowFailure: true });
});

test('a VXLAN made through rtnetlink carries packets to a peer namespace (gateway form: no remote, all-zeros FDB entry)', async () => {
  await run('ip', ['netns', 'add', peer]);
  await run('ip', ['link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb', 'netns', peer]);
  await run('ip', ['addr', 'add', '192.168.80.1/24', 'dev', 'va']);
  await run('ip', ['link', 'set', 'va', 'up']);
  const inPeer = (args: string[]) => run('ip', ['-n', peer, ...args]);
  await inPeer(['addr', 'add', '192.168.80.2/24', 'dev', 'vb']);
  await inPeer(['link', 'set', 'vb', 'up']);
  await inPeer(['link', 'set', 'lo', 'up']);
  // The peer is a non-gateway node: unicast remote pointing at us.
  await inPeer(['link', 'add', 'vx-submariner', 'type', 'vxlan', 'id', '100', 'dstport', '4800', 'local', '192.168.80.2', 'remote', '192.168.80.1', 'dev', 'vb', 'nolearning']);
  await inPeer(['addr', 'add', '240.168.80.2/8', 'dev', 'vx-submariner']);
  await inPeer(['link', 'set', 'vx-submariner', 'up']);

  const va = (await linkNamed(rtnl, 'va'))!;
  await applyOne(rtnl, { kind: 'link', write: 'create-vxlan', vxlan: { name: 'vx-submariner', vni: 100, port: 4800, local: '192.168.80.1', underlayIndex: va.index, mtu: 1450 } });
  const vx = (await linkNamed(rtnl, 'vx-submariner'))!;
  await applyOne(rtnl, { kind: 'address', write: 'create', ifindex: vx.index, cidr: '240.168.80.1/8' });
  await applyOne(rtnl, { kind: 'fdb', write: 'append', entry: { ifindex: vx.index, mac: '00:00:00:00:00:00', dst: '192.168.80.2' } });

  const ping = await run('ip', ['netns', 'exec', self, 'ping', '-c', '3', '-i', '0.2', '-W', '2', '240.168.80.2'], { allowFailure: true });
  assert.equal(ping.code, 0, ping.stdout + ping.stderr);
  // The packets really went through the tunnel: the peer's VXLAN device counted them.
  const [stats] = JSON.parse((await inPeer(['-j', '-s', 'link', 'show', 'vx-submariner'])).stdout);
  assert.ok(stats.stats64.rx.packets >= 3, JSON.stringify(stats.stats64.rx));

  // Without the FDB entry the gateway form has nowhere to send: traffic stops.
  await applyOne(rtnl, { kind: 'fdb', write: 'delete', entry: { ifindex: vx.index, mac: '00:00:00:00:00:00', dst: '192.168.80.2' } });
  await run('ip', ['neigh', 'flush', 'dev', 'vx-submariner']);
  const silent = await run('ip', ['netns', 'exec', self, 'ping', '-c', '1', '-W', '1', '240.168.80.2'], { allowFailure: true });
  assert.notEqual(silent.code, 0);
});
