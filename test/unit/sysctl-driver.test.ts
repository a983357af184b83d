import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Sysctls } from '../../src/kernel/sysctl.ts';
import { createSysctlDriver } from '../../src/dataplane/sysctl-driver.ts';
import { captureLogger } from '../helpers/capture-logger.ts';

const RP = 'net/ipv4/conf/eth0/rp_filter';
const FORWARD = 'net/ipv4/ip_forward';

/** An in-memory /proc/sys; every write first checks what the state file holds at that moment. */
function fakeSysctls(initial: Record<string, string>, beforeWrite: (key: string) => Promise<void> = async () => {}) {
  const values = new Map(Object.entries(initial));
  const writes: string[] = [];
  const sysctls: Sysctls = {
    read: async (key) => values.get(key),
    async write(key, value) {
      await beforeWrite(key);
      if (!values.has(key)) throw new Error(`sysctl ${key}=${value}: ENOENT`);
      values.set(key, value);
      writes.push(`${key}=${value}`);
    },
  };
  return { sysctls, values, writes };
}

function capture() {
  const { logger, lines } = captureLogger();
  return { logger, warnings: () => lines.filter((l) => l.level === 40) };
}

async function withDir(body: (statePath: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'seaway-sysctl-driver-'));
  try {
    await body(join(dir, 'sysctl-originals.json'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const readState = async (path: string) => JSON.parse(await readFile(path, 'utf8')) as { version: number; originals: Record<string, string> };

test('apply saves each original before it writes the new value; cleanup, even by a new instance, restores them (never ip_forward back to 0) and removes the file', () => withDir(async (statePath) => {
  const seenBeforeWrite: Record<string, string | undefined> = {};
  const kernel = fakeSysctls({ [RP]: '1', [FORWARD]: '0' }, async (key) => {
    seenBeforeWrite[key] = (await readState(statePath).catch(() => ({ originals: {} as Record<string, string> }))).originals[key];
  });
  const { logger, warnings } = capture();
  const driver = createSysctlDriver({ sysctls: kernel.sysctls, statePath, logger });

  const applied = await driver.apply([{ key: RP, value: '2' }, { key: FORWARD, value: '1' }]);
  assert.deepEqual(applied.failures, []);
  assert.deepEqual(kernel.writes, [`${RP}=2`, `${FORWARD}=1`]);
  assert.deepEqual(seenBeforeWrite, { [RP]: '1', [FORWARD]: '0' }, 'the original was on disk before the kernel value changed');
  assert.deepEqual(await readState(statePath), { version: 1, originals: { [RP]: '1', [FORWARD]: '0' } });

  // A second pass changes nothing and keeps the first originals (not seaway's own values).
  await driver.apply([{ key: RP, value: '2' }, { key: FORWARD, value: '1' }]);
  assert.equal(kernel.writes.length, 2);
  assert.deepEqual((await readState(statePath)).originals, { [RP]: '1', [FORWARD]: '0' });

  const afterRestart = createSysctlDriver({ sysctls: kernel.sysctls, statePath, logger });
  const cleaned = await afterRestart.cleanup();
  assert.deepEqual(cleaned.failures, []);
  // Forwarding stays on: the node's pods may depend on it by now.
  assert.deepEqual(Object.fromEntries(kernel.values), { [RP]: '1', [FORWARD]: '1' });
  assert.deepEqual(await readdir(join(statePath, '..')), [], 'no state file, no temporary file');
  assert.deepEqual(warnings(), []);
}));

test('a sysctl no longer wanted is given back at once and forgotten', () => withDir(async (statePath) => {
  const kernel = fakeSysctls({ [RP]: '1', [FORWARD]: '0' });
  const driver = createSysctlDriver({ sysctls: kernel.sysctls, statePath, logger: capture().logger });
  await driver.apply([{ key: RP, value: '2' }, { key: FORWARD, value: '1' }]);
  await driver.apply([{ key: FORWARD, value: '1' }]);
  assert.equal(kernel.values.get(RP), '1');
  assert.deepEqual((await readState(statePath)).originals, { [FORWARD]: '0' });
}));

for (const [what, content] of [['a corrupt', '{"originals": {"net/ipv4/'], ['an empty', '']] as const) {
  test(`${what} state file neither fails apply nor cleanup: it is moved aside with one warning and seaway carries on`, () => withDir(async (statePath) => {
    await writeFile(statePath, content);
    const kernel = fakeSysctls({ [RP]: '1' });
    const { logger, warnings } = capture();
    const driver = createSysctlDriver({ sysctls: kernel.sysctls, statePath, logger });

    const applied = await driver.apply([{ key: RP, value: '2' }]);
    assert.deepEqual(applied.failures, []);
    assert.equal(kernel.values.get(RP), '2');
    assert.equal(warnings().length, 1);
    assert.match(String(warnings()[0]?.movedTo), /sysctl-originals\.json\.corrupt-\d{8}T\d{6}\.\d{3}Z$/);
    // What apply found from then on is remembered in a fresh file, so cleanup still gives it back.
    assert.deepEqual((await readState(statePath)).originals, { [RP]: '1' });
    await driver.cleanup();
    assert.equal(kernel.values.get(RP), '1');

    // cleanup meeting a corrupt file itself: no throw, nothing to restore.
    await writeFile(statePath, content);
    const cleaned = await createSysctlDriver({ sysctls: kernel.sysctls, statePath, logger }).cleanup();
    assert.deepEqual(cleaned.failures, []);
    assert.equal(warnings().length, 2);
    assert.equal((await readdir(join(statePath, '..'))).filter((n) => n.includes('.corrupt-')).length >= 1, true);
  }));
}

test('a restore the kernel refuses is reported and kept for the next cleanup', () => withDir(async (statePath) => {
  let refuse = false;
  const kernel = fakeSysctls({ [RP]: '1' }, async () => { if (refuse) throw new Error('EPERM'); });
  const driver = createSysctlDriver({ sysctls: kernel.sysctls, statePath, logger: capture().logger });
  await driver.apply([{ key: RP, value: '2' }]);
  refuse = true;
  const failed = await driver.cleanup();
  assert.equal(failed.failures.length, 1);
  assert.match(failed.failures[0]?.object ?? '', /rp_filter/);
  assert.deepEqual((await readState(statePath)).originals, { [RP]: '1' });
  refuse = false;
  assert.deepEqual((await driver.cleanup()).failures, []);
  assert.equal(kernel.values.get(RP), '1');
}));
