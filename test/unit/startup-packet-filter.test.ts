import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ExecOptions, ExecResult } from '../../src/kernel/exec.ts';
import type { FilterNetlink } from '../../src/dataplane/filter-iptables.ts';
import { createCheckedFilterDriver, sayingMemberFallbacks } from '../../src/startup/packet-filter.ts';
import { captureLogger } from '../helpers/capture-logger.ts';

/**
 * A host with no rules, sets or nft tables at all, where the listed tools fail as given (exit code
 * and stderr). Both its processes and its netlink reads are fakes, so no test here reads the real
 * kernel: the host's own sets, tables and privileges cannot change a result.
 */
function fakeHost(failing: Record<string, { code: number; stderr: string }> = {}) {
  const calls: string[] = [];
  const netlinkCalls: string[] = [];
  const runner = async (file: string, args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> => {
    const command = [file, ...args].join(' ');
    calls.push(command);
    const failure = failing[file];
    let result: ExecResult = { code: 0, stdout: '', stderr: '' };
    if (failure) result = { code: failure.code, stdout: '', stderr: failure.stderr };
    if (result.code !== 0 && !options.allowFailure) throw new Error(`${command} exited ${result.code}: ${result.stderr}`);
    return result;
  };
  const netlink: FilterNetlink = {
    iptablesTableNames: async (mode) => { netlinkCalls.push(`iptablesTableNames ${mode}`); return null; },
    nftTableState: async (family, table) => { netlinkCalls.push(`nftTableState ${family} ${table}`); return 'absent'; },
    ipsetList: async (names) => { netlinkCalls.push(`ipsetList ${names.join(' ')}`); return new Map(); },
    ipsetCreate: async (sets) => { netlinkCalls.push(`ipsetCreate ${sets.map((s) => s.set).join(',')}`); return false; },
    ipsetChangeMembers: async (set) => { netlinkCalls.push(`ipsetChangeMembers ${set}`); return false; },
    nftChangeElements: async () => { netlinkCalls.push('nftChangeElements'); return false; },
    nftFillAndWake: async () => { netlinkCalls.push('nftFillAndWake'); return false; },
  };
  return { runner, calls, netlink, netlinkCalls };
}

test('the checked driver is made when every detection tool works, and has read the chosen backend once', async () => {
  const host = fakeHost();
  const driver = await createCheckedFilterDriver('auto', host.runner, host.netlink);
  assert.equal(driver.backend, 'iptables');
  assert.equal(driver.iptablesMode, 'nft');
  // Detection reads both flavours (in parallel) and the nft tables; then one read of the chosen
  // backend: its flavour's tables asked of the kernel (this fake cannot tell), so its rules read
  // once, seaway's sets once, the presence of seaway's nft table once.
  assert.deepEqual(host.calls.slice(0, 2).sort(), ['iptables-legacy-save', 'iptables-nft-save']);
  assert.deepEqual(host.calls.slice(2), ['nft list tables', 'iptables-nft-save']);
  assert.deepEqual(host.netlinkCalls, ['iptablesTableNames nft', 'ipsetList SUBMARINER-LOCALCIDRS SUBMARINER-REMOTECIDRS SEAWAY-NODEADDRS SEAWAY-ECHO-EXEMPT', 'nftTableState ip seaway']);
});

test('a detection tool that runs but fails fails the attempt, naming each tool, sorted, with the nft hint for auto', async () => {
  const host = fakeHost({
    'nft': { code: 1, stderr: 'netlink: Error: cannot open\nsecond line' },
    'iptables-legacy-save': { code: 4, stderr: 'Another app is currently holding the xtables lock.' },
  });
  await assert.rejects(createCheckedFilterDriver('auto', host.runner, host.netlink), (error: Error) => {
    assert.equal(error.message, 'cannot tell which packet filter the host uses: '
      + 'iptables-legacy-save exited 4: Another app is currently holding the xtables lock.; nft list tables exited 1: netlink: Error: cannot open'
      + ' (--filter-backend / SEAWAY_FILTER_BACKEND set explicitly skips the nft check)');
    return true;
  });
});

test('an explicit backend still needs the iptables flavour detection to work, and has no nft hint', async () => {
  const host = fakeHost({ 'iptables-nft-save': { code: 1, stderr: 'iptables-nft-save: broken' } });
  await assert.rejects(createCheckedFilterDriver('iptables', host.runner, host.netlink), /^Error: cannot tell which packet filter the host uses: iptables-nft-save exited 1: iptables-nft-save: broken$/);
  assert.ok(!host.calls.includes('nft list tables'));
});

test('a missing detection tool is a flavour that is absent, not a failure', async () => {
  const host = fakeHost();
  const runner = async (file: string, args: readonly string[], options?: ExecOptions) => {
    if (file === 'iptables-legacy-save') throw Object.assign(new Error('spawn iptables-legacy-save ENOENT'), { code: 'ENOENT' });
    return host.runner(file, args, options);
  };
  assert.equal((await createCheckedFilterDriver('auto', runner, host.netlink)).iptablesMode, 'nft');
});

test('sets netlink could not make or whose members it could not write are said once per set and cause, and again when netlink takes them', async () => {
  const { logger, lines } = captureLogger();
  const answers: Array<boolean | Error> = [false, false, new Error('netlink timed out'), false, true, true, false];
  const inner: FilterNetlink = {
    iptablesTableNames: async () => null,
    nftTableState: async () => 'absent',
    ipsetList: async () => new Map(),
    ipsetCreate: async () => { const answer = answers.shift()!; if (answer instanceof Error) throw answer; return answer; },
    ipsetChangeMembers: async () => { const answer = answers.shift()!; if (answer instanceof Error) throw answer; return answer; },
    nftChangeElements: async () => { const answer = answers.shift()!; if (answer instanceof Error) throw answer; return answer; },
    nftFillAndWake: async () => { const answer = answers.shift()!; if (answer instanceof Error) throw answer; return answer; },
  };
  const netlink = sayingMemberFallbacks(inner, logger);
  const said = () => lines.map((l) => `${l.level === 40 ? 'warn' : 'info'} ${String(l.set)} ${String(l.cause ?? '')}`.trim());
  assert.equal(await netlink.ipsetChangeMembers('A', ['10.1.0.0/24'], []), false, 'the answer passes through');
  assert.equal(await netlink.ipsetChangeMembers('A', ['10.1.0.0/24'], []), false);
  assert.deepEqual(said(), ['warn A netlink refused it, did not answer, or cannot carry it'], 'the same set and cause: said once');
  await assert.rejects(netlink.ipsetChangeMembers('A', [], ['10.1.0.0/24']), /netlink timed out/, 'a throw passes through');
  assert.equal(await netlink.ipsetChangeMembers('B', ['10.2.0.0/24'], []), false);
  assert.equal(await netlink.ipsetChangeMembers('A', ['10.1.0.0/24'], []), true);
  assert.equal(await netlink.ipsetChangeMembers('A', ['10.1.0.0/24'], []), true);
  assert.equal(await netlink.ipsetChangeMembers('A', ['10.1.0.0/24'], []), false);
  assert.deepEqual(said(), [
    'warn A netlink refused it, did not answer, or cannot carry it',
    'warn A netlink timed out',
    'warn B netlink refused it, did not answer, or cannot carry it',
    'info A',
    'warn A netlink refused it, did not answer, or cannot carry it',
  ]);
  assert.match(lines[3]!.msg, /^set members are written over netlink again$/);
  assert.equal(answers.length, 0);

  // Sets netlink could not make: said for each set named, once; the making and the members are
  // separate streaks, so members written say nothing of the making, which a later success ends.
  lines.length = 0;
  answers.push(false, false, true, false, true);
  const sets = [{ set: 'C', hashsize: 1024, maxelem: 262144 }, { set: 'D', hashsize: 1024, maxelem: 262144 }];
  assert.equal(await netlink.ipsetCreate(sets), false);
  assert.equal(await netlink.ipsetCreate(sets), false);
  assert.equal(await netlink.ipsetChangeMembers('C', ['10.3.0.0/24'], []), true);
  assert.equal(await netlink.ipsetChangeMembers('C', ['10.3.0.0/24'], []), false);
  assert.equal(await netlink.ipsetCreate(sets), true);
  const cause = 'netlink refused it, did not answer, or cannot carry it';
  assert.deepEqual(said(), [`warn C ${cause}`, `warn D ${cause}`, `warn C ${cause}`, 'info C', 'info D']);
  assert.match(lines[0]!.msg, /^sets could not be made over netlink: ipset restore writes them instead$/);
  assert.match(lines[2]!.msg, /^set members could not be written over netlink/);
  assert.match(lines[3]!.msg, /^sets are made over netlink again$/);

  // nft set elements: the same, with nft -f as what writes them instead.
  lines.length = 0;
  answers.push(false, false, true);
  const changes = [{ set: 'remotecidrs', add: ['10.4.0.0/24'], del: [] }];
  assert.equal(await netlink.nftChangeElements(changes), false);
  assert.equal(await netlink.nftChangeElements(changes), false);
  assert.equal(await netlink.nftChangeElements(changes), true);
  assert.deepEqual(said(), [`warn remotecidrs ${cause}`, 'info remotecidrs']);
  assert.match(lines[0]!.msg, /^nft set elements could not be written over netlink: nft -f writes them instead$/);
  assert.match(lines[1]!.msg, /^nft set elements are written over netlink again$/);
  assert.equal(answers.length, 0);

  // A table's sets filled as it is made: each set said once, nft -f making the table instead.
  lines.length = 0;
  answers.push(false, false, true);
  const fill = [{ set: 'localcidrs', add: ['10.1.0.0/16'] }, { set: 'remotecidrs', add: ['10.4.0.0/24'] }];
  const made = Promise.resolve();
  assert.equal(await netlink.nftFillAndWake(fill, made), false);
  assert.equal(await netlink.nftFillAndWake(fill, made), false);
  assert.equal(await netlink.nftFillAndWake(fill, made), true);
  assert.deepEqual(said(), [`warn localcidrs ${cause}`, `warn remotecidrs ${cause}`, 'info localcidrs', 'info remotecidrs']);
  assert.match(lines[0]!.msg, /^nft sets could not be filled over netlink: nft -f writes them instead$/);
  assert.match(lines[2]!.msg, /^nft sets are filled over netlink again$/);
  assert.equal(answers.length, 0);

  // nft failing to make the table fails the fill too: that is nft's error, the pass's to say, not netlink's.
  lines.length = 0;
  const nftFailed = new Error('nft -f - exited 1: Error: Could not process rule');
  const notMade = Promise.reject(nftFailed);
  notMade.catch(() => {});
  answers.push(nftFailed);
  await assert.rejects(netlink.nftFillAndWake(fill, notMade), /Could not process rule/);
  assert.deepEqual(said(), [], 'nothing said of netlink');
  answers.push(new Error('netlink timed out'));
  await assert.rejects(netlink.nftFillAndWake(fill, made), /netlink timed out/);
  assert.deepEqual(said(), ['warn localcidrs netlink timed out', 'warn remotecidrs netlink timed out'], 'the table made, a throw is netlink\'s');
  assert.equal(answers.length, 0);
});
