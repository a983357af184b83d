import { randomBytes } from 'node:crypto';
import { open, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '../telemetry/logger.ts';

/**
 * The file that keeps the sysctl values seaway replaced, so a cleanup (even after a restart, or from
 * `seaway cleanup` in another process) can give them back. It outlives seaway's versions: it carries
 * a format version, and a file this version cannot read is moved aside, never overwritten.
 */

export const SYSCTL_STATE_VERSION = 1;

export interface SysctlState { originals: Record<string, string> }

export type ParsedSysctlState = { ok: true; state: SysctlState } | { ok: false; reason: string };

/** Far beyond what seaway writes (a few keys per interface); anything bigger was not written by it. */
export const MAX_STATE_BYTES = 1024 * 1024;
const MAX_KEYS = 4096;
const MAX_KEY_LENGTH = 256;
/** Multi-value sysctls (tcp_rmem) are a few dozen characters; seaway's own are one digit. */
const MAX_VALUE_LENGTH = 1024;

/**
 * The keys are later written under /proc/sys, so a tampered file must not be able to name a path
 * elsewhere: only `net/...` with plain segments (interface names may hold dots, so only `.` and `..`
 * themselves are refused), nothing that is whitespace, a control character or a separator.
 */
export function isRestorableSysctlKey(key: string): boolean {
  if (key.length === 0 || key.length > MAX_KEY_LENGTH) return false;
  const segments = key.split('/');
  if (segments[0] !== 'net' || segments.length < 2) return false;
  return segments.every((s) => s !== '' && s !== '.' && s !== '..' && !/[\s\x00-\x1f\x7f]/.test(s));
}

/** A value as read from /proc/sys (trimmed); a newline would end the write early and NUL is never there. */
function isRestorableValue(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_VALUE_LENGTH && !/[\x00\n\r]/.test(value);
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Parses and validates the file's text (pure). Version 1, or no version with `{"originals": {...}}`
 * (the format before versions). Any other version is refused: it came from a newer seaway and
 * rewriting it in this version's format could drop what that version keeps.
 */
export function parseSysctlState(text: string): ParsedSysctlState {
  if (text.length > MAX_STATE_BYTES) return { ok: false, reason: `larger than ${MAX_STATE_BYTES} bytes` };
  if (text.trim() === '') return { ok: false, reason: 'empty' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: `not JSON: ${(error as Error).message}` };
  }
  if (!isPlainObject(parsed)) return { ok: false, reason: 'expected a JSON object {"version": 1, "originals": {...}}' };
  if ('version' in parsed && parsed.version !== SYSCTL_STATE_VERSION) {
    const { version } = parsed;
    return Number.isInteger(version) && (version as number) > SYSCTL_STATE_VERSION
      ? { ok: false, reason: `format version ${String(version)} is newer than this seaway's (${SYSCTL_STATE_VERSION})` }
      : { ok: false, reason: `unknown format version ${JSON.stringify(version)}` };
  }
  const { originals } = parsed;
  if (!isPlainObject(originals)) return { ok: false, reason: '"originals" is not an object of sysctl key to value' };
  const entries = Object.entries(originals);
  if (entries.length > MAX_KEYS) return { ok: false, reason: `more than ${MAX_KEYS} sysctls` };
  const state: SysctlState = { originals: {} };
  for (const [key, value] of entries) {
    if (!isRestorableSysctlKey(key)) return { ok: false, reason: `${JSON.stringify(key.slice(0, 80))} is not a net/... sysctl key` };
    if (!isRestorableValue(value)) return { ok: false, reason: `the value of ${key} is not a sysctl value (a short string on one line)` };
    state.originals[key] = value;
  }
  return { ok: true, state };
}

export function serializeSysctlState(state: SysctlState): string {
  return `${JSON.stringify({ version: SYSCTL_STATE_VERSION, originals: state.originals }, null, 2)}\n`;
}

export interface SysctlStateFile {
  /** The remembered originals; empty when there is no file, or when it was unreadable and moved aside. */
  load(): Promise<SysctlState>;
  /** Durably replaces the file (or removes it when nothing is remembered). */
  save(state: SysctlState): Promise<void>;
}

export interface SysctlStateFileOptions {
  path: string;
  logger: Logger;
  /** For the quarantine name; tests fix it. */
  now?: () => Date;
}

/** `20261129T101530.123Z`: sorts by time and holds no characters a shell would trip on. */
const stamp = (date: Date) => date.toISOString().replace(/[-:]/g, '');

/** A rename or unlink is durable only once its directory is synced. */
async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export function sysctlStateFile(options: SysctlStateFileOptions): SysctlStateFile {
  const { path, logger } = options;
  const now = options.now ?? (() => new Date());
  const directory = dirname(path);

  /** Moves the file aside unless another process already replaced it, since a valid file must never be lost. */
  async function quarantine(inode: number, reason: string): Promise<boolean> {
    const current = await stat(path).catch(() => undefined);
    if (current?.ino !== inode) return false;
    const aside = `${path}.corrupt-${stamp(now())}`;
    try {
      await rename(path, aside);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
    await syncDirectory(directory);
    logger.warn({ path, movedTo: aside, reason }, 'sysctl state file unreadable: moved aside, continuing with no remembered sysctl originals');
    return true;
  }

  async function load(): Promise<SysctlState> {
    // A second round only when another process swapped the file between our read and our rename.
    for (let attempt = 1; ; attempt++) {
      let handle;
      try {
        handle = await open(path, 'r');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { originals: {} };
        throw error;
      }
      // Held open until the quarantine has compared inodes: a file closed and replaced meanwhile frees its inode number for the next file made.
      try {
        const info = await handle.stat();
        const parsed: ParsedSysctlState = info.size > MAX_STATE_BYTES
          ? { ok: false, reason: `larger than ${MAX_STATE_BYTES} bytes (${info.size})` }
          : parseSysctlState(await handle.readFile('utf8'));
        if (parsed.ok) return parsed.state;
        if ((await quarantine(info.ino, parsed.reason)) || attempt >= 3) return { originals: {} };
      } finally {
        await handle.close();
      }
    }
  }

  async function save(state: SysctlState): Promise<void> {
    if (Object.keys(state.originals).length === 0) {
      try {
        await unlink(path);
      } catch (error) {
        // Nothing was remembered (on a node where seaway never ran, not even the directory exists).
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw error;
      }
      await syncDirectory(directory);
      return;
    }
    // Unique per writer: the agent and `seaway cleanup` may save at the same moment.
    const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      const handle = await open(temporary, 'wx', 0o644);
      try {
        await handle.writeFile(serializeSysctlState(state));
        // Data on disk before the rename makes it visible: otherwise a crash can leave an empty file under the real name.
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, path);
    } catch (error) {
      await rm(temporary, { force: true }).catch(() => undefined);
      throw error;
    }
    await syncDirectory(directory);
  }

  return { load, save };
}
