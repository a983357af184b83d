/**
 * Pure decisions of the image build (scripts/image.sh through scripts/image-tool.ts), unit-tested:
 * the base's package list, its Debian suite, the apt mirror to bootstrap it from, and the run
 * configuration read back from the built image's OCI config.
 */

/** Debian policy 5.6.1: lower case letters, digits, + - and .; at least two characters; starts alphanumeric. */
const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+$/;

/**
 * The package names of image/base-packages.txt: one per line, `#` to the end of a line is a comment,
 * blank lines skipped. base.Dockerfile reads the same file with sed (comments dropped) and xargs, so anything
 * that shell would read differently (two names on a line) is refused here, as are duplicates and
 * an empty list. Errors name the line.
 */
export function parsePackageList(text: string): string[] {
  const names: string[] = [];
  const seen = new Map<string, number>();
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    const content = raw.replace(/#.*$/, '').trim();
    if (content === '') return;
    if (/\s/.test(content)) throw new Error(`line ${line}: one package per line, got ${JSON.stringify(content)}`);
    if (!PACKAGE_NAME.test(content)) throw new Error(`line ${line}: ${JSON.stringify(content)} is not a Debian package name`);
    const first = seen.get(content);
    if (first !== undefined) throw new Error(`line ${line}: ${content} is already listed on line ${first}`);
    seen.set(content, line);
    names.push(content);
  });
  if (names.length === 0) throw new Error('the package list names no package');
  return names;
}

/**
 * The Debian suite of the base, read from image/base.Dockerfile's one `FROM debian:<suite>[-slim]`,
 * so the debootstrap base here and the Dockerfile's base elsewhere are the same release.
 */
export function debianSuiteOfDockerfile(text: string): string {
  const froms = text.split('\n').map((l) => l.trim()).filter((l) => /^FROM\s/i.test(l));
  if (froms.length !== 1) throw new Error(`expected exactly one FROM line, found ${froms.length}`);
  const match = /^FROM\s+(?:docker\.io\/)?(?:library\/)?debian:([a-z]+)(?:-slim)?(?:@sha256:[0-9a-f]{64})?(?:\s+AS\s+\S+)?$/i.exec(froms[0]!);
  if (!match) throw new Error(`the FROM line is not a Debian release image (debian:<suite>[-slim]): ${froms[0]}`);
  return match[1]!;
}

export interface SourcesFile {
  path: string;
  text: string;
}

/**
 * The first apt source of this machine serving `suite` (exactly: not bookworm-updates) with the
 * `main` component, from one-line `deb` entries (sources.list, *.list) and deb822 stanzas
 * (*.sources), in the order given; entries with `Enabled: no` are skipped. Returns its URI without
 * a trailing slash, or throws naming what was searched.
 */
export function aptMirror(files: readonly SourcesFile[], suite: string): string {
  for (const file of files) {
    const entries = file.path.endsWith('.sources') ? deb822Entries(file.text) : oneLineEntries(file.text);
    for (const entry of entries) {
      if (entry.types.includes('deb') && entry.suites.includes(suite) && entry.components.includes('main')) {
        const uri = entry.uris.find((u) => /^https?:\/\/[^\s/]+/.test(u));
        if (uri) return uri.replace(/\/+$/, '');
      }
    }
  }
  throw new Error(`no apt source for ${suite} main in ${files.map((f) => f.path).join(', ') || '(no sources files)'}`);
}

interface AptEntry {
  types: string[];
  uris: string[];
  suites: string[];
  components: string[];
}

function oneLineEntries(text: string): AptEntry[] {
  const entries: AptEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') continue;
    // deb [option=value ...] uri suite component...
    const match = /^(deb|deb-src)\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s*(.*)$/.exec(line);
    if (!match) continue;
    entries.push({ types: [match[1]!], uris: [match[2]!], suites: [match[3]!], components: match[4]!.split(/\s+/).filter(Boolean) });
  }
  return entries;
}

function deb822Entries(text: string): AptEntry[] {
  const entries: AptEntry[] = [];
  for (const stanza of text.split(/\n[ \t]*\n/)) {
    const fields = new Map<string, string>();
    let last: string | undefined;
    for (const raw of stanza.split('\n')) {
      if (raw.startsWith('#')) continue;
      if (/^[ \t]/.test(raw) && last !== undefined) {
        fields.set(last, `${fields.get(last)} ${raw.trim()}`);
        continue;
      }
      const match = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(raw);
      if (!match) continue;
      last = match[1]!.toLowerCase();
      fields.set(last, match[2]!.trim());
    }
    if ((fields.get('enabled') ?? 'yes').toLowerCase() === 'no') continue;
    const list = (key: string) => (fields.get(key) ?? '').split(/\s+/).filter(Boolean);
    entries.push({ types: list('types'), uris: list('uris'), suites: list('suites'), components: list('components') });
  }
  return entries;
}

/** What the lab's simulated kubelet needs to run the image's process, as the image's OCI config holds it. */
export interface ImageRunConfig {
  /** The image's reference, e.g. localhost/seaway:0.1.0. */
  image: string;
  Entrypoint: string[];
  /** Empty when the image sets none (a pod's args then follow the entry point alone). */
  Cmd: string[];
  /** NAME=value entries, in the image's order. */
  Env: string[];
  /** "/" when the image sets none (the runtime's default). */
  WorkingDir: string;
  /** "" when the image sets none: root. */
  User: string;
  Labels: Record<string, string>;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/**
 * The manifest digest an OCI layout's index.json points to: its only manifest, or the one whose
 * org.opencontainers.image.ref.name annotation is `refName` when several are listed.
 */
export function manifestDigestOfIndex(index: unknown, refName?: string): string {
  if (!isRecord(index) || !Array.isArray(index['manifests'])) throw new Error('index.json has no manifests list');
  const manifests = index['manifests'].filter(isRecord);
  const named = (m: Record<string, unknown>) => isRecord(m['annotations']) ? m['annotations']['org.opencontainers.image.ref.name'] : undefined;
  const candidates = manifests.length === 1 ? manifests : manifests.filter((m) => refName !== undefined && named(m) === refName);
  if (candidates.length !== 1) {
    throw new Error(`index.json lists ${manifests.length} manifests; expected one${refName === undefined ? '' : ` or one named ${refName}`}, found ${candidates.length}`);
  }
  return digestOf(candidates[0]!, 'the index entry');
}

/** The config blob's digest of an image manifest. */
export function configDigestOfManifest(manifest: unknown): string {
  if (!isRecord(manifest) || !isRecord(manifest['config'])) throw new Error('the manifest has no config descriptor');
  return digestOf(manifest['config'], "the manifest's config");
}

/** The run configuration of an OCI image config blob; throws on a malformed one rather than guess. */
export function runConfigOfImage(image: string, config: unknown): ImageRunConfig {
  if (!isRecord(config) || !isRecord(config['config'])) throw new Error('the image config has no config object');
  const c = config['config'];
  const strings = (key: string, required: boolean): string[] => {
    const value = c[key];
    if (value === undefined || value === null) {
      if (required) throw new Error(`the image config has no ${key}`);
      return [];
    }
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw new Error(`the image config's ${key} is not a list of strings`);
    return [...value];
  };
  const text = (key: string, fallback: string): string => {
    const value = c[key];
    if (value === undefined || value === null || value === '') return fallback;
    if (typeof value !== 'string') throw new Error(`the image config's ${key} is not a string`);
    return value;
  };
  const Entrypoint = strings('Entrypoint', true);
  if (Entrypoint.length === 0 || !Entrypoint[0]!.startsWith('/')) throw new Error(`the image's Entrypoint must start with an absolute program path, got ${JSON.stringify(Entrypoint)}`);
  const Env = strings('Env', false);
  const badEnv = Env.find((e) => !/^[^=]+=/.test(e));
  if (badEnv !== undefined) throw new Error(`the image config's Env entry ${JSON.stringify(badEnv)} is not NAME=value`);
  const WorkingDir = text('WorkingDir', '/');
  if (!WorkingDir.startsWith('/')) throw new Error(`the image config's WorkingDir ${JSON.stringify(WorkingDir)} is not absolute`);
  const labels = c['Labels'];
  if (labels !== undefined && labels !== null && (!isRecord(labels) || !Object.values(labels).every((v) => typeof v === 'string'))) {
    throw new Error("the image config's Labels are not a map of strings");
  }
  return { image, Entrypoint, Cmd: strings('Cmd', false), Env, WorkingDir, User: text('User', ''), Labels: { ...(labels as Record<string, string> | null | undefined) } };
}

function digestOf(descriptor: Record<string, unknown>, what: string): string {
  const digest = descriptor['digest'];
  if (typeof digest !== 'string' || !DIGEST.test(digest)) throw new Error(`${what} has no sha256 digest (got ${JSON.stringify(digest)})`);
  return digest;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
