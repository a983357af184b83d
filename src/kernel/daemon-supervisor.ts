/**
 * Keeps a tunnel daemon (strongSwan's charon, wireguard-go) running as a child of the agent: writes
 * its files, starts it, waits until its control socket takes connections, restarts it with backoff
 * whenever it dies (the agent itself never exits for it) and tells the caller each time it is ready
 * again, so the cable driver can load its configuration into the new daemon. The daemon's pid is
 * kept in the state directory, so an agent that starts after one that died without stopping its
 * daemon (SIGKILL outside a container) stops that one first: it would hold the tunnel's UDP port,
 * its device and its control socket.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { isAbsolute, join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelay, type BackoffPolicy } from '../model/backoff.ts';
import type { Logger } from '../telemetry/logger.ts';
import { errorText } from '../model/error-text.ts';

export interface DaemonCommand {
  file: string;
  args: readonly string[];
}

export interface DaemonStart {
  pid: number;
  /** Restarts so far: 0 at the first start. */
  restarts: number;
}

/** Time as the restart policy sees it; tests replace it to run backoff without waiting. */
export interface SupervisorClock {
  now(): number;
  /** Resolves after ms, or as soon as signal aborts; never rejects. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

/** Which daemon this is: how it is named, found in /proc, recognised as ours, and when it is ready. */
export interface DaemonIdentity {
  /** For logs and errors: `charon`, `wireguard-go`. */
  name: string;
  /** The log field that carries its pid (`charonPid`). */
  pidKey: string;
  /** What /proc/<pid>/comm may say for it (comm is cut at 15 characters). */
  comms: ReadonlySet<string>;
  /**
   * An environment variable set to `markerValue` in the daemon's environment: a live process of
   * the right name is taken for this supervisor's only when it carries it (or its environment
   * cannot be read), so a daemon of another agent or of the system is never signalled.
   */
  markerEnv: string;
  markerValue: string;
  /** The control socket whose accepted connection means ready, and what to call it (`VICI socket`). */
  socketPath: string;
  socketName: string;
  /** File name of the pid file in the state directory. */
  pidFile: string;
  /** Lines of its output logged at debug instead of info. */
  isDetailLine?(line: string): boolean;
}

export interface DaemonSupervisorOptions {
  identity: DaemonIdentity;
  /** Absolute directory for the pid file and `files` (created 0700 when missing). */
  stateDir: string;
  command: DaemonCommand;
  /** The daemon's environment besides PATH and the marker: the agent's own is none of its business. */
  env?: Readonly<Record<string, string>>;
  /** Written (0600) before every launch: its configuration. */
  files?: ReadonlyArray<{ path: string; text: string }>;
  logger: Logger;
  /**
   * Called each time the daemon takes connections after a start or restart: the cable driver
   * loads its configuration here. Runs to its end before the next restart; its errors are logged,
   * not acted on (it owns its retries). Do not await stop() in it.
   */
  onStart?: (start: DaemonStart) => Promise<void> | void;
  /** Called before each restart with the count so far, for metrics. */
  onRestart?: (restarts: number) => void;
  /** How long a start may take before the socket takes connections (default 10 s). */
  readyTimeoutMs?: number;
  /** How long the daemon may take to exit after SIGTERM before it gets SIGKILL (default 5 s). */
  stopTimeoutMs?: number;
  /** Pauses before restarts (default 100 ms doubling to 5 s). */
  backoff?: BackoffPolicy;
  /** A daemon that ran this long before it died restarts with the shortest pause again (default 60 s). */
  stableAfterMs?: number;
  clock?: SupervisorClock;
  random?: () => number;
}

const DEFAULT_READY_TIMEOUT_MS = 10_000;
const DEFAULT_STOP_TIMEOUT_MS = 5_000;
const DEFAULT_RESTART_BACKOFF: Readonly<BackoffPolicy> = { minMs: 100, maxMs: 5_000 };
const DEFAULT_STABLE_AFTER_MS = 60_000;
/** Both daemons open their socket 0.05 to 0.2 s after launch: a fine poll costs little and starts nothing later. */
const SOCKET_POLL_MS = 25;
/** After SIGKILL, how long to wait for the exit before giving up on it (a process in uninterruptible sleep). */
const KILL_GRACE_MS = 1_000;
/** Output lines kept for the error of a start that failed. */
const KEPT_LINES = 20;
/** How long a failed start waits for the last output of a daemon that exited (a descendant may hold the pipes). */
const OUTPUT_DRAIN_MS = 500;
/** How often to look whether a daemon left behind has exited yet (it is not our child: no exit event). */
const EXIT_POLL_MS = 25;

const realClock: SupervisorClock = {
  now: () => Date.now(),
  sleep: (ms, signal) => sleep(ms, undefined, { signal }).catch(() => undefined),
};

export interface DaemonExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the program could not be started at all (not found, not executable). */
  error?: string;
}

/** A start that did not end with the socket taking connections. */
export class DaemonStartError extends Error {
  /** The daemon's last output lines, oldest first. */
  readonly lastLines: readonly string[];
  /** How the daemon ended, when it ended before its socket was ready. */
  readonly exit: DaemonExit | undefined;
  constructor(message: string, lastLines: readonly string[], exit?: DaemonExit) {
    super(`${message}; last log lines: ${lastLines.length > 0 ? lastLines.join(' | ') : '(none)'}`);
    this.name = 'DaemonStartError';
    this.lastLines = lastLines;
    this.exit = exit;
  }
}

/** One run of the daemon. */
interface DaemonChild {
  process: ChildProcess;
  pid: number | undefined;
  running: boolean;
  /** Resolves when the process exits or could not be started; never rejects. */
  exited: Promise<DaemonExit>;
  /** Resolves when its output pipes are closed too. */
  drained: Promise<void>;
  lastLines: string[];
  readyAt?: number;
  terminating?: Promise<void>;
}

export class DaemonSupervisor {
  /** Where the running daemon's pid is kept (0600), removed after a clean stop. */
  readonly pidPath: string;
  readonly #options: DaemonSupervisorOptions;
  readonly #id: DaemonIdentity;
  readonly #log: Logger;
  readonly #clock: SupervisorClock;
  readonly #stop = new AbortController();
  #started = false;
  #current: DaemonChild | undefined;
  #restarts = 0;

  constructor(options: DaemonSupervisorOptions) {
    const { identity } = options;
    if (!isAbsolute(options.stateDir)) throw new Error(`${identity.name} state directory must be an absolute path, got ${JSON.stringify(options.stateDir)}`);
    if (!isAbsolute(identity.socketPath)) throw new Error(`${identity.name} ${identity.socketName} must be an absolute path, got ${JSON.stringify(identity.socketPath)}`);
    this.#options = options;
    this.#id = identity;
    this.#log = options.logger.child({ daemon: identity.name });
    this.#clock = options.clock ?? realClock;
    this.pidPath = join(options.stateDir, identity.pidFile);
  }

  /** The running daemon's pid, undefined between runs and after stop(). */
  get pid(): number | undefined {
    return this.#current?.running ? this.#current.pid : undefined;
  }

  /** Restarts after the first start (attempts, whether or not the new daemon came up). */
  get restarts(): number {
    return this.#restarts;
  }

  /**
   * Starts the daemon, waits until its socket takes connections and runs onStart. Rejects with a
   * DaemonStartError when the daemon exits first or the deadline passes (the daemon is stopped
   * then, and start may be called again); from then on the supervisor restarts it whenever it dies.
   */
  async start(): Promise<void> {
    const { name } = this.#id;
    if (this.#stop.signal.aborted) throw new Error(`${name} supervisor was stopped; make a new one`);
    if (this.#started) throw new Error(`${name} supervisor is already started`);
    this.#started = true;
    let child: DaemonChild;
    try {
      child = await this.#launch();
    } catch (error) {
      this.#started = false;
      throw error;
    }
    await this.#announce(child);
    this.#supervise(child).catch((error: unknown) => {
      // Only a bug gets here; the daemon is then left unsupervised, which the log must say.
      this.#log.error({ err: errorText(error) }, `${name} supervision ended unexpectedly`);
    });
  }

  /** Stops the daemon (SIGTERM, SIGKILL after the deadline) and restarts it no more. */
  async stop(): Promise<void> {
    this.#stop.abort();
    const child = this.#current;
    if (!child) return;
    await this.#terminate(child);
    // A daemon that outlived SIGKILL keeps its pid file, so the next start deals with it.
    if (!child.running) await this.#removePidFile(child);
  }

  async #supervise(first: DaemonChild): Promise<void> {
    const { name, pidKey } = this.#id;
    let child: DaemonChild | undefined = first;
    let failures = 0;
    for (;;) {
      if (child) {
        const exit = await child.exited;
        if (this.#stop.signal.aborted) return;
        const ranMs = child.readyAt === undefined ? 0 : this.#clock.now() - child.readyAt;
        if (ranMs >= (this.#options.stableAfterMs ?? DEFAULT_STABLE_AFTER_MS)) failures = 0;
        this.#log.warn({ ...exit, [pidKey]: child.pid, ranMs }, `${name} exited; restarting it`);
      }
      failures += 1;
      const delayMs = backoffDelay(failures, this.#options.backoff ?? DEFAULT_RESTART_BACKOFF, this.#options.random);
      await this.#clock.sleep(delayMs, this.#stop.signal);
      if (this.#stop.signal.aborted) return;
      this.#restarts += 1;
      this.#callSafely('onRestart', () => this.#options.onRestart?.(this.#restarts));
      try {
        child = await this.#launch();
      } catch (error) {
        child = undefined;
        if (this.#stop.signal.aborted) return;
        this.#log.error({ err: errorText(error), failures }, `${name} did not come back; trying again`);
        continue;
      }
      await this.#announce(child);
    }
  }

  /**
   * One start: fresh files, no daemon left behind by an earlier agent and no stale socket, then the
   * daemon, until its socket takes connections.
   */
  async #launch(): Promise<DaemonChild> {
    const { name, pidKey, socketPath, socketName } = this.#id;
    await mkdir(this.#options.stateDir, { recursive: true, mode: 0o700 });
    for (const file of this.#options.files ?? []) {
      await writeFile(file.path, file.text, { mode: 0o600 });
      await chmod(file.path, 0o600); // writeFile's mode applies only to a file it creates
    }
    // It would keep the tunnel's port and answer on a socket nobody can reach once the file is gone.
    await this.#stopLeftBehind();
    // The daemon replaces a stale socket itself, but until it does the file would look like readiness.
    await rm(socketPath, { force: true });
    if (this.#stop.signal.aborted) throw new Error(`${name} supervisor was stopped while ${name} was starting`);
    const child = this.#spawn();
    this.#current = child;
    if (child.pid !== undefined) await this.#writePidFile(child.pid);
    const readyTimeoutMs = this.#options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
    const polling = new AbortController();
    const outcome = await Promise.race([
      child.exited.then((exit) => ({ exit })),
      connectWhenListening(socketPath, readyTimeoutMs, AbortSignal.any([polling.signal, this.#stop.signal])).then((ready) => ({ ready })),
    ]);
    polling.abort();
    if ('ready' in outcome && outcome.ready) {
      child.readyAt = this.#clock.now();
      this.#log.info({ [pidKey]: child.pid, socket: socketPath }, `${name} is ready`);
      return child;
    }
    await this.#terminate(child);
    if (!child.running) await this.#removePidFile(child);
    await settlesWithin(child.drained, OUTPUT_DRAIN_MS);
    const { file, args } = this.#options.command;
    const what = `${name} (${[file, ...args].join(' ')})`;
    if (this.#stop.signal.aborted) throw new DaemonStartError(`${name} supervisor was stopped while ${name} was starting`, [...child.lastLines]);
    if ('exit' in outcome) {
      const { code, signal, error } = outcome.exit;
      const how = error !== undefined ? `could not be started (${error})` : signal ? `was killed by ${signal}` : `exited with code ${code}`;
      throw new DaemonStartError(`${what} ${how} before its ${socketName} ${socketPath} took a connection`, [...child.lastLines], outcome.exit);
    }
    throw new DaemonStartError(`${what} did not open its ${socketName} ${socketPath} within ${readyTimeoutMs} ms`, [...child.lastLines]);
  }

  /**
   * A pid file naming a live daemon means an earlier agent died without stopping it: stop that one
   * (SIGTERM, SIGKILL after stopTimeoutMs). Only a process of the right name that (when its
   * environment can be read) carries this supervisor's marker is signalled; a pid file naming
   * anything else (a dead process, a reused pid) is just removed. Throws when the old daemon
   * survives SIGKILL: a new one could not bind its port.
   */
  async #stopLeftBehind(): Promise<void> {
    const { name, pidKey } = this.#id;
    let text: string;
    try {
      text = await readFile(this.pidPath, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    const pid = /^\s*\d+\s*$/.test(text) ? Number(text) : undefined;
    const found = pid === undefined ? undefined : await this.#whatIs(pid);
    if (pid === undefined || found !== 'ours') {
      // Before a restart the file names the daemon that just died: nothing worth saying.
      const level = pid !== undefined && pid === this.#current?.pid && !this.#current.running ? 'debug' : 'info';
      this.#log[level]({ pidFile: this.pidPath, pid: pid ?? text.slice(0, 40) }, `removing a stale ${name} pid file: it names ${found ?? 'no pid'}`);
      await rm(this.pidPath, { force: true });
      return;
    }
    const stopTimeoutMs = this.#options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
    this.#log.warn({ [pidKey]: pid, pidFile: this.pidPath, stopTimeoutMs }, `a ${name} left behind by an earlier agent is still running; stopping it`);
    if (!signalProcess(pid, 'SIGTERM', name) || await exitsWithin(pid, stopTimeoutMs)) {
      this.#log.info({ [pidKey]: pid }, `the ${name} left behind exited`);
    } else if (await this.#whatIs(pid) === 'ours') { // not a new process that took the pid meanwhile
      this.#log.warn({ [pidKey]: pid, stopTimeoutMs }, `the ${name} left behind did not exit after SIGTERM; killing it`);
      if (signalProcess(pid, 'SIGKILL', name) && !await exitsWithin(pid, KILL_GRACE_MS)) {
        throw new Error(`a ${name} left behind by an earlier agent (pid ${pid}, from ${this.pidPath}) did not exit after SIGKILL`);
      }
    }
    await rm(this.pidPath, { force: true });
  }

  /** 'ours' when pid is a live daemon of this name carrying this supervisor's marker, or else what it is. */
  async #whatIs(pid: number): Promise<string> {
    const { name, comms, markerEnv, markerValue } = this.#id;
    if (pid <= 1 || pid === process.pid) return `pid ${pid}, which is not a ${name}`;
    const info = await inspectProcess(pid, markerEnv);
    if (!info) return `pid ${pid}, which is gone`;
    if (!comms.has(info.comm)) return `pid ${pid}, which is not a ${name} (${info.comm})`;
    // Unreadable environment (another user): the name has to do, and signalling needs the same rights anyway.
    if (info.marker !== undefined && info.marker !== markerValue) return `pid ${pid}, a ${name} with ${info.marker === false ? `no ${markerEnv}` : `another ${markerEnv} (${info.marker})`}`;
    return 'ours';
  }

  /** Written next to the configuration, replaced whole (a crash never leaves half a number), 0600. */
  async #writePidFile(pid: number): Promise<void> {
    const temporary = `${this.pidPath}.tmp`;
    try {
      await writeFile(temporary, `${pid}\n`, { mode: 0o600 });
      await chmod(temporary, 0o600);
      await rename(temporary, this.pidPath);
    } catch (error) {
      // The daemon runs regardless; only the next agent's clean-up after a crash is weakened.
      this.#log.error({ err: errorText(error), pidFile: this.pidPath, [this.#id.pidKey]: pid }, `could not write the ${this.#id.name} pid file`);
    }
  }

  /** Removes the pid file if it still names this child (a later start may have replaced it). */
  async #removePidFile(child: DaemonChild): Promise<void> {
    try {
      if (child.pid === undefined || Number(await readFile(this.pidPath, 'utf8')) !== child.pid) return;
      await rm(this.pidPath, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.#log.warn({ err: errorText(error), pidFile: this.pidPath }, `could not remove the ${this.#id.name} pid file`);
    }
  }

  #spawn(): DaemonChild {
    const { file, args } = this.#options.command;
    const daemon = spawn(file, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...this.#options.env, [this.#id.markerEnv]: this.#id.markerValue },
    });
    const child: DaemonChild = {
      process: daemon,
      pid: daemon.pid,
      running: daemon.pid !== undefined,
      exited: new Promise((resolve) => {
        daemon.once('exit', (code, signal) => resolve({ code, signal }));
        // Without 'exit' when the program could not be started; later (a signal not delivered) it changes nothing.
        daemon.on('error', (error) => { if (daemon.pid === undefined) resolve({ code: null, signal: null, error: error.message }); });
      }),
      drained: new Promise((resolve) => daemon.once('close', () => resolve())),
      lastLines: [],
    };
    void child.exited.then(() => { child.running = false; });
    for (const stream of [daemon.stdout, daemon.stderr]) {
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => this.#logLine(child, line));
    }
    return child;
  }

  #logLine(child: DaemonChild, line: string): void {
    child.lastLines.push(line);
    if (child.lastLines.length > KEPT_LINES) child.lastLines.shift();
    const fields = { [this.#id.pidKey]: child.pid };
    if (this.#id.isDetailLine?.(line)) this.#log.debug(fields, line);
    else this.#log.info(fields, line);
  }

  /** SIGTERM (charon sends IKE DELETE to its peers), SIGKILL after the deadline. Once per child. */
  #terminate(child: DaemonChild): Promise<void> {
    const { name, pidKey } = this.#id;
    child.terminating ??= (async () => {
      if (!child.running) return;
      child.process.kill('SIGTERM');
      const stopTimeoutMs = this.#options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
      if (await settlesWithin(child.exited, stopTimeoutMs)) return;
      this.#log.warn({ [pidKey]: child.pid, stopTimeoutMs }, `${name} did not exit after SIGTERM; killing it`);
      child.process.kill('SIGKILL');
      if (!await settlesWithin(child.exited, KILL_GRACE_MS)) this.#log.error({ [pidKey]: child.pid }, `${name} did not exit after SIGKILL`);
    })();
    return child.terminating;
  }

  async #announce(child: DaemonChild): Promise<void> {
    const { onStart } = this.#options;
    if (!onStart || this.#stop.signal.aborted || child.pid === undefined) return;
    try {
      await onStart({ pid: child.pid, restarts: this.#restarts });
    } catch (error) {
      this.#log.error({ err: errorText(error), [this.#id.pidKey]: child.pid }, `onStart failed for the running ${this.#id.name}`);
    }
  }

  #callSafely(name: string, callback: () => void): void {
    try {
      callback();
    } catch (error) {
      this.#log.error({ err: errorText(error) }, `${name} failed`);
    }
  }
}

/**
 * True once a connection to the unix socket succeeds, false at the deadline or when aborted. A
 * connection, not the file: a stale socket file refuses connections.
 */
async function connectWhenListening(path: string, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!signal.aborted && Date.now() < deadline) {
    if (await connects(path)) return true;
    await sleep(Math.min(SOCKET_POLL_MS, Math.max(0, deadline - Date.now())), undefined, { signal }).catch(() => undefined);
  }
  return false;
}

function connects(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ path });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => { socket.destroy(); resolve(false); });
  });
}

interface ProcessInfo {
  comm: string;
  /** The marker variable from its environment: undefined when that cannot be read, false when it has none. */
  marker: string | false | undefined;
}

/** What /proc says of a live process; undefined when it is gone or a zombie. */
async function inspectProcess(pid: number, markerEnv: string): Promise<ProcessInfo | undefined> {
  if (!await isLive(pid)) return undefined;
  let comm: string;
  try {
    comm = (await readFile(`/proc/${pid}/comm`, 'utf8')).replace(/\n$/, '');
  } catch {
    return undefined;
  }
  let marker: string | false | undefined;
  try {
    const entry = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0').find((variable) => variable.startsWith(`${markerEnv}=`));
    marker = entry === undefined ? false : entry.slice(markerEnv.length + 1);
  } catch {
    marker = undefined;
  }
  return { comm, marker };
}

/** Whether the process exists and is not a zombie (a zombie holds no sockets and cannot be signalled away). */
async function isLive(pid: number): Promise<boolean> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  // "pid (comm) state ...": comm may hold parentheses itself, the state follows the last one.
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X' && state !== 'x';
}

/** Sends the signal; false when the process is already gone. */
function signalProcess(pid: number, signal: NodeJS.Signals, name: string): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw new Error(`cannot send ${signal} to the ${name} left behind (pid ${pid}): ${errorText(error)}`, { cause: error });
  }
}

/** Not our child, so no exit event: polls /proc until the process is gone (or a zombie). */
async function exitsWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (!await isLive(pid)) return true;
    if (Date.now() >= deadline) return false;
    await sleep(Math.min(EXIT_POLL_MS, Math.max(0, deadline - Date.now())));
  }
}

async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const timer = new AbortController();
  try {
    return await Promise.race([promise.then(() => true), sleep(ms, false, { signal: timer.signal })]);
  } finally {
    timer.abort();
  }
}

