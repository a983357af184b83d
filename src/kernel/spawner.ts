import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { Socket } from 'node:net';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';

/**
 * What kernel/exec's run needs of a started process. Node's ChildProcess is one; posixSpawner's
 * children are the other, and behave the same: 'error' when nothing started (stdio then null),
 * 'exit' once reaped, 'close' once reaped and its output read to the end.
 */
export interface SpawnedProcess {
  readonly pid?: number | undefined;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  readonly exitCode: number | null;
  readonly signalCode: NodeJS.Signals | null;
  kill(signal: NodeJS.Signals): boolean;
  on(event: 'error', listener: (error: Error) => void): this;
  on(event: 'close', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  once(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
}

export interface SpawnOptions {
  /** The child's whole environment; its PATH is where a file without a slash is looked for. */
  env: NodeJS.ProcessEnv;
  cwd?: string | undefined;
  /** Aborting it kills the child (SIGKILL) and fails the spawn with an AbortError. */
  signal?: AbortSignal | undefined;
}

/** Starts `file` with `args` (never a shell), its standard input, output and error as pipes. */
export type Spawner = (file: string, args: readonly string[], options: SpawnOptions) => SpawnedProcess;

/** Node's child_process: forks this process, then execs (libuv on Linux). */
export const nodeSpawner: Spawner = (file, args, options) => spawn(file, args, {
  stdio: ['pipe', 'pipe', 'pipe'], env: options.env, cwd: options.cwd, signal: options.signal, killSignal: 'SIGKILL',
});

/** The native addon's calls (native/posix_spawn.c). */
export interface SpawnAddon {
  /** Starts the child with posix_spawn; [pid, stdin, stdout, stderr] (this process's pipe ends). Throws with the errno's code. */
  spawn(file: string, args: readonly string[], env: readonly string[], path: string | null, cwd: string | null): number[];
  /** undefined while the child runs, else [code, signal]: code -1 when signal (a number) ended it; [-1, 0] when not a child. */
  reap(pid: number): number[] | undefined;
}

/** Where SIGCHLD is listened for: the process, or a test's stand-in. */
export interface ChildSignals {
  on(event: 'SIGCHLD', listener: () => void): unknown;
  off(event: 'SIGCHLD', listener: () => void): unknown;
}

/** Signal numbers to names, the first name of each (6 is SIGABRT, not its alias SIGIOT), as Node's ChildProcess reports them. */
const SIGNAL_NAMES = new Map<number, NodeJS.Signals>();
for (const [name, number] of Object.entries(constants.signals)) {
  if (!SIGNAL_NAMES.has(number)) SIGNAL_NAMES.set(number, name as NodeJS.Signals);
}

/**
 * Spawns with glibc's posix_spawn through the addon: the child shares this process's memory until
 * it execs (CLONE_VFORK), where Node's spawn forks it. For the agent's 100 MiB that fork costs its
 * thread 5-12 ms, and copy-on-write faults on each page written afterwards; posix_spawn about 0.6 ms.
 * Children are reaped when SIGCHLD arrives (listened for only while one runs, and from before it
 * starts, so an early exit is not missed): each running child is asked, without blocking. A child
 * whose output has closed is asked too, so a SIGCHLD libuv could not pass on delays nothing.
 */
export function posixSpawner(addon: SpawnAddon, signals: ChildSignals = process): Spawner {
  const running = new Set<PosixChild>();
  const onChildSignal = () => {
    // Every child is asked before any listener's error goes on: one throwing must not leave the others unreaped.
    let failure: { error: unknown } | undefined;
    for (const child of running) {
      try {
        child.poll();
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure) throw failure.error;
  };
  const finished = (child: PosixChild) => {
    running.delete(child);
    if (running.size === 0) signals.off('SIGCHLD', onChildSignal);
  };
  return (file, args, options) => {
    // Refused before anything is listened for or started.
    const env = childEnvironment(file, args, options);
    if (running.size === 0) signals.on('SIGCHLD', onChildSignal);
    const child = new PosixChild(addon, file, args, env, options, finished);
    if (child.pid !== undefined) running.add(child);
    else if (running.size === 0) signals.off('SIGCHLD', onChildSignal);
    return child;
  };
}

/** The child's environment as "NAME=value"; throws, as Node's spawn does, for a NUL byte anywhere (exec cannot pass one). */
function childEnvironment(file: string, args: readonly string[], options: SpawnOptions): string[] {
  for (const text of [file, ...args, options.cwd ?? '']) {
    if (text.includes('\0')) throw new TypeError(`spawn ${file}: an argument holds a NUL byte`);
  }
  const env: string[] = [];
  for (const [name, value] of Object.entries(options.env)) {
    if (value === undefined) continue;
    if (name.includes('\0') || value.includes('\0')) throw new TypeError(`spawn ${file}: environment variable ${name} holds a NUL byte`);
    env.push(`${name}=${value}`);
  }
  return env;
}

class PosixChild extends EventEmitter implements SpawnedProcess {
  readonly pid: number | undefined;
  readonly stdin: Socket | null = null;
  readonly stdout: Socket | null = null;
  readonly stderr: Socket | null = null;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  #exited = false;
  #closed = false;
  #openOutputs = 2;
  readonly #addon: SpawnAddon;
  readonly #signal: AbortSignal | undefined;
  readonly #finished: (child: PosixChild) => void;
  readonly #onAbort = () => {
    this.kill('SIGKILL');
    this.emit('error', abortError(this.#signal?.reason));
  };

  constructor(addon: SpawnAddon, file: string, args: readonly string[], env: readonly string[], options: SpawnOptions, finished: (child: PosixChild) => void) {
    super();
    this.#addon = addon;
    this.#signal = options.signal;
    this.#finished = finished;
    if (options.signal?.aborted) {
      process.nextTick(() => this.emit('error', abortError(options.signal?.reason)));
      return;
    }
    let fds: number[];
    try {
      fds = addon.spawn(file, args, env, options.env.PATH ?? null, options.cwd ?? null);
    } catch (error) {
      process.nextTick(() => this.emit('error', error));
      return;
    }
    const [pid, stdin, stdout, stderr] = fds as [number, number, number, number];
    this.pid = pid;
    this.stdin = new Socket({ fd: stdin, readable: false, writable: true });
    this.stdout = new Socket({ fd: stdout, readable: true, writable: false });
    this.stderr = new Socket({ fd: stderr, readable: true, writable: false });
    for (const output of [this.stdout, this.stderr]) {
      output.once('close', () => {
        this.#openOutputs--;
        // Output closed is most often the exit: asked now, not only when SIGCHLD is passed on.
        if (this.#openOutputs === 0) this.poll();
        this.#maybeClose();
      });
    }
    options.signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** Reaps the child if it has exited: on each SIGCHLD, and once its output has closed. */
  poll(): void {
    if (this.#exited || this.pid === undefined) return;
    const status = this.#addon.reap(this.pid);
    if (status === undefined) return;
    const [code, signal] = status as [number, number];
    this.#exited = true;
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#finished(this);
    if (code < 0 && signal === 0) {
      // Not a child of this process any more: something else reaped it, and its exit is unknown.
      this.#closed = true;
      this.emit('error', Object.assign(new Error(`process ${this.pid} was reaped by someone else: its exit status is unknown`), { code: 'ECHILD' }));
      return;
    }
    this.exitCode = code >= 0 ? code : null;
    this.signalCode = code < 0 ? (SIGNAL_NAMES.get(signal) ?? null) : null;
    this.emit('exit', this.exitCode, this.signalCode);
    this.#maybeClose();
  }

  kill(signal: NodeJS.Signals): boolean {
    // Until it is reaped the pid stays this child's (a zombie keeps it), so no other process is hit.
    if (this.#exited || this.pid === undefined) return false;
    try {
      process.kill(this.pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  /** 'close' once: reaped and both outputs read to their end. */
  #maybeClose(): void {
    if (!this.#exited || this.#openOutputs > 0 || this.#closed) return;
    this.#closed = true;
    this.emit('close', this.exitCode, this.signalCode);
  }
}

/** Node's own error for an aborted spawn: name AbortError, code ABORT_ERR. */
function abortError(reason: unknown): Error {
  return Object.assign(new Error('The operation was aborted', { cause: reason }), { name: 'AbortError', code: 'ABORT_ERR' });
}
