import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import assert from 'node:assert/strict';
import { runInsideNetns } from '../helpers/in-netns.ts';
import { requireTools } from '../helpers/prereq.ts';
import { run } from '../../src/kernel/exec.ts';
import type { ProcessRunner } from '../../src/kernel/iptables.ts';
import { createFilterDriver, KERNEL_FILTER_NETLINK } from '../../src/dataplane/filter.ts';
import type { FilterNetlink } from '../../src/dataplane/filter-iptables.ts';
import { parseNftJson, renderNft, renderNftTable } from '../../src/plan/filter-nft.ts';
import { renderIptables } from '../../src/plan/filter-iptables.ts';
import { validateFilter } from '../../src/plan/filter-input.ts';
import { chainRules, installForeignRules, recordingNetlink, recordingRunner, resetNamespace, SAMPLE, snapshot } from './filter-support.ts';

await runInsideNetns(import.meta.url, 'e-nft');
requireTools('nft', 'iptables-legacy', 'iptables-nft', 'ipset');

const rendered = renderNft(validateFilter(SAMPLE));
/** Only to end a test that would otherwise hang; the assertions say what went wrong. */
const HANG_BOUND_MS = 5000;
const listTable = async () => parseNftJson((await run('nft', ['-j', 'list', 'table', 'ip', 'seaway'])).stdout);
/** seaway's table awake (its chains see packets) and holding exactly the rendered sets and rules. */
async function assertAwakeAndWhole(): Promise<void> {
  assert.equal(await KERNEL_FILTER_NETLINK.nftTableState('ip', 'seaway'), 'active');
  const seen = await listTable();
  assert.deepEqual(new Map([...seen.sets].map(([k, v]) => [k, [...v.members]])), rendered.sets);
  for (const c of rendered.chains) assert.deepEqual(seen.chains.get(c.name)?.rules, c.rules, c.name);
}

test('nftables: apply creates one table with exactly the rendered sets and chains; a second apply writes nothing', async () => {
  await resetNamespace();
  try {
    const rec = recordingRunner();
    const driver = await createFilterDriver('nftables', { run: rec.run, iptablesMode: 'nft' });
    assert.equal((await driver.apply(SAMPLE)).writes, 1);
    const seen = await listTable();
    assert.deepEqual(new Map([...seen.sets].map(([k, v]) => [k, [...v.members]])), rendered.sets);
    assert.deepEqual([...seen.chains.keys()], rendered.chains.map((c) => c.name));
    for (const c of rendered.chains) {
      const s = seen.chains.get(c.name)!;
      assert.deepEqual({ type: s.type, hook: s.hook, prio: s.prio, policy: s.policy, rules: s.rules }, { type: c.type, hook: c.hook, prio: c.prio, policy: c.policy, rules: c.rules });
    }
    assert.equal((await run('nft', ['list', 'tables'])).stdout.trim(), 'table ip seaway', 'no iptables shim on a host without iptables rules');
    rec.reset();
    assert.deepEqual(await driver.apply(SAMPLE), { writes: 0 });
    assert.deepEqual(rec.writes(), []);
  } finally {
    await resetNamespace();
  }
});

test('nftables: a table made anew is staged and ends awake and whole; netlink refusing the fill, nft writes the whole table over the dormant one', async () => {
  for (const fillTaken of [true, false]) {
    await resetNamespace();
    try {
      const rec = recordingRunner();
      const fills: string[] = [];
      const netlink: FilterNetlink = {
        ...KERNEL_FILTER_NETLINK,
        nftFillAndWake: async (fill, tableMade) => {
          fills.push(fill.map((f) => f.set).join(','));
          await tableMade;
          // What nft made before the fill is sent: the table dormant, its sets there and empty.
          assert.equal(await KERNEL_FILTER_NETLINK.nftTableState('ip', 'seaway'), 'dormant');
          assert.deepEqual([...(await listTable()).sets.values()].map((set) => set.members.size), [0, 0, 0]);
          return fillTaken ? KERNEL_FILTER_NETLINK.nftFillAndWake(fill, tableMade) : false;
        },
      };
      const driver = await createFilterDriver('nftables', { run: rec.run, iptablesMode: 'nft', netlink });
      const applied = await driver.apply(SAMPLE);
      assert.deepEqual(fills, ['localcidrs,remotecidrs,nodeaddrs']);
      assert.equal(applied.writes, 1);
      assert.match(applied.changes?.[0] ?? '', fillTaken ? /^nft -f dormant, sets filled and woken: / : /^nft -f: /);
      assert.equal(rec.writes().length, fillTaken ? 1 : 2, fillTaken ? 'one nft process, the skeleton' : 'the skeleton, then the whole table');
      await assertAwakeAndWhole();
      assert.deepEqual(await driver.apply(SAMPLE), { writes: 0 });
    } finally {
      await resetNamespace();
    }
  }
});

test('nftables: a dormant table left by a staged write cut off before its fill (a crash) is replaced whole by the next agent', async () => {
  await resetNamespace();
  try {
    const skeleton = renderNftTable(rendered, true);
    await run('nft', ['-f', '-'], { input: skeleton });
    assert.equal(await KERNEL_FILTER_NETLINK.nftTableState('ip', 'seaway'), 'dormant');
    const rec = recordingRunner();
    const driver = await createFilterDriver('nftables', { run: rec.run, iptablesMode: 'nft' });
    const applied = await driver.apply(SAMPLE);
    assert.equal(applied.writes, 1);
    assert.equal(rec.writes()[0]?.input, renderNftTable(rendered), 'the whole table in one nft transaction');
    await assertAwakeAndWhole();
    assert.deepEqual(await driver.apply(SAMPLE), { writes: 0 });
  } finally {
    await resetNamespace();
  }
});

test('nftables: each kind of drift is repaired in one transaction that touches only what drifted', async () => {
  await resetNamespace();
  try {
    const rec = recordingRunner();
    const nl = recordingNetlink();
    const driver = await createFilterDriver('nftables', { run: rec.run, iptablesMode: 'nft', netlink: nl.netlink });
    await driver.apply(SAMPLE);
    const intact = await snapshot();
    // The repair: an nft script matching the first pattern and not the second, and the set
    // elements written over netlink (a table made anew is staged: nft makes it dormant with empty
    // sets, netlink fills and wakes it; a set's elements alone: one change and no process).
    const drifts: [string, string[], RegExp | null, string[], RegExp | null][] = [
      ['table deleted', ['delete', 'table', 'ip', 'seaway'], /^add table ip seaway\ndelete table ip seaway\nadd table ip seaway \{ flags dormant; \}\n/, [
        'localcidrs +10.1.0.0/16,10.96.0.0/12 -', 'remotecidrs +10.2.0.0/16,10.3.0.0/24,10.3.1.5/32 -', 'nodeaddrs +192.168.1.10/32,192.168.1.11/32 -',
      ], /element/],
      ['set emptied', ['flush', 'set', 'ip', 'seaway', 'remotecidrs'], null, ['remotecidrs +10.2.0.0/16,10.3.0.0/24,10.3.1.5/32 -'], null],
      ['chain flushed', ['flush', 'chain', 'ip', 'seaway', 'filter_forward'], /^flush chain ip seaway filter_forward\n/, [], /nat_postrouting|element|table/],
      ['chain deleted', ['delete', 'chain', 'ip', 'seaway', 'filter_input'], /^add chain ip seaway filter_input/, [], /nat_postrouting|element|delete table/],
    ];
    for (const [kind, command, expected, members, unexpected] of drifts) {
      if (kind === 'chain deleted') await run('nft', ['flush', 'chain', 'ip', 'seaway', 'filter_input']);
      await run('nft', command);
      rec.reset();
      nl.reset();
      assert.equal((await driver.apply(SAMPLE)).writes, 1, kind);
      if (expected) {
        const script = rec.writes()[0]?.input ?? '';
        assert.match(script, expected, `${kind}: repair script`);
        if (unexpected) assert.doesNotMatch(script, unexpected, `${kind}: nothing intact rewritten`);
      } else {
        assert.deepEqual(rec.writes(), [], `${kind}: no process`);
      }
      assert.deepEqual(nl.memberWrites, members, `${kind}: the set elements over netlink`);
      const seen = await listTable();
      for (const c of rendered.chains) assert.deepEqual(seen.chains.get(c.name)?.rules, c.rules, `${kind}: ${c.name} rules`);
      // A re-created chain is listed last by nft; everything else must be byte for byte as before.
      if (kind !== 'chain deleted') assert.equal(await snapshot(), intact, `${kind}: back to the intact state`);
      assert.deepEqual(await driver.apply(SAMPLE), { writes: 0 });
    }
  } finally {
    await resetNamespace();
  }
});

for (const mode of ['legacy', 'nft'] as const) {
  test(`nftables with an iptables-${mode} FORWARD DROP host: adds the iptables accept shim, first in FORWARD and last in INPUT; cleanup restores the exact state`, async () => {
    await resetNamespace();
    try {
      await installForeignRules(mode);
      const before = await snapshot();
      const rec = recordingRunner();
      const driver = await createFilterDriver('nftables', { run: rec.run, iptablesMode: mode });
      const first = await driver.apply(SAMPLE);
      assert.equal(first.writes, 3, 'nft table, ipsets, iptables filter table');
      const [inputJump, forwardJump] = renderIptables(validateFilter(SAMPLE)).filter.jumps.map((j) => j.text);
      assert.equal((await chainRules(mode, 'filter', 'FORWARD'))[0], forwardJump);
      assert.deepEqual(await chainRules(mode, 'filter', 'SUBMARINER-FORWARD'), [renderIptables(validateFilter(SAMPLE)).filter.chains[1]!.rules[0]!.text], 'the shim accepts only what leaves through vx-submariner');
      assert.equal((await chainRules(mode, 'filter', 'INPUT')).at(-1), inputJump, 'the INPUT shim is appended: the host\'s own rules come first');
      assert.deepEqual(await chainRules(mode, 'nat', 'SUBMARINER-POSTROUTING'), [], 'no iptables nat rules: nft does the NAT exemption');
      assert.deepEqual(await driver.apply(SAMPLE), { writes: 0 });
      await run(`iptables-${mode}`, ['-I', 'FORWARD', '1', '-j', 'DROP']);
      const moved = await driver.apply(SAMPLE);
      assert.equal(moved.writes, 1, 'shim jump moved back in front of a catch-all DROP');
      assert.deepEqual(moved.rivals, ['filter FORWARD: -A FORWARD -j DROP'], 'the apply names the rule that put it out of place');
      assert.match(moved.changes?.[0] ?? '', new RegExp(`^iptables-${mode}-restore: \\*filter; -D FORWARD -m comment`));
      assert.equal((await chainRules(mode, 'filter', 'FORWARD'))[0], forwardJump);
      await run(`iptables-${mode}`, ['-D', 'FORWARD', '-j', 'DROP']);
      assert.ok((await driver.cleanup()).writes >= 3);
      assert.equal(await snapshot(), before);
      assert.deepEqual(await driver.cleanup(), { writes: 0 });
      assert.equal(await snapshot(), before);
    } finally {
      await resetNamespace();
    }
  });
}

test('nftables: the table is written without waiting for iptables to be read; the shim follows the table', async () => {
  const bound = new AbortController();
  await resetNamespace();
  try {
    await installForeignRules('nft');
    const events: string[] = [];
    let tableWriteBegun!: () => void;
    const tableWriteBegins = new Promise<void>((resolve) => { tableWriteBegun = resolve; });
    // iptables-save is held until the table's write has begun: a pass that waited for the read
    // before writing the table would find it released only by the bound, and its order would show it.
    const gated: ProcessRunner = async (file, args, options) => {
      const name = file === 'nft' && args.includes('-f') ? 'nft -f' : file;
      events.push(`start ${name}`);
      if (name === 'nft -f') tableWriteBegun();
      const result = await run(file, args, options);
      if (file.endsWith('-save')) await Promise.race([tableWriteBegins, sleep(HANG_BOUND_MS, undefined, { signal: bound.signal }).catch(() => {})]);
      events.push(`end ${name}`);
      return result;
    };
    // The shim's sets are made and filled over netlink: each call is an ipset write in the order too.
    const timed = <A extends unknown[]>(call: (...args: A) => Promise<boolean>) => async (...args: A) => {
      events.push('start ipset');
      try { return await call(...args); } finally { events.push('end ipset'); }
    };
    const netlink: FilterNetlink = { ...KERNEL_FILTER_NETLINK, ipsetCreate: timed(KERNEL_FILTER_NETLINK.ipsetCreate), ipsetChangeMembers: timed(KERNEL_FILTER_NETLINK.ipsetChangeMembers) };
    const driver = await createFilterDriver('nftables', { run: gated, iptablesMode: 'nft', netlink });
    assert.equal((await driver.apply(SAMPLE)).writes, 3, 'nft table, ipsets, iptables filter table');
    const at = (event: string) => {
      const index = events.indexOf(event);
      assert.ok(index >= 0, `${event} in ${events.join(', ')}`);
      return index;
    };
    assert.ok(at('start nft -f') < at('end iptables-nft-save'), `the table's write began while iptables was read: ${events.join(', ')}`);
    assert.ok(at('end nft -f') < at('start ipset'), `the shim's sets after the table: ${events.join(', ')}`);
    assert.ok(events.lastIndexOf('end ipset') < at('start iptables-nft-restore'), `the shim's rules after its sets: ${events.join(', ')}`);
    assert.equal((await chainRules('nft', 'filter', 'SUBMARINER-FORWARD')).length, 1, 'the shim is in place');
  } finally {
    bound.abort();
    await resetNamespace();
  }
});

test('nftables: switching backends removes the other backend\'s leftovers', async () => {
  await resetNamespace();
  try {
    const before = await snapshot();
    const ipt = await createFilterDriver('iptables', { run, iptablesMode: 'nft' });
    await ipt.apply(SAMPLE);
    const nft = await createFilterDriver('nftables', { run, iptablesMode: 'nft' });
    await nft.apply(SAMPLE);
    assert.doesNotMatch((await run('iptables-nft-save', [])).stdout, /SUBMARINER/, 'iptables chains of the earlier backend removed');
    assert.equal((await run('ipset', ['list', '-n'])).stdout.trim(), '', 'and its sets');
    await ipt.apply(SAMPLE);
    assert.doesNotMatch((await run('nft', ['list', 'tables'])).stdout, /seaway/, 'and back: the nft table is removed');
    await ipt.cleanup();
    await run('nft', ['flush', 'ruleset']);
    assert.equal(await snapshot(), before);
  } finally {
    await resetNamespace();
  }
});

test('nftables: cleanup where seaway never ran writes nothing', async () => {
  await resetNamespace();
  try {
    const before = await snapshot();
    const driver = await createFilterDriver('nftables', { run, iptablesMode: 'nft' });
    assert.deepEqual(await driver.cleanup(), { writes: 0 });
    assert.equal(await snapshot(), before);
  } finally {
    await resetNamespace();
  }
});
