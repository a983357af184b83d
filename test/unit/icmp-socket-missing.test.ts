import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ICMP_ADDON_PATH, IcmpAddonError, loadIcmpAddon } from '../../src/kernel/icmp-socket.ts';

const dir = mkdtempSync(join(tmpdir(), 'seaway-icmp-addon-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('an addon that is not built is a clear error naming the build command and the path, never a fallback', () => {
  const missing = join(dir, 'native', 'build', 'Release', 'seaway_icmp.node');
  assert.throws(() => loadIcmpAddon(missing), (error: unknown) => {
    assert.ok(error instanceof IcmpAddonError);
    assert.match(error.message, /^the ICMP probe addon is not built: run `npm run bootstrap` \(scripts\/build-native\.sh\)/);
    assert.ok(error.message.includes(missing), error.message);
    assert.equal(error.path, missing);
    return true;
  });
});

test('a file at the path that is not a loadable addon says so and how to rebuild', () => {
  const garbage = join(dir, 'garbage.node');
  writeFileSync(garbage, 'not an ELF object');
  assert.throws(() => loadIcmpAddon(garbage), (error: unknown) => {
    assert.ok(error instanceof IcmpAddonError);
    assert.match(error.message, /could not be loaded/);
    assert.match(error.message, /bash scripts\/build-native\.sh/);
    assert.ok(error.cause instanceof Error, 'the loader error is kept as the cause');
    return true;
  });
});

test('a module at the path that is not the ICMP addon, or a build from before mallocTrim or spawn, is refused', () => {
  const other = join(dir, 'other.cjs');
  writeFileSync(other, 'module.exports = { somethingElse: 1 };');
  assert.throws(() => loadIcmpAddon(other), /is not the ICMP probe addon of this version \(it exports no IcmpSocket, mallocTrim, spawn or reap\); rebuild it/);
  const stale = join(dir, 'stale.cjs');
  writeFileSync(stale, 'module.exports = { IcmpSocket: function IcmpSocket() {}, ECHO_BYTES: 28 };');
  assert.throws(() => loadIcmpAddon(stale), /is not the ICMP probe addon of this version/);
  const beforeSpawn = join(dir, 'before-spawn.cjs');
  writeFileSync(beforeSpawn, 'module.exports = { IcmpSocket: function IcmpSocket() {}, ECHO_BYTES: 28, mallocTrim: () => false };');
  assert.throws(() => loadIcmpAddon(beforeSpawn), /is not the ICMP probe addon of this version/);
});

test('the default path is native/build/Release/seaway_icmp.node of this repository, absolute', () => {
  const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  assert.ok(isAbsolute(ICMP_ADDON_PATH));
  assert.equal(ICMP_ADDON_PATH, join(repo, 'native', 'build', 'Release', 'seaway_icmp.node'));
});
