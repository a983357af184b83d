import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runFilterWrites, type FilterNetlink, type FilterWrite } from '../../src/dataplane/filter-iptables.ts';
import type { ProcessRunner } from '../../src/kernel/iptables.ts';

/** A host whose netlink takes member changes or not; every call recorded. */
function fakeHost(netlinkTakes: boolean) {
  const calls: string[] = [];
  const run: ProcessRunner = async (file, args, options) => {
    calls.push(`${file} ${args.join(' ')} <<${options?.input ?? ''}`);
    return { code: 0, stdout: '', stderr: '' };
  };
  const netlink: FilterNetlink = {
    nftTablePresent: async () => { throw new Error('not a read this test expects'); },
    ipsetList: async () => { throw new Error('not a read this test expects'); },
    ipsetChangeMembers: async (set, add, del) => { calls.push(`netlink ${set} +${add.join(',')} -${del.join(',')}`); return netlinkTakes; },
  };
  return { calls, run, netlink };
}

const script = 'add S 10.4.0.0/24\ndel S 10.3.0.0/24\n';
const memberChange: FilterWrite = { tool: 'ipset', script, members: [{ set: 'S', add: ['10.4.0.0/24'], del: ['10.3.0.0/24'] }] };

test('a change of a few set members goes over netlink, with no process', async () => {
  const host = fakeHost(true);
  assert.equal(await runFilterWrites(host.run, [memberChange], host.netlink), 1);
  assert.deepEqual(host.calls, ['netlink S +10.4.0.0/24 -10.3.0.0/24']);
});

test('when netlink refuses or cannot answer, the same change is written with ipset restore', async () => {
  const host = fakeHost(false);
  assert.equal(await runFilterWrites(host.run, [memberChange], host.netlink), 1);
  assert.deepEqual(host.calls, ['netlink S +10.4.0.0/24 -10.3.0.0/24', `ipset -exist restore <<${script}`]);
});

test('a bulk change, or a write without members (a set to make), goes to ipset restore without trying netlink', async () => {
  const host = fakeHost(true);
  const many = Array.from({ length: 300 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
  await runFilterWrites(host.run, [{ tool: 'ipset', script: 'bulk\n', members: [{ set: 'S', add: many, del: [] }] }, { tool: 'ipset', script: 'create\n' }], host.netlink);
  assert.deepEqual(host.calls, ['ipset -exist restore <<bulk\n', 'ipset -exist restore <<create\n']);
});
