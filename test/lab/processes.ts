import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { netnsMembers } from '../helpers/netns.ts';
import { LAB_DIR_ENV } from './paths.ts';

export interface DetachedSpec {
  file: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** stdout and stderr go here (appended). */
  log: string;
  pidFile: string;
  labDir: string;
}

/** Starts a process that outlives its starter; marked with the lab directory in its environment. */
export async function spawnDetached(spec: DetachedSpec): Promise<number> {
  const fd = openSync(spec.log, 'a');
  try {
    const child = spawn(spec.file, spec.args, {
      cwd: spec.cwd,
      env: { ...spec.env, [LAB_DIR_ENV]: spec.labDir },
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('spawn', () => resolve(child.pid as number));
    });
    child.unref();
    await writeFile(spec.pidFile, `${pid}\n`);
    return pid;
  } finally {
    closeSync(fd);
  }
}

/** Polls a condition until it returns a value or the deadline passes. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(intervalMs);
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  return processState(pid) !== 'Z';
}

/** A process's state letter (R, S, T, Z...), or null when there is none under that pid. */
export const processState = (pid: number): string | null => statFields(pid)?.[0] ?? null;

/** /proc/<pid>/stat from field 3 (the state) on: the fields after the parenthesised command name, which may itself contain spaces. */
function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/**
 * A process as found: its pid and its start time (field 22 of /proc/<pid>/stat). pids wrap within
 * minutes under the test suite (pid_max 32768): a pid that ended after it was found may be another
 * process's by the time it is signalled, and that one started later.
 */
export interface FoundProcess { pid: number; started: string }

export function identifyProcess(pid: number): FoundProcess | null {
  const started = statFields(pid)?.[19];
  return started === undefined ? null : { pid, started };
}

/** The process found is still there (not another one under its pid) and not a zombie. */
function stillRunning(found: FoundProcess): boolean {
  const fields = statFields(found.pid);
  return fields !== null && fields[19] === found.started && fields[0] !== 'Z';
}

/** The first line of a log that is a JSON object with a `url` (the API server's "listening" line). */
export async function readListeningLine(log: string): Promise<{ url: string } | undefined> {
  let text: string;
  try {
    text = await readFile(log, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const value = JSON.parse(line) as { url?: unknown };
      if (typeof value.url === 'string') return { url: value.url };
    } catch { /* a log line that only looks like JSON */ }
  }
  return undefined;
}

/** Whether a process carries exactly this lab's marker in its environment. */
export async function hasLabMarker(pid: number, labDir: string): Promise<boolean> {
  try {
    const environ = (await readFile(`/proc/${pid}/environ`, 'latin1')).split('\0');
    // A gateway's charon gets a bare environment (no marker), but its strongswan.conf lies in the lab.
    return environ.includes(`${LAB_DIR_ENV}=${labDir}`) || environ.some((v) => v.startsWith(`STRONGSWAN_CONF=${labDir}/`));
  } catch {
    return false;
  }
}

/**
 * Every process that belongs to the lab: the ones in its pid files and the ones scanned from
 * /proc that carry its marker (both only when the marker is really there, so a recycled pid is
 * never hit), and everything inside its namespaces (checked to be in the namespace after its start
 * time is read: `ip netns pids` may name a pid that has ended since). Each with its start time, so
 * that terminate signals only these processes.
 */
export async function findLabProcesses(labDir: string, pidsDir: string, namespaces: readonly string[]): Promise<FoundProcess[]> {
  const result = new Map<number, FoundProcess>();
  const candidates = new Set<number>();
  try {
    for (const file of await readdir(pidsDir)) {
      const pid = Number((await readFile(`${pidsDir}/${file}`, 'utf8')).trim());
      if (Number.isInteger(pid) && pid > 1) candidates.add(pid);
    }
  } catch { /* no pid directory: nothing recorded */ }
  for (const entry of await readdir('/proc')) {
    if (/^\d+$/.test(entry)) candidates.add(Number(entry));
  }
  for (const pid of candidates) {
    const candidate = identifyProcess(pid);
    if (candidate !== null && (await hasLabMarker(pid, labDir))) result.set(pid, candidate);
  }
  for (const namespace of namespaces) {
    for (const pid of await netnsMembers(namespace)) {
      const member = identifyProcess(pid);
      if (member !== null) result.set(pid, member);
    }
  }
  result.delete(process.pid);
  return [...result.values()].filter((p) => p.pid > 1);
}

/** SIGTERM, then SIGKILL whatever is still there after the grace period; resolves once all are gone. Never a process that took a found one's pid. */
export async function terminate(processes: readonly FoundProcess[], graceMs = 3000): Promise<void> {
  const signal = (found: FoundProcess, name: NodeJS.Signals) => {
    if (!stillRunning(found)) return;
    try { process.kill(found.pid, name); } catch { /* already gone */ }
  };
  for (const found of processes) signal(found, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (processes.some(stillRunning) && Date.now() < deadline) await delay(25);
  const stubborn = processes.filter(stillRunning);
  for (const found of stubborn) signal(found, 'SIGKILL');
  await waitFor('killed lab processes to exit', async () => (stubborn.some(stillRunning) ? undefined : true), 10_000);
}
