import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCleanup } from '../../src/cleanup.ts';
import { createRoutingDataplane } from '../../src/dataplane/routing-dataplane.ts';
import { emptyReport, type ApplyReport } from '../../src/dataplane/report.ts';
import type { Rtnetlink } from '../../src/kernel/rtnetlink.ts';
import type { Sysctls } from '../../src/kernel/sysctl.ts';
import { captureLogger } from '../helpers/capture-logger.ts';

function capture() {
  const { logger, lines } = captureLogger();
  return { logger, errors: () => lines.filter((l) => l.level === 50), last: () => lines.at(-1) };
}

/** A routing report with failures, whatever fields the report type grows. */
function reportWith(...failures: Array<{ kind: 'route' | 'link'; object: string; reason: string; code?: string }>): ApplyReport {
  const report = emptyReport();
  for (const failure of failures) report.failures.push({ ...failure, key: failure.object } as ApplyReport['failures'][number]);
  return report;
}

test('every part runs and succeeds: exit 0, nothing logged as an error', async () => {
  const { logger, errors, last } = capture();
  const code = await runCleanup({ routing: async () => ({ ...emptyReport(), writes: 7 }), filter: async () => ({ writes: 3 }) }, logger);
  assert.equal(code, 0);
  assert.deepEqual(errors(), []);
  assert.equal(last()?.msg, 'cleanup finished');
  assert.equal(last()?.routingWrites, 7);
  assert.equal(last()?.filterWrites, 3);
});

test('the routing part throwing does not stop the packet filter part; exit 1 and the failure named', async () => {
  const { logger, errors, last } = capture();
  let filterRan = false;
  const code = await runCleanup({
    routing: async () => { throw new Error('netlink socket: EPROTONOSUPPORT'); },
    filter: async () => { filterRan = true; return { writes: 4 }; },
  }, logger);
  assert.equal(code, 1);
  assert.ok(filterRan);
  assert.equal(errors().length, 1);
  assert.equal(errors()[0]?.part, 'routing');
  assert.match(String(errors()[0]?.reason), /EPROTONOSUPPORT/);
  assert.equal(last()?.msg, 'cleanup finished with failures');
  assert.equal(last()?.failures, 1);
  assert.equal(last()?.filterWrites, 4);
});

test('failures of every part are collected and each reported on its own line', async () => {
  const { logger, errors, last } = capture();
  const code = await runCleanup({
    routing: async () => reportWith(
      { kind: 'route', object: 'route 10.2.0.0/16 table 100', reason: 'EBUSY from the kernel', code: 'EBUSY' },
      { kind: 'link', object: 'link vx-submariner', reason: 'EPERM from the kernel', code: 'EPERM' },
    ),
    filter: async () => { throw new Error('iptables-restore: exit 4: resource problem'); },
  }, logger);
  assert.equal(code, 1);
  assert.deepEqual(errors().map((l) => l.msg), [
    'cleanup could not remove route 10.2.0.0/16 table 100',
    'cleanup could not remove link vx-submariner',
    'cleanup could not remove the packet filter',
  ]);
  assert.equal(errors()[0]?.code, 'EBUSY');
  assert.match(String(errors()[2]?.reason), /iptables-restore/);
  assert.equal(last()?.failures, 3);
});

/** A netlink socket that fails every request, as after a binding error. */
function brokenRtnetlink(calls: string[]): Rtnetlink {
  return new Proxy({}, {
    get: (_target, name) => async () => { calls.push(String(name)); throw new Error('netlink: ENOBUFS'); },
  }) as Rtnetlink;
}

test('routing dataplane cleanup: an unreadable sysctl state file does not keep the routes, and a netlink error does not keep the sysctls', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'seaway-cleanup-'));
  try {
    // A directory where the state file should be: it cannot be read, nor moved aside as a corrupt file.
    const statePath = join(dir, 'sysctl-originals.json');
    await mkdir(statePath);
    const calls: string[] = [];
    const sysctls: Sysctls = { read: async () => '1', write: async () => {} };
    const { logger, errors } = capture();
    const dataplane = createRoutingDataplane({ rtnl: brokenRtnetlink(calls), sysctls, sysctlStatePath: statePath, logger });
    let filterRan = false;
    const code = await runCleanup({ routing: () => dataplane.cleanup(), filter: async () => { filterRan = true; return { writes: 0 }; } }, logger);
    assert.equal(code, 1);
    assert.ok(calls.length > 0, 'routing cleanup was attempted after the sysctl part failed');
    assert.ok(filterRan);
    assert.deepEqual(errors().map((l) => [l.kind, l.msg]), [
      ['sysctl', 'cleanup could not remove sysctls seaway replaced'],
      ['route', 'cleanup could not remove seaway routes, rules and links'],
    ]);
    assert.match(String(errors()[0]?.reason), /EISDIR/);
    assert.match(String(errors()[1]?.reason), /ENOBUFS/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
