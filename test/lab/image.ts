/**
 * The image the lab's kubelets run: the root filesystem and OCI configuration `npm run image` exported
 * (build/image/rootfs, build/image/config.json), so the lab runs exactly the shipped artifact.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './agents.ts';
import type { ImageConfig } from './pod-spec.ts';

export const IMAGE_DIR = join(REPO_ROOT, 'build', 'image');

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
