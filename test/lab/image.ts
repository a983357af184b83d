/**
 * The images the lab's kubelets run: the root filesystem and OCI configuration `npm run image` exported
 * (build/image/rootfs, build/image/config.json), so the lab runs exactly the shipped artifact; and, for
 * upgrade tests, earlier releases built from their git tags into build/releases/<version>/image. A Pod's
 * image reference is found by its tag, as a registry would serve it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './agents.ts';
import type { ImageConfig } from './pod-spec.ts';

export const IMAGE_DIR = join(REPO_ROOT, 'build', 'image');
export const RELEASES_DIR = join(REPO_ROOT, 'build', 'releases');

interface OciConfigFields { Entrypoint?: string[] | null; Cmd?: string[] | null; Env?: string[] | null; WorkingDir?: string }

/** Parses an OCI image configuration (the whole document or its `config` part) (pure). */
export function parseImageConfig(text: string, rootfs: string): ImageConfig {
  const document = JSON.parse(text) as OciConfigFields & { config?: OciConfigFields };
  const config = document.config ?? document;
  const entrypoint = config.Entrypoint ?? [];
  if (!Array.isArray(entrypoint) || entrypoint.length === 0) throw new Error('the image configuration has no Entrypoint');
  return { rootfs, entrypoint, cmd: config.Cmd ?? [], env: config.Env ?? [], workingDir: config.WorkingDir || '/' };
}

/** The built image, or an error that says how to build it. */
export function loadImage(dir: string = IMAGE_DIR): ImageConfig {
  const rootfs = join(dir, 'rootfs');
  const configFile = join(dir, 'config.json');
  if (!existsSync(configFile) || !existsSync(join(rootfs, 'app'))) {
    throw new Error(`the lab runs seaway's image and it is not built (${configFile}, ${rootfs}/app): run npm run image`);
  }
  return parseImageConfig(readFileSync(configFile, 'utf8'), rootfs);
}

/** The tag of an image reference (`quay.io/seaway/seaway:0.1.0` -> 0.1.0), or undefined without one (pure). */
export function imageTag(reference: string): string | undefined {
  const name = reference.split('@')[0] as string;
  const colon = name.lastIndexOf(':');
  return colon > name.lastIndexOf('/') ? name.slice(colon + 1) : undefined;
}

/** Where the image a Pod names is: this build for the current version, else a release built from its tag. */
export function imageDirFor(reference: string, currentVersion: string): string | { error: string } {
  const tag = imageTag(reference);
  if (tag === undefined) return { error: `image "${reference}" names no tag: the lab serves seaway's images by version` };
  if (tag === currentVersion) return IMAGE_DIR;
  const dir = join(RELEASES_DIR, tag, 'image');
  return existsSync(join(dir, 'config.json')) ? dir : { error: `image "${reference}" is not built: ${dir} does not exist (releases are built from their git tag by the upgrade test)` };
}
