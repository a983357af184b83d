import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyIptablesPipelined, describeWrite, runFilterWrites, type FilterNetlink, type FilterWrite } from '../../src/dataplane/filter-iptables.ts';
import type { ProcessRunner } from '../../src/kernel/iptables.ts';
import { validateFilter, type FilterInput } from '../../src/plan/filter-input.ts';
import { waitFor } from '../helpers/wait.ts';

/** A host whose netlink takes member changes or not (per set), or throws; every call recorded. */
function fakeHost(netlinkTakes: boolean | ((set: string) => boolean)) {
  const calls: string[] = [];
  const run: ProcessRunner = async (file, args, options) => {
    calls.push(`${file} ${args.join(' ')} <<${options?.input ?? ''}`);
    return { code: 0, stdout: '', stderr: '' };
  };
  const netlink: FilterNetlink = {
    iptablesTableNames: async () => { throw new Error('not a read this test expects'); },
    nftTableState: async () => { throw new Error('not a read this test expects'); },
    ipsetList: async () => { throw new Error('not a read this test expects'); },
    ipsetCreate: async (sets) => {
      calls.push(`netlink create ${sets.map((s) => s.set).join(',')}`);
      return typeof netlinkTakes === 'function' ? sets.every((s) => netlinkTakes(s.set)) : netlinkTakes;
    },
    nftChangeElements: async (changes) => {
      calls.push(`netlink nft ${changes.map((c) => `${c.set} +${c.add.join(',')} -${c.del.join(',')}`).join(' ')}`);
      return typeof netlinkTakes === 'function' ? changes.every((c) => netlinkTakes(c.set)) : netlinkTakes;
    },
    ipsetChangeMembers: async (set, add, del) => {
      calls.push(`netlink ${set} +${add.join(',')} -${del.join(',')}`);
      return typeof netlinkTakes === 'function' ? netlinkTakes(set) : netlinkTakes;
    },
    nftFillAndWake: async (fill) => {
      calls.push(`netlink nft fill and wake ${fill.map((f) => `${f.set} +${f.add.join(',')}`).join(' ')}`);
      return typeof netlinkTakes === 'function' ? fill.every((f) => netlinkTakes(f.set)) : netlinkTakes;
    },
  };
  return { calls, run, netlink };
}

const script = 'add S 10.4.0.0/24\ndel S 10.3.0.0/24\n';
const memberChange: FilterWrite = { tool: 'ipset', script, members: [{ set: 'S', add: ['10.4.0.0/24'], del: ['10.3.0.0/24'] }] };

test('a change of set members goes over netlink, with no process', async () => {
  const host = fakeHost(true);
  assert.deepEqual((await runFilterWrites(host.run, [memberChange], host.netlink)).map(describeWrite), ['ipset members: add S 10.4.0.0/24; del S 10.3.0.0/24']);
  assert.deepEqual(host.calls, ['netlink S +10.4.0.0/24 -10.3.0.0/24']);
});

test('when netlink refuses or cannot answer, the same change is written with ipset restore', async () => {
  const host = fakeHost(false);
  // Named for what wrote it, so the pass's account of its changes shows the fallback.
  assert.deepEqual((await runFilterWrites(host.run, [memberChange], host.netlink)).map(describeWrite), ['ipset restore: add S 10.4.0.0/24; del S 10.3.0.0/24']);
  assert.deepEqual(host.calls, ['netlink S +10.4.0.0/24 -10.3.0.0/24', `ipset -exist restore <<${script}`]);
});

test('a write without members (a set to rebuild or destroy) goes to ipset restore without trying netlink', async () => {
  const host = fakeHost(true);
  await runFilterWrites(host.run, [{ tool: 'ipset', script: 'destroy S\n' }], host.netlink);
  assert.deepEqual(host.calls, ['ipset -exist restore <<destroy S\n']);
});

test('sets to make: made over netlink, then their members; either refused, the whole script is restored', async () => {
  const whole = 'create S hash:net\nadd S 10.4.0.0/24\n';
  const fresh: FilterWrite = { tool: 'ipset', script: whole, creates: [{ set: 'S', hashsize: 1024, maxelem: 262144 }], members: [{ set: 'S', add: ['10.4.0.0/24'], del: [] }] };
  const taken = fakeHost(true);
  assert.deepEqual((await runFilterWrites(taken.run, [fresh], taken.netlink)).map(describeWrite), ['ipset sets and members: create S hash:net; add S 10.4.0.0/24']);
  assert.deepEqual(taken.calls, ['netlink create S', 'netlink S +10.4.0.0/24 -']);
  const refused = fakeHost(false);
  assert.deepEqual((await runFilterWrites(refused.run, [fresh], refused.netlink)).map(describeWrite), ['ipset restore: create S hash:net; add S 10.4.0.0/24']);
  assert.deepEqual(refused.calls, ['netlink create S', `ipset -exist restore <<${whole}`], 'the sets not made: no member is tried');
  const membersRefused = fakeHost(true);
  membersRefused.netlink.ipsetChangeMembers = async () => false;
  await runFilterWrites(membersRefused.run, [fresh], membersRefused.netlink);
  assert.deepEqual(membersRefused.calls, ['netlink create S', `ipset -exist restore <<${whole}`]);
  const throwing = fakeHost(true);
  throwing.netlink.ipsetCreate = async () => { throw new Error('netlink broke'); };
  await runFilterWrites(throwing.run, [fresh], throwing.netlink);
  assert.deepEqual(throwing.calls, [`ipset -exist restore <<${whole}`], 'a throw is a refusal');
});

test('one set refused, or a call that throws: the restore writes the whole change, after every netlink call has settled', async () => {
  const twoSets: FilterWrite = { tool: 'ipset', script, members: [{ set: 'A', add: ['10.4.0.0/24'], del: [] }, { set: 'B', add: [], del: ['10.3.0.0/24'] }] };
  const refused = fakeHost((set) => set === 'A');
  await runFilterWrites(refused.run, [twoSets], refused.netlink);
  assert.deepEqual(refused.calls, ['netlink A +10.4.0.0/24 -', 'netlink B + -10.3.0.0/24', `ipset -exist restore <<${script}`]);
  const throwing = fakeHost((set) => { if (set === 'A') throw new Error('netlink broke'); return true; });
  await runFilterWrites(throwing.run, [twoSets], throwing.netlink);
  assert.deepEqual(throwing.calls, ['netlink A +10.4.0.0/24 -', 'netlink B + -10.3.0.0/24', `ipset -exist restore <<${script}`]);
});

test('nft set elements go over netlink, with no process; refused, nft writes the script', async () => {
  const elements = [{ set: 'remotecidrs', add: ['10.9.0.0/16'], del: ['10.3.1.5/32'] }];
  const nftScript = 'flush set ip seaway remotecidrs\nadd element ip seaway remotecidrs { 10.2.0.0/16, 10.9.0.0/16 }\n';
  const write: FilterWrite = { tool: 'nft', script: nftScript, elements };
  const taken = fakeHost(true);
  assert.deepEqual((await runFilterWrites(taken.run, [write], taken.netlink)).map(describeWrite), ['nft set elements: flush set ip seaway remotecidrs; add element ip seaway remotecidrs { 10.2.0.0/16, 10.9.0.0/16 }']);
  assert.deepEqual(taken.calls, ['netlink nft remotecidrs +10.9.0.0/16 -10.3.1.5/32']);
  const refused = fakeHost(false);
  assert.deepEqual((await runFilterWrites(refused.run, [write], refused.netlink)).map(describeWrite), ['nft -f: flush set ip seaway remotecidrs; add element ip seaway remotecidrs { 10.2.0.0/16, 10.9.0.0/16 }']);
  assert.deepEqual(refused.calls, ['netlink nft remotecidrs +10.9.0.0/16 -10.3.1.5/32', `nft -f - <<${nftScript}`]);
});

test('a table staged: nft makes it dormant, netlink fills and wakes it; refused or throwing, nft writes the whole table over the dormant one', async () => {
  const whole = 'add table ip seaway\ndelete table ip seaway\nadd table ip seaway\nadd set ip seaway remotecidrs { type ipv4_addr; flags interval; elements = { 10.2.0.0/16 }; }\n';
  const skeleton = 'add table ip seaway\ndelete table ip seaway\nadd table ip seaway { flags dormant; }\nadd set ip seaway remotecidrs { type ipv4_addr; flags interval; }\n';
  const write: FilterWrite = { tool: 'nft', script: whole, staged: { skeleton, fill: [{ set: 'remotecidrs', add: ['10.2.0.0/16'] }] } };
  const taken = fakeHost(true);
  assert.deepEqual((await runFilterWrites(taken.run, [write], taken.netlink)).map(describeWrite), ['nft -f dormant, sets filled and woken: add table ip seaway; delete table ip seaway; add table ip seaway; ... (4 lines)']);
  assert.deepEqual(taken.calls, [`nft -f - <<${skeleton}`, 'netlink nft fill and wake remotecidrs +10.2.0.0/16'], 'the skeleton first: the fill needs its sets');
  const refused = fakeHost(false);
  assert.deepEqual((await runFilterWrites(refused.run, [write], refused.netlink)).map(describeWrite), ['nft -f: add table ip seaway; delete table ip seaway; add table ip seaway; ... (4 lines)']);
  assert.deepEqual(refused.calls, [`nft -f - <<${skeleton}`, 'netlink nft fill and wake remotecidrs +10.2.0.0/16', `nft -f - <<${whole}`]);
  const throwing = fakeHost(() => { throw new Error('netlink broke'); });
  await runFilterWrites(throwing.run, [write], throwing.netlink);
  assert.deepEqual(throwing.calls, [`nft -f - <<${skeleton}`, 'netlink nft fill and wake remotecidrs +10.2.0.0/16', `nft -f - <<${whole}`], 'a throw is a refusal');
  // nft refusing the dormant table (an nft that cannot make one): the whole table is tried, and its error is the one reported.
  const noDormant = fakeHost(true);
  const run: ProcessRunner = async (file, args, options) => {
    if (options?.input === skeleton) { noDormant.calls.push('nft refused the skeleton'); throw new Error('nft -f - exited 1: syntax error'); }
    return noDormant.run(file, args, options);
  };
  noDormant.netlink.nftFillAndWake = async (_fill, tableMade) => { await tableMade; noDormant.calls.push('fill sent'); return true; };
  assert.deepEqual((await runFilterWrites(run, [write], noDormant.netlink)).map(describeWrite), ['nft -f: add table ip seaway; delete table ip seaway; add table ip seaway; ... (4 lines)']);
  assert.deepEqual(noDormant.calls, ['nft refused the skeleton', `nft -f - <<${whole}`], 'no fill sent for a table nft did not make');
});

test('describeWrite: the first three lines and the count, blank lines and COMMIT left out, for scripts of every shape', () => {
  // The reference: every line split out, as describeWrite once did it.
  const reference = (text: string) => {
    const lines = text.split('\n').filter((l) => l !== '' && l !== 'COMMIT');
    return `${lines.slice(0, 3).join('; ')}${lines.length > 3 ? `; ... (${lines.length} lines)` : ''}`;
  };
  const pieces = ['', 'COMMIT', '*filter', '-A X -j ACCEPT', 'COMMITTED', ' COMMIT', 'add S 10.1.0.0/24'];
  let state = 11;
  const random = (n: number) => { state = (Math.imul(state, 1103515245) + 12345) >>> 0; return state % n; };
  for (let i = 0; i < 500; i++) {
    const text = Array.from({ length: random(9) }, () => pieces[random(pieces.length)]!).join('\n') + (random(2) === 0 ? '\n' : '');
    assert.equal(describeWrite({ tool: 'iptables', mode: 'nft', script: text }), `iptables-nft-restore: ${reference(text)}`, JSON.stringify(text));
  }
  const big = Array.from({ length: 10_000 }, (_, i) => `add S 10.${i >> 8}.${i & 255}.0/24`).join('\n');
  assert.equal(describeWrite({ tool: 'ipset', script: big }), 'ipset restore: add S 10.0.0.0/24; add S 10.0.1.0/24; add S 10.0.2.0/24; ... (10000 lines)');
});

/**
 * A host for the iptables backend's pipelined pass: no table of either flavour, no set; netlink
 * takes everything. Calls are recorded as they start, and the member change of `held` waits until
 * released, so a test sees what started while it was still going in.
 */
function pipelinedHost(held: string) {
  const calls: string[] = [];
  const release = Promise.withResolvers<void>();
  const run: ProcessRunner = async (file) => {
    calls.push(file);
    return { code: 0, stdout: '', stderr: '' };
  };
  const netlink: FilterNetlink = {
    iptablesTableNames: async () => [],
    nftTableState: async () => 'absent',
    ipsetList: async () => new Map(),
    ipsetCreate: async (sets) => { calls.push(`create ${sets.map((s) => s.set).join(',')}`); return true; },
    ipsetChangeMembers: async (set) => {
      calls.push(`members ${set}`);
      if (set === held) await release.promise;
      calls.push(`members ${set} done`);
      return true;
    },
    nftChangeElements: async () => { throw new Error('not a write this test expects'); },
    nftFillAndWake: async () => { throw new Error('not a write this test expects'); },
  };
  return { calls, run, netlink, release: release.resolve };
}

const pipelinedInput: FilterInput = validateFilter({
  localCidrs: ['10.1.0.0/16'], remoteCidrs: ['10.2.0.0/16', '10.3.0.0/16'], nodeAddresses: ['192.168.1.1/32'],
  vxlanDevice: 'vx-submariner', vxlanPort: 4800, mssClamp: { mode: 'pmtu' },
  echoLimit: { address: '10.1.0.1', exempt: ['192.168.9.1/32'], perSecond: 10, burst: 20 },
});

test('pipelined iptables pass: sets made and the exempt senders whole before the rules; the other sets fill while the restore runs; no iptables-save where no table is', async () => {
  const host = pipelinedHost('SUBMARINER-REMOTECIDRS');
  const applying = applyIptablesPipelined(host.run, 'nft', () => pipelinedInput, async () => null, host.netlink);
  await waitFor('the remote CIDRs going in', () => host.calls.includes('members SUBMARINER-REMOTECIDRS'), { timeoutMs: 5000, intervalMs: 1 });
  const restore = host.calls.indexOf('iptables-nft-restore');
  assert.ok(restore >= 0, `the restore started while the remote CIDRs are still going in: ${host.calls.join(', ')}`);
  assert.ok(host.calls.indexOf('create SUBMARINER-LOCALCIDRS,SUBMARINER-REMOTECIDRS,SEAWAY-NODEADDRS,SEAWAY-ECHO-EXEMPT') < restore, 'every set made first');
  assert.ok(host.calls.indexOf('members SEAWAY-ECHO-EXEMPT done') < restore, 'the exempt senders whole before any rule matches the remote ranges');
  assert.ok(host.calls.indexOf('members SUBMARINER-REMOTECIDRS') > restore, 'the big set fills beside the restore');
  host.release();
  const { writes } = await applying;
  assert.deepEqual(writes.map((w) => w.tool).sort(), ['ipset', 'iptables']);
  assert.ok(!host.calls.includes('iptables-nft-save'), 'the kernel said the flavour holds no table');
});

test('pipelined iptables pass: the rules\' planning failing still lets the sets\' fill end before the error is reported', async () => {
  const host = pipelinedHost('SUBMARINER-REMOTECIDRS');
  host.netlink.iptablesTableNames = async () => ['filter'];
  const failing: ProcessRunner = async (file, args, options) => {
    if (file === 'iptables-nft-save') { host.calls.push(file); throw new Error('iptables-nft-save: broken'); }
    return host.run(file, args, options);
  };
  let settled = false;
  const applying = applyIptablesPipelined(failing, 'nft', () => pipelinedInput, async () => null, host.netlink).finally(() => { settled = true; });
  applying.catch(() => { /* asserted below */ });
  await waitFor('the remote CIDRs going in', () => host.calls.includes('members SUBMARINER-REMOTECIDRS'), { timeoutMs: 5000, intervalMs: 1 });
  assert.equal(settled, false, 'not reported while a write is still going');
  assert.ok(!host.calls.includes('iptables-nft-restore'), 'no rule written');
  host.release();
  await assert.rejects(applying, /iptables-nft-save: broken/);
  assert.ok(host.calls.includes('members SUBMARINER-REMOTECIDRS done'));
});

test('the fill of a staged table is encoded once nft has its input closed, not before (nft waits for its end of file on this thread\'s event loop)', async () => {
  const skeleton = 'add table ip seaway { flags dormant; }\n';
  const write: FilterWrite = { tool: 'nft', script: 'whole\n', staged: { skeleton, fill: [{ set: 'remotecidrs', add: ['10.2.0.0/16'] }] } };
  const host = fakeHost(true);
  const closeInput = Promise.withResolvers<void>();
  const exited = Promise.withResolvers<void>();
  const run: ProcessRunner = async (file, args, options) => {
    host.calls.push(`${file} started`);
    void closeInput.promise.then(() => { host.calls.push('input closed'); options?.onInputClosed?.(); });
    await exited.promise;
    return { code: 0, stdout: '', stderr: '' };
  };
  const writing = runFilterWrites(run, [write], host.netlink);
  await waitFor('nft started', () => host.calls.includes('nft started'), { timeoutMs: 5000, intervalMs: 1 });
  // Turns of the event loop while the input stays open: the fill waits.
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(host.calls, ['nft started']);
  closeInput.resolve();
  await waitFor('the fill', () => host.calls.some((c) => c.startsWith('netlink nft fill')), { timeoutMs: 5000, intervalMs: 1 });
  assert.deepEqual(host.calls, ['nft started', 'input closed', 'netlink nft fill and wake remotecidrs +10.2.0.0/16']);
  exited.resolve();
  assert.equal((await writing).length, 1);
});

test('pipelined iptables pass: the sets filling beside the restore wait for its input to be closed', async () => {
  const host = pipelinedHost('none');
  const closeInput = Promise.withResolvers<void>();
  const run: ProcessRunner = async (file, _args, options) => {
    host.calls.push(file);
    if (file === 'iptables-nft-restore') {
      await closeInput.promise;
      host.calls.push('input closed');
      options?.onInputClosed?.();
      await new Promise<void>(() => { /* never exits: only the input's close can let the fill go */ });
    }
    return { code: 0, stdout: '', stderr: '' };
  };
  void applyIptablesPipelined(run, 'nft', () => pipelinedInput, async () => null, host.netlink);
  await waitFor('the restore started', () => host.calls.includes('iptables-nft-restore'), { timeoutMs: 5000, intervalMs: 1 });
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  assert.ok(!host.calls.includes('members SUBMARINER-REMOTECIDRS'), `no remote CIDR before the restore's input is closed: ${host.calls.join(', ')}`);
  closeInput.resolve();
  await waitFor('the remote CIDRs', () => host.calls.includes('members SUBMARINER-REMOTECIDRS done'), { timeoutMs: 5000, intervalMs: 1 });
  assert.ok(host.calls.indexOf('input closed') < host.calls.indexOf('members SUBMARINER-REMOTECIDRS'));
});
