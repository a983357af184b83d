import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  MAX_STATE_BYTES, SYSCTL_STATE_VERSION, isRestorableSysctlKey, parseSysctlState, serializeSysctlState, sysctlStateFile,
} from '../../src/dataplane/sysctl-state-file.ts';
import { captureLogger } from '../helpers/capture-logger.ts';

const RP = 'net/ipv4/conf/vx-submariner/rp_filter';

test('accepts version 1, and the unversioned format written before versions', () => {
  assert.deepEqual(parseSysctlState(JSON.stringify({ version: 1, originals: { [RP]: '1', 'net/ipv4/ip_forward': '0' } })),
    { ok: true, state: { originals: { [RP]: '1', 'net/ipv4/ip_forward': '0' } } });
  assert.deepEqual(parseSysctlState(`{\n  "originals": {\n    "${RP}": "1"\n  }\n}\n`), { ok: true, state: { originals: { [RP]: '1' } } });
  assert.deepEqual(parseSysctlState('{"version":1,"originals":{}}'), { ok: true, state: { originals: {} } });
  // Interface names may hold dots and other characters; multi-value sysctls hold tabs.
  assert.deepEqual(parseSysctlState(JSON.stringify({ version: 1, originals: { 'net/ipv4/conf/vxlan.calico/rp_filter': '1', 'net/ipv4/tcp_rmem': '4096\t131072\t6291456' } })).ok, true);
});

test('serialize writes the current version and parses back to the same state', () => {
  const state = { originals: { [RP]: '1', 'net/ipv4/conf/eth0.100/forwarding': '0' } };
  const text = serializeSysctlState(state);
  assert.equal((JSON.parse(text) as { version: number }).version, SYSCTL_STATE_VERSION);
  assert.deepEqual(parseSysctlState(text), { ok: true, state });
});

test('refuses every malformed input with a reason, never throws', () => {
  const huge = 'x'.repeat(2000);
  const manyKeys = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`net/ipv4/conf/if${i}/rp_filter`, '1']));
  const cases: Array<[string, string, RegExp]> = [
    ['empty', '', /empty/],
    ['whitespace only', ' \n\t', /empty/],
    ['truncated JSON', `{"version":1,"originals":{"${RP}":"1`, /not JSON/],
    ['NUL bytes (a crash on some file systems)', '\0\0\0\0', /not JSON/],
    ['null', 'null', /JSON object/],
    ['a number', '42', /JSON object/],
    ['a string', '"net/ipv4/ip_forward"', /JSON object/],
    ['an array', `[{"originals":{}}]`, /JSON object/],
    ['no originals', '{"version":1}', /"originals"/],
    ['originals null', '{"version":1,"originals":null}', /"originals"/],
    ['originals an array', '{"version":1,"originals":["1"]}', /"originals"/],
    ['originals a string', '{"originals":"net/ipv4/ip_forward=1"}', /"originals"/],
    ['a number value', `{"version":1,"originals":{"${RP}":1}}`, /value of/],
    ['a null value', `{"version":1,"originals":{"${RP}":null}}`, /value of/],
    ['an object value', `{"version":1,"originals":{"${RP}":{"v":"1"}}}`, /value of/],
    ['a value with a newline', `{"version":1,"originals":{"${RP}":"1\\n0"}}`, /value of/],
    ['a huge value', `{"version":1,"originals":{"${RP}":"${huge}"}}`, /value of/],
    ['a key that climbs out of /proc/sys', '{"version":1,"originals":{"../../etc/passwd":"x"}}', /not a net\/\.\.\. sysctl key/],
    ['a net key that climbs out', '{"version":1,"originals":{"net/../../../etc/shadow":"x"}}', /not a net/],
    ['an absolute key', '{"version":1,"originals":{"/etc/passwd":"x"}}', /not a net/],
    ['a key outside net/', '{"version":1,"originals":{"kernel/core_pattern":"|/tmp/x"}}', /not a net/],
    ['a dotted key (sysctl(8) form, ambiguous with dotted interface names)', '{"version":1,"originals":{"net.ipv4.ip_forward":"0"}}', /not a net/],
    ['an empty segment', '{"version":1,"originals":{"net//ipv4/ip_forward":"0"}}', /not a net/],
    ['a "." segment', '{"version":1,"originals":{"net/./ipv4/ip_forward":"0"}}', /not a net/],
    ['a key with a NUL', `{"version":1,"originals":{"net/ipv4\\u0000/ip_forward":"0"}}`, /not a net/],
    ['a key with a space', '{"version":1,"originals":{"net/ipv4/ip forward":"0"}}', /not a net/],
    ['a huge key', `{"version":1,"originals":{"net/${huge}":"0"}}`, /not a net/],
    ['__proto__ as a key', '{"version":1,"originals":{"__proto__":"0"}}', /not a net/],
    ['too many keys', JSON.stringify({ version: 1, originals: manyKeys }), /more than 4096/],
    ['a newer version', `{"version":2,"originals":{"${RP}":"1"}}`, /newer than this seaway's \(1\)/],
    ['version 0', '{"version":0,"originals":{}}', /unknown format version 0/],
    ['version as a string', '{"version":"1","originals":{}}', /unknown format version "1"/],
    ['version null', '{"version":null,"originals":{}}', /unknown format version null/],
    ['a fractional version', '{"version":1.5,"originals":{}}', /unknown format version 1.5/],
    ['larger than the limit', ' '.repeat(MAX_STATE_BYTES + 1), /larger than/],
  ];
  for (const [what, text, reason] of cases) {
    const parsed = parseSysctlState(text);
    assert.equal(parsed.ok, false, `${what}: accepted`);
    if (!parsed.ok) assert.match(parsed.reason, reason, what);
  }
});

test('sysctl keys: only net/... below /proc/sys', () => {
  for (const key of ['net/ipv4/ip_forward', 'net/ipv4/conf/vxlan.calico/rp_filter', 'net/ipv4/conf/eth0@1/forwarding', 'net/ipv6/conf/..x/forwarding']) {
    assert.ok(isRestorableSysctlKey(key), key);
  }
  for (const key of ['', 'net', 'net/', '/net/ipv4/ip_forward', 'net/..', 'net/../kernel/x', 'vm/swappiness', 'net/ipv4/ip_forward/', 'net/ipv4\n/x', 'net/ipv4/\u007f']) {
    assert.ok(!isRestorableSysctlKey(key), JSON.stringify(key));
  }
});


async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'seaway-state-'));
  try {
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('save writes the version through a unique temporary file and leaves no .tmp behind; nothing to remember removes the file', () => withDir(async (dir) => {
  const path = join(dir, 'sysctl-originals.json');
  const { logger, lines } = captureLogger();
  const file = sysctlStateFile({ path, logger });
  assert.deepEqual(await file.load(), { originals: {} }, 'no file yet');

  // Concurrent saves (the agent and `seaway cleanup`) must not trip over one shared temporary name.
  await Promise.all(Array.from({ length: 20 }, (_, i) => file.save({ originals: { [RP]: String(i % 3) } })));
  assert.deepEqual(await readdir(dir), ['sysctl-originals.json']);
  const written = JSON.parse(await readFile(path, 'utf8')) as { version: number; originals: Record<string, string> };
  assert.equal(written.version, 1);
  assert.match(written.originals[RP] ?? '', /^[012]$/);

  await file.save({ originals: { [RP]: '1' } });
  assert.deepEqual(await file.load(), { originals: { [RP]: '1' } });
  await file.save({ originals: {} });
  assert.deepEqual(await readdir(dir), []);
  assert.deepEqual(lines.filter((l) => (l.level as number) >= 40), []);
}));

test('nothing to remember where seaway never ran (no state directory at all) is not an error', () => withDir(async (dir) => {
  const file = sysctlStateFile({ path: join(dir, 'missing', 'sysctl-originals.json'), logger: captureLogger().logger });
  assert.deepEqual(await file.load(), { originals: {} });
  await file.save({ originals: {} });
  assert.deepEqual(await readdir(dir), []);
}));

test('a failed save removes its temporary file and leaves the old file intact', () => withDir(async (dir) => {
  const path = join(dir, 'sysctl-originals.json');
  const file = sysctlStateFile({ path, logger: captureLogger().logger });
  await file.save({ originals: { [RP]: '1' } });
  // A directory where the file should be makes the rename fail after the temporary file was written.
  const blocked = sysctlStateFile({ path: join(dir, 'sub'), logger: captureLogger().logger });
  await mkdir(join(dir, 'sub', 'occupied'), { recursive: true });
  await assert.rejects(blocked.save({ originals: { [RP]: '2' } }));
  assert.deepEqual((await readdir(dir)).sort(), ['sub', 'sysctl-originals.json']);
  assert.deepEqual(await file.load(), { originals: { [RP]: '1' } });
}));

for (const [what, content] of [
  ['a corrupt file', '{"version":1,"originals":{"net/ipv4/ip_fo'],
  ['an empty file', ''],
  ['a tampered file', '{"version":1,"originals":{"../../etc/passwd":"root::0:0::/:/bin/sh"}}'],
  ['a file from a newer seaway', '{"version":7,"originals":{"net/ipv4/ip_forward":"0"},"more":{}}'],
] as const) {
  test(`${what} is moved aside once with one warning naming both paths, and loads as empty`, () => withDir(async (dir) => {
    const path = join(dir, 'sysctl-originals.json');
    await writeFile(path, content);
    const { logger, lines } = captureLogger();
    const file = sysctlStateFile({ path, logger, now: () => new Date('2026-11-29T10:15:30.123Z') });
    assert.deepEqual(await file.load(), { originals: {} });
    assert.deepEqual(await file.load(), { originals: {} }, 'a second load finds no file');

    const aside = `${path}.corrupt-20261129T101530.123Z`;
    assert.deepEqual(await readdir(dir), ['sysctl-originals.json.corrupt-20261129T101530.123Z']);
    assert.equal(await readFile(aside, 'utf8'), content, 'kept as it was, for a human to look at');
    const warnings = lines.filter((l) => l.level === 40);
    assert.equal(warnings.length, 1, JSON.stringify(lines));
    assert.equal(warnings[0]?.path, path);
    assert.equal(warnings[0]?.movedTo, aside);
    assert.equal(typeof warnings[0]?.reason, 'string');

    // Carrying on: the next save writes a fresh, valid file next to the quarantined one.
    await file.save({ originals: { [RP]: '1' } });
    assert.deepEqual(await file.load(), { originals: { [RP]: '1' } });
    assert.equal(lines.filter((l) => l.level === 40).length, 1);
  }));
}

test('a file larger than the limit is moved aside without being read whole', () => withDir(async (dir) => {
  const path = join(dir, 'sysctl-originals.json');
  await writeFile(path, Buffer.alloc(MAX_STATE_BYTES + 10, 0x20));
  const { logger, lines } = captureLogger();
  assert.deepEqual(await sysctlStateFile({ path, logger }).load(), { originals: {} });
  assert.match(String(lines.find((l) => l.level === 40)?.reason), /larger than/);
  assert.equal((await readdir(dir)).filter((n) => n.startsWith('sysctl-originals.json.corrupt-')).length, 1);
}));

test('two processes loading the same corrupt file at once: it is moved aside once, with one warning', () => withDir(async (dir) => {
  const path = join(dir, 'sysctl-originals.json');
  await writeFile(path, '{"originals":');
  const { logger, lines } = captureLogger();
  const loads = await Promise.all([1, 2, 3].map((i) => sysctlStateFile({ path, logger, now: () => new Date(Date.UTC(2026, 10, 29, 0, 0, i)) }).load()));
  assert.deepEqual(loads, [1, 2, 3].map(() => ({ originals: {} })));
  assert.equal((await readdir(dir)).length, 1);
  assert.equal(lines.filter((l) => l.level === 40).length, 1);
}));
