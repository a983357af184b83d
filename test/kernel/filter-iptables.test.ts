import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runInsideNetns } from '../helpers/in-netns.ts';
import { requireTools } from '../helpers/prereq.ts';
import { run } from '../../src/kernel/exec.ts';
import { createFilterDriver, detectIptablesMode } from '../../src/dataplane/filter.ts';
import { IPTABLES_TABLES, renderIptables } from '../../src/plan/filter-iptables.ts';
import { parseRule } from '../../src/plan/iptables-rule.ts';
import { validateFilter } from '../../src/plan/filter-input.ts';
import { chainRules, installForeignRules, ipsetMembers, recordingNetlink, recordingRunner, resetNamespace, SAMPLE, snapshot } from './filter-support.ts';

await runInsideNetns(import.meta.url, 'e-ipt');
requireTools('iptables-legacy', 'iptables-nft', 'ipset', 'nft');

const rendered = renderIptables(validateFilter(SAMPLE));

for (const mode of ['legacy', 'nft'] as const) {
  const other = mode === 'legacy' ? 'nft' : 'legacy';

  test(`iptables-${mode}: apply writes exactly seaway's chains with jumps first, then a second apply writes nothing`, async () => {
    await resetNamespace();
    try {
      await installForeignRules(mode);
      const rec = recordingRunner();
      const driver = await createFilterDriver('iptables', { run: rec.run, iptablesMode: mode });
      const first = await driver.apply(SAMPLE);
      assert.equal(first.writes, 2, 'the sets (over netlink) and one iptables-restore with a section per table');
      assert.equal(rec.writes().length, 1, 'one process: the iptables-restore');
      assert.match(rec.writes()[0]!.input ?? '', /^\*mangle\n[^*]*COMMIT\n\*nat\n[^*]*COMMIT\n\*filter\n[^*]*COMMIT\n$/, 'each table its own committed section');
      for (const table of ['nat', 'filter', 'mangle'] as const) {
        // Compared by their marks, as the driver does: how an iptables version spells a rule back is its own business.
        const marks = (rules: readonly string[]) => rules.map((r) => parseRule(r).mark);
        for (const chain of rendered[table].chains) assert.deepEqual(marks(await chainRules(mode, table, chain.name)), chain.rules.map((r) => r.mark), `${table} ${chain.name}: seaway's rules, in order`);
        for (const jump of rendered[table].jumps) {
          const hookRules = await chainRules(mode, table, jump.hook);
          assert.equal(parseRule((jump.position === 'first' ? hookRules[0] : hookRules.at(-1)) ?? '-A X').mark, jump.mark, `${table} ${jump.hook}: seaway's jump ${jump.position}`);
          assert.equal(hookRules.filter((r) => r.endsWith(`-j ${jump.chain}`)).length, 1);
        }
      }
      assert.deepEqual(await chainRules(mode, 'nat', 'CNI-MASQ'), ['-A CNI-MASQ ! -d 10.1.0.0/16 -j MASQUERADE'], 'foreign rules kept');
      assert.deepEqual(await ipsetMembers('SUBMARINER-LOCALCIDRS'), ['10.1.0.0/16', '10.96.0.0/12']);
      assert.deepEqual(await ipsetMembers('SUBMARINER-REMOTECIDRS'), ['10.2.0.0/16', '10.3.0.0/24', '10.3.1.5']);
      const otherSave = (await run(`iptables-${other}-save`, [])).stdout;
      assert.doesNotMatch(otherSave, /SUBMARINER/, `nothing written with iptables-${other}`);

      rec.reset();
      assert.deepEqual(await driver.apply(SAMPLE), { writes: 0 });
      assert.deepEqual(rec.writes(), [], 'a pass with nothing to change invokes no writing program');
      assert.equal(driver.writes, 2);
    } finally {
      await resetNamespace();
    }
  });

  test(`iptables-${mode}: each kind of drift is detected and repaired, touching only what drifted`, async () => {
    await resetNamespace();
    try {
      await installForeignRules(mode);
      const rec = recordingRunner();
      const nl = recordingNetlink();
      const driver = await createFilterDriver('iptables', { run: rec.run, iptablesMode: mode, netlink: nl.netlink });
      await driver.apply(SAMPLE);
      const ipt = (...args: string[]) => run(`iptables-${mode}`, args);
      // What repairs it: a process whose input matches, or (a set's members) one change over netlink and no process.
      const repairs: [string, () => Promise<unknown>, RegExp | { members: string }][] = [
        ['jump deleted', () => ipt('-t', 'nat', '-D', 'POSTROUTING', '1'), /^\*nat\n/],
        ['the CNI\'s masquerade of pod traffic inserted ahead of the jump', () => ipt('-t', 'nat', '-I', 'POSTROUTING', '1', '-j', 'CNI-MASQ'), /^\*nat\n/],
        ['chain flushed', () => ipt('-t', 'filter', '-F', 'SUBMARINER-FORWARD'), /^\*filter\n:SUBMARINER-FORWARD/],
        ['forward jump behind a catch-all DROP', () => ipt('-I', 'FORWARD', '1', '-j', 'DROP'), /^\*filter\n-D FORWARD -m comment/],
        ['set emptied', () => run('ipset', ['flush', 'SUBMARINER-REMOTECIDRS']), { members: 'SUBMARINER-REMOTECIDRS +10.2.0.0/16,10.3.0.0/24,10.3.1.5/32 -' }],
        ['mangle jump duplicated', () => ipt('-t', 'mangle', '-A', 'POSTROUTING', '-j', 'SUBMARINER-POSTROUTING'), /^\*mangle\n/],
        ['a rule appended to seaway\'s chain', () => ipt('-t', 'nat', '-A', 'SUBMARINER-POSTROUTING', '-j', 'MASQUERADE'), /^\*nat\n:SUBMARINER-POSTROUTING/],
      ];
      const firstJumps = IPTABLES_TABLES.flatMap((table) => rendered[table].jumps.filter((j) => j.position === 'first').map((j) => [table, j] as const));
      for (const [kind, drift, script] of repairs) {
        await drift();
        rec.reset();
        nl.reset();
        const result = await driver.apply(SAMPLE);
        const writes = rec.writes();
        assert.equal(result.writes, 1, `${kind}: repaired with one write`);
        if (script instanceof RegExp) {
          assert.equal(writes.length, 1);
          assert.deepEqual(nl.memberWrites, []);
          assert.match(writes[0]!.input ?? '', script, `${kind}: the write touches only the drifted part`);
        } else {
          assert.deepEqual(writes, [], `${kind}: no process`);
          assert.deepEqual(nl.memberWrites, [script.members], `${kind}: the write touches only the drifted part`);
        }
        for (const [table, jump] of firstJumps) {
          const rules = await chainRules(mode, table, jump.hook);
          assert.equal(rules[0], jump.text, `${kind}: ${table} ${jump.hook} jump is first again`);
          assert.equal(rules.filter((r) => r.endsWith(`-j ${jump.chain}`)).length, 1, `${kind}: exactly one jump`);
        }
        assert.deepEqual(await driver.apply(SAMPLE), { writes: 0 }, `${kind}: intact after the repair`);
      }
      assert.deepEqual((await chainRules(mode, 'nat', 'POSTROUTING')).slice(1), ['-A POSTROUTING -j CNI-MASQ', '-A POSTROUTING -s 10.1.0.0/16 -j CNI-MASQ'], 'the CNI rule inserted later stays, behind the jump');
      assert.equal((await chainRules(mode, 'filter', 'FORWARD'))[1], '-A FORWARD -j DROP');

      // Foreign rules that cannot break the datapath are no drift, wherever they go.
      for (const [kind, args] of [
        ['a masquerade of other sources first in nat POSTROUTING', ['-t', 'nat', '-I', 'POSTROUTING', '1', '-s', '192.0.2.0/24', '-j', 'MASQUERADE']],
        ['a UDP-only RETURN first in mangle POSTROUTING (the clamp is for TCP)', ['-t', 'mangle', '-I', 'POSTROUTING', '1', '-p', 'udp', '-j', 'RETURN']],
        ['a policy DROP of one remote pod first in FORWARD', ['-I', 'FORWARD', '1', '-s', '10.2.0.5/32', '-d', '10.1.0.7/32', '-j', 'DROP']],
        ['the host\'s DROP of UDP 4800 first in INPUT (the INPUT jump is appended)', ['-I', 'INPUT', '1', '-p', 'udp', '--dport', '4800', '-j', 'DROP']],
      ] as const) {
        await ipt(...args);
        rec.reset();
        assert.deepEqual(await driver.apply(SAMPLE), { writes: 0 }, `${kind}: no write`);
        assert.deepEqual(await driver.drift(), [], `${kind}: no drift`);
      }
    } finally {
      await resetNamespace();
    }
  });

  test(`iptables-${mode}: a changed desired state rewrites only the chains and set members that differ`, async () => {
    await resetNamespace();
    try {
      const rec = recordingRunner();
      const nl = recordingNetlink();
      const driver = await createFilterDriver('iptables', { run: rec.run, iptablesMode: mode, netlink: nl.netlink });
      await driver.apply(SAMPLE);
      rec.reset();
      nl.reset();
      await driver.apply({ ...SAMPLE, remoteCidrs: ['10.2.0.0/16', '10.4.0.0/16'] });
      assert.deepEqual(rec.writes(), [], 'no process writes');
      assert.deepEqual(nl.memberWrites, ['SUBMARINER-REMOTECIDRS +10.4.0.0/16 -10.3.0.0/24,10.3.1.5/32'], 'only the members that differ, over netlink');
      assert.deepEqual(await ipsetMembers('SUBMARINER-REMOTECIDRS'), ['10.2.0.0/16', '10.4.0.0/16']);
      rec.reset();
      await driver.apply({ ...SAMPLE, remoteCidrs: ['10.2.0.0/16', '10.4.0.0/16'], mssClamp: { mode: 'fixed', mss: 1300 } });
      assert.equal(rec.writes().length, 1);
      assert.match(rec.writes()[0]!.input ?? '', /^\*mangle\n:SUBMARINER-POSTROUTING - \[0:0\]\n.*--set-mss 1300/);
    } finally {
      await resetNamespace();
    }
  });

  test(`iptables-${mode}: cleanup restores the exact state from before, twice in a row is fine`, async () => {
    await resetNamespace();
    try {
      await installForeignRules(mode);
      const before = await snapshot();
      const rec = recordingRunner();
      const driver = await createFilterDriver('iptables', { run: rec.run, iptablesMode: mode });
      await driver.apply(SAMPLE);
      assert.notEqual(await snapshot(), before);
      const first = await driver.cleanup();
      assert.equal(first.writes, 2, 'one iptables-restore (a section per table), then one ipset restore');
      assert.equal(await snapshot(), before);
      assert.deepEqual(await driver.cleanup(), { writes: 0 });
      assert.equal(await snapshot(), before);
    } finally {
      await resetNamespace();
    }
  });
}

test('cleanup where seaway never ran changes nothing', async () => {
  await resetNamespace();
  try {
    await installForeignRules('nft');
    const before = await snapshot();
    const driver = await createFilterDriver('iptables', { run });
    assert.deepEqual(await driver.cleanup(), { writes: 0 });
    assert.deepEqual(await driver.apply(null), { writes: 0 });
    assert.equal(await snapshot(), before);
  } finally {
    await resetNamespace();
  }
});

test('iptables flavour detection follows the host rules, nft when there are none', async () => {
  await resetNamespace();
  try {
    assert.equal((await detectIptablesMode(run)).mode, 'nft', 'empty host');
    await installForeignRules('legacy');
    assert.equal((await detectIptablesMode(run)).mode, 'legacy');
    const driver = await createFilterDriver('auto', { run });
    assert.equal(driver.backend, 'iptables');
    assert.equal(driver.iptablesMode, 'legacy');
    await driver.apply(SAMPLE);
    assert.equal((await detectIptablesMode(run)).mode, 'legacy', 'seaway\'s own rules do not sway detection');
    await driver.cleanup();
    await resetNamespace();
    await installForeignRules('nft');
    assert.equal((await detectIptablesMode(run)).mode, 'nft');
  } finally {
    await resetNamespace();
  }
});
