/**
 * What the shipped app directory (build/app, /app in the image) holds besides the bundle, as pure
 * decisions over file lists so they are unit-tested; scripts/bundle.ts does the copying.
 *
 * Native addons cannot be inlined into a bundle: Node loads a `.node` file from disk by path. So the
 * packages that load one stay outside the bundle (esbuild `external`) and are copied next to it,
 * with only the files they need at run time.
 */

/**
 * The npm packages copied to build/app/node_modules, and why each one. `netlink` loads its binding
 * through `node-gyp-build` at run time; its other dependencies (node-addon-api, @types/node) are
 * only needed to build or type-check it.
 */
export const EXTERNAL_PACKAGES: Readonly<Record<string, string>> = {
  netlink: 'its native binding (patched and rebuilt by scripts/patch-netlink.sh) cannot be bundled',
  'node-gyp-build': 'netlink loads its binding through it',
};

/** Where the ICMP probe addon sits in the app directory: beside the bundle (src/kernel/icmp-socket.ts). */
export const ICMP_ADDON_IN_APP = 'seaway_icmp.node';

/**
 * Whether a file of an external package (its path relative to the package, `/`-separated) is needed
 * at run time. Kept: package.json (Node reads `main`), licence files, JavaScript, JSON data, and the
 * locally built binding in build/Release. Left out: type declarations, source maps, C++ sources,
 * nested node_modules (netlink's holds only @types), and `prebuilds/`: those are the package's stock,
 * unpatched binaries, so when the patched build is missing loading must fail, not fall back to one.
 */
export function isRuntimeFile(path: string): boolean {
  if (!isPlainRelativePath(path)) return false;
  const parts = path.split('/');
  const name = parts[parts.length - 1]!;
  if (parts.includes('node_modules') || parts[0] === 'prebuilds' || parts[0] === 'src') return false;
  if (parts.length === 1 && (name === 'package.json' || /^(LICEN[CS]E|COPYING|NOTICE)(\.[A-Za-z0-9]+)?$/i.test(name))) return true;
  if (parts[0] === 'build') return parts.length === 3 && parts[1] === 'Release' && name.endsWith('.node');
  if (name.endsWith('.d.ts') || name.endsWith('.map')) return false;
  return /\.(c|m)?js$/.test(name) || name.endsWith('.json');
}

/**
 * The run-time files of a package from the list of all its files (relative paths), sorted. Throws on
 * a path that is absolute, empty or climbs out with `..`: the list comes from a directory walk, so
 * such a path means the walk is broken and copying it could write outside the app directory.
 */
export function runtimeFiles(paths: readonly string[]): string[] {
  for (const path of paths) {
    if (!isPlainRelativePath(path)) throw new Error(`not a plain relative path inside the package: ${JSON.stringify(path)}`);
  }
  return paths.filter(isRuntimeFile).sort();
}

/**
 * Checks a package's run-time file list before it is shipped: the entry point its package.json
 * names and, for a package with a native binding, the binding itself must be in it. Returns the
 * problems found (empty when the list is complete).
 */
export function missingRuntimeFiles(files: readonly string[], packageJson: unknown, needsBinding: boolean): string[] {
  const problems: string[] = [];
  const have = new Set(files);
  if (!have.has('package.json')) problems.push('package.json');
  const main = isRecord(packageJson) && typeof packageJson['main'] === 'string' ? packageJson['main'] : 'index.js';
  const entry = main.replace(/^\.\//, '');
  if (!have.has(entry) && !have.has(`${entry}.js`) && !have.has(`${entry.replace(/\/$/, '')}/index.js`)) problems.push(`its main entry ${main}`);
  if (needsBinding && !files.some((f) => f.startsWith('build/Release/') && f.endsWith('.node'))) problems.push('a built binding in build/Release (*.node)');
  return problems;
}

function isPlainRelativePath(path: string): boolean {
  if (path === '' || path.startsWith('/') || path.includes('\\') || path.includes('\0')) return false;
  return path.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
