/**
 * The xtables lock with real iptables-legacy and a real flock holder, in a throwaway namespace with a
 * lock file of the test's own (XTABLES_LOCKFILE, as seaway's --xtables-lock sets it): another
 * process holds it, and writes, until the test lets it go; seaway's filter write fails with EBUSY
 * naming the lock (nothing written), and its retry, once the lock is free, writes on top of what the
 * holder wrote.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInsideNetns } from '../helpers/in-netns.ts';
import { requireTools } from '../helpers/prereq.ts';
import { waitFor } from '../helpers/wait.ts';
import { run } from '../../src/kernel/exec.ts';
import { withXtablesLock } from '../../src/kernel/iptables.ts';
import { createFilterDriver } from '../../src/dataplane/filter.ts';
import { chainRules, installForeignRules, resetNamespace, SAMPLE } from './filter-support.ts';

await runInsideNetns(import.meta.url, 'e-xtlock');
requireTools('iptables-legacy', 'iptables-legacy-save', 'ipset', 'nft', 'flock');

test('iptables-legacy: another process holding the xtables lock: seaway\'s write fails with EBUSY and writes nothing; its retry once the lock is free lands on top of the holder\'s own write', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'seaway-xtlock-'));
  const lock = join(dir, 'xtables.lock');
  // The holder's own iptables calls must not wait on the lock it holds itself.
  const asHolder = { env: { ...process.env, XTABLES_LOCKFILE: join(dir, 'holder.lock') } };
  let holder: ReturnType<typeof spawn> | undefined;
  try {
    await resetNamespace();
    await installForeignRules('legacy');
    const driver = await createFilterDriver('iptables', { run: withXtablesLock(run, lock), iptablesMode: 'legacy' });
    await driver.apply(SAMPLE);

    // The holder keeps the lock until its stdin closes (cat ends): released when the test says, not on a timer.
    holder = spawn('flock', ['--exclusive', lock, 'cat'], { stdio: ['pipe', 'ignore', 'ignore'] });
    const released = once(holder, 'exit');
    await waitFor('the holder to hold the lock', async () => (await run('flock', ['--nonblock', lock, 'true'], { allowFailure: true })).code !== 0, { timeoutMs: 5000, intervalMs: 20 });
    // Under its lock, the holder (kube-proxy, say) writes a rule of its own and seaway's nat jump is lost.
    await run('iptables-legacy', ['-t', 'nat', '-A', 'POSTROUTING', '-s', '10.9.0.0/16', '-j', 'MASQUERADE'], asHolder);
    await run('iptables-legacy', ['-t', 'nat', '-D', 'POSTROUTING', '1'], asHolder);
    assert.notDeepEqual(await driver.drift(), [], 'seaway has something to repair');

    await assert.rejects(driver.apply(SAMPLE), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'EBUSY');
      assert.match(error.message, /another process \(kube-proxy, the CNI\?\) held the xtables lock for more than 5 s: the write stopped there, retrying/);
      return true;
    });
    assert.ok((await chainRules('legacy', 'nat', 'POSTROUTING')).every((r) => !r.endsWith('-j SUBMARINER-POSTROUTING')), 'nothing was written while the lock was held');

    holder.stdin?.end();
    await released;
    await driver.apply(SAMPLE);
    assert.deepEqual(await driver.drift(), [], 'repaired by the retry');
    const nat = await chainRules('legacy', 'nat', 'POSTROUTING');
    assert.match(nat[0] ?? '', /-j SUBMARINER-POSTROUTING$/, 'seaway\'s jump is first again');
    assert.ok(nat.includes('-A POSTROUTING -s 10.9.0.0/16 -j MASQUERADE'), 'the holder\'s own rule is still there: nothing was lost');
  } finally {
    holder?.kill('SIGKILL');
    await resetNamespace();
    await rm(dir, { recursive: true, force: true });
  }
});
