import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExecError, type ExecOptions } from '../../src/kernel/exec.ts';
import { iptablesRestore, withXtablesLock, XtablesLockBusyError, type ProcessRunner } from '../../src/kernel/iptables.ts';
import { ObjectTable } from '../../src/reconcile/object-table.ts';
import { filterComponent } from '../../src/reconcile/components.ts';
import { reconcileComponent } from '../../src/reconcile/component.ts';
import { describeStatus } from '../../src/reconcile/status-report.ts';
import type { FilterDriver } from '../../src/dataplane/filter.ts';

const BUSY_STDERR = 'Another app is currently holding the xtables lock. Stopped waiting after 5s.\n';
const failing = (code: number, stderr: string): ProcessRunner => async (file, args) => { throw new ExecError([file, ...args], { code, stdout: '', stderr }); };

test('every process the runner starts gets the lock file as XTABLES_LOCKFILE, over whatever environment it had', async () => {
  const seen: Array<ExecOptions | undefined> = [];
  const runner = withXtablesLock(async (_file, _args, options) => { seen.push(options); return { code: 0, stdout: '', stderr: '' }; }, '/host/run/xtables.lock');
  await runner('iptables-legacy-restore', [], { input: 'x' });
  await runner('ipset', [], { env: { PATH: '/sbin', XTABLES_LOCKFILE: '/elsewhere' } });
  assert.equal(seen[0]?.env?.XTABLES_LOCKFILE, '/host/run/xtables.lock');
  assert.equal(seen[0]?.input, 'x', 'other options pass through');
  assert.deepEqual(seen[1]?.env, { PATH: '/sbin', XTABLES_LOCKFILE: '/host/run/xtables.lock' });
});

test('iptables-restore giving up on a held xtables lock is EBUSY, saying the write stopped there; other failures stay as they were', async () => {
  await assert.rejects(iptablesRestore(failing(4, BUSY_STDERR), 'legacy', '*nat\nCOMMIT\n'), (error: unknown) => {
    assert.ok(error instanceof XtablesLockBusyError);
    assert.equal(error.code, 'EBUSY');
    assert.match(error.message, /held the xtables lock for more than 5 s: the write stopped there, retrying \(Another app is currently holding the xtables lock/);
    return true;
  });
  await assert.rejects(iptablesRestore(failing(4, 'iptables-restore: line 2 failed\n'), 'legacy', ''), (error: unknown) => error instanceof ExecError, 'exit 4 for another reason');
  await assert.rejects(iptablesRestore(failing(1, BUSY_STDERR), 'legacy', ''), (error: unknown) => error instanceof ExecError);
});

test('while the lock is held the filter object is failed with EBUSY and readiness says why, until a retry gets through', async () => {
  let now = 0;
  let held = true;
  const table = new ObjectTable({ backoff: { minMs: 200, maxMs: 30_000 }, now: () => now, random: () => 1 });
  const driver = {
    backend: 'iptables' as const, iptablesMode: 'legacy' as const, writes: 0,
    observe: async () => { throw new Error('unused'); }, drift: async () => [], cleanup: async () => ({ writes: 0 }),
    notifications: () => ({ tables: [], complete: false }),
    apply: async () => {
      if (held) await iptablesRestore(failing(4, BUSY_STDERR), 'legacy', '');
      return { writes: 1 };
    },
  } satisfies FilterDriver;
  const component = filterComponent(driver);
  const desired = { localCidrs: ['10.1.0.0/16'], remoteCidrs: ['10.2.0.0/16'], nodeAddresses: ['192.168.1.10/32'], vxlanDevice: 'vx-submariner', vxlanPort: 4800, mssClamp: { mode: 'pmtu' as const } };
  await reconcileComponent(table, component, desired);
  const [status] = table.list();
  assert.equal(status!.state, 'failed');
  assert.equal(status!.code, 'EBUSY');
  assert.match(describeStatus(status!), /^packet filter \(iptables-legacy\) for 1 local and 1 remote CIDRs failed: another process \(kube-proxy, the CNI\?\) held the xtables lock .*\(EBUSY\) \(attempt 1, next at /);
  held = false;
  now = status!.retryAt!;
  assert.equal((await reconcileComponent(table, component, desired)).writes, 1);
  assert.equal(table.list()[0]!.state, 'programmed');
});
