/**
 * An earlier release of seaway, built as it was released: its own tree unpacked from its archive in
 * releases/ (`scripts/archive-release.sh` made it from the git tag, so neither the tag nor the history
 * need be in the clone), its own native addon, bundle, Dockerfile and `scripts/image.sh`, with
 * this checkout's node_modules when its package-lock.json is the same (else its own `npm ci`). The
 * image lands in build/releases/<version>/image, where the lab's kubelets find it by its tag, and the
 * release's manifests/ beside it, to install it from.
 */
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rename, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/kernel/exec.ts';
import { REPO_ROOT } from './agents.ts';
import { RELEASES_DIR } from './image.ts';

export interface Release {
  tag: string;
  version: string;
  /** The release's manifests/ (to install it from). */
  manifestsDir: string;
  imageDir: string;
}

/** The newest `v<semver>` tag whose version is not the current one: the release an upgrade starts from (pure). */
export function previousReleaseTag(tags: readonly string[], currentVersion: string): string | undefined {
  const parsed = tags.flatMap((tag) => {
    const match = /^v(\d+)\.(\d+)\.(\d+)$/.exec(tag);
    return match ? [{ tag, parts: [Number(match[1]), Number(match[2]), Number(match[3])] }] : [];
  }).filter((release) => release.tag !== `v${currentVersion}`);
  parsed.sort((a, b) => a.parts[0]! - b.parts[0]! || a.parts[1]! - b.parts[1]! || a.parts[2]! - b.parts[2]!);
  return parsed.at(-1)?.tag;
}

/**
 * Whether two package-lock.json texts install the same node_modules: every package at the same
 * version, source and integrity (pure). The project's own entry and the dev flags may differ: a
 * dependency moved from devDependencies to dependencies installs the same files.
 */
export function sameDependencies(a: string, b: string): boolean {
  const installed = (text: string) => {
    const lock = JSON.parse(text) as { packages?: Record<string, { version?: string; resolved?: string; integrity?: string; link?: boolean }> };
    return Object.entries(lock.packages ?? {}).filter(([path]) => path !== '').sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
      .map(([path, entry]) => [path, entry.version, entry.resolved, entry.integrity, entry.link]);
  };
  return JSON.stringify(installed(a)) === JSON.stringify(installed(b));
}

/** Where the released sources are archived, one `<tag>.tar.gz` each. */
export const RELEASE_ARCHIVES_DIR = join(REPO_ROOT, 'releases');
const archiveOf = (tag: string) => join(RELEASE_ARCHIVES_DIR, `${tag}.tar.gz`);

/** The tags of the releases archived in releases/. */
export async function releaseTags(): Promise<string[]> {
  const names = existsSync(RELEASE_ARCHIVES_DIR) ? await readdir(RELEASE_ARCHIVES_DIR) : [];
  return names.filter((name) => name.endsWith('.tar.gz')).map((name) => name.slice(0, -'.tar.gz'.length));
}

/** Builds (or finds already built) the release of `tag`. */
export async function buildRelease(tag: string, log: (line: string) => void = () => undefined): Promise<Release> {
  const version = tag.replace(/^v/, '');
  const home = join(RELEASES_DIR, version);
  const release = { tag, version, manifestsDir: join(home, 'manifests'), imageDir: join(home, 'image') };
  if (existsSync(join(release.imageDir, 'config.json')) && existsSync(join(release.manifestsDir, '10-route-agent.yaml'))) return release;
  if (!existsSync(archiveOf(tag))) throw new Error(`${archiveOf(tag)} is missing: scripts/archive-release.sh ${tag} makes it from the tag`);
  const tree = await mkdtemp(join(tmpdir(), `seaway-release-${version}-`));
  try {
    await run('tar', ['-xzf', archiveOf(tag), '-C', tree], { timeoutMs: 60_000 });
    // A release's scripts/image.sh hashes its inputs with `git ls-files`: an empty repository lists them as untracked.
    await run('git', ['init', '--quiet', tree], { timeoutMs: 60_000 });
    const sameLock = sameDependencies(await readFile(join(tree, 'package-lock.json'), 'utf8'), await readFile(join(REPO_ROOT, 'package-lock.json'), 'utf8'));
    if (sameLock) {
      await symlink(join(REPO_ROOT, 'node_modules'), join(tree, 'node_modules'));
    } else {
      log(`${tag}: its package-lock.json differs from this checkout's: npm ci`);
      await run('npm', ['ci', '--no-audit', '--no-fund'], { cwd: tree, timeoutMs: 600_000 });
      await run('bash', ['scripts/patch-netlink.sh'], { cwd: tree, timeoutMs: 600_000 });
    }
    // The base root filesystem is keyed by what it is made of: a release with the same packages reuses it.
    await mkdir(join(REPO_ROOT, 'build', 'cache'), { recursive: true });
    await mkdir(join(tree, 'build'), { recursive: true });
    await symlink(join(REPO_ROOT, 'build', 'cache'), join(tree, 'build', 'cache'));
    log(`${tag}: building its native addon and image in ${tree}`);
    await run('bash', ['scripts/build-native.sh'], { cwd: tree, timeoutMs: 600_000 });
    await run('bash', ['scripts/image.sh'], { cwd: tree, timeoutMs: 1_200_000 });
    await rm(home, { recursive: true, force: true });
    await mkdir(home, { recursive: true });
    await rename(join(tree, 'build', 'image'), release.imageDir);
    await cp(join(tree, 'manifests'), release.manifestsDir, { recursive: true });
    return release;
  } finally {
    await rm(tree, { recursive: true, force: true });
  }
}
