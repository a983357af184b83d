/**
 * The addon's mallocTrim against a real process's memory: freed heap memory that a live chunk
 * above it keeps resident (free() alone gives back only the heap's top) is given back to the
 * kernel. In a child process, so the runner's own heap is not measured.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run } from '../../src/kernel/exec.ts';
import { ICMP_ADDON_PATH, loadIcmpAddon } from '../../src/kernel/icmp-socket.ts';

// Loads or fails with the command that builds it.
loadIcmpAddon();

/** 16,000 buffers of 4 KiB from malloc (64 MiB), one more kept above them, the rest freed and collected. */
const CHILD = `
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
const addon = createRequire(import.meta.url)(process.argv[1]);
const anonMiB = () => Number(/RssAnon:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
let held = Array.from({ length: 16000 }, () => Buffer.allocUnsafeSlow(4096).fill(1));
const pin = Buffer.allocUnsafeSlow(4096).fill(2);
held = null;
for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((resolve) => setImmediate(resolve)); }
const freed = anonMiB();
const trimmed = addon.mallocTrim();
console.log(JSON.stringify({ freed, trimmed, after: anonMiB(), pinned: pin.length }));
`;

test('mallocTrim gives freed heap memory held below a live chunk back to the kernel', async () => {
  const out = await run(process.execPath, ['--expose-gc', '--input-type=module', '-e', CHILD, ICMP_ADDON_PATH], { timeoutMs: 60_000 });
  const { freed, trimmed, after } = JSON.parse(out.stdout.trim()) as { freed: number; trimmed: boolean; after: number };
  assert.equal(trimmed, true, 'glibc says it released memory');
  assert.ok(freed - after >= 48, `anonymous memory ${freed.toFixed(1)} MiB after the frees, ${after.toFixed(1)} MiB after mallocTrim: at least 48 of the 64 MiB freed given back`);
});
