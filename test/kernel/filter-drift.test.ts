import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runInsideNetns } from '../helpers/in-netns.ts';
import { requireTools } from '../helpers/prereq.ts';
import { run } from '../../src/kernel/exec.ts';
import { createFilterDriver, KERNEL_FILTER_NETLINK } from '../../src/dataplane/filter.ts';
import type { FilterNetlink } from '../../src/dataplane/filter-iptables.ts';
import { OWNED_IPSETS } from '../../src/plan/filter-ipset.ts';
import { FILTER_DRIFT_BACKSTOP_MS, watchFilterDrift } from '../../src/dataplane/filter-drift-watch.ts';
import { nftChangeSource } from '../../src/dataplane/nft-change-source.ts';
import { pino } from 'pino';
import { waitFor } from '../helpers/wait.ts';
import { recordingRunner, resetNamespace, SAMPLE } from './filter-support.ts';

await runInsideNetns(import.meta.url, 'e-drift');
requireTools('iptables-legacy', 'iptables-nft', 'ipset', 'nft');

test('drift() is empty before the first apply and while intact, names what drifted, and never writes', async () => {
  await resetNamespace();
  try {
    const rec = recordingRunner();
    const driver = await createFilterDriver('iptables', { run: rec.run, iptablesMode: 'nft' });
    assert.deepEqual(await driver.drift(), [], 'nothing applied yet: nothing to compare with');
    await driver.apply(SAMPLE);
    assert.deepEqual(await driver.drift(), []);
    await run('iptables-nft', ['-t', 'nat', '-I', 'POSTROUTING', '1', '-j', 'MASQUERADE']);
    await run('ipset', ['del', 'SUBMARINER-REMOTECIDRS', '10.2.0.0/16']);
    rec.reset();
    const drift = await driver.drift();
    assert.deepEqual(rec.writes(), [], 'a drift check only reads');
    assert.equal(drift.length, 2);
    assert.match(drift[0]!, /^ipset members: add SUBMARINER-REMOTECIDRS 10\.2\.0\.0\/16$/);
    assert.match(drift[1]!, /^iptables-nft-restore: \*nat; -D POSTROUTING -m comment --comment "seaway:[^"]+" -j SUBMARINER-POSTROUTING; -I POSTROUTING 1 -m comment --comment "seaway:[^"]+" -j SUBMARINER-POSTROUTING$/);
    assert.equal((await driver.apply(SAMPLE)).writes, 2);
    assert.deepEqual(await driver.drift(), []);
  } finally {
    await resetNamespace();
  }
});

test('nftables: a FORWARD DROP policy set after seaway started shows as drift (the iptables shim is missing)', async () => {
  await resetNamespace();
  try {
    const driver = await createFilterDriver('nftables', { run, iptablesMode: 'nft' });
    await driver.apply(SAMPLE);
    assert.deepEqual(await driver.drift(), []);
    await run('iptables-nft', ['-P', 'FORWARD', 'DROP']);
    const drift = await driver.drift();
    assert.ok(drift.some((line) => /^iptables-nft-restore: \*filter; :SUBMARINER-INPUT/.test(line)), drift.join('\n'));
    await driver.apply(SAMPLE);
    assert.deepEqual(await driver.drift(), []);
  } finally {
    await resetNamespace();
  }
});

for (const backend of ['iptables', 'nftables'] as const) {
  test(`${backend}: with the drift watch waking a repair, each kind of drift is repaired within 5 s`, async () => {
    await resetNamespace();
    const driver = await createFilterDriver(backend, { run, iptablesMode: 'nft' });
    await driver.apply(SAMPLE);
    // The reconcile loop in miniature: a drift report runs one apply.
    let repairing = Promise.resolve();
    const watch = watchFilterDrift(driver, { intervalMs: 2000, onDrift: () => { repairing = repairing.then(() => driver.apply(SAMPLE)).then(() => {}); } });
    const drifts: [string, string[]][] = backend === 'iptables'
      ? [
          ['jump deleted', ['iptables-nft', '-t', 'nat', '-D', 'POSTROUTING', '1']],
          ['masquerade inserted ahead of the jump', ['iptables-nft', '-t', 'nat', '-I', 'POSTROUTING', '1', '-s', '10.1.0.0/16', '!', '-d', '10.1.0.0/16', '-j', 'MASQUERADE']],
          ['chain flushed', ['iptables-nft', '-F', 'SUBMARINER-FORWARD']],
          ['set emptied', ['ipset', 'flush', 'SUBMARINER-LOCALCIDRS']],
        ]
      : [
          ['table deleted', ['nft', 'delete', 'table', 'ip', 'seaway']],
          ['chain flushed', ['nft', 'flush', 'chain', 'ip', 'seaway', 'nat_postrouting']],
          ['set emptied', ['nft', 'flush', 'set', 'ip', 'seaway', 'remotecidrs']],
        ];
    try {
      for (const [kind, command] of drifts) {
        await run(command[0]!, command.slice(1));
        assert.notDeepEqual(await driver.drift(), [], `${kind}: drifted`);
        await waitFor(`${kind} repaired`, async () => (await driver.drift()).length === 0, { timeoutMs: 5000, intervalMs: 50 });
      }
    } finally {
      await watch.close();
      await repairing;
      await resetNamespace();
    }
  });
}

test('nftables with nft-flavoured iptables: nf_tables notifications start the drift check at once, with polling only as a 30 s backstop', async () => {
  await resetNamespace();
  const driver = await createFilterDriver('nftables', { run, iptablesMode: 'nft' });
  await driver.apply(SAMPLE);
  assert.deepEqual(driver.notifications(), { tables: ['ip seaway', 'ip filter'], complete: true });
  let checks = 0;
  const reports: string[][] = [];
  const counting = { drift: async () => { checks++; return driver.drift(); } };
  const changes = nftChangeSource(() => driver.notifications().tables, pino({ level: 'silent' }));
  assert.ok(changes, 'this kernel offers nf_tables notifications');
  const watch = watchFilterDrift(counting, { intervalMs: FILTER_DRIFT_BACKSTOP_MS, changes, onDrift: (lines) => reports.push(lines) });
  try {
    await run('nft', ['add', 'table', 'ip', 'someone-else']);
    await run('nft', ['add', 'set', 'ip', 'someone-else', 'x', '{ type ipv4_addr; }']);
    await run('nft', ['delete', 'element', 'ip', 'seaway', 'remotecidrs', '{ 10.2.0.0/16 }']);
    // The poll is a 30 s backstop: a report at all within the hang bound can only come from a notification.
    await waitFor('the drift report', () => reports.length > 0, { timeoutMs: 2000, intervalMs: 10 });
    assert.ok(reports[0]!.some((line) => /^nft set elements: add element ip seaway remotecidrs { 10\.2\.0\.0\/16 }$/.test(line)), reports[0]!.join('\n'));
    assert.equal(checks, 1, 'one check, for seaway\'s table; the other table\'s changes start none');
    await driver.apply(SAMPLE);
    await run('iptables-nft', ['-P', 'FORWARD', 'DROP']);
    await waitFor('a check for the DROP policy in ip filter', () => reports.length > 1, { timeoutMs: 2000, intervalMs: 10 });
    await driver.apply(SAMPLE);
    assert.equal(driver.notifications().complete, false, 'with the iptables shim (and its ipsets) in use, the filter is also polled');
  } finally {
    await watch.close();
    await resetNamespace();
  }
});

test('iptables backend, nft flavour: a masquerade inserted ahead of seaway\'s jump is reported through nf_tables notifications; the ipsets still need the poll', async () => {
  await resetNamespace();
  const driver = await createFilterDriver('iptables', { run, iptablesMode: 'nft' });
  await driver.apply(SAMPLE);
  const notifications = driver.notifications();
  assert.equal(notifications.complete, false, 'ipsets send no notifications');
  const reports: string[][] = [];
  const changes = nftChangeSource(() => driver.notifications().tables, pino({ level: 'silent' }));
  assert.ok(changes, 'this kernel offers nf_tables notifications');
  // No poll within the test: only notifications can start a check.
  const watch = watchFilterDrift(driver, { intervalMs: 3_600_000, changes, onDrift: (lines) => reports.push(lines) });
  try {
    await run('iptables-nft', ['-t', 'nat', '-I', 'POSTROUTING', '1', '-s', '10.1.0.0/16', '!', '-d', '10.1.0.0/16', '-j', 'MASQUERADE']);
    await waitFor('the drift report', () => reports.length > 0, { timeoutMs: 2000, intervalMs: 10 });
    assert.match(reports[0]!.join('\n'), /-I POSTROUTING 1 -m comment --comment "seaway:[^"]+" -j SUBMARINER-POSTROUTING/);
  } finally {
    await watch.close();
    await resetNamespace();
  }
});

for (const variant of [{ backend: 'iptables', mode: 'nft' }, { backend: 'iptables', mode: 'legacy' }, { backend: 'nftables', mode: 'nft' }] as const) {
  test(`${variant.backend} (${variant.mode}): vouched for, a change of set members only is written as its difference with no read; the kernel then holds exactly it; a rule change is read and written as usual`, async () => {
    await resetNamespace();
    try {
      const rec = recordingRunner();
      const reads: string[] = [];
      const memberWrites: string[] = [];
      const netlink: FilterNetlink = {
        iptablesTableNames: (mode) => { reads.push('iptablesTableNames'); return KERNEL_FILTER_NETLINK.iptablesTableNames(mode); },
        nftTableState: (...args: Parameters<FilterNetlink['nftTableState']>) => { reads.push('nftTableState'); return KERNEL_FILTER_NETLINK.nftTableState(...args); },
        ipsetList: (...args: Parameters<FilterNetlink['ipsetList']>) => { reads.push('ipsetList'); return KERNEL_FILTER_NETLINK.ipsetList(...args); },
        ipsetCreate: KERNEL_FILTER_NETLINK.ipsetCreate,
        nftFillAndWake: KERNEL_FILTER_NETLINK.nftFillAndWake,
        nftChangeElements: (changes) => { memberWrites.push(...changes.map((c) => `${c.set} +${c.add.join(',')} -${c.del.join(',')}`)); return KERNEL_FILTER_NETLINK.nftChangeElements(changes); },
        ipsetChangeMembers: (set, add, del) => { memberWrites.push(`${set} +${add.join(',')} -${del.join(',')}`); return KERNEL_FILTER_NETLINK.ipsetChangeMembers(set, add, del); },
      };
      const driver = await createFilterDriver(variant.backend, { run: rec.run, iptablesMode: variant.mode, netlink });
      await driver.apply(SAMPLE);
      rec.reset();
      reads.length = 0;
      memberWrites.length = 0;
      const changed = { ...SAMPLE, remoteCidrs: ['10.2.0.0/16', '10.4.0.0/24'], nodeAddresses: [...SAMPLE.nodeAddresses, '192.168.1.12/32'] };
      const applied = await driver.apply(changed, true);
      assert.equal(applied.writes, 1, 'one write: the sets\' members, or the nft sets\' elements');
      assert.equal(rec.calls.length, 0, `no process: ${rec.calls.map((c) => c.file).join(', ')}`);
      assert.deepEqual(memberWrites, variant.backend === 'iptables'
        ? ['SUBMARINER-REMOTECIDRS +10.4.0.0/24 -10.3.0.0/24,10.3.1.5/32', 'SEAWAY-NODEADDRS +192.168.1.12/32 -']
        : ['remotecidrs +10.4.0.0/24 -10.3.0.0/24,10.3.1.5/32', 'nodeaddrs +192.168.1.12/32 -'], 'the members that changed, over netlink');
      assert.deepEqual(reads, [], 'no netlink read either');
      assert.deepEqual(await driver.drift(), [], 'a full read finds the kernel exactly as a full apply would have left it');

      rec.reset();
      const rulesChanged = { ...changed, cniAddress: '10.1.0.2' };
      await driver.apply(rulesChanged, true);
      assert.ok(rec.calls.some((c) => !rec.writes().includes(c)) || reads.length > 0, 'a rule change is not vouched for: the kernel is read');
      assert.deepEqual(await driver.drift(), []);
    } finally {
      await resetNamespace();
    }
  });
}

test('iptables: vouched for, a change of 3,000 set members goes over netlink in lists, with no process; the kernel then holds exactly it', async () => {
  await resetNamespace();
  try {
    const rec = recordingRunner();
    const memberWrites: string[] = [];
    const netlink: FilterNetlink = { ...KERNEL_FILTER_NETLINK, ipsetChangeMembers: (set, add, del) => { memberWrites.push(`${set} +${add.length} -${del.length}`); return KERNEL_FILTER_NETLINK.ipsetChangeMembers(set, add, del); } };
    const driver = await createFilterDriver('iptables', { run: rec.run, iptablesMode: 'nft', netlink });
    await driver.apply(SAMPLE);
    rec.reset();
    memberWrites.length = 0;
    // 3,000 new /24s in address order (as validation leaves them): more than one netlink message holds.
    const many = Array.from({ length: 3000 }, (_, i) => `10.${50 + (i >> 8)}.${i & 255}.0/24`);
    const applied = await driver.apply({ ...SAMPLE, remoteCidrs: [...SAMPLE.remoteCidrs, ...many] }, true);
    assert.equal(applied.writes, 1);
    assert.deepEqual(memberWrites, ['SUBMARINER-REMOTECIDRS +3000 -0'], 'the members, over netlink');
    assert.deepEqual(rec.calls, [], 'no process: no restore and no read');
    assert.deepEqual(await driver.drift(), [], 'a full read finds the kernel exactly as a full apply would have left it');
  } finally {
    await resetNamespace();
  }
});

test('iptables: from empty, the sets are made and their 5,000 members written over netlink, with no ipset process and sets as the tool makes them; with netlink refusing either, one ipset restore writes the whole script', async () => {
  const remoteCidrs = Array.from({ length: 5000 }, (_, i) => `10.${64 + (i >> 8)}.${i & 255}.0/24`);
  for (const refusing of ['none', 'creates', 'members'] as const) {
    await resetNamespace();
    try {
      const rec = recordingRunner();
      const netlink: FilterNetlink = {
        ...KERNEL_FILTER_NETLINK,
        ...(refusing === 'creates' ? { ipsetCreate: async () => false } : {}),
        ...(refusing === 'members' ? { ipsetChangeMembers: async () => false } : {}),
      };
      const driver = await createFilterDriver('iptables', { run: rec.run, iptablesMode: 'nft', netlink });
      await driver.apply({ ...SAMPLE, remoteCidrs });
      const restores = rec.calls.filter((c) => c.file === 'ipset' && c.args.includes('restore')).map((c) => c.input!.split('\n').filter(Boolean));
      if (refusing === 'none') {
        assert.deepEqual(restores, [], `${refusing}: no ipset process`);
      } else {
        assert.equal(restores.length, 1, `${refusing}: one restore`);
        assert.equal(restores[0]!.filter((line) => line.startsWith('create ')).length, OWNED_IPSETS.length, `${refusing}: it makes the sets`);
        assert.equal(restores[0]!.filter((line) => line.startsWith('add SUBMARINER-REMOTECIDRS ')).length, 5000, `${refusing}: and fills them`);
      }
      const saved = (await run('ipset', ['save', 'SUBMARINER-REMOTECIDRS'])).stdout.split('\n');
      assert.equal(saved.filter((line) => line.startsWith('add ')).length, 5000, refusing);
      assert.match(saved[0]!, /^create SUBMARINER-REMOTECIDRS hash:net family inet hashsize 8192 maxelem 262144 bucketsize 12 initval 0x[0-9a-f]+$/, `${refusing}: the set as ipset -exist create makes it`);
      assert.deepEqual(await driver.drift(), [], `${refusing}: a full read finds the kernel exactly as planned`);
    } finally {
      await resetNamespace();
    }
  }
});
