/**
 * Builds build/app, what the image ships in /app: seaway as one minified ESM bundle (seaway.mjs),
 * the netlink package beside it (with what it loads at run time), and the ICMP probe addon.
 * Run it with `node scripts/bundle.ts` (npm run bundle), after `npm run bootstrap` built the addons.
 *
 * Why a bundle: it measured about 97 MiB of RSS with the image's V8 flags instead of 176 MiB for the
 * `.ts` sources with node_modules (research/deploy-and-footprint.md section 5): type stripping and
 * the unused parts of the Kubernetes client are gone, and it starts about 3x faster.
 */
import { build, type BuildOptions } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXTERNAL_PACKAGES, ICMP_ADDON_IN_APP, missingRuntimeFiles, runtimeFiles } from './app-files.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const appDir = join(root, 'build', 'app');
const icmpAddon = join(root, 'native', 'build', 'Release', 'seaway_icmp.node');

/**
 * The bundle's options. The banner gives bundled CommonJS dependencies a `require` (an ESM bundle has
 * none, and esbuild's shim throws "Dynamic require of X is not supported" without it). The define
 * tells src/kernel/icmp-socket.ts where the ICMP addon is relative to the bundle: its `.ts` lookup
 * (../../native/build/... from the source file) means nothing once the code sits in /app. The chunks
 * sit beside seaway.mjs, so that path is the same from whichever chunk the code lands in.
 */
export function bundleOptions(repoRoot: string, outdir: string): BuildOptions {
  return {
    absWorkingDir: repoRoot,
    entryPoints: { seaway: 'src/main.ts' },
    outdir,
    // One chunk per command's code (src/main.ts imports each command dynamically): the route agent
    // never parses the gateway's, diagnose's or @kubernetes/client-node's code, nor holds its text.
    splitting: true,
    chunkNames: '[name]-[hash]',
    outExtension: { '.js': '.mjs' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    external: Object.keys(EXTERNAL_PACKAGES),
    banner: { js: "import { createRequire as __seawayCreateRequire } from 'node:module'; const require = __seawayCreateRequire(import.meta.url);" },
    define: { SEAWAY_BUNDLE_ICMP_ADDON: JSON.stringify(`./${ICMP_ADDON_IN_APP}`) },
    logLevel: 'warning',
    metafile: true,
  };
}

/** Every file below dir, as `/`-separated paths relative to it. */
function walk(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split('\\').join('/'));
}

function copyPackage(name: string): number {
  const from = join(root, 'node_modules', name);
  if (!existsSync(join(from, 'package.json'))) throw new Error(`node_modules/${name} is not installed: run npm run bootstrap`);
  const files = runtimeFiles(walk(from));
  const problems = missingRuntimeFiles(files, JSON.parse(readFileSync(join(from, 'package.json'), 'utf8')), name === 'netlink');
  if (problems.length > 0) {
    throw new Error(`node_modules/${name} lacks ${problems.join(', ')}: run npm run bootstrap (scripts/patch-netlink.sh builds netlink's binding)`);
  }
  let bytes = 0;
  for (const file of files) {
    const to = join(appDir, 'node_modules', name, file);
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(join(from, file), to);
    bytes += statSync(to).size;
  }
  return bytes;
}

async function main(): Promise<void> {
  const started = performance.now();
  if (!existsSync(icmpAddon)) throw new Error(`the ICMP probe addon is not built: run \`npm run bootstrap\` (scripts/build-native.sh); expected ${icmpAddon}`);
  // From clean, so nothing of an earlier build (a package no longer shipped) lingers in the image.
  rmSync(appDir, { recursive: true, force: true });
  const outfile = join(appDir, 'seaway.mjs');
  const result = await build(bundleOptions(root, appDir));
  if (result.errors.length > 0) throw new Error(`esbuild failed: ${result.errors.map((e) => e.text).join('; ')}`);
  let external = 0;
  for (const name of Object.keys(EXTERNAL_PACKAGES)) external += copyPackage(name);
  copyFileSync(icmpAddon, join(appDir, ICMP_ADDON_IN_APP));
  const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(2);
  const bundleBytes = Object.entries(result.metafile?.outputs ?? {}).reduce((sum, [, output]) => sum + output.bytes, 0);
  const addonBytes = statSync(join(appDir, ICMP_ADDON_IN_APP)).size;
  const chunks = Object.keys(result.metafile?.outputs ?? {}).length - 1;
  process.stdout.write(`bundle: ${relative(root, outfile)} and ${chunks} chunks, ${bundleBytes} bytes (${mib(bundleBytes)} MiB); node_modules ${mib(external)} MiB `
    + `(${Object.keys(EXTERNAL_PACKAGES).join(', ')}); ${ICMP_ADDON_IN_APP} ${addonBytes} bytes; ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`bundle: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
