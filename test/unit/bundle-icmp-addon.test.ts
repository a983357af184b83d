import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { bundleOptions } from '../../scripts/bundle.ts';
import { ICMP_ADDON_IN_APP } from '../../scripts/app-files.ts';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'seaway-bundle-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** icmp-socket.ts bundled with the shipped bundle's options (its define, banner and format), loaded from dir/app. */
async function bundledIcmpSocket(): Promise<typeof import('../../src/kernel/icmp-socket.ts')> {
  const outfile = join(dir, 'app', 'seaway.mjs');
  // One file from stdin: the shipped options but for the entry points and the chunking.
  const { entryPoints: _entries, outdir: _outdir, splitting: _splitting, chunkNames: _chunks, outExtension: _extension, ...options } = bundleOptions(repo, join(dir, 'app'));
  await build({
    ...options,
    outfile,
    stdin: { contents: "export * from './src/kernel/icmp-socket.ts';", resolveDir: repo, loader: 'ts', sourcefile: 'entry.ts' },
    logLevel: 'silent',
  });
  return import(pathToFileURL(outfile).href) as Promise<typeof import('../../src/kernel/icmp-socket.ts')>;
}

test('bundled, the ICMP addon is looked up beside the bundle, and its absence still names the build command', async () => {
  const bundled = await bundledIcmpSocket();
  const expected = join(dir, 'app', ICMP_ADDON_IN_APP);
  assert.equal(bundled.ICMP_ADDON_PATH, expected);
  assert.throws(() => bundled.loadIcmpAddon(), (error: unknown) => {
    assert.ok(error instanceof Error);
    assert.match(error.message, /^the ICMP probe addon is not built: run `npm run bootstrap` \(scripts\/build-native\.sh\)/);
    assert.ok(error.message.endsWith(`expected ${expected}`), error.message);
    return true;
  });
});
