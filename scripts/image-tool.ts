/**
 * The parts of scripts/image.sh that read files rather than run tools, as small commands:
 *   packages FILE                  the package list, comma separated (debootstrap --include)
 *   suite DOCKERFILE               the Debian suite of image/base.Dockerfile's FROM
 *   mirror SUITE                   this machine's apt mirror for SUITE main
 *   config ARCHIVE IMAGE OUT       the run configuration of the image in an oci-archive, as JSON
 * The decisions themselves are pure, in image-spec.ts.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../src/kernel/exec.ts';
import { aptMirror, configDigestOfManifest, debianSuiteOfDockerfile, manifestDigestOfIndex, parsePackageList, runConfigOfImage, type SourcesFile } from './image-spec.ts';

/** Reading a blob of a few hundred MB archive: tar scans it whole for each member. */
const TAR_TIMEOUT_MS = 120_000;

function aptSources(): SourcesFile[] {
  const files: SourcesFile[] = [];
  if (existsSync('/etc/apt/sources.list')) files.push({ path: '/etc/apt/sources.list', text: readFileSync('/etc/apt/sources.list', 'utf8') });
  const dir = '/etc/apt/sources.list.d';
  if (existsSync(dir)) {
    for (const name of readdirSync(dir).filter((n) => n.endsWith('.list') || n.endsWith('.sources')).sort()) {
      files.push({ path: join(dir, name), text: readFileSync(join(dir, name), 'utf8') });
    }
  }
  return files;
}

/** One member of a tar archive, checked against its digest when it is a blob. */
async function member(archive: string, names: readonly string[], name: string, digest?: string): Promise<string> {
  const stored = names.find((n) => n === name || n === `./${name}`);
  if (stored === undefined) throw new Error(`${archive} has no ${name}`);
  const { stdout } = await run('tar', ['-xOf', archive, stored], { timeoutMs: TAR_TIMEOUT_MS });
  if (digest !== undefined) {
    const actual = `sha256:${createHash('sha256').update(stdout, 'utf8').digest('hex')}`;
    if (actual !== digest) throw new Error(`${archive}: ${name} has digest ${actual}, not ${digest}`);
  }
  return stdout;
}

async function imageConfig(archive: string, image: string, out: string): Promise<void> {
  const names = (await run('tar', ['-tf', archive], { timeoutMs: TAR_TIMEOUT_MS })).stdout.split('\n').filter(Boolean);
  const blob = (digest: string) => `blobs/sha256/${digest.slice('sha256:'.length)}`;
  const manifestDigest = manifestDigestOfIndex(JSON.parse(await member(archive, names, 'index.json')), image);
  const configDigest = configDigestOfManifest(JSON.parse(await member(archive, names, blob(manifestDigest), manifestDigest)));
  const config = runConfigOfImage(image, JSON.parse(await member(archive, names, blob(configDigest), configDigest)));
  writeFileSync(out, `${JSON.stringify(config, null, 2)}\n`);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...args] = argv;
  const need = (count: number, usage: string) => {
    if (args.length !== count) throw new Error(`usage: image-tool.ts ${usage}`);
  };
  switch (command) {
    case 'packages':
      need(1, 'packages FILE');
      process.stdout.write(`${parsePackageList(readFileSync(args[0]!, 'utf8')).join(',')}\n`);
      return;
    case 'suite':
      need(1, 'suite DOCKERFILE');
      process.stdout.write(`${debianSuiteOfDockerfile(readFileSync(args[0]!, 'utf8'))}\n`);
      return;
    case 'mirror':
      need(1, 'mirror SUITE');
      process.stdout.write(`${aptMirror(aptSources(), args[0]!)}\n`);
      return;
    case 'config':
      need(3, 'config OCI_ARCHIVE IMAGE OUT');
      await imageConfig(args[0]!, args[1]!, args[2]!);
      return;
    default:
      throw new Error(`unknown command ${JSON.stringify(command)}: packages, suite, mirror or config`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`image-tool: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
