import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { runInsideNetns } from '../helpers/in-netns.ts';
import { requireTools } from '../helpers/prereq.ts';
import { run } from '../../src/kernel/exec.ts';
import { openRtnetlink } from '../../src/kernel/rtnetlink.ts';
import { procSysctls, sysctlPath } from '../../src/kernel/sysctl.ts';
import { defaultRouteFacts, localIpv4Networks } from '../../src/kernel/host-network.ts';
import { linkNamed } from '../helpers/rtnetlink.ts';

await runInsideNetns(import.meta.url, 'dsys');
requireTools('ip');

const rtnl = openRtnetlink();
after(() => rtnl.close());
const sysctls = procSysctls();

test('sysctls of an interface whose name has dots are read and written through the slash path', async () => {
  await run('ip', ['link', 'add', 'vxlan.calico', 'type', 'veth', 'peer', 'name', 'peer.calico']);
  try {
    const key = 'net/ipv4/conf/vxlan.calico/rp_filter';
    assert.equal(sysctlPath(key), '/proc/sys/net/ipv4/conf/vxlan.calico/rp_filter');
    const original = await sysctls.read(key);
    assert.match(original ?? '', /^[012]$/);
    await sysctls.write(key, '2');
    assert.equal((await readFile('/proc/sys/net/ipv4/conf/vxlan.calico/rp_filter', 'utf8')).trim(), '2');
    assert.equal(await sysctls.read('net/ipv4/conf/vxlan.calico/no_such_thing'), undefined);
  } finally {
    await run('ip', ['link', 'del', 'vxlan.calico']);
  }
});

test('sysctl keys that escape /proc/sys or are malformed are refused', () => {
  for (const bad of ['', '../etc/passwd', 'net/../../etc', '/net/ipv4/ip_forward', 'net//ipv4', 'net/ipv4/./ip_forward']) {
    assert.throws(() => sysctlPath(bad), /invalid sysctl key/, bad);
  }
});

test('a failed sysctl write names the key and the errno', async () => {
  await assert.rejects(sysctls.write('net/ipv4/conf/missing0/rp_filter', '2'), /net\/ipv4\/conf\/missing0\/rp_filter=2: ENOENT/);
});

test('default route facts name the interface, its MTU and the node IP; local networks exclude loopback', async () => {
  assert.equal(await defaultRouteFacts(rtnl), undefined, 'no default route yet');
  await run('ip', ['link', 'add', 'eth0', 'mtu', '1400', 'type', 'veth', 'peer', 'name', 'eth0p']);
  await run('ip', ['link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'eth1p']);
  try {
    for (const dev of ['eth0', 'eth1']) await run('ip', ['link', 'set', dev, 'up']);
    await run('ip', ['addr', 'add', '10.10.0.5/16', 'dev', 'eth0']);
    await run('ip', ['addr', 'add', '172.18.0.7/24', 'dev', 'eth0']);
    await run('ip', ['addr', 'add', '192.168.33.2/24', 'dev', 'eth1']);
    await run('ip', ['route', 'add', 'default', 'via', '172.18.0.1', 'dev', 'eth0', 'metric', '50']);
    await run('ip', ['route', 'add', 'default', 'via', '192.168.33.1', 'dev', 'eth1', 'metric', '100']);
    assert.deepEqual(await defaultRouteFacts(rtnl), { interfaceName: 'eth0', ifindex: (await linkNamed(rtnl, 'eth0'))!.index, mtu: 1400, nodeIp: '172.18.0.7', gateway: '172.18.0.1' });

    await run('ip', ['route', 'change', 'default', 'via', '172.18.0.1', 'dev', 'eth0', 'metric', '50', 'src', '10.10.0.5']);
    assert.equal((await defaultRouteFacts(rtnl))?.nodeIp, '10.10.0.5', 'the preferred source wins');

    const networks = await localIpv4Networks(rtnl);
    assert.deepEqual(networks.map((n) => `${n.cidr} ${n.interfaceName}`).sort(), ['10.10.0.0/16 eth0', '172.18.0.0/24 eth0', '192.168.33.0/24 eth1']);
    assert.deepEqual((await localIpv4Networks(rtnl, { excludeInterfaces: ['eth1'] })).map((n) => n.cidr).sort(), ['10.10.0.0/16', '172.18.0.0/24']);
  } finally {
    await run('ip', ['link', 'del', 'eth0']);
    await run('ip', ['link', 'del', 'eth1']);
  }
});
