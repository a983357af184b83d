import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readPskFile } from '../../src/cable/psk-file.ts';
import { MIN_PSK_BYTES, PskError, expire, keyringOf, pskFromFile, rotate, sharedKeyLoads } from '../../src/model/psk.ts';

const key = (c: string, n = 48) => Buffer.from(c.repeat(n));

test('a PSK file: one trailing newline (LF or CRLF) dropped, nothing else', () => {
  assert.deepEqual(pskFromFile(Buffer.concat([key('a'), Buffer.from('\n')]), '/psk'), key('a'));
  assert.deepEqual(pskFromFile(Buffer.concat([key('a'), Buffer.from('\r\n')]), '/psk'), key('a'));
  assert.deepEqual(pskFromFile(Buffer.concat([key('a'), Buffer.from(' \n\n')]), '/psk').length, 50, 'only one newline goes');
  assert.equal(pskFromFile(Buffer.concat([key('a'), Buffer.from('\r')]), '/psk').length, 49, 'a lone CR is part of the key');
  assert.equal(pskFromFile(key('b', MIN_PSK_BYTES), '/psk').length, MIN_PSK_BYTES);
});

test('an empty or too short PSK is a clear error that never quotes the key', () => {
  assert.throws(() => pskFromFile(Buffer.alloc(0), '/etc/psk'), (e: unknown) => e instanceof PskError && /\/etc\/psk is empty/.test(e.message));
  assert.throws(() => pskFromFile(Buffer.from('\n'), '/etc/psk'), /is empty/);
  const short = Buffer.from('secret-but-short');
  assert.throws(() => pskFromFile(short, '/etc/psk'), (e: unknown) => e instanceof PskError && /is 16 bytes; at least 32/.test(e.message) && !e.message.includes('secret'));
});

test('rotation: a different key becomes current, the old one previous until the window ends; the same key changes nothing', () => {
  const ring = keyringOf(key('a'));
  assert.equal(rotate(ring, key('a'), 1000, 5000), ring);
  const rotated = rotate(ring, key('b'), 1000, 5000);
  assert.equal(rotated.current.id, 'seaway-psk-2');
  assert.deepEqual(rotated.current.key, key('b'));
  assert.equal(rotated.previous?.id, 'seaway-psk-1');
  assert.equal(rotated.previous?.until, 6000);
  assert.equal(expire(rotated, 5999), rotated, 'inside the window');
  assert.equal(expire(rotated, 6000).previous, undefined);
  const twice = rotate(rotated, key('c'), 2000, 5000);
  assert.equal(twice.previous?.id, 'seaway-psk-2', 'only the last key before stays accepted');
});

test('loads: the current key owned by the identities (used to authenticate), the previous one by any identity (only accepted)', () => {
  const ring = rotate(keyringOf(key('a')), key('b'), 0, 1000);
  const loads = sharedKeyLoads(ring, ['198.18.0.2', '198.18.0.1', '198.18.0.2']);
  assert.deepEqual(loads.map((l) => [l.id, l.owners]), [['seaway-psk-2', ['198.18.0.1', '198.18.0.2']], ['seaway-psk-1', []]]);
  assert.deepEqual(sharedKeyLoads(keyringOf(key('a')), ['x']).map((l) => l.id), ['seaway-psk-1']);
  assert.ok(!loads.some((l) => l.id.includes(key('a').toString('hex').slice(0, 8))), 'ids never derive from the key');
});

test('readPskFile: a missing file, an empty one and a short one are PSK errors naming the file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'seaway-psk-'));
  try {
    const file = join(dir, 'psk');
    await assert.rejects(readPskFile(file), (e: unknown) => e instanceof PskError && e.message === `cannot read the IPsec PSK file ${file}: it does not exist`);
    await writeFile(file, '', { mode: 0o600 });
    await assert.rejects(readPskFile(file), /is empty/);
    await writeFile(file, 'short\n');
    await assert.rejects(readPskFile(file), /is 5 bytes; at least 32/);
    await writeFile(file, `${'p'.repeat(64)}\n`);
    assert.equal((await readPskFile(file)).length, 64);
    await assert.rejects(readPskFile(dir), (e: unknown) => e instanceof PskError && /EISDIR/.test(e.message));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
