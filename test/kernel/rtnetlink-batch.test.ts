import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { runInsideNetns } from '../helpers/in-netns.ts';
import { requireTools } from '../helpers/prereq.ts';
import { run } from '../../src/kernel/exec.ts';
import { openRtnetlink, NetlinkError, type KernelWrite } from '../../src/kernel/rtnetlink.ts';
import { linkNamed } from '../helpers/rtnetlink.ts';

await runInsideNetns(import.meta.url, 'dbatch');
requireTools('ip');

const rtnl = openRtnetlink();
after(() => rtnl.close());
await run('ip', ['link', 'add', 'b0', 'type', 'veth', 'peer', 'name', 'b1']);
await run('ip', ['link', 'set', 'b0', 'up']);
await run('ip', ['addr', 'add', '192.168.60.1/24', 'dev', 'b0']);
const b0 = (await linkNamed(rtnl, 'b0'))!;

const dstOf = (i: number) => `10.${100 + Math.floor(i / 256)}.${i % 256}.0/24`;
const countTable100 = async () => (await run('ip', ['-o', 'route', 'show', 'table', '100'])).stdout.split('\n').filter(Boolean).length;

test('a batch of 1,000 routes with a few invalid ones installs the rest and reports exactly the invalid ones', async () => {
  // Invalid on purpose: 10 is created twice (EEXIST), 333's gateway is on no connected network
  // (ENETUNREACH), 640's interface does not exist (ENODEV), 999 has host bits set (EINVAL).
  const writes: KernelWrite[] = [];
  for (let i = 0; i < 1000; i++) {
    const route: { table: number; dst: string; gateway?: string; oif: number; protocol: number } =
      { table: 100, dst: dstOf(i), gateway: '192.168.60.2', oif: b0.index, protocol: 147 };
    if (i === 333) route.gateway = '172.31.0.1';
    if (i === 640) { delete route.gateway; route.oif = 99999; }
    if (i === 999) route.dst = '10.200.0.1/16';
    writes.push({ kind: 'route', write: 'create', route });
  }
  writes.splice(11, 0, { kind: 'route', write: 'create', route: { table: 100, dst: dstOf(10), gateway: '192.168.60.2', oif: b0.index, protocol: 147 } });

  const results = await rtnl.apply(writes);
  try {
    assert.equal(results.length, 1001);
    const failures = results.flatMap((r, i) => (r.ok ? [] : [{ i, code: (r.error as NetlinkError).code, message: r.error.message }]));
    assert.deepEqual(failures.map((f) => [f.i, f.code]), [[11, 'EEXIST'], [334, 'ENETUNREACH'], [641, 'ENODEV'], [1000, 'EINVAL']]);
    assert.match(failures[1]!.message, /10\.101\.77\.0\/24 via 172\.31\.0\.1/);
    assert.equal(await countTable100(), 1000 - 3);

  } finally {
    const deletes = await rtnl.apply(writes.map((w) => ({ ...w, write: 'delete' }) as KernelWrite));
    assert.equal(deletes.filter((r) => !r.ok).length, 4, 'the three never installed plus the duplicate');
    assert.equal(await countTable100(), 0);
  }
});

test('results come back in request order across many pipelined chunks', async () => {
  const writes: KernelWrite[] = [];
  for (let i = 0; i < 5000; i++) {
    writes.push({ kind: 'route', write: 'create', route: { table: 100, dst: dstOf(i), oif: i % 2 === 0 ? b0.index : 99999, protocol: 147 } });
  }
  const results = await rtnl.apply(writes);
  try {
    results.forEach((r, i) => assert.equal(r.ok, i % 2 === 0, `write ${i}: ${r.ok ? 'ok' : r.error.message}`));
    assert.equal(await countTable100(), 2500);
  } finally {
    await rtnl.apply(writes.map((w) => ({ ...w, write: 'delete' }) as KernelWrite));
  }
  assert.equal(await countTable100(), 0);
});

test('an empty batch resolves with no results', async () => {
  assert.deepEqual(await rtnl.apply([]), []);
});
