import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { runInsideNetns } from '../helpers/in-netns.ts';
import { requireTools } from '../helpers/prereq.ts';
import { run } from '../../src/kernel/exec.ts';
import { procSysctls, sysctlPath } from '../../src/kernel/sysctl.ts';

await runInsideNetns(import.meta.url, 'dsys');
requireTools('ip');

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
